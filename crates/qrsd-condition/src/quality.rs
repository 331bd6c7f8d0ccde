//! Signal quality per lead and per stretch: what the signal is fit for.
//!
//! Each lead is cut into blocks of [`QualityConfig::block_ms`]; every finished block gets a label
//! ([`Quality`]) from features measured over the last second or two:
//!
//! - **lead-off**: the unfiltered signal is flat (range under [`QualityConfig::flat_uv`] in every block
//!   of the last 2 s: an open electrode on an amplifier that holds its input, or samples held over a
//!   gap);
//! - **saturated**: the unfiltered signal sits on one extreme value of the block for
//!   [`QualityConfig::clip_ms`] (an amplifier or recorder rail), at least half the range of the last
//!   2 s away from the mean of the last 2 s (the lead's resting level): a rail cuts a deflection off
//!   far from where the signal rests, while a noise-free baseline (exactly 0 µV between the waves of
//!   a digital or simulated signal) is where it rests, even in a block that a T wave fills and whose
//!   own mean is therefore far from it. Samples the stimulus blanker wrote (its straight line or
//!   held value over a pacing stimulus, [`QualityMeter::process_marked`]) are no evidence of a rail;
//! - **slope-noise floor**: the RMS slope (µV/ms) of the conditioned signal's QRS band (< 40 Hz, where
//!   the detector looks) in its 50 ms stretches (the median of the last second's 20: muscle and motion
//!   noise come in bursts, so the quietest stretches stay quiet long after the signal is swamped),
//!   over the lead's QRS slope. Muscle, motion and
//!   electrocautery raise the floor; a QRS does not. The QRS slope is the largest |slope| of 2 s
//!   windows, followed over clean stretches only (and drifting slowly in any): noise raises a window's
//!   own largest slope too, so against it a swamped stretch would look no worse than a clean one;
//! - **out-of-band power**: the RMS of the conditioned signal above 40 Hz (a second-order high-pass;
//!   QRS energy lies at 5–25 Hz, muscle and cautery noise well above) in the median stretch, over the
//!   lead's QRS peak-to-peak (followed like the slope): it makes a lead noisy (boundaries less sure),
//!   never unreadable (the detector does not look there);
//! - **kurtosis** of the conditioned signal over the last 2 s: an ECG is a train of sharp peaks
//!   (kurtosis ≫ 3), noise that swamps it is near-Gaussian (≈ 3).
//!
//! `noisy` = fit for detection but not for boundaries; `unreadable` = not even for detection (a
//! detection there is reported as noise). Agreement between leads is the pipeline's: a beat is only
//! unreadable when no lead is readable at it.
//!
//! Everything is per sample, allocation-free after construction; blocks are counted from the first
//! sample pushed, so the labels are a function of the sample sequence alone (chunking-invariant).

use crate::{check_fs, ConditionError};
use biquad::{Biquad, Coefficients, DirectForm2Transposed, ToHertz, Type, Q_BUTTERWORTH_F64};
use serde::{Deserialize, Serialize};

/// What a stretch of one lead is fit for, from the most to the least fit.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    /// Fit for detection and boundaries.
    #[default]
    Clean,
    /// Noise raises the boundaries' noise floor: fit for detection, boundaries less sure.
    Noisy,
    /// Noise as large as the QRS: no beat can be trusted from this lead.
    Unreadable,
    /// The unfiltered signal sits on a rail (clipping).
    Saturated,
    /// The unfiltered signal is flat (electrode off, or held samples).
    LeadOff,
}

impl Quality {
    /// Whether a QRS can be read from this lead here.
    pub fn readable(self) -> bool {
        matches!(self, Quality::Clean | Quality::Noisy)
    }

    /// Stable text form, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Clean => "clean",
            Quality::Noisy => "noisy",
            Quality::Unreadable => "unreadable",
            Quality::Saturated => "saturated",
            Quality::LeadOff => "lead_off",
        }
    }
}

