//! QRS onset and offset, per lead and global, from a window of conditioned samples around one beat.
//!
//! Method (slope thresholds relative to measured noise, after Laguna et al., Comput Biomed Res 1994 and
//! Martínez et al., IEEE TBME 2004; global boundary rule of IEC 60601-2-25; docs/algorithms.md):
//! 1. Each lead is differentiated over ±[`DelineationConfig::derivative_half_span_ms`] (µV/ms).
//! 2. Each lead's slope noise is measured in the window's quietest stretches (a low quantile of the RMS
//!    over sliding windows), leaving out a known stimulus artefact.
//! 3. QRS region: the noise-weighted slopes of all leads combined in quadrature, grown from its peak near
//!    R until it stays under max(fraction of the peak, multiple of its noise) for a quiet interval.
//! 4. Per lead, in that region: the first and last significant slope extrema (against the lead's largest
//!    slope and its noise); the boundaries walk outwards to where |slope| falls under max(fraction of
//!    that extremum, 3 noise SDs), then move to where the signal itself leaves its outside level by
//!    2 amplitude-noise SDs (removing the differentiator's steepness-dependent smear); that level is
//!    measured 12 ms further out, beyond a real QRS's slow foot, and the departure must hold all the way
//!    to the QRS.
//! 5. Paced beats ([`BeatHints`]): no onset inside the stimulus artefacts.
//! 6. Global: 2nd-earliest onset to 2nd-latest offset with ≥ 6 leads, earliest/latest otherwise.
//!
//! Everything works in ms and converts to samples at the record's rate, so the same settings hold at 250,
//! 360, 500, 1000 and 2000 Hz. The delineator is a pure function of its window: run live or offline, the
//! same window gives the same answer. Scratch buffers are allocated once in [`Delineator::new`].
#![deny(missing_docs)]

use serde::{Deserialize, Serialize};

pub mod learned;

use learned::Edge;
pub use learned::{Models, N_FEATURES};
use std::sync::Arc;

/// Delineation settings (fractions are of the relevant slope maximum).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DelineationConfig {
    /// Window before R handed to the delineator, ms.
    pub pre_ms: f64,
    /// Window after R handed to the delineator, ms.
    pub post_ms: f64,
    /// Half span of the differentiator, ms.
    pub derivative_half_span_ms: f64,
    /// Global boundary: fraction of the summed-slope peak.
    pub global_fraction: f64,
    /// Global boundary: the summed slope must stay below threshold this long, ms.
    pub quiet_ms: f64,
    /// Per lead: fraction of the lead's slope maximum that marks a QRS deflection.
    pub lead_detect_fraction: f64,
    /// Per lead: fraction of the lead's slope maximum where the onset lies.
    pub lead_onset_fraction: f64,
    /// Per lead: fraction of the lead's slope maximum where the offset lies.
    pub lead_offset_fraction: f64,
    /// Per-lead search margin outside the global region, ms.
    pub lead_margin_ms: f64,
    /// Longest QRS half-width searched from R, ms (wide paced and LBBB beats reach 250 ms).
    pub max_half_width_ms: f64,
    /// Stop a boundary walk at a local minimum of |slope| (a flattening) before the threshold.
    pub stop_at_minimum: bool,
    /// A slope extremum is significant only above this multiple of the lead's slope noise (RMS, quiet stretches).
    pub noise_factor: f64,
    /// A boundary walk stops below this multiple of the lead's slope noise.
    pub walk_noise_factor: f64,
    /// Global onset/offset = this-earliest onset / this-latest offset over the leads (with ≥ 6 leads).
    pub global_rank: usize,
    /// Noise floor of a lead: RMS slope in windows of this length, ms ...
    #[serde(default = "d_noise_window_ms")]
    pub noise_window_ms: f64,
    /// ... at this quantile over the window's positions (the quietest stretches: PR, TP, isoelectric ST).
    #[serde(default = "d_noise_quantile")]
    pub noise_quantile: f64,
    /// Global boundary: the combined slope must exceed this multiple of its own noise floor.
    #[serde(default = "d_global_noise_factor")]
    pub global_noise_factor: f64,
    /// The noise floor of the combined slope never exceeds this fraction of its peak.
    #[serde(default = "d_global_noise_cap")]
    pub global_noise_cap: f64,
    /// Global boundary source: 0 = combined multi-lead slope, 1 = rank over per-lead boundaries,
    /// 2 = the outer of the two.
    #[serde(default)]
    pub global_mode: u8,
    /// Global boundary: fraction of the combined-slope peak for the offset (the onset uses
    /// `global_fraction`): after the QRS the ST-T slope is not isoelectric.
    #[serde(default = "d_global_offset_fraction")]
    pub global_offset_fraction: f64,
    /// Per lead, after the slope walk: move each boundary to where the signal itself leaves its outside
    /// level by this many amplitude-noise SDs (0 = off).
    #[serde(default)]
    pub refine_factor: f64,
    /// Shift added to every onset found, ms (compensates the differentiator's outward smear).
    #[serde(default)]
    pub onset_shift_ms: f64,
    /// Shift added to every offset found, ms.
    #[serde(default)]
    pub offset_shift_ms: f64,
    /// Refinement of onsets: the outside level is measured this much further out than the slope walk's
    /// end, ms, and the signal must stay departed from it all the way to the QRS. Real QRS complexes
    /// start with 15–20 ms of slow, low deflection (LUDB edge profile, docs/validation.md): a level
    /// measured right next to the walk's end lies on that foot. 0 = the level right next to it and a
    /// departure over `h` samples (the sharp-edge rule).
    #[serde(default = "d_refine_gap_ms")]
    pub refine_onset_gap_ms: f64,
    /// As `refine_onset_gap_ms`, for offsets.
    #[serde(default = "d_refine_offset_gap_ms")]
    pub refine_offset_gap_ms: f64,
    /// The noise floor is measured in the window only up to this long after R (0 = the whole window),
    /// so that a window ending here gives the same result as the full one whenever everything else the
    /// result depends on lies inside it ([`Delineation::needs_len`]): a live beat can then be delivered
    /// this long after R instead of `post_ms`.
    #[serde(default = "d_early_post_ms")]
    pub early_post_ms: f64,
    /// Apply the learned boundary correction ([`learned`]) to every lead's onset and offset.
    #[serde(default = "d_true")]
    pub learned_correction: bool,
    /// Paced beats: the learned onset correction applies only beyond this many ms, either way. 0 (all
    /// of it) since the slow-footed synthetic training beats are labelled at their support: the
    /// simulator's BiV stimulus-to-onset then comes out at its truth (−0.5 ms median; +7.5 with 4 ms),
    /// its sharp capture edges too. (With the older threshold labels, 4 ms had kept the sharp edges
    /// from reading 4 ms early; docs/history.md.) A large value keeps the rules' paced onset.
    #[serde(default = "d_paced_onset_dead_band_ms")]
    pub paced_onset_dead_band_ms: f64,
    /// Paced beats: a lead onset held at the end of the first stimulus artefact (the QRS already rising
    /// when the blanked stretch ends) is placed inside the artefact where the rise across it says the
    /// QRS began, as for a later stimulus (τ = 1.5·Δx / x′). Myocardium next to the electrode is
    /// activated by the stimulus itself; when capture is that quick the deflection starts under the
    /// blanking, and cardiologists mark the onset at the spike (LUDB's paced records).
    #[serde(default = "d_true")]
    pub paced_onset_in_artefact: bool,
    /// With ≥ 6 leads, the global onset lies at most the first, the global offset at most the second of
    /// these before / after the median lead's, ms ([0, 0] = no limit). LUDB's cardiologists put the
    /// earliest of a beat's twelve onsets ≤ 36 ms before their median in 99 % of beats, the latest offset
    /// ≤ 52 ms after theirs.
    #[serde(default = "d_max_spread_from_median_ms")]
    pub max_spread_from_median_ms: [f64; 2],
    /// Place the global onset and offset with the learned global model ([`learned::global_correction_ms`])
    /// relative to the ranked lead boundaries (used with `global_mode` 1).
    #[serde(default = "d_true")]
    pub learned_global: bool,
    /// Record each lead's boundaries before the learned correction and their features in
    /// [`Delineation::trace`] (for training and analysis; off in service).
    #[serde(default)]
    pub trace: bool,
}

