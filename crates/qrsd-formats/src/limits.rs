//! Resource limits applied before allocating, so hostile headers fail fast with
//! [`FormatError::LimitExceeded`](crate::FormatError::LimitExceeded).

/// Most signals (channels) a file may declare.
pub const MAX_SIGNALS: usize = 4096;

/// Most samples (summed over all signals) one recording may hold: 2^28 samples is 1 GiB of
/// `f32`, e.g. 12 leads at 1 kHz for over 6 hours.
pub const MAX_TOTAL_SAMPLES: u64 = 1 << 28;

/// `Err(LimitExceeded)` when `records × samples_per_record` exceeds [`MAX_TOTAL_SAMPLES`].
pub(crate) fn check_total_samples(
    path: &std::path::Path,
    records: u64,
    samples_per_record: u64,
) -> Result<(), crate::FormatError> {
    let total = records.saturating_mul(samples_per_record);
    if total > MAX_TOTAL_SAMPLES {
        return Err(crate::FormatError::LimitExceeded {
            path: path.to_path_buf(),
            what: "total number of samples",
            value: total,
            limit: MAX_TOTAL_SAMPLES,
        });
    }
    Ok(())
}

/// Largest WFDB header (`.hea`) file read; real headers are a few kilobytes.
pub const MAX_HEADER_BYTES: u64 = 1 << 20;

/// Largest WFDB annotation file read.
pub const MAX_ANNOTATION_BYTES: u64 = 1 << 28;

/// Largest CSV file read (it is held in memory as text while parsing).
pub const MAX_CSV_BYTES: u64 = 1 << 30;