/// Thresholds of the quality stage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QualityConfig {
    /// Block length, ms (labels are per block).
    pub block_ms: f64,
    /// A lead whose unfiltered range stayed under this in every block of 2 s is flat (lead-off), µV.
    pub flat_uv: f64,
    /// The same extreme value held this long is saturation, ms.
    pub clip_ms: f64,
    /// Slope-noise floor over QRS slope at or above which a stretch is noisy …
    pub noisy_slope_ratio: f64,
    /// … and unreadable (or at 0.6 of this ratio when the kurtosis is under `unreadable_kurtosis`).
    pub unreadable_slope_ratio: f64,
    /// Out-of-band (> 40 Hz) RMS in the quiet stretches over the QRS peak-to-peak at or above which a
    /// stretch is noisy.
    pub noisy_hf_ratio: f64,
    /// Kurtosis under which a noisy stretch holds no peaks standing out of the noise.
    pub unreadable_kurtosis: f64,
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self {
            block_ms: 250.0,
            flat_uv: 10.0,
            clip_ms: 20.0,
            noisy_slope_ratio: 0.08,
            unreadable_slope_ratio: 0.15,
            noisy_hf_ratio: 0.025,
            unreadable_kurtosis: 4.0,
        }
    }
}

/// Sub-windows of the slope-noise floor, ms.
const SUB_MS: f64 = 50.0;
/// Sub-windows per block at most (blocks up to 1 s).
const MAX_SUB: usize = 20;
/// Blocks of the noise floor (1 s at the default block) …
const FLOOR_BLOCKS: usize = 4;
/// … and of the QRS reference and kurtosis (2 s).
const REF_BLOCKS: usize = 8;
/// Corner of the out-of-band high-pass, Hz (capped at 0.35 fs).
const HF_HZ: f64 = 40.0;
/// Share of the unreadable slope ratio that is unreadable when no peak stands out (low kurtosis).
const UNREADABLE_FLAT_SHARE: f64 = 0.6;
/// Weight of a clean window in the lead's QRS reference …
const REF_CLEAN_WEIGHT: f64 = 0.1;
/// … and of any other (a slow drift, ~2 min at 250 ms blocks).
const REF_DRIFT_WEIGHT: f64 = 0.002;
/// Labels remembered per lead (the pipeline looks a beat's label up a few seconds late at most).
const HISTORY: usize = 64;

/// Features of one finished block of one lead.
#[derive(Debug, Clone, Copy, Default)]
struct Block {
    /// RMS slope (µV/ms) and out-of-band RMS (µV) of each sub-window.
    sub_slope: [f64; MAX_SUB],
    sub_hf: [f64; MAX_SUB],
    n_sub: usize,
    max_slope: f64,
    min_x: f64,
    max_x: f64,
    /// Range of the unfiltered signal, µV, its extremes and the sum of its samples.
    raw_range: f64,
    raw_lo: f64,
    raw_hi: f64,
    raw_sum: f64,
    /// Moments of the conditioned signal: n, Σx, Σx², Σx³, Σx⁴.
    moments: [f64; 5],
}

/// Features measured over the window that labels a block (for diagnostics and tuning).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct QualityFeatures {
    /// Slope-noise floor over the QRS slope.
    pub slope_ratio: f64,
    /// Out-of-band RMS in the quiet stretches over the QRS peak-to-peak.
    pub hf_ratio: f64,
    /// Kurtosis of the conditioned signal.
    pub kurtosis: f64,
    /// Largest range of the unfiltered signal in a block of the last 2 s, µV.
    pub raw_range_uv: f64,
    /// The block held one extreme value for `clip_ms`.
    pub clipped: bool,
}

#[derive(Debug, Clone)]
struct LeadState {
    /// In-band (QRS band, < 40 Hz) and out-of-band (> 40 Hz) parts of the conditioned signal.
    lp: DirectForm2Transposed<f64>,
    hf: DirectForm2Transposed<f64>,
    prev: f64,
    /// Sub-window accumulators.
    sub_ss: f64,
    sub_hh: f64,
    sub_n: usize,
    cur: Block,
    raw_min: f64,
    raw_max: f64,
    /// Sum of the unfiltered samples of the block (with the other blocks of the last 2 s: where the
    /// signal rests).
    raw_sum: f64,
    /// Run of equal unfiltered samples (not blanked), and the longest such run at the block's extreme
    /// so far.
    raw_last: f64,
    run: usize,
    run_at_min: usize,
    run_at_max: usize,
    blocks: [Block; REF_BLOCKS],
    labels: [Quality; HISTORY],
    features: QualityFeatures,
    /// The lead's QRS slope (µV/ms) and peak-to-peak (µV) as clean stretches show them; `None` until
    /// the first full reference window.
    reference: Option<(f64, f64)>,
}

