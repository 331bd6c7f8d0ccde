//! Generator configuration and its validation.

use serde::{Deserialize, Serialize};

use crate::{SynthError, N_ACQUIRED};

/// Which ventricular rhythm the generator produces (besides ectopic beats, which either rhythm can have).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Rhythm {
    /// Sinus rhythm with conducted (intrinsic) QRS complexes: narrow, or LBBB-like with [`SynthConfig::lbbb`].
    #[default]
    Intrinsic,
    /// Atrially tracked biventricular pacing (VDD): every sinus P wave is followed, after
    /// [`PaceConfig::av_delay_ms`], by the LV and RV stimuli and a paced QRS, occasionally a fusion beat or a
    /// beat with loss of LV capture.
    Biv,
    /// Atrially tracked pacing with the LV lead not capturing (RV-only pacing): both stimuli are
    /// delivered, the RV captures, and every paced QRS is the LBBB-like RV-paced complex (QS in V1,
    /// dominant R in I, superior axis) of [`SynthConfig::qrsd_ms`]; truth class
    /// [`BeatClass::LossOfCapture`](crate::BeatClass::LossOfCapture).
    Rv,
}

/// Pacing stimulus and capture parameters (used when [`SynthConfig::rhythm`] is [`Rhythm::Biv`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PaceConfig {
    /// Width of each (rectangular) stimulus, ms; 0.1..=2.
    pub pulse_width_ms: f64,
    /// Body-surface amplitude of each stimulus in the lead where it is largest, µV; 0..=1 000 000
    /// (real spikes range from ~2 mV bipolar to ~700 mV unipolar).
    pub amplitude_uv: f64,
    /// LV-RV offset, ms, −100..=100: positive = LV stimulus first, RV `vv_offset_ms` later; negative = RV first;
    /// 0 = simultaneous. The first of the two stimuli is the beat's reference stimulus.
    pub vv_offset_ms: f64,
    /// Sensed AV delay, ms, from P-wave onset to the first stimulus; 0..=400. (Real devices time it from the
    /// atrial sensed event a little after P onset; the simplification does not matter here.)
    pub av_delay_ms: f64,
    /// Latency from the capturing stimulus to QRS onset, ms; 5..=60 (typically 10-20).
    pub capture_latency_ms: f64,
    /// Amplitude of the opposite-polarity recharge tail after each stimulus, as a fraction of the stimulus
    /// amplitude; 0..=1.
    pub recharge_fraction: f64,
    /// Exponential time constant of the recharge tail, ms; 0.05..=50.
    pub recharge_tau_ms: f64,
}

impl Default for PaceConfig {
    fn default() -> Self {
        Self {
            pulse_width_ms: 0.5,
            amplitude_uv: 20_000.0,
            vv_offset_ms: 0.0,
            av_delay_ms: 110.0,
            capture_latency_ms: 15.0,
            recharge_fraction: 0.05,
            recharge_tau_ms: 1.5,
        }
    }
}

/// Additive noise; every field 0 gives a noise-free signal (exactly 0 µV between beats).
///
/// Noise parameters take effect from the next generated sample (not the next beat).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NoiseConfig {
    /// RMS of band-limited (≈ 20-150 Hz) Gaussian muscle noise, µV, independent per lead.
    pub emg_uv_rms: f64,
    /// Peak amplitude of baseline wander (two respiratory-band sinusoids, 0.1-0.5 Hz), µV.
    pub baseline_wander_uv: f64,
    /// Peak amplitude of power-line interference in the lead where it is largest, µV.
    pub mains_uv: f64,
    /// Power-line frequency, Hz: 50 or 60.
    pub mains_hz: f64,
    /// Extra muscle noise per acquired channel (I, II, V1..V6, as [`LEAD_NAMES`](crate::LEAD_NAMES)), µV RMS:
    /// channel `l` carries `emg_uv_rms + emg_lead_uv_rms[l]` of the same band-limited noise, so one lead can
    /// be made noisy (a loose or moving electrode) while the others stay as they are.
    pub emg_lead_uv_rms: [f64; 8],
}

impl Default for NoiseConfig {
    fn default() -> Self {
        Self {
            emg_uv_rms: 0.0,
            baseline_wander_uv: 0.0,
            mains_uv: 0.0,
            mains_hz: 50.0,
            emg_lead_uv_rms: [0.0; 8],
        }
    }
}

