//! Dipole model: QRS/T/P vector lobes in heart coordinates projected onto lead vectors.
//!
//! Heart coordinates: x = patient's left, y = inferior (feet), z = anterior. A wave is a sum of *lobes*; a
//! lobe is a 3-D vector (µV) times a skewed pulse of normalised time `u ∈ [0, 1]` over the wave's support:
//! `sin(π(u−s)/(2(p−s)))^k` rising from `s` to the peak `p`, then `sin(π(e−u)/(2(e−p)))^k` falling to `e`.
//! P and T lobes use `k = 2` (a raised cosine); QRS lobes use `k = 1.25` ([`QRS_EDGE_POW`]). The pulse is
//! C¹, exactly zero outside `(s, e)` and strictly positive inside, so the support of a wave is known
//! exactly (the truth), while its edges start like a real QRS: visible (tens of µV) within 1–2 ms in the
//! leads that see the first and last forces, then steepening to tens of µV/ms.
//!
//! Lead values are dot products of the wave vector with per-lead vectors (frontal leads I, II; precordial
//! V1..V6 at their usual horizontal-plane angles), each scaled by a lead gain and rotated by a small
//! per-seed "patient" rotation. This is the classic vectorcardiographic model of the surface ECG
//! (Frank, *Circulation* 1956; Dower's lead vectors are the same idea), simplified to unit-length lead
//! vectors: good enough that every lead has its own polarity and its own QRS onset/offset.

use std::f64::consts::FRAC_PI_2;

/// Maximum lobes per wave (a fusion beat is the union of two morphologies).
pub(crate) const MAX_LOBES: usize = 8;

/// One vector lobe over the normalised interval `start < u < end`, peaking at `peak`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Lobe {
    pub start: f64,
    pub peak: f64,
    pub end: f64,
    /// Lobe vector in heart coordinates, µV at the peak.
    pub v: [f64; 3],
    /// Edge exponent: the pulse is `sin(x)^pow` (2 = raised cosine; QRS lobes use [`QRS_EDGE_POW`]).
    pub pow: f64,
}

/// Edge exponent of QRS lobes. A raised cosine (2) leaves a QRS whose first and last 2–4 ms are below
/// what anyone would see (a few µV), so that the support (the truth) and the visible QRS differ; with
/// 1.25 the pulse is still C¹ (slope ∝ t^0.25 from zero) but a 1 mV lobe is ≈ 20–40 µV within 2 ms of its
/// edge, as a real QRS onset (a wavefront reaching the surface leads) looks.
pub(crate) const QRS_EDGE_POW: f64 = 1.25;

impl Lobe {
    const fn new(start: f64, peak: f64, end: f64, v: [f64; 3], scale: f64) -> Self {
        Self {
            start,
            peak,
            end,
            v: [v[0] * scale, v[1] * scale, v[2] * scale],
            pow: 2.0,
        }
    }

    /// A QRS lobe: as [`Lobe::new`] with the sharper [`QRS_EDGE_POW`] edges.
    const fn qrs(start: f64, peak: f64, end: f64, v: [f64; 3], scale: f64) -> Self {
        let mut l = Self::new(start, peak, end, v, scale);
        l.pow = QRS_EDGE_POW;
        l
    }

    #[inline]
    fn edge(&self, x: f64) -> f64 {
        let s = x.sin();
        if self.pow == 2.0 {
            s * s
        } else {
            s.powf(self.pow)
        }
    }

    /// Skewed raised-cosine shape in `[0, 1]`, zero outside `(start, end)`.
    #[inline]
    pub fn shape(&self, u: f64) -> f64 {
        if u <= self.start || u >= self.end {
            0.0
        } else if u < self.peak {
            // 0.5·(1 − cos x) = sin²(x/2): no cancellation near the edge, so strictly positive inside.
            self.edge(FRAC_PI_2 * (u - self.start) / (self.peak - self.start))
        } else {
            // 0.5·(1 + cos x) = sin²((π − x)/2).
            self.edge(FRAC_PI_2 * (self.end - u) / (self.end - self.peak))
        }
    }
}

