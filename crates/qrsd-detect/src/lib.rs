//! Streaming multi-lead QRS detection.
//!
//! The detector follows Pan & Tompkins (IEEE TBME 1985, doi:10.1109/TBME.1985.325532) adapted to many leads:
//! each lead is band-passed around the QRS energy (≈ 7–20 Hz), the absolute slopes are summed over leads
//! (µV/ms) so that a QRS that is small in one lead is still seen in the others, and a 100 ms moving-window
//! integral gives one envelope per beat. Envelope peaks are classified against adaptive signal/noise levels,
//! with a refractory period, a T-wave test (a peak within 360 ms of a QRS with less than half its slope) and
//! a search-back for missed beats after 1.66 mean RR intervals.
//!
//! It is push-based and causal: feed one conditioned frame per call; a [`Detection`] comes out a fixed time
//! (≤ [`QrsDetector::max_decision_delay_samples`]) after its R wave, with the R sample already expressed in
//! the input's sample count. Peaks of the first [`DetectorConfig::learning_ms`] are buffered to learn the
//! levels (their beats are reported once learning ends), so no beat at the start of a record is lost.
//! A live view must show beats within a second of start, so learning ends early ("early lock") at the
//! first peak that is unmistakably a QRS: past the filters' start-up, at least [`EARLY_LOCK_DOMINANCE`]
//! times every other peak seen so far and the same factor above the mean envelope. Anything less clear
//! (noise, artefact, a flat start) waits for the full period as before.
#![deny(missing_docs)]

use biquad::{Biquad, Coefficients, DirectForm2Transposed, ToHertz, Type};
use serde::{Deserialize, Serialize};

/// Detector settings (times in ms).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetectorConfig {
    /// Moving-window integration length.
    pub integration_ms: f64,
    /// No second QRS within this time of the previous one.
    pub refractory_ms: f64,
    /// A peak is final when no larger one came within this time.
    pub peak_hold_ms: f64,
    /// Longest initial learning period.
    pub learning_ms: f64,
    /// End learning at the first unmistakable QRS instead of waiting `learning_ms` (see [`QrsDetector`]).
    #[serde(default = "default_true")]
    pub early_lock: bool,
    /// A peak is also final once the envelope has fallen below this fraction of it (0 = only after
    /// `peak_hold_ms`); until `peak_hold_ms` after it, only a larger envelope starts a new peak, so the
    /// T-wave bumps the hold swallowed stay swallowed. A beat is then decided up to 30 ms sooner, so
    /// that the pipeline's early delineation window (150 ms after R) is what sets the delay.
    #[serde(default = "default_fall")]
    pub peak_fall_fraction: f64,
    /// ... and at least this long after it (a stimulus artefact's bump just before its QRS must still
    /// give way to the QRS).
    #[serde(default = "default_fall_hold")]
    pub peak_fall_hold_ms: f64,
    /// A peak with at least this fraction of the previous QRS's envelope is a beat even where its
    /// slope alone would make it a T wave (0 = the slope tests alone). A T wave is slow: what little
    /// of it passes the QRS band leaves a small envelope; a wide premature complex (a PVC on the T
    /// wave, an aberrant or small APC) has a QRS's envelope at a T wave's slope. MIT-BIH: the beats
    /// the slope tests missed have 0.35–0.8 (median 0.49); LUDB 74's paced T waves reach 0.42.
    #[serde(default = "default_t_wave_max_envelope")]
    pub t_wave_max_envelope_ratio: f64,
}

fn default_t_wave_max_envelope() -> f64 {
    0.5
}

fn default_fall() -> f64 {
    0.5
}
fn default_fall_hold() -> f64 {
    120.0
}

fn default_true() -> bool {
    true
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            integration_ms: 100.0,
            refractory_ms: 200.0,
            peak_hold_ms: 150.0,
            learning_ms: 2000.0,
            early_lock: true,
            peak_fall_fraction: default_fall(),
            peak_fall_hold_ms: default_fall_hold(),
            t_wave_max_envelope_ratio: default_t_wave_max_envelope(),
        }
    }
}

/// Errors in detector set-up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DetectError {
    /// Sampling rate unsupported.
    #[error("sampling rate {0} Hz is outside 100-10000 Hz")]
    SamplingRate(f64),
    /// No leads.
    #[error("at least one lead is needed")]
    NoLeads,
}

/// One detected QRS complex.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Sample of steepest multi-lead slope inside the QRS, in the input's sample count.
    pub r_sample: u64,
    /// Envelope peak height (summed |slope| µV/ms integrated), a relative confidence.
    pub strength: f64,
    /// Whether the beat was found by search-back at the lowered threshold.
    pub searchback: bool,
}

const BAND_CENTRE_HZ: f64 = 12.0;
/// A QRS this long or longer is wide (bundle-branch block, paced, ventricular), ms.
pub const WIDE_QRS_MS: f64 = 120.0;
/// Share of the way from the noise to the signal level a peak must reach where any lead is noisy.
const NOISY_THRESHOLD_SHARE: f64 = 0.5;
/// No search-back where every lead is noisy.
const NOISY_NO_SEARCHBACK: bool = true;
/// A search-back candidate has at least this share of the last QRS's envelope: a P wave in a sinus
/// pause or an AV block (MIT-BIH 232: 0.1–0.15) is no beat; the smallest labelled beats found by
/// search-back in MIT-BIH have 0.21. After a true amplitude drop the smaller beats are found by the
/// usual threshold once the signal level has fallen to them.
const SEARCHBACK_MIN_SHARE: f64 = 0.2;
/// Time-outs lower the signal level no further than this many times the noise level: in long pauses
/// (MIT-BIH 232: 2–6 s) it otherwise fell to the noise, and noise became beats.
const SPK_OVER_NOISE: f64 = 3.0;
/// Search-back takes a peak too small for a beat when it comes one mean RR (± this share) after the
/// last such peak, at its size (within this factor).
const SMALL_RHYTHM_RR_TOL: f64 = 0.2;
const SMALL_RHYTHM_SIZE_TOL: f64 = 1.5;
/// ... and stands this many times above every peak between the two.
const SMALL_RHYTHM_CLEAR: f64 = 2.0;
const BAND_Q: f64 = 0.8;
/// A lead's slope counts up to this many times its QRS slope (see `process`). MIT-BIH: 3 → 2 → 1.5
/// took false beats 144 → 124 → 111 → 103 for 11, 16, 19 fewer missed; 1.5 cost PPV in the noise
/// stress test (118 + 119 at 6 dB: 94.06 → 94.01 %), 2 cost nothing there.
const LEAD_SLOPE_CAP: f64 = 2.0;
/// Weight of one QRS in a lead's QRS slope (as of one peak in the signal level).
const LEAD_SLOPE_WEIGHT: f64 = 0.125;
/// The cap holds once this many QRSs taught the leads' slopes (until then they learn uncapped): a
/// recording's first detections may be a T wave or a beat cut by its start, and a cap learnt from
/// them held the real QRSs down to the T waves' size, which then passed for beats (LUDB 59 cut to
/// II + V5: 4 false beats with the cap from the first QRS, none from the fourth).
const LEAD_SLOPE_MIN_BEATS: u32 = 4;
/// Fixed-capacity peak memory (learning phase and search-back); beats beyond it are classified online.
const MAX_PEAKS: usize = 64;
/// Early lock: how far the first QRS must stand above every other peak and above the mean envelope.
pub const EARLY_LOCK_DOMINANCE: f64 = 3.0;
/// Early lock: no lock on a peak this close to the start (filter start-up transients, a half beat).
const EARLY_LOCK_SKIP_MS: f64 = 200.0;

