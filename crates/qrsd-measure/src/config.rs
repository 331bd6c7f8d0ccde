//! Measurement configuration, with validation into typed errors.

use qrsd_pipeline::BeatClass;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What a measurement measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeasurementKind {
    /// The intrinsic (usually LBBB) QRS before any LV pacing.
    Baseline,
    /// Biventricular pacing at a candidate LV site.
    Site,
}

impl MeasurementKind {
    /// Stable text form (`baseline`, `site`), as in JSON and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            MeasurementKind::Baseline => "baseline",
            MeasurementKind::Site => "site",
        }
    }

    /// The beat class such a measurement collects: intrinsic for a baseline, paced for a site.
    pub fn expected_class(self) -> BeatClass {
        match self {
            MeasurementKind::Baseline => BeatClass::Intrinsic,
            MeasurementKind::Site => BeatClass::Paced,
        }
    }
}

/// Tunable limits of one measurement. `Default` is the site (paced) measurement of PRODUCT.md.
///
/// All thresholds are in ms of QRS duration or stimulus-to-onset latency, compared against the
/// run's own consensus (the median of recent candidate beats, see [`crate::Measurement`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MeasurementConfig {
    /// Baseline or site.
    pub kind: MeasurementKind,
    /// Consecutive clean beats that complete the measurement (PRODUCT.md: default 10).
    pub beats_required: usize,
    /// Fewest clean consecutive beats that still give a result when the timeout ends the
    /// measurement (PRODUCT.md: "stable run ≥ 8 beats"). Below this the result is `incomplete`.
    pub beats_min: usize,
    /// Signal time (s) after the measurement's start sample before it ends as timed out.
    pub timeout_s: f64,
    /// Highest acceptable noise estimate (µV RMS of the isoelectric segment or the high-frequency
    /// residual). 40 µV is ~4× the noise of a good diagnostic recording (≈ 10 µV) and a fifth of
    /// a small (200 µV) QRS deflection: above it onset/offset walks become unreliable.
    pub max_noise_uv: f64,
    /// A paced beat whose QRSd is at least this much **narrower** than the consensus is a fusion
    /// candidate (default 15 ms). Fusion with intrinsic conduction over the right bundle
    /// shortens the QRS (Vernooy et al. / Kass: fusion gives intermediate, narrower complexes).
    pub fusion_narrowing_ms: f64,
    /// A paced beat whose QRSd is at least this much **wider** than the consensus is a loss-of-LV-
    /// capture candidate (default 20 ms). RV-only pacing in LBBB hearts is typically 20–50 ms wider
    /// than BiV pacing (e.g. ~180–200 ms RV vs ~140–160 ms BiV in the CRT trials).
    pub loc_widening_ms: f64,
    /// A change of stimulus-to-QRS-onset latency of at least this much (default 20 ms) against the
    /// consensus corroborates fusion: in fusion/pseudo-fusion the surface QRS onset is set by the
    /// intrinsic wavefront rather than the stimulus, so the latency departs from the paced one.
    pub latency_shift_ms: f64,
    /// Below this Pearson correlation (default 0.90) of the beat's QRS waveform with the running
    /// median template (leads II, V1, V6 concatenated) the morphology counts as different.
    pub min_correlation: f64,
    /// Minor fusion (a complex still mostly paced) changes shape and width only a little: a paced
    /// beat with correlation below this (default 0.97) *and* a width change of at least
    /// `minor_fusion_ms` is also suspected fusion. Two concordant moderate signs; either alone is
    /// within beat-to-beat variation (same-shape beats at a 10 µV noise level correlate > 0.99).
    pub minor_fusion_correlation: f64,
    /// See `minor_fusion_correlation` (default 3 ms: 1.5× the per-beat QRSd range of a clean paced
    /// run, 141–143 ms in the synthetic fusion scenario, whose clean beats correlate ≥ 0.998; at 4 ms
    /// a minor fusion beat 3 ms wider with correlation 0.947 passed as captured with the 2026-12-07
    /// models, at 5 ms one 4 ms wider with correlation 0.94 with the models before).
    pub minor_fusion_ms: f64,
    /// Any remaining beat whose QRSd departs from the consensus by more than this (default 25 ms,
    /// ~2.5× the per-beat delineation SD target of 10 ms) is an outlier (delineation error).
    pub outlier_ms: f64,
    /// A pause longer than this between consecutive beats (default 2 s, i.e. < 30 bpm) breaks the run:
    /// beats were missed or the rhythm stopped.
    pub max_rr_s: f64,
    /// Leads reported individually (default II, V1, V6).
    pub report_leads: Vec<String>,
    /// When true every rejection breaks the run; by default only rhythm events do (see
    /// [`crate::Measurement`]).
    pub strict_consecutive: bool,
    /// Plausible global QRSd range (ms); outside it the beat is rejected as `implausible`.
    pub min_qrsd_ms: f64,
    /// See `min_qrsd_ms`.
    pub max_qrsd_ms: f64,
}

