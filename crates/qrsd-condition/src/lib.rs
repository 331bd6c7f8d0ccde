//! Signal conditioning, the first stage after acquisition.
//!
//! Data flows one way: raw µV samples → [`pace::PaceBlanker`] (stimulus detection on the *unfiltered*
//! signal and blanking, so that filter ringing never looks like a QRS) → [`filter::LeadFilter`]
//! (0.5 Hz high-pass, mains notch, low-pass). Every stage states its delay in samples
//! ([`pace::PaceBlanker::delay_samples`], [`filter::LeadFilter::group_delay_samples`]) so the pipeline can
//! report times in the acquisition time base. Beside them, [`quality::QualityMeter`] labels each lead's
//! stretches by what they are fit for (clean, noisy, unreadable, saturated, lead-off).
//!
//! Why a *first-order* 0.5 Hz high-pass: a causal high-pass cannot be linear-phase, and its distortion is a
//! slow tail after each QRS (an ST depression of at most the QRS area divided by the time constant). A
//! first-order section has no overshoot/ringing, and the delineator locates QRS boundaries from the signal's
//! *slope*, which that tail leaves practically untouched (the tail's slope is < 1 µV/ms). `qrsd eval
//! --zero-phase` runs the same delineator behind a forward-backward (zero-phase) filter to show the effect.
//!
//! Nothing here allocates after construction; `process` is per-sample and branch-light.
#![deny(missing_docs)]

pub mod filter;
pub mod pace;
pub mod quality;

pub use filter::{FilterConfig, LeadFilter};
pub use pace::{PaceBlanker, PaceConfig};
pub use quality::{Quality, QualityConfig, QualityMeter};

/// Errors in conditioning set-up (all runtime processing is infallible).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConditionError {
    /// The sampling rate is outside what qrsd supports.
    #[error("sampling rate {0} Hz is outside the supported 100-10000 Hz")]
    SamplingRate(f64),
    /// A filter corner is not strictly between 0 and the Nyquist frequency.
    #[error("{what} at {hz} Hz is not below the Nyquist frequency {nyquist_hz} Hz")]
    AboveNyquist {
        /// Which stage.
        what: &'static str,
        /// Requested corner.
        hz: f64,
        /// fs / 2.
        nyquist_hz: f64,
    },
    /// A parameter is out of its meaningful range.
    #[error("invalid parameter {what}: {value}")]
    Parameter {
        /// Parameter name.
        what: &'static str,
        /// Offending value.
        value: f64,
    },
}

pub(crate) fn check_fs(fs_hz: f64) -> Result<(), ConditionError> {
    if !(100.0..=10_000.0).contains(&fs_hz) || !fs_hz.is_finite() {
        return Err(ConditionError::SamplingRate(fs_hz));
    }
    Ok(())
}
