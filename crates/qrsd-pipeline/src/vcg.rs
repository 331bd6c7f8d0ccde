//! The vectorcardiogram of a QRS: X, Y, Z from the 12-lead ECG and the QRS area.
//!
//! X, Y and Z are synthesised from leads I, II and V1–V6 with the Kors regression matrix (Kors JA,
//! van Herpen G, Sittig AC, van Bemmel JH, "Reconstruction of the Frank vectorcardiogram from
//! standard electrocardiographic leads: diagnostic comparison of different methods", Eur Heart J
//! 1990;11:1083–92), the coefficients as tabulated in van Deursen et al., "Vectorcardiographic QRS
//! area as a novel predictor of response to cardiac resynchronization therapy", J Electrocardiol
//! 2015;48:45–52, and in the BRAVEHEART documentation. Axes as Frank's: X towards the patient's
//! left, Y towards the feet, Z towards the back (so the frontal axis reads as the hexaxial one:
//! 0° = lead I, +90° = inferior).
//!
//! **QRS area** (van Deursen 2015, van Stipdonk et al., Circ Arrhythm Electrophysiol 2018): each
//! of X, Y, Z taken relative to its level at the global QRS onset and integrated (trapezoids) from
//! the global onset to the global offset, Ax, Ay, Az in µV·s; QRS area = √(Ax² + Ay² + Az²).
//! Relative to the onset level, so that an offset left by the high-pass or a small baseline shift
//! does not grow with the QRS duration.
//!
//! **The high-pass is undone over the QRS.** The conditioning's first-order 0.5 Hz high-pass
//! (`qrsd_condition::filter`, bilinear: `H(z) = (1 − z⁻¹) / ((1 + k)(1 + a z⁻¹))`, `k = tan(π fc /
//! fs)`) pulls a sustained deflection back towards zero with a 318 ms time constant: over a 150 ms
//! QRS it takes 10–20 % off the area (a monophasic lobe centred mid-QRS loses ≈ T / 2τ). It is
//! invertible, so from the conditioned samples `y` the unfiltered change since the onset is exact:
//! `x[n] − x[on] = y[n] − y[on] + k Σ_{j=on+1..n} (y[j] + y[j−1])` (the notch and the 150 Hz
//! low-pass have unit gain at DC and leave the area alone). Without it the service read simulated
//! 130 ms BiV beats ~15 % small against their known signals.

use serde::{Deserialize, Serialize};

/// The leads the Kors matrix reads, in the column order of [`KORS`].
pub const KORS_LEADS: [&str; 8] = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"];

/// Kors regression matrix: rows X, Y, Z; columns [`KORS_LEADS`] (I, II, V1..V6).
pub const KORS: [[f64; 8]; 3] = [
    [0.38, -0.07, -0.13, 0.05, -0.01, 0.14, 0.06, 0.54],
    [-0.07, 0.93, 0.06, -0.02, -0.05, 0.06, -0.17, 0.13],
    [0.11, -0.23, -0.43, -0.06, -0.14, -0.20, -0.11, 0.31],
];

/// X, Y, Z (µV) of one instant from leads I, II, V1..V6 (µV, [`KORS_LEADS`] order).
#[inline]
pub fn kors_xyz(leads_uv: &[f64; 8]) -> [f64; 3] {
    let mut out = [0.0; 3];
    for (o, row) in out.iter_mut().zip(&KORS) {
        *o = row.iter().zip(leads_uv).map(|(c, v)| c * v).sum();
    }
    out
}

/// Positions of [`KORS_LEADS`] among `names` (case-insensitive); `None` when one is missing.
pub fn kors_indices<S: AsRef<str>>(names: &[S]) -> Option<[usize; 8]> {
    let mut idx = [0usize; 8];
    for (slot, want) in idx.iter_mut().zip(KORS_LEADS) {
        *slot = names
            .iter()
            .position(|n| n.as_ref().eq_ignore_ascii_case(want))?;
    }
    Some(idx)
}

/// Vectorcardiographic figures of one QRS (a beat, or a median beat). All `None` when the leads
/// do not include I, II and V1–V6 or the QRS has no onset or offset.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct QrsVcg {
    /// QRS area √(Ax² + Ay² + Az²), µV·s.
    pub qrs_area_uvs: Option<f64>,
    /// Ax, Ay, Az: the integrals of X, Y, Z over the QRS, µV·s.
    pub qrs_area_xyz_uvs: Option<[f64; 3]>,
    /// Largest spatial QRS vector magnitude |(X, Y, Z)| over the QRS, µV.
    pub qrs_vector_max_uv: Option<f64>,
    /// Frontal-plane QRS axis, degrees in (−180, 180]: the direction of (Ax, Ay), 0° = lead I,
    /// +90° = inferior (the mean frontal axis as the hexaxial system gives it).
    pub qrs_axis_frontal_deg: Option<f64>,
}

