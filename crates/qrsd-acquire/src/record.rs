//! [`Recorder`]: every live session written to disk as it arrives, as a WFDB record that other tools
//! open (PhysioNet `wfdb` for Python, WFDB's own tools, `qrsd analyze`).
//!
//! # Files
//! For record `NAME` in the output directory:
//! * `NAME.dat` — signal file, **format 24** (24-bit two's complement, little-endian, frames interleaved),
//!   one signal per acquired channel in frame order. Gain **10 000 adu/mV** (0.1 µV = 100 nV per unit, the
//!   amplifier protocol's resolution; configurable with [`RecorderOptions::lsb_nv`]), range ±838.8 mV,
//!   which holds pacing spikes up to the 700 mV of IEC 60601-2-27. Values beyond the range are clamped
//!   (counted in [`RecordingSummary::clipped_samples`]). Invalid samples (NaN from the source: lead off,
//!   saturated) and every frame of a gap are written as the format's invalid value −2²³ (−8 388 608), so
//!   sample numbers stay equal to session time.
//! * `NAME.hea` — header: `NAME <n_sig> <fs> <n_frames> <HH:MM:SS> <DD/MM/YYYY>` (UTC start time) and one
//!   line per signal `NAME.dat 24 10000/mV 24 0 <initial> <checksum> 0 <lead>`, plus `#` comment lines
//!   (source, firmware, start time ISO 8601, recorder).
//! * `NAME.atr` — MIT annotations (ascending sample order; the source and start time are in the header
//!   comments, not in a NOTE at sample 0, which Python `wfdb.rdann` would take for a file-definition
//!   annotation and drop):
//!   * `~` (NOISE) with subtype −1 ("all signals unreadable") at the first missing frame of every gap,
//!     aux `gap <reason> <frames>` (`sequence_gap`, `stall`, `disconnect`, `consumer_overrun`,
//!     `recorder_overrun`), and `~` subtype 0 (clean again) at the first frame after it;
//!   * `"` (NOTE) aux `lead_off <leads>` (e.g. `lead_off V1,V3`, or `lead_off none`) when the lead-off
//!     bits change;
//!   * `^` (PACESP, pacing stimulus) at the first frame of every run of the hardware pace flag, `num` =
//!     run length in frames (capped at 127). We use `^` rather than `/` (paced *beat*) because a stimulus
//!     is not a beat: BiV pacing with a V-V offset gives two stimuli per beat, and capture is not known
//!     here. [`ReplaySource`](crate::ReplaySource) turns these back into the pace flag.
//!
//! # Crash safety (`kill -9`, and power loss for what was fsynced)
//! At most every [`RecorderOptions::flush_interval`] (default 1 s, never more than 1 s), and at the end:
//! 1. the buffered frames are appended to `.dat` and `fdatasync`ed;
//! 2. if annotations were added, the whole `.atr` is written to `NAME.atr.tmp`, fsynced and renamed over
//!    `NAME.atr` (rename is atomic: a reader sees the old or the new file, never a torn one);
//! 3. `.hea` is rewritten the same way (temp + fsync + rename) with the number of frames now durable and
//!    their checksums.
//!
//! The header is written (with 0 frames) before the first sample. So at any instant the three files form a
//! readable record holding everything up to the last flush, i.e. up to one second before a kill; the `.dat`
//! may hold more (frames after the last flush), which readers ignore because the header's count is smaller.
//! Memory is bounded by the annotation list (≈ 60 bytes per stimulus: ~2 MB over a 4-hour procedure) and
//! one flush interval of frames.
//!
//! # Threading
//! [`Recorder`] is synchronous (`handle` one event at a time; it flushes when due). For live use,
//! [`RecorderThread::spawn`] runs it on its own thread fed by a bounded channel: [`RecorderThread::send`]
//! never blocks the caller (the consumer of the source's events), a full channel drops the event, counts it
//! and the hole becomes a `recorder_overrun` gap in the recording — so neither acquisition nor the live
//! pipeline ever waits on the disk. The thread also flushes on a timer when no events arrive.
//!
//! A new [`SourceEvent::Started`] with a different rate or channel list starts a new record `NAME_2`,
//! `NAME_3`, … (WFDB records have one rate and one channel set); one with the same stream continues the
//! record.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use qrsd_formats::wfdb::{write_annotations, Annotation};

