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
}

/// Opens a recording, choosing the reader from the file extension (case-insensitive):
/// `.hea` → [`wfdb::read_record`], `.edf`/`.bdf` → [`edf::read`] (annotations dropped),
/// `.csv` → [`csv::read`].
pub fn open(path: impl AsRef<Path>) -> Result<Recording, FormatError> {
    let path = path.as_ref();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("hea") => wfdb::read_record(path),
        Some("edf") | Some("bdf") => edf::read(path).map(|f| f.recording),
        Some("csv") => csv::read(path),
        _ => Err(FormatError::UnknownExtension {
            path: path.to_path_buf(),
        }),
    }
}