/// `k` of the conditioning's first-order high-pass at `fc_hz` (`None`: no high-pass, 0), for
/// [`qrs_vcg`]: the same bilinear pre-warp as `qrsd_condition::filter` (a test ties the two).
pub fn highpass_k(fs_hz: f64, fc_hz: Option<f64>) -> f64 {
    fc_hz.map_or(0.0, |f| (std::f64::consts::PI * f / fs_hz).tan())
}

/// Span before the onset (ms, onset included) over which the onset level is taken.
pub const LEVEL_MS: f64 = 8.0;
/// Most samples in the level span (2 kHz · 8 ms plus the onset, with room).
const LEVEL_MAX: usize = 32;

/// The figures of a QRS from `onset` to `offset` (sample indices, inclusive), with
/// `leads_at(i)` giving I, II, V1..V6 (µV) at index `i` (indices down to `onset` − [`LEVEL_MS`]
/// are read when they exist), high-passed with [`highpass_k`] `hp_k` (0 = not high-passed; the
/// module docs say how it is undone). No allocation.
///
/// The level at the onset is the median over the [`LEVEL_MS`] up to and including the onset
/// sample: with the simulator's sharp edges a boundary one sample late already stands 30–50 µV up
/// the QRS, and that offset, integrated over the whole QRS, took 15–20 % off its area.
pub fn qrs_vcg(
    fs_hz: f64,
    hp_k: f64,
    onset: usize,
    offset: usize,
    mut leads_at: impl FnMut(usize) -> [f64; 8],
) -> QrsVcg {
    if offset <= onset || !(fs_hz.is_finite() && fs_hz > 0.0) {
        return QrsVcg::default();
    }
    let dt_s = 1.0 / fs_hz;
    let n_level = ((LEVEL_MS * fs_hz / 1000.0).round() as usize).min(LEVEL_MAX - 1);
    let first = onset.saturating_sub(n_level);
    // X, Y, Z since `first`, the high-pass undone: y[n] − y[first] + k·Σ (y[j] + y[j−1]).
    let y_first = kors_xyz(&leads_at(first));
    let mut y_prev = y_first;
    let mut restored = [0.0f64; 3];
    let mut step = |i: usize| {
        if i == first {
            return [0.0; 3];
        }
        let y = kors_xyz(&leads_at(i));
        for k in 0..3 {
            restored[k] += hp_k * (y[k] + y_prev[k]);
        }
        y_prev = y;
        [
            y[0] - y_first[0] + restored[0],
            y[1] - y_first[1] + restored[1],
            y[2] - y_first[2] + restored[2],
        ]
    };
    let mut span = [[0.0f64; LEVEL_MAX]; 3];
    let n_span = onset - first + 1;
    let mut at_onset = [0.0f64; 3];
    for (j, i) in (first..=onset).enumerate() {
        at_onset = step(i);
        for k in 0..3 {
            span[k][j] = at_onset[k];
        }
    }
    let level = [0, 1, 2].map(|k| {
        let s = &mut span[k][..n_span];
        s.sort_by(f64::total_cmp);
        if n_span % 2 == 1 {
            s[n_span / 2]
        } else {
            0.5 * (s[n_span / 2 - 1] + s[n_span / 2])
        }
    });
    let mut prev = [0, 1, 2].map(|k| at_onset[k] - level[k]);
    let mut area = [0.0f64; 3];
    let mut max_uv = (prev[0] * prev[0] + prev[1] * prev[1] + prev[2] * prev[2]).sqrt();
    for i in onset + 1..=offset {
        let v = step(i);
        let cur = [0, 1, 2].map(|k| v[k] - level[k]);
        for k in 0..3 {
            area[k] += 0.5 * (prev[k] + cur[k]) * dt_s;
        }
        max_uv = max_uv.max((cur[0] * cur[0] + cur[1] * cur[1] + cur[2] * cur[2]).sqrt());
        prev = cur;
    }
    let total = (area[0] * area[0] + area[1] * area[1] + area[2] * area[2]).sqrt();
    if !total.is_finite() {
        return QrsVcg::default();
    }
    QrsVcg {
        qrs_area_uvs: Some(total),
        qrs_area_xyz_uvs: Some(area),
        qrs_vector_max_uv: Some(max_uv),
        qrs_axis_frontal_deg: Some(area[1].atan2(area[0]).to_degrees()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kors_rows_read_the_published_columns() {
        // A signal in one lead alone gives that lead's column: I → (0.38, −0.07, 0.11), V6 →
        // (0.54, 0.13, 0.31) (Kors 1990, as tabulated by van Deursen 2015).
        let mut l = [0.0; 8];
        l[0] = 1000.0;
        assert_eq!(kors_xyz(&l).map(|v| v.round()), [380.0, -70.0, 110.0]);
        let mut l = [0.0; 8];
        l[7] = 1000.0;
        assert_eq!(kors_xyz(&l).map(|v| v.round()), [540.0, 130.0, 310.0]);
        let mut l = [0.0; 8];
        l[2] = 1000.0;
        assert_eq!(kors_xyz(&l).map(|v| v.round()), [-130.0, 60.0, -430.0]);
    }

    #[test]
    fn area_of_a_triangle_relative_to_the_onset_level() {
        // 1 mV triangle in lead II over 100 ms at 1 kHz on a 200 µV offset: Y area = 0.93 · 50 µV·s.
        let fs = 1000.0;
        let v = |i: usize| {
            let t = i as f64;
            let tri = if t <= 50.0 {
                t / 50.0
            } else {
                (100.0 - t) / 50.0
            };
            let mut l = [200.0; 8];
            l[1] += 1000.0 * tri.max(0.0);
            l
        };
        let r = qrs_vcg(fs, 0.0, 0, 100, v);
        let [ax, ay, az] = r.qrs_area_xyz_uvs.unwrap_or_default();
        assert!((ay - 46.5).abs() < 1e-9, "{ay}");
        assert!(
            (ax + 3.5).abs() < 1e-9 && (az + 11.5).abs() < 1e-9,
            "{ax} {az}"
        );
        let area = r.qrs_area_uvs.unwrap_or_default();
        assert!((area - (3.5f64.powi(2) + 46.5f64.powi(2) + 11.5f64.powi(2)).sqrt()).abs() < 1e-9);
        // Peak vector at the apex: |(−70, 930, −230)| µV.
        let peak = r.qrs_vector_max_uv.unwrap_or_default();
        assert!((peak - (70f64.powi(2) + 930f64.powi(2) + 230f64.powi(2)).sqrt()).abs() < 1e-6);
        // Mostly inferior, a little rightward: just over +90°.
        let axis = r.qrs_axis_frontal_deg.unwrap_or_default();
        assert!((axis - 94.3).abs() < 0.1, "{axis}");
    }

    #[test]
    fn the_conditioning_high_pass_is_undone_exactly() {
        // A 400 µV-offset, 1 mV, 150 ms monophasic lobe in V6 through the real conditioning
        // high-pass (notch and low-pass off): the area read from the filtered samples equals the
        // area of the unfiltered lobe; read as if unfiltered it is ~20 % small.
        let fs = 500.0;
        let fc = 0.5;
        let cfg = qrsd_condition::FilterConfig {
            highpass_hz: Some(fc),
            ..qrsd_condition::FilterConfig::off()
        };
        let mut f = qrsd_condition::LeadFilter::new(&cfg, fs).expect("filter");
        let (on, off) = (500usize, 575usize);
        let raw: Vec<f64> = (0..1000)
            .map(|i| {
                let u = (i as f64 - on as f64) / (off - on) as f64;
                400.0
                    + if (0.0..=1.0).contains(&u) {
                        1000.0 * (std::f64::consts::PI * u).sin()
                    } else {
                        0.0
                    }
            })
            .collect();
        let y: Vec<f64> = raw.iter().map(|&x| f.process(x)).collect();
        let lead = |v: &[f64], i: usize| {
            let mut l = [0.0; 8];
            l[7] = v[i];
            l
        };
        let truth = qrs_vcg(fs, 0.0, on, off, |i| lead(&raw, i))
            .qrs_area_uvs
            .unwrap_or_default();
        let k = highpass_k(fs, Some(fc));
        let restored = qrs_vcg(fs, k, on, off, |i| lead(&y, i))
            .qrs_area_uvs
            .unwrap_or_default();
        let naive = qrs_vcg(fs, 0.0, on, off, |i| lead(&y, i))
            .qrs_area_uvs
            .unwrap_or_default();
        assert!(
            (restored / truth - 1.0).abs() < 1e-9,
            "{restored} vs {truth}"
        );
        assert!(naive / truth < 0.9, "{naive} vs {truth}");
    }

    #[test]
    fn no_figures_without_a_qrs_or_the_leads() {
        assert_eq!(qrs_vcg(500.0, 0.0, 10, 10, |_| [1.0; 8]), QrsVcg::default());
        let names = [
            "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5",
        ];
        assert_eq!(kors_indices(&names), None);
        let names = [
            "i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6",
        ];
        assert_eq!(kors_indices(&names), Some([0, 1, 6, 7, 8, 9, 10, 11]));
    }
}