use crate::{Chunk, SourceEvent, StreamInfo};

/// The format's invalid-sample value (format 24).
pub const WFDB_INVALID_24: i32 = -(1 << 23);
const ADC_MAX: i32 = (1 << 23) - 1;
const ADC_MIN: i32 = -(1 << 23) + 1;

/// Recording errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A file could not be created, written or synced.
    #[error("{}: {source}", path.display())]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The annotation writer refused (should not happen: symbols and aux texts are ours).
    #[error("annotations: {0}")]
    Annotations(#[from] qrsd_formats::FormatError),
    /// Invalid options or stream.
    #[error("recorder: {0}")]
    Config(String),
    /// The recorder thread panicked.
    #[error("recorder thread panicked")]
    Panicked,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RecordError + '_ {
    move |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Recorder options.
#[derive(Debug, Clone, PartialEq)]
pub struct RecorderOptions {
    /// Record name (letters, digits, `_`); default `qrsd_YYYYMMDD_HHMMSS` (UTC at creation).
    pub record_name: Option<String>,
    /// Resolution, nV per stored unit (default 100 → gain 10 000 adu/mV).
    pub lsb_nv: f64,
    /// Flush period (0 < p ≤ 1 s; default 1 s).
    pub flush_interval: Duration,
    /// Annotate pacing stimuli from the hardware pace flag (default true).
    pub annotate_pace: bool,
    /// The recording program's version, written into the header as `# qrsd recorder <this>` so that a
    /// recording names the build that made it (the `qrsd` binary passes `0.1.0 (commit 1a2b3c4d5e6f)`;
    /// default: this crate's version).
    pub software_version: String,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        Self {
            record_name: None,
            lsb_nv: 100.0,
            flush_interval: Duration::from_secs(1),
            annotate_pace: true,
            software_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// One WFDB record written by the recorder.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentSummary {
    /// The `.hea` path.
    pub hea_path: PathBuf,
    /// Frames in the record (gaps included).
    pub frames: u64,
    /// Gaps annotated.
    pub gaps: u64,
    /// Frames written as invalid because they were missing.
    pub missing_frames: u64,
    /// Annotations written.
    pub annotations: u64,
    /// Pacing stimuli annotated.
    pub stimuli: u64,
}

/// What was recorded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordingSummary {
    /// Records written, in order (more than one only if the stream changed rate or channels).
    pub segments: Vec<SegmentSummary>,
    /// Samples clamped to the format's range.
    pub clipped_samples: u64,
    /// Events dropped because the recorder thread was behind (their frames are `recorder_overrun` gaps).
    pub dropped_events: u64,
}

impl RecordingSummary {
    /// The first record's header path.
    pub fn hea_path(&self) -> Option<&Path> {
        self.segments.first().map(|s| s.hea_path.as_path())
    }
}

fn utc_parts(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (sod / 3600) as u32,
        (sod % 3600 / 60) as u32,
        (sod % 60) as u32,
    )
}

/// Default record name for a start time.
pub fn default_record_name(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = utc_parts(t);
    format!("qrsd_{y:04}{mo:02}{d:02}_{h:02}{mi:02}{s:02}")
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn note(sample: u64, symbol: &str, subtype: i8, num: i8, aux: Option<String>) -> Annotation {
    Annotation {
        sample: sample as i64,
        symbol: symbol.into(),
        subtype,
        chan: 0,
        num,
        aux,
    }
}

/// Write `bytes` to `path` atomically: temp file, fsync, rename.
fn replace_file(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), RecordError>,
) -> Result<(), RecordError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    write(&tmp)?;
    File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