/// QRS "feet": real QRS complexes do not start and end at full steepness. Measured on LUDB (median over
/// 10,897 annotated QRS in I, II, V1, V2, V4, V6; `scripts/eval/edge_profile.py`), the deflection from the
/// baseline is only 0.8 % of the QRS peak-to-peak amplitude 4 ms after the cardiologist's onset, 1.7 % at
/// 8 ms, 3.2 % at 12 ms, 4.9 % at 16 ms and 6.9 % at 20 ms; before the offset 2.3 % at 4 ms, 4.4 % at 8 ms,
/// 7.1 % at 12 ms and 10.5 % at 16 ms. A QRS built from full-size lobes alone is 10–15 % of its amplitude
/// 4 ms inside its support, far steeper than any real one, and would let a delineator look good on the
/// simulator for the wrong reason. So the main lobes start [`FOOT_ON_MS`] after the onset and end
/// [`FOOT_OFF_MS`] before the offset, and two small slow lobes (raised cosines) fill the edges.
pub(crate) const FOOT_ON_MS: f64 = 18.0;
/// Peak of the leading foot after the onset, ms.
const FOOT_ON_PEAK_MS: f64 = 25.0;
/// End of the leading foot after the onset, ms.
const FOOT_ON_END_MS: f64 = 45.0;
/// Leading-foot amplitude as a fraction of the largest lobe.
const FOOT_ON_REL: f64 = 0.07;
/// See [`FOOT_ON_MS`].
pub(crate) const FOOT_OFF_MS: f64 = 12.0;
/// Peak of the trailing foot before the offset, ms.
const FOOT_OFF_PEAK_MS: f64 = 20.0;
/// Start of the trailing foot before the offset, ms.
const FOOT_OFF_START_MS: f64 = 40.0;
/// Trailing-foot amplitude as a fraction of the largest lobe.
const FOOT_OFF_REL: f64 = 0.10;

/// A QRS made of up to [`MAX_LOBES`] lobes plus its T-wave vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Morph {
    pub lobes: [Lobe; MAX_LOBES],
    pub n: usize,
    /// Leading and trailing feet (no per-beat gain jitter), added by [`Morph::with_feet`].
    pub feet: [Lobe; 2],
    /// T-wave vector (µV at the T peak).
    pub t_vec: [f64; 3],
    /// Wide-complex repolarisation: short ST segment (discordant T starts almost at the J point).
    pub wide: bool,
}

const ZERO_LOBE: Lobe = Lobe::new(0.0, 0.5, 1.0, [0.0; 3], 0.0);

impl Morph {
    fn from(lobes: &[Lobe], t_vec: [f64; 3], wide: bool) -> Self {
        let mut m = Self {
            lobes: [ZERO_LOBE; MAX_LOBES],
            n: 0,
            feet: [ZERO_LOBE; 2],
            t_vec,
            wide,
        };
        for l in lobes.iter().take(MAX_LOBES) {
            m.lobes[m.n] = *l;
            m.n += 1;
        }
        m
    }

    /// Lobes in use.
    pub fn lobes(&self) -> &[Lobe] {
        &self.lobes[..self.n]
    }

    /// Fusion of an early activation `a` (weight `wa`, over the whole complex `u ∈ [0, 1]`) with a later one
    /// `b` (weight `wb`) that joins at `u = b_from` (its lobes are mapped onto `[b_from, 1]`).
    pub fn blend(a: &Morph, wa: f64, b: &Morph, wb: f64, b_from: f64) -> Morph {
        let mut lobes = [ZERO_LOBE; MAX_LOBES];
        let mut n = 0;
        for (src, w, from) in [(a, wa, 0.0), (b, wb, b_from)] {
            let map = |u: f64| from + (1.0 - from) * u;
            for l in src.lobes() {
                if n < MAX_LOBES {
                    lobes[n] = Lobe {
                        start: map(l.start),
                        peak: map(l.peak),
                        end: map(l.end),
                        v: [l.v[0] * w, l.v[1] * w, l.v[2] * w],
                        pow: l.pow,
                    };
                    n += 1;
                }
            }
        }
        let t = |i: usize| a.t_vec[i] * wa + b.t_vec[i] * wb;
        Morph {
            lobes,
            n,
            feet: [ZERO_LOBE; 2],
            t_vec: [t(0), t(1), t(2)],
            wide: a.wide || b.wide,
        }
    }

