//! Learned boundary correction: where, relative to the boundary the rules found, a cardiologist marks a
//! lead's QRS onset or offset, predicted from the shape of the signal around it.
//!
//! The rules (lib.rs) find where the deflection stands out of the lead's noise; cardiologists mark the
//! start of the slow foot before it, and how far before depends on the shape (a gradual foot, a slurred S,
//! a small q): a fixed shift corrects the mean only. A small gradient-boosted regression forest
//! (`scripts/train/boundary_model.py`, trained on LUDB with a grouped-by-record cross-validation,
//! docs/algorithms.md) reads amplitude-normalised levels at 4 ms steps around the boundary and returns the
//! correction in ms. Every feature is in ms or relative to the lead's QRS amplitude, so it is the same
//! at every rate. Inference is ~3,000 comparisons per boundary (600 trees of depth ≤ 5) and allocates
//! nothing.

/// Number of features per boundary.
pub const N_FEATURES: usize = 20;
/// Levels sampled outside the boundary (4, 8, … 40 ms).
const N_OUT: usize = 10;
/// Levels sampled inside the boundary (4, 8, … 28 ms).
const N_IN: usize = 7;
/// Spacing of the sampled levels, ms.
const STEP_MS: f64 = 4.0;
/// Each level is the mean over ± this, ms (smooths the sample noise the way the eye does).
const LEVEL_HALF_MS: f64 = 2.0;
/// The correction is never larger than this, ms (a forest extrapolates flat anyway; this bounds a
/// feature vector unlike anything it was trained on).
pub const MAX_CORRECTION_MS: f64 = 30.0;

/// How far outside the boundary the features read, ms (for the window length the result depends on).
pub const OUTSIDE_REACH_MS: f64 = N_OUT as f64 * STEP_MS + LEVEL_HALF_MS;

/// One tree node: an inner node sends `x[feature] <= threshold` left, else right; a leaf has
/// `feature == LEAF` and returns its value, kept in `threshold` (16 bytes a node instead of 32: the
/// 52k nodes of the per-lead forest then take 0.8 MB, and evaluation touches half the cache lines).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    threshold: f64,
    left: u16,
    right: u16,
    feature: u8,
}

/// A node as the generated forests write it (`scripts/train/*.py`): `value` is used by leaves only.
pub(crate) const fn node(feature: u8, threshold: f64, left: u16, right: u16, value: f64) -> Node {
    Node {
        threshold: if feature == LEAF { value } else { threshold },
        left,
        right,
        feature,
    }
}

pub(crate) const LEAF: u8 = u8::MAX;

/// A gradient-boosted forest: `base` plus the sum of one leaf value per tree.
#[derive(Debug)]
pub(crate) struct Forest {
    pub base: f64,
    pub trees: &'static [&'static [Node]],
}

impl Forest {
    pub(crate) fn predict(&self, f: &[f64]) -> f64 {
        let mut y = self.base;
        for t in self.trees {
            let mut i = 0usize;
            loop {
                let n = &t[i];
                if n.feature == LEAF {
                    y += n.threshold;
                    break;
                }
                // NaN (cannot happen: features are finite) would go right, as in training's default.
                i = if f[n.feature as usize] <= n.threshold {
                    n.left as usize
                } else {
                    n.right as usize
                };
            }
        }
        y
    }
}

/// Which boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// QRS onset: outside lies before it.
    Onset,
    /// QRS offset: outside lies after it.
    Offset,
}