/// The quality stage for all leads.
#[derive(Debug, Clone)]
pub struct QualityMeter {
    cfg: QualityConfig,
    fs_hz: f64,
    block_len: usize,
    sub_len: usize,
    clip_len: usize,
    n: u64,
    /// Blocks finished so far.
    n_blocks: u64,
    leads: Vec<LeadState>,
}

impl QualityMeter {
    /// A meter for `n_leads` leads at `fs_hz`.
    pub fn new(cfg: QualityConfig, fs_hz: f64, n_leads: usize) -> Result<Self, ConditionError> {
        check_fs(fs_hz)?;
        let block_len = (cfg.block_ms * fs_hz / 1000.0).round() as usize;
        let sub_len = ((SUB_MS * fs_hz / 1000.0).round() as usize).max(2);
        if cfg.block_ms.is_nan()
            || cfg.block_ms <= 0.0
            || block_len < sub_len
            || block_len / sub_len > MAX_SUB
        {
            return Err(ConditionError::Parameter {
                what: "quality.block_ms",
                value: cfg.block_ms,
            });
        }
        let hz = HF_HZ.min(0.35 * fs_hz);
        let coef = |t| {
            Coefficients::<f64>::from_params(t, fs_hz.hz(), hz.hz(), Q_BUTTERWORTH_F64)
                .map_err(|_| ConditionError::SamplingRate(fs_hz))
        };
        let lead = LeadState {
            lp: DirectForm2Transposed::<f64>::new(coef(Type::LowPass)?),
            hf: DirectForm2Transposed::<f64>::new(coef(Type::HighPass)?),
            prev: 0.0,
            sub_ss: 0.0,
            sub_hh: 0.0,
            sub_n: 0,
            cur: Block {
                min_x: f64::INFINITY,
                max_x: f64::NEG_INFINITY,
                ..Block::default()
            },
            raw_min: f64::INFINITY,
            raw_max: f64::NEG_INFINITY,
            raw_sum: 0.0,
            raw_last: f64::NAN,
            run: 0,
            run_at_min: 0,
            run_at_max: 0,
            blocks: [Block::default(); REF_BLOCKS],
            labels: [Quality::Clean; HISTORY],
            features: QualityFeatures::default(),
            reference: None,
        };
        Ok(Self {
            cfg,
            fs_hz,
            block_len,
            sub_len,
            clip_len: ((cfg.clip_ms * fs_hz / 1000.0).round() as usize).max(2),
            n: 0,
            n_blocks: 0,
            leads: vec![lead; n_leads],
        })
    }

    /// Samples per block.
    pub fn block_len(&self) -> usize {
        self.block_len
    }

    /// Blocks finished so far.
    pub fn blocks_done(&self) -> u64 {
        self.n_blocks
    }

    /// Push one frame: `raw_uv` unfiltered (after stimulus blanking), `conditioned_uv` band-filtered,
    /// one value per lead each.
    pub fn process(&mut self, raw_uv: &[f64], conditioned_uv: &[f64]) {
        self.process_marked(raw_uv, conditioned_uv, false);
    }