    /// The same complex over `qrsd_ms` with its slow edges ([`FOOT_ON_MS`]): the main lobes are mapped into
    /// the support minus the feet, and the feet point along the first and last main lobes.
    pub fn with_feet(&self, qrsd_ms: f64) -> Morph {
        let on = FOOT_ON_MS.min(0.2 * qrsd_ms) / qrsd_ms;
        let off = FOOT_OFF_MS.min(0.13 * qrsd_ms) / qrsd_ms;
        let scale_u = |ms: f64| ms / FOOT_ON_MS * on;
        let scale_off = |ms: f64| ms / FOOT_OFF_MS * off;
        let map = |u: f64| on + (1.0 - on - off) * u;
        let mut m = *self;
        for l in &mut m.lobes[..m.n] {
            l.start = map(l.start);
            l.peak = map(l.peak);
            l.end = map(l.end);
        }
        let norm = |v: &[f64; 3]| dot(v, v).sqrt();
        let biggest = self.lobes().iter().map(|l| norm(&l.v)).fold(0.0, f64::max);
        let first = self
            .lobes()
            .iter()
            .min_by(|a, b| a.start.total_cmp(&b.start));
        let last = self.lobes().iter().max_by(|a, b| a.end.total_cmp(&b.end));
        let unit = |l: Option<&Lobe>, size: f64| {
            l.map_or([0.0; 3], |l| {
                let n = norm(&l.v).max(f64::MIN_POSITIVE);
                l.v.map(|c| c / n * size)
            })
        };
        m.feet = [
            Lobe {
                start: 0.0,
                peak: scale_u(FOOT_ON_PEAK_MS),
                end: scale_u(FOOT_ON_END_MS),
                v: unit(first, FOOT_ON_REL * biggest),
                pow: 2.0,
            },
            Lobe {
                start: 1.0 - scale_off(FOOT_OFF_START_MS),
                peak: 1.0 - scale_off(FOOT_OFF_PEAK_MS),
                end: 1.0,
                v: unit(last, FOOT_OFF_REL * biggest),
                pow: 2.0,
            },
        ];
        m
    }

    /// QRS vector at normalised time `u`, each lobe scaled by `gains[k]`.
    #[inline]
    pub fn vector(&self, u: f64, gains: &[f64; MAX_LOBES]) -> [f64; 3] {
        let mut v = [0.0; 3];
        for (l, g) in self.lobes().iter().zip(gains) {
            let s = l.shape(u) * g;
            if s != 0.0 {
                v[0] += l.v[0] * s;
                v[1] += l.v[1] * s;
                v[2] += l.v[2] * s;
            }
        }
        for l in &self.feet {
            let s = l.shape(u);
            if s != 0.0 {
                v[0] += l.v[0] * s;
                v[1] += l.v[1] * s;
                v[2] += l.v[2] * s;
            }
        }
        v
    }
}

/// The QRS shapes the generator knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MorphKind {
    /// Narrow normal QRS: septal q (rightward-anterior), dominant R (left-inferior), terminal S.
    Normal,
    /// LBBB: no septal q, broad notched leftward-posterior R (notched R in I/V6, deep QS in V1), discordant T.
    Lbbb,
    /// BiV paced: early rightward-superior-anterior LV-driven forces (R in V1, QS in I/V6), then RV apical
    /// superior forces.
    Biv,
    /// RV-only paced (loss of LV capture): LBBB-like with superior axis.
    RvOnly,
    /// Premature ventricular complex (outflow-tract-like: LBBB pattern, inferior axis), large discordant T.
    Pvc,
}