#[derive(Debug, Clone, Copy, Default)]
struct Peak {
    /// Envelope-peak sample (detector time base, i.e. delayed).
    idx: u64,
    value: f64,
    /// Max summed slope within the integration window before the peak.
    slope: f64,
    /// Sample of that maximum slope.
    slope_idx: u64,
}

/// The streaming detector. Allocation-free after construction.
#[derive(Debug, Clone)]
pub struct QrsDetector {
    cfg: DetectorConfig,
    fs_hz: f64,
    bands: Vec<DirectForm2Transposed<f64>>,
    prev_band: Vec<f64>,
    /// Ring of summed slopes (µV/ms), long enough to look back over a held peak's integration window.
    slope_ring: Vec<f64>,
    /// Integration window in samples.
    win: usize,
    /// `peak_hold_ms` and `peak_fall_hold_ms` in samples (the per-sample loop converts nothing).
    hold: u64,
    fall_hold: u64,
    slope_sum: f64,
    n: u64,
    band_delay: f64,
    prev_env: f64,
    cand: Option<Peak>,
    /// A peak finalised by its fall keeps smaller envelope bumps from starting a peak until this index.
    hold_until: u64,
    /// ... unless they exceed its value.
    hold_value: f64,
    /// Peaks seen while learning, classified when learning ends.
    learn: [Peak; MAX_PEAKS],
    n_learn: usize,
    learning_done: bool,
    /// Learning ended early and peaks are still collected until `learning_ms` to re-seed the noise level.
    reseed_pending: bool,
    spk: f64,
    npk: f64,
    last_qrs: Option<Peak>,
    rr_mean: f64,
    /// Noise peaks since the last QRS, for search-back.
    noise: [Peak; MAX_PEAKS],
    n_noise: usize,
    learn_max: f64,
    /// The signal-quality stage finds some lead noisy or worse: a peak must stand further out of the
    /// noise (the envelope sums every lead's slope, so one noisy lead lifts its noise peaks) …
    noisy: bool,
    /// … and every lead: no search-back either (at half the threshold it picks noise; with a readable
    /// lead left it finds the beats a raised threshold missed).
    all_noisy: bool,
    /// Per lead: the steepest band-passed slope (µV/ms) since the last envelope peak was final, …
    lead_steepest: Vec<f64>,
    /// … and that of the last final peak (at `lead_last_idx`).
    lead_last: Vec<f64>,
    lead_last_idx: Option<u64>,
    /// Per lead: the steepest slope of its QRS, learnt over QRS found while no lead is noisy (0 =
    /// not yet known: no cap).
    lead_qrs_slope: Vec<f64>,
    /// QRSs that taught `lead_qrs_slope`: the cap holds from `LEAD_SLOPE_MIN_BEATS` on.
    lead_slope_beats: u32,
    /// Sum of the envelope over the learning period (for the early-lock mean).
    learn_env_sum: f64,
    /// The last beat delineated had a wide QRS ([`QrsDetector::set_last_beat_wide`]).
    last_wide: bool,
    /// The largest peak the last failed search-back found too small for a beat.
    small_prev: Option<Peak>,
    /// The largest peak since `small_prev`.
    small_gap: f64,
}

impl QrsDetector {
    /// A detector for `n_leads` leads sampled at `fs_hz`.
    pub fn new(cfg: DetectorConfig, fs_hz: f64, n_leads: usize) -> Result<Self, DetectError> {
        if !(100.0..=10_000.0).contains(&fs_hz) {
            return Err(DetectError::SamplingRate(fs_hz));
        }
        if n_leads == 0 {
            return Err(DetectError::NoLeads);
        }
        let c = Coefficients::<f64>::from_params(
            Type::BandPass,
            fs_hz.hz(),
            BAND_CENTRE_HZ.hz(),
            BAND_Q,
        )
        .map_err(|_| DetectError::SamplingRate(fs_hz))?;
        let win = ((cfg.integration_ms * fs_hz / 1000.0).round() as usize).max(1);
        let hold = (cfg.peak_hold_ms * fs_hz / 1000.0).round() as usize;
        // A resonant band-pass delays its centre frequency by 2Q/ω0 (group delay at the peak of the band).
        let band_delay = 2.0 * BAND_Q / (2.0 * std::f64::consts::PI * BAND_CENTRE_HZ) * fs_hz;
        Ok(Self {
            cfg,
            fs_hz,
            bands: vec![DirectForm2Transposed::<f64>::new(c); n_leads],
            prev_band: vec![0.0; n_leads],
            slope_ring: vec![0.0; win + hold + 2],
            win,
            hold: hold as u64,
            fall_hold: (cfg.peak_fall_hold_ms * fs_hz / 1000.0).round() as u64,
            slope_sum: 0.0,
            n: 0,
            band_delay,
            prev_env: 0.0,
            cand: None,
            hold_until: 0,
            hold_value: 0.0,
            learn: [Peak::default(); MAX_PEAKS],
            n_learn: 0,
            learning_done: false,
            reseed_pending: false,
            spk: 0.0,
            npk: 0.0,
            last_qrs: None,
            rr_mean: 0.0,
            noise: [Peak::default(); MAX_PEAKS],
            n_noise: 0,
            learn_max: 0.0,
            noisy: false,
            all_noisy: false,
            lead_steepest: vec![0.0; n_leads],
            lead_last: vec![0.0; n_leads],
            lead_last_idx: None,
            lead_qrs_slope: vec![0.0; n_leads],
            lead_slope_beats: 0,
            learn_env_sum: 0.0,
            last_wide: true,
            small_prev: None,
            small_gap: 0.0,
        })
    }

    fn ms(&self, ms: f64) -> u64 {
        (ms * self.fs_hz / 1000.0).round() as u64
    }