/// The features of boundary `b` of a lead whose QRS spans `[onset, offset]` (window indices into `x`,
/// conditioned µV), with the lead's slope noise floor `noise_uv_per_ms`. Positions outside `x` are held
/// at its ends.
pub fn boundary_features(
    x: &[f64],
    edge: Edge,
    onset: usize,
    offset: usize,
    noise_uv_per_ms: f64,
    fs_hz: f64,
) -> [f64; N_FEATURES] {
    let mut f = [0.0; N_FEATURES];
    let n = x.len();
    if n == 0 || onset > offset || offset >= n {
        return f;
    }
    let (lo, hi) = x[onset..=offset]
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    // Below 20 µV a lead's QRS is barely there; the floor keeps the ratios bounded.
    let amp = (hi - lo).max(20.0);
    let half = (LEVEL_HALF_MS * fs_hz / 1000.0).round().max(1.0) as i64;
    let level = |t_ms: f64, b: usize| -> f64 {
        let c = b as i64 + (t_ms * fs_hz / 1000.0).round() as i64;
        let (a, z) = ((c - half).max(0), (c + half).min(n as i64 - 1));
        if a > z {
            return x[c.clamp(0, n as i64 - 1) as usize];
        }
        let s: f64 = x[a as usize..=z as usize].iter().sum();
        s / (z - a + 1) as f64
    };
    let (b, dir) = match edge {
        Edge::Onset => (onset, 1.0),
        Edge::Offset => (offset, -1.0),
    };
    let x0 = level(0.0, b);
    // Orientation: the deflection into the QRS counts positive.
    let sign = if level(dir * 2.0 * STEP_MS, b) >= x0 {
        1.0
    } else {
        -1.0
    };
    for (k, v) in f[..N_OUT].iter_mut().enumerate() {
        *v = sign * (x0 - level(-dir * STEP_MS * (k + 1) as f64, b)) / amp;
    }
    for (k, v) in f[N_OUT..N_OUT + N_IN].iter_mut().enumerate() {
        *v = sign * (level(dir * STEP_MS * (k + 1) as f64, b) - x0) / amp;
    }
    f[N_OUT + N_IN] = noise_uv_per_ms / amp;
    f[N_OUT + N_IN + 1] = amp.ln();
    f[N_OUT + N_IN + 2] = (offset - onset) as f64 * 1000.0 / fs_hz / 100.0;
    f
}

/// The learned correction of a boundary, ms (positive = later), bounded by [`MAX_CORRECTION_MS`].
pub fn correction_ms(edge: Edge, f: &[f64; N_FEATURES]) -> f64 {
    let forest = match edge {
        Edge::Onset => &crate::learned_model::ONSET,
        Edge::Offset => &crate::learned_model::OFFSET,
    };
    forest
        .predict(f)
        .clamp(-MAX_CORRECTION_MS, MAX_CORRECTION_MS)
}

/// The learned global boundary never lies further than this beyond the outermost lead's boundary, ms
/// (on LUDB the model goes 2 ms beyond it in the median, 8.7 ms at the 99th percentile): a safety
/// bound for feature vectors unlike the training's.
pub const MAX_BEYOND_OUTERMOST_MS: f64 = 10.0;

/// Number of features of the global model.
pub const N_GLOBAL_FEATURES: usize = 6;

