//! WFDB (PhysioNet) records: headers, signal files and MIT-format annotations.
//!
//! Supported signal formats: 8-bit offset (80), 16-bit little/big-endian (16, 61), 16-bit
//! offset (160), packed 12-bit (212), 24- and 32-bit (24, 32). Other formats (8, 310, 311,
//! FLAC 5xx) and multi-segment records return [`FormatError::Unsupported`](crate::FormatError).
//! Checksums in the header are parsed but not verified.

mod annotation;
mod header;
mod signal;

pub use annotation::{
    code_to_symbol, read_annotations, symbol_to_code, write_annotations, Annotation,
};
pub use header::{read_header, Header, SignalSpec, DEFAULT_FS_HZ, DEFAULT_GAIN};
pub use signal::{read_record, write_record, WfdbReader};
