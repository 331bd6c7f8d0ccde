//! [`SimSource`]: the in-process amplifier simulator (the service's embedded default source).
//!
//! It wraps [`qrsd_synth::Synth`] and emits what the amplifier would send: the 8 acquired channels
//! (`I, II, V1..V6`, µV), the hardware pace flag and the lead-off bits, in chunks of `chunk_ms`
//! (default 16 ms), released on an absolute wall-clock schedule (frame `k` at `t0 + k/(fs·speed)`, so
//! there is no drift however long it runs) — or as fast as the consumer takes them ([`Speed::Max`]).
//! It derives nothing: the host derives III, aVR, aVL, aVF ([`derive_12`](crate::derive_12)).
//! A lead-off channel reads NaN in [`Chunk::samples_uv`] (the amplifier's rail value is not a
//! measurement), with its bit set in [`Chunk::lead_off`].
//!
//! [`SimControl`] is a cloneable handle to change the simulation while it runs (rhythm, QRSd,
//! fusion/loss-of-capture probabilities, noise, lead-off, speed) and to read the truth of generated beats
//! from a bounded ring.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use qrsd_synth::{
    BeatTruth, NoiseConfig, Rhythm, Sample, Synth, SynthConfig, SynthError, LEAD_NAMES, N_ACQUIRED,
};

use crate::pace::{Pacer, Speed};
use crate::{
    Chunk, EventSender, Source, SourceError, SourceEvent, SourceState, StopFlag, StreamInfo,
};

/// How a [`SimSource`] runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    /// Generator configuration (its `fs_hz` is the stream's rate for the whole session).
    pub synth: SynthConfig,
    /// Delivery speed.
    pub speed: Speed,
    /// Chunk length, ms (1..=1000; default 16).
    pub chunk_ms: f64,
    /// Stop after this much signal, seconds (`None` = endless).
    pub seconds: Option<f64>,
    /// Beats kept in the truth ring (oldest dropped first; default 4096).
    pub truth_capacity: usize,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            synth: SynthConfig::default(),
            speed: Speed::RealTime,
            chunk_ms: 16.0,
            seconds: None,
            truth_capacity: 4096,
        }
    }
}

#[derive(Debug)]
struct Pending {
    /// Desired generator configuration (validated when set).
    cfg: SynthConfig,
    /// Manually flagged-off channels (bit per channel).
    lead_off: u8,
    speed: Speed,
}

#[derive(Debug)]
struct Shared {
    pending: Mutex<Pending>,
    dirty: AtomicBool,
    truth: Mutex<VecDeque<BeatTruth>>,
    truth_capacity: usize,
    truth_dropped: AtomicU64,
    position: AtomicU64,
    fs_hz: f64,
}