    /// [`QualityMeter::process`] for a frame the stimulus blanker may have written (`blanked`: its
    /// line or held value over a stimulus, [`crate::PaceBlanker::output_blanked`]): a value held
    /// there is the blanker's, not the amplifier's, so it does not count towards a rail.
    pub fn process_marked(&mut self, raw_uv: &[f64], conditioned_uv: &[f64], blanked: bool) {
        let scale = self.fs_hz / 1000.0;
        for ((st, &raw), &x) in self.leads.iter_mut().zip(raw_uv).zip(conditioned_uv) {
            let y = st.lp.run(x);
            let slope = (y - st.prev) * scale;
            st.prev = y;
            let h = st.hf.run(x);
            st.sub_ss += slope * slope;
            st.sub_hh += h * h;
            st.sub_n += 1;
            let b = &mut st.cur;
            b.max_slope = b.max_slope.max(slope.abs());
            b.min_x = b.min_x.min(x);
            b.max_x = b.max_x.max(x);
            let x2 = x * x;
            b.moments[0] += 1.0;
            b.moments[1] += x;
            b.moments[2] += x2;
            b.moments[3] += x2 * x;
            b.moments[4] += x2 * x2;
            if st.sub_n == self.sub_len {
                if b.n_sub < MAX_SUB {
                    b.sub_slope[b.n_sub] = (st.sub_ss / st.sub_n as f64).sqrt();
                    b.sub_hf[b.n_sub] = (st.sub_hh / st.sub_n as f64).sqrt();
                    b.n_sub += 1;
                }
                st.sub_ss = 0.0;
                st.sub_hh = 0.0;
                st.sub_n = 0;
            }
            st.raw_sum += raw;
            // Unfiltered extremes and how long the signal held them.
            if blanked {
                st.run = 0;
                st.raw_last = f64::NAN;
            } else if raw == st.raw_last {
                st.run += 1;
            } else {
                st.run = 1;
                st.raw_last = raw;
            }
            if raw < st.raw_min {
                st.raw_min = raw;
                st.run_at_min = st.run;
            } else if raw == st.raw_min {
                st.run_at_min = st.run_at_min.max(st.run);
            }
            if raw > st.raw_max {
                st.raw_max = raw;
                st.run_at_max = st.run;
            } else if raw == st.raw_max {
                st.run_at_max = st.run_at_max.max(st.run);
            }
        }
        self.n += 1;
        if self.n.is_multiple_of(self.block_len as u64) {
            self.finish_block();
        }
    }

    fn finish_block(&mut self) {
        let slot = (self.n_blocks % REF_BLOCKS as u64) as usize;
        let label_slot = (self.n_blocks % HISTORY as u64) as usize;
        let n_blocks = self.n_blocks + 1;
        for st in &mut self.leads {
            st.cur.raw_range = st.raw_max - st.raw_min;
            st.cur.raw_lo = st.raw_min;
            st.cur.raw_hi = st.raw_max;
            st.cur.raw_sum = st.raw_sum;
            st.blocks[slot] = st.cur;
            let n_ref = (n_blocks as usize).min(REF_BLOCKS);
            let (mut raw_range, mut lo, mut hi, mut sum) =
                (0.0f64, f64::INFINITY, f64::NEG_INFINITY, 0.0);
            for k in 0..n_ref {
                let b = &st.blocks[(slot + REF_BLOCKS - k) % REF_BLOCKS];
                raw_range = raw_range.max(b.raw_range);
                lo = lo.min(b.raw_lo);
                hi = hi.max(b.raw_hi);
                sum += b.raw_sum;
            }
            // A rail cuts a deflection off far from where the signal rests. Where it rests is the
            // mean of the last 2 s, not of the block: a block that a T wave fills has its mean in
            // the T wave, and a noise-free baseline (exactly 0 µV) held next to it sat at the
            // block's extreme half its range away from that mean (on the simulator 7–8 % of all
            // blocks, every lead at once).
            let rest = sum / (n_ref * self.block_len) as f64;
            let half = 0.5 * (hi - lo);
            let clipped = st.cur.raw_range >= self.cfg.flat_uv
                && ((st.run_at_min >= self.clip_len && rest - st.raw_min >= half)
                    || (st.run_at_max >= self.clip_len && st.raw_max - rest >= half));
            let local = local_window(&st.blocks, n_blocks, slot);
            // Noise raises the window's own largest slope too: against it, a stretch swamped by noise
            // would look no worse than a clean one. The reference follows clean stretches (and drifts
            // slowly in any, so that a gain change is learnt).
            let reference = st.reference.unwrap_or((local.max_slope, local.pp));
            let f = QualityFeatures {
                slope_ratio: ratio(local.floor, reference.0),
                hf_ratio: ratio(local.hf, reference.1),
                kurtosis: local.kurtosis,
                raw_range_uv: raw_range,
                clipped,
            };
            // Until the first full 2 s the lead's QRS is not known yet (filters settling, maybe no
            // beat seen): only what the unfiltered signal shows by itself is labelled.
            let q = match label(&self.cfg, &f) {
                Quality::Noisy | Quality::Unreadable if st.reference.is_none() => Quality::Clean,
                q => q,
            };
            if n_blocks >= REF_BLOCKS as u64 {
                let w = match (st.reference, q) {
                    (None, _) => 1.0,
                    (Some(_), Quality::Clean) => REF_CLEAN_WEIGHT,
                    (Some(_), _) => REF_DRIFT_WEIGHT,
                };
                st.reference = Some((
                    reference.0 + w * (local.max_slope - reference.0),
                    reference.1 + w * (local.pp - reference.1),
                ));
            }
            st.features = f;
            st.labels[label_slot] = q;
            st.cur = Block {
                min_x: f64::INFINITY,
                max_x: f64::NEG_INFINITY,
                ..Block::default()
            };
            st.raw_min = f64::INFINITY;
            st.raw_max = f64::NEG_INFINITY;
            st.raw_sum = 0.0;
            st.run_at_min = 0;
            st.run_at_max = 0;
        }
        self.n_blocks = n_blocks;
    }

