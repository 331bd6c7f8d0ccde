//! EDF+C writer.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::tal::encode_tal;
use super::{invalid, EdfAnnotation, MAIN_HEADER_BYTES, SIGNAL_HEADER_BYTES};
use crate::io_util::io_err;
use crate::limits::MAX_SIGNALS;
use crate::{FormatError, Recording};

/// Digital range used for leads; `i16::MIN` is kept free as the NaN marker (below the range, so
/// the reader maps it back to NaN).
const DIG_MAX: i16 = i16::MAX;
const NAN_MARKER: i16 = i16::MIN;
/// Largest physical extreme (µV) that fits the 8-character header field as an integer.
const MAX_PHYS_UV: f64 = 9_999_999.0;

/// Writes `recording` and `annotations` as an EDF+C file with an "EDF Annotations" signal.
///
/// Samples are stored in µV with per-lead physical range ±(max |sample|, rounded up to 1 µV), so
/// the quantisation step is at most range/32767. Data records last the shortest whole number of
/// seconds (1–60) holding a whole number of samples; the last record is padded with NaN, so the
/// read-back leads are rounded up to a whole record. Identification fields use the EDF+ "unknown"
/// forms (`X`, start date 01.01.85). Annotation onsets are seconds from sample 0.
pub fn write(
    path: impl AsRef<Path>,
    recording: &Recording,
    annotations: &[EdfAnnotation],
) -> Result<(), FormatError> {
    let path = path.as_ref();
    validate(path, recording, annotations)?;
    let (duration_s, spr) =
        record_layout(recording.fs_hz).ok_or_else(|| FormatError::Unsupported {
            path: path.to_path_buf(),
            feature: format!(
                "sampling rate {} Hz has no whole number of samples in a 1-60 s data record",
                recording.fs_hz
            ),
        })?;
    let n = recording.len_samples();
    let mut n_records = n.div_ceil(spr);
    if n_records == 0 && !annotations.is_empty() {
        n_records = 1;
    }
    let tal_records = annotation_records(annotations, n_records, duration_s);
    let tal_spr = tal_records
        .iter()
        .map(|r| r.len().div_ceil(2))
        .max()
        .unwrap_or(1)
        .max(1);
    let ranges: Vec<f64> = recording
        .leads
        .iter()
        .map(|l| physical_range(&l.samples_uv))
        .collect();
    if let Some((lead, _)) = recording
        .leads
        .iter()
        .zip(&ranges)
        .find(|(_, &r)| r > MAX_PHYS_UV)
    {
        return Err(invalid(
            path,
            format!("lead {} exceeds ±{MAX_PHYS_UV} µV", lead.name),
        ));
    }
    let header = header_bytes(
        path, recording, &ranges, n_records, duration_s, spr, tal_spr,
    )?;
    let file = File::create(path).map_err(io_err(path))?;
    let mut out = BufWriter::new(file);
    out.write_all(&header).map_err(io_err(path))?;
    for (k, tals) in tal_records.iter().enumerate() {
        let mut record = Vec::with_capacity((recording.leads.len() * spr + tal_spr) * 2);
        for (lead, &range) in recording.leads.iter().zip(&ranges) {
            for t in k * spr..(k + 1) * spr {
                let v = lead.samples_uv.get(t).copied().unwrap_or(f32::NAN);
                record.extend_from_slice(&to_digital(v, range).to_le_bytes());
            }
        }
        record.extend_from_slice(tals);
        record.resize(record.len() + tal_spr * 2 - tals.len(), 0);
        out.write_all(&record).map_err(io_err(path))?;
    }
    out.flush().map_err(io_err(path))
}

fn validate(
    path: &Path,
    recording: &Recording,
    annotations: &[EdfAnnotation],
) -> Result<(), FormatError> {
    if !(recording.fs_hz.is_finite() && recording.fs_hz > 0.0) {
        return Err(invalid(
            path,
            format!("sampling rate {} Hz is not positive", recording.fs_hz),
        ));
    }
    if recording.leads.len() >= MAX_SIGNALS {
        return Err(invalid(
            path,
            format!("{} leads are too many", recording.leads.len()),
        ));
    }
    let len = recording.len_samples();
    for lead in &recording.leads {
        if lead.samples_uv.len() != len {
            return Err(invalid(
                path,
                format!("lead {} differs in length from the others", lead.name),
            ));
        }
        let printable = lead.name.bytes().all(|b| (0x20..0x7F).contains(&b));
        if !printable || lead.name.len() > 16 || lead.name.trim() == "EDF Annotations" {
            return Err(invalid(
                path,
                format!(
                    "lead name {:?} must be at most 16 printable ASCII characters",
                    lead.name
                ),
            ));
        }
    }
    for (i, a) in annotations.iter().enumerate() {
        let bad_text = a.text.is_empty() || a.text.contains(['\0', '\u{14}', '\u{15}']);
        let bad_time =
            !a.onset_s.is_finite() || a.duration_s.is_some_and(|d| !(d.is_finite() && d >= 0.0));
        if bad_text || bad_time {
            return Err(invalid(
                path,
                format!(
                    "annotation {i} ({:?}) has an empty/control-character text or a bad time",
                    a.text
                ),
            ));
        }
    }
    Ok(())
}

/// Shortest whole-second record duration (1–60 s) holding a whole number of samples.
fn record_layout(fs_hz: f64) -> Option<(u32, usize)> {
    (1..=60u32).find_map(|d| {
        let spr = fs_hz * f64::from(d);
        let rounded = spr.round();
        let whole = (spr - rounded).abs() <= 1e-9 * spr.max(1.0);
        (whole && (1.0..=99_999_999.0).contains(&rounded)).then_some((d, rounded as usize))
    })
}

