//! Readers and writers for recorded ECG: WFDB (header, signals, MIT annotations), EDF/EDF+ and CSV.
//!
//! Every reader returns a [`Recording`] with samples in µV and never panics on malformed input:
//! failures are reported as [`FormatError`], and the size checks in [`limits`] run before any
//! large allocation so a hostile header cannot exhaust memory.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::path::Path;

pub mod csv;
pub mod edf;
mod error;
mod io_util;
pub mod limits;
mod units;
pub mod wfdb;

pub use error::FormatError;

/// One recorded lead: upper-case name and samples in microvolts (NaN = invalid/missing sample).
#[derive(Debug, Clone, PartialEq)]
pub struct Lead {
    /// Lead name, upper-cased as written in the file (`II`, `V1`, `MLII`, `AVR`).
    pub name: String,
    /// Samples in µV at the record's sampling rate; `f32::NAN` marks an invalid sample.
    pub samples_uv: Vec<f32>,
}

/// A whole recording: all leads share one sampling rate and start at sample 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// Sampling rate of every lead, in Hz.
    pub fs_hz: f64,
    /// The leads in file order.
    pub leads: Vec<Lead>,
}

impl Recording {
    /// Number of samples per lead (the shortest lead, if they differ).
    pub fn len_samples(&self) -> usize {
        self.leads
            .iter()
            .map(|l| l.samples_uv.len())
            .min()
            .unwrap_or(0)
    }

    /// The recording at `fs_hz` by linear interpolation between neighbouring samples, without an
    /// anti-alias filter: for evaluating at other rates (e.g. LUDB at 250 and 360 Hz), not for archiving.
    /// Sample `i` of the result lies at input sample `i · fs_hz_in / fs_hz`.
    pub fn resampled_linear(&self, fs_hz: f64) -> Recording {
        let ratio = self.fs_hz / fs_hz;
        // A rate that is not a positive finite number gives empty leads (never a panic or a huge alloc).
        let ratio = if ratio.is_finite() && ratio > 0.0 {
            ratio
        } else {
            f64::INFINITY
        };
        let leads = self
            .leads
            .iter()
            .map(|lead| {
                let x = &lead.samples_uv;
                let n = (x.len().saturating_sub(1) as f64 / ratio) as usize;
                let samples_uv = (0..n)
                    .map(|i| {
                        let t = i as f64 * ratio;
                        let k = t as usize;
                        let f = (t - k as f64) as f32;
                        x[k] * (1.0 - f) + x[(k + 1).min(x.len() - 1)] * f
                    })
                    .collect();
                Lead {
                    name: lead.name.clone(),
                    samples_uv,
                }
            })
            .collect();
        Recording { fs_hz, leads }
    }
}

/// The file extension, lower-cased: it chooses the reader.
fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// Opens a recording, choosing the reader from the file extension (case-insensitive):
/// `.hea` → [`wfdb::read_record`], `.edf`/`.bdf` → [`edf::read`] (annotations dropped),
/// `.csv` → [`csv::read`].
pub fn open(path: impl AsRef<Path>) -> Result<Recording, FormatError> {
    let path = path.as_ref();
    let ext = extension(path);
    match ext.as_deref() {
        Some("hea") => wfdb::read_record(path),
        Some("edf") | Some("bdf") => edf::read(path).map(|f| f.recording),
        Some("csv") => csv::read(path),
        _ => Err(FormatError::UnknownExtension {
            path: path.to_path_buf(),
        }),
    }
}

/// A recording read a chunk at a time ([`open_reader`]): WFDB records and EDF/BDF files stream from
/// disk, so memory does not grow with the record's length; CSV files are read whole first.
#[derive(Debug)]
pub enum RecordReader {
    /// Streaming from WFDB data files (boxed: the reader's file buffers outweigh the other variant).
    Wfdb(Box<wfdb::WfdbReader>),
    /// Streaming an EDF/BDF file a data record at a time (annotations are not kept).
    Edf(Box<edf::EdfReader>),
    /// A recording in memory, delivered in chunks.
    Memory {
        /// The recording.
        recording: Recording,
        /// Next sample to deliver.
        next: usize,
        /// Its lead names.
        names: Vec<String>,
    },
}