impl Default for MeasurementConfig {
    fn default() -> Self {
        MeasurementConfig {
            kind: MeasurementKind::Site,
            beats_required: 10,
            beats_min: 8,
            timeout_s: 60.0,
            max_noise_uv: 40.0,
            fusion_narrowing_ms: 15.0,
            loc_widening_ms: 20.0,
            latency_shift_ms: 20.0,
            min_correlation: 0.90,
            minor_fusion_correlation: 0.97,
            minor_fusion_ms: 3.0,
            outlier_ms: 25.0,
            max_rr_s: 2.0,
            report_leads: vec!["II".into(), "V1".into(), "V6".into()],
            strict_consecutive: false,
            min_qrsd_ms: 40.0,
            max_qrsd_ms: 300.0,
        }
    }
}

impl MeasurementConfig {
    /// Defaults for a baseline (intrinsic) measurement.
    pub fn baseline() -> Self {
        MeasurementConfig {
            kind: MeasurementKind::Baseline,
            ..Default::default()
        }
    }

    /// Defaults for a paced site measurement.
    pub fn site() -> Self {
        MeasurementConfig::default()
    }

    /// The beat class this measurement collects.
    pub fn expected_class(&self) -> BeatClass {
        self.kind.expected_class()
    }

    /// Whether a beat needs lead `name` (case-insensitive) on to be measured: the reported leads
    /// and [`crate::measurement::NEEDED_LEADS`]. Any other lead off is left out of the beat's
    /// global QRS (`crate::measurement`, *Leads off*).
    pub fn needs_lead(&self, name: &str) -> bool {
        self.report_leads
            .iter()
            .map(String::as_str)
            .chain(crate::measurement::NEEDED_LEADS)
            .any(|n| n.eq_ignore_ascii_case(name))
    }

    /// Checks every limit; the first problem is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.beats_required == 0 || self.beats_required > 1000 {
            return Err(ConfigError::BeatsRequired(self.beats_required));
        }
        if self.beats_min == 0 || self.beats_min > self.beats_required {
            return Err(ConfigError::BeatsMin {
                min: self.beats_min,
                required: self.beats_required,
            });
        }
        if !(self.timeout_s.is_finite() && self.timeout_s > 0.0 && self.timeout_s <= 3600.0) {
            return Err(ConfigError::Timeout(self.timeout_s));
        }
        let positive = [
            ("max_noise_uv", self.max_noise_uv),
            ("fusion_narrowing_ms", self.fusion_narrowing_ms),
            ("loc_widening_ms", self.loc_widening_ms),
            ("latency_shift_ms", self.latency_shift_ms),
            ("outlier_ms", self.outlier_ms),
            ("max_rr_s", self.max_rr_s),
            ("max_qrsd_ms", self.max_qrsd_ms),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(ConfigError::NotPositive { name, value: v });
            }
        }
        if !(self.min_qrsd_ms.is_finite()
            && self.min_qrsd_ms >= 0.0
            && self.min_qrsd_ms < self.max_qrsd_ms)
        {
            return Err(ConfigError::QrsdRange {
                min: self.min_qrsd_ms,
                max: self.max_qrsd_ms,
            });
        }
        if !(self.minor_fusion_ms.is_finite() && self.minor_fusion_ms >= 0.0) {
            return Err(ConfigError::NotPositive {
                name: "minor_fusion_ms",
                value: self.minor_fusion_ms,
            });
        }
        for (name, v) in [
            ("min_correlation", self.min_correlation),
            ("minor_fusion_correlation", self.minor_fusion_correlation),
        ] {
            if !(v.is_finite() && (-1.0..=1.0).contains(&v)) {
                return Err(ConfigError::Correlation { name, value: v });
            }
        }
        if self.report_leads.iter().any(|l| l.trim().is_empty()) {
            return Err(ConfigError::EmptyLeadName);
        }
        Ok(())
    }
}