/// TAL bytes per data record: the time-keeping TAL, then the annotations whose onset falls in
/// that record (earlier/later ones go to the first/last record).
fn annotation_records(
    annotations: &[EdfAnnotation],
    n_records: usize,
    duration_s: u32,
) -> Vec<Vec<u8>> {
    let mut records: Vec<Vec<u8>> = (0..n_records)
        .map(|k| {
            let mut bytes = Vec::new();
            // Time-keeping TAL: one empty text, giving the required "+onset\x14\x14\0".
            encode_tal(
                (k as u64 * u64::from(duration_s)) as f64,
                None,
                &[""],
                &mut bytes,
            );
            bytes
        })
        .collect();
    for a in annotations {
        let k = (a.onset_s / f64::from(duration_s))
            .floor()
            .clamp(0.0, n_records.saturating_sub(1) as f64) as usize;
        if let Some(bytes) = records.get_mut(k) {
            encode_tal(a.onset_s, a.duration_s, &[&a.text], bytes);
        }
    }
    records
}

/// Symmetric physical extreme in µV: max |finite sample| rounded up, at least 1.
fn physical_range(samples: &[f32]) -> f64 {
    samples
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, &v| m.max(f64::from(v).abs()))
        .ceil()
        .max(1.0)
}

fn to_digital(uv: f32, range: f64) -> i16 {
    if !uv.is_finite() {
        return NAN_MARKER;
    }
    let d = (f64::from(uv) / range * f64::from(DIG_MAX)).round();
    d.clamp(-f64::from(DIG_MAX), f64::from(DIG_MAX)) as i16
}

/// Fixed-width ASCII header fields.
struct HeaderWriter<'a> {
    bytes: Vec<u8>,
    path: &'a Path,
}

impl HeaderWriter<'_> {
    fn put(&mut self, text: &str, width: usize) -> Result<(), FormatError> {
        if text.len() > width || !text.is_ascii() {
            return Err(invalid(
                self.path,
                format!("header value {text:?} does not fit {width} ASCII characters"),
            ));
        }
        self.bytes.extend_from_slice(text.as_bytes());
        self.bytes
            .resize(self.bytes.len() + width - text.len(), b' ');
        Ok(())
    }

    fn column<'s>(
        &mut self,
        values: impl IntoIterator<Item = &'s str>,
        width: usize,
    ) -> Result<(), FormatError> {
        values.into_iter().try_for_each(|v| self.put(v, width))
    }
}

fn header_bytes(
    path: &Path,
    recording: &Recording,
    ranges: &[f64],
    n_records: usize,
    duration_s: u32,
    spr: usize,
    tal_spr: usize,
) -> Result<Vec<u8>, FormatError> {
    let ns = recording.leads.len() + 1;
    let mut h = HeaderWriter {
        bytes: Vec::with_capacity(MAIN_HEADER_BYTES + ns * SIGNAL_HEADER_BYTES),
        path,
    };
    h.put("0", 8)?;
    h.put("X X X X", 80)?;
    h.put("Startdate X X X X", 80)?;
    h.put("01.01.85", 8)?;
    h.put("00.00.00", 8)?;
    h.put(
        &(MAIN_HEADER_BYTES + ns * SIGNAL_HEADER_BYTES).to_string(),
        8,
    )?;
    h.put("EDF+C", 44)?;
    h.put(&n_records.to_string(), 8)?;
    h.put(&duration_s.to_string(), 8)?;
    h.put(&ns.to_string(), 4)?;

    let per_lead = |f: &dyn Fn(usize) -> String, last: &str| -> Vec<String> {
        (0..recording.leads.len())
            .map(f)
            .chain(std::iter::once(last.to_string()))
            .collect()
    };
    let labels = per_lead(&|i| recording.leads[i].name.clone(), "EDF Annotations");
    let blank = per_lead(&|_| String::new(), "");
    let dims = per_lead(&|_| "uV".into(), "");
    let phys_min = per_lead(&|i| format!("-{}", ranges[i]), "-1");
    let phys_max = per_lead(&|i| format!("{}", ranges[i]), "1");
    let dig_min = per_lead(&|_| format!("-{DIG_MAX}"), "-32768");
    let dig_max = per_lead(&|_| format!("{DIG_MAX}"), "32767");
    let samples = per_lead(&|_| spr.to_string(), &tal_spr.to_string());
    let columns: [(&[String], usize); 10] = [
        (&labels, 16),
        (&blank, 80),
        (&dims, 8),
        (&phys_min, 8),
        (&phys_max, 8),
        (&dig_min, 8),
        (&dig_max, 8),
        (&blank, 80),
        (&samples, 8),
        (&blank, 32),
    ];
    for (values, width) in columns {
        h.column(values.iter().map(String::as_str), width)?;
    }
    Ok(h.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        assert_eq!(record_layout(500.0), Some((1, 500)));
        assert_eq!(record_layout(128.5), Some((2, 257)));
        assert_eq!(record_layout(0.5), Some((2, 1)));
        assert_eq!(record_layout(1.0 / 3.0), Some((3, 1)));
        assert_eq!(record_layout(std::f64::consts::PI), None);
    }

    #[test]
    fn digital_mapping() {
        assert_eq!(to_digital(f32::NAN, 10.0), NAN_MARKER);
        assert_eq!(to_digital(10.0, 10.0), DIG_MAX);
        assert_eq!(to_digital(-10.0, 10.0), -DIG_MAX);
        assert_eq!(physical_range(&[f32::NAN, -3.2, 1.0]), 4.0);
        assert_eq!(physical_range(&[]), 1.0);
    }
}
