//! EDF, EDF+ (continuous and discontinuous) and BDF/BDF+ files.
//!
//! Reading keeps as [`Lead`]s only the ordinary signals whose physical dimension is a voltage,
//! not labelled EEG, EOG or EMG when other voltage signals remain, and among those only the ones with
//! the highest samples-per-record (the ECG rate); other signals (pressure, SpO2, slow channels,
//! a polysomnogram's EEG) are dropped. If signals exist but none is a voltage,
//! the read fails with [`FormatError::NonVoltageUnits`]. A file with only annotations yields a
//! recording with no leads and `fs_hz` 0.
//!
//! Digital samples outside `[digital min, digital max]` are NaN: the spec makes those the
//! extremes that can occur, and the writer uses one below the range as its invalid marker.

mod tal;
mod write;

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::io_util::io_err;
use crate::limits::{MAX_SIGNALS, MAX_TOTAL_SAMPLES};
use crate::units::voltage_scale_to_uv;
use crate::{FormatError, Lead, Recording};

pub use write::write;

const MAIN_HEADER_BYTES: usize = 256;
const SIGNAL_HEADER_BYTES: usize = 256;

/// One EDF+ annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct EdfAnnotation {
    /// Onset in seconds from sample 0 of [`EdfFile::recording`] (the first data record).
    pub onset_s: f64,
    /// Duration in seconds, if given.
    pub duration_s: Option<f64>,
    /// Annotation text.
    pub text: String,
}

/// A decoded EDF/EDF+ file.
#[derive(Debug, Clone, PartialEq)]
pub struct EdfFile {
    /// The kept leads in µV (see the module docs for which signals are kept).
    pub recording: Recording,
    /// Annotations from every "EDF Annotations" signal, in file order, without the empty
    /// time-keeping entries.
    pub annotations: Vec<EdfAnnotation>,
    /// Start date and time fields as written, `"dd.mm.yy hh.mm.ss"`.
    pub start: String,
    /// Local patient identification field.
    pub patient: String,
    /// Local recording identification field.
    pub recording_id: String,
}

/// The fixed 256-byte header.
struct MainHeader {
    bdf: bool,
    patient: String,
    recording_id: String,
    start: String,
    header_bytes: u64,
    discontinuous: bool,
    n_records: i64,
    record_duration_s: f64,
    ns: usize,
}

struct SignalHeader {
    label: String,
    dimension: String,
    phys_min: f64,
    phys_max: f64,
    dig_min: i64,
    dig_max: i64,
    samples_per_record: usize,
}

impl SignalHeader {
    fn is_annotation(&self) -> bool {
        matches!(self.label.as_str(), "EDF Annotations" | "BDF Annotations")
    }
}

/// How to turn one kept signal's digital samples into µV.
struct Conversion {
    signal: usize,
    dig_min: i64,
    dig_max: i64,
    phys_min: f64,
    /// µV per digital unit.
    uv_per_unit: f64,
    /// µV per physical unit.
    unit_scale: f64,
}

impl Conversion {
    fn to_uv(&self, digital: i64) -> f32 {
        if digital < self.dig_min || digital > self.dig_max {
            return f32::NAN;
        }
        ((digital - self.dig_min) as f64 * self.uv_per_unit + self.phys_min * self.unit_scale)
            as f32
    }
}

/// Reads an EDF/EDF+/BDF file.
pub fn read(path: impl AsRef<Path>) -> Result<EdfFile, FormatError> {
    let mut reader = EdfReader::open_with_limit(path.as_ref(), true)?;
    // Bounded by MAX_TOTAL_SAMPLES (checked at open, and for EDF+D gaps as they come).
    let leads = crate::io_util::read_all(reader.names.len(), |n, out| reader.read(n, out))?;
    let fs_hz = reader.fs_hz();
    let annotations = reader.take_annotations();
    let EdfReader { main, names, .. } = reader;
    Ok(EdfFile {
        recording: Recording {
            fs_hz,
            leads: names
                .into_iter()
                .zip(leads)
                .map(|(name, samples_uv)| Lead { name, samples_uv })
                .collect(),
        },
        annotations,
        start: main.start,
        patient: main.patient,
        recording_id: main.recording_id,
    })
}

