//! WFDB signal files (`.dat`): decoding the supported storage formats, reading a whole record
//! into a [`Recording`], and writing format-16 records.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::header::{read_header, Header, SignalSpec};
use crate::io_util::io_err;
use crate::limits::MAX_SIGNALS;
use crate::units::voltage_scale_to_uv;
use crate::{FormatError, Lead, Recording};

/// Decoded-sample sentinel for every format's "invalid sample" marker. It cannot collide with a
/// valid sample: format 32's own marker is exactly `i32::MIN`, the narrower formats never reach it.
const INVALID: i32 = i32::MIN;

/// Storage formats this reader decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// 8-bit offset binary.
    F80,
    /// 16-bit two's complement, little-endian.
    F16,
    /// 16-bit two's complement, big-endian.
    F61,
    /// 16-bit offset binary, little-endian.
    F160,
    /// Pairs of 12-bit two's complement samples in 3 bytes.
    F212,
    /// 24-bit two's complement, little-endian.
    F24,
    /// 32-bit two's complement, little-endian.
    F32,
}

impl Format {
    fn from_code(code: u16) -> Option<Format> {
        Some(match code {
            80 => Format::F80,
            16 => Format::F16,
            61 => Format::F61,
            160 => Format::F160,
            212 => Format::F212,
            24 => Format::F24,
            32 => Format::F32,
            _ => return None,
        })
    }

    /// Bytes holding `n` consecutive samples (format 212 packs 2 samples in 3 bytes, and an odd
    /// final sample in 2).
    fn bytes_for(self, n: u64) -> u64 {
        match self {
            Format::F80 => n,
            Format::F16 | Format::F61 | Format::F160 => n.saturating_mul(2),
            Format::F212 => n.saturating_mul(3).div_ceil(2),
            Format::F24 => n.saturating_mul(3),
            Format::F32 => n.saturating_mul(4),
        }
    }

    /// Whole samples contained in `bytes` bytes (inverse of [`Format::bytes_for`]).
    fn samples_in(self, bytes: u64) -> u64 {
        match self {
            Format::F80 => bytes,
            Format::F16 | Format::F61 | Format::F160 => bytes / 2,
            Format::F212 => bytes / 3 * 2 + u64::from(bytes % 3 == 2),
            Format::F24 => bytes / 3,
            Format::F32 => bytes / 4,
        }
    }

    /// Decodes up to `n` samples from `bytes`, mapping invalid markers to [`INVALID`].
    fn decode(self, bytes: &[u8], n: usize, out: &mut Vec<i32>) {
        let start = out.len();
        let marker = |v: i32, invalid: i32| if v == invalid { INVALID } else { v };
        match self {
            Format::F80 => out.extend(bytes.iter().map(|&b| marker(i32::from(b) - 128, -128))),
            Format::F16 => out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|c| marker(i32::from(i16::from_le_bytes([c[0], c[1]])), -32768)),
            ),
            Format::F61 => out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|c| marker(i32::from(i16::from_be_bytes([c[0], c[1]])), -32768)),
            ),
            Format::F160 => out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|c| marker(i32::from(u16::from_le_bytes([c[0], c[1]])) - 32768, -32768)),
            ),
            Format::F212 => {
                for chunk in bytes.chunks(3) {
                    if out.len() - start >= n {
                        break;
                    }
                    let first =
                        |a: u8, b: u8| sign_extend_12(u16::from(a) | u16::from(b & 0x0F) << 8);
                    match *chunk {
                        [a, b, c] => {
                            out.push(marker(first(a, b), -2048));
                            let second = u16::from(c) | u16::from(b & 0xF0) << 4;
                            out.push(marker(sign_extend_12(second), -2048));
                        }
                        [a, b] => out.push(marker(first(a, b), -2048)),
                        _ => {}
                    }
                }
            }
            Format::F24 => out.extend(bytes.chunks_exact(3).map(|c| {
                // Place the 24 bits high and shift back down to sign-extend.
                marker(i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8, -(1 << 23))
            })),
            Format::F32 => out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
        }
        out.truncate(start + n);
    }
}

fn sign_extend_12(v: u16) -> i32 {
    let v = i32::from(v & 0x0FFF);
    if v >= 2048 {
        v - 4096
    } else {
        v
    }
}

