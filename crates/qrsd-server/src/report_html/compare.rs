//! Sites against the baseline: each site's median beat of II, V1 and V6 drawn over the baseline's
//! (aligned at the site's first stimulus and the baseline's QRS onset, where ventricular activation
//! starts in each), on the same 25 mm/s, 10 mm/mV grid as the median-beat pictures, and the
//! frontal-plane QRS loop (vectorcardiogram) of both.

use super::{
    escape, f64_of, get, median_lead, round_up5, text_of, MedianLead, MM_PER_MV, MM_PER_S,
    PANEL_LEFT_MM, PANEL_RIGHT_MM, PICTURE_LEADS,
};
use serde_json::Value;
use std::fmt::Write as _;

/// Drawn before the alignment point, ms.
pub const BEFORE_MS: f64 = 40.0;
/// Drawn after it, ms (a 200 ms paced QRS after a 15 ms latency fits, with its ST segment).
pub const AFTER_MS: f64 = 360.0;
/// The level each trace is drawn from: the median over this span before the alignment point, ms.
const LEVEL_MS: f64 = 20.0;
/// Baseline trace colour (the site's is black).
pub const BASELINE_COLOUR: &str = "#8a8a8a";
/// Size of the square loop picture, mm.
const LOOP_MM: f64 = 40.0;
/// Loop scale, mm per mV: twice the ECG's, so that a 1 mV loop fills half the picture.
pub const LOOP_MM_PER_MV: f64 = 20.0;

/// A lead's median beat on the comparison's time axis: (ms from the alignment point, µV from the
/// level just before it). Aligned at the first stimulus when there is one, else at the QRS onset.
pub fn aligned(lead: &MedianLead) -> Option<Vec<(f64, f64)>> {
    let at = lead.stimulus.or(lead.onset)?;
    let fs = lead.fs_hz;
    let ms = |i: usize| (i as f64 - at) * 1000.0 / fs;
    let mut level: Vec<f64> = lead
        .uv
        .iter()
        .enumerate()
        .filter(|(i, _)| (-LEVEL_MS..0.0).contains(&ms(*i)))
        .filter_map(|(_, v)| *v)
        .collect();
    level.sort_by(f64::total_cmp);
    let base = level.get(level.len() / 2).copied().unwrap_or(0.0);
    let pts: Vec<(f64, f64)> = lead
        .uv
        .iter()
        .enumerate()
        .filter(|(i, _)| (-BEFORE_MS..=AFTER_MS).contains(&ms(*i)))
        .filter_map(|(i, v)| v.map(|v| (ms(i), v - base)))
        .collect();
    (pts.len() >= 2).then_some(pts)
}

/// Grid of 1 mm minor and 5 mm major lines over `w` × `h` mm.
pub fn grid(s: &mut String, w: f64, h: f64) {
    let (mut minor, mut major) = (String::new(), String::new());
    let mut x = 0;
    while f64::from(x) <= w + 1e-9 {
        let d = if x % 5 == 0 { &mut major } else { &mut minor };
        let _ = write!(d, "M{x} 0V{h}");
        x += 1;
    }
    let mut y = 0;
    while f64::from(y) <= h + 1e-9 {
        let d = if y % 5 == 0 { &mut major } else { &mut minor };
        let _ = write!(d, "M0 {y}H{w}");
        y += 1;
    }
    let _ = write!(
        s,
        r##"<path class="grid-minor" d="{minor}" stroke="#f4c2c2" stroke-width="0.1" fill="none"/><path class="grid-major" d="{major}" stroke="#e08080" stroke-width="0.25" fill="none"/>"##
    );
}

