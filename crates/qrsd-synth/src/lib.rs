//! Deterministic, streaming synthetic 12-lead ECG with exact per-beat truth.
//!
//! `qrsd-synth` produces the signal an ECG amplifier would send during a CRT implant: sinus rhythm with
//! narrow or LBBB-like QRS, atrially tracked BiV pacing with stimulus artefacts and a hardware pace flag,
//! fusion beats, loss of LV capture, premature ventricular complexes, muscle noise, baseline wander, mains,
//! lead-off and saturation. Every beat comes with its truth ([`BeatTruth`]): class, global and per-lead
//! QRS onset/offset, stimulus sample and R peak, so that detectors and delineators can be tested against
//! known answers, and the `firmware-sim` amplifier simulator can stream it in real time.
//!
//! # Design
//! * **Pull, into caller buffers.** [`Synth::fill`] writes the next `out.len()` [`Sample`]s. It allocates
//!   nothing in the steady state: a beat's template (P, QRS, T and stimuli for the 8 acquired leads) is
//!   computed once when the beat starts, into a recycled buffer; per sample the work is a sum over the (at most
//!   two or three) overlapping beat templates plus the noise.
//! * **Chunking-invariant and deterministic.** Beats are built when the stream reaches their first sample and
//!   each random stream (beat timing/morphology, noise, per-seed "patient" parameters) is a separate ChaCha8
//!   stream consumed a fixed number of times per beat or per sample; so a seed gives the same samples and the
//!   same truth however the stream is cut into `fill` calls. (The random streams are platform-independent;
//!   `sin`/`exp` may differ in the last bit between platforms' math libraries, truth sample indices do not.)
//! * **Changeable while running.** [`Synth::set_config`] / [`Synth::set_rhythm`] apply from the next beat
//!   (noise from the next sample); [`Synth::set_lead_off`] flags a channel off.
//! * **Truth by construction.** Each wave is a sum of 3-D vector lobes with compact support projected onto the
//!   lead vectors (see the `morphology` module): the QRS support *is* the global QRS window, and
//!   `offset − onset` is the configured duration rounded to whole samples at any sampling rate. Per-lead
//!   windows use the rule documented on [`BeatTruth`].
//!
//! # Units and conventions
//! Samples are `f64` microvolts (f64 so that sums of large pacing spikes and µV-level detail lose nothing; the
//! amplifier simulator can narrow them). Acquired channels are [`LEAD_NAMES`] (`I, II, V1..V6`); the other limb
//! leads follow from [`derive_limb_leads`]. Sample indices count from the first generated sample (0). Sample
//! `k` represents the interval `[k − ½, k + ½)` sample periods: a pacing pulse is averaged over it, as an
//! amplifier's anti-aliasing would do, so a 0.5 ms pulse at 500 Hz shows as one or two samples summing to a
//! quarter of its amplitude; the pace flag is set on every sample whose interval overlaps a pulse.
//!
//! # Example
//! ```
//! use qrsd_synth::{Rhythm, Sample, Synth, SynthConfig};
//!
//! let cfg = SynthConfig { rhythm: Rhythm::Biv, qrsd_ms: 130.0, fs_hz: 1000.0, ..SynthConfig::default() };
//! let mut synth = Synth::new(cfg)?;
//! let mut block = vec![Sample::default(); 1000];
//! synth.fill(&mut block); // one second
//! synth.fill(&mut block); // the next one
//! let beats: Vec<_> = synth.drain_truth().collect();
//! assert!(beats.iter().all(|b| b.stimulus_sample.is_some()));
//! # Ok::<(), qrsd_synth::SynthError>(())
//! ```
#![deny(missing_docs)]

mod config;
mod morphology;
mod noise;
mod recording;
mod synth;
mod truth;

#[cfg(test)]
mod tests;

pub use config::{LeadOffWindow, NoiseConfig, PaceConfig, Rhythm, SynthConfig};
pub use recording::{generate, SynthRecording};
pub use synth::Synth;
pub use truth::{BeatClass, BeatTruth, LeadWindow};

/// Number of acquired channels.
pub const N_ACQUIRED: usize = 8;

/// Names of the acquired channels, in [`Sample::leads`] order.
pub const LEAD_NAMES: [&str; N_ACQUIRED] = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"];

/// Names of the standard 12 leads, in [`SynthRecording::leads`] and [`BeatTruth::per_lead`] order.
pub const LEAD_NAMES_12: [&str; 12] = [
    "I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6",
];

/// One sample of the acquired channels as an amplifier sends it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample {
    /// The 8 acquired leads ([`LEAD_NAMES`] order), µV, clipped to ±`clip_uv`.
    pub leads: [f64; N_ACQUIRED],
    /// Hardware pace flag: a pacing pulse is being emitted during this sample's interval.
    pub pace: bool,
    /// Lead-off status: bit `l` set when channel `l` is flagged off (it then reads `+clip_uv`).
    pub lead_off: u8,
}

/// The derived limb leads from I and II (Einthoven/Goldberger): `[III, aVR, aVL, aVF]` =
/// `[II − I, −(I + II)/2, I − II/2, II − I/2]`.
#[inline]
pub fn derive_limb_leads(i: f64, ii: f64) -> [f64; 4] {
    [ii - i, -(i + ii) / 2.0, i - ii / 2.0, ii - i / 2.0]
}

/// Errors of this crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// A configuration field is out of range.
    #[error("invalid synthesiser config: `{field}`: {reason}")]
    InvalidConfig {
        /// Dotted name of the field, e.g. `pace.pulse_width_ms`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// [`Synth::set_config`] was asked to change the sampling rate.
    #[error("the sampling rate of a running synthesiser cannot change ({from} Hz -> {to} Hz)")]
    SamplingRateChange {
        /// Rate in force, Hz.
        from: f64,
        /// Requested rate, Hz.
        to: f64,
    },
    /// A channel index outside `0..8`.
    #[error("no acquired channel {0} (valid: 0..8)")]
    NoSuchLead(usize),
    /// A recording duration that is negative, not finite or longer than 24 h.
    #[error("invalid recording duration {0} s")]
    InvalidDuration(f64),
}