/// Signals stored interleaved in one data file.
struct FileGroup {
    path: PathBuf,
    format: Format,
    byte_offset: u64,
    /// Indices into `Header::signals`, in frame order.
    signals: Vec<usize>,
    /// Samples per frame summed over `signals`.
    frame_samples: u64,
    max_skew: u64,
}

/// Reads a WFDB record given its `.hea` path; data files are looked up beside the header.
///
/// Samples are converted to µV as `(adc - baseline) / gain × unit scale`; invalid-sample markers
/// become NaN. Only signals whose units are a voltage are kept (a multi-parameter record's blood
/// pressure, pleth or respiration is not an ECG lead), and of those not EEG, EOG or EMG by their
/// description when other voltage signals remain; if there are signals and none is a voltage, the
/// read fails with [`FormatError::NonVoltageUnits`]. If the kept signals have different samples per
/// frame, only those with the most are kept (sampling rate = frame rate × that count). Both rules
/// mirror the EDF reader.
pub fn read_record(hea_path: impl AsRef<Path>) -> Result<Recording, FormatError> {
    let hea_path = hea_path.as_ref();
    let header = read_header(hea_path)?;
    let dir = hea_path.parent().unwrap_or_else(|| Path::new(""));
    read_signals(&header, dir, hea_path)
}

/// Reads the signals `header` describes from data files in `dir` (`hea_path` is for messages).
fn read_signals(header: &Header, dir: &Path, hea_path: &Path) -> Result<Recording, FormatError> {
    let scales = unit_scales(header, hea_path)?;
    let groups = group_signals(header, dir, hea_path)?;
    let frames = match header.num_samples {
        Some(n) => n,
        None => frames_until_eof(&groups)?,
    };
    let frame_samples: u64 = groups.iter().map(|g| g.frame_samples).sum();
    // Checked before anything is opened, so an absurd header fails fast.
    crate::limits::check_total_samples(hea_path, frames, frame_samples)?;
    let mut reader = WfdbReader::with_groups(header.clone(), scales, groups, frames)?;
    // Bounded by MAX_TOTAL_SAMPLES above.
    let leads = crate::io_util::read_all(reader.names.len(), |n, out| reader.read(n, out))?;
    Ok(Recording {
        fs_hz: reader.fs_hz,
        leads: reader
            .names
            .iter()
            .zip(leads)
            .map(|(name, samples_uv)| Lead {
                name: name.clone(),
                samples_uv,
            })
            .collect(),
    })
}

/// Reads a WFDB record a chunk at a time: memory stays bounded by the chunk, whatever the record's
/// length (a 24-hour 12-lead Holter is ~1 G samples). The same leads, values and rules as
/// [`read_record`], which is built on it; truncation of a data file is reported at [`WfdbReader::open`].
#[derive(Debug)]
pub struct WfdbReader {
    header: Header,
    groups: Vec<GroupStream>,
    /// Kept signals: (index into `header.signals`, µV per ADC unit).
    kept: Vec<(usize, f64)>,
    names: Vec<String>,
    fs_hz: f64,
    /// Samples per frame of the kept signals.
    spf: usize,
    /// Frames in the record, and the next frame to deliver.
    frames: u64,
    next_frame: u64,
}

/// One data file being read.
#[derive(Debug)]
struct GroupStream {
    path: PathBuf,
    file: std::io::BufReader<File>,
    format: Format,
    byte_offset: u64,
    /// Indices into `Header::signals`, in frame order.
    signals: Vec<usize>,
    frame_samples: usize,
    /// Samples this group will decode in all (frames plus the skew look-ahead the file holds).
    total_samples: u64,
    /// Samples decoded so far.
    decoded: u64,
    /// Decoded samples from frame `buf_frame` on.
    buf: Vec<i32>,
    buf_frame: u64,
    bytes: Vec<u8>,
}