/// One lead: the site's trace (black) over the baseline's (grey). The `<svg>` is in real mm
/// (`width`/`height` in mm equal to the `viewBox`): 25 mm/s, 10 mm/mV, calibration pulse 1 mV.
pub fn overlay_svg(lead: &str, base: Option<&[(f64, f64)]>, site: &[(f64, f64)]) -> String {
    let all = site.iter().chain(base.unwrap_or_default());
    let (lo, hi) = all.fold((0.0f64, 0.0f64), |(lo, hi), &(_, v)| (lo.min(v), hi.max(v)));
    let top = round_up5(hi.max(1000.0) / 1000.0 * MM_PER_MV + 2.0).min(45.0);
    let bottom = round_up5((-lo).max(0.0) / 1000.0 * MM_PER_MV + 2.0);
    let h = (top + bottom).min(60.0);
    let w = round_up5(PANEL_LEFT_MM + (BEFORE_MS + AFTER_MS) / 1000.0 * MM_PER_S + PANEL_RIGHT_MM);
    let x = |ms: f64| PANEL_LEFT_MM + (ms + BEFORE_MS) / 1000.0 * MM_PER_S;
    let y = |uv: f64| (top - uv / 1000.0 * MM_PER_MV).clamp(0.0, h);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="overlay" width="{w}mm" height="{h}mm" viewBox="0 0 {w} {h}" role="img" aria-label="lead {n}: site over baseline" data-lead="{n}" data-mm-per-s="{MM_PER_S}" data-mm-per-mv="{MM_PER_MV}">"##,
        n = escape(lead)
    );
    grid(&mut s, w, h);
    let _ = write!(
        s,
        r##"<path class="cal" d="M0.5 {top:.2}H1.5V{:.2}H6.5V{top:.2}H7" stroke="#000" stroke-width="0.3" fill="none"/>"##,
        top - MM_PER_MV
    );
    let x0 = x(0.0);
    let _ = write!(
        s,
        r##"<line class="mark-align" x1="{x0:.3}" x2="{x0:.3}" y1="0" y2="{h}" stroke="#1f5fbf" stroke-width="0.3" stroke-dasharray="1 0.7"/>"##
    );
    let path = |pts: &[(f64, f64)]| {
        let mut d = String::new();
        for (k, &(t, v)) in pts.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.2} {:.2}",
                if k == 0 { "M" } else { "L" },
                x(t),
                y(v)
            );
        }
        d
    };
    if let Some(b) = base {
        let _ = write!(
            s,
            r##"<path class="trace-baseline" d="{}" stroke="{BASELINE_COLOUR}" stroke-width="0.35" fill="none" stroke-linejoin="round"/>"##,
            path(b)
        );
    }
    let _ = write!(
        s,
        r##"<path class="trace-site" d="{}" stroke="#000" stroke-width="0.3" fill="none" stroke-linejoin="round"/><text x="1" y="4" font-size="3.2" font-family="sans-serif">{}</text></svg>"##,
        path(site),
        escape(lead)
    );
    s
}

/// The QRS loop (X, Y in µV) of a measurement's `vcg_loop`.
pub fn loop_of(m: &Value) -> Option<(Vec<f64>, Vec<f64>)> {
    let l = get(m, &["vcg_loop"])?;
    let arr = |k: &str| -> Option<Vec<f64>> {
        get(l, &[k])?
            .as_array()?
            .iter()
            .map(Value::as_f64)
            .collect::<Option<Vec<f64>>>()
    };
    let (x, y) = (arr("x_uv")?, arr("y_uv")?);
    (x.len() == y.len() && x.len() >= 2).then_some((x, y))
}

/// The frontal-plane QRS loops of the baseline (grey) and the site (black) at 20 mm/mV: X to the
/// right (lead I, the patient's left), Y down (inferior), as the hexaxial system draws them.
pub fn loop_svg(base: Option<&(Vec<f64>, Vec<f64>)>, site: &(Vec<f64>, Vec<f64>)) -> String {
    let c = LOOP_MM / 2.0;
    let p = |x: f64, y: f64| {
        (
            (c + x / 1000.0 * LOOP_MM_PER_MV).clamp(0.0, LOOP_MM),
            (c + y / 1000.0 * LOOP_MM_PER_MV).clamp(0.0, LOOP_MM),
        )
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="vcg" width="{LOOP_MM}mm" height="{LOOP_MM}mm" viewBox="0 0 {LOOP_MM} {LOOP_MM}" role="img" aria-label="frontal-plane QRS loop, site over baseline" data-mm-per-mv="{LOOP_MM_PER_MV}">"##
    );
    let mut g = String::new();
    let mut k = 0.0;
    while k <= LOOP_MM + 1e-9 {
        let _ = write!(g, "M{k} 0V{LOOP_MM}M0 {k}H{LOOP_MM}");
        k += 5.0;
    }
    let _ = write!(
        s,
        r##"<path d="{g}" stroke="#eee" stroke-width="0.15" fill="none"/><path class="axes" d="M0 {c}H{LOOP_MM}M{c} 0V{LOOP_MM}" stroke="#999" stroke-width="0.2" fill="none"/><text x="{:.1}" y="{:.1}" font-size="2.6" font-family="sans-serif">I (X)</text><text x="{:.1}" y="{:.1}" font-size="2.6" font-family="sans-serif">+90° (Y)</text>"##,
        LOOP_MM - 9.0,
        c - 1.0,
        c + 1.0,
        LOOP_MM - 1.0
    );
    let path = |(xs, ys): &(Vec<f64>, Vec<f64>)| {
        let mut d = String::new();
        for (k, (x, y)) in xs.iter().zip(ys).enumerate() {
            let (px, py) = p(*x, *y);
            let _ = write!(d, "{}{px:.2} {py:.2}", if k == 0 { "M" } else { "L" });
        }
        d
    };
    if let Some(b) = base {
        let _ = write!(
            s,
            r##"<path class="loop-baseline" d="{}" stroke="{BASELINE_COLOUR}" stroke-width="0.35" fill="none"/>"##,
            path(b)
        );
    }
    let _ = write!(
        s,
        r##"<path class="loop-site" d="{}" stroke="#000" stroke-width="0.3" fill="none"/><text x="1" y="3.5" font-size="2.8" font-family="sans-serif">frontal</text></svg>"##,
        path(site)
    );
    s
}

