//! Per-beat truth as JSON lines.

use qrsd_synth::{BeatTruth, LEAD_NAMES_12};
use serde_json::{json, Map, Value};

/// One truth line (no trailing newline): `class` (`intrinsic`, `paced`, `fusion`, `loss_of_capture`,
/// `ectopic`), `qrsd_ms` (true global QRSd), `onset_sample`, `offset_sample`, `stimulus_sample` (null if
/// none), `r_sample`, `p_onset_sample`, `t_offset_sample`, `stimulus_to_offset_ms`, `per_lead` (lead name →
/// `{onset_sample, offset_sample}` or null when isoelectric), `lead_span` (earliest per-lead onset to latest
/// offset), `index`, `fs_hz`, and the scenario `phase` index and `label` when a scenario runs. Sample numbers
/// are device sample counters: 0 is the first sample generated (and sent).
pub fn truth_line(t: &BeatTruth, fs_hz: f64, phase: Option<(usize, &str)>) -> String {
    let mut per_lead = Map::new();
    for (name, w) in LEAD_NAMES_12.iter().zip(&t.per_lead) {
        per_lead.insert(
            (*name).to_string(),
            w.map_or(
                Value::Null,
                |w| json!({"onset_sample": w.onset_sample, "offset_sample": w.offset_sample}),
            ),
        );
    }
    let span = t.lead_span().map_or(Value::Null, |w| {
        json!({"onset_sample": w.onset_sample, "offset_sample": w.offset_sample,
               "qrsd_ms": (w.offset_sample - w.onset_sample) as f64 * 1000.0 / fs_hz})
    });
    let mut v = json!({
        "index": t.index,
        "class": t.class,
        "qrsd_ms": t.qrsd_ms,
        "onset_sample": t.onset_sample,
        "offset_sample": t.offset_sample,
        "stimulus_sample": t.stimulus_sample,
        "r_sample": t.r_sample,
        "p_onset_sample": t.p_onset_sample,
        "t_offset_sample": t.t_offset_sample,
        "stimulus_to_offset_ms": t.stimulus_to_offset_ms(fs_hz),
        "fs_hz": fs_hz,
        "per_lead": per_lead,
        "lead_span": span,
    });
    if let (Some((i, label)), Value::Object(m)) = (phase, &mut v) {
        m.insert("phase".into(), json!(i));
        m.insert("label".into(), json!(label));
    }
    v.to_string()
}