    /// Upper bound of the time from an R wave to its detection, in samples (after learning).
    pub fn max_decision_delay_samples(&self) -> u64 {
        self.win as u64 + self.ms(self.cfg.peak_hold_ms) + self.band_delay.ceil() as u64 + 1
    }

    /// Feed one frame of conditioned samples (µV, one per lead). Detections are appended to `out`
    /// (usually none, occasionally one; a burst when the learning period ends).
    pub fn process(&mut self, frame_uv: &[f64], out: &mut impl Extend<Detection>) {
        let scale = self.fs_hz / 1000.0; // per-sample difference → µV/ms
        let mut s = 0.0;
        let capped = self.lead_slope_beats >= LEAD_SLOPE_MIN_BEATS;
        for ((((band, prev), x), steepest), qrs) in self
            .bands
            .iter_mut()
            .zip(self.prev_band.iter_mut())
            .zip(frame_uv)
            .zip(self.lead_steepest.iter_mut())
            .zip(&self.lead_qrs_slope)
        {
            let y = band.run(*x);
            let mut d = (y - *prev).abs() * scale;
            // A lead's own QRS slopes stay within a few times its usual one (MIT-BIH: > 2× in 0.3 %
            // of the labelled beats, mostly PVCs, > 3× in 0.05 %, nearly all under artefacts); a rail
            // jump or an electrode's step is many times steeper (MIT-BIH 200's V1: 6–13×). Uncapped
            // it outweighs every other lead: a false beat that lifts the signal level, and the real
            // beat next to it taken for its T wave. A steeper QRS still counts twice its lead's usual.
            if capped && *qrs > 0.0 {
                d = d.min(LEAD_SLOPE_CAP * qrs);
            }
            s += d;
            *steepest = steepest.max(d);
            *prev = y;
        }
        let len = self.slope_ring.len();
        let leaving = if self.n >= self.win as u64 {
            self.slope_ring[(self.n as usize - self.win) % len]
        } else {
            0.0
        };
        self.slope_sum += s - leaving;
        self.slope_ring[self.n as usize % len] = s;
        let env = self.slope_sum.max(0.0) / self.win as f64;
        let idx = self.n;
        self.n += 1;
        if !self.learning_done {
            self.learn_env_sum += env;
        }

        // Track the current envelope peak; a new candidate only starts on a rising envelope.
        match &mut self.cand {
            Some(c) if env > c.value => {
                c.value = env;
                c.idx = idx;
            }
            None if env > self.prev_env && (idx >= self.hold_until || env > self.hold_value) => {
                self.cand = Some(Peak {
                    idx,
                    value: env,
                    ..Peak::default()
                })
            }
            _ => {}
        }
        self.prev_env = env;
        let hold = self.hold;
        if let Some(c) = self.cand {
            let fell = env < self.cfg.peak_fall_fraction * c.value && idx >= c.idx + self.fall_hold;
            if idx >= c.idx + hold || fell {
                self.cand = None;
                if idx < c.idx + hold {
                    self.hold_until = c.idx + hold;
                    self.hold_value = c.value;
                }
                let peak = self.with_slope(c);
                self.lead_last.copy_from_slice(&self.lead_steepest);
                self.lead_steepest.fill(0.0);
                self.lead_last_idx = Some(peak.idx);
                self.on_peak(peak, out);
            }
        }
        if idx >= self.ms(self.cfg.learning_ms) {
            if !self.learning_done {
                self.end_learning(out);
            } else if self.reseed_pending {
                // After an early lock the levels were seeded from very few peaks: seed them again from
                // the whole learning period, as a full-length learning would have (never lowering them).
                self.reseed_pending = false;
                let (spk, npk) = self.seed_levels();
                self.spk = self.spk.max(spk);
                self.npk = self.npk.max(npk);
            }
        }
        if self.learning_done {
            self.searchback(idx, out);
        }
    }

    /// Flush at the end of a record: the peak being tracked is decided now.
    pub fn finish(&mut self, out: &mut impl Extend<Detection>) {
        if let Some(c) = self.cand.take() {
            let peak = self.with_slope(c);
            self.on_peak(peak, out);
        }
        if !self.learning_done {
            self.end_learning(out);
        }
    }

    /// Locate the steepest summed slope of the window that produced envelope peak `c`.
    fn with_slope(&self, mut c: Peak) -> Peak {
        let len = self.slope_ring.len() as u64;
        let newest = self.n - 1;
        let first = c
            .idx
            .saturating_sub(self.win as u64 - 1)
            .max((newest + 1).saturating_sub(len));
        let (mut best, mut best_i) = (f64::MIN, c.idx);
        for i in first..=c.idx {
            let v = self.slope_ring[(i % len) as usize];
            if v > best {
                best = v;
                best_i = i;
            }
        }
        c.slope = best;
        c.slope_idx = best_i;
        c
    }

    fn detection(&self, p: &Peak, searchback: bool) -> Detection {
        let r = (p.slope_idx as f64 - self.band_delay).round().max(0.0) as u64;
        Detection {
            r_sample: r,
            strength: p.value,
            searchback,
        }
    }

    fn on_peak(&mut self, p: Peak, out: &mut impl Extend<Detection>) {
        if !self.learning_done {
            self.learn_max = self.learn_max.max(p.value);
            if self.n_learn < MAX_PEAKS {
                self.learn[self.n_learn] = p;
                self.n_learn += 1;
            }
            if self.cfg.early_lock && self.unmistakable_qrs() {
                self.reseed_pending = true;
                self.end_learning(out);
            }
            return;
        }
        if self.reseed_pending {
            self.learn_max = self.learn_max.max(p.value);
            if self.n_learn < MAX_PEAKS {
                self.learn[self.n_learn] = p;
                self.n_learn += 1;
            }
        }
        self.classify(p, false, out);
    }

    fn threshold(&self) -> f64 {
        let share = if self.noisy {
            NOISY_THRESHOLD_SHARE
        } else {
            0.25
        };
        self.npk + share * (self.spk - self.npk)
    }

    /// Whether some lead (`some_lead`) and every lead (`every_lead`) is noisy or worse now (the
    /// pipeline's signal-quality stage): some raises the threshold, every also suspends search-back,
    /// until cleared.
    pub fn set_noisy(&mut self, some_lead: bool, every_lead: bool) {
        self.noisy = some_lead || every_lead;
        self.all_noisy = every_lead;
    }

    /// A QRS found online where no lead is noisy teaches each lead's QRS slope.
    fn learn_lead_slopes(&mut self, p: &Peak) {
        if self.noisy || self.lead_last_idx != Some(p.idx) {
            return;
        }
        for (qrs, last) in self.lead_qrs_slope.iter_mut().zip(&self.lead_last) {
            *qrs = if self.lead_slope_beats == 0 {
                *last
            } else {
                *qrs + LEAD_SLOPE_WEIGHT * (last - *qrs)
            };
        }
        self.lead_slope_beats = self.lead_slope_beats.saturating_add(1);
    }