impl RecordReader {
    /// Sampling rate, Hz.
    pub fn fs_hz(&self) -> f64 {
        match self {
            RecordReader::Wfdb(r) => r.fs_hz(),
            RecordReader::Edf(r) => r.fs_hz(),
            RecordReader::Memory { recording, .. } => recording.fs_hz,
        }
    }

    /// Lead names, upper-cased as in the file.
    pub fn lead_names(&self) -> &[String] {
        match self {
            RecordReader::Wfdb(r) => r.lead_names(),
            RecordReader::Edf(r) => r.lead_names(),
            RecordReader::Memory { names, .. } => names,
        }
    }

    /// Samples per lead in the whole recording (for EDF+D, without its gaps).
    pub fn len_samples(&self) -> u64 {
        match self {
            RecordReader::Wfdb(r) => r.len_samples(),
            RecordReader::Edf(r) => r.len_samples(),
            RecordReader::Memory { recording, .. } => recording.len_samples() as u64,
        }
    }

    /// The next samples of every lead in µV (NaN where invalid): `out[lead]` is cleared and receives up
    /// to `max_samples` (at least one). Returns the samples per lead delivered, 0 at the end.
    pub fn read(&mut self, max_samples: usize, out: &mut [Vec<f32>]) -> Result<usize, FormatError> {
        match self {
            RecordReader::Wfdb(r) => r.read(max_samples, out),
            RecordReader::Edf(r) => {
                let n = r.read(max_samples, out)?;
                // Annotations are not part of the signal; a day of EDF+ TALs must not pile up.
                drop(r.take_annotations());
                Ok(n)
            }
            RecordReader::Memory {
                recording, next, ..
            } => {
                let end = recording.len_samples().min(*next + max_samples.max(1));
                for (o, lead) in out.iter_mut().zip(&recording.leads) {
                    o.clear();
                    o.extend_from_slice(lead.samples_uv.get(*next..end).unwrap_or(&[]));
                }
                let n = end.saturating_sub(*next);
                *next = end;
                Ok(n)
            }
        }
    }
}

/// Opens a recording for reading a chunk at a time, choosing the reader as [`open`] does.
pub fn open_reader(path: impl AsRef<Path>) -> Result<RecordReader, FormatError> {
    let path = path.as_ref();
    let ext = extension(path);
    match ext.as_deref() {
        Some("hea") => {
            return wfdb::WfdbReader::open(path).map(|r| RecordReader::Wfdb(Box::new(r)))
        }
        Some("edf") | Some("bdf") => {
            return edf::EdfReader::open(path).map(|r| RecordReader::Edf(Box::new(r)))
        }
        _ => {}
    }
    let recording = open(path)?;
    let names = recording.leads.iter().map(|l| l.name.clone()).collect();
    Ok(RecordReader::Memory {
        recording,
        next: 0,
        names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(fs_hz: f64, n: usize) -> Recording {
        Recording {
            fs_hz,
            leads: vec![Lead {
                name: "II".into(),
                samples_uv: (0..n).map(|i| 10.0 * i as f32).collect(),
            }],
        }
    }

    #[test]
    fn linear_resampling_keeps_a_ramp_on_the_new_grid() {
        let down = ramp(500.0, 11).resampled_linear(250.0);
        assert_eq!(down.fs_hz, 250.0);
        assert_eq!(down.leads[0].samples_uv, vec![0.0, 20.0, 40.0, 60.0, 80.0]);
        let up = ramp(500.0, 3).resampled_linear(1000.0);
        assert_eq!(up.leads[0].samples_uv, vec![0.0, 5.0, 10.0, 15.0]);
        let odd = ramp(500.0, 6).resampled_linear(360.0);
        let want: Vec<f32> = (0..3).map(|i| 10.0 * (i as f32 * 500.0 / 360.0)).collect();
        for (a, b) in odd.leads[0].samples_uv.iter().zip(&want) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
    }

    #[test]
    fn linear_resampling_to_an_absurd_rate_gives_empty_leads() {
        for fs in [0.0, -250.0, f64::NAN, f64::INFINITY] {
            let r = ramp(500.0, 10).resampled_linear(fs);
            assert!(r.leads[0].samples_uv.is_empty(), "fs {fs}");
        }
    }
}