/// Reads an EDF/EDF+/BDF file a data record at a time, so memory does not grow with its length; the
/// same leads and values as [`read`], which is built on it. EDF+D gaps are delivered as NaN.
pub struct EdfReader {
    path: std::path::PathBuf,
    main: MainHeader,
    signals: Vec<SignalHeader>,
    conversions: Vec<Conversion>,
    names: Vec<String>,
    width: usize,
    lead_spr: usize,
    n_records: u64,
    /// Apply [`MAX_TOTAL_SAMPLES`] to EDF+D gaps too (whole-file reads).
    limit: bool,
    file: BufReader<File>,
    offsets: Vec<usize>,
    record: Vec<u8>,
    /// Next data record to read.
    next_record: u64,
    first_onset: Option<f64>,
    first_annotation_signal: Option<usize>,
    annotations: Vec<EdfAnnotation>,
    /// Decoded samples not yet delivered, from `pending_pos` on.
    pending: Vec<Vec<f32>>,
    pending_pos: usize,
    /// NaN samples (an EDF+D gap) to deliver before `pending`.
    gap: u64,
    /// Samples per lead decoded or owed as gap so far (where the next record would start).
    timeline: u64,
}

/// Longest timeline an EDF+D file may span when streamed: its gaps are delivered as NaN, and a
/// hostile onset must not make a reader deliver NaN for years.
const MAX_STREAM_DAYS: f64 = 31.0;