impl NoiseConfig {
    /// Realistic but moderate noise of a cath-lab recording: 5 µV RMS muscle noise per lead, 100 µV of
    /// respiratory baseline wander, 20 µV of 50 Hz mains. The delineator's synthetic-truth tests use it.
    pub fn moderate() -> Self {
        Self {
            emg_uv_rms: 5.0,
            baseline_wander_uv: 100.0,
            mains_uv: 20.0,
            mains_hz: 50.0,
            emg_lead_uv_rms: [0.0; 8],
        }
    }
}

/// One acquired channel flagged off (electrode detached) for a time window.
///
/// While off, the channel sits at the positive rail (`+clip_uv`) and its bit is set in
/// [`Sample::lead_off`](crate::Sample::lead_off).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadOffWindow {
    /// Acquired channel index into [`LEAD_NAMES`](crate::LEAD_NAMES) (0 = I, 1 = II, 2 = V1, … 7 = V6).
    pub lead: usize,
    /// Window start, seconds from the first generated sample (inclusive).
    pub start_s: f64,
    /// Window end, seconds from the first generated sample (exclusive).
    pub end_s: f64,
}

/// Complete generator configuration. `Default` is a noise-free 500 Hz intrinsic LBBB rhythm (150 ms, 70 bpm).
///
/// All durations are in ms, amplitudes in µV, rates in Hz or beats/min, as the field names say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SynthConfig {
    /// Sampling rate, Hz; 250..=4000. Fixed for the life of a [`Synth`](crate::Synth).
    pub fs_hz: f64,
    /// Rhythm of the non-ectopic beats.
    pub rhythm: Rhythm,
    /// True global QRS duration of the rhythm's main beats (intrinsic beats for [`Rhythm::Intrinsic`], captured
    /// BiV-paced beats for [`Rhythm::Biv`], RV-only paced beats for [`Rhythm::Rv`]), ms; 60..=250. Honoured to
    /// the nearest sample.
    pub qrsd_ms: f64,
    /// QRS duration of the patient's conducted beats while BiV pacing (the intrinsic partner of fusion beats),
    /// ms; 60..=250. Unused for [`Rhythm::Intrinsic`].
    pub intrinsic_qrsd_ms: f64,
    /// How much wider than `qrsd_ms` a beat with loss of LV capture (RV-only paced) is, ms; 0..=100.
    pub loc_extra_qrsd_ms: f64,
    /// Mean heart rate, beats/min; 30..=180.
    pub rate_bpm: f64,
    /// Standard deviation of the beat-to-beat RR jitter, ms; 0..=200 (clipped at ±3 SD and ±40 % of the RR).
    pub hrv_ms: f64,
    /// Intrinsic morphology: LBBB-like (broad notched R in I/V6, deep QS in V1) instead of narrow normal.
    pub lbbb: bool,
    /// Pacing parameters.
    pub pace: PaceConfig,
    /// Probability that a BiV beat is a fusion beat (morphology and duration between intrinsic and paced).
    pub fusion_probability: f64,
    /// Probability that a BiV beat loses LV capture (RV-only paced morphology, `loc_extra_qrsd_ms` wider).
    pub loss_of_capture_probability: f64,
    /// Probability that a beat is a premature ventricular complex (wide, no P, no stimulus, early, followed
    /// by a compensatory pause).
    pub ectopic_probability: f64,
    /// Additive noise.
    pub noise: NoiseConfig,
    /// Channels flagged off during time windows.
    pub lead_off: Vec<LeadOffWindow>,
    /// Saturation: every acquired channel is clipped to ±`clip_uv` µV (> 0).
    pub clip_uv: f64,
    /// Seed of all random streams (ChaCha8). Ignored by [`Synth::set_config`](crate::Synth::set_config).
    pub seed: u64,
    /// QRS edges as gradual as LUDB's (slow low "feet" in the first 18 ms and last 12 ms of the support,
    /// calibrated on the median edge profile of 10,897 annotated LUDB QRS; on by default) instead of
    /// sharp edges, visible within 1–2 ms. Real QRS complexes, paced ones most of all, start and end
    /// with such a foot, and a cardiologist's marks lie at its start: the truth is the support either
    /// way. The sharp edges, unlike any real QRS, are kept as a mode; qrsd's learned boundaries,
    /// trained to reach back through a foot they cannot see in the noise, read them 5–10 ms long
    /// (docs/validation.md).
    pub realistic_edges: bool,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            fs_hz: 500.0,
            rhythm: Rhythm::Intrinsic,
            qrsd_ms: 150.0,
            intrinsic_qrsd_ms: 150.0,
            loc_extra_qrsd_ms: 40.0,
            rate_bpm: 70.0,
            hrv_ms: 15.0,
            lbbb: true,
            pace: PaceConfig::default(),
            fusion_probability: 0.0,
            loss_of_capture_probability: 0.0,
            ectopic_probability: 0.0,
            noise: NoiseConfig::default(),
            lead_off: Vec::new(),
            clip_uv: 400_000.0,
            seed: 0,
            realistic_edges: true,
        }
    }
}