impl GroupStream {
    /// Decodes until the frames before `frame_end` are in `buf` (or the group has no more).
    fn fill_to(&mut self, frame_end: u64) -> Result<(), FormatError> {
        let want_total = frame_end
            .saturating_mul(self.frame_samples as u64)
            .min(self.total_samples);
        if want_total <= self.decoded {
            return Ok(());
        }
        let mut n = want_total - self.decoded;
        // Format 212 packs two samples in three bytes: read in pairs, except for the last sample.
        if self.format == Format::F212 && n % 2 == 1 && self.decoded + n < self.total_samples {
            n += 1;
        }
        let len = self.format.bytes_for(n) as usize;
        self.bytes.resize(len, 0);
        self.file
            .read_exact(&mut self.bytes)
            .map_err(|e| match e.kind() {
                // The file shrank after it was opened.
                std::io::ErrorKind::UnexpectedEof => FormatError::UnexpectedEof {
                    path: self.path.clone(),
                    offset: self.byte_offset + self.format.bytes_for(self.decoded),
                    what: "signal data",
                },
                _ => io_err(&self.path)(e),
            })?;
        self.format.decode(&self.bytes, n as usize, &mut self.buf);
        self.decoded += n;
        Ok(())
    }

    /// Sample `offset` of frame `frame`, or [`INVALID`] past the data.
    fn sample(&self, frame: u64, offset: usize) -> i32 {
        let Some(rel) = frame.checked_sub(self.buf_frame) else {
            return INVALID;
        };
        let i = (rel as usize)
            .checked_mul(self.frame_samples)
            .and_then(|s| s.checked_add(offset));
        i.and_then(|i| self.buf.get(i)).copied().unwrap_or(INVALID)
    }

    /// Forgets the frames before `frame`.
    fn drop_before(&mut self, frame: u64) {
        let whole = self.buf.len() / self.frame_samples.max(1);
        let k = (frame.saturating_sub(self.buf_frame) as usize).min(whole);
        self.buf.drain(..k * self.frame_samples);
        self.buf_frame += k as u64;
    }
}

impl WfdbReader {
    /// Opens the record whose header is `hea_path`; data files are looked up beside it.
    pub fn open(hea_path: impl AsRef<Path>) -> Result<Self, FormatError> {
        let hea_path = hea_path.as_ref();
        let header = read_header(hea_path)?;
        let dir = hea_path.parent().unwrap_or_else(|| Path::new(""));
        let scales = unit_scales(&header, hea_path)?;
        let groups = group_signals(&header, dir, hea_path)?;
        let frames = match header.num_samples {
            Some(n) => n,
            None => frames_until_eof(&groups)?,
        };
        Self::with_groups(header, scales, groups, frames)
    }

    fn with_groups(
        header: Header,
        scales: Vec<Option<f64>>,
        groups: Vec<FileGroup>,
        frames: u64,
    ) -> Result<Self, FormatError> {
        let candidates = crate::units::ecg_candidates(
            header
                .signals
                .iter()
                .zip(&scales)
                .enumerate()
                .filter(|(_, (_, scale))| scale.is_some())
                .map(|(i, (spec, _))| (i, spec.description.as_str())),
        );
        let spf = candidates
            .iter()
            .map(|&i| header.signals[i].samples_per_frame)
            .max()
            .unwrap_or(1);
        let kept: Vec<(usize, f64)> = candidates
            .iter()
            .filter(|&&i| header.signals[i].samples_per_frame == spf)
            .filter_map(|&i| {
                let spec = &header.signals[i];
                Some((i, scales[i]? / spec.adc_gain))
            })
            .collect();
        let names = kept
            .iter()
            .map(|&(i, _)| lead_name(&header.signals[i], i))
            .collect();
        let mut streams = Vec::with_capacity(groups.len());
        for group in groups {
            let available = group.format.samples_in(data_len(&group)?) / group.frame_samples.max(1);
            if available < frames {
                return Err(FormatError::Truncated {
                    path: group.path.clone(),
                    expected_samples: frames,
                    got_samples: available,
                });
            }
            // Skewed signals need frames past the end; read them if present, else pad with NaN.
            let to_read = available.min(frames.saturating_add(group.max_skew));
            let mut file = File::open(&group.path).map_err(io_err(&group.path))?;
            file.seek(SeekFrom::Start(group.byte_offset))
                .map_err(io_err(&group.path))?;
            streams.push(GroupStream {
                file: std::io::BufReader::with_capacity(1 << 16, file),
                format: group.format,
                byte_offset: group.byte_offset,
                signals: group.signals,
                frame_samples: group.frame_samples as usize,
                total_samples: to_read.saturating_mul(group.frame_samples),
                decoded: 0,
                buf: Vec::new(),
                buf_frame: 0,
                bytes: Vec::new(),
                path: group.path,
            });
        }
        Ok(Self {
            fs_hz: header.fs_hz * f64::from(spf),
            header,
            groups: streams,
            kept,
            names,
            spf: spf as usize,
            frames,
            next_frame: 0,
        })
    }