/// The morphology of `kind`.
pub(crate) fn morph(kind: MorphKind) -> Morph {
    match kind {
        MorphKind::Normal => Morph::from(
            &[
                Lobe::qrs(0.0, 0.12, 0.30, [-0.25, 0.10, 0.35], 600.0),
                Lobe::qrs(0.10, 0.42, 0.72, [0.80, 0.85, -0.25], 1300.0),
                Lobe::qrs(0.55, 0.78, 1.0, [-0.35, -0.30, -0.55], 700.0),
            ],
            [0.45, 0.55, 0.10].map(|c| c * 330.0),
            false,
        ),
        MorphKind::Lbbb => Morph::from(
            &[
                Lobe::qrs(0.0, 0.22, 0.50, [0.75, 0.35, -0.55], 1150.0),
                Lobe::qrs(0.25, 0.62, 0.90, [0.85, 0.05, -0.75], 1250.0),
                Lobe::qrs(0.70, 0.84, 1.0, [0.30, -0.25, -0.50], 450.0),
            ],
            [-0.60, -0.15, 0.60].map(|c| c * 330.0),
            true,
        ),
        MorphKind::Biv => Morph::from(
            &[
                Lobe::qrs(0.0, 0.22, 0.55, [-0.75, -0.45, 0.55], 1100.0),
                Lobe::qrs(0.35, 0.65, 1.0, [-0.15, -0.75, -0.45], 900.0),
            ],
            [0.50, 0.45, -0.35].map(|c| c * 400.0),
            true,
        ),
        // The late leftward forces dominate (RV apex to LV free wall, as in LBBB): with two lobes of
        // nearly equal size the beat's R jumped from one to the other from beat to beat, and an
        // R-aligned template no longer matched its own rhythm.
        MorphKind::RvOnly => Morph::from(
            &[
                Lobe::qrs(0.0, 0.30, 0.60, [0.55, -0.80, -0.55], 800.0),
                Lobe::qrs(0.40, 0.68, 1.0, [0.85, -0.35, -0.70], 1000.0),
            ],
            [-0.50, 0.45, 0.50].map(|c| c * 400.0),
            true,
        ),
        MorphKind::Pvc => Morph::from(
            &[
                Lobe::qrs(0.0, 0.30, 0.60, [0.25, 1.0, -0.60], 1300.0),
                Lobe::qrs(0.45, 0.70, 1.0, [0.55, 0.55, -0.80], 900.0),
            ],
            [-0.30, -0.70, 0.60].map(|c| c * 380.0),
            true,
        ),
    }
}

/// Sinus P wave (right then left atrial lobes) over its 100 ms support.
pub(crate) const P_LOBES: [Lobe; 2] = [
    Lobe::new(0.0, 0.35, 0.65, [0.20, 0.80, 0.45], 110.0),
    Lobe::new(0.30, 0.62, 1.0, [0.80, 0.45, -0.35], 90.0),
];

/// The T-wave pulse shape (slow rise, faster fall) with unit vector; scaled by the morphology's `t_vec`.
pub(crate) const T_SHAPE: Lobe = Lobe::new(0.0, 0.6, 1.0, [1.0, 1.0, 1.0], 1.0);

/// Unit lead vectors (heart coordinates) of the acquired leads I, II, V1..V6.
const LEAD_DIRS: [[f64; 3]; 8] = [
    [1.0, 0.0, 0.0],       // I: 0°
    [0.5, 0.866_025, 0.0], // II: +60°
    [-0.423, 0.0, 0.906],  // V1: 115° (horizontal plane, from left towards anterior)
    [-0.087, 0.0, 0.996],  // V2: 95°
    [0.259, 0.10, 0.961],  // V3: 75°
    [0.574, 0.20, 0.794],  // V4: 55°
    [0.866, 0.20, 0.458],  // V5: 30°
    [0.996, 0.20, 0.087],  // V6: 5°
];

/// Cardiac signal gain per acquired lead (precordial leads near the heart see larger QRS).
const LEAD_GAINS: [f64; 8] = [0.75, 0.85, 0.90, 1.25, 1.35, 1.30, 1.10, 0.90];

/// Pacing-artefact dipoles (stimulating electrode to device can, left pectoral): LV lateral and RV apex.
const PACE_LV_DIR: [f64; 3] = [0.35, -0.80, 0.45];
const PACE_RV_DIR: [f64; 3] = [-0.30, -0.90, 0.20];

