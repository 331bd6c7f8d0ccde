//! The printable procedure report (`GET /api/v1/procedures/{id}/report.html`).
//!
//! [`render`] turns the JSON report (the machine-readable twin, `GET /api/v1/procedures/{id}/report`)
//! into one self-contained HTML page for A4 paper: the site table, the recommendation, and for the
//! baseline and every measured site a median-beat picture of II, V1 and V6 as inline SVG on a standard
//! ECG grid, plus the source, filter settings, software version and times.
//!
//! **Scale.** Each picture's SVG user unit is one millimetre: the `<svg>` element has `width`/`height`
//! in `mm` equal to its `viewBox`, so printed at 100 % the grid is real size: 1 mm minor and 5 mm major
//! lines, [`MM_PER_S`] = 25 mm/s and [`MM_PER_MV`] = 10 mm/mV, with a 1 mV calibration pulse.
//!
//! **Input.** The renderer is pure (JSON in, `String` out) and forgiving: any field may be missing or
//! of an unexpected type, in which case it shows "—" or "not recorded" rather than failing. Every
//! piece of text from the JSON (case ids, labels, notes are user input) is HTML-escaped.

use serde_json::Value;
use std::fmt::Write as _;

pub mod compare;

/// Paper speed, mm per second.
pub const MM_PER_S: f64 = 25.0;
/// Gain, mm per millivolt.
pub const MM_PER_MV: f64 = 10.0;
/// Leads drawn in each median-beat picture.
pub const PICTURE_LEADS: [&str; 3] = ["II", "V1", "V6"];
/// Horizontal room before the first sample in a panel (the calibration pulse sits there), mm.
const PANEL_LEFT_MM: f64 = 7.0;
/// Room after the last sample, mm.
const PANEL_RIGHT_MM: f64 = 2.0;

/// Escape text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

// ------------------------------------------------------------------------------------------ JSON access

/// The first of `keys` present and non-null in `v`.
fn get<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    let o = v.as_object()?;
    keys.iter().filter_map(|k| o.get(*k)).find(|x| !x.is_null())
}

fn f64_of(v: &Value, keys: &[&str]) -> Option<f64> {
    get(v, keys)
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite())
}

/// A scalar as display text (strings as they are, numbers and booleans printed).
fn text_of(v: &Value, keys: &[&str]) -> Option<String> {
    match get(v, keys)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An id as a comparable string (`3` and `"3"` are the same site).
fn id_of(v: &Value) -> Option<String> {
    match get(v, &["id", "site_id"])? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn id_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn ms0(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |x| format!("{x:.0}"))
}

fn ms1(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |x| format!("{x:.1}"))
}

fn signed0(v: Option<f64>) -> String {
    match v {
        None => "—".to_string(),
        Some(x) if x.round() > 0.0 => format!("+{x:.0}"),
        Some(x) if x.round() < 0.0 => format!("−{:.0}", -x),
        Some(_) => "±0".to_string(),
    }
}

fn humanise(s: &str) -> String {
    s.replace('_', " ")
}

/// The procedure object: `report.procedure` when present, else the report itself.
fn procedure(report: &Value) -> &Value {
    get(report, &["procedure"])
        .filter(|p| p.is_object())
        .unwrap_or(report)
}

/// Measurements of an object holding `measurements` (array), `measurement`/`latest` (object).
fn measurements_in(v: &Value) -> Vec<&Value> {
    let mut out: Vec<&Value> = get(v, &["measurements", "runs"])
        .and_then(Value::as_array)
        .map(|a| a.iter().filter(|m| m.is_object()).collect())
        .unwrap_or_default();
    if out.is_empty() {
        if let Some(m) =
            get(v, &["measurement", "latest_measurement", "result"]).filter(|m| m.is_object())
        {
            out.push(m);
        }
    }
    out
}

/// The baseline measurements, oldest first.
fn baselines(report: &Value) -> Vec<&Value> {
    let p = procedure(report);
    for src in [report, p] {
        match get(src, &["baseline", "baselines", "baseline_measurement"]) {
            Some(Value::Array(a)) => return a.iter().filter(|m| m.is_object()).collect(),
            Some(b @ Value::Object(_)) => {
                let inner = measurements_in(b);
                return if inner.is_empty() { vec![b] } else { inner };
            }
            _ => {}
        }
    }
    Vec::new()
}

fn sites(report: &Value) -> Vec<&Value> {
    let p = procedure(report);
    get(report, &["sites"])
        .or_else(|| get(p, &["sites"]))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter(|s| s.is_object()).collect())
        .unwrap_or_default()
}

/// The measurement a site is judged on: the last complete one, else the last one.
fn current<'a>(ms: &[&'a Value]) -> Option<&'a Value> {
    ms.iter()
        .rev()
        .find(|m| text_of(m, &["status"]).as_deref() == Some("complete"))
        .or_else(|| ms.last())
        .copied()
}

fn site_name(site: &Value) -> String {
    let label = text_of(site, &["label", "name"]);
    let vein = text_of(site, &["vein"]).map(|v| humanise(&v));
    let seg = text_of(site, &["segment"]);
    let vs = [vein, seg]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    match (label, vs.is_empty()) {
        (Some(l), false) => format!("{l} ({vs})"),
        (Some(l), true) => l,
        (None, false) => vs,
        (None, true) => id_of(site).map_or_else(|| "site".into(), |i| format!("site {i}")),
    }
}

/// `decision: {"decision": "reject", "reason": ..}` (qrsd-measure's `SiteDecision`) or a plain string.
fn decision(site: &Value) -> Option<(String, Option<String>)> {
    match get(site, &["decision", "site_decision"])? {
        Value::String(s) => Some((s.clone(), None)),
        d @ Value::Object(_) => Some((text_of(d, &["decision", "kind"])?, text_of(d, &["reason"]))),
        _ => None,
    }
}

fn is_rejected(site: &Value) -> bool {
    decision(site).is_some_and(|(d, _)| d.starts_with("reject"))
        || text_of(site, &["status", "state"]).as_deref() == Some("rejected")
        || get(site, &["rejected"]).and_then(Value::as_bool) == Some(true)
        || reject_reason(site).is_some()
}

fn reject_reason(site: &Value) -> Option<String> {
    let from_decision = decision(site)
        .filter(|(d, _)| d.starts_with("reject"))
        .and_then(|(_, r)| r);
    from_decision
        .or_else(|| text_of(site, &["reject_reason", "rejection_reason"]))
        .or_else(|| {
            get(site, &["rejection"])
                .and_then(|r| text_of(r, &["reason"]).or_else(|| r.as_str().map(str::to_string)))
        })
}

fn lead_qrsd(m: &Value, lead: &str) -> Option<f64> {
    get(m, &["leads"])
        .and_then(|l| get(l, &[lead]))
        .and_then(|l| f64_of(l, &["qrsd_ms", "median_ms"]))
}

/// Global spread (IQR, SD) of a measurement.
fn spread(m: &Value) -> (Option<f64>, Option<f64>) {
    let sp = get(m, &["spread", "global"]).unwrap_or(&Value::Null);
    (
        f64_of(m, &["iqr_ms", "qrsd_iqr_ms"]).or_else(|| f64_of(sp, &["iqr_ms"])),
        f64_of(m, &["sd_ms", "qrsd_sd_ms"]).or_else(|| f64_of(sp, &["sd_ms"])),
    )
}