    /// Sampling rate of the leads, Hz (frame rate × the kept signals' samples per frame).
    pub fn fs_hz(&self) -> f64 {
        self.fs_hz
    }

    /// Lead names, upper-cased, in file order (voltage signals at the fastest rate only).
    pub fn lead_names(&self) -> &[String] {
        &self.names
    }

    /// Samples per lead in the whole record.
    pub fn len_samples(&self) -> u64 {
        self.frames.saturating_mul(self.spf as u64)
    }

    /// Reads the next samples of every lead, in µV (NaN where invalid): `out[lead]` is cleared and
    /// receives up to `max_samples` (at least one frame's worth). Returns the samples per lead
    /// delivered, 0 at the end of the record.
    pub fn read(&mut self, max_samples: usize, out: &mut [Vec<f32>]) -> Result<usize, FormatError> {
        for o in out.iter_mut() {
            o.clear();
        }
        let n_frames =
            ((max_samples / self.spf.max(1)).max(1) as u64).min(self.frames - self.next_frame);
        if n_frames == 0 {
            return Ok(0);
        }
        let (first, end) = (self.next_frame, self.next_frame + n_frames);
        for (&(sig, factor), o) in self.kept.iter().zip(out.iter_mut()) {
            let spec = &self.header.signals[sig];
            let Some(g) = self.groups.iter().position(|g| g.signals.contains(&sig)) else {
                continue;
            };
            let skew = u64::from(spec.skew);
            self.groups[g].fill_to(end.saturating_add(skew))?;
            let group = &self.groups[g];
            let offset: usize = group
                .signals
                .iter()
                .take_while(|&&s| s != sig)
                .map(|&s| self.header.signals[s].samples_per_frame as usize)
                .sum();
            let spf = spec.samples_per_frame as usize;
            for frame in first..end {
                for k in 0..spf {
                    let v = group.sample(frame.saturating_add(skew), offset + k);
                    o.push(if v == INVALID {
                        f32::NAN
                    } else {
                        ((i64::from(v) - spec.baseline) as f64 * factor) as f32
                    });
                }
            }
        }
        for g in &mut self.groups {
            g.drop_before(end);
        }
        self.next_frame = end;
        Ok(n_frames as usize * self.spf)
    }
}

/// Each signal's multiplier to µV, `None` for a signal that is not a voltage; an error when no signal is.
fn unit_scales(header: &Header, hea_path: &Path) -> Result<Vec<Option<f64>>, FormatError> {
    let scales: Vec<Option<f64>> = header
        .signals
        .iter()
        .map(|s| voltage_scale_to_uv(&s.units))
        .collect();
    match header.signals.first() {
        Some(first) if scales.iter().all(Option::is_none) => Err(FormatError::NonVoltageUnits {
            path: hea_path.to_path_buf(),
            signal: lead_name(first, 0),
            units: first.units.clone(),
        }),
        _ => Ok(scales),
    }
}

fn lead_name(spec: &SignalSpec, index: usize) -> String {
    match spec.description.trim() {
        "" => format!("SIG{index}"),
        d => d.to_uppercase(),
    }
}