fn sync_dir(dir: &Path) {
    // Directory fsync makes the renames durable across power loss; not needed for kill -9 and not
    // supported everywhere, so a failure is ignored.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// One open WFDB record.
#[derive(Debug)]
struct Segment {
    dir: PathBuf,
    name: String,
    info: StreamInfo,
    /// [`RecorderOptions::software_version`], for the header.
    software_version: String,
    start: SystemTime,
    gain: f64,
    dat_path: PathBuf,
    dat: BufWriter<File>,
    n_sig: usize,
    /// Frames handed to the `.dat` writer.
    frames: u64,
    /// Frames durable (fsynced) and announced by the header.
    durable: u64,
    /// Running checksums and initial values of all frames written / at the last flush.
    checksum: Vec<i16>,
    checksum_durable: Vec<i16>,
    initial: Vec<i32>,
    /// Annotations ready to be written (sorted), and those not yet placed (sample ≥ an open pace run).
    committed: Vec<Annotation>,
    pending: Vec<Annotation>,
    annotations_dirty: bool,
    header_dirty: bool,
    /// Open run of the pace flag: (first frame, length).
    pace_run: Option<(u64, u64)>,
    lead_off: u16,
    /// End of the last gap reported by an event (holes not covered are recorder overruns).
    covered_until: u64,
    gaps: u64,
    missing_frames: u64,
    stimuli: u64,
    clipped: u64,
    last_flush: Instant,
    frame_buf: Vec<u8>,
}

impl Segment {
    fn create(
        dir: &Path,
        name: String,
        info: StreamInfo,
        opts: &RecorderOptions,
    ) -> Result<Self, RecordError> {
        if info.lead_names.is_empty() || info.lead_names.len() > 64 {
            return Err(RecordError::Config(format!(
                "{} channels (need 1..=64)",
                info.lead_names.len()
            )));
        }
        if !(info.fs_hz.is_finite() && info.fs_hz > 0.0) {
            return Err(RecordError::Config(format!("sampling rate {}", info.fs_hz)));
        }
        let dat_path = dir.join(format!("{name}.dat"));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&dat_path)
            .map_err(io_err(&dat_path))?;
        let n_sig = info.lead_names.len();
        let mut seg = Segment {
            dir: dir.to_path_buf(),
            software_version: opts.software_version.clone(),
            name,
            start: SystemTime::now(),
            gain: 1.0e6 / opts.lsb_nv,
            dat_path,
            dat: BufWriter::with_capacity(64 * 1024, file),
            n_sig,
            frames: 0,
            durable: 0,
            checksum: vec![0; n_sig],
            checksum_durable: vec![0; n_sig],
            initial: vec![0; n_sig],
            committed: Vec::new(),
            pending: Vec::new(),
            annotations_dirty: true,
            header_dirty: true,
            pace_run: None,
            lead_off: 0,
            covered_until: 0,
            gaps: 0,
            missing_frames: 0,
            stimuli: 0,
            clipped: 0,
            last_flush: Instant::now(),
            frame_buf: Vec::with_capacity(n_sig * 3),
            info,
        };
        seg.flush(opts)?;
        sync_dir(&seg.dir);
        Ok(seg)
    }

    fn hea_path(&self) -> PathBuf {
        self.dir.join(format!("{}.hea", self.name))
    }

    fn header_text(&self) -> String {
        let (y, mo, d, h, mi, s) = utc_parts(self.start);
        let fs = self.info.fs_hz;
        let mut t = format!(
            "{} {} {} {} {h:02}:{mi:02}:{s:02} {d:02}/{mo:02}/{y:04}\n",
            self.name, self.n_sig, fs, self.durable
        );
        for (l, lead) in self.info.lead_names.iter().enumerate() {
            let lead: String = lead
                .chars()
                .map(|c| if c.is_control() { '_' } else { c })
                .collect();
            t.push_str(&format!(
                "{}.dat 24 {}/mV 24 0 {} {} 0 {}\n",
                self.name, self.gain, self.initial[l], self.checksum_durable[l], lead
            ));
        }
        let clean = |s: &str| -> String { s.chars().filter(|c| !c.is_control()).collect() };
        t.push_str(&format!(
            "# qrsd recorder {}\n",
            clean(&self.software_version)
        ));
        t.push_str(&format!("# source: {}\n", clean(&self.info.description)));
        if let Some(fw) = &self.info.firmware {
            t.push_str(&format!("# firmware: {}\n", clean(fw)));
        }
        t.push_str(&format!(
            "# start: {y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z\n"
        ));
        t.push_str(&format!(
            "# hardware pace flag: {}; annotations: ~ gap (subtype -1 start, 0 end), \" note (lead_off), ^ pacing stimulus (num = frames)\n",
            if self.info.has_hw_pace { "yes" } else { "no" }
        ));
        t
    }

    fn write_frame(&mut self, vals: impl Iterator<Item = f32>) -> Result<(), RecordError> {
        self.frame_buf.clear();
        let first = self.frames == 0;
        let scale = self.gain / 1000.0;
        for (l, v) in vals.enumerate().take(self.n_sig) {
            let adc = if v.is_finite() {
                let a = (f64::from(v) * scale).round();
                if a > f64::from(ADC_MAX) || a < f64::from(ADC_MIN) {
                    self.clipped += 1;
                }
                a.clamp(f64::from(ADC_MIN), f64::from(ADC_MAX)) as i32
            } else {
                WFDB_INVALID_24
            };
            self.frame_buf.extend_from_slice(&adc.to_le_bytes()[..3]);
            self.checksum[l] = self.checksum[l].wrapping_add(adc as i16);
            if first {
                self.initial[l] = adc;
            }
        }
        // Short frames (should not happen) are padded with invalid samples.
        while self.frame_buf.len() < self.n_sig * 3 {
            let l = self.frame_buf.len() / 3;
            self.frame_buf
                .extend_from_slice(&WFDB_INVALID_24.to_le_bytes()[..3]);
            self.checksum[l] = self.checksum[l].wrapping_add(WFDB_INVALID_24 as i16);
            if first {
                self.initial[l] = WFDB_INVALID_24;
            }
        }
        self.dat
            .write_all(&self.frame_buf)
            .map_err(io_err(&self.dat_path))?;
        self.frames += 1;
        Ok(())
    }

    /// Write invalid frames up to (excluding) `until`, annotating the hole.
    fn fill_gap(&mut self, until: u64, reason: &str) -> Result<(), RecordError> {
        if until <= self.frames {
            return Ok(());
        }
        let at = self.frames;
        let n = until - at;
        self.close_pace_run();
        self.pending
            .push(note(at, "~", -1, 0, Some(format!("gap {reason} {n}"))));
        self.pending.push(note(until, "~", 0, 0, None));
        self.gaps += 1;
        self.missing_frames += n;
        for _ in 0..n {
            self.write_frame(std::iter::repeat(f32::NAN))?;
        }
        Ok(())
    }

    fn gap(&mut self, at: u64, n: u64, reason: &str) -> Result<(), RecordError> {
        if at > self.frames {
            // A hole before the reported one that nobody reported: our own drops.
            self.fill_gap(at, "recorder_overrun")?;
        }
        let end = at.saturating_add(n);
        self.covered_until = self.covered_until.max(end);
        if end > self.frames {
            self.fill_gap(end, reason)?;
        }
        Ok(())
    }

    fn close_pace_run(&mut self) {
        if let Some((s, len)) = self.pace_run.take() {
            let num = i8::try_from(len.min(127)).unwrap_or(127);
            self.pending.push(note(s, "^", 0, num, None));
            self.stimuli += 1;
        }
    }

    fn lead_off_text(&self, bits: u16) -> String {
        let names: Vec<&str> = (0..self.n_sig.min(16))
            .filter(|l| bits & (1 << l) != 0)
            .map(|l| self.info.lead_names[l].as_str())
            .collect();
        if names.is_empty() {
            "lead_off none".into()
        } else {
            let mut s = format!("lead_off {}", names.join(","));
            s.truncate(250);
            s
        }
    }

    fn chunk(&mut self, c: &Chunk, opts: &RecorderOptions) -> Result<(), RecordError> {
        let n = c.n_frames();
        if c.samples_uv.len() != n * self.n_sig {
            return Err(RecordError::Config(format!(
                "chunk at {} has {} samples for {n} frames of {} channels",
                c.first_sample,
                c.samples_uv.len(),
                self.n_sig
            )));
        }
        if c.first_sample > self.frames {
            let reason = if c.first_sample <= self.covered_until {
                "unknown"
            } else {
                "recorder_overrun"
            };
            self.fill_gap(c.first_sample, reason)?;
        }
        // Frames before `self.frames` (an overlap) are already written: skip them.
        let skip = usize::try_from(self.frames.saturating_sub(c.first_sample))
            .unwrap_or(usize::MAX)
            .min(n);
        for f in skip..n {
            let k = c.first_sample + f as u64;
            let lo = c.lead_off.get(f).copied().unwrap_or(0);
            if lo != self.lead_off {
                let text = self.lead_off_text(lo);
                self.pending.push(note(k, "\"", 0, 0, Some(text)));
                self.lead_off = lo;
            }
            if opts.annotate_pace {
                let p = c.pace.get(f).copied().unwrap_or(false);
                match (&mut self.pace_run, p) {
                    (Some((_, len)), true) => *len += 1,
                    (None, true) => self.pace_run = Some((k, 1)),
                    (Some(_), false) => self.close_pace_run(),
                    (None, false) => {}
                }
            }
            let row = &c.samples_uv[f * self.n_sig..(f + 1) * self.n_sig];
            self.write_frame(row.iter().copied())?;
        }
        Ok(())
    }

    fn flush(&mut self, _opts: &RecorderOptions) -> Result<(), RecordError> {
        // 1. data
        self.dat.flush().map_err(io_err(&self.dat_path))?;
        if self.frames != self.durable {
            self.dat
                .get_ref()
                .sync_data()
                .map_err(io_err(&self.dat_path))?;
            self.durable = self.frames;
            self.checksum_durable.clone_from(&self.checksum);
            self.header_dirty = true;
        }
        // 2. annotations: everything before an open pace run and within the durable frames.
        let boundary = self
            .pace_run
            .map_or(u64::MAX, |(s, _)| s)
            .min(self.durable.saturating_add(1));
        if !self.pending.is_empty() {
            self.pending.sort_by_key(|a| a.sample);
            let split = self
                .pending
                .partition_point(|a| (a.sample as u64) < boundary);
            if split > 0 {
                self.committed.extend(self.pending.drain(..split));
                self.annotations_dirty = true;
            }
        }
        if self.annotations_dirty {
            let atr = self.dir.join(format!("{}.atr", self.name));
            let anns = &self.committed;
            replace_file(&atr, |tmp| write_annotations(tmp, anns).map_err(Into::into))?;
            self.annotations_dirty = false;
        }
        // 3. header
        if self.header_dirty {
            let hea = self.hea_path();
            let text = self.header_text();
            replace_file(&hea, |tmp| std::fs::write(tmp, text).map_err(io_err(tmp)))?;
            self.header_dirty = false;
        }
        self.last_flush = Instant::now();
        Ok(())
    }

    fn finish(&mut self, opts: &RecorderOptions) -> Result<SegmentSummary, RecordError> {
        self.close_pace_run();
        // Everything pending becomes committed at the end.
        self.pace_run = None;
        self.flush(opts)?;
        if !self.pending.is_empty() {
            self.pending.sort_by_key(|a| a.sample);
            self.committed.append(&mut self.pending);
            self.annotations_dirty = true;
            self.flush(opts)?;
        }
        sync_dir(&self.dir);
        Ok(SegmentSummary {
            hea_path: self.hea_path(),
            frames: self.durable,
            gaps: self.gaps,
            missing_frames: self.missing_frames,
            annotations: self.committed.len() as u64,
            stimuli: self.stimuli,
        })
    }
}