/// The features of one global edge from the per-lead boundaries of a beat, in oriented ms (an onset as
/// is, an offset negated: outwards is negative): `corrected_sorted` ascending (the leads' boundaries as
/// reported), `rules` the same leads' boundaries before the learned correction, in any order. With ≥ 6
/// leads the reference point is the 2nd-earliest, else the earliest (the ranked global boundary):
/// the distances of the earliest, the 3rd-earliest and the median lead from it; how far the per-lead
/// correction moved the leads on average (a slow foot moves them, a sharp edge does not); the lead
/// count; the earliest boundary before correction. As `scripts/train/global_model.py` computes them.
pub fn global_features(corrected_sorted: &[f64], rules: &[f64]) -> [f64; N_GLOBAL_FEATURES] {
    let n = corrected_sorted.len().min(rules.len());
    if n == 0 {
        return [0.0; N_GLOBAL_FEATURES];
    }
    let c = &corrected_sorted[..n];
    let base = if n >= 6 { c[1] } else { c[0] };
    let median = if n % 2 == 1 {
        c[n / 2]
    } else {
        0.5 * (c[n / 2 - 1] + c[n / 2])
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n as f64;
    let rules_min = rules[..n].iter().copied().fold(f64::INFINITY, f64::min);
    [
        c[0] - base,
        c[2.min(n - 1)] - base,
        median - base,
        mean(c) - mean(&rules[..n]),
        n as f64,
        rules_min - base,
    ]
}

/// Where the global boundary lies relative to the ranked one, ms, in oriented terms (negative =
/// outwards: an earlier onset, a later offset), within [−[`MAX_CORRECTION_MS`], 0]: the earliest of
/// the leads' marks never lies after the 2nd-earliest lead, so the model only ever moves the global
/// boundary outwards (where it predicted inwards, it was undoing per-lead noise that the ranking
/// already handles, and shortened simulated beats by 2–3 ms).
pub fn global_correction_ms(edge: Edge, f: &[f64; N_GLOBAL_FEATURES]) -> f64 {
    let forest = match edge {
        Edge::Onset => &crate::learned_global_model::GLOBAL_ONSET,
        Edge::Offset => &crate::learned_global_model::GLOBAL_OFFSET,
    };
    forest.predict(f).clamp(-MAX_CORRECTION_MS, 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_rate_independent_on_a_smooth_edge() {
        // A 1 mV raised-cosine QRS of 100 ms starting at 200 ms, sampled at two rates.
        let make = |fs: f64| -> (Vec<f64>, usize, usize) {
            let n = (0.6 * fs) as usize;
            let x = (0..n)
                .map(|i| {
                    let t = i as f64 / fs * 1000.0 - 200.0;
                    if (0.0..=100.0).contains(&t) {
                        500.0 * (1.0 - (2.0 * std::f64::consts::PI * t / 100.0).cos())
                    } else {
                        0.0
                    }
                })
                .collect();
            (x, (0.2 * fs) as usize, (0.3 * fs) as usize)
        };
        let (a, on_a, off_a) = make(500.0);
        let (b, on_b, off_b) = make(1000.0);
        let fa = boundary_features(&a, Edge::Onset, on_a, off_a, 1.0, 500.0);
        let fb = boundary_features(&b, Edge::Onset, on_b, off_b, 1.0, 1000.0);
        for (k, (u, v)) in fa.iter().zip(&fb).enumerate() {
            assert!((u - v).abs() < 0.02, "feature {k}: {u} vs {v}");
        }
        // Flat outside, rising inside.
        assert!(fa[..N_OUT].iter().all(|v| v.abs() < 0.01), "{fa:?}");
        assert!(fa[N_OUT + 3] > 0.05);
    }

    #[test]
    fn an_inverted_lead_gives_the_same_features() {
        let x: Vec<f64> = (0..300)
            .map(|i| {
                if (100..150).contains(&i) {
                    ((i - 100) * 10) as f64
                } else {
                    0.0
                }
            })
            .collect();
        let y: Vec<f64> = x.iter().map(|v| -v).collect();
        let fx = boundary_features(&x, Edge::Onset, 100, 149, 1.0, 500.0);
        let fy = boundary_features(&y, Edge::Onset, 100, 149, 1.0, 500.0);
        assert_eq!(fx, fy);
    }

    #[test]
    fn global_features_follow_their_definition() {
        // 7 leads (≥ 6: the reference point is the 2nd-earliest), each corrected 5 ms earlier.
        let c = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0];
        let r: Vec<f64> = c.iter().rev().map(|v| v + 5.0).collect();
        assert_eq!(global_features(&c, &r), [-2.0, 2.0, 4.0, -5.0, 7.0, 3.0]);
        // 2 leads: the earliest is the reference point; the median is their mean.
        assert_eq!(
            global_features(&[10.0, 14.0], &[10.0, 14.0]),
            [0.0, 4.0, 2.0, 0.0, 2.0, 0.0]
        );
        assert_eq!(global_features(&[], &[]), [0.0; N_GLOBAL_FEATURES]);
    }

    #[test]
    fn global_correction_is_bounded_and_finite() {
        for v in [-1e9, -30.0, 0.0, 30.0, 1e9] {
            for n in [1.0, 2.0, 12.0] {
                let mut f = [v; N_GLOBAL_FEATURES];
                f[4] = n;
                for e in [Edge::Onset, Edge::Offset] {
                    let c = global_correction_ms(e, &f);
                    assert!(c.is_finite() && c.abs() <= MAX_CORRECTION_MS);
                }
            }
        }
    }

    #[test]
    fn correction_is_bounded_and_finite() {
        for v in [-1e9, -1.0, 0.0, 1.0, 1e9] {
            let f = [v; N_FEATURES];
            for e in [Edge::Onset, Edge::Offset] {
                let c = correction_ms(e, &f);
                assert!(c.is_finite() && c.abs() <= MAX_CORRECTION_MS);
            }
        }
    }
}
