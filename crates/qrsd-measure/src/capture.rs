//! LV capture by ECG criteria, on a site's median paced beat, and the median beat's VCG loop.
//!
//! **Ammann criteria** (Ammann P et al., "An electrocardiogram-based algorithm to detect loss of
//! left ventricular capture during cardiac resynchronization therapy", Ann Intern Med
//! 2005;142:968–73; 94 % sensitivity, 93 % specificity for loss of LV capture): an R/S ratio ≥ 1 in
//! V1 means LV capture; with R/S < 1 in V1, an R/S ratio ≤ 1 in lead I still means LV capture (the
//! LV wavefront runs away from lead I), and R/S > 1 in I with R/S < 1 in V1 is the RV-only
//! (LBBB-like) paced complex. **Supporting sign**: a Q, q or QS in lead I (an initial negative
//! deflection: activation starting at the lateral LV wall and running rightward) goes with LV
//! capture (Cao et al. 2015; also Barold & Herweg, Cardiol J 2011).
//!
//! Classification (`lv_capture`):
//! - `likely`: the Ammann criteria say LV capture;
//! - `unlikely`: they say RV-only and there is no Q/q/QS in I;
//! - `uncertain`: the deciding R/S ratio lies within a factor [`BORDERLINE`] of its threshold and
//!   the supporting sign disagrees, an RV-only reading comes with a Q/q/QS in I, or V1 or I is too
//!   small to read (peak deflection < [`MIN_LEAD_UV`]).
//!
//! Amplitudes are measured on the median beat from the global QRS onset to offset, relative to
//! the lead's level at the onset: R = the largest positive deflection, S = the largest negative.

use crate::waveform::MedianBeat;
use qrsd_pipeline::vcg;
use serde::{Deserialize, Serialize};

/// A deciding ratio within this factor of its threshold (1) is borderline.
pub const BORDERLINE: f64 = 1.25;
/// A lead whose QRS deflects less than this (µV) cannot be read.
pub const MIN_LEAD_UV: f64 = 100.0;
/// The first deflection of lead I counts as Q/q/QS when it is negative and reaches this fraction
/// of the lead's QRS peak-to-peak amplitude (and at least 30 µV) before any positive one does.
const Q_FRACTION: f64 = 0.05;

/// LV capture class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LvCaptureClass {
    /// The paced complex shows LV capture.
    Likely,
    /// The paced complex looks like RV-only pacing.
    Unlikely,
    /// The signs conflict or are borderline.
    Uncertain,
}

impl LvCaptureClass {
    /// Stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            LvCaptureClass::Likely => "likely",
            LvCaptureClass::Unlikely => "unlikely",
            LvCaptureClass::Uncertain => "uncertain",
        }
    }
}

/// The values an [`LvCaptureClass`] was decided from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LvCaptureCriteria {
    /// R amplitude in V1, µV.
    pub r_v1_uv: f64,
    /// S amplitude (magnitude) in V1, µV.
    pub s_v1_uv: f64,
    /// R/S in V1 (`None` = no S: R alone).
    pub rs_ratio_v1: Option<f64>,
    /// R amplitude in I, µV.
    pub r_i_uv: f64,
    /// S amplitude (magnitude) in I, µV.
    pub s_i_uv: f64,
    /// R/S in I (`None` = no S).
    pub rs_ratio_i: Option<f64>,
    /// A Q, q or QS in lead I.
    pub q_in_i: bool,
    /// Frontal QRS axis of the median beat (VCG), degrees, when I, II, V1–V6 were there.
    pub qrs_axis_frontal_deg: Option<f64>,
    /// The rule that decided, in words.
    pub rule: String,
    /// A plain warning for the operator (RV-only look).
    pub warning: Option<String>,
}

/// R, S (magnitudes, µV) and whether the first clear deflection is negative, of `uv` over
/// `on..=off` relative to `uv[on]`.
fn rs_q(uv: &[f32], on: usize, off: usize) -> Option<(f64, f64, bool)> {
    let seg = uv.get(on..=off)?;
    let base = f64::from(*seg.first()?);
    let (mut r, mut s) = (0.0f64, 0.0f64);
    for v in seg {
        let d = f64::from(*v) - base;
        if d.is_finite() {
            r = r.max(d);
            s = s.max(-d);
        }
    }
    let thr = (Q_FRACTION * (r + s)).max(30.0);
    let first_neg = seg
        .iter()
        .map(|v| f64::from(*v) - base)
        .find(|d| d.abs() >= thr)
        .is_some_and(|d| d < 0.0);
    Some((r, s, first_neg))
}

/// A ratio for the rule text ("no S" when there is none).
fn show(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}")
    } else {
        "∞ (no S)".to_string()
    }
}

fn ratio(r: f64, s: f64) -> Option<f64> {
    (s > 1e-9).then(|| r / s)
}

