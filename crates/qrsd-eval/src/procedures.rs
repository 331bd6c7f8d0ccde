//! Simulated CRT procedures with known truth: the ranking check of issue 17 (target 4, and the
//! simulated half of target 3).
//!
//! A procedure is a baseline (intrinsic LBBB-like QRS, 130–200 ms) and 3–5 candidate LV sites,
//! each BiV-paced with its own true QRSd (100–180 ms). Every recording comes from `qrsd-synth`
//! with realistic (slow-foot) QRS edges, 2–10 µV RMS EMG and otherwise the moderate noise
//! (baseline wander, mains), at 500 or 1000 Hz. Each recording goes through the real chain the
//! service uses: the default [`PipelineConfig`] (so whatever delineator is the default is what
//! gets measured), a [`Measurement`] per site with the default site / baseline configuration,
//! and [`recommend`] over the sites. Only the glue the server's live thread does between the
//! pipeline and the measurement (the beat's waveform snippet and noise estimate) is redone here,
//! because it lives in the server crate; it follows `qrsd-server/src/live.rs`.
//!
//! Truth of a site: the simulator's global QRSd (the support of the QRS, what `BeatTruth::qrsd_ms`
//! is) and its first-stimulus-to-QRS-end, as medians over the beats the measurement used.
//! Everything is seeded: procedure `i` is the same procedure on every machine and every run.

use qrsd_measure::{
    recommend, BeatInput, BeatWaveform, ConfigError, Measurement, MeasurementConfig,
    MeasurementResult, MeasurementSummary, Recommendation, RejectReason, SiteCandidate, Status,
};
use qrsd_pipeline::{Pipeline, PipelineConfig, PipelineError};
use qrsd_synth::{
    generate, BeatClass as TrueClass, BeatTruth, NoiseConfig, PaceConfig, Rhythm, SynthConfig,
    SynthError, SynthRecording,
};
use std::collections::BTreeMap;

/// Range of the sites' true paced QRSd, ms (issue 17: BiV-paced QRS of 100–180 ms).
pub const SITE_QRSD_RANGE_MS: (f64, f64) = (100.0, 180.0);
/// Range of the baseline's true intrinsic (LBBB-like) QRSd, ms (PRODUCT.md: usually 130–200).
pub const BASELINE_QRSD_RANGE_MS: (f64, f64) = (130.0, 200.0);
/// Range of the muscle noise, µV RMS per lead (issue 17: 2–10 µV).
pub const EMG_RANGE_UV: (f64, f64) = (2.0, 10.0);
/// Range of the (atrially tracked) heart rate, beats/min: a resting cath-lab patient.
pub const RATE_RANGE_BPM: (f64, f64) = (60.0, 90.0);
/// Range of the stimulus-to-QRS-onset latency, ms (typically 10–20, `PaceConfig` docs).
pub const CAPTURE_LATENCY_RANGE_MS: (f64, f64) = (10.0, 20.0);
/// Range of the V-V offsets of [`ProcedureSpec::with_vv_offsets`], ms (RV 20 ms first to LV
/// 40 ms first, the usual programmed range after CRT optimisation).
pub const VV_OFFSET_RANGE_MS: (f64, f64) = (-20.0, 40.0);
/// Sampling rates mixed over the procedures (issue 17: 500 and 1000 Hz), alternating.
pub const FS_HZ: [f64; 2] = [500.0, 1000.0];
/// Signal before the operator presses *measure*, s: the pipeline's detector has learnt the
/// rhythm by then (in the lab the measurement starts on a running stream, never at sample 0).
pub const WARMUP_S: f64 = 4.0;
/// Length of each simulated recording, s: warm-up plus 20 s, i.e. 20–30 beats at 60–90 bpm
/// for a run of 10 (a few rejected beats can be replaced; the default 60 s timeout is not
/// reached, the measurement is stopped at the end of the recording as an operator would).
pub const RECORDING_S: f64 = WARMUP_S + 20.0;
/// Width bands of the per-band error table, ms (issue 17 target 3: "at every width").
pub const WIDTH_BANDS_MS: [(f64, f64); 4] = [
    (100.0, 120.0),
    (120.0, 140.0),
    (140.0, 160.0),
    (160.0, 180.0),
];
/// Pairs of sites whose true QRSd differs by at least this are scored for order, ms.
pub const PAIR_MIN_DIFF_MS: f64 = 8.0;
/// A recommendation within this of the truly shortest site counts as right, ms.
pub const RECOMMEND_TOLERANCE_MS: f64 = 3.0;
/// The server's waveform snippet around R, ms before / after (`qrsd-server` live.rs).
const SNIPPET_PRE_MS: f64 = 400.0;
/// See [`SNIPPET_PRE_MS`].
const SNIPPET_POST_MS: f64 = 400.0;
/// The server's snippet leads (the measurement's morphology check uses them).
const SNIPPET_LEADS: [&str; 3] = ["II", "V1", "V6"];
/// The server blanks snippets and noise windows from 1 ms before a pace flag to this after, ms.
const STIM_BLANK_MS: f64 = 8.0;
/// Base of the synthesiser seeds, so that these recordings are not the ones other tests use.
const SEED_BASE: u64 = 0x5172_0000;

