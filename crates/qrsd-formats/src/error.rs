//! The crate's single error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong reading or writing a recording. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// A line of a text format (WFDB header, CSV) is malformed.
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        /// File concerned.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Content is malformed or inconsistent (binary formats, cross-field checks, writer input).
    #[error("{}: {message}", path.display())]
    Invalid {
        /// File concerned.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The file uses a valid feature this crate does not implement.
    #[error("{}: unsupported: {feature}", path.display())]
    Unsupported {
        /// File concerned.
        path: PathBuf,
        /// The feature, e.g. "WFDB signal format 310".
        feature: String,
    },
    /// Signal data ends before the number of samples the header promises.
    #[error(
        "{}: truncated signal data: expected {expected_samples} samples per signal, file holds {got_samples}",
        path.display()
    )]
    Truncated {
        /// File concerned.
        path: PathBuf,
        /// Samples per signal the header promises.
        expected_samples: u64,
        /// Complete samples per signal actually present.
        got_samples: u64,
    },
    /// A binary structure (header, annotation) is cut off.
    #[error("{}: unexpected end of file at byte {offset} while reading {what}", path.display())]
    UnexpectedEof {
        /// File concerned.
        path: PathBuf,
        /// Byte offset where more data was needed.
        offset: u64,
        /// What was being read.
        what: &'static str,
    },
    /// A declared size exceeds a limit in [`crate::limits`]; nothing large was allocated.
    #[error("{}: {what} is {value}, above the limit of {limit}", path.display())]
    LimitExceeded {
        /// File concerned.
        path: PathBuf,
        /// The quantity, e.g. "number of signals".
        what: &'static str,
        /// Its value (saturated at `u64::MAX` if it overflowed).
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// A signal's physical units are not a voltage, so it cannot be an ECG lead in µV.
    #[error("{}: signal {signal:?} has units {units:?}, which are not a voltage", path.display())]
    NonVoltageUnits {
        /// File concerned.
        path: PathBuf,
        /// Signal name as written in the file.
        signal: String,
        /// Units as written in the file.
        units: String,
    },
    /// [`crate::open`] does not know the file extension.
    #[error("{}: unrecognised file extension (expected .hea, .edf, .bdf or .csv)", path.display())]
    UnknownExtension {
        /// File concerned.
        path: PathBuf,
    },
}