/// Cloneable remote control of a running [`SimSource`]. Changes are validated at once and applied by the
/// source before its next chunk (beat parameters from the next beat, noise and lead-off from the next
/// sample: see [`Synth::set_config`]).
#[derive(Debug, Clone)]
pub struct SimControl(Arc<Shared>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimControl {
    /// The configuration in force (or about to be).
    pub fn config(&self) -> SynthConfig {
        lock(&self.0.pending).cfg.clone()
    }

    /// Change the configuration with `f`; the result is validated (the sampling rate cannot change) and
    /// nothing changes on error.
    pub fn update(&self, f: impl FnOnce(&mut SynthConfig)) -> Result<(), SynthError> {
        let mut p = lock(&self.0.pending);
        let mut cfg = p.cfg.clone();
        f(&mut cfg);
        cfg.validate()?;
        if cfg.fs_hz != self.0.fs_hz {
            return Err(SynthError::SamplingRateChange {
                from: self.0.fs_hz,
                to: cfg.fs_hz,
            });
        }
        p.cfg = cfg;
        self.0.dirty.store(true, Ordering::Release);
        Ok(())
    }

    /// Replace the whole configuration (validated; the seed is kept).
    pub fn set_config(&self, cfg: SynthConfig) -> Result<(), SynthError> {
        self.update(|c| {
            let seed = c.seed;
            *c = cfg;
            c.seed = seed;
        })
    }

    /// Switch rhythm (from the next beat).
    pub fn set_rhythm(&self, rhythm: Rhythm) {
        // A rhythm change alone cannot make a valid config invalid.
        let _ = self.update(|c| c.rhythm = rhythm);
    }

    /// Set the rhythm's true QRS duration, ms (60..=250).
    pub fn set_qrsd_ms(&self, qrsd_ms: f64) -> Result<(), SynthError> {
        self.update(|c| c.qrsd_ms = qrsd_ms)
    }

    /// Set the heart rate, beats/min (30..=180).
    pub fn set_rate_bpm(&self, rate_bpm: f64) -> Result<(), SynthError> {
        self.update(|c| c.rate_bpm = rate_bpm)
    }

    /// Set the fusion and loss-of-LV-capture probabilities of BiV beats (each 0..=1, sum ≤ 1).
    pub fn set_probabilities(&self, fusion: f64, loss_of_capture: f64) -> Result<(), SynthError> {
        self.update(|c| {
            c.fusion_probability = fusion;
            c.loss_of_capture_probability = loss_of_capture;
        })
    }

    /// Set the noise.
    pub fn set_noise(&self, noise: NoiseConfig) -> Result<(), SynthError> {
        self.update(|c| c.noise = noise)
    }

    /// Flag acquired channel `lead` (0 = I, 1 = II, 2 = V1 … 7 = V6) off or back on.
    pub fn set_lead_off(&self, lead: usize, off: bool) -> Result<(), SynthError> {
        if lead >= N_ACQUIRED {
            return Err(SynthError::NoSuchLead(lead));
        }
        let mut p = lock(&self.0.pending);
        if off {
            p.lead_off |= 1 << lead;
        } else {
            p.lead_off &= !(1 << lead);
        }
        self.0.dirty.store(true, Ordering::Release);
        Ok(())
    }

    /// Manually flagged-off channels (bit per channel; configured windows not included).
    pub fn lead_off(&self) -> u8 {
        lock(&self.0.pending).lead_off
    }

    /// Change the delivery speed (the clock is rebased: no jump).
    pub fn set_speed(&self, speed: Speed) -> Result<(), SourceError> {
        speed.check()?;
        lock(&self.0.pending).speed = speed;
        self.0.dirty.store(true, Ordering::Release);
        Ok(())
    }

    /// Frames generated so far.
    pub fn position(&self) -> u64 {
        self.0.position.load(Ordering::Acquire)
    }

    /// Sampling rate, Hz.
    pub fn fs_hz(&self) -> f64 {
        self.0.fs_hz
    }

    /// Take all beats in the truth ring (oldest first). Beats appear once their T wave has been generated.
    pub fn drain_truth(&self) -> Vec<BeatTruth> {
        lock(&self.0.truth).drain(..).collect()
    }

    /// Copies of the ring's beats with `index > after` (all with `None`), oldest first, without removing
    /// them.
    pub fn truth_after(&self, after: Option<u64>) -> Vec<BeatTruth> {
        lock(&self.0.truth)
            .iter()
            .filter(|b| match after {
                Some(a) => b.index > a,
                None => true,
            })
            .cloned()
            .collect()
    }

    /// Beats dropped from the full ring since the start.
    pub fn truth_dropped(&self) -> u64 {
        self.0.truth_dropped.load(Ordering::Relaxed)
    }
}

/// The in-process simulator source. See the module documentation.
#[derive(Debug)]
pub struct SimSource {
    synth: Synth,
    opts: SimOptions,
    control: SimControl,
}

impl SimSource {
    /// A simulator for `opts` (validated).
    pub fn new(opts: SimOptions) -> Result<Self, SourceError> {
        opts.speed.check()?;
        if !(1.0..=1000.0).contains(&opts.chunk_ms) {
            return Err(SourceError::Config(format!(
                "chunk_ms {} outside 1..=1000",
                opts.chunk_ms
            )));
        }
        if let Some(s) = opts.seconds {
            if !(s.is_finite() && s >= 0.0) {
                return Err(SourceError::Config(format!("seconds {s} must be ≥ 0")));
            }
        }
        let synth =
            Synth::new(opts.synth.clone()).map_err(|e| SourceError::Config(e.to_string()))?;
        let control = SimControl(Arc::new(Shared {
            pending: Mutex::new(Pending {
                cfg: opts.synth.clone(),
                lead_off: 0,
                speed: opts.speed,
            }),
            dirty: AtomicBool::new(false),
            truth: Mutex::new(VecDeque::new()),
            truth_capacity: opts.truth_capacity.max(1),
            truth_dropped: AtomicU64::new(0),
            position: AtomicU64::new(0),
            fs_hz: opts.synth.fs_hz,
        }));
        Ok(Self {
            synth,
            opts,
            control,
        })
    }

    /// A handle to control the running simulation and read its truth.
    pub fn control(&self) -> SimControl {
        self.control.clone()
    }

    /// The stream description this source announces.
    pub fn stream_info(&self) -> StreamInfo {
        StreamInfo {
            fs_hz: self.synth.fs_hz(),
            lead_names: LEAD_NAMES.iter().map(|s| s.to_string()).collect(),
            description: "sim".into(),
            firmware: Some(format!("qrsd-synth {}", env!("CARGO_PKG_VERSION"))),
            has_hw_pace: true,
        }
    }

    fn apply_pending(&mut self, pacer: &mut Pacer) {
        if !self.control.0.dirty.swap(false, Ordering::AcqRel) {
            return;
        }
        let p = lock(&self.control.0.pending);
        // Validated by SimControl; a failure here would be a bug, and keeping the old config is safe.
        let _ = self.synth.set_config(p.cfg.clone());
        for l in 0..N_ACQUIRED {
            let _ = self.synth.set_lead_off(l, p.lead_off & (1 << l) != 0);
        }
        pacer.set_speed(p.speed, self.synth.position());
    }

    fn push_truth(&mut self) {
        let sh = &self.control.0;
        let mut ring = lock(&sh.truth);
        for b in self.synth.drain_truth() {
            if ring.len() >= sh.truth_capacity {
                ring.pop_front();
                sh.truth_dropped.fetch_add(1, Ordering::Relaxed);
            }
            ring.push_back(b);
        }
    }
}

impl Source for SimSource {
    fn run(mut self: Box<Self>, out: &mut EventSender, stop: &StopFlag) -> Result<(), SourceError> {
        let fs = self.synth.fs_hz();
        let chunk = ((self.opts.chunk_ms * fs / 1000.0).round() as usize).max(1);
        let limit = self.opts.seconds.map(|s| (s * fs).round() as u64);
        let mut pacer = Pacer::new(fs, self.opts.speed);
        let mut buf = vec![Sample::default(); chunk];
        out.update_status(|s| s.state = SourceState::Streaming);
        if !out.send_blocking(SourceEvent::Started(self.stream_info()), stop) {
            return Ok(());
        }
        let mut last_status = Instant::now();
        loop {
            self.apply_pending(&mut pacer);
            let k = self.synth.position();
            let n = match limit {
                Some(l) if k >= l => return Ok(()),
                Some(l) => chunk.min((l - k) as usize),
                None => chunk,
            };
            let slice = &mut buf[..n];
            self.synth.fill(slice);
            self.control
                .0
                .position
                .store(k + n as u64, Ordering::Release);
            self.push_truth();
            let mut c = Chunk {
                first_sample: k,
                samples_uv: Vec::with_capacity(n * N_ACQUIRED),
                pace: Vec::with_capacity(n),
                lead_off: Vec::with_capacity(n),
                received_at: None,
            };
            let mut lead_off = 0u16;
            for s in slice.iter() {
                for (l, &v) in s.leads.iter().enumerate() {
                    let off = s.lead_off & (1 << l) != 0;
                    c.samples_uv.push(if off { f32::NAN } else { v as f32 });
                }
                c.pace.push(s.pace);
                c.lead_off.push(u16::from(s.lead_off));
                lead_off = u16::from(s.lead_off);
            }
            // Released when its last frame is "acquired".
            if !pacer.wait_for(k + n as u64, stop) {
                return Ok(());
            }
            c.received_at = Some(SystemTime::now());
            let ok = if pacer.speed() == Speed::Max {
                out.send_blocking(SourceEvent::Chunk(c), stop)
            } else {
                out.send(SourceEvent::Chunk(c))
            };
            if !ok {
                return Ok(());
            }
            out.update_status(|s| {
                s.frames += n as u64;
                s.lead_off = lead_off;
            });
            if last_status.elapsed().as_millis() >= 250 {
                last_status = Instant::now();
                let st = out.status();
                out.send(SourceEvent::Status(st));
            }
        }
    }
}
