//! Recorded-ECG readers (placeholder until the formats work lands).
#![deny(missing_docs)]

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
        self.leads.iter().map(|l| l.samples_uv.len()).min().unwrap_or(0)
    }
}