    /// Whether the last beat delineated had a wide QRS (≥ [`WIDE_QRS_MS`]; told by whoever delineates,
    /// as it is known): after a wide QRS, T waves come tall and late. Until told, a QRS counts as wide,
    /// so that the later T-wave test stays on.
    pub fn set_last_beat_wide(&mut self, wide: bool) {
        self.last_wide = wide;
    }

    fn classify(&mut self, p: Peak, searchback: bool, out: &mut impl Extend<Detection>) {
        let thr = if searchback {
            0.5 * self.threshold()
        } else {
            self.threshold()
        };
        let is_qrs = p.value > thr && !self.refractory_or_t_wave(&p);
        if is_qrs {
            if !searchback {
                self.learn_lead_slopes(&p);
            }
            self.accept(p, searchback, out);
        } else if !searchback {
            self.npk = 0.125 * p.value + 0.875 * self.npk;
            if self.n_noise < MAX_PEAKS {
                self.noise[self.n_noise] = p;
                self.n_noise += 1;
            }
        }
    }

    /// Peak `p` is a QRS: levels, rhythm and memory follow it, and it is reported.
    fn accept(&mut self, p: Peak, searchback: bool, out: &mut impl Extend<Detection>) {
        if let Some(last) = self.last_qrs {
            let rr = (p.slope_idx - last.slope_idx.min(p.slope_idx)) as f64;
            self.rr_mean = if self.rr_mean == 0.0 {
                rr
            } else {
                0.875 * self.rr_mean + 0.125 * rr
            };
        }
        self.spk = if searchback {
            0.5 * p.value + 0.5 * self.spk
        } else {
            0.125 * p.value + 0.875 * self.spk
        };
        self.last_qrs = Some(p);
        self.n_noise = 0;
        self.small_prev = None;
        out.extend(std::iter::once(self.detection(&p, searchback)));
    }

    fn refractory_or_t_wave(&self, p: &Peak) -> bool {
        let Some(last) = self.last_qrs else {
            return false;
        };
        let dt = p.slope_idx.saturating_sub(last.slope_idx);
        if p.slope_idx <= last.slope_idx || dt < self.ms(self.cfg.refractory_ms) {
            return true;
        }
        // Pan-Tompkins test T waves within 360 ms at half the slope. After a wide QRS (paced,
        // bundle-branch block) or where a lead is noisy, later peaks are T waves too: up to 500 ms a
        // much flatter one (< 30 % of the slope), and in the first half of the usual RR (< 600 ms) one
        // with less than half the slope: repolarisation after a wide QRS makes tall late T waves
        // (LUDB 74's paced T waves, 360–460 ms). After a narrow QRS the T wave's steep part is over
        // by 360 ms, and such a peak is a small premature beat (MIT-BIH 201's aberrated APCs at
        // 360–600 ms with 0.26–0.31 of the QRS slope: without the < 30 % test after a narrow QRS,
        // 13 more labelled beats in the 39 records for one more false one, LUDB unchanged).
        let very_early = self.rr_mean > 0.0 && (dt as f64) < 0.5 * self.rr_mean;
        let late_t = self.last_wide || self.noisy;
        let t_like = (dt < self.ms(360.0) && p.slope < 0.5 * last.slope)
            || (late_t && dt < self.ms(500.0) && p.slope < 0.3 * last.slope)
            || (late_t && very_early && dt < self.ms(600.0) && p.slope < 0.5 * last.slope);
        // Not where a lead is noisy: noise inflates the envelope, not the slope of a T wave.
        let ratio = self.cfg.t_wave_max_envelope_ratio;
        t_like && (self.noisy || !(ratio > 0.0 && p.value >= ratio * last.value))
    }

    /// Whether the largest learning peak is clearly a QRS (see the module docs), so learning may end now.
    fn unmistakable_qrs(&self) -> bool {
        let peaks = &self.learn[..self.n_learn];
        let Some(best) = peaks
            .iter()
            .copied()
            .max_by(|a, b| a.value.total_cmp(&b.value))
        else {
            return false;
        };
        if best.slope_idx < self.ms(EARLY_LOCK_SKIP_MS) || best.value <= 0.0 {
            return false;
        }
        // Peaks within the refractory period of the best are parts of the same (wide) QRS.
        let refractory = self.ms(self.cfg.refractory_ms);
        let others_low = peaks
            .iter()
            .filter(|p| p.slope_idx.abs_diff(best.slope_idx) >= refractory)
            .all(|p| p.value * EARLY_LOCK_DOMINANCE <= best.value);
        let mean_env = self.learn_env_sum / self.n.max(1) as f64;
        others_low && best.value >= EARLY_LOCK_DOMINANCE * mean_env
    }

    /// Signal and noise levels from the learning peaks: the signal level is the larger peaks' height,
    /// below-median peaks (T waves, noise) seed the noise level.
    fn seed_levels(&self) -> (f64, f64) {
        let n = self.n_learn;
        let mut sorted = self.learn;
        sorted[..n].sort_by(|a, b| a.value.total_cmp(&b.value));
        let npk = if n > 2 {
            sorted[n / 4].value.min(0.25 * self.learn_max)
        } else {
            0.0
        };
        (0.5 * self.learn_max, npk)
    }

    fn end_learning(&mut self, out: &mut impl Extend<Detection>) {
        self.learning_done = true;
        (self.spk, self.npk) = self.seed_levels();
        let n = self.n_learn;
        let learned = self.learn;
        for p in &learned[..n] {
            self.classify(*p, false, out);
        }
    }