/// `Ok` when `value` lies in `[lo, hi]` (NaN never does).
fn check_range(field: &'static str, value: f64, lo: f64, hi: f64) -> Result<(), SynthError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(SynthError::InvalidConfig {
            field,
            reason: format!("{value} is outside {lo}..={hi}"),
        })
    }
}

impl SynthConfig {
    /// Checks every field against its documented range.
    ///
    /// The error names the offending field (dotted path, e.g. `pace.pulse_width_ms`).
    pub fn validate(&self) -> Result<(), SynthError> {
        check_range("fs_hz", self.fs_hz, 250.0, 4000.0)?;
        check_range("qrsd_ms", self.qrsd_ms, 60.0, 250.0)?;
        check_range("intrinsic_qrsd_ms", self.intrinsic_qrsd_ms, 60.0, 250.0)?;
        check_range("loc_extra_qrsd_ms", self.loc_extra_qrsd_ms, 0.0, 100.0)?;
        check_range("rate_bpm", self.rate_bpm, 30.0, 180.0)?;
        check_range("hrv_ms", self.hrv_ms, 0.0, 200.0)?;
        check_range("pace.pulse_width_ms", self.pace.pulse_width_ms, 0.1, 2.0)?;
        check_range(
            "pace.amplitude_uv",
            self.pace.amplitude_uv,
            0.0,
            1_000_000.0,
        )?;
        check_range("pace.vv_offset_ms", self.pace.vv_offset_ms, -100.0, 100.0)?;
        check_range("pace.av_delay_ms", self.pace.av_delay_ms, 0.0, 400.0)?;
        check_range(
            "pace.capture_latency_ms",
            self.pace.capture_latency_ms,
            5.0,
            60.0,
        )?;
        check_range(
            "pace.recharge_fraction",
            self.pace.recharge_fraction,
            0.0,
            1.0,
        )?;
        check_range(
            "pace.recharge_tau_ms",
            self.pace.recharge_tau_ms,
            0.05,
            50.0,
        )?;
        check_range("fusion_probability", self.fusion_probability, 0.0, 1.0)?;
        check_range(
            "loss_of_capture_probability",
            self.loss_of_capture_probability,
            0.0,
            1.0,
        )?;
        check_range(
            "fusion_probability + loss_of_capture_probability",
            self.fusion_probability + self.loss_of_capture_probability,
            0.0,
            1.0,
        )?;
        check_range("ectopic_probability", self.ectopic_probability, 0.0, 1.0)?;
        check_range("noise.emg_uv_rms", self.noise.emg_uv_rms, 0.0, 100_000.0)?;
        check_range(
            "noise.baseline_wander_uv",
            self.noise.baseline_wander_uv,
            0.0,
            100_000.0,
        )?;
        check_range("noise.mains_uv", self.noise.mains_uv, 0.0, 100_000.0)?;
        for &v in &self.noise.emg_lead_uv_rms {
            check_range("noise.emg_lead_uv_rms", v, 0.0, 100_000.0)?;
        }
        if self.noise.mains_hz != 50.0 && self.noise.mains_hz != 60.0 {
            return Err(SynthError::InvalidConfig {
                field: "noise.mains_hz",
                reason: format!("{} is neither 50 nor 60", self.noise.mains_hz),
            });
        }
        check_range("clip_uv", self.clip_uv, f64::MIN_POSITIVE, 1.0e9)?;
        for w in &self.lead_off {
            if w.lead >= N_ACQUIRED {
                return Err(SynthError::InvalidConfig {
                    field: "lead_off.lead",
                    reason: format!("channel {} does not exist (0..{N_ACQUIRED})", w.lead),
                });
            }
            check_range("lead_off.start_s", w.start_s, 0.0, 1.0e9)?;
            if !(w.end_s > w.start_s && w.end_s.is_finite()) {
                return Err(SynthError::InvalidConfig {
                    field: "lead_off.end_s",
                    reason: format!(
                        "window end {} is not after its start {}",
                        w.end_s, w.start_s
                    ),
                });
            }
        }
        Ok(())
    }
}