impl EdfReader {
    /// Opens `path`, checking its headers and that the file holds every data record they announce.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, FormatError> {
        Self::open_with_limit(path.as_ref(), false)
    }

    fn open_with_limit(path: &Path, limit: bool) -> Result<Self, FormatError> {
        let file = File::open(path).map_err(io_err(path))?;
        let file_len = file.metadata().map_err(io_err(path))?.len();
        let mut reader = BufReader::new(file);
        let main = parse_main_header(&read_exact(&mut reader, MAIN_HEADER_BYTES, 0, path)?, path)?;
        let signal_bytes = read_exact(
            &mut reader,
            main.ns * SIGNAL_HEADER_BYTES,
            MAIN_HEADER_BYTES as u64,
            path,
        )?;
        let signals = parse_signal_headers(&signal_bytes, &main, path)?;
        let expected_header = ((main.ns + 1) * SIGNAL_HEADER_BYTES) as u64;
        if main.header_bytes != expected_header {
            return Err(invalid(
                path,
                format!(
                    "header size field says {} bytes but {} signals need {expected_header}",
                    main.header_bytes, main.ns
                ),
            ));
        }
        let conversions = select_leads(&signals, &main, path)?;
        let width: usize = if main.bdf { 3 } else { 2 };
        let record_samples: u64 = signals.iter().map(|s| s.samples_per_record as u64).sum();
        let lead_spr = conversions
            .first()
            .map_or(0, |c| signals[c.signal].samples_per_record);
        let n_records = record_count(
            &main,
            record_samples,
            width,
            lead_spr,
            file_len,
            path,
            limit,
        )?;
        reader
            .seek(SeekFrom::Start(main.header_bytes))
            .map_err(io_err(path))?;
        let first_annotation_signal = signals.iter().position(SignalHeader::is_annotation);
        if main.discontinuous && first_annotation_signal.is_none() && !conversions.is_empty() {
            return Err(invalid(
                path,
                "EDF+D file has no 'EDF Annotations' signal".into(),
            ));
        }
        let mut offsets = Vec::with_capacity(signals.len() + 1);
        let mut pos = 0usize;
        offsets.push(0);
        for s in &signals {
            pos += s.samples_per_record * width;
            offsets.push(pos);
        }
        let names = conversions
            .iter()
            .map(|c| signals[c.signal].label.to_uppercase())
            .collect();
        Ok(Self {
            path: path.to_path_buf(),
            record: vec![0u8; pos],
            pending: vec![Vec::new(); conversions.len()],
            main,
            signals,
            conversions,
            names,
            width,
            lead_spr,
            n_records,
            limit,
            file: reader,
            offsets,
            next_record: 0,
            first_onset: None,
            first_annotation_signal,
            annotations: Vec::new(),
            pending_pos: 0,
            gap: 0,
            timeline: 0,
        })
    }

    /// Sampling rate of the leads, Hz (0 for a file without leads).
    pub fn fs_hz(&self) -> f64 {
        if self.conversions.is_empty() {
            0.0
        } else {
            self.lead_spr as f64 / self.main.record_duration_s
        }
    }

    /// Lead names, upper-cased (voltage signals at the fastest rate only).
    pub fn lead_names(&self) -> &[String] {
        &self.names
    }

    /// Samples per lead in the data records (EDF+D gaps not included).
    pub fn len_samples(&self) -> u64 {
        self.n_records.saturating_mul(self.lead_spr as u64)
    }

    /// The annotations read so far, onsets in seconds from sample 0 (the first data record).
    pub fn take_annotations(&mut self) -> Vec<EdfAnnotation> {
        let t0 = self.first_onset.unwrap_or(0.0);
        let mut out = std::mem::take(&mut self.annotations);
        for a in &mut out {
            a.onset_s -= t0;
        }
        out
    }

    /// The next samples of every lead in µV (NaN where invalid or in an EDF+D gap): `out[lead]` is
    /// cleared and receives up to `max_samples` (at least one). Returns the samples per lead
    /// delivered, 0 at the end of the file.
    pub fn read(&mut self, max_samples: usize, out: &mut [Vec<f32>]) -> Result<usize, FormatError> {
        for o in out.iter_mut() {
            o.clear();
        }
        let max = max_samples.max(1);
        let mut n = 0usize;
        while n < max {
            if self.gap > 0 {
                let k = self.gap.min((max - n) as u64) as usize;
                for o in out.iter_mut() {
                    o.resize(o.len() + k, f32::NAN);
                }
                self.gap -= k as u64;
                n += k;
                continue;
            }
            let left = self.pending.first().map_or(0, Vec::len) - self.pending_pos;
            if left > 0 {
                let k = left.min(max - n);
                for (o, p) in out.iter_mut().zip(&self.pending) {
                    o.extend_from_slice(&p[self.pending_pos..self.pending_pos + k]);
                }
                self.pending_pos += k;
                n += k;
                continue;
            }
            if !self.next_data_record()? {
                break;
            }
        }
        Ok(n)
    }

    /// Reads the next data record into `pending` (and its gap, for EDF+D). False at the end.
    fn next_data_record(&mut self) -> Result<bool, FormatError> {
        if self.next_record >= self.n_records {
            return Ok(false);
        }
        let k = self.next_record;
        self.next_record += 1;
        self.file
            .read_exact(&mut self.record)
            .map_err(io_err(&self.path))?;
        let mut record_onset = None;
        for (i, signal) in self.signals.iter().enumerate() {
            if !signal.is_annotation() {
                continue;
            }
            let bytes = self
                .record
                .get(self.offsets[i]..self.offsets[i + 1])
                .unwrap_or_default();
            let tals = tal::parse_tals(bytes)
                .map_err(|m| invalid(&self.path, format!("data record {k}, signal {i}: {m}")))?;
            if Some(i) == self.first_annotation_signal {
                record_onset = tals.first().map(|t| t.onset_s);
            }
            for t in tals {
                self.annotations
                    .extend(t.texts.into_iter().map(|text| EdfAnnotation {
                        onset_s: t.onset_s,
                        duration_s: t.duration_s,
                        text,
                    }));
            }
        }
        let t0 = *self.first_onset.get_or_insert(record_onset.unwrap_or(0.0));
        if self.main.discontinuous && !self.conversions.is_empty() {
            let onset = record_onset.ok_or_else(|| {
                invalid(
                    &self.path,
                    format!("EDF+D data record {k} has no time-keeping TAL"),
                )
            })?;
            self.gap_before(onset - t0, k)?;
        }
        self.pending_pos = 0;
        for (conv, out) in self.conversions.iter().zip(&mut self.pending) {
            out.clear();
            let bytes = self
                .record
                .get(self.offsets[conv.signal]..self.offsets[conv.signal + 1])
                .unwrap_or_default();
            out.extend(bytes.chunks_exact(self.width).map(|c| {
                let digital = match *c {
                    [a, b] => i64::from(i16::from_le_bytes([a, b])),
                    [a, b, c] => i64::from(i32::from_le_bytes([0, a, b, c]) >> 8),
                    _ => i64::MIN,
                };
                conv.to_uv(digital)
            }));
        }
        self.timeline += self.lead_spr as u64;
        Ok(true)
    }

    /// For EDF+D: the NaN gap before a record starting `onset_s` after the first.
    fn gap_before(&mut self, onset_s: f64, k: u64) -> Result<(), FormatError> {
        let fs = self.fs_hz();
        let start = (onset_s * fs).round();
        if start < self.timeline as f64 {
            return Err(invalid(
                &self.path,
                format!(
                    "EDF+D data record {k} starts at {onset_s} s, overlapping the previous one"
                ),
            ));
        }
        let end = start + self.lead_spr as f64;
        if self.limit {
            let total = end * self.conversions.len() as f64;
            if total > MAX_TOTAL_SAMPLES as f64 {
                return Err(FormatError::LimitExceeded {
                    path: self.path.clone(),
                    what: "total number of samples including EDF+D gaps",
                    value: total as u64,
                    limit: MAX_TOTAL_SAMPLES,
                });
            }
        } else if end > MAX_STREAM_DAYS * 86_400.0 * fs {
            return Err(FormatError::LimitExceeded {
                path: self.path.clone(),
                what: "samples per lead including EDF+D gaps",
                value: end as u64,
                limit: (MAX_STREAM_DAYS * 86_400.0 * fs) as u64,
            });
        }
        self.gap = start as u64 - self.timeline;
        self.timeline = start as u64;
        Ok(())
    }
}