/// The Ammann classification on `mb` (a paced median beat with V1 and I and a global QRS onset
/// and offset); `None` when those are missing.
pub fn classify(mb: &MedianBeat) -> Option<(LvCaptureClass, LvCaptureCriteria)> {
    let (on, off) = (mb.onset_index?, mb.offset_index?);
    let lead = |n: &str| {
        mb.leads
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, l)| l.uv.as_slice())
    };
    let (r_v1, s_v1, _) = rs_q(lead("V1")?, on, off)?;
    let (r_i, s_i, q_i) = rs_q(lead("I")?, on, off)?;
    let (rs_v1, rs_i) = (ratio(r_v1, s_v1), ratio(r_i, s_i));
    // No S: the ratio is infinite, above every threshold.
    let v1 = rs_v1.unwrap_or(f64::INFINITY);
    let i = rs_i.unwrap_or(f64::INFINITY);
    let borderline = |x: f64| (1.0 / BORDERLINE..=BORDERLINE).contains(&x);
    let small = r_v1 + s_v1 < MIN_LEAD_UV || r_i + s_i < MIN_LEAD_UV;
    let (class, rule) = if small {
        (
            LvCaptureClass::Uncertain,
            "V1 or I too small to read".to_string(),
        )
    } else if v1 >= 1.0 {
        let c = if borderline(v1) && !q_i {
            LvCaptureClass::Uncertain
        } else {
            LvCaptureClass::Likely
        };
        (c, format!("R/S in V1 {} ≥ 1 (Ammann step 1)", show(v1)))
    } else if i <= 1.0 {
        let c = if (borderline(v1) || borderline(i)) && !q_i {
            LvCaptureClass::Uncertain
        } else {
            LvCaptureClass::Likely
        };
        (
            c,
            format!(
                "R/S in V1 {} < 1 and in I {} ≤ 1 (Ammann step 2)",
                show(v1),
                show(i)
            ),
        )
    } else {
        let c = if q_i || borderline(i) {
            LvCaptureClass::Uncertain
        } else {
            LvCaptureClass::Unlikely
        };
        (
            c,
            format!(
                "R/S in V1 {} < 1 and in I {} > 1: RV-only pattern (Ammann)",
                show(v1),
                show(i)
            ),
        )
    };
    let warning = (class == LvCaptureClass::Unlikely).then(|| {
        "the paced complex looks like RV-only pacing (no R in V1, dominant R in lead I): the LV \
         lead may not capture at this site; check the LV threshold or output"
            .to_string()
    });
    let axis = median_vcg(mb).and_then(|l| l.qrs_axis_frontal_deg);
    Some((
        class,
        LvCaptureCriteria {
            r_v1_uv: r_v1,
            s_v1_uv: s_v1,
            rs_ratio_v1: rs_v1,
            r_i_uv: r_i,
            s_i_uv: s_i,
            rs_ratio_i: rs_i,
            q_in_i: q_i,
            qrs_axis_frontal_deg: axis,
            rule,
            warning,
        },
    ))
}

/// The QRS loop of a median beat: X, Y, Z (Kors, µV, relative to the onset level) from the global
/// onset to the offset, for the VCG picture, with the median beat's own figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VcgLoop {
    /// Sampling rate of the arrays, Hz.
    pub fs_hz: f64,
    /// X (left), µV.
    pub x_uv: Vec<f32>,
    /// Y (inferior), µV.
    pub y_uv: Vec<f32>,
    /// Z (posterior), µV.
    pub z_uv: Vec<f32>,
    /// QRS area of the median beat, µV·s.
    pub qrs_area_uvs: Option<f64>,
    /// Frontal QRS axis of the median beat, degrees.
    pub qrs_axis_frontal_deg: Option<f64>,
}