    /// Label of lead `lead` in block `block` (blocks counted from the first sample); `None` when the
    /// block is not finished yet or forgotten.
    pub fn label(&self, lead: usize, block: u64) -> Option<Quality> {
        if block >= self.n_blocks || block + (HISTORY as u64) < self.n_blocks {
            return None;
        }
        self.leads
            .get(lead)
            .map(|st| st.labels[(block % HISTORY as u64) as usize])
    }

    /// The latest label of each lead (`Clean` before the first block ends).
    pub fn current(&self, out: &mut [Quality]) {
        for (o, st) in out.iter_mut().zip(&self.leads) {
            *o = if self.n_blocks == 0 {
                Quality::Clean
            } else {
                st.labels[((self.n_blocks - 1) % HISTORY as u64) as usize]
            };
        }
    }

    /// Features behind the latest label of lead `lead`.
    pub fn features(&self, lead: usize) -> Option<QualityFeatures> {
        self.leads.get(lead).map(|st| st.features)
    }
}

/// What the window ending with the block in `slot` shows (`n_blocks` finished so far).
struct Local {
    /// Slope-noise floor (µV/ms) and out-of-band RMS (µV) in the quiet stretches of the last second.
    floor: f64,
    hf: f64,
    /// Largest |slope| and peak-to-peak of the last 2 s.
    max_slope: f64,
    pp: f64,
    kurtosis: f64,
}

fn local_window(blocks: &[Block; REF_BLOCKS], n_blocks: u64, slot: usize) -> Local {
    let n_ref = (n_blocks as usize).min(REF_BLOCKS);
    let n_floor = n_ref.min(FLOOR_BLOCKS);
    let back = |k: usize| &blocks[(slot + REF_BLOCKS - k) % REF_BLOCKS];
    // The median sub-window of the floor window: muscle and motion noise come in bursts, so the
    // quietest stretches (the delineator's floor) stay quiet long after the signal is swamped.
    let mut subs = [(0.0f64, 0.0f64); FLOOR_BLOCKS * MAX_SUB];
    let mut n_subs = 0;
    for k in 0..n_floor {
        let b = back(k);
        for (s, h) in b.sub_slope[..b.n_sub].iter().zip(&b.sub_hf[..b.n_sub]) {
            subs[n_subs] = (*s, *h);
            n_subs += 1;
        }
    }
    let subs = &mut subs[..n_subs];
    subs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let (floor, hf) = subs
        .get(n_subs / 2)
        .copied()
        .unwrap_or((f64::NAN, f64::NAN));
    let (mut max_slope, mut lo, mut hi) = (0.0f64, f64::INFINITY, f64::NEG_INFINITY);
    let mut m = [0.0; 5];
    for k in 0..n_ref {
        let b = back(k);
        max_slope = max_slope.max(b.max_slope);
        lo = lo.min(b.min_x);
        hi = hi.max(b.max_x);
        for (a, v) in m.iter_mut().zip(&b.moments) {
            *a += v;
        }
    }
    let kurtosis = if m[0] > 1.0 {
        let n = m[0];
        let mu = m[1] / n;
        let var = m[2] / n - mu * mu;
        let m4 = m[4] / n - 4.0 * mu * m[3] / n + 6.0 * mu * mu * m[2] / n - 3.0 * mu.powi(4);
        if var > 1e-12 {
            m4 / (var * var)
        } else {
            0.0
        }
    } else {
        0.0
    };
    Local {
        floor,
        hf,
        max_slope,
        pp: if hi > lo { hi - lo } else { 0.0 },
        kurtosis,
    }
}

/// `a / b`, 0 when either is not a positive finite number.
fn ratio(a: f64, b: f64) -> f64 {
    if a.is_finite() && b.is_finite() && b > 0.0 {
        a / b
    } else {
        0.0
    }
}