/// An invalid [`MeasurementConfig`].
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    /// `beats_required` must be 1..=1000.
    #[error("beats_required must be between 1 and 1000, got {0}")]
    BeatsRequired(usize),
    /// `beats_min` must be 1..=beats_required.
    #[error("beats_min must be between 1 and beats_required ({required}), got {min}")]
    BeatsMin {
        /// Given minimum.
        min: usize,
        /// Given required count.
        required: usize,
    },
    /// `timeout_s` must be in (0, 3600].
    #[error("timeout_s must be > 0 and ≤ 3600 s, got {0}")]
    Timeout(f64),
    /// A limit that must be a positive finite number.
    #[error("{name} must be a positive number, got {value}")]
    NotPositive {
        /// Field name.
        name: &'static str,
        /// Given value.
        value: f64,
    },
    /// The plausible QRSd range is empty.
    #[error("min_qrsd_ms ({min}) must be ≥ 0 and below max_qrsd_ms ({max})")]
    QrsdRange {
        /// Given minimum.
        min: f64,
        /// Given maximum.
        max: f64,
    },
    /// A correlation limit outside [-1, 1].
    #[error("{name} must be between -1 and 1, got {value}")]
    Correlation {
        /// Field name.
        name: &'static str,
        /// Given value.
        value: f64,
    },
    /// A reported lead name is empty.
    #[error("report_leads contains an empty lead name")]
    EmptyLeadName,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        MeasurementConfig::default().validate().unwrap();
        MeasurementConfig::baseline().validate().unwrap();
        assert_eq!(
            MeasurementConfig::baseline().expected_class(),
            BeatClass::Intrinsic
        );
        assert_eq!(MeasurementConfig::site().expected_class(), BeatClass::Paced);
    }

    #[test]
    fn invalid_values_are_typed_errors() {
        let c = MeasurementConfig {
            beats_required: 0,
            ..Default::default()
        };
        assert_eq!(c.validate(), Err(ConfigError::BeatsRequired(0)));
        let c = MeasurementConfig {
            beats_min: 11,
            ..Default::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::BeatsMin { min: 11, .. })
        ));
        let c = MeasurementConfig {
            timeout_s: f64::NAN,
            ..Default::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::Timeout(_))));
        let c = MeasurementConfig {
            outlier_ms: -1.0,
            ..Default::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::NotPositive {
                name: "outlier_ms",
                ..
            })
        ));
        let c = MeasurementConfig {
            min_correlation: 1.5,
            ..Default::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::Correlation { .. })));
    }

    #[test]
    fn partial_json_fills_defaults() {
        let c: MeasurementConfig =
            serde_json::from_str(r#"{"kind":"baseline","beats_required":12}"#).unwrap();
        assert_eq!(c.beats_required, 12);
        assert_eq!(c.beats_min, 8);
        assert_eq!(c.kind, MeasurementKind::Baseline);
    }
}