/// Writes [`SourceEvent`]s as a crash-safe WFDB record. See the module documentation.
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    opts: RecorderOptions,
    base_name: Option<String>,
    current: Option<Segment>,
    done: Vec<SegmentSummary>,
    clipped: u64,
    dropped_events: Arc<AtomicU64>,
}

impl Recorder {
    /// A recorder writing into `dir` (created if missing). Nothing is written until the first
    /// [`SourceEvent::Started`] (or [`Recorder::start`]).
    pub fn new(dir: impl AsRef<Path>, opts: RecorderOptions) -> Result<Self, RecordError> {
        if !(opts.lsb_nv.is_finite() && opts.lsb_nv > 0.0) {
            return Err(RecordError::Config(format!("lsb_nv {}", opts.lsb_nv)));
        }
        if opts.flush_interval.is_zero() || opts.flush_interval > Duration::from_secs(1) {
            return Err(RecordError::Config(
                "flush_interval must be in (0, 1 s]".into(),
            ));
        }
        if let Some(n) = &opts.record_name {
            if !valid_name(n) {
                return Err(RecordError::Config(format!(
                    "record name {n:?}: letters, digits and _ only"
                )));
            }
        }
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(Self {
            dir,
            base_name: opts.record_name.clone(),
            opts,
            current: None,
            done: Vec::new(),
            clipped: 0,
            dropped_events: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Start (or continue) a record for `info`: the same rate and channels continue the open record,
    /// anything else closes it and opens `NAME_<k>`.
    pub fn start(&mut self, info: &StreamInfo) -> Result<(), RecordError> {
        if let Some(seg) = &self.current {
            if seg.info.fs_hz == info.fs_hz && seg.info.lead_names == info.lead_names {
                return Ok(());
            }
        }
        self.close_current()?;
        let base = self
            .base_name
            .get_or_insert_with(|| default_record_name(SystemTime::now()))
            .clone();
        let name = if self.done.is_empty() {
            base
        } else {
            format!("{base}_{}", self.done.len() + 1)
        };
        self.current = Some(Segment::create(&self.dir, name, info.clone(), &self.opts)?);
        Ok(())
    }

    fn close_current(&mut self) -> Result<(), RecordError> {
        if let Some(mut seg) = self.current.take() {
            let s = seg.finish(&self.opts)?;
            self.clipped += seg.clipped;
            self.done.push(s);
        }
        Ok(())
    }

    /// Record one event; flushes when the flush interval has passed. Chunks and gaps before any
    /// `Started` are an error.
    pub fn handle(&mut self, ev: &SourceEvent) -> Result<(), RecordError> {
        match ev {
            SourceEvent::Started(info) => self.start(info)?,
            SourceEvent::Chunk(c) => {
                let opts = &self.opts;
                let seg = self
                    .current
                    .as_mut()
                    .ok_or_else(|| RecordError::Config("chunk before Started".into()))?;
                seg.chunk(c, opts)?;
            }
            SourceEvent::Gap {
                at_sample,
                missing_frames,
                reason,
            } => {
                if let Some(seg) = self.current.as_mut() {
                    seg.gap(*at_sample, *missing_frames, reason.as_str())?;
                }
            }
            SourceEvent::Status(_) | SourceEvent::Ended => {}
        }
        self.flush_if_due()
    }

    /// Flush if the flush interval has passed since the last flush.
    pub fn flush_if_due(&mut self) -> Result<(), RecordError> {
        if let Some(seg) = self.current.as_mut() {
            if seg.last_flush.elapsed() >= self.opts.flush_interval {
                seg.flush(&self.opts)?;
            }
        }
        Ok(())
    }

    /// Flush now (data fsynced, annotations and header replaced atomically).
    pub fn flush(&mut self) -> Result<(), RecordError> {
        if let Some(seg) = self.current.as_mut() {
            seg.flush(&self.opts)?;
        }
        Ok(())
    }

    /// Header path of the open record.
    pub fn hea_path(&self) -> Option<PathBuf> {
        self.current.as_ref().map(Segment::hea_path)
    }

    /// Frames written so far to the open record (not all necessarily durable yet).
    pub fn frames(&self) -> u64 {
        self.current.as_ref().map_or(0, |s| s.frames)
    }

    /// Close the record(s) and return what was written.
    pub fn finish(mut self) -> Result<RecordingSummary, RecordError> {
        self.close_current()?;
        Ok(RecordingSummary {
            segments: std::mem::take(&mut self.done),
            clipped_samples: self.clipped,
            dropped_events: self.dropped_events.load(Ordering::Relaxed),
        })
    }
}

/// Progress of a [`RecorderThread`], readable while it runs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecorderStatus {
    /// Header of the open record.
    pub hea_path: Option<PathBuf>,
    /// Frames written.
    pub frames: u64,
    /// Events dropped because the channel was full.
    pub dropped_events: u64,
    /// The error that stopped the recorder, if any (later events are discarded).
    pub error: Option<String>,
}

/// A [`Recorder`] on its own thread, fed through a bounded channel. See the module documentation.
#[derive(Debug)]
pub struct RecorderThread {
    tx: Option<SyncSender<SourceEvent>>,
    thread: Option<JoinHandle<Result<RecordingSummary, RecordError>>>,
    status: Arc<Mutex<RecorderStatus>>,
    dropped: Arc<AtomicU64>,
}

impl RecorderThread {
    /// Run `recorder` on a thread with room for `capacity` queued events (e.g. 1024 ≈ 16 s of 16-ms
    /// chunks).
    pub fn spawn(recorder: Recorder, capacity: usize) -> Result<Self, RecordError> {
        let (tx, rx) = mpsc::sync_channel(capacity.max(1));
        let status = Arc::new(Mutex::new(RecorderStatus::default()));
        let dropped = Arc::clone(&recorder.dropped_events);
        let st = Arc::clone(&status);
        let thread = std::thread::Builder::new()
            .name("qrsd-recorder".into())
            .spawn(move || run_thread(recorder, rx, st))
            .map_err(|e| RecordError::Io {
                path: PathBuf::from("<recorder thread>"),
                source: e,
            })?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            status,
            dropped,
        })
    }