fn d_true() -> bool {
    true
}

fn d_max_spread_from_median_ms() -> [f64; 2] {
    [36.0, 52.0]
}

fn d_early_post_ms() -> f64 {
    150.0
}

fn d_paced_onset_dead_band_ms() -> f64 {
    0.0
}

fn d_refine_gap_ms() -> f64 {
    12.0
}
fn d_refine_offset_gap_ms() -> f64 {
    8.0
}
fn d_noise_window_ms() -> f64 {
    40.0
}
fn d_global_noise_cap() -> f64 {
    0.2
}
fn d_global_offset_fraction() -> f64 {
    0.08
}
fn d_noise_quantile() -> f64 {
    0.2
}
fn d_global_noise_factor() -> f64 {
    2.0
}

impl Default for DelineationConfig {
    fn default() -> Self {
        Self {
            pre_ms: 300.0,
            post_ms: 250.0,
            derivative_half_span_ms: 4.0,
            global_fraction: 0.08,
            quiet_ms: 20.0,
            lead_detect_fraction: 0.15,
            lead_onset_fraction: 0.02,
            lead_offset_fraction: 0.02,
            lead_margin_ms: 30.0,
            max_half_width_ms: 220.0,
            stop_at_minimum: false,
            noise_factor: 5.0,
            walk_noise_factor: 3.0,
            global_rank: 2,
            noise_window_ms: d_noise_window_ms(),
            noise_quantile: d_noise_quantile(),
            global_noise_factor: d_global_noise_factor(),
            global_mode: 1,
            refine_factor: 2.0,
            global_offset_fraction: d_global_offset_fraction(),
            global_noise_cap: d_global_noise_cap(),
            onset_shift_ms: 0.0,
            offset_shift_ms: 0.0,
            refine_onset_gap_ms: d_refine_gap_ms(),
            refine_offset_gap_ms: d_refine_offset_gap_ms(),
            early_post_ms: d_early_post_ms(),
            learned_correction: true,
            learned_global: true,
            paced_onset_dead_band_ms: d_paced_onset_dead_band_ms(),
            paced_onset_in_artefact: true,
            max_spread_from_median_ms: d_max_spread_from_median_ms(),
            trace: false,
        }
    }
}

impl DelineationConfig {
    /// The rules alone, without the learned correction: boundaries where the deflection stands out of
    /// the lead's noise (the visible-deflection convention; on the simulator's sharp edges its truth).
    /// Cardiologists mark the start of the slow foot before it (docs/algorithms.md): on LUDB this is
    /// ~10 ms late at onsets and ~7 ms early at offsets.
    pub fn visible() -> Self {
        Self {
            learned_correction: false,
            learned_global: false,
            ..Self::default()
        }
    }
}

/// Onset and offset of a QRS, as sample indices into the delineated window (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Bounds {
    /// First sample of the QRS.
    pub onset: Option<usize>,
    /// Last sample of the QRS.
    pub offset: Option<usize>,
}

/// Result for one beat.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Delineation {
    /// Per lead, in the order of the input leads.
    pub leads: Vec<Bounds>,
    /// Earliest onset to latest offset over the leads.
    pub global: Bounds,
    /// Refined R (largest deflection of the lead with the largest QRS), window index.
    pub r_index: usize,
    /// Window length this result depends on: any window that starts at the same sample and is at least
    /// this long (e.g. the full `pre_ms + post_ms` one) gives the same result. `usize::MAX` when the
    /// window was too short to tell (a boundary walk or refinement ran into its end).
    pub needs_len: usize,
    /// Per lead, when [`DelineationConfig::trace`] is set: the boundaries before the learned correction
    /// and their features.
    pub trace: Vec<LeadTrace>,
}

/// One lead's boundaries before the learned correction, with the features it read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LeadTrace {
    /// Onset and offset from the rules (window indices).
    pub rules: Bounds,
    /// Features of the onset and of the offset (zero when a boundary is missing).
    pub features: [[f64; N_FEATURES]; 2],
}

/// Smallest slope noise assumed, µV/ms: an amplitude noise floor of ≈ 3.4 µV (√2·4 ms·0.6), about a real
/// amplifier's input noise. On noise-free (synthetic or heavily filtered) input a lower floor let boundaries
/// chase the few-µV ring-down of the Q 25 mains notch after the QRS (offsets 4–5 ms late for some widths).
const MIN_NOISE_UV_PER_MS: f64 = 0.6;

/// What is known about a beat besides its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BeatHints {
    /// Window indices `(first, last)` of a pacing-stimulus artefact (stimulus and blanked tail) before the
    /// QRS: the QRS onset is searched after it, and it is left out of the noise estimate.
    pub stimulus: Option<(usize, usize)>,
    /// A later stimulus artefact of the same beat (e.g. the second of two BiV stimuli with a V-V offset),
    /// which may fall before or inside the QRS: no boundary is placed inside it (an onset that falls
    /// there moves to its end), and it is left out of the noise estimate.
    pub later_stimulus: Option<(usize, usize)>,
    /// Leads to leave out (bit `l` = lead `l`; leads from 64 on are never left out): their electrode
    /// is off, so their samples are not an ECG. They get no boundaries and take no part in the QRS
    /// region, the noise reference, the global QRS or R: the global QRS is taken over the others.
    pub excluded: u64,
    /// Leads unfit to place R (bit `l` = lead `l`, as `excluded`): their noise is as large as a QRS
    /// here (a rail jump, electrode motion). R over the other leads replaces R over all of them when
    /// it lies more than `R_OFF_QRS_MS` away (R had been carried off the QRS). Ignored when it would
    /// leave no lead. Boundaries are still taken from them.
    pub r_excluded: u64,
}

impl BeatHints {
    /// Whether lead `l` is left out ([`BeatHints::excluded`]).
    pub fn is_excluded(&self, l: usize) -> bool {
        l < 64 && self.excluded & (1u64 << l) != 0
    }
}

/// Reusable delineator for one sampling rate and lead count.
#[derive(Debug, Clone)]
pub struct Delineator {
    cfg: DelineationConfig,
    fs_hz: f64,
    slopes: Vec<Vec<f64>>,
    summed: Vec<f64>,
    scratch: Vec<f64>,
    cum: Vec<f64>,
    noise: Vec<f64>,
    models: Arc<Models>,
}

impl Delineator {
    /// A delineator for `n_leads` leads at `fs_hz`, with the shipped models ([`Models::embedded`]).
    pub fn new(cfg: DelineationConfig, fs_hz: f64, n_leads: usize) -> Self {
        Self::with_models(cfg, fs_hz, n_leads, Models::embedded())
    }

