//! [`ReplaySource`]: a recorded file (WFDB `.hea`, EDF/EDF+, CSV, via `qrsd-formats`) played back at 1×,
//! N× or maximum speed, in chunks, then [`SourceEvent::Ended`].
//!
//! The file is read and checked when the source is created ([`ReplaySource::open`]), so an unreadable file
//! is a typed error ([`SourceError::Replay`] wrapping [`qrsd_formats::FormatError`]) before anything is
//! spawned. Files carry no hardware pace flag, except recordings made by this crate's
//! [`Recorder`](crate::Recorder): their pacing-stimulus annotations (`^`, run length in `num`) are turned
//! back into the flag. Invalid samples (NaN) are passed through as NaN.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use qrsd_formats::Recording;

use crate::pace::{Pacer, Speed};
use crate::{
    Chunk, EventSender, Source, SourceError, SourceEvent, SourceState, StopFlag, StreamInfo,
};

/// Options of a replay.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayOptions {
    /// Delivery speed (default [`Speed::Max`]: as fast as the consumer takes frames, none dropped).
    pub speed: Speed,
    /// Chunk length, ms (1..=10 000; default 16).
    pub chunk_ms: f64,
    /// Start this many seconds into the file (default 0).
    pub start_s: f64,
    /// Stop after this many seconds of signal (`None` = to the end).
    pub seconds: Option<f64>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            speed: Speed::Max,
            chunk_ms: 16.0,
            start_s: 0.0,
            seconds: None,
        }
    }
}

/// Plays a recorded file back. See the module documentation.
#[derive(Debug)]
pub struct ReplaySource {
    path: PathBuf,
    rec: Recording,
    pace: Vec<bool>,
    has_pace: bool,
    opts: ReplayOptions,
}

/// Hardware pace flags from a qrsd recording's annotations (`<record>.atr`, `^` with the run length in
/// `num`); `None` if there is no such file or it has no stimuli.
fn pace_from_annotations(path: &Path, n: usize) -> Option<Vec<bool>> {
    if !path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("hea"))
    {
        return None;
    }
    let atr = path.with_extension("atr");
    let anns = qrsd_formats::wfdb::read_annotations(&atr).ok()?;
    let mut pace = vec![false; n];
    let mut any = false;
    for a in anns.iter().filter(|a| a.symbol == "^") {
        let len = usize::try_from(a.num.max(1)).unwrap_or(1);
        let Ok(start) = usize::try_from(a.sample) else {
            continue;
        };
        for p in pace.iter_mut().skip(start).take(len) {
            *p = true;
            any = true;
        }
    }
    any.then_some(pace)
}

impl ReplaySource {
    /// Open and read `path` (extension chooses the reader). Errors are typed and name the file.
    pub fn open(path: impl AsRef<Path>, opts: ReplayOptions) -> Result<Self, SourceError> {
        opts.speed.check()?;
        if !(1.0..=10_000.0).contains(&opts.chunk_ms) {
            return Err(SourceError::Config(format!(
                "chunk_ms {} outside 1..=10000",
                opts.chunk_ms
            )));
        }
        if !(opts.start_s.is_finite() && opts.start_s >= 0.0) {
            return Err(SourceError::Config(format!(
                "start_s {} must be ≥ 0",
                opts.start_s
            )));
        }
        if let Some(s) = opts.seconds {
            if !(s.is_finite() && s >= 0.0) {
                return Err(SourceError::Config(format!("seconds {s} must be ≥ 0")));
            }
        }
        let path = path.as_ref().to_path_buf();
        let rec = qrsd_formats::open(&path)?;
        if rec.leads.is_empty() || !(rec.fs_hz.is_finite() && rec.fs_hz > 0.0) {
            return Err(SourceError::Format(format!(
                "{}: no leads or no sampling rate",
                path.display()
            )));
        }
        let n = rec.len_samples();
        let (pace, has_pace) = match pace_from_annotations(&path, n) {
            Some(p) => (p, true),
            None => (Vec::new(), false),
        };
        Ok(Self {
            path,
            rec,
            pace,
            has_pace,
            opts,
        })
    }

    /// What [`SourceEvent::Started`] will announce.
    pub fn stream_info(&self) -> StreamInfo {
        StreamInfo {
            fs_hz: self.rec.fs_hz,
            lead_names: self.rec.leads.iter().map(|l| l.name.clone()).collect(),
            description: format!("replay:{}", self.path.display()),
            firmware: None,
            has_hw_pace: self.has_pace,
        }
    }

    /// Frames that will be played (after `start_s` / `seconds`).
    pub fn n_frames(&self) -> u64 {
        let (a, b) = self.range();
        (b - a) as u64
    }

    fn range(&self) -> (usize, usize) {
        let n = self.rec.len_samples();
        let fs = self.rec.fs_hz;
        let a = ((self.opts.start_s * fs).round() as usize).min(n);
        let b = match self.opts.seconds {
            Some(s) => (a + (s * fs).round() as usize).min(n),
            None => n,
        };
        (a, b)
    }
}

impl Source for ReplaySource {
    fn run(self: Box<Self>, out: &mut EventSender, stop: &StopFlag) -> Result<(), SourceError> {
        let fs = self.rec.fs_hz;
        let chunk = ((self.opts.chunk_ms * fs / 1000.0).round() as usize).max(1);
        let (a, b) = self.range();
        let nl = self.rec.leads.len();
        let live = self.opts.speed != Speed::Max;
        let pacer = Pacer::new(fs, self.opts.speed);
        out.update_status(|s| s.state = SourceState::Streaming);
        if !out.send_blocking(SourceEvent::Started(self.stream_info()), stop) {
            return Ok(());
        }
        let mut last_status = Instant::now();
        let mut k = a;
        while k < b {
            let n = chunk.min(b - k);
            let mut c = Chunk {
                // Session sample numbers count from the first frame played.
                first_sample: (k - a) as u64,
                samples_uv: Vec::with_capacity(n * nl),
                pace: Vec::with_capacity(n),
                lead_off: vec![0; n],
                received_at: None,
            };
            for t in k..k + n {
                for l in &self.rec.leads {
                    c.samples_uv.push(l.samples_uv[t]);
                }
                c.pace.push(self.pace.get(t).copied().unwrap_or(false));
            }
            if !pacer.wait_for((k + n - a) as u64, stop) {
                return Ok(());
            }
            c.received_at = Some(SystemTime::now());
            let ok = if live {
                out.send(SourceEvent::Chunk(c))
            } else {
                out.send_blocking(SourceEvent::Chunk(c), stop)
            };
            if !ok {
                return Ok(());
            }
            out.update_status(|s| s.frames += n as u64);
            k += n;
            if last_status.elapsed().as_millis() >= 250 {
                last_status = Instant::now();
                let st = out.status();
                out.send(SourceEvent::Status(st));
            }
        }
        Ok(())
    }
}