/// The VCG loop of `mb` (`None` without I, II, V1–V6 or a global onset and offset).
pub fn median_vcg(mb: &MedianBeat) -> Option<VcgLoop> {
    let (on, off) = (mb.onset_index?, mb.offset_index?);
    let names: Vec<&String> = mb.leads.keys().collect();
    let idx = vcg::kors_indices(&names)?;
    let cols: Vec<&[f32]> = idx
        .iter()
        .map(|&k| mb.leads[names[k]].uv.as_slice())
        .collect();
    if off <= on || cols.iter().any(|c| c.len() <= off) {
        return None;
    }
    let at = |i: usize| {
        let mut l = [0.0f64; 8];
        for (o, c) in l.iter_mut().zip(&cols) {
            *o = f64::from(c[i]);
        }
        l
    };
    // The snippets are raw (not high-passed): nothing to undo.
    let fig = vcg::qrs_vcg(mb.fs_hz, 0.0, on, off, at);
    let base = vcg::kors_xyz(&at(on));
    let (mut x, mut y, mut z) = (Vec::new(), Vec::new(), Vec::new());
    for i in on..=off {
        let p = vcg::kors_xyz(&at(i));
        x.push((p[0] - base[0]) as f32);
        y.push((p[1] - base[1]) as f32);
        z.push((p[2] - base[2]) as f32);
    }
    Some(VcgLoop {
        fs_hz: mb.fs_hz,
        x_uv: x,
        y_uv: y,
        z_uv: z,
        qrs_area_uvs: fig.qrs_area_uvs,
        qrs_axis_frontal_deg: fig.qrs_axis_frontal_deg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::waveform::MedianLead;
    use std::collections::BTreeMap;

    /// A triangle: start, peak, end index, peak µV.
    type Tri = (usize, usize, usize, f32);

    /// A median beat whose leads are sums of triangles.
    fn beat(leads: &[(&str, &[Tri])]) -> MedianBeat {
        let n = 120;
        let mut map = BTreeMap::new();
        for (name, tris) in leads {
            let mut uv = vec![0.0f32; n];
            for &(a, p, e, amp) in *tris {
                for (i, v) in uv.iter_mut().enumerate() {
                    if i > a && i <= p {
                        *v += amp * (i - a) as f32 / (p - a) as f32;
                    } else if i > p && i < e {
                        *v += amp * (e - i) as f32 / (e - p) as f32;
                    }
                }
            }
            map.insert(
                name.to_string(),
                MedianLead {
                    uv,
                    onset_index: Some(10),
                    offset_index: Some(90),
                },
            );
        }
        MedianBeat {
            fs_hz: 500.0,
            n_beats: 8,
            r_index: 40,
            onset_index: Some(10),
            offset_index: Some(90),
            stim_index: Some(5),
            leads: map,
        }
    }

    #[test]
    fn ammann_steps() {
        // R in V1 (step 1): likely.
        let b = beat(&[
            ("V1", &[(10, 30, 60, 900.0), (60, 75, 90, -300.0)]),
            ("I", &[(10, 30, 60, -700.0), (60, 75, 90, 200.0)]),
        ]);
        let (c, v) = classify(&b).unwrap();
        assert_eq!(c, LvCaptureClass::Likely, "{v:?}");
        assert!(v.q_in_i && (v.rs_ratio_v1.unwrap() - 3.0).abs() < 1e-3);
        // QS in V1, S-dominant I (step 2): likely.
        let b = beat(&[
            ("V1", &[(10, 40, 90, -1000.0)]),
            ("I", &[(10, 25, 40, 200.0), (40, 60, 90, -800.0)]),
        ]);
        assert_eq!(classify(&b).unwrap().0, LvCaptureClass::Likely);
        // QS in V1, tall R in I (LBBB-like, RV only): unlikely, with a warning.
        let b = beat(&[
            ("V1", &[(10, 40, 90, -1000.0)]),
            ("I", &[(10, 45, 90, 900.0)]),
        ]);
        let (c, v) = classify(&b).unwrap();
        assert_eq!(c, LvCaptureClass::Unlikely);
        assert!(!v.q_in_i && v.rs_ratio_v1 == Some(0.0) && v.rs_ratio_i.is_none());
        assert!(v.warning.is_some());
        // The same with a q in I first: conflicting signs.
        let b = beat(&[
            ("V1", &[(10, 40, 90, -1000.0)]),
            ("I", &[(10, 15, 22, -150.0), (22, 50, 90, 900.0)]),
        ]);
        assert_eq!(classify(&b).unwrap().0, LvCaptureClass::Uncertain);
        // Borderline V1 (R/S 1.1) without the supporting sign: uncertain.
        let b = beat(&[
            ("V1", &[(10, 30, 50, 550.0), (50, 70, 90, -500.0)]),
            ("I", &[(10, 45, 90, 600.0)]),
        ]);
        assert_eq!(classify(&b).unwrap().0, LvCaptureClass::Uncertain);
        // A flat V1 cannot be read.
        let b = beat(&[("V1", &[(10, 40, 90, 40.0)]), ("I", &[(10, 45, 90, 900.0)])]);
        assert_eq!(classify(&b).unwrap().0, LvCaptureClass::Uncertain);
        // No lead I: no classification.
        assert!(classify(&beat(&[("V1", &[(10, 40, 90, -1000.0)])])).is_none());
    }

    #[test]
    fn loop_needs_the_kors_leads_and_matches_the_figures() {
        let tri: &[Tri] = &[(10, 40, 90, 800.0)];
        let mut leads: Vec<(&str, &[Tri])> = Vec::new();
        for n in vcg::KORS_LEADS {
            leads.push((n, tri));
        }
        let l = median_vcg(&beat(&leads)).unwrap();
        assert_eq!(l.x_uv.len(), 81);
        // Every lead the same triangle: X = Σ of the X row × the lead.
        let sum_x: f64 = vcg::KORS[0].iter().sum();
        assert!(
            (f64::from(l.x_uv[30]) - sum_x * 800.0).abs() < 0.5,
            "{}",
            l.x_uv[30]
        );
        assert!(median_vcg(&beat(&leads[..7])).is_none());
    }
}