    fn searchback(&mut self, now: u64, out: &mut impl Extend<Detection>) {
        let Some(last) = self.last_qrs else { return };
        if self.rr_mean <= 0.0 || self.n_noise == 0 || (self.all_noisy && NOISY_NO_SEARCHBACK) {
            return;
        }
        let limit = (1.66 * self.rr_mean) as u64;
        if now <= last.slope_idx + limit + self.ms(self.cfg.peak_hold_ms) + self.win as u64 {
            return;
        }
        // Largest noise peak since the last QRS that is outside the refractory period, and the largest
        // of those too small for a beat.
        let mut best: Option<Peak> = None;
        let mut small: Option<Peak> = None;
        // Against the last QRS; only once the signal level has fallen far below it (time-outs in a
        // row, as after an amplitude drop, not the one or two of a pause) does the floor fall too.
        let floor = SEARCHBACK_MIN_SHARE * last.value.min(4.0 * self.spk);
        let after = last.slope_idx + self.ms(self.cfg.refractory_ms);
        for p in self.noise[..self.n_noise]
            .iter()
            .filter(|p| p.slope_idx > after)
        {
            let slot = if p.value >= floor {
                &mut best
            } else {
                &mut small
            };
            if slot.is_none_or(|b| p.value > b.value) {
                *slot = Some(*p);
            }
        }
        // The peaks around the small one: before it (in the gap since the last small one), after it.
        let (mut before_small, mut after_small) = (0.0_f64, 0.0_f64);
        if let Some(sm) = small {
            for p in self.noise[..self.n_noise]
                .iter()
                .filter(|p| p.slope_idx > after)
            {
                if p.slope_idx < sm.slope_idx {
                    before_small = before_small.max(p.value);
                } else if p.slope_idx > sm.slope_idx {
                    after_small = after_small.max(p.value);
                }
            }
        }
        self.n_noise = 0;
        let before = self.last_qrs.map(|q| q.slope_idx);
        if let Some(b) = best {
            self.classify(b, true, out);
        }
        if self.last_qrs.map(|q| q.slope_idx) == before {
            if let Some(sm) = small {
                self.small_rhythm(sm, before_small, after_small, now, out);
            }
        }
        // Nothing passed even the search-back threshold: the signal level may have been learned on
        // larger beats than the present ones (pacing started, electrodes moved, gain changed). It
        // halves at each such time-out, but not below 3x the noise level: a long pause would bring it
        // down to the noise, and noise would become beats (MIT-BIH 232). Beats smaller than that are
        // found by their rhythm (`small_rhythm`).
        if self.last_qrs.map(|q| q.slope_idx) == before {
            self.spk = (0.5 * self.spk)
                .max(SPK_OVER_NOISE * self.npk)
                .min(self.spk);
        }
    }