    /// [`Delineator::new`] with other learned models (e.g. a cross-validation fold's).
    pub fn with_models(
        cfg: DelineationConfig,
        fs_hz: f64,
        n_leads: usize,
        models: Arc<Models>,
    ) -> Self {
        let len = ((cfg.pre_ms + cfg.post_ms) * fs_hz / 1000.0).ceil() as usize + 2;
        Self {
            cfg,
            fs_hz,
            slopes: vec![vec![0.0; len]; n_leads],
            summed: vec![0.0; len],
            scratch: vec![0.0; len],
            cum: vec![0.0; len + 1],
            noise: vec![0.0; n_leads],
            models,
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &DelineationConfig {
        &self.cfg
    }

    /// Samples the window must hold before R.
    pub fn pre_samples(&self) -> usize {
        self.samples(self.cfg.pre_ms)
    }

    /// Samples the window must hold after R.
    pub fn post_samples(&self) -> usize {
        self.samples(self.cfg.post_ms)
    }

    fn samples(&self, ms: f64) -> usize {
        (ms * self.fs_hz / 1000.0).round() as usize
    }

    /// Delineate one beat. `leads[l]` are equally long windows of conditioned µV; `r` is the detector's R
    /// estimate inside them. Windows may be shorter than pre+post at the ends of a record.
    pub fn delineate(&mut self, leads: &[&[f64]], r: usize, out: &mut Delineation) {
        self.delineate_with(leads, r, BeatHints::default(), out);
    }

    /// [`Delineator::delineate`] with what else is known about the beat (e.g. its pacing stimulus).
    pub fn delineate_with(
        &mut self,
        leads: &[&[f64]],
        r: usize,
        hints: BeatHints,
        out: &mut Delineation,
    ) {
        out.leads.clear();
        out.leads.resize(leads.len(), Bounds::default());
        out.global = Bounds::default();
        out.r_index = r;
        out.needs_len = usize::MAX;
        out.trace.clear();
        let n = leads.iter().map(|l| l.len()).min().unwrap_or(0);
        let n = n.min(self.summed.len());
        let n_leads = leads.len().min(self.slopes.len());
        if n < 8 || r >= n || n_leads == 0 {
            return;
        }
        let h = self.samples(self.cfg.derivative_half_span_ms).max(1);
        let h_ms = h as f64 * 1000.0 / self.fs_hz;
        let hf = (self.cfg.derivative_half_span_ms * self.fs_hz / 1000.0).max(1.0);
        for (x, d) in leads.iter().zip(self.slopes.iter_mut()) {
            differentiate(&x[..n], &mut d[..n], hf, self.fs_hz);
        }
        // The stimulus artefact (plus the differentiator's reach) is neither QRS nor noise.
        let valid = |w: Option<(usize, usize)>| w.filter(|(a, b)| a <= b && *b < n);
        let (first_art, later_art) = (valid(hints.stimulus), valid(hints.later_stimulus));
        let (art_lo, art_hi, first_allowed) = match (first_art, later_art) {
            (Some((a, b)), later) => (
                a.saturating_sub(h),
                (later.map_or(b, |(_, b2)| b2.max(b)) + h).min(n - 1),
                b + 1,
            ),
            (None, Some((a, b))) => (a.saturating_sub(h), (b + h).min(n - 1), 0),
            (None, None) => (usize::MAX, usize::MAX, 0),
        };
        // An onset inside a later stimulus artefact: the QRS began under the blanked stretch (or its tail
        // was taken for QRS). Where, is estimated from how far the signal rose across the stretch against
        // its slope just after it (τ = 1.5·Δx / x' for a power-law rise), within the stretch.
        let paced = first_art.is_some() || later_art.is_some();
        let out_of_later = |i: usize, x: &[f64]| match later_art {
            Some((a, b)) if (a..=b).contains(&i) && a > 0 && b + 1 + h < n => {
                let after = b + 1;
                let dx = (x[after] - x[a - 1]).abs();
                let slope = (x[after + h] - x[after]).abs() / h as f64;
                let tau = if slope > 0.0 { 1.5 * dx / slope } else { 0.0 };
                let tau = tau.min((after - a) as f64).max(0.0);
                after - tau.round() as usize
            }
            Some((a, b)) if (a..=b).contains(&i) => (b + 1).min(n - 1),
            _ => i,
        };
        // The same for an onset held at the end of the first artefact (the QRS rising under it).
        let (in_artefact, fs_hz) = (self.cfg.paced_onset_in_artefact, self.fs_hz);
        let into_first = |i: usize, x: &[f64], noise_uv_per_ms: f64| match first_art {
            Some((a, b)) if in_artefact && i == b + 1 && a > 0 && b + 1 + h < n => {
                // Only a rise that stands out of the noise and goes on, steeply, after the stretch is
                // a QRS already under way: a recharge tail decays back, and a foot that only starts
                // at the stretch's end has no slope yet to extrapolate from.
                let dx = x[b + 1] - x[a - 1];
                let slope = (x[b + 1 + h] - x[b + 1]) / h as f64;
                let sigma_x = std::f64::consts::SQRT_2 * h_ms * noise_uv_per_ms;
                let steep = slope.abs() * fs_hz / 1000.0 > 3.0 * noise_uv_per_ms;
                let tau = if slope * dx > 0.0 && dx.abs() > 3.0 * sigma_x && steep {
                    1.5 * dx / slope
                } else {
                    0.0
                };
                i - tau.min((b + 1 - a) as f64).max(0.0).round() as usize
            }
            _ => i,
        };
        // Per-lead noise floor of the slope, over slopes that a longer window would give alike.
        let noise_end = if self.cfg.early_post_ms > 0.0 {
            (r + self.samples(self.cfg.early_post_ms) + 1).min(n) - h.min(n - 1)
        } else {
            n
        };
        for l in 0..n_leads {
            self.noise[l] = self.noise_floor(l, noise_end.max(1), art_lo, art_hi);
        }
        // A lead whose electrode is off (held flat, or garbage) sets no noise reference.
        let mut sorted = [0.0f64; 64];
        let mut k = 0;
        for l in (0..n_leads).filter(|&l| !hints.is_excluded(l)).take(64) {
            sorted[k] = self.noise[l];
            k += 1;
        }
        if k == 0 {
            return;
        }
        sorted[..k].sort_unstable_by(f64::total_cmp);
        let ref_noise = sorted[k / 2].max(1e-6);
        // Combined slope: leads weighted by 1 / max(own noise, median noise), so that a lead much noisier
        // than the others cannot dominate, and summed in quadrature (spatial velocity).
        let mut g_noise2 = 0.0;
        self.summed[..n].fill(0.0);
        for l in (0..n_leads).filter(|&l| !hints.is_excluded(l)) {
            let w = 1.0 / self.noise[l].max(ref_noise);
            g_noise2 += (w * self.noise[l]).powi(2);
            for (si, di) in self.summed[..n].iter_mut().zip(&self.slopes[l][..n]) {
                *si += (w * di).powi(2);
            }
        }
        for v in self.summed[..n].iter_mut() {
            *v = v.sqrt();
        }
        let g_noise = g_noise2.sqrt();
        let Some((g_on, g_off, g_settled, g_peak_end)) =
            self.global_region(n, r, g_noise, first_allowed)
        else {
            return;
        };
        // Index up to which (plus the differentiator's reach) the samples decided this result.
        let mut last_read = g_settled.max(g_peak_end);

        let margin = self.samples(self.cfg.lead_margin_ms);
        let (lo, hi) = (
            g_on.saturating_sub(margin).max(first_allowed),
            (g_off + margin).min(n - 1),
        );
        if lo > hi {
            return;
        }
        let on_shift = self.signed_samples(self.cfg.onset_shift_ms);
        let off_shift = self.signed_samples(self.cfg.offset_shift_ms);
        let shift = |i: usize, s: i64| (i as i64 + s).clamp(0, n as i64 - 1) as usize;
        // The k-th earliest onset and k-th latest offset (k = global_rank): with many leads, one lead that
        // a noise burst stretched must not set the global QRS alone.
        let mut ons = [usize::MAX; 64];
        let mut offs = [0usize; 64];
        // The same leads' boundaries before the learned correction (features of the global model).
        let mut rules_ons = [0usize; 64];
        let mut rules_offs = [0usize; 64];
        let mut n_ok = 0;
        let search = Search {
            lo,
            hi,
            first_allowed,
            h,
            h_ms,
            span_ms: hf * 1000.0 / self.fs_hz,
        };
        last_read = last_read.max(hi + 1);
        for (l, x) in leads.iter().enumerate().take(n_leads) {
            if hints.is_excluded(l) {
                continue; // no boundaries (out.leads[l] stays empty)
            }
            let d = &self.slopes[l][..n];
            let (mut b, read) = lead_bounds(x, d, &search, self.noise[l], &self.cfg);
            last_read = last_read.max(read);
            let rules = b;
            if let (Some(on), Some(off)) = (b.onset, b.offset) {
                if self.cfg.learned_correction || self.cfg.trace {
                    let x = &x[..n];
                    let fo = learned::boundary_features(
                        x,
                        Edge::Onset,
                        on,
                        off,
                        self.noise[l],
                        self.fs_hz,
                    );
                    let ff = learned::boundary_features(
                        x,
                        Edge::Offset,
                        on,
                        off,
                        self.noise[l],
                        self.fs_hz,
                    );
                    if self.cfg.trace {
                        out.trace.resize(leads.len(), LeadTrace::default());
                        out.trace[l] = LeadTrace {
                            rules: b,
                            features: [fo, ff],
                        };
                    }
                    // The features read this far beyond the offset.
                    last_read = last_read.max(off + self.samples(learned::OUTSIDE_REACH_MS));
                    if self.cfg.learned_correction {
                        // A paced onset moves only by the part of the correction beyond a dead band:
                        // real paced QRS start with a slow foot too (LUDB), but on a sharp capture edge
                        // the forest, trained mostly on conducted beats, reads a few ms of foot that is
                        // not there. The clamp below keeps the onset after the stimulus artefact.
                        let c_ms = self.models.correction_ms(Edge::Onset, &fo);
                        let c_ms = if paced {
                            let dead = self.cfg.paced_onset_dead_band_ms.max(0.0);
                            c_ms.signum() * (c_ms.abs() - dead).max(0.0)
                        } else {
                            c_ms
                        };
                        let c_on = self.signed_samples(c_ms);
                        let c_off =
                            self.signed_samples(self.models.correction_ms(Edge::Offset, &ff));
                        let on2 =
                            (on as i64 + c_on).clamp(first_allowed as i64, n as i64 - 1) as usize;
                        let off2 = (off as i64 + c_off).clamp(0, n as i64 - 1) as usize;
                        if on2 <= off2 {
                            b = Bounds {
                                onset: Some(on2),
                                offset: Some(off2),
                            };
                        }
                    }
                }
            }
            let b = Bounds {
                onset: b.onset.map(|i| {
                    into_first(
                        out_of_later(shift(i, on_shift).max(first_allowed), x),
                        x,
                        self.noise[l],
                    )
                }),
                offset: b.offset.map(|i| shift(i, off_shift)),
            };
            if let (Some(on), Some(off)) = (b.onset, b.offset) {
                if n_ok < ons.len() {
                    ons[n_ok] = on;
                    offs[n_ok] = off;
                    rules_ons[n_ok] = rules.onset.unwrap_or(on);
                    rules_offs[n_ok] = rules.offset.unwrap_or(off);
                    n_ok += 1;
                }
            }
            out.leads[l] = b;
        }
        let k = if n_ok >= 6 {
            self.cfg.global_rank.max(1) - 1
        } else {
            0
        };
        if n_ok > 0 {
            ons[..n_ok].sort_unstable();
            offs[..n_ok].sort_unstable_by(|a, b| b.cmp(a));
        }
        let mut ranked = (n_ok > 0).then(|| (ons[k.min(n_ok - 1)], offs[k.min(n_ok - 1)]));
        // With one lead the global QRS is that lead's (no extreme over several leads' marks to place);
        // the model was trained on 2 leads and more.
        let learned_global = self.cfg.learned_global && n_ok >= 2;
        if let (true, Some((on, off))) = (learned_global, ranked) {
            let (on2, off2) = self.learned_global(
                (&ons[..n_ok], &offs[..n_ok]),
                (&rules_ons[..n_ok], &rules_offs[..n_ok]),
                k.min(n_ok - 1),
                paced,
                (first_allowed, n),
            );
            if on2 <= off2 {
                ranked = Some((on2, off2));
                // A boundary placed beyond what was read ties the result to the window's length.
                last_read = last_read.max(off2);
            } else {
                ranked = Some((on, off));
            }
        }
        let combined = (
            match (shift(g_on, on_shift).max(first_allowed), later_art) {
                (i, Some((a, b))) if (a..=b).contains(&i) => (b + 1).min(n - 1),
                (i, _) => i,
            },
            shift(g_off, off_shift),
        );
        let (first, last) = match (self.cfg.global_mode, ranked) {
            (1, Some(rk)) => rk,
            (1, None) => (1, 0),
            (2, Some(rk)) => (rk.0.min(combined.0), rk.1.max(combined.1)),
            _ => combined,
        };
        // With many leads the global QRS stays within the lead marks' physiological spread of their
        // median: noise that stretched several leads at once cannot carry it further.
        let (first, last) =
            if n_ok >= 6 && self.cfg.max_spread_from_median_ms.iter().all(|v| *v > 0.0) {
                let med = |v: &[usize]| v[v.len() / 2];
                let (med_on, med_off) = (med(&ons[..n_ok]), med(&offs[..n_ok]));
                (
                    first.max(
                        med_on.saturating_sub(self.samples(self.cfg.max_spread_from_median_ms[0])),
                    ),
                    last.min(med_off + self.samples(self.cfg.max_spread_from_median_ms[1])),
                )
            } else {
                (first, last)
            };
        if first <= last {
            out.global = Bounds {
                onset: Some(first),
                offset: Some(last),
            };
            let half = self.samples(R_SMOOTH_HALF_MS).max(1);
            let all = BeatHints {
                r_excluded: 0,
                ..hints
            };
            out.r_index = refine_r(
                &leads[..n_leads],
                all,
                (first, last),
                half,
                &mut self.scratch,
                &mut self.cum,
            );
            // Leads unfit to place R move it only when they carried it off the QRS (a rail jump
            // 160-230 ms away); a shift of a few ms inside the QRS would only misalign the beat
            // against the shapes the classifier learnt.
            if hints.r_excluded != 0 {
                let readable = refine_r(
                    &leads[..n_leads],
                    hints,
                    (first, last),
                    half,
                    &mut self.scratch,
                    &mut self.cum,
                );
                let far = self.samples(R_OFF_QRS_MS);
                if readable.abs_diff(out.r_index) > far {
                    out.r_index = readable;
                }
            }
        }
        // A slope at i reads the signal up to i + h; a window whose slopes are truncated there differs.
        out.needs_len = last_read.saturating_add(h + 2).max(r + 1);
    }

    /// The global onset and offset placed by the learned global model from the sorted per-lead
    /// boundaries (`ons` ascending, `offs` descending, window indices, the `k`-th of each being the
    /// ranked boundary) and the same leads' boundaries before the learned correction. A paced onset
    /// keeps the ranked one (it follows its stimulus); both stay inside `[first_allowed, n)`.
    fn learned_global(
        &self,
        (ons, offs): (&[usize], &[usize]),
        (rules_ons, rules_offs): (&[usize], &[usize]),
        k: usize,
        paced: bool,
        (first_allowed, n): (usize, usize),
    ) -> (usize, usize) {
        let ms = 1000.0 / self.fs_hz;
        let m = ons.len().min(64);
        // Oriented ms: outwards (earlier onset, later offset) is negative.
        let mut c = [0.0f64; 64];
        let mut r = [0.0f64; 64];
        let mut on = ons[k];
        let beyond = self.signed_samples(learned::MAX_BEYOND_OUTERMOST_MS);
        if !paced {
            for i in 0..m {
                c[i] = ons[i] as f64 * ms;
                r[i] = rules_ons[i] as f64 * ms;
            }
            let f = learned::global_features(&c[..m], &r[..m]);
            let dt = self.signed_samples(self.models.global_correction_ms(Edge::Onset, &f));
            let earliest = ons[0] as i64 - beyond;
            on = (ons[k] as i64 + dt)
                .max(earliest)
                .clamp(first_allowed as i64, n as i64 - 1) as usize;
        }
        for i in 0..m {
            c[i] = -(offs[i] as f64) * ms;
            r[i] = -(rules_offs[i] as f64) * ms;
        }
        let f = learned::global_features(&c[..m], &r[..m]);
        let dt = self.signed_samples(self.models.global_correction_ms(Edge::Offset, &f));
        let off = (offs[k] as i64 - dt)
            .min(offs[0] as i64 + beyond)
            .clamp(0, n as i64 - 1) as usize;
        (on, off)
    }

    fn signed_samples(&self, ms: f64) -> i64 {
        (ms * self.fs_hz / 1000.0).round() as i64
    }

    /// RMS slope of lead `l` in its quietest stretches: the `noise_quantile` of the RMS over sliding
    /// `noise_window_ms` windows, leaving out windows that touch `[skip_lo, skip_hi]`.
    fn noise_floor(&mut self, l: usize, n: usize, skip_lo: usize, skip_hi: usize) -> f64 {
        let d = &self.slopes[l][..n];
        self.cum[0] = 0.0;
        for (i, v) in d.iter().enumerate() {
            self.cum[i + 1] = self.cum[i] + v * v;
        }
        let w = self.samples(self.cfg.noise_window_ms).max(4).min(n);
        let mut m = 0;
        for i in 0..=(n - w) {
            if skip_lo != usize::MAX && i <= skip_hi && i + w > skip_lo {
                continue;
            }
            self.scratch[m] = ((self.cum[i + w] - self.cum[i]) / w as f64).max(0.0);
            m += 1;
        }
        if m == 0 {
            return MIN_NOISE_UV_PER_MS;
        }
        let q = ((self.cfg.noise_quantile.clamp(0.0, 1.0) * (m - 1) as f64) as usize).min(m - 1);
        let v = *self.scratch[..m]
            .select_nth_unstable_by(q, f64::total_cmp)
            .1;
        v.sqrt().max(MIN_NOISE_UV_PER_MS)
    }

    /// The multi-lead QRS region around R from the combined slope: onset, offset, and the last indices
    /// the offset walk and the peak search read (`usize::MAX`: the walk ran into the window's end).
    fn global_region(
        &self,
        n: usize,
        r: usize,
        g_noise: f64,
        first_allowed: usize,
    ) -> Option<(usize, usize, usize, usize)> {
        let e = &self.summed[..n];
        let near = self.samples(60.0);
        let (a, b) = (
            r.saturating_sub(near).max(first_allowed),
            (r + near).min(n - 1),
        );
        if a > b {
            return None;
        }
        let peak_i = (a..=b).max_by(|i, j| e[*i].total_cmp(&e[*j]))?;
        let peak = e[peak_i];
        if peak <= 0.0 {
            return None;
        }
        // In heavy noise the noise floor could rise above the edges of a wide QRS and cut it short: it
        // never rises above `global_noise_cap` of the peak.
        let floor = (self.cfg.global_noise_factor * g_noise).min(self.cfg.global_noise_cap * peak);
        let thr = (self.cfg.global_fraction * peak).max(floor);
        let thr_off = (self.cfg.global_offset_fraction * peak).max(floor);
        let quiet = self.samples(self.cfg.quiet_ms).max(1);
        let reach = self.samples(self.cfg.max_half_width_ms);
        let onset = walk_out(e, (first_allowed..peak_i).rev().take(reach), thr, quiet)
            .0
            .unwrap_or(peak_i);
        let (offset, settled) = walk_out(e, (peak_i + 1..n).take(reach), thr_off, quiet);
        // The walk also ends (without a quiet stretch) after `reach` samples: that too is final.
        let settled = settled.or_else(|| (peak_i + reach < n).then_some(peak_i + reach));
        Some((
            onset,
            offset.unwrap_or(peak_i),
            settled.unwrap_or(usize::MAX),
            b,
        ))
    }
}

/// Central difference of `x` over ±`half_span` samples, in µV/ms (`d[i] = (x(i+s) − x(i−s)) / 2s`). The span
/// is exact at every rate: where it is not a whole number of samples (e.g. ±4 ms at 360 Hz = ±1.44) the
/// signal is interpolated linearly at its ends, where rounding it (±1 sample = ±2.8 ms) made the slopes
/// noisier and the boundaries rate-dependent. Ends of `x` are held.
fn differentiate(x: &[f64], d: &mut [f64], half_span: f64, fs_hz: f64) {
    let n = x.len().min(d.len());
    if n == 0 {
        return;
    }
    let (whole, frac) = (half_span.floor() as i64, half_span - half_span.floor());
    let per_ms = fs_hz / 1000.0 / (2.0 * half_span);
    let at = |k: i64| x[k.clamp(0, n as i64 - 1) as usize];
    for (i, di) in d[..n].iter_mut().enumerate() {
        let i = i as i64;
        let (ahead, behind) = if frac > 1e-9 {
            (
                at(i + whole) + frac * (at(i + whole + 1) - at(i + whole)),
                at(i - whole) + frac * (at(i - whole - 1) - at(i - whole)),
            )
        } else {
            (at(i + whole), at(i - whole))
        };
        *di = (ahead - behind) * per_ms;
    }
}

/// Walk the indices `path` (outwards from a peak) until `quiet` consecutive samples of `e` are under
/// `thr`; the boundary is the last sample at or above it (`None` if the first ones are already quiet).
/// Also returns the index where the quiet stretch was complete (`None` if the path ended first).
fn walk_out(
    e: &[f64],
    path: impl Iterator<Item = usize>,
    thr: f64,
    quiet: usize,
) -> (Option<usize>, Option<usize>) {
    let mut boundary = None;
    let mut below = 0;
    for i in path {
        if e[i] >= thr {
            boundary = Some(i);
            below = 0;
        } else {
            below += 1;
            if below >= quiet {
                return (boundary, Some(i));
            }
        }
    }
    (boundary, None)
}

/// Where and how a lead's boundaries are searched.
#[derive(Debug, Clone, Copy)]
struct Search {
    /// Search range for the first/last significant slope extremum (window indices, inclusive).
    lo: usize,
    hi: usize,
    /// No onset before this index (end of a stimulus artefact).
    first_allowed: usize,
    /// Differentiator half span, samples and ms.
    h: usize,
    h_ms: f64,
    /// The differentiator's exact half span, ms (h_ms is h rounded to whole samples).
    span_ms: f64,
}

/// Per-lead boundaries of slope `d` (of signal `x`) searched inside `[lo, hi]`.
///
/// As in wavelet delineation (Martínez et al., IEEE TBME 2004, doi:10.1109/TBME.2003.821031): the first
/// and last *significant* slope extrema of the lead (local maxima of |slope| reaching
/// `lead_detect_fraction` of its largest) bound the QRS; the onset lies before the first where |slope|
/// falls under `lead_onset_fraction` of *that extremum* (not of the largest), or at the local |slope|
/// minimum that comes first; the offset likewise after the last extremum. Thresholds relative to the
/// first/last wave keep a small initial q or terminal s wave inside the QRS.
fn lead_bounds(
    x: &[f64],
    d: &[f64],
    search: &Search,
    noise: f64,
    cfg: &DelineationConfig,
) -> (Bounds, usize) {
    let Search {
        lo,
        hi,
        first_allowed,
        h,
        h_ms,
        span_ms,
    } = *search;
    let max = d[lo..=hi].iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if max <= 0.0 {
        return (Bounds::default(), hi + 1);
    }
    let a = |i: usize| d[i].abs();
    // A wave is significant against the lead's largest slope and against its own noise.
    let sig = (cfg.lead_detect_fraction * max).max(cfg.noise_factor * noise);
    let is_peak = |i: usize| {
        a(i) >= sig && (i == 0 || a(i) >= a(i - 1)) && (i + 1 >= d.len() || a(i) >= a(i + 1))
    };
    let Some(first) = (lo..=hi).find(|i| is_peak(*i)) else {
        return (Bounds::default(), hi + 1);
    };
    let Some(last) = (lo..=hi).rev().find(|i| is_peak(*i)) else {
        return (Bounds::default(), hi + 1);
    };
    let floor = cfg.walk_noise_factor * noise;
    let on_thr = (cfg.lead_onset_fraction * a(first)).max(floor);
    let off_thr = (cfg.lead_offset_fraction * a(last)).max(floor);
    let mut onset = first;
    while onset > first_allowed
        && a(onset - 1) >= on_thr
        && !(cfg.stop_at_minimum && a(onset - 1) > a(onset))
    {
        onset -= 1;
    }
    let mut offset = last;
    while offset + 1 < d.len()
        && a(offset + 1) >= off_thr
        && !(cfg.stop_at_minimum && a(offset + 1) > a(offset))
    {
        offset += 1;
    }
    // What the offset side read: the walk's stopping sample (the window's end: not final), and below
    // the refinement's outside level.
    let mut read = if offset + 1 < d.len() {
        (offset + 1).max(hi + 1)
    } else {
        usize::MAX
    };
    if cfg.refine_factor > 0.0 {
        // The slope over ±h registers a deflection up to h samples before it starts (and after it ends):
        // the boundary is the first (last) sample of that span where the signal itself has left the level
        // it had just outside, by more than `refine_factor` amplitude-noise SDs (σ_x ≈ √2·h_ms·σ_slope).
        let sx = cfg.refine_factor * std::f64::consts::SQRT_2 * span_ms * noise;
        let n = x.len();
        // The level before the onset is measured outside a stimulus artefact; when the walk ran into the
        // artefact, the departure is searched all the way to the first significant slope.
        let clamped = onset <= first_allowed + h;
        let samples = |ms: f64| (ms * h as f64 / h_ms.max(1e-9)).round() as usize;
        // Beyond the foot the level is averaged over 8 ms more, so that its own noise cannot make a
        // whole stretch look departed.
        let foot_avg = samples(8.0);
        let gap = samples(cfg.refine_onset_gap_ms);
        // No level can be measured beyond the foot when that would reach back into a stimulus artefact
        // (a paced QRS starts right after it): then the sharp-edge rule.
        let gap = if onset < first_allowed + 2 * h + gap + foot_avg {
            0
        } else {
            gap
        };
        let off_gap = samples(cfg.refine_offset_gap_ms);
        let extra = |g: usize| if g > 0 { foot_avg } else { 0 };
        let (on_extra, off_extra) = (extra(gap), extra(off_gap));
        let base_lo = onset
            .saturating_sub(2 * h + gap + on_extra)
            .max(first_allowed);
        let base_hi = (base_lo + h).max(onset.saturating_sub(h + gap)).min(first);
        if base_hi > base_lo || h == 0 {
            let base = x[base_lo..=base_hi].iter().sum::<f64>() / (base_hi - base_lo + 1) as f64;
            let end = if clamped {
                first
            } else {
                (onset + h).min(first)
            };
            let found = if gap > 0 {
                // The departure must hold from the onset all the way to the walk's end, in the direction
                // the QRS takes there (a slow foot keeps going; noise and wander come back): the onset
                // follows the last sample of the stretch that is not departed.
                let s_end = (x[end] - base).signum();
                let departed = |j: usize| (x[j] - base) * s_end > sx;
                if base_hi < end && departed(end) {
                    Some((base_hi + 1..=end).rev().find(|&j| !departed(j)).map_or(
                        base_hi + 1,
                        |j| {
                            nearest_to_crossing(
                                j,
                                (x[j] - base) * s_end,
                                (x[j + 1] - base) * s_end,
                                sx,
                            )
                        },
                    ))
                } else {
                    None
                }
            } else {
                let departs = |i: usize| {
                    let s = (x[i] - base).signum();
                    (i..=(i + h).min(n - 1)).all(|j| (x[j] - base) * s > sx)
                };
                (base_hi + 1..=end).find(|&i| departs(i))
            };
            if let Some(i) = found {
                onset = i;
            }
        }
        read = read.max(offset + 2 * h + off_gap + off_extra);
        if offset + 2 * h + off_gap + off_extra < n {
            let base = x[offset + h + off_gap..=offset + 2 * h + off_gap + off_extra]
                .iter()
                .sum::<f64>()
                / (h + 1 + off_extra) as f64;
            let start = first.max(offset.saturating_sub(h));
            let limit = offset + h + off_gap;
            let found = if off_gap > 0 {
                // Mirror of the onset: departed from the QRS side up to the offset, which precedes the
                // first sample of the stretch that is not departed.
                let s_start = (x[start] - base).signum();
                let departed = |j: usize| (x[j] - base) * s_start > sx;
                if start < limit && departed(start) {
                    Some(
                        (start..limit)
                            .find(|&j| !departed(j))
                            .map_or(limit - 1, |j| {
                                // Mirror image: the crossing lies between j−1 (departed) and j.
                                let d = |i: usize| (x[i] - base) * s_start;
                                2 * j - 1 - nearest_to_crossing(j - 1, d(j), d(j - 1), sx)
                            }),
                    )
                } else {
                    None
                }
            } else {
                let departs = |i: usize| {
                    let s = (x[i] - base).signum();
                    (i.saturating_sub(h)..=i).all(|j| (x[j] - base) * s > sx)
                };
                (start..limit).rev().find(|&i| departs(i))
            };
            if let Some(i) = found {
                offset = i;
            }
        }
    }
    (
        Bounds {
            onset: Some(onset),
            offset: Some(offset),
        },
        read,
    )
}

/// The boundary sample nearest to where the deflection crosses `level` between sample `j` (at `dev_j`,
/// not departed) and `j + 1` (at `dev_next`, departed): `j + 1` unless the crossing lies in the first half
/// of the interval. Reporting the first departed sample instead is half a sample late on average, which
/// made the boundaries rate-dependent (2 ms at 250 Hz, 0.5 ms at 1 kHz).
fn nearest_to_crossing(j: usize, dev_j: f64, dev_next: f64, level: f64) -> usize {
    let rise = dev_next - dev_j;
    if rise > 0.0 && (level - dev_j) / rise < 0.5 {
        j
    } else {
        j + 1
    }
}

/// Half-width of the window over which the R energy is averaged, ms: wider than a pacing stimulus
/// smeared by a recorder's low-pass (2–4 ms), narrower than an R wave.
const R_SMOOTH_HALF_MS: f64 = 8.0;

/// How far, ms, R over the readable leads must lie from R over all leads to replace it: off the QRS.
const R_OFF_QRS_MS: f64 = 80.0;

/// The beat's R: where the energy over the leads of the deviation from the onset→offset baseline,
/// averaged over ± `half` samples, is largest. Averaged, so that an undetected pacing stimulus (a spike
/// of a few samples, often the largest deflection of a small paced QRS on an ambulatory recording) is
/// not taken for R: the beat then sits on the stimulus, up to 100 ms before its QRS peak. `energy` and
/// `cum` are scratch of at least `off − on + 1` and `off − on + 2` values.
fn refine_r(
    leads: &[&[f64]],
    hints: BeatHints,
    (on, off): (usize, usize),
    half: usize,
    energy: &mut [f64],
    cum: &mut [f64],
) -> usize {
    let span = off - on;
    if energy.len() <= span || cum.len() <= span + 1 {
        return on;
    }
    let width = span.max(1) as f64;
    let n = leads.len().min(64);
    let mask = hints.excluded | hints.r_excluded;
    let skip = if (0..n).all(|l| mask & (1u64 << l) != 0) {
        hints.excluded
    } else {
        mask
    };
    for (k, e) in energy[..=span].iter_mut().enumerate() {
        let f = k as f64 / width;
        let i = on + k;
        *e = leads
            .iter()
            .enumerate()
            .filter(|(l, _)| *l >= 64 || skip & (1u64 << l) == 0)
            .map(|(_, x)| (x[i] - (x[on] + f * (x[off] - x[on]))).powi(2))
            .sum();
    }
    cum[0] = 0.0;
    for k in 0..=span {
        cum[k + 1] = cum[k] + energy[k];
    }
    let mut best = (-1.0f64, on);
    for k in 0..=span {
        let (a, b) = (k.saturating_sub(half), (k + half).min(span));
        let m = (cum[b + 1] - cum[a]) / (b - a + 1) as f64;
        if m > best.0 {
            best = (m, on + k);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A biphasic QRS made of two Hann lobes between `on` and `off` (exact support).
    fn qrs(n: usize, on: usize, off: usize, amp: f64) -> Vec<f64> {
        let mid = (on + off) / 2;
        (0..n)
            .map(|i| {
                let lobe = |a: usize, b: usize, s: f64| {
                    if i >= a && i <= b {
                        let t = (i - a) as f64 / (b - a) as f64;
                        s * (std::f64::consts::PI * t).sin().powi(2)
                    } else {
                        0.0
                    }
                };
                lobe(on, mid, amp) + lobe(mid, off, -0.6 * amp)
            })
            .collect()
    }

    #[test]
    fn finds_known_boundaries_at_several_rates() {
        for fs in [250.0, 500.0, 1000.0, 2000.0] {
            for qrsd_ms in [80.0, 150.0, 200.0] {
                let n = (0.65 * fs) as usize;
                let on = (0.2 * fs) as usize;
                let off = on + (qrsd_ms * fs / 1000.0) as usize;
                let x = qrs(n, on, off, 1000.0);
                let mut d = Delineator::new(DelineationConfig::default(), fs, 1);
                let mut out = Delineation::default();
                d.delineate(&[&x], (on + off) / 2, &mut out);
                let ms = |s: usize| s as f64 * 1000.0 / fs;
                let g = out.global;
                let (gon, goff) = (g.onset.unwrap(), g.offset.unwrap());
                // Hann lobes start with zero slope: the first *visible* deflection is a few ms in.
                assert!(
                    (ms(gon) - ms(on)).abs() <= 12.0,
                    "fs {fs} qrsd {qrsd_ms}: onset {gon} vs {on}"
                );
                assert!(
                    (ms(goff) - ms(off)).abs() <= 12.0,
                    "fs {fs} qrsd {qrsd_ms}: offset {goff} vs {off}"
                );
            }
        }
    }

    /// 12 leads of one QRS with per-lead amplitudes, signs and onsets spread over `spread` samples.
    fn twelve_leads(n: usize, on: usize, off: usize, spread: usize) -> Vec<Vec<f64>> {
        (0..12)
            .map(|l| {
                let s = if l % 3 == 0 { -1.0 } else { 1.0 };
                let d = l * spread / 11;
                qrs(n, on + d, off - spread + d, s * (300.0 + 80.0 * l as f64))
            })
            .collect()
    }

    #[test]
    fn an_excluded_lead_takes_no_part_whatever_it_carries() {
        let fs = 500.0;
        let (n, on, off) = (325, 100, 165);
        let clean = twelve_leads(n, on, off, 4);
        // Lead 8 (V3) as an electrode coming back on just before the QRS leaves it: a 3 mV jump
        // from the held value 16 ms before the QRS, decaying through the high-pass.
        let mut leads = clean.clone();
        // The time constant of a 0.5 Hz high-pass, s.
        let tau_s = 1.0 / (2.0 * std::f64::consts::PI * 0.5);
        for (i, v) in leads[8].iter_mut().enumerate() {
            *v = if i < on - 8 {
                0.0
            } else {
                3000.0 * (-((i - (on - 8)) as f64) / (tau_s * fs)).exp()
            };
        }
        let delineate = |leads: &[Vec<f64>], excluded: u64| {
            let views: Vec<&[f64]> = leads.iter().map(|v| v.as_slice()).collect();
            let mut d = Delineator::new(DelineationConfig::default(), fs, views.len());
            let mut out = Delineation::default();
            let hints = BeatHints {
                excluded,
                ..BeatHints::default()
            };
            d.delineate_with(&views, 130, hints, &mut out);
            out
        };
        // The same beat over the 11 other leads.
        let eleven: Vec<Vec<f64>> = clean
            .iter()
            .enumerate()
            .filter(|(l, _)| *l != 8)
            .map(|(_, v)| v.clone())
            .collect();
        let want = delineate(&eleven, 0);
        let left_out = delineate(&leads, 1 << 8);
        assert_eq!(left_out.global, want.global);
        assert_eq!(left_out.r_index, want.r_index);
        assert_eq!(left_out.leads[8], Bounds::default(), "no boundaries");
        for l in 0..12 {
            if l != 8 {
                assert_eq!(left_out.leads[l], want.leads[if l < 8 { l } else { l - 1 }]);
            }
        }
        // Taken in, the jump is delineated as that lead's QRS and starts the beat early.
        let taken = delineate(&leads, 0);
        let early = taken.leads[8].onset.expect("the jump has boundaries");
        assert!(early + 6 < on, "{early}");
        assert_ne!(taken.global, want.global);
        // Every lead left out: no QRS.
        assert_eq!(delineate(&clean, u64::MAX).global, Bounds::default());
    }

    #[test]
    fn learned_global_stays_near_the_leads_and_leaves_paced_onsets_alone() {
        let fs = 500.0;
        let (n, on, off) = (325, 100, 165);
        let leads = twelve_leads(n, on, off, 4);
        let views: Vec<&[f64]> = leads.iter().map(|v| v.as_slice()).collect();
        let run = |learned_global: bool, hints: BeatHints| {
            let cfg = DelineationConfig {
                learned_global,
                ..DelineationConfig::default()
            };
            let mut d = Delineator::new(cfg, fs, 12);
            let mut out = Delineation::default();
            d.delineate_with(&views, 130, hints, &mut out);
            out
        };
        let ranked = run(false, BeatHints::default());
        let learned = run(true, BeatHints::default());
        let (ro, rf) = (ranked.global.onset.unwrap(), ranked.global.offset.unwrap());
        let (lo, lf) = (
            learned.global.onset.unwrap(),
            learned.global.offset.unwrap(),
        );
        // Per-lead boundaries are untouched; the global ones move by at most the model's bound.
        assert_eq!(ranked.leads, learned.leads);
        let bound = (learned::MAX_CORRECTION_MS * fs / 1000.0) as i64;
        assert!((lo as i64 - ro as i64).abs() <= bound, "{lo} vs {ro}");
        assert!((lf as i64 - rf as i64).abs() <= bound, "{lf} vs {rf}");
        // One lead: the global QRS is that lead's.
        let one = &views[..1];
        let mut d1 = Delineator::new(DelineationConfig::default(), fs, 1);
        let mut o1 = Delineation::default();
        d1.delineate(one, 130, &mut o1);
        assert_eq!(o1.global, o1.leads[0]);
        // A paced beat (stimulus artefact ending before the QRS) keeps the ranked onset.
        let hints = BeatHints {
            stimulus: Some((on - 12, on - 8)),
            later_stimulus: None,
            excluded: 0,
            r_excluded: 0,
        };
        let (p_ranked, p_learned) = (run(false, hints), run(true, hints));
        assert_eq!(p_ranked.global.onset, p_learned.global.onset);
    }

    #[test]
    fn r_is_placed_on_the_leads_left_to_place_it() {
        // Lead 0: a QRS peaking at 100; lead 1: a rail jump five times larger at 140 (µV).
        let g = |i: usize, c: f64, w: f64, a: f64| a * (-0.5 * ((i as f64 - c) / w).powi(2)).exp();
        let l0: Vec<f64> = (0..200).map(|i| g(i, 100.0, 6.0, 1000.0)).collect();
        let l1: Vec<f64> = (0..200).map(|i| g(i, 140.0, 3.0, 5000.0)).collect();
        let leads = [&l0[..], &l1[..]];
        let (mut e, mut c) = (vec![0.0; 200], vec![0.0; 201]);
        let r = |r_excluded: u64, e: &mut [f64], c: &mut [f64]| {
            let hints = BeatHints {
                r_excluded,
                ..BeatHints::default()
            };
            refine_r(&leads, hints, (60, 160), 3, e, c)
        };
        assert!((138..=142).contains(&r(0, &mut e, &mut c)));
        assert!((98..=102).contains(&r(0b10, &mut e, &mut c)));
        // Leaving out every lead leaves out none.
        assert!((138..=142).contains(&r(0b11, &mut e, &mut c)));
    }

    #[test]
    fn a_paced_onset_moves_only_by_the_correction_beyond_the_dead_band() {
        let fs = 500.0;
        let ms = |s: usize| s as f64 * 1000.0 / fs;
        // A sharp capture edge and one with a slow 24 ms foot (a ramp to 4 % of the amplitude).
        for foot in [false, true] {
            let (n, on, off) = (325, 110, 170);
            let mut leads = twelve_leads(n, on, off, 4);
            if foot {
                for x in leads.iter_mut() {
                    let amp = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                    let sign = x[on + 8].signum();
                    for (k, v) in x[on - 12..on].iter_mut().enumerate() {
                        *v += sign * 0.04 * amp * (k + 1) as f64 / 12.0;
                    }
                    for v in x[on..].iter_mut() {
                        *v += sign * 0.04 * amp;
                    }
                }
            }
            let views: Vec<&[f64]> = leads.iter().map(|v| v.as_slice()).collect();
            let hints = BeatHints {
                stimulus: Some((on - 24, on - 20)),
                later_stimulus: None,
                excluded: 0,
                r_excluded: 0,
            };
            let run = |learned_correction: bool, dead_ms: f64| {
                let cfg = DelineationConfig {
                    learned_correction,
                    paced_onset_dead_band_ms: dead_ms,
                    ..DelineationConfig::default()
                };
                let mut d = Delineator::new(cfg, fs, 12);
                let mut out = Delineation::default();
                d.delineate_with(&views, 140, hints, &mut out);
                out
            };
            let (rules, full, banded) = (run(false, 4.0), run(true, 0.0), run(true, 4.0));
            for l in 0..12 {
                let r = ms(rules.leads[l].onset.unwrap());
                let f = ms(full.leads[l].onset.unwrap());
                let b = ms(banded.leads[l].onset.unwrap());
                // The banded move is the full one less 4 ms towards zero (±1 sample of rounding) ...
                let want = (f - r).signum() * ((f - r).abs() - 4.0).max(0.0);
                assert!(
                    ((b - r) - want).abs() <= 2.0 + 1e-9,
                    "foot {foot} lead {l}: rules {r} full {f} banded {b}"
                );
                // ... and never crosses the stimulus artefact.
                assert!(banded.leads[l].onset.unwrap() > on - 20);
            }
        }
    }

    #[test]
    fn a_paced_onset_under_the_blanked_stimulus_is_placed_inside_it() {
        let fs = 500.0;
        let (n, on, off) = (325, 110, 170);
        let run = |leads: &[Vec<f64>], art: (usize, usize), in_artefact: bool| {
            let views: Vec<&[f64]> = leads.iter().map(|v| v.as_slice()).collect();
            let cfg = DelineationConfig {
                paced_onset_in_artefact: in_artefact,
                ..DelineationConfig::default()
            };
            let mut d = Delineator::new(cfg, fs, 12);
            let mut out = Delineation::default();
            let hints = BeatHints {
                stimulus: Some(art),
                later_stimulus: None,
                excluded: 0,
                r_excluded: 0,
            };
            d.delineate_with(&views, 140, hints, &mut out);
            out
        };
        // As the blanker leaves it: a straight line across the artefact.
        let blank = |leads: &mut Vec<Vec<f64>>, (a, b): (usize, usize)| {
            for x in leads.iter_mut() {
                let (x0, x1) = (x[a - 1], x[b + 1]);
                for (k, v) in x[a..=b].iter_mut().enumerate() {
                    *v = x0 + (x1 - x0) * (k + 1) as f64 / (b + 2 - a) as f64;
                }
            }
        };
        // Quick capture: the QRS starts 2 ms after the stimulus, under the 12 ms artefact.
        let mut leads = twelve_leads(n, on, off, 0);
        let art = (on - 1, on + 5);
        blank(&mut leads, art);
        let (held, placed) = (run(&leads, art, false), run(&leads, art, true));
        assert_eq!(held.global.onset, Some(art.1 + 1), "{held:?}");
        let g = placed.global.onset.unwrap();
        assert!((art.0..=art.1).contains(&g), "onset {g}, artefact {art:?}");
        assert!(g.abs_diff(on) <= 3, "onset {g} vs the QRS start {on}");
        // Capture 16 ms after the stimulus, a recharge tail decaying over the artefact's end: the
        // onset stays where the rules put it.
        let mut leads = twelve_leads(n, on, off, 0);
        let art = (on - 8, on - 3);
        for x in leads.iter_mut() {
            for (k, v) in x[art.1 + 1..on].iter_mut().enumerate() {
                *v += 40.0 * (-(k as f64) / 2.0).exp();
            }
        }
        blank(&mut leads, art);
        assert_eq!(run(&leads, art, true).leads, run(&leads, art, false).leads);
    }

    #[test]
    fn the_global_qrs_stays_within_the_leads_spread_of_their_median() {
        let fs = 500.0;
        let (n, on, off) = (400, 150, 200);
        // Three leads start 60 ms before the other nine (as noise can make them look): the 2nd-earliest
        // onset is theirs.
        let mut leads = twelve_leads(n, on, off, 0);
        for (l, x) in leads.iter_mut().enumerate().take(3) {
            *x = qrs(n, on - 30, off, 500.0 + 100.0 * l as f64);
        }
        let views: Vec<&[f64]> = leads.iter().map(|v| v.as_slice()).collect();
        let run = |spread: [f64; 2]| {
            let cfg = DelineationConfig {
                max_spread_from_median_ms: spread,
                ..DelineationConfig::default()
            };
            let mut d = Delineator::new(cfg, fs, 12);
            let mut out = Delineation::default();
            d.delineate(&views, 175, &mut out);
            out
        };
        let (free, held) = (run([0.0, 0.0]), run([36.0, 52.0]));
        let mut ons: Vec<usize> = held.leads.iter().filter_map(|b| b.onset).collect();
        ons.sort_unstable();
        let median = ons[ons.len() / 2];
        let (f, h) = (free.global.onset.unwrap(), held.global.onset.unwrap());
        assert!(
            f + 18 < median,
            "free onset {f}, median lead onset {median}"
        );
        assert_eq!(h, median - 18, "held onset {h}, median lead onset {median}");
        assert_eq!(free.global.offset, held.global.offset);
    }

    #[test]
    fn the_differentiator_spans_the_same_time_at_every_rate() {
        // A 40 Hz sine: a central difference over ±T ms gives A·ω·sin(ωT)/(ωT); ±4 ms at 360 Hz must
        // not become ±1 sample (±2.8 ms, 12 % more gain at 40 Hz).
        let (f, amp, span_ms) = (40.0, 1000.0, 4.0);
        let w = 2.0 * std::f64::consts::PI * f;
        let want = amp * w / 1000.0 * (w * span_ms / 1000.0).sin() / (w * span_ms / 1000.0);
        for fs in [250.0, 360.0, 500.0, 1000.0] {
            let x: Vec<f64> = (0..(fs as usize))
                .map(|i| amp * (w * i as f64 / fs).sin())
                .collect();
            let mut d = vec![0.0; x.len()];
            differentiate(&x, &mut d, span_ms * fs / 1000.0, fs);
            // Amplitude of the slope's 40 Hz component (projection over whole periods, edges left out).
            let (mut c, mut q) = (0.0, 0.0);
            let (lo, hi) = ((fs / f) as usize, x.len() - (fs / f) as usize);
            for (i, v) in d.iter().enumerate().take(hi).skip(lo) {
                let t = w * i as f64 / fs;
                c += v * t.cos();
                q += v * t.sin();
            }
            let peak = 2.0 * (c * c + q * q).sqrt() / (hi - lo) as f64;
            // Linear interpolation at the ends smooths a little (−6 % at 360 Hz for 40 Hz, where QRS
            // energy ends); a span rounded to whole samples would be +12 % off there.
            assert!(
                (peak / want - 1.0).abs() < 0.07,
                "fs {fs}: peak slope {peak:.1} vs {want:.1} µV/ms"
            );
        }
    }

    #[test]
    fn short_or_flat_windows_give_none_not_panic() {
        let mut d = Delineator::new(DelineationConfig::default(), 500.0, 2);
        let mut out = Delineation::default();
        let flat = vec![0.0; 300];
        d.delineate(&[&flat, &flat], 150, &mut out);
        assert_eq!(out.global, Bounds::default());
        let tiny = vec![1.0; 3];
        d.delineate(&[&tiny, &tiny], 1, &mut out);
        assert_eq!(out.global, Bounds::default());
        d.delineate(&[&flat, &flat], 10_000, &mut out);
        assert_eq!(out.global, Bounds::default());
    }
}