impl std::fmt::Debug for EdfReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdfReader")
            .field("path", &self.path)
            .field("leads", &self.names)
            .field("next_record", &self.next_record)
            .finish_non_exhaustive()
    }
}

fn invalid(path: &Path, message: String) -> FormatError {
    FormatError::Invalid {
        path: path.to_path_buf(),
        message,
    }
}

fn read_exact(
    reader: &mut impl Read,
    n: usize,
    offset: u64,
    path: &Path,
) -> Result<Vec<u8>, FormatError> {
    let mut buf = Vec::with_capacity(n);
    reader
        .take(n as u64)
        .read_to_end(&mut buf)
        .map_err(io_err(path))?;
    if buf.len() < n {
        return Err(FormatError::UnexpectedEof {
            path: path.to_path_buf(),
            offset: offset + buf.len() as u64,
            what: "EDF header",
        });
    }
    Ok(buf)
}

/// Fixed-width ASCII header fields, read left to right.
struct Fields<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Fields<'a> {
    fn raw(&mut self, width: usize) -> &'a [u8] {
        let field = self
            .bytes
            .get(self.pos..self.pos + width)
            .unwrap_or_default();
        self.pos += width;
        field
    }

    fn text(&mut self, width: usize) -> String {
        String::from_utf8_lossy(self.raw(width)).trim().to_string()
    }

    fn number<T: std::str::FromStr>(&mut self, width: usize, what: &str) -> Result<T, FormatError> {
        let text = self.text(width);
        text.parse().map_err(|_| {
            invalid(
                self.path,
                format!("header field '{what}' is {text:?}, not a valid number"),
            )
        })
    }

    fn finite(&mut self, width: usize, what: &str) -> Result<f64, FormatError> {
        let value: f64 = self.number(width, what)?;
        if value.is_finite() {
            Ok(value)
        } else {
            Err(invalid(
                self.path,
                format!("header field '{what}' is not finite"),
            ))
        }
    }
}

