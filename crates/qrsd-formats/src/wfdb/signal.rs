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
/// pressure, pleth or respiration is not an ECG lead); if there are signals and none is a voltage, the
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
    let frame_samples: u64 = groups.iter().map(|g| g.frame_samples).sum();
    let frames = match header.num_samples {
        Some(n) => n,
        None => frames_until_eof(&groups)?,
    };
    crate::limits::check_total_samples(hea_path, frames, frame_samples)?;
    let mut raw: Vec<Vec<i32>> = vec![Vec::new(); header.signals.len()];
    for group in &groups {
        read_group(header, group, frames, &mut raw)?;
    }
    let max_spf = header
        .signals
        .iter()
        .zip(&scales)
        .filter(|(_, scale)| scale.is_some())
        .map(|(s, _)| s.samples_per_frame)
        .max()
        .unwrap_or(1);
    let leads = header
        .signals
        .iter()
        .zip(raw)
        .zip(scales)
        .enumerate()
        .filter_map(|(i, ((spec, adc), scale))| {
            let scale = scale.filter(|_| spec.samples_per_frame == max_spf)?;
            Some(Lead {
                name: lead_name(spec, i),
                samples_uv: to_physical(&adc, spec, scale),
            })
        })
        .collect();
    Ok(Recording {
        fs_hz: header.fs_hz * f64::from(max_spf),
        leads,
    })
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

fn to_physical(adc: &[i32], spec: &SignalSpec, scale_uv: f64) -> Vec<f32> {
    let factor = scale_uv / spec.adc_gain;
    adc.iter()
        .map(|&v| {
            if v == INVALID {
                f32::NAN
            } else {
                ((i64::from(v) - spec.baseline) as f64 * factor) as f32
            }
        })
        .collect()
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
        crate::limits::check_total_samples(&group.path, available, group.frame_samples)?;
        frames = Some(frames.map_or(available, |f| f.min(available)));
    }
    Ok(frames.unwrap_or(0))
}

/// Reads `frames` frames of one data file and appends each signal's samples to `raw`.
fn read_group(
    header: &Header,
    group: &FileGroup,
    frames: u64,
    raw: &mut [Vec<i32>],
) -> Result<(), FormatError> {
    let available = group.format.samples_in(data_len(group)?) / group.frame_samples.max(1);
    if available < frames {
        return Err(FormatError::Truncated {
            path: group.path.clone(),
            expected_samples: frames,
            got_samples: available,
        });
    }
    // Skewed signals need frames past the end; read them if present, else pad with NaN.
    let to_read = available.min(frames.saturating_add(group.max_skew));
    crate::limits::check_total_samples(&group.path, to_read, group.frame_samples)?;
    let n_samples = to_read * group.frame_samples;
    let bytes = read_bytes(
        &group.path,
        group.byte_offset,
        group.format.bytes_for(n_samples),
    )?;
    // Bounded by MAX_TOTAL_SAMPLES above, so the casts cannot truncate on 64-bit targets.
    let mut decoded = Vec::with_capacity(n_samples as usize);
    group
        .format
        .decode(&bytes, n_samples as usize, &mut decoded);
    drop(bytes);
    let frame_len = group.frame_samples as usize;
    let mut offset_in_frame = 0usize;
    for &sig in &group.signals {
        let spec = &header.signals[sig];
        let spf = spec.samples_per_frame as usize;
        let skew = spec.skew as usize;
        let mut out = Vec::with_capacity(frames as usize * spf);
        for frame in 0..frames as usize {
            // Checked so absurd skews become NaN padding instead of an overflow.
            let range = (frame + skew)
                .checked_mul(frame_len)
                .and_then(|s| s.checked_add(offset_in_frame))
                .and_then(|s| Some(s..s.checked_add(spf)?));
            match range.and_then(|r| decoded.get(r)) {
                Some(s) => out.extend_from_slice(s),
                None => out.extend(std::iter::repeat(INVALID).take(spf)),
            }
        }
        raw[sig] = out;
        offset_in_frame += spf;
    }
    Ok(())
}

fn read_bytes(path: &Path, offset: u64, len: u64) -> Result<Vec<u8>, FormatError> {
    let mut file = File::open(path).map_err(io_err(path))?;
    file.seek(SeekFrom::Start(offset)).map_err(io_err(path))?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len)
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    if (bytes.len() as u64) < len {
        // The file shrank between the size check and the read.
        return Err(FormatError::UnexpectedEof {
            path: path.to_path_buf(),
            offset: offset + bytes.len() as u64,
            what: "signal data",
        });
    }
    Ok(bytes)
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