/// Groups signals by data file (first-appearance order) and validates formats.
fn group_signals(
    header: &Header,
    dir: &Path,
    hea_path: &Path,
) -> Result<Vec<FileGroup>, FormatError> {
    let unsupported = |feature: String| FormatError::Unsupported {
        path: hea_path.to_path_buf(),
        feature,
    };
    let mut groups: Vec<(String, FileGroup)> = Vec::new();
    for (i, spec) in header.signals.iter().enumerate() {
        let format = Format::from_code(spec.format)
            .ok_or_else(|| unsupported(format!("WFDB signal format {}", spec.format)))?;
        if matches!(spec.file_name.as_str(), "-" | "~") {
            return Err(unsupported(format!(
                "WFDB data file name {:?} (standard input / no file)",
                spec.file_name
            )));
        }
        let pos = groups.iter().position(|(name, _)| *name == spec.file_name);
        let group = match pos {
            Some(p) => &mut groups[p].1,
            None => {
                groups.push((
                    spec.file_name.clone(),
                    FileGroup {
                        path: dir.join(&spec.file_name),
                        format,
                        byte_offset: spec.byte_offset,
                        signals: Vec::new(),
                        frame_samples: 0,
                        max_skew: 0,
                    },
                ));
                let last = groups.len() - 1;
                &mut groups[last].1
            }
        };
        if group.format != format {
            return Err(FormatError::Invalid {
                path: hea_path.to_path_buf(),
                message: format!(
                    "signals in data file {:?} use different formats",
                    spec.file_name
                ),
            });
        }
        group.signals.push(i);
        group.frame_samples += u64::from(spec.samples_per_frame);
        group.max_skew = group.max_skew.max(u64::from(spec.skew));
    }
    Ok(groups.into_iter().map(|(_, g)| g).collect())
}

fn data_len(group: &FileGroup) -> Result<u64, FormatError> {
    let meta = std::fs::metadata(&group.path).map_err(io_err(&group.path))?;
    Ok(meta.len().saturating_sub(group.byte_offset))
}

/// Whole frames available in every data file, for headers without a sample count.
fn frames_until_eof(groups: &[FileGroup]) -> Result<u64, FormatError> {
    let mut frames: Option<u64> = None;
    for group in groups {
        let available = group.format.samples_in(data_len(group)?) / group.frame_samples.max(1);
        frames = Some(frames.map_or(available, |f| f.min(available)));
    }
    Ok(frames.unwrap_or(0))
}

/// Writes `recording` as WFDB record `name` in `dir`: `name.hea` plus a format-16 `name.dat`.
///
/// `gain_adu_per_mv` sets the resolution (e.g. 200 → 5 µV steps, range ±163 mV). NaN samples are
/// written as the invalid marker -32768; a sample outside the format's range at this gain is an
/// error rather than silently clipped. All leads must have the same length.
pub fn write_record(
    dir: impl AsRef<Path>,
    name: &str,
    recording: &Recording,
    gain_adu_per_mv: f64,
) -> Result<(), FormatError> {
    let dir = dir.as_ref();
    let hea_path = dir.join(format!("{name}.hea"));
    let dat_name = format!("{name}.dat");
    let dat_path = dir.join(&dat_name);
    validate_for_write(&hea_path, name, recording, gain_adu_per_mv)?;
    let adc = quantise(&dat_path, recording, gain_adu_per_mv)?;
    write_dat(&dat_path, &adc, recording.len_samples())?;
    let mut text = format!(
        "{name} {} {} {}\n",
        recording.leads.len(),
        recording.fs_hz,
        recording.len_samples()
    );
    for (lead, samples) in recording.leads.iter().zip(&adc) {
        let checksum = samples.iter().fold(0i16, |acc, &v| acc.wrapping_add(v));
        let initial = samples.first().copied().unwrap_or(0);
        text.push_str(&format!(
            "{dat_name} 16 {gain_adu_per_mv}/mV 16 0 {initial} {checksum} 0 {}\n",
            lead.name
        ));
    }
    std::fs::write(&hea_path, text).map_err(io_err(&hea_path))
}

fn validate_for_write(
    hea_path: &Path,
    name: &str,
    recording: &Recording,
    gain: f64,
) -> Result<(), FormatError> {
    let invalid = |message: String| {
        Err(FormatError::Invalid {
            path: hea_path.to_path_buf(),
            message,
        })
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return invalid(format!(
            "WFDB record name {name:?} must be non-empty letters, digits and underscores"
        ));
    }
    if !(gain.is_finite() && gain > 0.0) {
        return invalid(format!("gain {gain} adu/mV must be positive and finite"));
    }
    if !(recording.fs_hz.is_finite() && recording.fs_hz > 0.0) {
        return invalid(format!(
            "sampling rate {} Hz must be positive and finite",
            recording.fs_hz
        ));
    }
    if recording.leads.len() > MAX_SIGNALS {
        return invalid(format!(
            "{} leads exceed the limit of {MAX_SIGNALS}",
            recording.leads.len()
        ));
    }
    let len = recording.len_samples();
    for lead in &recording.leads {
        if lead.samples_uv.len() != len {
            return invalid(format!(
                "lead {} has {} samples but another has {len}; WFDB signals share one length",
                lead.name,
                lead.samples_uv.len()
            ));
        }
        if lead.name.contains(['\n', '\r']) {
            return invalid(format!("lead name {:?} contains a line break", lead.name));
        }
    }
    Ok(())
}