fn parse_main_header(bytes: &[u8], path: &Path) -> Result<MainHeader, FormatError> {
    let mut f = Fields {
        bytes,
        pos: 0,
        path,
    };
    let version = f.raw(8);
    let bdf = match version {
        b"0       " => false,
        [0xFF, rest @ ..] if rest == b"BIOSEMI" => true,
        _ => {
            return Err(invalid(
                path,
                format!(
                    "not an EDF/BDF file (version field {:?})",
                    String::from_utf8_lossy(version)
                ),
            ))
        }
    };
    let patient = f.text(80);
    let recording_id = f.text(80);
    let start = format!("{} {}", f.text(8), f.text(8));
    let header_bytes: u64 = f.number(8, "number of bytes in header")?;
    let reserved = f.text(44);
    let n_records: i64 = f.number(8, "number of data records")?;
    let record_duration_s = f.finite(8, "duration of a data record")?;
    let ns: u64 = f.number(4, "number of signals")?;
    if ns > MAX_SIGNALS as u64 {
        return Err(FormatError::LimitExceeded {
            path: path.to_path_buf(),
            what: "number of signals",
            value: ns,
            limit: MAX_SIGNALS as u64,
        });
    }
    if n_records < -1 {
        return Err(invalid(
            path,
            format!("number of data records is {n_records}"),
        ));
    }
    if record_duration_s < 0.0 {
        return Err(invalid(
            path,
            format!("data record duration {record_duration_s} s is negative"),
        ));
    }
    Ok(MainHeader {
        bdf,
        patient,
        recording_id,
        start,
        header_bytes,
        discontinuous: reserved.starts_with("EDF+D") || reserved.starts_with("BDF+D"),
        n_records,
        record_duration_s,
        ns: ns as usize,
    })
}

fn parse_signal_headers(
    bytes: &[u8],
    main: &MainHeader,
    path: &Path,
) -> Result<Vec<SignalHeader>, FormatError> {
    let ns = main.ns;
    let mut f = Fields {
        bytes,
        pos: 0,
        path,
    };
    // Fields are stored column-major: all labels, then all transducers, ...
    let labels: Vec<String> = (0..ns).map(|_| f.text(16)).collect();
    f.pos += 80 * ns; // transducer type
    let dimensions: Vec<String> = (0..ns).map(|_| f.text(8)).collect();
    let column = |f: &mut Fields, what: &str| -> Result<Vec<f64>, FormatError> {
        (0..ns).map(|_| f.finite(8, what)).collect()
    };
    let phys_min = column(&mut f, "physical minimum")?;
    let phys_max = column(&mut f, "physical maximum")?;
    let dig_min = column(&mut f, "digital minimum")?;
    let dig_max = column(&mut f, "digital maximum")?;
    f.pos += 80 * ns; // prefiltering
    let spr: Vec<u64> = (0..ns)
        .map(|_| f.number(8, "number of samples in each data record"))
        .collect::<Result<_, _>>()?;
    let digital_range = if main.bdf {
        -(1i64 << 23)..=(1 << 23) - 1
    } else {
        i64::from(i16::MIN)..=i64::from(i16::MAX)
    };
    let mut signals = Vec::with_capacity(ns);
    for i in 0..ns {
        let signal = SignalHeader {
            label: labels[i].clone(),
            dimension: dimensions[i].clone(),
            phys_min: phys_min[i],
            phys_max: phys_max[i],
            dig_min: dig_min[i] as i64,
            dig_max: dig_max[i] as i64,
            samples_per_record: usize::try_from(spr[i]).unwrap_or(usize::MAX),
        };
        if spr[i] > MAX_TOTAL_SAMPLES {
            return Err(FormatError::LimitExceeded {
                path: path.to_path_buf(),
                what: "samples per data record",
                value: spr[i],
                limit: MAX_TOTAL_SAMPLES,
            });
        }
        if !signal.is_annotation() {
            check_ordinary(&signal, i, &digital_range, [dig_min[i], dig_max[i]], path)?;
        }
        signals.push(signal);
    }
    Ok(signals)
}