fn label(cfg: &QualityConfig, f: &QualityFeatures) -> Quality {
    if f.raw_range_uv < cfg.flat_uv {
        Quality::LeadOff
    } else if f.clipped {
        Quality::Saturated
    } else if f.slope_ratio >= cfg.unreadable_slope_ratio
        || (f.slope_ratio >= UNREADABLE_FLAT_SHARE * cfg.unreadable_slope_ratio
            && f.kurtosis < cfg.unreadable_kurtosis)
    {
        Quality::Unreadable
    } else if f.slope_ratio >= cfg.noisy_slope_ratio || f.hf_ratio >= cfg.noisy_hf_ratio {
        Quality::Noisy
    } else {
        Quality::Clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FS: f64 = 500.0;

    /// A deterministic pseudo-random sequence in [−1, 1) (xorshift).
    fn noise(state: &mut u64) -> f64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        (*state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    /// A 1 mV QRS-like spike (σ 10 ms) every 800 ms.
    fn ecg(i: usize) -> f64 {
        let t = (i % 400) as f64 - 200.0;
        1000.0 * (-0.5 * (t * 2.0 / 10.0).powi(2)).exp()
    }

    /// Labels of lead 0 per block for `secs` seconds of `signal(i)` (raw = conditioned here).
    fn labels(secs: f64, mut signal: impl FnMut(usize) -> f64) -> Vec<Quality> {
        let mut m = QualityMeter::new(QualityConfig::default(), FS, 1).unwrap();
        let mut out = Vec::new();
        for i in 0..(secs * FS) as usize {
            let x = signal(i);
            m.process(&[x], &[x]);
            if m.n.is_multiple_of(m.block_len as u64) {
                out.push(m.label(0, m.blocks_done() - 1).unwrap());
            }
        }
        out
    }

    #[test]
    fn a_clean_ecg_is_clean() {
        let mut s = 1;
        let l = labels(20.0, |i| ecg(i) + 5.0 * noise(&mut s));
        assert!(l[8..].iter().all(|q| *q == Quality::Clean), "{l:?}");
    }

    #[test]
    fn noise_as_large_as_the_qrs_is_unreadable_and_moderate_noise_noisy() {
        let mut s = 7;
        // 10 s clean, 10 s of 100 µV noise (white: every sample independent, mostly out of the QRS
        // band), 10 s of 600 µV noise (as large as the QRS in its band too).
        let l = labels(30.0, |i| {
            let a = match i / (10 * FS as usize) {
                0 => 5.0,
                1 => 100.0,
                _ => 600.0,
            };
            ecg(i) + a * noise(&mut s)
        });
        let per_s = 4; // 250 ms blocks
        assert!(
            l[8..10 * per_s].iter().all(|q| *q == Quality::Clean),
            "{l:?}"
        );
        assert!(
            l[12 * per_s..20 * per_s]
                .iter()
                .all(|q| *q == Quality::Noisy),
            "{l:?}"
        );
        assert!(
            l[22 * per_s..].iter().all(|q| *q == Quality::Unreadable),
            "{l:?}"
        );
    }

    #[test]
    fn a_flat_lead_is_off_and_a_clipped_one_saturated() {
        let l = labels(4.0, |_| 120.0);
        assert!(l.iter().all(|q| *q == Quality::LeadOff), "{l:?}");
        let mut s = 3;
        // The QRS clipped at 600 µV for ~30 ms of every beat.
        let l = labels(6.0, |i| (ecg(i) + 5.0 * noise(&mut s)).min(400.0));
        // The blocks that hold a clipped QRS (one in three).
        let n = l.iter().filter(|q| **q == Quality::Saturated).count();
        assert!(n >= l.len() / 4, "{l:?}");
        assert!(l[1..]
            .iter()
            .all(|q| matches!(q, Quality::Saturated | Quality::Clean)));
    }

    #[test]
    fn a_noise_free_flat_baseline_is_clean_not_saturated() {
        // A digital recording without noise: exactly 0 between the beats, at each block's minimum.
        let l = labels(10.0, |i| (ecg(i) - 0.5).max(0.0));
        assert!(l[1..].iter().all(|q| *q == Quality::Clean), "{l:?}");
    }

    /// A noise-free paced beat every 800 ms, as the simulator makes it: exactly 0 µV between the
    /// waves, a flagged 20 mV stimulus with a recharge tail, a wide negative QRS 10 ms later and a
    /// broad positive T wave (300 ms) that fills whole 250 ms blocks.
    fn paced(i: usize) -> f64 {
        let t = i % 400; // 2 ms per sample
        let bump = |from: usize, len: usize, a: f64| {
            if (from..from + len).contains(&t) {
                a * (std::f64::consts::PI * (t - from) as f64 / len as f64)
                    .sin()
                    .powi(2)
            } else {
                0.0
            }
        };
        let stim = match t {
            0 => 20_000.0,
            1..=5 => -1000.0 * (-((t * 2) as f64) / 1.5).exp(),
            _ => 0.0,
        };
        stim + bump(5, 75, -1200.0) + bump(100, 150, 300.0)
    }

    /// Labels of lead 0 per block with `signal` through the stimulus blanker (flag at every
    /// stimulus), the blanked samples marked as the pipeline marks them.
    fn blanked_labels(secs: f64, signal: impl Fn(usize) -> f64) -> Vec<Quality> {
        let mut b = crate::PaceBlanker::new(crate::PaceConfig::default(), FS, 1).unwrap();
        let mut m = QualityMeter::new(QualityConfig::default(), FS, 1).unwrap();
        let (mut y, mut ev, mut out) = ([0.0], None, Vec::new());
        for i in 0..(secs * FS) as usize {
            if b.process(&[signal(i)], i % 400 == 0, &mut y, &mut ev) {
                m.process_marked(&y, &y, b.output_blanked());
                if m.n.is_multiple_of(m.block_len as u64) {
                    out.push(m.label(0, m.blocks_done() - 1).unwrap());
                }
            }
        }
        out
    }

    #[test]
    fn a_clean_paced_signal_with_blanked_stimuli_is_never_saturated() {
        // Blocks that the T wave fills have their mean in it, half their range from the 0 µV
        // baseline held beside it: that baseline is where the signal rests, not a rail.
        let l = blanked_labels(30.0, paced);
        assert_eq!(l.len(), 119);
        assert!(l.iter().all(|q| *q != Quality::Saturated), "{l:?}");
        // Clipped at −700 µV (the QRS cut off for ~30 ms), the same rhythm is a rail again.
        let l = blanked_labels(30.0, |i| paced(i).max(-700.0));
        let n = l.iter().filter(|q| **q == Quality::Saturated).count();
        assert!(n >= l.len() / 4, "{l:?}");
    }

    #[test]
    fn a_value_the_blanker_held_is_no_rail() {
        // 40 ms held 1.2 mV below a clean ECG's baseline between two beats: unmarked it is a rail,
        // marked as the blanker's (its held value over two stimuli) it is not.
        let run = |marked: bool| {
            let mut m = QualityMeter::new(QualityConfig::default(), FS, 1).unwrap();
            let mut s = 11;
            let mut out = Vec::new();
            for i in 0..(6.0 * FS) as usize {
                let held = (1100..1120).contains(&i);
                let x = if held {
                    -1200.0
                } else {
                    ecg(i) + 5.0 * noise(&mut s)
                };
                m.process_marked(&[x], &[x], marked && held);
                if m.n.is_multiple_of(m.block_len as u64) {
                    out.push(m.label(0, m.blocks_done() - 1).unwrap());
                }
            }
            out
        };
        let l = run(false);
        assert_eq!(l[8], Quality::Saturated, "{l:?}");
        let l = run(true);
        assert!(
            l.iter().all(|q| *q != Quality::Saturated),
            "blanked samples taken for a rail: {l:?}"
        );
    }

    #[test]
    fn labels_do_not_depend_on_when_they_are_read() {
        let mut s = 5;
        let x: Vec<f64> = (0..5000).map(|i| ecg(i) + 80.0 * noise(&mut s)).collect();
        let mut a = QualityMeter::new(QualityConfig::default(), FS, 1).unwrap();
        let mut b = a.clone();
        for v in &x {
            a.process(&[*v], &[*v]);
        }
        for chunk in x.chunks(333) {
            for v in chunk {
                b.process(&[*v], &[*v]);
            }
        }
        for k in 0..a.blocks_done() {
            assert_eq!(a.label(0, k), b.label(0, k));
        }
        assert_eq!(a.label(0, a.blocks_done()), None);
    }
}