    /// Queue a copy of `ev` without waiting. Returns false if the queue was full (the event is dropped and
    /// counted; dropped frames become a `recorder_overrun` gap) or the recorder has stopped.
    pub fn send(&self, ev: &SourceEvent) -> bool {
        let Some(tx) = &self.tx else { return false };
        match tx.try_send(ev.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if let Ok(mut s) = self.status.lock() {
                    s.dropped_events = n;
                }
                false
            }
        }
    }

    /// Current progress.
    pub fn status(&self) -> RecorderStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Let the queue drain, close the record(s) and return the summary.
    pub fn finish(mut self) -> Result<RecordingSummary, RecordError> {
        self.tx.take();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(RecordError::Panicked),
            None => Err(RecordError::Panicked),
        }
    }
}

impl Drop for RecorderThread {
    fn drop(&mut self) {
        // Closing the channel lets the thread finish the record on its own.
        self.tx.take();
    }
}

fn run_thread(
    mut rec: Recorder,
    rx: Receiver<SourceEvent>,
    status: Arc<Mutex<RecorderStatus>>,
) -> Result<RecordingSummary, RecordError> {
    let tick = rec.opts.flush_interval.min(Duration::from_millis(250));
    let mut failed: Option<RecordError> = None;
    loop {
        let r = match rx.recv_timeout(tick) {
            Ok(ev) => {
                if failed.is_some() {
                    continue;
                }
                rec.handle(&ev)
            }
            Err(RecvTimeoutError::Timeout) => {
                if failed.is_some() {
                    continue;
                }
                rec.flush_if_due()
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if let Ok(mut s) = status.lock() {
            s.frames = rec.frames();
            s.hea_path = rec.hea_path();
            if let Err(e) = &r {
                s.error = Some(e.to_string());
            }
        }
        if let Err(e) = r {
            failed = Some(e);
        }
    }
    match failed {
        Some(e) => {
            // Still try to make what was written readable.
            let _ = rec.finish();
            Err(e)
        }
        None => rec.finish(),
    }
}
