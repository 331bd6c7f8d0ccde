//! Real-time pacing of a source: frame `k` is released at `t0 + k / (fs · speed)` (absolute, so no drift).

use std::time::{Duration, Instant};

use crate::StopFlag;

/// How fast a simulated or replayed source delivers frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// Real time (1×): a frame is released when its acquisition time has come.
    RealTime,
    /// `N×` real time (`N > 0`).
    Factor(f64),
    /// As fast as the consumer takes them. In this mode the source *waits* for room in the channel
    /// ([`EventSender::send_blocking`](crate::EventSender::send_blocking)): nothing is dropped, since
    /// nothing is being acquired live.
    Max,
}

impl Speed {
    /// The factor over real time (`None` for [`Speed::Max`]).
    pub fn factor(self) -> Option<f64> {
        match self {
            Speed::RealTime => Some(1.0),
            Speed::Factor(f) => Some(f),
            Speed::Max => None,
        }
    }

    /// Validates a factor.
    pub(crate) fn check(self) -> Result<(), crate::SourceError> {
        match self {
            Speed::Factor(f) if !(f.is_finite() && f > 0.0) => Err(crate::SourceError::Config(
                format!("speed factor {f} must be positive and finite"),
            )),
            _ => Ok(()),
        }
    }

    /// Parses `1`, `10`, `2.5`, `max` (also `1x`, `10x`).
    pub fn parse(s: &str) -> Result<Speed, crate::SourceError> {
        let t = s.trim().to_ascii_lowercase();
        if t == "max" {
            return Ok(Speed::Max);
        }
        let f: f64 = t
            .trim_end_matches('x')
            .parse()
            .map_err(|_| crate::SourceError::Config(format!("speed {s:?}: a number or `max`")))?;
        let sp = if f == 1.0 {
            Speed::RealTime
        } else {
            Speed::Factor(f)
        };
        sp.check()?;
        Ok(sp)
    }
}

/// Absolute-deadline pacer.
#[derive(Debug)]
pub(crate) struct Pacer {
    t0: Instant,
    k0: u64,
    fs: f64,
    speed: Speed,
}

impl Pacer {
    pub(crate) fn new(fs: f64, speed: Speed) -> Self {
        Self {
            t0: Instant::now(),
            k0: 0,
            fs,
            speed,
        }
    }

    /// Change speed from frame `k` on (rebases the clock so there is no jump).
    pub(crate) fn set_speed(&mut self, speed: Speed, k: u64) {
        if speed != self.speed {
            self.t0 = Instant::now();
            self.k0 = k;
            self.speed = speed;
        }
    }

    pub(crate) fn speed(&self) -> Speed {
        self.speed
    }

    /// Instant at which frame `k` is due (`None` at max speed).
    pub(crate) fn due(&self, k: u64) -> Option<Instant> {
        let f = self.speed.factor()?;
        let secs = k.saturating_sub(self.k0) as f64 / (self.fs * f);
        Some(self.t0 + Duration::from_secs_f64(secs))
    }

    /// Sleeps until frame `k` is due, waking at least every 50 ms to check `stop`. Returns false on stop.
    pub(crate) fn wait_for(&self, k: u64, stop: &StopFlag) -> bool {
        let Some(due) = self.due(k) else {
            return !stop.is_stopped();
        };
        loop {
            if stop.is_stopped() {
                return false;
            }
            let now = Instant::now();
            if now >= due {
                return true;
            }
            std::thread::sleep((due - now).min(Duration::from_millis(50)));
        }
    }
}