fn check_ordinary(
    s: &SignalHeader,
    index: usize,
    digital_range: &std::ops::RangeInclusive<i64>,
    raw_digital: [f64; 2],
    path: &Path,
) -> Result<(), FormatError> {
    let problem = if raw_digital.iter().any(|d| d.fract() != 0.0) {
        Some("digital minimum/maximum are not integers".to_string())
    } else if s.dig_min >= s.dig_max {
        Some(format!(
            "digital minimum {} is not below digital maximum {}",
            s.dig_min, s.dig_max
        ))
    } else if !digital_range.contains(&s.dig_min) || !digital_range.contains(&s.dig_max) {
        Some("digital minimum/maximum exceed the sample width".to_string())
    } else if s.phys_min == s.phys_max {
        Some("physical minimum equals physical maximum".to_string())
    } else if s.samples_per_record == 0 {
        Some("0 samples per data record".to_string())
    } else {
        None
    };
    match problem {
        Some(p) => Err(invalid(
            path,
            format!("signal {index} ({:?}): {p}", s.label),
        )),
        None => Ok(()),
    }
}

/// Chooses the leads: voltage signals with the highest samples-per-record.
fn select_leads(
    signals: &[SignalHeader],
    main: &MainHeader,
    path: &Path,
) -> Result<Vec<Conversion>, FormatError> {
    let ordinary: Vec<(usize, &SignalHeader)> = signals
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.is_annotation())
        .collect();
    let voltage: Vec<(usize, &SignalHeader, f64)> = ordinary
        .iter()
        .filter_map(|&(i, s)| voltage_scale_to_uv(&s.dimension).map(|k| (i, s, k)))
        .collect();
    // EEG, EOG and EMG of a polysomnography file are voltages too, but not ECG leads.
    let ecg = crate::units::ecg_candidates(voltage.iter().map(|(i, s, _)| (*i, s.label.as_str())));
    let voltage: Vec<(usize, &SignalHeader, f64)> = voltage
        .into_iter()
        .filter(|(i, _, _)| ecg.contains(i))
        .collect();
    if voltage.is_empty() {
        if let Some((_, s)) = ordinary.first() {
            return Err(FormatError::NonVoltageUnits {
                path: path.to_path_buf(),
                signal: s.label.clone(),
                units: s.dimension.clone(),
            });
        }
        return Ok(Vec::new());
    }
    if main.record_duration_s <= 0.0 {
        return Err(invalid(
            path,
            "data record duration must be positive when the file has signals".into(),
        ));
    }
    let max_spr = voltage
        .iter()
        .map(|(_, s, _)| s.samples_per_record)
        .max()
        .unwrap_or(0);
    Ok(voltage
        .into_iter()
        .filter(|(_, s, _)| s.samples_per_record == max_spr)
        .map(|(signal, s, unit_scale)| Conversion {
            signal,
            dig_min: s.dig_min,
            dig_max: s.dig_max,
            phys_min: s.phys_min,
            uv_per_unit: (s.phys_max - s.phys_min) / (s.dig_max - s.dig_min) as f64 * unit_scale,
            unit_scale,
        })
        .collect())
}

/// Number of data records, checking limits and that the file holds them all.
fn record_count(
    main: &MainHeader,
    record_samples: u64,
    width: usize,
    lead_spr: usize,
    file_len: u64,
    path: &Path,
    limit: bool,
) -> Result<u64, FormatError> {
    let record_bytes = record_samples.saturating_mul(width as u64);
    if record_bytes == 0 {
        // Nothing to read, however many (empty) records the header claims.
        return Ok(0);
    }
    let available = file_len.saturating_sub(main.header_bytes);
    let full_records = available / record_bytes;
    let per_record = lead_spr.max(1) as u64;
    let truncated = |expected: u64| FormatError::Truncated {
        path: path.to_path_buf(),
        expected_samples: expected.saturating_mul(per_record),
        got_samples: full_records.saturating_mul(per_record),
    };
    let n_records = if main.n_records == -1 {
        if available % record_bytes != 0 {
            return Err(truncated(full_records + 1));
        }
        full_records
    } else {
        main.n_records as u64
    };
    if limit {
        crate::limits::check_total_samples(path, n_records, record_samples)?;
    }
    if full_records < n_records {
        return Err(truncated(n_records));
    }
    Ok(n_records)
}