    /// Search-back found only `sm` (too small for a beat; the largest peaks before and after it
    /// since the last time-out are given). When it comes one mean RR after the last such peak, at
    /// its size, and stands out of every peak between them, the rhythm goes on in smaller beats
    /// (pacing started, electrodes moved, gain changed) that the levels learned on the larger ones
    /// would keep missing: it is a beat, and the levels are set from it. Noise and P waves in a
    /// pause do not repeat at the RR at one size, clear of the peaks between.
    fn small_rhythm(
        &mut self,
        sm: Peak,
        before_small: f64,
        after_small: f64,
        now: u64,
        out: &mut impl Extend<Detection>,
    ) {
        let fresh = self
            .small_prev
            .filter(|q| ((now - q.slope_idx.min(now)) as f64) <= 1.5 * self.rr_mean);
        if let Some(q) = fresh {
            let gap = self.small_gap.max(before_small);
            let dt = sm.slope_idx.saturating_sub(q.slope_idx) as f64;
            let size = sm.value / q.value.max(f64::MIN_POSITIVE);
            if (dt - self.rr_mean).abs() <= SMALL_RHYTHM_RR_TOL * self.rr_mean
                && (1.0 / SMALL_RHYTHM_SIZE_TOL..=SMALL_RHYTHM_SIZE_TOL).contains(&size)
                && sm.value >= SMALL_RHYTHM_CLEAR * gap
            {
                self.npk = self.npk.min(sm.value / SMALL_RHYTHM_CLEAR);
                self.spk = sm.value;
                self.accept(sm, true, out);
                return;
            }
            if sm.value < q.value {
                // The last small peak stays the reference; this one lies in the gap.
                self.small_gap = self
                    .small_gap
                    .max(before_small)
                    .max(sm.value)
                    .max(after_small);
                return;
            }
        }
        self.small_prev = Some(sm);
        self.small_gap = after_small;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Detections on 1 lead at 500 Hz: 1 mV triangles every 800 ms and, midway between them, a
    /// triangle of `bump` µV (an artefact), with the detector told some or every lead is noisy or not.
    fn detections_with_bumps(bump: f64, some: bool, every: bool) -> usize {
        let fs = 500.0;
        let (mut x, rs) = train(fs, 800.0, 30, 1000.0);
        let half = (0.04 * fs) as usize;
        for r in &rs[..rs.len() - 1] {
            let c = *r as usize + 200;
            for k in 0..half {
                let v = bump * (1.0 - k as f64 / half as f64);
                x[c + k] += v;
                x[c - k] += v;
            }
        }
        detect_noisy(&x, fs, DetectorConfig::default(), some, every).len()
    }

    #[test]
    fn where_every_lead_is_noisy_a_peak_must_stand_further_out() {
        // 45 % of the QRS: a beat for the usual threshold (a quarter of the way from the noise to
        // the signal level), not where the quality stage finds every lead noisy (half of the way).
        let plain = detections_with_bumps(450.0, false, false);
        let noisy = detections_with_bumps(450.0, true, true);
        assert!(plain >= 50, "{plain}");
        assert!((30..=35).contains(&noisy), "{noisy}");
    }

    /// Detections of a 1 mV train on 1 lead at 500 Hz in which beats 20–23 are a third as tall.
    fn detections_with_small_beats(some: bool, every: bool) -> usize {
        let fs = 500.0;
        let (mut x, rs) = train(fs, 800.0, 30, 1000.0);
        for r in &rs[20..24] {
            let r = *r as usize;
            for v in &mut x[r - 30..r + 30] {
                *v /= 3.0;
            }
        }
        detect_noisy(&x, fs, DetectorConfig::default(), some, every).len()
    }

    #[test]
    fn search_back_stays_on_while_some_lead_is_readable() {
        // The small beats fall under the raised threshold; search-back finds them unless every lead
        // is noisy.
        let some = detections_with_small_beats(true, false);
        let every = detections_with_small_beats(true, true);
        assert_eq!(some, 30, "{some}");
        assert!(every < some, "{every}");
    }

    /// Narrow triangle "QRS" trains with known R times.
    fn train(fs: f64, rr_ms: f64, n_beats: usize, amp: f64) -> (Vec<f64>, Vec<u64>) {
        let rr = (rr_ms * fs / 1000.0) as usize;
        let half = (0.04 * fs) as usize;
        let mut x = vec![0.0; rr * (n_beats + 1)];
        let mut rs = Vec::new();
        for b in 0..n_beats {
            let r = rr / 2 + b * rr;
            rs.push(r as u64);
            for k in 0..half {
                let v = amp * (1.0 - k as f64 / half as f64);
                x[r + k] = v;
                x[r - k] = v;
            }
            // A broad low T wave 300 ms later.
            let t = r + (0.3 * fs) as usize;
            let tw = (0.1 * fs) as usize;
            for k in 0..tw {
                let v = 0.2 * amp * (std::f64::consts::PI * k as f64 / tw as f64).sin();
                if t + k < x.len() {
                    x[t + k] += v;
                }
            }
        }
        (x, rs)
    }

    /// Every detection of `x` (one lead at `fs`) with settings `cfg`, the record finished; the
    /// quality stage finds some / every lead noisy from 4 s on (after the learning period).
    fn detect_noisy(
        x: &[f64],
        fs: f64,
        cfg: DetectorConfig,
        some: bool,
        every: bool,
    ) -> Vec<Detection> {
        let mut d = QrsDetector::new(cfg, fs, 1).unwrap();
        let mut out = Vec::new();
        let after = (4.0 * fs) as usize;
        for (i, v) in x.iter().enumerate() {
            d.set_noisy(some && i > after, every && i > after);
            d.process(&[*v], &mut out);
        }
        d.finish(&mut out);
        out
    }

    /// Every detection of `x` (one lead) with the default settings, the record finished.
    fn detect_all(x: &[f64], fs: f64) -> Vec<Detection> {
        detect_noisy(x, fs, DetectorConfig::default(), false, false)
    }

    #[test]
    fn finds_every_beat_of_a_clean_train_at_several_rates() {
        for fs in [250.0, 360.0, 500.0, 1000.0, 2000.0] {
            for rr_ms in [400.0, 800.0, 1400.0] {
                let (x, rs) = train(fs, rr_ms, 12, 1000.0);
                let out = detect_all(&x, fs);
                // The steepest slope lies on a flank (±40 ms of the apex) ; the pipeline refines R later.
                let tol = (0.06 * fs) as i64;
                assert_eq!(out.len(), rs.len(), "fs {fs} rr {rr_ms}: {:?}", out);
                for (det, r) in out.iter().zip(&rs) {
                    assert!(
                        (det.r_sample as i64 - *r as i64).abs() <= tol,
                        "fs {fs}: {} vs {r}",
                        det.r_sample
                    );
                }
            }
        }
    }

    #[test]
    fn a_small_first_detection_does_not_cap_the_real_qrs_down_to_its_t_waves() {
        // LUDB 59 cut to II + V5: the first detection is a small wave, the QRSs are steep and
        // their T waves tall and slow. Learnt from the first detection alone, the cap held the QRSs
        // down to the T waves' envelope and the T waves passed for beats.
        let fs = 500.0;
        let rr = 500; // 1000 ms
        let mut x = vec![0.0; rr * 12];
        add_triangle(&mut x, fs, 100, 60.0, 250.0);
        let mut n = 1;
        for b in 0..11 {
            let r = 400 + b * rr;
            add_triangle(&mut x, fs, r, 30.0, 1000.0);
            add_triangle(&mut x, fs, r + 150, 140.0, 700.0);
            n += 1;
        }
        let out = detect_with(&x, DetectorConfig::default());
        assert!(
            out.len() <= n && out.len() + 1 >= n,
            "{} detections for {n} complexes",
            out.len()
        );
    }

    /// A 2-lead train at 360 Hz (1 mV in lead 0, 0.3 mV in lead 1, RR 800 ms), and from beat 10 on
    /// before every other beat a rail jump in lead 1: a 3 mV excursion of 100 ms ending 180 ms
    /// before the R, lead 1 labelled noisy from then on. Returns the detections and the true R
    /// samples.
    fn detections_with_rail_jumps() -> (Vec<Detection>, Vec<u64>) {
        let fs = 360.0;
        let (lead0, rs) = train(fs, 800.0, 40, 1000.0);
        let (mut lead1, _) = train(fs, 800.0, 40, 300.0);
        let ms = |v: f64| (v * fs / 1000.0) as usize;
        for r in rs.iter().skip(10).step_by(2) {
            let end = *r as usize - ms(180.0);
            for v in &mut lead1[end - ms(100.0)..end] {
                *v += 3000.0;
            }
        }
        // The quality stage finds lead 1 noisy from the first jump on.
        let noisy_from = rs[10] as usize - ms(400.0);
        let mut d = QrsDetector::new(DetectorConfig::default(), fs, 2).unwrap();
        let mut out = Vec::new();
        for (i, (a, b)) in lead0.iter().zip(&lead1).enumerate() {
            d.set_noisy(i >= noisy_from, false);
            d.process(&[*a, *b], &mut out);
        }
        d.finish(&mut out);
        (out, rs)
    }

    #[test]
    fn a_rail_jump_in_one_lead_does_not_hide_the_next_beat() {
        // Uncapped, the jump's slope in lead 1 (10× that of its QRS) outweighs both leads' QRS: it is
        // taken for a beat, and the real beat 180 ms on for its T wave. Capped at twice lead 1's QRS
        // slope it is smaller than a QRS, and every beat is found.
        let (out, rs) = detections_with_rail_jumps();
        let tol = 22; // 60 ms
        let found = rs
            .iter()
            .filter(|r| out.iter().any(|d| d.r_sample.abs_diff(**r) <= tol))
            .count();
        assert_eq!(found, rs.len(), "{out:?}");
    }

    /// Sample index at which each detection came out.
    fn emitted_at(x: &[f64], cfg: DetectorConfig, fs: f64) -> Vec<(u64, Detection)> {
        let mut d = QrsDetector::new(cfg, fs, 1).unwrap();
        let mut out = Vec::new();
        let mut at = Vec::new();
        for (i, v) in x.iter().enumerate() {
            d.process(&[*v], &mut out);
            at.extend(out.drain(..).map(|det| (i as u64, det)));
        }
        at
    }

    #[test]
    fn early_lock_reports_the_first_clear_beat_without_waiting_for_the_learning_period() {
        for fs in [250.0, 500.0, 1000.0] {
            let (x, rs) = train(fs, 800.0, 6, 1000.0);
            let det = QrsDetector::new(DetectorConfig::default(), fs, 1).unwrap();
            let max_delay = det.max_decision_delay_samples();
            let at = emitted_at(&x, DetectorConfig::default(), fs);
            assert_eq!(at.len(), rs.len(), "fs {fs}");
            // The first R is at 400 ms: it comes out one decision delay later, not after 2 s of learning.
            assert!(
                at[0].0 <= rs[0] + max_delay,
                "fs {fs}: first beat out at {}",
                at[0].0
            );
            let late = DetectorConfig {
                early_lock: false,
                ..DetectorConfig::default()
            };
            let at_late = emitted_at(&x, late, fs);
            assert!(at_late[0].0 as f64 >= 2.0 * fs - 1.0, "fs {fs}");
            // Same beats either way.
            let r = |v: &[(u64, Detection)]| v.iter().map(|(_, d)| d.r_sample).collect::<Vec<_>>();
            assert_eq!(r(&at), r(&at_late), "fs {fs}");
        }
    }

    #[test]
    fn a_peak_whose_envelope_has_fallen_is_reported_before_the_full_hold() {
        for fs in [250.0, 500.0, 1000.0] {
            let (x, rs) = train(fs, 800.0, 10, 1000.0);
            let hold_only = DetectorConfig {
                peak_fall_fraction: 0.0,
                ..DetectorConfig::default()
            };
            let (fall, full) = (
                emitted_at(&x, DetectorConfig::default(), fs),
                emitted_at(&x, hold_only, fs),
            );
            let r = |v: &[(u64, Detection)]| v.iter().map(|(_, d)| d.r_sample).collect::<Vec<_>>();
            assert_eq!(fall.len(), rs.len(), "fs {fs}");
            assert_eq!(r(&fall), r(&full), "fs {fs}: same beats");
            // After learning, each beat comes out when its envelope has halved (≥ 120 ms after the
            // envelope peak), not 150 ms after it: 30 ms sooner here (one sample of rounding).
            for ((a, _), (b, _)) in fall.iter().zip(&full).skip(3) {
                let sooner_ms = (*b as f64 - *a as f64) * 1000.0 / fs;
                assert!(
                    (26.0..=34.0).contains(&sooner_ms),
                    "fs {fs}: {sooner_ms} ms sooner"
                );
            }
        }
    }

    #[test]
    fn beats_after_a_tenfold_amplitude_drop_are_found_again_within_four_beats() {
        // Pacing starting after an intrinsic baseline, or electrodes moved: the QRS slope drops 10x.
        // (Before the signal level decayed on failed search-backs, every later beat was lost. Since
        // it stops at 3x the noise level, search-back's small-rhythm rule finds them.)
        for fs in [360.0, 500.0, 1000.0] {
            let (tall, rs_tall) = train(fs, 800.0, 12, 1000.0);
            let (small, rs_small) = train(fs, 800.0, 12, 100.0);
            let mut x = tall.clone();
            x.extend(&small);
            let shift = tall.len() as u64;
            let out = detect_all(&x, fs);
            let tol = (0.06 * fs) as i64;
            let found = |r: u64| {
                out.iter()
                    .any(|det| (det.r_sample as i64 - r as i64).abs() <= tol)
            };
            assert!(rs_tall.iter().all(|r| found(*r)), "fs {fs}: tall beats");
            let missed: Vec<u64> = rs_small
                .iter()
                .map(|r| r + shift)
                .filter(|r| !found(*r))
                .collect();
            assert!(
                missed.len() <= 2,
                "fs {fs}: missed {missed:?} after the drop"
            );
            assert!(
                missed.iter().all(|r| *r <= shift + rs_small[3]),
                "fs {fs}: late misses {missed:?}"
            );
        }
    }

    #[test]
    fn no_early_lock_on_noise_or_when_peaks_are_alike() {
        let fs = 500.0;
        // Broadband noise (deterministic LCG) with no dominant peak: learning runs its full length.
        let mut seed = 12345u64;
        let noise: Vec<f64> = (0..3000)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((seed >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 200.0
            })
            .collect();
        let mut d = QrsDetector::new(DetectorConfig::default(), fs, 1).unwrap();
        let mut out = Vec::new();
        for (i, v) in noise.iter().enumerate() {
            d.process(&[*v], &mut out);
            if i < 999 {
                assert!(!d.learning_done, "locked on noise at sample {i}");
            }
        }
        // A start-up transient bigger than the beats: no lock on it (too early) nor on the beats (not
        // dominant), so the full learning period decides.
        let (mut x, _) = train(fs, 500.0, 6, 1000.0);
        for v in x.iter_mut().take(40) {
            *v += 3000.0;
        }
        let at = emitted_at(&x, DetectorConfig::default(), fs);
        assert!(!at.is_empty());
        assert!(
            at[0].0 as f64 >= 2.0 * fs - 1.0,
            "locked early at {:?}",
            at[0]
        );
    }

    /// Adds a triangle of half-width `half_ms` and height `amp` centred on sample `at`.
    fn add_triangle(x: &mut [f64], fs: f64, at: usize, half_ms: f64, amp: f64) {
        let half = (half_ms * fs / 1000.0) as usize;
        for k in 0..half {
            let v = amp * (1.0 - k as f64 / half as f64);
            x[at + k] += v;
            if k > 0 {
                x[at - k] += v;
            }
        }
    }

    #[test]
    fn tall_early_t_waves_are_not_beats_but_steep_premature_beats_are() {
        let fs = 500.0;
        let rr = 500; // 1000 ms
        let mut x = vec![0.0; rr * 12];
        let mut beats = Vec::new();
        for b in 0..11 {
            let r = rr / 2 + b * rr;
            beats.push(r);
            add_triangle(&mut x, fs, r, 40.0, 1000.0);
            // Once the RR is known, a tall paced-like T wave 380 ms on (past the 360 ms test) with 40 % of
            // the QRS slope (above the 30 % test up to 500 ms).
            if b >= 4 {
                add_triangle(&mut x, fs, r + 190, 40.0, 400.0);
            }
        }
        let mut d = QrsDetector::new(DetectorConfig::default(), fs, 1).unwrap();
        let mut out = Vec::new();
        for v in &x {
            d.process(&[*v], &mut out);
        }
        d.finish(&mut out);
        assert_eq!(out.len(), beats.len(), "T waves taken as beats: {out:?}");

        // A premature beat at 45 % of the RR, as steep as the others, is kept.
        let y = train_with_one_more(rr, 225, 40.0, 1000.0);
        let n_beats = TRAIN_BEATS + 1;
        let mut d = QrsDetector::new(DetectorConfig::default(), fs, 1).unwrap();
        let mut out = Vec::new();
        for v in &y {
            d.process(&[*v], &mut out);
        }
        d.finish(&mut out);
        assert_eq!(out.len(), n_beats, "{out:?}");
    }

    #[test]
    fn after_a_narrow_qrs_a_small_complex_late_in_the_first_half_of_the_rr_is_a_beat() {
        // 520 ms on (past the 500 ms test, in the first half of the RR): a small complex with 43 % of
        // the QRS slope and 30 % of its envelope, as MIT-BIH 201's aberrated APCs.
        late_small_complex_is_a_beat_only_after_a_narrow_qrs(260, 28.0, 300.0);
    }

    #[test]
    fn after_a_narrow_qrs_a_flat_complex_400_ms_on_is_a_beat() {
        // 400 ms on, with 28 % of the QRS slope (also as 201's aberrated APCs): within 500 ms such a
        // peak is a T wave only after a wide QRS.
        late_small_complex_is_a_beat_only_after_a_narrow_qrs(200, 60.0, 420.0);
    }

    /// Beats of [`train_with_one_more`].
    const TRAIN_BEATS: usize = 11;

    /// `TRAIN_BEATS` triangles (half-width 40 ms, 1 mV) every `rr` samples at 500 Hz, and `after`
    /// samples after the 7th one more triangle (`half_ms`, `amp_uv`).
    fn train_with_one_more(rr: usize, after: usize, half_ms: f64, amp_uv: f64) -> Vec<f64> {
        let fs = 500.0;
        let mut x = vec![0.0; rr * (TRAIN_BEATS + 1)];
        for b in 0..TRAIN_BEATS {
            let r = rr / 2 + b * rr;
            add_triangle(&mut x, fs, r, 40.0, 1000.0);
            if b == 6 {
                add_triangle(&mut x, fs, r + after, half_ms, amp_uv);
            }
        }
        x
    }

    /// A train every 1400 ms with a smaller complex (`half_ms`, `amp_uv`) `after` samples after the
    /// 7th beat: a beat after a narrow QRS, not after a wide one.
    fn late_small_complex_is_a_beat_only_after_a_narrow_qrs(
        after: usize,
        half_ms: f64,
        amp_uv: f64,
    ) {
        let fs = 500.0;
        let x = train_with_one_more(700, after, half_ms, amp_uv); // RR 1400 ms
        let n_beats = TRAIN_BEATS;
        let detect = |wide: bool| {
            let mut d = QrsDetector::new(DetectorConfig::default(), fs, 1).unwrap();
            d.set_last_beat_wide(wide);
            let mut out = Vec::new();
            for v in &x {
                d.process(&[*v], &mut out);
            }
            d.finish(&mut out);
            out.len()
        };
        // After a narrow QRS it is a beat; after a wide one it could be the tall late T wave.
        assert_eq!(detect(false), n_beats + 1);
        assert_eq!(detect(true), n_beats);
    }

    /// Detections of 1 lead at 500 Hz with the given settings, the record finished.
    fn detect_with(x: &[f64], cfg: DetectorConfig) -> Vec<Detection> {
        detect_noisy(x, 500.0, cfg, false, false)
    }

    #[test]
    fn a_wide_premature_complex_on_the_t_wave_is_a_beat() {
        // MIT-BIH 233: sharp QRSs (here 40 ms, 1.5 mV) and PVCs 350 ms after them, smooth and wide
        // (one 150 ms sine period, 1 mV): under half the QRS's steepest slope (the T-wave test) but
        // with more than half its envelope.
        let fs = 500.0;
        let mut x = vec![0.0; 12 * 500];
        let rs: Vec<usize> = (0..11).map(|b| 250 + b * 500).collect();
        for r in &rs {
            add_triangle(&mut x, fs, *r, 20.0, 1500.0);
        }
        let pvc = rs[7] + (0.35 * fs) as usize;
        let w = (0.15 * fs) as usize;
        for k in 0..w {
            x[pvc - w / 2 + k] += 1000.0 * (2.0 * std::f64::consts::PI * k as f64 / w as f64).sin();
        }
        let near = |out: &[Detection]| {
            out.iter()
                .any(|d| (d.r_sample as i64 - pvc as i64).abs() <= (0.06 * fs) as i64)
        };
        let found = detect_with(&x, DetectorConfig::default());
        assert!(near(&found), "PVC missed: {found:?}");
        assert_eq!(found.len(), rs.len() + 1, "{found:?}");
        // Its slope alone makes it a T wave: the envelope rule is what finds it.
        let slope_only = detect_with(
            &x,
            DetectorConfig {
                t_wave_max_envelope_ratio: 0.0,
                ..DetectorConfig::default()
            },
        );
        assert!(!near(&slope_only), "{slope_only:?}");
    }

    #[test]
    fn search_back_takes_no_p_wave_in_a_pause() {
        // A 3 s sinus pause after 800 ms beats, with a sharp P wave (15 % of the QRS's height) in
        // it: search-back looks there (past 1.66 RR) and must not take it for a beat.
        let fs = 500.0;
        let (x, rs) = train(fs, 800.0, 8, 1000.0);
        let mut y = x[..rs[5] as usize + 200].to_vec();
        let pause = (3.0 * fs) as usize;
        let p_wave = y.len() + pause / 2;
        y.resize(y.len() + pause, 0.0);
        add_triangle(&mut y, fs, p_wave, 40.0, 150.0);
        let resume = y.len();
        y.extend(&x[rs[5] as usize - 200..]);
        let out = detect_with(&y, DetectorConfig::default());
        assert!(
            !out.iter()
                .any(|d| (d.r_sample as i64 - p_wave as i64).abs() <= (0.1 * fs) as i64),
            "P wave taken for a beat: {out:?}"
        );
        let after = rs.len() - 5;
        assert_eq!(
            out.iter().filter(|d| d.r_sample as usize >= resume).count(),
            after,
            "{out:?}"
        );
    }

    #[test]
    fn noise_in_a_long_pause_stays_noise() {
        // MIT-BIH 232: sinus pauses of 2–6 s with low noise in them. Time-outs lower the signal
        // level, but not down to the noise: nothing in the pause is a beat.
        let fs = 500.0;
        let (x, rs) = train(fs, 800.0, 10, 1000.0);
        let mut y = x[..rs[6] as usize + 200].to_vec();
        let start = y.len();
        let pause = (5.0 * fs) as usize;
        // Deterministic noise, ±40 µV, with a few ±80 µV spikes 30 ms wide.
        let mut seed = 12345u64;
        for i in 0..pause {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (seed >> 33) as f64 / (1u64 << 31) as f64 - 0.5;
            y.push(80.0 * u);
            if i % 700 == 350 {
                add_triangle(&mut y, fs, start + i - 10, 15.0, 80.0);
            }
        }
        let end = y.len();
        y.extend(&x[rs[6] as usize - 200..]);
        let out = detect_with(&y, DetectorConfig::default());
        let in_pause: Vec<_> = out
            .iter()
            .filter(|d| (start + 50..end).contains(&(d.r_sample as usize)))
            .collect();
        assert!(in_pause.is_empty(), "noise taken for beats: {in_pause:?}");
        assert_eq!(out.len(), 7 + 4, "{out:?}");
    }

    #[test]
    fn silence_gives_no_beats_and_bad_config_errors() {
        let mut d = QrsDetector::new(DetectorConfig::default(), 500.0, 2).unwrap();
        let mut out = Vec::new();
        for _ in 0..5000 {
            d.process(&[0.0, 0.0], &mut out);
        }
        d.finish(&mut out);
        assert!(out.is_empty());
        assert!(QrsDetector::new(DetectorConfig::default(), 50.0, 1).is_err());
        assert!(QrsDetector::new(DetectorConfig::default(), 500.0, 0).is_err());
    }
}