/// Errors of a simulated procedure (all of them configuration errors: a bug in this module).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The synthesiser refused its configuration.
    #[error(transparent)]
    Synth(#[from] SynthError),
    /// The pipeline refused its configuration.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The measurement refused its configuration.
    #[error(transparent)]
    Measure(#[from] ConfigError),
}

/// SplitMix64: the procedure draws (site count, widths, rates) come from a fixed, documented
/// generator, so that procedure `i` does not change with a dependency's version.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    fn uniform(&mut self, (lo, hi): (f64, f64)) -> f64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * u
    }
}

/// One simulated LV site.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteSim {
    /// Configured true paced QRSd, ms (the simulator rounds it to whole samples).
    pub qrsd_ms: f64,
    /// Stimulus-to-QRS-onset latency, ms.
    pub capture_latency_ms: f64,
    /// LV-RV offset, ms (positive: LV first); 0 unless [`ProcedureSpec::with_vv_offsets`].
    pub vv_offset_ms: f64,
    /// Synthesiser seed of this site's recording.
    pub seed: u64,
}

/// One simulated procedure: the patient and the sites the physician tries.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcedureSpec {
    /// Procedure number (its seed).
    pub index: u64,
    /// Sampling rate of all its recordings, Hz.
    pub fs_hz: f64,
    /// Heart rate, beats/min.
    pub rate_bpm: f64,
    /// Muscle noise, µV RMS per lead.
    pub emg_uv_rms: f64,
    /// True intrinsic QRSd of the baseline, ms.
    pub baseline_qrsd_ms: f64,
    /// Synthesiser seed of the baseline recording.
    pub baseline_seed: u64,
    /// The candidate sites (3–5).
    pub sites: Vec<SiteSim>,
}