fn flags(m: &Value) -> Vec<String> {
    let mut out: Vec<String> = match get(m, &["flags"]) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|f| {
                f.as_str()
                    .map(str::to_string)
                    .or_else(|| text_of(f, &["flag", "name", "kind"]))
            })
            .collect(),
        Some(Value::Object(o)) => o
            .iter()
            .filter(|(_, v)| v.as_bool() == Some(true))
            .map(|(k, _)| k.clone())
            .collect(),
        _ => Vec::new(),
    };
    match text_of(m, &["status"]).as_deref() {
        Some("complete") | Some("collecting") | None => {}
        Some(s) => {
            let why = text_of(m, &["reason", "incomplete_reason", "error"]);
            out.insert(
                0,
                match why {
                    Some(w) => format!("{}: {}", s.to_uppercase(), humanise(&w)),
                    None => s.to_uppercase(),
                },
            );
        }
    }
    let mut out: Vec<String> = out.into_iter().map(|f| humanise(&f)).collect();
    // Leads left out of the global QRS (an electrode off): the number is over fewer leads.
    if let Some(t) = text_of(m, &["global_leads_text"]) {
        out.push(t);
    }
    // Why beats were rejected for signal quality, with the leads concerned (a sentence each;
    // not repeated when the incomplete reason already says it).
    for q in get(m, &["quality_reasons"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(t) = text_of(q, &["text"]) {
            if !out.iter().any(|f| f.contains(&t)) {
                out.push(t);
            }
        }
    }
    out
}