#[inline]
pub(crate) fn dot(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Lead projection matrix for one simulated patient.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LeadModel {
    /// Row `l`: the heart-coordinate vector whose dot product with a wave vector gives lead `l` in µV.
    pub rows: [[f64; 3]; 8],
    /// Per-lead polarity/scale of an LV stimulus artefact (max |.| over leads = 1).
    pub pace_lv: [f64; 8],
    /// Per-lead polarity/scale of an RV stimulus artefact (max |.| over leads = 1).
    pub pace_rv: [f64; 8],
}

impl LeadModel {
    /// The lead model with the heart rotated by small angles (radians) about x, y and z.
    pub fn new(rx: f64, ry: f64, rz: f64) -> Self {
        // R = Rz·Ry·Rx rotates heart vectors; lead(v) = d·(R v) = (Rᵀ d)·v.
        let (sx, cx) = rx.sin_cos();
        let (sy, cy) = ry.sin_cos();
        let (sz, cz) = rz.sin_cos();
        let r = [
            [cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx],
            [sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx],
            [-sy, cy * sx, cy * cx],
        ];
        let mut rows = [[0.0; 3]; 8];
        for (row, (d, g)) in rows.iter_mut().zip(LEAD_DIRS.iter().zip(LEAD_GAINS)) {
            for (j, out) in row.iter_mut().enumerate() {
                *out = g * (0..3).map(|i| r[i][j] * d[i]).sum::<f64>();
            }
        }
        Self {
            rows,
            pace_lv: pace_pattern(&PACE_LV_DIR),
            pace_rv: pace_pattern(&PACE_RV_DIR),
        }
    }

    /// The 8 acquired lead values of heart vector `v`.
    #[inline]
    pub fn project(&self, v: &[f64; 3]) -> [f64; 8] {
        let mut out = [0.0; 8];
        for (o, row) in out.iter_mut().zip(&self.rows) {
            *o = dot(row, v);
        }
        out
    }
}

/// Per-lead stimulus artefact, normalised so that the largest lead is ±1.
fn pace_pattern(dir: &[f64; 3]) -> [f64; 8] {
    let mut p = [0.0; 8];
    for (o, d) in p.iter_mut().zip(&LEAD_DIRS) {
        *o = dot(d, dir);
    }
    let max = p.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    if max > 0.0 {
        p.iter_mut().for_each(|x| *x /= max);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lobe_support_is_exact_and_peak_is_one() {
        let l = Lobe::new(0.1, 0.3, 0.9, [1.0, 0.0, 0.0], 1.0);
        assert_eq!(l.shape(0.1), 0.0);
        assert_eq!(l.shape(0.9), 0.0);
        assert_eq!(l.shape(0.05), 0.0);
        assert!(l.shape(0.1 + 1e-9) > 0.0);
        assert!(l.shape(0.9 - 1e-9) > 0.0);
        assert!((l.shape(0.3) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn lbbb_has_qs_in_v1_and_positive_r_in_i_and_v6() {
        let lm = LeadModel::new(0.0, 0.0, 0.0);
        let m = morph(MorphKind::Lbbb);
        let gains = [1.0; MAX_LOBES];
        let (mut min_v1, mut max_v1, mut max_i, mut max_v6) = (0.0_f64, 0.0_f64, 0.0_f64, 0.0_f64);
        for k in 1..1000 {
            let leads = lm.project(&m.vector(k as f64 / 1000.0, &gains));
            min_v1 = min_v1.min(leads[2]);
            max_v1 = max_v1.max(leads[2]);
            max_i = max_i.max(leads[0]);
            max_v6 = max_v6.max(leads[7]);
        }
        assert!(min_v1 < -800.0, "deep QS in V1: {min_v1}");
        assert!(max_v1 < 0.05 * -min_v1, "no R in V1: {max_v1}");
        assert!(max_i > 500.0 && max_v6 > 500.0, "{max_i} {max_v6}");
    }

    #[test]
    fn pace_patterns_are_normalised() {
        let lm = LeadModel::new(0.1, -0.1, 0.05);
        for p in [lm.pace_lv, lm.pace_rv] {
            let max = p.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
            assert!((max - 1.0).abs() < 1e-12);
        }
    }
}