/// Converts µV to format-16 ADC units, NaN/infinite → invalid marker.
fn quantise(
    dat_path: &Path,
    recording: &Recording,
    gain: f64,
) -> Result<Vec<Vec<i16>>, FormatError> {
    let adu_per_uv = gain / 1000.0;
    recording
        .leads
        .iter()
        .map(|lead| {
            lead.samples_uv
                .iter()
                .enumerate()
                .map(|(i, &uv)| {
                    if !uv.is_finite() {
                        return Ok(i16::MIN);
                    }
                    let adc = (f64::from(uv) * adu_per_uv).round();
                    if adc.abs() > f64::from(i16::MAX) {
                        return Err(FormatError::Invalid {
                            path: dat_path.to_path_buf(),
                            message: format!(
                                "lead {} sample {i} ({uv} µV) does not fit format 16 at gain {gain} adu/mV; lower the gain",
                                lead.name
                            ),
                        });
                    }
                    Ok(adc as i16)
                })
                .collect()
        })
        .collect()
}

fn write_dat(path: &Path, adc: &[Vec<i16>], len: usize) -> Result<(), FormatError> {
    let file = File::create(path).map_err(io_err(path))?;
    let mut out = BufWriter::new(file);
    for t in 0..len {
        for samples in adc {
            let v = samples.get(t).copied().unwrap_or(i16::MIN);
            out.write_all(&v.to_le_bytes()).map_err(io_err(path))?;
        }
    }
    out.flush().map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(format: Format, bytes: &[u8], n: usize) -> Vec<i32> {
        let mut out = Vec::new();
        format.decode(bytes, n, &mut out);
        out
    }

    #[test]
    fn format_212_pairs_and_odd_tail() {
        // Samples 1, -1, 2047, -2048(invalid), -5: bytes per the spec's nibble layout.
        let bytes = [0x01, 0xF0, 0xFF, 0xFF, 0x87, 0x00, 0xFB, 0x0F];
        assert_eq!(Format::F212.bytes_for(5), 8);
        assert_eq!(Format::F212.samples_in(8), 5);
        assert_eq!(Format::F212.samples_in(7), 4);
        assert_eq!(
            decode(Format::F212, &bytes, 5),
            vec![1, -1, 2047, INVALID, -5]
        );
    }

    #[test]
    fn other_formats() {
        assert_eq!(
            decode(Format::F80, &[0, 128, 255], 3),
            vec![INVALID, 0, 127]
        );
        assert_eq!(
            decode(Format::F16, &[0x00, 0x80, 0xFF, 0xFF, 0x34, 0x12], 3),
            vec![INVALID, -1, 0x1234]
        );
        assert_eq!(decode(Format::F61, &[0x12, 0x34], 1), vec![0x1234]);
        assert_eq!(
            decode(Format::F160, &[0x00, 0x80, 0x00, 0x00], 2),
            vec![0, INVALID]
        );
        assert_eq!(
            decode(
                Format::F24,
                &[0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x80, 0x01, 0x00, 0x00],
                3
            ),
            vec![-1, INVALID, 1]
        );
        assert_eq!(
            decode(Format::F32, &[0, 0, 0, 0x80, 0xFE, 0xFF, 0xFF, 0xFF], 2),
            vec![INVALID, -2]
        );
    }

    #[test]
    fn short_input_decodes_what_is_there() {
        assert_eq!(decode(Format::F16, &[1, 0, 2], 5), vec![1]);
        assert_eq!(decode(Format::F212, &[1], 2), Vec::<i32>::new());
    }
}