fn rejected_beats(m: &Value) -> String {
    match get(m, &["beats_rejected"]) {
        Some(Value::Number(n)) => n.to_string(),
        Some(r @ Value::Object(o)) => get(r, &["by_reason"])
            .and_then(Value::as_object)
            .unwrap_or(o)
            .iter()
            .filter(|(k, _)| k.as_str() != "total")
            .filter_map(|(k, v)| {
                v.as_u64()
                    .filter(|n| *n > 0)
                    .map(|n| format!("{n} {}", humanise(k)))
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

// ------------------------------------------------------------------------------------------ median beats

/// One lead of a median beat, positions as fractional sample indices into `uv`.
#[derive(Debug, Clone, PartialEq)]
pub struct MedianLead {
    /// Lead name.
    pub name: String,
    /// Sampling rate of `uv`, Hz.
    pub fs_hz: f64,
    /// Samples, µV (`None` = invalid).
    pub uv: Vec<Option<f64>>,
    /// QRS onset.
    pub onset: Option<f64>,
    /// QRS offset.
    pub offset: Option<f64>,
    /// First pacing stimulus.
    pub stimulus: Option<f64>,
}

fn samples_of(v: &Value) -> Option<Vec<Option<f64>>> {
    let arr = match v {
        Value::Array(a) => a,
        _ => get(v, &["samples_uv", "uv", "data", "values", "samples"])?.as_array()?,
    };
    Some(
        arr.iter()
            .map(|x| x.as_f64().filter(|f| f.is_finite()))
            .collect(),
    )
}

/// A position given as `{base}_index` / `{base}_sample` / `{base}_idx` (index into the samples) or
/// `{base}_ms` (in the window's time frame, whose first sample is at `t0_ms`).
fn position(v: &Value, base: &str, fs: f64, t0_ms: f64) -> Option<f64> {
    let idx_keys = [
        format!("{base}_index"),
        format!("{base}_idx"),
        format!("{base}_sample"),
        base.to_string(),
    ];
    let idx_refs: Vec<&str> = idx_keys.iter().map(String::as_str).collect();
    if let Some(i) = f64_of(v, &idx_refs) {
        return Some(i);
    }
    let ms_key = format!("{base}_ms");
    f64_of(v, &[ms_key.as_str()]).map(|ms| (ms - t0_ms) * fs / 1000.0)
}

/// The median beat of a measurement for `lead`, from any of the shapes the JSON may use:
/// `median_beat: {fs_hz, t0_ms?, stimulus_*?, leads: {II: {samples_uv, onset_*, offset_*}}}` or
/// `median_beat: {fs_hz, leads: ["II", ...], data: [[...], ...], onset_*?: {II: ..}}`, or per lead
/// under `leads.II.median_beat`.
pub fn median_lead(m: &Value, lead: &str, default_fs: Option<f64>) -> Option<MedianLead> {
    let mb = get(m, &["median_beat", "median_beats", "median", "template"]);
    let per_lead_mb = get(m, &["leads"])
        .and_then(|l| get(l, &[lead]))
        .and_then(|l| get(l, &["median_beat", "median", "template"]));
    let (container, lead_obj): (&Value, Value) = if let Some(mb) = mb {
        match get(mb, &["leads"]) {
            Some(Value::Object(o)) => (mb, o.get(lead).cloned().unwrap_or(Value::Null)),
            Some(Value::Array(names)) => {
                let i = names.iter().position(|n| n.as_str() == Some(lead))?;
                let data = get(mb, &["data", "samples_uv", "uv"])?
                    .as_array()?
                    .get(i)?
                    .clone();
                (mb, Value::Array(data.as_array()?.clone()))
            }
            _ => (mb, get(mb, &[lead]).cloned().unwrap_or(Value::Null)),
        }
    } else if let Some(pl) = per_lead_mb {
        (pl, pl.clone())
    } else {
        return None;
    };
    let uv = samples_of(&lead_obj)?;
    if uv.iter().all(Option::is_none) {
        return None;
    }
    let fs = f64_of(&lead_obj, &["fs_hz"])
        .or_else(|| f64_of(container, &["fs_hz", "sample_rate_hz"]))
        .or_else(|| f64_of(m, &["fs_hz"]))
        .or(default_fs)
        .filter(|f| *f > 0.0)?;
    let t0 = f64_of(&lead_obj, &["t0_ms", "start_ms"])
        .or_else(|| f64_of(container, &["t0_ms", "start_ms"]))
        .unwrap_or(0.0);
    // Positions per lead, else a per-lead map in the container (`onset_index: {"II": 12}`), else global.
    let pos = |base: &str| {
        position(&lead_obj, base, fs, t0).or_else(|| {
            let keys = [
                format!("{base}_index"),
                format!("{base}_ms"),
                format!("{base}s"),
            ];
            for k in &keys {
                if let Some(map) = get(container, &[k.as_str()]).filter(|x| x.is_object()) {
                    if let Some(x) = f64_of(map, &[lead]) {
                        return Some(if k.ends_with("_ms") {
                            (x - t0) * fs / 1000.0
                        } else {
                            x
                        });
                    }
                }
            }
            position(container, base, fs, t0)
        })
    };
    let stimulus = pos("stimulus")
        .or_else(|| pos("stim"))
        .or_else(|| pos("pace"));
    Some(MedianLead {
        name: lead.to_string(),
        fs_hz: fs,
        onset: pos("onset"),
        offset: pos("offset"),
        stimulus,
        uv,
    })
}

/// Geometry of one lead panel, in mm (SVG user units).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Panel {
    /// Panel width, mm (a multiple of 5).
    pub width_mm: f64,
    /// Panel height, mm (a multiple of 5).
    pub height_mm: f64,
    /// y of 0 µV after baseline removal, mm from the top.
    pub zero_y_mm: f64,
    /// Baseline subtracted from the samples (the first valid sample's value... the median of the
    /// first 20 ms), µV.
    pub baseline_uv: f64,
}

impl Panel {
    /// x of a fractional sample index, mm.
    pub fn x_mm(&self, idx: f64, fs_hz: f64) -> f64 {
        PANEL_LEFT_MM + idx / fs_hz * MM_PER_S
    }
    /// y of a µV value, mm.
    pub fn y_mm(&self, uv: f64) -> f64 {
        self.zero_y_mm - (uv - self.baseline_uv) / 1000.0 * MM_PER_MV
    }
}

fn round_up5(x: f64) -> f64 {
    (x / 5.0).ceil().max(1.0) * 5.0
}

/// Lay out a panel for `lead`: wide enough for the window, tall enough for its amplitude range
/// (at least ±1 mV so the calibration pulse fits).
pub fn panel_for(lead: &MedianLead) -> Panel {
    let valid: Vec<f64> = lead.uv.iter().flatten().copied().collect();
    let head = ((0.02 * lead.fs_hz).ceil() as usize).clamp(1, valid.len().max(1));
    let mut first: Vec<f64> = valid.iter().take(head).copied().collect();
    first.sort_by(f64::total_cmp);
    let baseline_uv = first.get(first.len() / 2).copied().unwrap_or(0.0);
    let max = valid.iter().copied().fold(0.0_f64, f64::max) - baseline_uv;
    let min = valid.iter().copied().fold(0.0_f64, f64::min) - baseline_uv;
    let top_mm = round_up5((max.max(1000.0) / 1000.0) * MM_PER_MV + 2.0);
    let bottom_mm = round_up5((-min).max(0.0) / 1000.0 * MM_PER_MV + 2.0);
    let dur_s = lead.uv.len().saturating_sub(1) as f64 / lead.fs_hz;
    Panel {
        width_mm: round_up5(PANEL_LEFT_MM + dur_s * MM_PER_S + PANEL_RIGHT_MM),
        height_mm: (top_mm + bottom_mm).min(60.0),
        zero_y_mm: top_mm.min(45.0),
        baseline_uv,
    }
}

/// One lead's picture: grid, calibration pulse, trace, markers. Returns `<svg>` with `width`/`height`
/// in mm equal to its `viewBox` (1 user unit = 1 mm).
pub fn lead_svg(lead: &MedianLead) -> String {
    let p = panel_for(lead);
    let (w, h) = (p.width_mm, p.height_mm);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="ecg" width="{w}mm" height="{h}mm" viewBox="0 0 {w} {h}" role="img" aria-label="median beat, lead {name}" data-lead="{name}" data-mm-per-s="{MM_PER_S}" data-mm-per-mv="{MM_PER_MV}">"##,
        name = escape(&lead.name)
    );
    // Grid: minor every 1 mm, major every 5 mm.
    let mut minor = String::new();
    let mut major = String::new();
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
    // Calibration pulse: 1 mV high, 200 ms wide (5 mm), standing on the zero line.
    let z = p.zero_y_mm;
    let top = z - MM_PER_MV;
    let _ = write!(
        s,
        r##"<path class="cal" d="M0.5 {z:.2}H1.5V{top:.2}H6.5V{z:.2}H7" stroke="#000" stroke-width="0.3" fill="none"/>"##
    );
    // Markers under the trace.
    let marker = |s: &mut String, idx: Option<f64>, class: &str, color: &str, dash: &str| {
        if let Some(i) = idx {
            let x = p.x_mm(i, lead.fs_hz);
            if x.is_finite() && (0.0..=w).contains(&x) {
                let _ = write!(
                    s,
                    r##"<line class="{class}" data-x-mm="{x:.3}" x1="{x:.3}" x2="{x:.3}" y1="0" y2="{h}" stroke="{color}" stroke-width="0.35"{dash}/>"##
                );
            }
        }
    };
    marker(
        &mut s,
        lead.stimulus,
        "mark-stimulus",
        "#1f5fbf",
        r##" stroke-dasharray="1 0.7""##,
    );
    marker(&mut s, lead.onset, "mark-onset", "#1a7f37", "");
    marker(&mut s, lead.offset, "mark-offset", "#c62828", "");
    // Trace, broken at invalid samples.
    let mut d = String::new();
    let mut pen = false;
    for (i, v) in lead.uv.iter().enumerate() {
        match v {
            Some(v) => {
                let x = p.x_mm(i as f64, lead.fs_hz);
                let y = p.y_mm(*v).clamp(0.0, h);
                let _ = write!(d, "{}{x:.2} {y:.2}", if pen { "L" } else { "M" });
                pen = true;
            }
            None => pen = false,
        }
    }
    let _ = write!(
        s,
        r##"<path class="trace" d="{d}" stroke="#000" stroke-width="0.3" fill="none" stroke-linejoin="round"/>"##
    );
    let _ = write!(
        s,
        r##"<text x="1" y="4" font-size="3.2" font-family="sans-serif">{}</text></svg>"##,
        escape(&lead.name)
    );
    s
}

// ------------------------------------------------------------------------------------------ the page

const CSS: &str = r#"
@page { size: A4 portrait; margin: 12mm 12mm 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 9.5pt; color: #000; margin: 0 auto; max-width: 186mm; }
h1 { font-size: 15pt; margin: 0 0 2mm; }
h2 { font-size: 11.5pt; margin: 5mm 0 2mm; border-bottom: 0.3mm solid #000; }
h3 { font-size: 10pt; margin: 3mm 0 1mm; }
table { border-collapse: collapse; width: 100%; font-size: 8pt; }
th, td { border: 0.2mm solid #888; padding: 0.5mm 0.7mm; text-align: right; vertical-align: top; white-space: nowrap; }
td.l, th.l { white-space: normal; overflow-wrap: break-word; }
table.audit { font-size: 7.5pt; table-layout: fixed; }
table.audit td { overflow-wrap: anywhere; }
table.audit th:nth-child(1) { width: 34mm; } table.audit th:nth-child(2) { width: 30mm; }
.settings { columns: 2; column-gap: 6mm; font-size: 7.5pt; }
.settings .kv { break-inside: avoid; overflow-wrap: anywhere; }
.settings .k { font-weight: bold; }
th { background: #eee; white-space: normal; }
td.darea { white-space: normal; min-width: 11mm; }
td.l, th.l { text-align: left; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 0.5mm 4mm; margin: 0; }
dl.meta dt { font-weight: bold; } dl.meta dd { margin: 0; }
.rec { border: 0.6mm solid #000; padding: 2mm 3mm; margin: 2mm 0; font-size: 11pt; }
.warn { border: 0.4mm dashed #000; padding: 1.5mm 3mm; margin: 2mm 0; font-weight: bold; }
tr.recommended td { font-weight: bold; }
tr.rejected td { color: #555; }
.beat { break-inside: avoid; page-break-inside: avoid; margin-bottom: 3mm; }
.leads { display: flex; gap: 3mm; flex-wrap: wrap; align-items: flex-start; }
svg.ecg, svg.overlay, svg.vcg { display: block; background: #fff; }
.legend, .small { font-size: 8pt; color: #333; }
.sw { display: inline-block; width: 5mm; height: 0.6mm; vertical-align: middle; margin: 0 1mm 0 2mm; }
.missing { color: #555; font-style: italic; }
@media screen { body { padding: 8mm; background: #fff; } }
"#;

fn baseline_qrsd(report: &Value) -> Option<f64> {
    let b = baselines(report);
    current(&b)
        .filter(|m| {
            text_of(m, &["status"])
                .as_deref()
                .is_none_or(|s| s == "complete")
        })
        .and_then(|m| f64_of(m, &["qrsd_ms"]))
}

fn recommendation(report: &Value) -> Option<&Value> {
    get(report, &["recommendation"])
        .or_else(|| get(procedure(report), &["recommendation"]))
        .filter(|r| r.is_object())
}

fn default_fs(report: &Value) -> Option<f64> {
    get(report, &["source"]).and_then(|s| f64_of(s, &["fs_hz", "sample_rate_hz"]))
}

fn measurement_row(
    out: &mut String,
    name: &str,
    status: &str,
    m: Option<&Value>,
    base: Option<f64>,
    class: &str,
    note: Option<&str>,
) {
    let null = Value::Null;
    let mv = m.unwrap_or(&null);
    let complete = text_of(mv, &["status"])
        .as_deref()
        .is_none_or(|s| s == "complete");
    let q = f64_of(mv, &["qrsd_ms"]).filter(|_| complete);
    let delta = match (q, base, class.contains("baseline")) {
        (Some(q), Some(b), false) => Some(q - b),
        _ => None,
    };
    let (iqr, sd) = spread(mv);
    let used = get(mv, &["beats_used"]).and_then(Value::as_u64);
    let req = get(mv, &["beats_required"]).and_then(Value::as_u64);
    let beats = match (used, req) {
        (Some(u), Some(r)) => format!("{u}/{r}"),
        (Some(u), None) => u.to_string(),
        _ => "—".into(),
    };
    let area = f64_of(mv, &["qrs_area_uvs"]).filter(|_| complete);
    let d_area = f64_of(mv, &["delta_qrs_area_uvs"]).filter(|_| complete);
    let d_pct = f64_of(mv, &["delta_qrs_area_pct"]).filter(|_| complete);
    let d_area_text = match (d_area, d_pct) {
        (Some(d), Some(p)) => format!("{} ({}%)", signed0(Some(d)), signed0(Some(p))),
        _ => "—".into(),
    };
    let capture = text_of(mv, &["lv_capture"]).filter(|_| complete);
    let rej = rejected_beats(mv);
    let mut fl = flags(mv);
    if !rej.is_empty() {
        fl.push(format!("rejected beats: {rej}"));
    }
    let _ = write!(
        out,
        "<tr class=\"{class}\"><td class=\"l\">{}{}</td><td class=\"l\">{}</td><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"area\">{}</td><td class=\"darea\">{}</td><td class=\"l lvcap\">{}</td><td>{} / {}</td><td>{}</td><td class=\"l\">{}</td></tr>",
        escape(name),
        note.map(|n| format!("<br><span class=\"small\">{}</span>", escape(n))).unwrap_or_default(),
        escape(status),
        ms0(q),
        ms0(lead_qrsd(mv, "II").filter(|_| complete)),
        ms0(lead_qrsd(mv, "V1").filter(|_| complete)),
        ms0(lead_qrsd(mv, "V6").filter(|_| complete)),
        ms0(f64_of(mv, &["stim_to_end_ms", "stimulus_to_end_ms"]).filter(|_| complete)),
        if class.contains("baseline") { String::new() } else { signed0(delta) },
        ms0(area),
        if class.contains("baseline") { String::new() } else { d_area_text },
        if class.contains("baseline") { String::new() } else { escape(capture.as_deref().unwrap_or("—")) },
        ms1(iqr),
        ms1(sd),
        beats,
        escape(&fl.join("; ")),
    );
}

fn beat_figure(out: &mut String, title: &str, m: &Value, fs: Option<f64>) {
    let _ = write!(out, "<div class=\"beat\"><h3>{}</h3>", escape(title));
    let mut any = false;
    let mut leads = String::new();
    for lead in PICTURE_LEADS {
        if let Some(ml) = median_lead(m, lead, fs) {
            leads.push_str(&lead_svg(&ml));
            any = true;
        } else {
            let _ = write!(
                leads,
                "<div class=\"missing\">{}: no median beat stored</div>",
                escape(lead)
            );
        }
    }
    if any {
        let _ = write!(out, "<div class=\"leads\">{leads}</div>");
    } else {
        out.push_str("<p class=\"missing\">No median beat stored for this measurement.</p>");
    }
    let q = f64_of(m, &["qrsd_ms"]);
    let over = text_of(m, &["global_leads_text"])
        .map(|t| format!(" ({t})"))
        .unwrap_or_default();
    let _ = write!(
        out,
        "<div class=\"small\">Global QRSd {} ms{} · II {} · V1 {} · V6 {} ms · stimulus to end {} ms · measurement {} · {}</div></div>",
        ms0(q),
        escape(&over),
        ms0(lead_qrsd(m, "II")),
        ms0(lead_qrsd(m, "V1")),
        ms0(lead_qrsd(m, "V6")),
        ms0(f64_of(m, &["stim_to_end_ms", "stimulus_to_end_ms"])),
        escape(&text_of(m, &["id"]).unwrap_or_else(|| "—".into())),
        escape(&times_of(m)),
    );
}

fn times_of(m: &Value) -> String {
    let started = text_of(m, &["started_at", "created_at", "start_time"]);
    let ended = text_of(m, &["completed_at", "finished_at", "ended_at", "end_time"]);
    match (started, ended) {
        (Some(a), Some(b)) => format!("{a} – {b}"),
        (Some(a), None) => format!("started {a}"),
        (None, Some(b)) => format!("ended {b}"),
        (None, None) => "time not recorded".into(),
    }
}

/// Render a flat JSON object (settings, source) as a definition list, nested objects flattened with
/// dotted keys; arrays of scalars joined.
fn kv_list(out: &mut String, v: &Value, prefix: &str, depth: usize) {
    let Some(o) = v.as_object() else {
        return;
    };
    for (k, x) in o {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match x {
            Value::Object(_) if depth < 3 => kv_list(out, x, &key, depth + 1),
            Value::Array(a)
                if a.len() <= 16 && a.iter().all(|e| !e.is_object() && !e.is_array()) =>
            {
                let j = a
                    .iter()
                    .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(", ");
                let _ = write!(
                    out,
                    "<div class=\"kv\"><span class=\"k\">{}</span> {}</div>",
                    escape(&humanise(&key)),
                    escape(&j)
                );
            }
            Value::Array(_) | Value::Object(_) => {}
            Value::Null => {
                let _ = write!(
                    out,
                    "<div class=\"kv\"><span class=\"k\">{}</span> —</div>",
                    escape(&humanise(&key))
                );
            }
            Value::String(s) => {
                let _ = write!(
                    out,
                    "<div class=\"kv\"><span class=\"k\">{}</span> {}</div>",
                    escape(&humanise(&key)),
                    escape(s)
                );
            }
            other => {
                let _ = write!(
                    out,
                    "<div class=\"kv\"><span class=\"k\">{}</span> {}</div>",
                    escape(&humanise(&key)),
                    escape(&other.to_string())
                );
            }
        }
    }
}

/// Render the printable report from the JSON report. Never fails: missing parts are shown as such.
pub fn render(report: &Value) -> String {
    let p = procedure(report);
    let case_id = text_of(p, &["case_id", "case"]).unwrap_or_else(|| "(no case id)".into());
    let proc_id = text_of(p, &["id", "procedure_id"]).unwrap_or_else(|| "—".into());
    let fs = default_fs(report);
    let base = baseline_qrsd(report);
    let rec = recommendation(report);
    let rec_id = rec.and_then(|r| id_text(get(r, &["site_id", "recommended_site_id"])));
    let chosen = id_text(
        get(p, &["chosen_site_id", "chosen_site"]).or_else(|| get(report, &["chosen_site_id"])),
    );
    let site_list = sites(report);
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"><title>qrsd report — {}</title><style>{CSS}</style></head><body>",
        escape(&case_id)
    );
    let _ = write!(out, "<h1>Paced QRS duration — procedure report</h1>");
    out.push_str("<dl class=\"meta\">");
    let status = text_of(p, &["status", "state"]).unwrap_or_else(|| "—".into());
    for (k, v) in [
        ("Case id", Some(case_id.clone())),
        ("Procedure", Some(proc_id)),
        ("Status", Some(status)),
        ("Started", text_of(p, &["created_at", "started_at"])),
        ("Closed", text_of(p, &["closed_at"])),
        ("Closing note", text_of(p, &["close_note"])),
        (
            "Recorded with",
            text_of(p, &["software_version"]).map(|v| format!("qrsd {v}")),
        ),
        (
            "Report generated",
            text_of(report, &["generated_at", "created_at"]),
        ),
    ] {
        let _ = write!(
            out,
            "<dt>{}</dt><dd>{}</dd>",
            k,
            escape(&v.unwrap_or_else(|| "—".into()))
        );
    }
    out.push_str("</dl>");

    // Recommendation.
    out.push_str("<h2>Recommendation</h2>");
    let site_by_id = |id: &str| {
        site_list
            .iter()
            .find(|s| id_of(s).as_deref() == Some(id))
            .copied()
    };
    match (rec, rec_id.as_deref().and_then(site_by_id)) {
        (Some(r), Some(site)) => {
            let ms = measurements_in(site);
            let best = get(r, &["best"]).filter(|b| b.is_object()).unwrap_or(r);
            let q = f64_of(best, &["qrsd_ms", "site_qrsd_ms"])
                .or_else(|| current(&ms).and_then(|m| f64_of(m, &["qrsd_ms"])));
            let d = f64_of(best, &["delta_qrs_ms", "delta_ms", "delta_qrsd_ms"])
                .or_else(|| q.zip(base).map(|(q, b)| q - b));
            let by_area = text_of(r, &["rule"]).as_deref() == Some("smallest_qrs_area");
            let area = f64_of(best, &["qrs_area_uvs"]);
            let d_area = f64_of(best, &["delta_qrs_area_uvs"]);
            let _ = write!(
                out,
                "<div class=\"rec\">{} among the sites not rejected: <b>{}</b> — QRSd {} ms, ΔQRS {} ms against baseline{}; QRS area {} µV·s, ΔQRS area {} µV·s.</div><p class=\"small\" data-testid=\"rule\">Ranking rule: {} (setting <code>recommendation.rank_by</code>).</p>",
                if by_area { "Smallest QRS area" } else { "Shortest paced QRS" },
                escape(&site_name(site)),
                ms0(q),
                signed0(d),
                base.map(|b| format!(" ({b:.0} ms)")).unwrap_or_else(|| " (no baseline)".into()),
                ms0(area),
                signed0(d_area),
                if by_area {
                    "smallest QRS area (largest reduction against baseline)"
                } else {
                    "shortest paced QRS duration"
                },
            );
            let warn = match get(r, &["warnings", "warning", "warning_text"]) {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(Value::Array(a)) if !a.is_empty() => Some(
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(|w| w.trim().trim_end_matches('.'))
                        .collect::<Vec<_>>()
                        .join(". "),
                ),
                Some(w @ Value::Object(_)) => text_of(w, &["message", "text"]),
                _ => None,
            }
            .or_else(|| {
                (get(r, &["within_spread", "ambiguous", "close_call"]).and_then(Value::as_bool)
                    == Some(true))
                .then(|| {
                    "the best two sites differ by less than the measurement spread".to_string()
                })
            });
            if let Some(w) = warn {
                let _ = write!(
                    out,
                    "<div class=\"warn\">Caution: {}.{}</div>",
                    escape(w.trim_end_matches('.')),
                    if get(r, &["close_call", "within_spread"]).and_then(Value::as_bool)
                        == Some(true)
                    {
                        " Treat the best two as equivalent and decide on threshold, stability or phrenic stimulation."
                    } else {
                        ""
                    }
                );
            }
        }
        _ => out.push_str(
            "<p class=\"missing\">No recommendation: no site has a complete measurement.</p>",
        ),
    }
    if let Some(c) = chosen.as_deref() {
        let name = site_by_id(c).map_or_else(|| format!("site {c}"), site_name);
        let _ = write!(
            out,
            "<p><b>Chosen site at closing:</b> {}</p>",
            escape(&name)
        );
    }

    // Site table.
    out.push_str("<h2>Sites</h2><table><thead><tr><th class=\"l\">Site</th><th class=\"l\">Status</th><th>QRSd ms</th><th>II</th><th>V1</th><th>V6</th><th>Stim–end</th><th>ΔQRS</th><th>QRS area µV·s</th><th>ΔArea µV·s</th><th class=\"l\">LV capture</th><th>IQR / SD</th><th>Beats</th><th class=\"l\">Flags</th></tr></thead><tbody>");
    let bl = baselines(report);
    let bm = current(&bl);
    measurement_row(
        &mut out,
        "Baseline (intrinsic)",
        bm.and_then(|m| text_of(m, &["status"]))
            .as_deref()
            .unwrap_or("not measured"),
        bm,
        base,
        "baseline",
        None,
    );
    for site in &site_list {
        let ms = measurements_in(site);
        let m = current(&ms);
        let id = id_of(site);
        let mut class = String::new();
        let status = if is_rejected(site) {
            class.push_str("rejected");
            format!(
                "rejected: {}",
                humanise(&reject_reason(site).unwrap_or_else(|| "no reason".into()))
            )
        } else {
            let s = text_of(site, &["status", "state"])
                .or_else(|| m.and_then(|m| text_of(m, &["status"])))
                .unwrap_or_else(|| "not measured".into());
            humanise(&s)
        };
        if id.is_some() && id == rec_id {
            class.push_str(" recommended");
        }
        let status = if ms.len() > 1 {
            format!("{status} ({} runs)", ms.len())
        } else {
            status
        };
        let name = if id.is_some() && id == rec_id {
            format!("★ {}", site_name(site))
        } else {
            site_name(site)
        };
        measurement_row(
            &mut out,
            &name,
            &status,
            m,
            base,
            class.trim(),
            text_of(site, &["note"]).as_deref(),
        );
    }
    out.push_str("</tbody></table>");
    out.push_str("<p class=\"small\">QRSd: the median of the run's per-beat values, each beat delineated on its own (global: earliest onset to latest offset over all leads; II, V1, V6: per lead). The median beats below are pictures; measuring on them instead read LUDB's records less closely (docs/validation.md). Stim–end: first pacing stimulus to QRS end. ΔQRS: against the baseline. IQR / SD: spread of the per-beat global QRSd, ms. QRS area: the vectorcardiographic QRS area (X, Y, Z from I, II, V1–V6 by the Kors matrix, each integrated over the QRS from its level at the onset; √(Ax² + Ay² + Az²)), median over the run; ΔArea: site − baseline (negative = reduction) and %. In published cohorts a baseline QRS area ≥ 102 µV·s and a reduction ≥ 45–62 µV·s went with better outcomes of CRT (Okafor 2019, Ghossein 2021): population findings, not a rule for this patient. LV capture: Ammann criteria on the median paced beat (R/S ≥ 1 in V1, or R/S < 1 in V1 with R/S ≤ 1 in I: LV capture), Q/q/QS in I as supporting sign (Cao 2015); unlikely = looks like RV-only pacing.</p>");

    // Median beats.
    out.push_str("<h2>Median beats</h2><p class=\"legend\">25 mm/s, 10 mm/mV; 1 mm minor and 5 mm major grid; calibration pulse 1 mV. <span class=\"sw\" style=\"background:#1a7f37\"></span>QRS onset <span class=\"sw\" style=\"background:#c62828\"></span>QRS offset <span class=\"sw\" style=\"background:#1f5fbf\"></span>pacing stimulus</p>");
    let mut figures = 0;
    if let Some(m) = bm {
        beat_figure(&mut out, "Baseline (intrinsic)", m, fs);
        figures += 1;
    }
    for site in &site_list {
        let ms = measurements_in(site);
        for (i, m) in ms.iter().enumerate() {
            if text_of(m, &["status"])
                .as_deref()
                .is_some_and(|s| s == "collecting")
            {
                continue;
            }
            let title = if ms.len() > 1 {
                format!("{} — run {}", site_name(site), i + 1)
            } else {
                site_name(site)
            };
            beat_figure(&mut out, &title, m, fs);
            figures += 1;
        }
    }
    if figures == 0 {
        out.push_str("<p class=\"missing\">No measurements.</p>");
    }
    let complete_sites: Vec<(String, &Value)> = site_list
        .iter()
        .filter_map(|site| {
            let ms = measurements_in(site);
            let m = ms
                .iter()
                .rev()
                .find(|m| text_of(m, &["status"]).as_deref() == Some("complete"))
                .copied()?;
            Some((site_name(site), m))
        })
        .collect();
    let base_complete = bm.filter(|m| {
        text_of(m, &["status"])
            .as_deref()
            .is_none_or(|s| s == "complete")
    });
    compare::section(&mut out, base_complete, &complete_sites, fs);

    // Technical details.
    out.push_str("<h2>Recording and settings</h2><div class=\"settings\">");
    let sw = match get(report, &["software"]) {
        Some(s @ Value::Object(_)) => [
            text_of(s, &["name"]),
            text_of(s, &["version"]),
            text_of(s, &["commit"]).map(|c| format!("(commit {c})")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" "),
        Some(Value::String(s)) => s.clone(),
        _ => text_of(report, &["software_version", "version"])
            .map(|v| format!("qrsd {v}"))
            .unwrap_or_else(|| format!("qrsd {} (this server)", env!("CARGO_PKG_VERSION"))),
    };
    let _ = write!(
        out,
        "<div class=\"kv\"><span class=\"k\">Software</span> {}</div>",
        escape(if sw.is_empty() { "—" } else { &sw })
    );
    match get(report, &["source"]) {
        Some(s @ Value::Object(o)) => {
            // The live source status has many counters; the report keeps what identifies the recording
            // and its quality.
            let keep = [
                "description",
                "spec",
                "kind",
                "fs_hz",
                "channels",
                "firmware",
                "has_hw_pace",
                "frames",
                "crc_errors",
                "gaps",
                "missing_frames",
                "reconnects",
                "lead_off",
            ];
            let picked: serde_json::Map<String, Value> = o
                .iter()
                .filter(|(k, _)| keep.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let shown = if picked.is_empty() {
                s.clone()
            } else {
                Value::Object(picked)
            };
            kv_list(&mut out, &shown, "source", 0);
        }
        Some(Value::String(s)) => {
            let _ = write!(
                out,
                "<div class=\"kv\"><span class=\"k\">source</span> {}</div>",
                escape(s)
            );
        }
        _ => out.push_str("<div class=\"kv\"><span class=\"k\">source</span> not recorded</div>"),
    }
    match get(
        report,
        &[
            "filter_settings",
            "filters",
            "filter",
            "settings",
            "config",
            "pipeline",
        ],
    ) {
        Some(s @ Value::Object(_)) => kv_list(&mut out, s, "filter", 0),
        _ => match get(p, &["filter_settings"]) {
            Some(s @ Value::Object(_)) => kv_list(&mut out, s, "filter", 0),
            _ => out
                .push_str("<div class=\"kv\"><span class=\"k\">filters</span> not recorded</div>"),
        },
    }
    if let Some(s @ Value::Object(_)) = get(report, &["measurement_defaults"]) {
        kv_list(&mut out, s, "measurement", 0);
    }
    if let Some(s @ Value::Object(_)) = get(report, &["recording"]) {
        kv_list(&mut out, s, "recording", 0);
    }
    out.push_str("</div>");
    if let Some(Value::Array(audit)) = get(report, &["audit", "audit_trail", "events"]) {
        out.push_str("<h2>Audit trail</h2><table class=\"audit\"><thead><tr><th class=\"l\">Time</th><th class=\"l\">Action</th><th class=\"l\">Details</th></tr></thead><tbody>");
        for e in audit.iter().take(500) {
            let at = text_of(e, &["at", "time", "ts", "created_at"]).unwrap_or_default();
            let action = text_of(e, &["action", "event", "kind", "type"]).unwrap_or_default();
            let detail = get(e, &["details", "detail", "data"])
                .map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_string))
                .unwrap_or_default();
            let _ = write!(
                out,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                escape(&at),
                escape(&humanise(&action)),
                escape(&detail)
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("<p class=\"small\">qrsd is decision support: every number above is traceable to the stored beats and the archived recording. The JSON report (same URL without <code>.html</code>) is the machine-readable twin.</p></body></html>");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn beat(fs: f64) -> Value {
        // 600 ms window; a 120 ms "QRS" from 200 to 320 ms; stimulus at 180 ms.
        let n = (0.6 * fs) as usize;
        let uv: Vec<f64> = (0..n)
            .map(|i| {
                let t = i as f64 / fs;
                if (0.2..0.32).contains(&t) {
                    1500.0 * ((t - 0.2) / 0.12 * std::f64::consts::PI).sin()
                } else {
                    0.0
                }
            })
            .collect();
        json!({
            "fs_hz": fs,
            "t0_ms": 0.0,
            "stimulus_ms": 180.0,
            "leads": {
                "II": {"samples_uv": uv, "onset_ms": 200.0, "offset_ms": 320.0},
                "V1": {"samples_uv": uv.iter().map(|v| -v).collect::<Vec<_>>(), "onset_index": 0.2 * fs, "offset_index": 0.32 * fs},
                "V6": {"samples_uv": uv, "onset_ms": 200.0, "offset_ms": 320.0}
            }
        })
    }

    fn report() -> Value {
        json!({
            "procedure": {"id": 7, "case_id": "CRT-<b>&\"x\"", "status": "closed", "created_at": "2026-12-01T20:00:00Z", "chosen_site_id": 2},
            "baseline": {"id": 1, "status": "complete", "qrsd_ms": 168.0, "leads": {"II": {"qrsd_ms": 160.0}, "V1": {"qrsd_ms": 165.0}, "V6": {"qrsd_ms": 162.0}}, "beats_used": 10, "beats_required": 10, "median_beat": beat(500.0)},
            "sites": [
                {"id": 2, "vein": "posterolateral", "segment": "mid", "label": "PL mid", "note": "<script>alert(1)</script>",
                 "measurements": [{"id": 3, "status": "complete", "qrsd_ms": 128.4, "stim_to_end_ms": 150.0, "iqr_ms": 2.0, "sd_ms": 1.5, "beats_used": 10, "beats_required": 10, "beats_rejected": {"noise": 2}, "flags": ["suspected_fusion"], "median_beat": beat(1000.0)}]},
                {"id": 4, "vein": "lateral", "segment": "basal", "status": "rejected", "reject_reason": "phrenic_stimulation",
                 "measurements": [{"id": 5, "status": "complete", "qrsd_ms": 120.0}]}
            ],
            "recommendation": {"site_id": 2, "qrsd_ms": 128.4, "delta_qrs_ms": -39.6, "warning": null},
            "source": {"description": "sim", "fs_hz": 1000.0},
            "filters": {"highpass_hz": 0.5, "lowpass_hz": 150.0, "notch_hz": 50.0},
            "software": {"name": "qrsd", "version": "0.1.0"}
        })
    }

    #[test]
    fn grid_is_real_millimetres_at_25mm_per_s_and_10mm_per_mv() {
        let m = report()["sites"][0]["measurements"][0].clone();
        let lead = median_lead(&m, "II", None).unwrap();
        let p = panel_for(&lead);
        // 1 s of samples spans 25 mm; 1 mV spans 10 mm.
        assert!((p.x_mm(lead.fs_hz, lead.fs_hz) - p.x_mm(0.0, lead.fs_hz) - 25.0).abs() < 1e-9);
        assert!((p.y_mm(p.baseline_uv) - p.y_mm(p.baseline_uv + 1000.0) - 10.0).abs() < 1e-9);
        // The SVG's size in mm equals its viewBox: one user unit is one millimetre on paper.
        let svg = lead_svg(&lead);
        let w = p.width_mm;
        let h = p.height_mm;
        assert!(
            svg.contains(&format!(
                "width=\"{w}mm\" height=\"{h}mm\" viewBox=\"0 0 {w} {h}\""
            )),
            "{svg:.300}"
        );
        assert_eq!(w % 5.0, 0.0);
        assert_eq!(h % 5.0, 0.0);
        // Minor lines every 1 mm, major every 5 mm.
        let major = svg
            .split("class=\"grid-major\" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let minor = svg
            .split("class=\"grid-minor\" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(major.contains("M5 0V") && major.contains("M10 0V") && !major.contains("M1 0V"));
        assert!(minor.contains("M1 0V") && minor.contains("M4 0V") && !minor.contains("M5 0V"));
        let verticals = major.matches("0V").count() + minor.matches("0V").count();
        assert_eq!(verticals as f64, w + 1.0);
        // The calibration pulse is 10 mm high (1 mV).
        let cal = svg
            .split("class=\"cal\" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let z = p.zero_y_mm;
        assert!(cal.contains(&format!("V{:.2}", z - 10.0)), "{cal}");
        // The 600 ms window: 0.6 s · 25 mm/s = 15 mm of trace after the left margin.
        let x_last = p.x_mm((lead.uv.len() - 1) as f64, lead.fs_hz);
        assert!((x_last - PANEL_LEFT_MM - 0.599 * 25.0).abs() < 1e-6);
    }

    #[test]
    fn same_scale_whatever_the_sampling_rate() {
        let r = report();
        let a = median_lead(&r["baseline"], "II", None).unwrap(); // 500 Hz
        let b = median_lead(&r["sites"][0]["measurements"][0], "II", None).unwrap(); // 1000 Hz
        let (pa, pb) = (panel_for(&a), panel_for(&b));
        assert_eq!(pa.width_mm, pb.width_mm);
        assert!(
            (pa.x_mm(a.onset.unwrap(), a.fs_hz) - pb.x_mm(b.onset.unwrap(), b.fs_hz)).abs() < 1e-9
        );
    }

    fn marker_x(svg: &str, class: &str) -> f64 {
        let tag = svg
            .split(&format!("class=\"{class}\""))
            .nth(1)
            .unwrap_or_else(|| panic!("no {class}"));
        tag.split("data-x-mm=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn markers_at_the_right_x() {
        let m = report()["sites"][0]["measurements"][0].clone();
        for lead in PICTURE_LEADS {
            let ml = median_lead(&m, lead, None).unwrap();
            let svg = lead_svg(&ml);
            // onset 200 ms → 5 mm, offset 320 ms → 8 mm, stimulus 180 ms → 4.5 mm after the margin.
            assert!(
                (marker_x(&svg, "mark-onset") - (PANEL_LEFT_MM + 5.0)).abs() < 1e-3,
                "{lead}"
            );
            assert!(
                (marker_x(&svg, "mark-offset") - (PANEL_LEFT_MM + 8.0)).abs() < 1e-3,
                "{lead}"
            );
            assert!(
                (marker_x(&svg, "mark-stimulus") - (PANEL_LEFT_MM + 4.5)).abs() < 1e-3,
                "{lead}"
            );
            // 120 ms QRS = 3 mm between the onset and offset lines.
            assert!(
                (marker_x(&svg, "mark-offset") - marker_x(&svg, "mark-onset") - 3.0).abs() < 1e-3
            );
        }
    }

    #[test]
    fn the_ranking_rule_is_named() {
        let html = render(&report());
        assert!(
            html.contains("Shortest paced QRS among")
                && html.contains("Ranking rule: shortest paced QRS duration")
        );
        let mut r = report();
        r["recommendation"]["rule"] = json!("smallest_qrs_area");
        r["recommendation"]["qrs_area_uvs"] = json!(61.0);
        let html = render(&r);
        assert!(html.contains("Smallest QRS area among"), "{html:.2000}");
        assert!(
            html.contains("Ranking rule: smallest QRS area") && html.contains("QRS area 61 µV·s")
        );
    }

    #[test]
    fn user_text_is_escaped() {
        let html = render(&report());
        assert!(!html.contains("<script>alert(1)"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("CRT-<b>"));
        assert!(html.contains("CRT-&lt;b&gt;&amp;&quot;x&quot;"));
        assert_eq!(escape("a'b\u{0}"), "a&#39;b\u{FFFD}");
        // Keys of settings objects are user-controlled in principle too.
        let mut r = report();
        r["filters"] = json!({"<i>k</i>": "<u>v</u>"});
        let html = render(&r);
        assert!(!html.contains("<i>k</i>") && !html.contains("<u>v</u>"));
    }

    #[test]
    fn full_report_has_table_recommendation_pictures_and_settings() {
        let html = render(&report());
        assert!(html.contains("@page { size: A4"));
        assert!(html.contains("PL mid (posterolateral mid)"));
        assert!(html.contains("−40")); // ΔQRS −39.6 rounds to −40
        assert!(html.contains("rejected: phrenic stimulation"));
        assert!(html.contains("2 noise"));
        assert!(html.contains("suspected fusion"));
        assert!(html.contains("Chosen site at closing:</b> PL mid"));
        // Baseline and the first site, three leads each; the rejected site's run has no median beat.
        assert_eq!(html.matches("class=\"ecg\"").count(), 6);
        // The first site over the baseline, II, V1, V6 (no VCG loop stored in this report).
        assert_eq!(html.matches("class=\"overlay\"").count(), 3);
        assert_eq!(html.matches("<svg").count(), 9);
        assert!(html.contains("No median beat stored"));
        assert!(html.contains("filter.highpass hz") && html.contains("150"));
        assert!(html.contains("qrsd 0.1.0"));
    }

    #[test]
    fn missing_data_renders() {
        for r in [
            json!({}),
            json!(null),
            json!([1, 2]),
            json!({"procedure": {"id": "x"}, "sites": [{}], "baseline": null, "recommendation": {"site_id": 99}}),
            json!({"sites": [{"id": 1, "measurements": [{"status": "incomplete", "reason": "too_few_beats", "median_beat": {"leads": {"II": {"samples_uv": [null, null]}}}}]}]}),
            json!({"sites": "nope", "baseline": {"median_beat": {"fs_hz": 0, "leads": {"II": [1, 2, 3]}}}}),
        ] {
            let html = render(&r);
            assert!(html.starts_with("<!doctype html>") && html.ends_with("</html>"));
            assert!(html.contains("Recommendation"));
        }
        let html = render(
            &json!({"sites": [{"id": 1, "measurements": [{"status": "incomplete", "reason": "too_few_beats"}]}]}),
        );
        assert!(html.contains("INCOMPLETE: too few beats"));
        assert!(html.contains("No recommendation"));
    }

    #[test]
    fn lead_major_median_shape() {
        let m = json!({"median_beat": {"fs_hz": 500.0, "leads": ["II", "V1"], "data": [[0.0, 100.0, 200.0], [1.0, 2.0, 3.0]], "onset_index": {"II": 1, "V1": 2}}});
        let l = median_lead(&m, "II", None).unwrap();
        assert_eq!(l.uv.len(), 3);
        assert_eq!(l.onset, Some(1.0));
        assert_eq!(median_lead(&m, "V1", None).unwrap().onset, Some(2.0));
        assert!(median_lead(&m, "V6", None).is_none());
    }

    /// The shapes qrsd-measure serialises: `MedianBeat` (indices, `uv`), `RejectedCounts`
    /// (`total`, `by_reason`), `Flags` (booleans), `SiteDecision` (tagged) and `Recommendation`.
    #[test]
    fn qrsd_measure_shapes() {
        let uv: Vec<f64> = (0..300)
            .map(|i| if (100..160).contains(&i) { 800.0 } else { 0.0 })
            .collect();
        let m = json!({
            "status": "complete", "qrsd_ms": 121.0, "iqr_ms": 3.0, "sd_ms": 2.0, "fs_hz": 500.0,
            "leads": {"II": {"qrsd_ms": 118.0, "iqr_ms": 2.0, "sd_ms": 1.0, "n": 10}},
            "beats_used": 10, "beats_required": 10,
            "beats_rejected": {"total": 3, "by_reason": {"noise": 2, "suspected_fusion": 1}},
            "flags": {"noise": false, "lead_off": false, "suspected_fusion": true, "suspected_loss_of_capture": false, "gap": false, "short_run": false},
            "median_beat": {"fs_hz": 500.0, "n_beats": 10, "r_index": 125, "onset_index": 100, "offset_index": 160, "stim_index": 90,
                "leads": {"II": {"uv": uv, "onset_index": 102, "offset_index": 158}, "V1": {"uv": uv, "onset_index": null, "offset_index": null}}}
        });
        let ii = median_lead(&m, "II", None).unwrap();
        assert_eq!(
            (ii.onset, ii.offset, ii.stimulus),
            (Some(102.0), Some(158.0), Some(90.0))
        );
        // A lead without its own boundaries falls back to the global ones.
        let v1 = median_lead(&m, "V1", None).unwrap();
        assert_eq!((v1.onset, v1.offset), (Some(100.0), Some(160.0)));
        let svg = lead_svg(&ii);
        // 500 Hz: index 102 = 204 ms = 5.1 mm after the margin.
        assert!((marker_x(&svg, "mark-onset") - (PANEL_LEFT_MM + 5.1)).abs() < 1e-3);
        assert!((marker_x(&svg, "mark-stimulus") - (PANEL_LEFT_MM + 4.5)).abs() < 1e-3);
        let r = json!({
            "procedure": {"id": 1, "case_id": "C1"},
            "sites": [
                {"id": 1, "vein": "lateral", "segment": "mid", "label": "L mid", "decision": {"decision": "reject", "reason": "high_threshold"}, "measurements": [m.clone()]},
                {"id": 2, "vein": "posterior", "segment": "apical", "decision": {"decision": "accept"}, "measurements": [m]}
            ],
            "recommendation": {"site_id": 2, "best": {"site_id": 2, "qrsd_ms": 121.0, "delta_qrs_ms": -30.0}, "close_call": true,
                "warnings": ["the best two sites differ by 2 ms, within the measurement uncertainty (5 ms)"]}
        });
        let html = render(&r);
        assert!(html.contains("rejected: high threshold"));
        assert!(html.contains("2 noise, 1 suspected fusion"));
        assert!(html.contains("suspected fusion;") || html.contains(">suspected fusion<"));
        assert!(html.contains("ΔQRS −30 ms"));
        assert!(html.contains("Caution: the best two sites differ by 2 ms"));
        assert!(html.contains("Treat the best two as equivalent"));
    }
}