impl ProcedureSpec {
    /// Procedure `index` (deterministic).
    pub fn new(index: u64) -> Self {
        let mut rng = SplitMix(SEED_BASE ^ index.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let n_sites = 3 + (rng.next_u64() % 3) as usize;
        let rate_bpm = rng.uniform(RATE_RANGE_BPM);
        let emg_uv_rms = rng.uniform(EMG_RANGE_UV);
        let baseline_qrsd_ms = rng.uniform(BASELINE_QRSD_RANGE_MS);
        let seed0 = SEED_BASE + index * 8;
        let sites = (0..n_sites)
            .map(|k| SiteSim {
                qrsd_ms: rng.uniform(SITE_QRSD_RANGE_MS),
                capture_latency_ms: rng.uniform(CAPTURE_LATENCY_RANGE_MS),
                vv_offset_ms: 0.0,
                seed: seed0 + 1 + k as u64,
            })
            .collect();
        ProcedureSpec {
            index,
            fs_hz: FS_HZ[(index % 2) as usize],
            rate_bpm,
            emg_uv_rms,
            baseline_qrsd_ms,
            baseline_seed: seed0,
            sites,
        }
    }

    /// The same procedure with a programmed V-V offset per site, uniform in
    /// [`VV_OFFSET_RANGE_MS`] in 10 ms steps (as devices program it); drawn from a stream of its
    /// own, so that the other draws of procedure `index` stay the same. Not part of the issue's
    /// check: a harder variant (the first of two stimuli is the reference, PRODUCT.md).
    pub fn with_vv_offsets(mut self) -> Self {
        let mut rng = SplitMix(!SEED_BASE ^ self.index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for s in &mut self.sites {
            s.vv_offset_ms = (rng.uniform(VV_OFFSET_RANGE_MS) / 10.0).round() * 10.0;
        }
        self
    }

    fn common(&self, seed: u64) -> SynthConfig {
        SynthConfig {
            fs_hz: self.fs_hz,
            rate_bpm: self.rate_bpm,
            lbbb: true,
            intrinsic_qrsd_ms: self.baseline_qrsd_ms,
            noise: NoiseConfig {
                emg_uv_rms: self.emg_uv_rms,
                ..NoiseConfig::moderate()
            },
            realistic_edges: true,
            seed,
            ..SynthConfig::default()
        }
    }

    /// The synthesiser configuration of the baseline recording.
    pub fn baseline_config(&self) -> SynthConfig {
        SynthConfig {
            rhythm: Rhythm::Intrinsic,
            qrsd_ms: self.baseline_qrsd_ms,
            ..self.common(self.baseline_seed)
        }
    }

    /// The synthesiser configuration of site `k`'s recording (clean capture: no fusion, no loss
    /// of capture, so that the figures are about measuring and ranking, not beat rejection).
    pub fn site_config(&self, k: usize) -> SynthConfig {
        let s = &self.sites[k];
        SynthConfig {
            rhythm: Rhythm::Biv,
            qrsd_ms: s.qrsd_ms,
            pace: PaceConfig {
                capture_latency_ms: s.capture_latency_ms,
                vv_offset_ms: s.vv_offset_ms,
                ..PaceConfig::default()
            },
            ..self.common(s.seed)
        }
    }
}

/// One measured recording (the baseline or a site) with its truth.
#[derive(Debug, Clone)]
pub struct SiteOutcome {
    /// The simulator's true global QRSd (QRS support), ms: median over the beats the measurement
    /// used (over all beats of the expected class when it used none).
    pub true_qrsd_ms: f64,
    /// True earliest-lead-onset to latest-lead-offset (the per-lead threshold convention of
    /// `BeatTruth::lead_span`, "where a cardiologist would see the deflection"), ms.
    pub true_lead_span_ms: Option<f64>,
    /// True first-stimulus-to-QRS-end, ms (paced recordings).
    pub true_stim_to_end_ms: Option<f64>,
    /// True first-stimulus-to-QRS-onset (the capture latency, to whole samples), ms (paced).
    pub true_stim_to_onset_ms: Option<f64>,
    /// Beats the measurement used whose truth is not the expected class (should be 0).
    pub used_wrong_class: usize,
    /// The measurement's result.
    pub result: MeasurementResult,
}

impl SiteOutcome {
    /// Measured − true global QRSd, ms, for a complete measurement.
    pub fn error_ms(&self) -> Option<f64> {
        self.complete()
            .then_some(self.result.qrsd_ms)
            .flatten()
            .map(|q| q - self.true_qrsd_ms)
    }

    /// Measured − true stimulus-to-QRS-end, ms, for a complete paced measurement.
    pub fn stim_to_end_error_ms(&self) -> Option<f64> {
        match (
            self.complete(),
            self.result.stim_to_end_ms,
            self.true_stim_to_end_ms,
        ) {
            (true, Some(m), Some(t)) => Some(m - t),
            _ => None,
        }
    }

    /// Measured − true stimulus-to-QRS-onset, ms (the onset's error alone), complete paced.
    pub fn stim_to_onset_error_ms(&self) -> Option<f64> {
        match (
            self.complete(),
            self.result.stim_to_onset_ms,
            self.true_stim_to_onset_ms,
        ) {
            (true, Some(m), Some(t)) => Some(m - t),
            _ => None,
        }
    }

    /// Measured QRSd − the true lead span, ms.
    pub fn lead_span_error_ms(&self) -> Option<f64> {
        match (self.complete(), self.result.qrsd_ms, self.true_lead_span_ms) {
            (true, Some(m), Some(t)) => Some(m - t),
            _ => None,
        }
    }

    /// Whether the measurement completed with a QRSd.
    pub fn complete(&self) -> bool {
        self.result.status == Status::Complete && self.result.qrsd_ms.is_some()
    }
}

/// A measured procedure.
#[derive(Debug, Clone)]
pub struct ProcedureOutcome {
    /// What was simulated.
    pub spec: ProcedureSpec,
    /// The baseline measurement.
    pub baseline: SiteOutcome,
    /// The site measurements, in `spec.sites` order (site id = index + 1).
    pub sites: Vec<SiteOutcome>,
    /// The product's recommendation over them.
    pub recommendation: Recommendation,
}

impl ProcedureOutcome {
    /// Site index of the recommended site.
    pub fn recommended(&self) -> Option<usize> {
        self.recommendation
            .site_id
            .and_then(|id| usize::try_from(id - 1).ok())
    }

    /// Whether the recommended site is the truly shortest or within
    /// [`RECOMMEND_TOLERANCE_MS`] of it (no recommendation: wrong).
    pub fn recommendation_right(&self) -> bool {
        let best = self
            .sites
            .iter()
            .map(|s| s.true_qrsd_ms)
            .fold(f64::INFINITY, f64::min);
        self.recommended()
            .and_then(|k| self.sites.get(k))
            // 1e-9: the truth is a whole number of samples, the tolerance is exact.
            .is_some_and(|s| s.true_qrsd_ms - best <= RECOMMEND_TOLERANCE_MS + 1e-9)
    }

    /// Pairs of sites whose true QRSd differs by ≥ [`PAIR_MIN_DIFF_MS`]: `(pairs, ordered
    /// right, pairs with a site missing from the ranking)`. A pair is ordered right when both
    /// sites are in the recommendation's ranking and the truly shorter one comes first.
    pub fn pairs(&self) -> (usize, usize, usize) {
        let pos = |k: usize| {
            self.recommendation
                .ranking
                .iter()
                .position(|r| r.site_id == k as i64 + 1)
        };
        let (mut n, mut ok, mut missing) = (0, 0, 0);
        for i in 0..self.sites.len() {
            for j in i + 1..self.sites.len() {
                let (ti, tj) = (self.sites[i].true_qrsd_ms, self.sites[j].true_qrsd_ms);
                if (ti - tj).abs() < PAIR_MIN_DIFF_MS {
                    continue;
                }
                n += 1;
                let (short, long) = if ti < tj { (i, j) } else { (j, i) };
                match (pos(short), pos(long)) {
                    (Some(a), Some(b)) => ok += usize::from(a < b),
                    _ => missing += 1,
                }
            }
        }
        (n, ok, missing)
    }
}

/// The waveform snippet the server's live thread attaches to a beat (`qrsd-server` live.rs
/// `snippet`): II, V1, V6 from R − 400 ms to R + 400 ms, pace-flagged samples (1 ms before to
/// 8 ms after) held at the last value before them, baseline = median of the first 100 ms.
fn snippet(rec: &SynthRecording, r: u64) -> Option<BeatWaveform> {
    let fs = rec.fs_hz;
    let first = r.checked_sub((SNIPPET_PRE_MS * fs / 1000.0) as u64)?;
    let last = r + (SNIPPET_POST_MS * fs / 1000.0) as u64;
    if last as usize >= rec.len_samples() {
        return None;
    }
    let mask = stim_mask(rec, first, last);
    let nb = ((0.1 * fs) as usize).max(1);
    let mut leads = Vec::with_capacity(SNIPPET_LEADS.len());
    for name in SNIPPET_LEADS {
        let Some(x) = rec.lead(name) else { continue };
        let mut d: Vec<f32> = Vec::with_capacity((last - first + 1) as usize);
        for (k, s) in (first..=last).enumerate() {
            let v = if mask[k] {
                d.last().copied().unwrap_or(f32::NAN)
            } else {
                x[s as usize] as f32
            };
            d.push(v);
        }
        let mut b: Vec<f32> = d
            .iter()
            .take(nb)
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        if !b.is_empty() {
            b.sort_by(f32::total_cmp);
            let base = b[b.len() / 2];
            d.iter_mut().for_each(|v| *v -= base);
        }
        leads.push((name.to_string(), d));
    }
    Some(BeatWaveform {
        first_sample: first,
        leads,
    })
}

/// Pace-flag blanking mask over `first..=last` (as the server's `stim_mask`).
fn stim_mask(rec: &SynthRecording, first: u64, last: u64) -> Vec<bool> {
    let fs = rec.fs_hz;
    let before = ((fs / 1000.0).ceil() as u64).max(1);
    let after = (STIM_BLANK_MS * fs / 1000.0).ceil() as u64;
    let mut m = vec![false; (last - first + 1) as usize];
    let n = rec.len_samples() as u64;
    for s in first.saturating_sub(after)..=(last + before).min(n.saturating_sub(1)) {
        if rec.pace_flags[s as usize] {
            let a = s.saturating_sub(before).max(first);
            let z = (s + after).min(last);
            for k in a..=z {
                m[(k - first) as usize] = true;
            }
        }
    }
    m
}

/// The server's per-beat noise estimate (`qrsd-server` live.rs `noise`): median over leads of
/// the RMS second difference / √6 in the 250..50 ms before onset, stimuli blanked.
fn noise_uv(rec: &SynthRecording, onset: u64) -> Option<f64> {
    let fs = rec.fs_hz;
    let a = onset.checked_sub((0.25 * fs) as u64)?;
    let z = onset.checked_sub((0.05 * fs) as u64)?;
    if z < a + 8 || z as usize >= rec.len_samples() {
        return None;
    }
    let mask = stim_mask(rec, a, z);
    let mut per_lead = Vec::with_capacity(rec.leads.len());
    for (_, x) in &rec.leads {
        let (mut ss, mut n) = (0.0f64, 0usize);
        for s in a + 2..=z {
            let i = (s - a) as usize;
            if mask[i] || mask[i - 1] || mask[i - 2] {
                continue;
            }
            // f32 as the server's frames hold them.
            let v = |k: u64| f64::from(x[k as usize] as f32);
            let d = v(s) - 2.0 * v(s - 1) + v(s - 2);
            ss += d * d;
            n += 1;
        }
        if n >= 8 {
            per_lead.push((ss / n as f64 / 6.0).sqrt());
        }
    }
    per_lead.sort_by(f64::total_cmp);
    per_lead.get(per_lead.len() / 2).copied()
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Runs one recording through the default pipeline and a measurement of `cfg` started at
/// [`WARMUP_S`], and attaches the truth.
pub fn measure_recording(
    synth: &SynthConfig,
    cfg: MeasurementConfig,
) -> Result<SiteOutcome, SimError> {
    let rec = generate(synth, RECORDING_S)?;
    let fs = rec.fs_hz;
    let beats = Pipeline::new(PipelineConfig::new(fs, rec.lead_names()))?
        .run_to_end(&rec.leads_f32(), Some(rec.pace_flags.as_slice()));
    let start = (WARMUP_S * fs).round() as u64;
    let mut m = Measurement::new(cfg, start)?;
    for b in beats {
        if b.r_sample < start {
            continue;
        }
        let r = b.r_sample;
        let onset = b.global.onset_sample.unwrap_or(r);
        let mut input = BeatInput::new(b, fs);
        input.noise_uv = noise_uv(&rec, onset);
        input.waveform = snippet(&rec, r);
        m.push(input);
        if m.status().is_final() {
            break;
        }
    }
    if !m.status().is_final() {
        // The end of the recording: the operator stops a measurement that is still collecting.
        m.stop();
    }
    let result = m.result();
    let expected = match synth.rhythm {
        Rhythm::Biv => TrueClass::Paced,
        Rhythm::Rv => TrueClass::LossOfCapture,
        Rhythm::Intrinsic => TrueClass::Intrinsic,
    };
    let truth_of = |r: u64| -> Option<&BeatTruth> {
        rec.truth
            .iter()
            .find(|t| (t.onset_sample..=t.offset_sample).contains(&r))
    };
    let mut used: Vec<&BeatTruth> = Vec::new();
    let mut used_wrong_class = 0;
    for b in result.beats.iter().filter(|b| b.used) {
        match truth_of(b.r_sample) {
            Some(t) if t.class == expected => used.push(t),
            _ => used_wrong_class += 1,
        }
    }
    if used.is_empty() {
        used = rec
            .truth
            .iter()
            .filter(|t| t.class == expected && t.onset_sample >= start)
            .collect();
    }
    let ms = 1000.0 / fs;
    let mut q: Vec<f64> = used.iter().map(|t| t.qrsd_ms).collect();
    let mut span: Vec<f64> = used
        .iter()
        .filter_map(|t| t.lead_span())
        .map(|w| (w.offset_sample as f64 - w.onset_sample as f64) * ms)
        .collect();
    let mut ste: Vec<f64> = used
        .iter()
        .filter_map(|t| t.stimulus_to_offset_ms(fs))
        .collect();
    let mut sto: Vec<f64> = used
        .iter()
        .filter_map(|t| {
            t.stimulus_sample
                .map(|s| (t.onset_sample as f64 - s as f64) * ms)
        })
        .collect();
    Ok(SiteOutcome {
        // No beat of the expected class at all cannot happen with these configurations; NaN
        // would make every comparison with it fail, i.e. count against the product.
        true_qrsd_ms: median(&mut q).unwrap_or(f64::NAN),
        true_lead_span_ms: median(&mut span),
        true_stim_to_end_ms: median(&mut ste),
        true_stim_to_onset_ms: median(&mut sto),
        used_wrong_class,
        result,
    })
}

/// Simulates and measures procedure `spec`, and asks the product for its recommendation.
pub fn run_procedure(spec: &ProcedureSpec) -> Result<ProcedureOutcome, SimError> {
    let baseline = measure_recording(&spec.baseline_config(), MeasurementConfig::baseline())?;
    let sites = (0..spec.sites.len())
        .map(|k| measure_recording(&spec.site_config(k), MeasurementConfig::site()))
        .collect::<Result<Vec<_>, _>>()?;
    let candidates: Vec<SiteCandidate> = sites
        .iter()
        .enumerate()
        .map(|(k, s)| SiteCandidate {
            site_id: k as i64 + 1,
            label: format!("site {}", k + 1),
            decision: None,
            measurements: vec![MeasurementSummary::of(k as i64 + 2, &s.result)],
        })
        .collect();
    let recommendation = recommend(&[MeasurementSummary::of(1, &baseline.result)], &candidates);
    Ok(ProcedureOutcome {
        spec: spec.clone(),
        baseline,
        sites,
        recommendation,
    })
}

/// Mean, SD, median and largest |value| of a set of errors, ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorStats {
    /// Number of values.
    pub n: usize,
    /// Median, ms.
    pub median_ms: f64,
    /// Mean, ms.
    pub mean_ms: f64,
    /// Sample SD, ms (0 for one value).
    pub sd_ms: f64,
    /// Largest |value|, ms.
    pub max_abs_ms: f64,
}

impl ErrorStats {
    /// Statistics of `v` (`None` when empty).
    pub fn of(v: &[f64]) -> Option<Self> {
        let n = v.len();
        let mut s = v.to_vec();
        let median_ms = median(&mut s)?;
        let mean_ms = v.iter().sum::<f64>() / n as f64;
        let sd_ms = if n > 1 {
            (v.iter().map(|x| (x - mean_ms).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Some(ErrorStats {
            n,
            median_ms,
            mean_ms,
            sd_ms,
            max_abs_ms: v.iter().fold(0.0, |a, x| a.max(x.abs())),
        })
    }
}

/// One site's (or baseline's) errors for the tables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SiteError {
    /// Sampling rate, Hz.
    pub fs_hz: f64,
    /// True QRSd, ms.
    pub true_qrsd_ms: f64,
    /// Measured − true QRSd, ms.
    pub qrsd_error_ms: f64,
    /// Measured − true stimulus-to-QRS-end, ms (paced).
    pub stim_to_end_error_ms: Option<f64>,
    /// Measured − true stimulus-to-QRS-onset, ms (paced).
    pub stim_to_onset_error_ms: Option<f64>,
    /// Measured QRSd − true lead span, ms.
    pub lead_span_error_ms: Option<f64>,
}

/// The figures of a set of simulated procedures.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Procedures run.
    pub procedures: usize,
    /// Procedures whose recommended site is the truly shortest or within 3 ms of it.
    pub recommendation_right: usize,
    /// Procedures with a wrong recommendation that carried the close-call warning.
    pub wrong_but_close_call: usize,
    /// Procedures without any recommendation.
    pub no_recommendation: usize,
    /// Site pairs with a true difference ≥ 8 ms.
    pub pairs: usize,
    /// Of those, ordered right by the ranking.
    pub pairs_right: usize,
    /// Of those, with a site missing from the ranking (incomplete measurement).
    pub pairs_missing: usize,
    /// Sites measured.
    pub sites: usize,
    /// Sites whose measurement was not complete.
    pub incomplete_sites: usize,
    /// Baselines whose measurement was not complete.
    pub incomplete_baselines: usize,
    /// Used beats whose truth was not the expected class (fusion etc.; should be 0).
    pub used_wrong_class: usize,
    /// Procedures whose recommendation carried the close-call warning.
    pub close_calls: usize,
    /// Beats the site measurements considered.
    pub site_beats_seen: usize,
    /// Of those, rejected, by reason (clean captured beats only are simulated: every rejection
    /// is a beat the measurement could not use).
    pub site_beats_rejected: BTreeMap<RejectReason, usize>,
    /// Median per-site noise estimate (µV RMS) of every complete site.
    pub site_noise_uv: Vec<f64>,
    /// Errors of every complete site.
    pub site_errors: Vec<SiteError>,
    /// Errors of every complete baseline.
    pub baseline_errors: Vec<SiteError>,
}

fn site_error(fs_hz: f64, s: &SiteOutcome) -> Option<SiteError> {
    Some(SiteError {
        fs_hz,
        true_qrsd_ms: s.true_qrsd_ms,
        qrsd_error_ms: s.error_ms()?,
        stim_to_end_error_ms: s.stim_to_end_error_ms(),
        stim_to_onset_error_ms: s.stim_to_onset_error_ms(),
        lead_span_error_ms: s.lead_span_error_ms(),
    })
}

impl Figures {
    /// Adds one procedure.
    pub fn add(&mut self, p: &ProcedureOutcome) {
        self.procedures += 1;
        if p.recommendation_right() {
            self.recommendation_right += 1;
        } else if p.recommendation.site_id.is_none() {
            self.no_recommendation += 1;
        } else if p.recommendation.close_call {
            self.wrong_but_close_call += 1;
        }
        let (n, ok, missing) = p.pairs();
        self.pairs += n;
        self.pairs_right += ok;
        self.pairs_missing += missing;
        self.close_calls += usize::from(p.recommendation.close_call);
        let fs = p.spec.fs_hz;
        for s in &p.sites {
            self.sites += 1;
            self.site_beats_seen += s.result.beats_seen;
            for (r, n) in &s.result.beats_rejected.by_reason {
                *self.site_beats_rejected.entry(*r).or_insert(0) += n;
            }
            self.site_noise_uv.extend(s.result.noise_uv);
            self.used_wrong_class += s.used_wrong_class;
            match site_error(fs, s) {
                Some(e) => self.site_errors.push(e),
                None => self.incomplete_sites += 1,
            }
        }
        self.used_wrong_class += p.baseline.used_wrong_class;
        match site_error(fs, &p.baseline) {
            Some(e) => self.baseline_errors.push(e),
            None => self.incomplete_baselines += 1,
        }
    }

    /// Share of procedures with a right recommendation, %.
    pub fn recommendation_pct(&self) -> f64 {
        100.0 * self.recommendation_right as f64 / self.procedures.max(1) as f64
    }

    /// Share of the ≥ 8 ms pairs ordered right, %.
    pub fn pairs_pct(&self) -> f64 {
        100.0 * self.pairs_right as f64 / self.pairs.max(1) as f64
    }

    /// QRSd error statistics of the complete sites whose true QRSd lies in `[lo, hi)` (the last
    /// band closed: 180 ms belongs to 160–180), at `fs_hz` or every rate.
    pub fn band(&self, (lo, hi): (f64, f64), fs_hz: Option<f64>) -> Option<ErrorStats> {
        let last = hi >= SITE_QRSD_RANGE_MS.1;
        let v: Vec<f64> = self
            .site_errors
            .iter()
            .filter(|e| fs_hz.is_none_or(|f| e.fs_hz == f))
            .filter(|e| {
                e.true_qrsd_ms >= lo && (e.true_qrsd_ms < hi || last && e.true_qrsd_ms <= hi)
            })
            .map(|e| e.qrsd_error_ms)
            .collect();
        ErrorStats::of(&v)
    }

    /// Statistics of one error field over the complete sites at `fs_hz` or every rate.
    pub fn all(
        &self,
        fs_hz: Option<f64>,
        field: fn(&SiteError) -> Option<f64>,
    ) -> Option<ErrorStats> {
        let v: Vec<f64> = self
            .site_errors
            .iter()
            .filter(|e| fs_hz.is_none_or(|f| e.fs_hz == f))
            .filter_map(field)
            .collect();
        ErrorStats::of(&v)
    }
}
