//! [`ReplaySource`]: a recorded file (WFDB `.hea`, EDF/EDF+, CSV, via `qrsd-formats`) played back at 1×,
//! N× or maximum speed, in chunks, then [`SourceEvent::Ended`].
//!
//! The file's headers and size are checked when the source is created ([`ReplaySource::open`]), so an
//! unreadable or truncated file is a typed error ([`SourceError::Replay`] wrapping
//! [`qrsd_formats::FormatError`]) before anything is spawned. WFDB and EDF files are then streamed from
//! disk as they play (a day-long recording does not have to fit in memory); CSV files are read whole. Files carry no hardware pace flag, except recordings made by this crate's
//! [`Recorder`](crate::Recorder): their pacing-stimulus annotations (`^`, run length in `num`) are turned
//! back into the flag. Invalid samples (NaN) are passed through as NaN.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use qrsd_formats::RecordReader;

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
    reader: RecordReader,
    /// Hardware pace flag runs (first sample, length), in time order.
    pace: Vec<(u64, u64)>,
    has_pace: bool,
    opts: ReplayOptions,
}

/// Hardware pace flag runs (first sample, length) from a qrsd recording's annotations
/// (`<record>.atr`, `^` with the run length in `num`), in time order; `None` if there is no such file
/// or it has no stimuli.
fn pace_from_annotations(path: &Path) -> Option<Vec<(u64, u64)>> {
    if !path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("hea"))
    {
        return None;
    }
    let atr = path.with_extension("atr");
    let anns = qrsd_formats::wfdb::read_annotations(&atr).ok()?;
    let mut runs: Vec<(u64, u64)> = anns
        .iter()
        .filter(|a| a.symbol == "^")
        .filter_map(|a| Some((u64::try_from(a.sample).ok()?, a.num.max(1) as u64)))
        .collect();
    runs.sort_unstable();
    (!runs.is_empty()).then_some(runs)
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
        let reader = qrsd_formats::open_reader(&path)?;
        let fs = reader.fs_hz();
        if reader.lead_names().is_empty() || !(fs.is_finite() && fs > 0.0) {
            return Err(SourceError::Format(format!(
                "{}: no leads or no sampling rate",
                path.display()
            )));
        }
        let (pace, has_pace) = match pace_from_annotations(&path) {
            Some(p) => (p, true),
            None => (Vec::new(), false),
        };
        Ok(Self {
            path,
            reader,
            pace,
            has_pace,
            opts,
        })
    }

    /// What [`SourceEvent::Started`] will announce.
    pub fn stream_info(&self) -> StreamInfo {
        StreamInfo {
            fs_hz: self.reader.fs_hz(),
            lead_names: self.reader.lead_names().to_vec(),
            description: format!("replay:{}", self.path.display()),
            firmware: None,
            has_hw_pace: self.has_pace,
        }
    }

    /// Frames that will be played (after `start_s` / `seconds`; an EDF+D file's gaps not counted).
    pub fn n_frames(&self) -> u64 {
        let (a, b) = self.range();
        b.min(self.reader.len_samples()).saturating_sub(a)
    }

    /// First frame to play and the frame to stop before (`u64::MAX`: the end of the file).
    fn range(&self) -> (u64, u64) {
        let fs = self.reader.fs_hz();
        let a = (self.opts.start_s * fs).round() as u64;
        let b = match self.opts.seconds {
            Some(s) => a.saturating_add((s * fs).round() as u64),
            None => u64::MAX,
        };
        (a, b)
    }
}

impl Source for ReplaySource {
    fn run(mut self: Box<Self>, out: &mut EventSender, stop: &StopFlag) -> Result<(), SourceError> {
        let fs = self.reader.fs_hz();
        let chunk = ((self.opts.chunk_ms * fs / 1000.0).round() as usize).max(1);
        let (a, b) = self.range();
        let nl = self.reader.lead_names().len();
        let live = self.opts.speed != Speed::Max;
        let pacer = Pacer::new(fs, self.opts.speed);
        let mut leads: Vec<Vec<f32>> = vec![Vec::with_capacity(chunk); nl];
        // Skip to the start (read and dropped: the files are read in order).
        let mut k = 0u64;
        while k < a {
            let n = self
                .reader
                .read(chunk.max(1 << 14).min((a - k) as usize), &mut leads)?;
            if n == 0 {
                break;
            }
            k += n as u64;
        }
        out.update_status(|s| s.state = SourceState::Streaming);
        if !out.send_blocking(SourceEvent::Started(self.stream_info()), stop) {
            return Ok(());
        }
        let mut last_status = Instant::now();
        let mut runs = self.pace.iter().copied().peekable();
        while k < b {
            let n = self.reader.read(
                chunk.min((b - k).min(usize::MAX as u64) as usize),
                &mut leads,
            )?;
            if n == 0 {
                break;
            }
            let mut c = Chunk {
                // Session sample numbers count from the first frame played.
                first_sample: k - a,
                samples_uv: Vec::with_capacity(n * nl),
                pace: Vec::with_capacity(n),
                lead_off: vec![0; n],
                received_at: None,
            };
            for t in 0..n {
                for l in &leads {
                    c.samples_uv.push(l[t]);
                }
                let sample = k + t as u64;
                while runs.next_if(|&(s, len)| s + len <= sample).is_some() {}
                c.pace.push(runs.peek().is_some_and(|&(s, _)| s <= sample));
            }
            let k_end = k + n as u64;
            if !pacer.wait_for(k_end - a, stop) {
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
            k = k_end;
            if last_status.elapsed().as_millis() >= 250 {
                last_status = Instant::now();
                let st = out.status();
                out.send(SourceEvent::Status(st));
            }
        }
        Ok(())
    }
}