fn signed(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "—".into(), |x| format!("{x:+.0} {unit}"))
}

/// The section: one block per site with a complete measurement (`sites` as (name, measurement)).
pub fn section(
    out: &mut String,
    baseline: Option<&Value>,
    sites: &[(String, &Value)],
    fs: Option<f64>,
) {
    out.push_str("<h2>Sites against baseline</h2>");
    let _ = write!(
        out,
        "<p class=\"legend\">Each site's median beat (black) over the baseline's (<span style=\"color:{BASELINE_COLOUR}\">grey</span>), aligned at the site's first pacing stimulus and the baseline's QRS onset (dashed blue line); 25 mm/s, 10 mm/mV, calibration pulse 1 mV. Loop: the frontal-plane QRS vectorcardiogram (Kors X, Y; 20 mm/mV, grid 5 mm; X to the right = lead I, Y down = inferior).</p>"
    );
    let base_traces: Vec<Option<Vec<(f64, f64)>>> = PICTURE_LEADS
        .iter()
        .map(|l| {
            baseline
                .and_then(|b| median_lead(b, l, fs))
                .and_then(|ml| aligned(&ml))
        })
        .collect();
    let base_loop = baseline.and_then(loop_of);
    let base_area = baseline.and_then(|b| f64_of(b, &["qrs_area_uvs"]));
    let mut any = false;
    for (name, m) in sites {
        let mut pics = String::new();
        for (lead, b) in PICTURE_LEADS.iter().zip(&base_traces) {
            if let Some(t) = median_lead(m, lead, fs).and_then(|ml| aligned(&ml)) {
                pics.push_str(&overlay_svg(lead, b.as_deref(), &t));
            }
        }
        if let Some(l) = loop_of(m) {
            pics.push_str(&loop_svg(base_loop.as_ref(), &l));
        }
        if pics.is_empty() {
            continue;
        }
        any = true;
        let capture = text_of(m, &["lv_capture"]);
        let crit = get(m, &["lv_capture_criteria"]);
        let _ = write!(
            out,
            "<div class=\"beat compare\" data-site=\"{}\"><h3>{}</h3><div class=\"leads\">{pics}</div><div class=\"small\">QRS area {} µV·s (baseline {} µV·s), ΔQRS area {} ({}) · LV capture: <b>{}</b>{} · frontal axis {}</div>{}</div>",
            escape(name),
            escape(name),
            super::ms0(f64_of(m, &["qrs_area_uvs"])),
            super::ms0(base_area),
            signed(f64_of(m, &["delta_qrs_area_uvs"]), "µV·s"),
            signed(f64_of(m, &["delta_qrs_area_pct"]), "%"),
            escape(capture.as_deref().unwrap_or("—")),
            crit.and_then(|c| text_of(c, &["rule"]))
                .map(|r| format!(" ({})", escape(&r)))
                .unwrap_or_default(),
            f64_of(m, &["qrs_axis_frontal_deg"]).map_or_else(|| "—".into(), |a| format!("{a:.0}°")),
            crit.and_then(|c| text_of(c, &["warning"]))
                .map(|w| format!("<div class=\"warn\">{}</div>", escape(&w)))
                .unwrap_or_default(),
        );
    }
    if !any {
        out.push_str(
            "<p class=\"missing\">No site has a complete measurement with a median beat yet.</p>",
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn lead(stimulus: Option<f64>) -> MedianLead {
        // 500 Hz; flat 100 µV until index 100, then a 1 mV step.
        MedianLead {
            name: "II".into(),
            fs_hz: 500.0,
            uv: (0..400)
                .map(|i| Some(if i < 100 { 100.0 } else { 1100.0 }))
                .collect(),
            onset: Some(100.0),
            offset: Some(160.0),
            stimulus,
        }
    }

    #[test]
    fn aligned_at_the_stimulus_else_the_onset_from_the_level_before() {
        let a = aligned(&lead(None)).unwrap();
        // Index 100 is 0 ms; the level before it (100 µV) is taken off.
        assert_eq!(a.iter().find(|p| p.0 == 0.0).unwrap().1, 1000.0);
        assert_eq!(a.first().unwrap(), &(-BEFORE_MS, 0.0));
        assert_eq!(a.last().unwrap().0, AFTER_MS);
        // With a stimulus 10 samples (20 ms) earlier, time 0 is the stimulus.
        let a = aligned(&lead(Some(90.0))).unwrap();
        assert_eq!(a.iter().find(|p| p.0 == 20.0).unwrap().1, 1000.0);
        assert_eq!(a.iter().find(|p| p.0 == 18.0).unwrap().1, 0.0);
    }

    #[test]
    fn overlay_is_real_mm_at_25_mm_per_s_and_10_mm_per_mv() {
        let site = aligned(&lead(None)).unwrap();
        let svg = overlay_svg("II", Some(&site), &site);
        let w =
            round_up5(PANEL_LEFT_MM + (BEFORE_MS + AFTER_MS) / 1000.0 * MM_PER_S + PANEL_RIGHT_MM);
        assert!(svg.contains(&format!("width=\"{w}mm\"")), "{svg:.200}");
        assert!(svg.contains(&format!("viewBox=\"0 0 {w} ")));
        // Alignment line at 7 mm + 40 ms · 25 mm/s = 8 mm.
        assert!(svg.contains("class=\"mark-align\" x1=\"8.000\""), "{svg}");
        // The step: 0 µV at x = 7.00 mm, 1 mV (10 mm higher) from 8.00 mm.
        let top = 15.0; // max(1 mV) → 10 mm + 2 → 15 mm
        assert!(svg.contains(&format!("L8.00 {:.2}", top - 10.0)), "{svg}");
        assert!(svg.contains("class=\"trace-baseline\"") && svg.contains("class=\"trace-site\""));
    }

    #[test]
    fn loop_and_section() {
        let m = json!({"status": "complete", "qrs_area_uvs": 80.0, "delta_qrs_area_uvs": -60.0,
            "delta_qrs_area_pct": -42.9, "lv_capture": "unlikely",
            "lv_capture_criteria": {"rule": "R/S in V1 0.00 < 1", "warning": "looks like <RV> pacing"},
            "vcg_loop": {"x_uv": [0.0, 500.0, 0.0], "y_uv": [0.0, -500.0, 0.0]},
            "median_beat": {"fs_hz": 500.0, "onset_index": 100, "stim_index": 92,
                "leads": {"II": {"uv": vec![0.0; 400]}, "V1": {"uv": vec![0.0; 400]}, "V6": {"uv": vec![0.0; 400]}}}});
        let (x, y) = loop_of(&m).unwrap();
        let svg = loop_svg(None, &(x, y));
        // 500 µV at 20 mm/mV: 10 mm right of and above the centre (20, 20).
        assert!(
            svg.contains("M20.00 20.00L30.00 10.00L20.00 20.00"),
            "{svg}"
        );
        let mut out = String::new();
        section(&mut out, None, &[("PL <mid>".into(), &m)], None);
        assert_eq!(out.matches("class=\"overlay\"").count(), 3);
        assert_eq!(out.matches("class=\"vcg\"").count(), 1);
        assert!(out.contains("PL &lt;mid&gt;") && out.contains("looks like &lt;RV&gt; pacing"));
        assert!(
            out.contains("ΔQRS area -60 µV·s (-43 %)") && out.contains("<b>unlikely</b>"),
            "{out}"
        );
        let mut out = String::new();
        section(&mut out, None, &[], None);
        assert!(out.contains("No site has a complete measurement"));
    }
}
