//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`, written by hand (no macro layer between
//! the handlers and the contract). A test checks that every route of the router is in it and nothing
//! else; docs/api.md is the prose version.

use serde_json::{json, Map, Value};

fn err_ref() -> Value {
    json!({"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok(desc: &str, schema: Value) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": schema}}})
}

fn sref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn id_param(name: &str, what: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": what, "schema": {"type": "integer", "format": "int64"}})
}

struct Op {
    summary: &'static str,
    params: Vec<Value>,
    body: Option<Value>,
    responses: Vec<(&'static str, Value)>,
}

fn op(o: Op) -> Value {
    let mut m = Map::new();
    m.insert("summary".into(), json!(o.summary));
    if !o.params.is_empty() {
        m.insert("parameters".into(), Value::Array(o.params));
    }
    if let Some(b) = o.body {
        m.insert(
            "requestBody".into(),
            json!({"required": true, "content": {"application/json": {"schema": b}}}),
        );
    }
    let mut r = Map::new();
    for (code, v) in o.responses {
        r.insert(code.into(), v);
    }
    r.insert("4XX".into(), err_ref());
    m.insert("responses".into(), Value::Object(r));
    Value::Object(m)
}

fn id_schema() -> Value {
    json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}})
}

/// The document.
pub fn document() -> Value {
    let pid = || id_param("id", "procedure id");
    let sid = || id_param("site", "site id");
    let mut paths = Map::new();
    let mut put = |path: &str, item: Value| {
        paths.insert(path.into(), item);
    };
    put(
        "/healthz",
        json!({"get": op(Op { summary: "Liveness: version, source state, uptime", params: vec![], body: None,
            responses: vec![("200", ok("OK", json!({"type": "object"})))] })}),
    );
    put(
        "/metrics",
        json!({"get": {"summary": "Prometheus metrics (text exposition format)",
            "responses": {"200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}}}}),
    );
    put(
        "/api/v1/openapi.json",
        json!({"get": op(Op { summary: "This document", params: vec![], body: None,
            responses: vec![("200", ok("OpenAPI document", json!({"type": "object"})))] })}),
    );
    put(
        "/api/v1/procedures",
        json!({
            "get": op(Op { summary: "List procedures (newest first)", params: vec![], body: None,
                responses: vec![("200", ok("procedures", json!({"type": "object", "properties": {"procedures": {"type": "array", "items": sref("ProcedureSummary")}}})))] }),
            "post": op(Op { summary: "Start a procedure", params: vec![], body: Some(sref("NewProcedure")),
                responses: vec![("201", ok("created", id_schema()))] }),
        }),
    );
    put(
        "/api/v1/procedures/{id}",
        json!({"get": op(Op { summary: "A procedure with its sites and measurements", params: vec![pid()], body: None,
            responses: vec![("200", ok("procedure", sref("Procedure")))] })}),
    );
    put(
        "/api/v1/procedures/{id}/baseline",
        json!({"post": op(Op { summary: "Start the baseline (intrinsic rhythm) measurement", params: vec![pid()],
            body: Some(sref("StartMeasurement")),
            responses: vec![("202", ok("started", id_schema()))] })}),
    );
    put(
        "/api/v1/procedures/{id}/sites",
        json!({"post": op(Op { summary: "Add a candidate LV site", params: vec![pid()], body: Some(sref("NewSite")),
            responses: vec![("201", ok("created", id_schema()))] })}),
    );
    put(
        "/api/v1/procedures/{id}/sites/{site}/measurements",
        json!({"post": op(Op { summary: "Measure (or re-measure) paced QRSd at a site", params: vec![pid(), sid()],
            body: Some(sref("StartMeasurement")),
            responses: vec![("202", ok("started", id_schema()))] })}),
    );
    put(
        "/api/v1/procedures/{id}/sites/{site}/accept",
        json!({"post": op(Op { summary: "Accept a site (mark it chosen)", params: vec![pid(), sid()],
            body: Some(json!({"type": "object", "properties": {"note": {"type": "string", "maxLength": 1000}}, "additionalProperties": false})),
            responses: vec![("200", ok("site", sref("Site")))] })}),
    );
    put(
        "/api/v1/procedures/{id}/sites/{site}/reject",
        json!({"post": op(Op { summary: "Reject a site with a reason", params: vec![pid(), sid()], body: Some(sref("Reject")),
            responses: vec![("200", ok("site", sref("Site")))] })}),
    );
    put(
        "/api/v1/procedures/{id}/recommendation",
        json!({"get": op(Op { summary: "Shortest non-rejected site, ΔQRS against baseline, warnings", params: vec![pid()], body: None,
            responses: vec![("200", ok("recommendation", sref("Recommendation")))] })}),
    );
    put(
        "/api/v1/procedures/{id}/report",
        json!({"get": op(Op { summary: "Everything needed to reproduce the decision (JSON)", params: vec![pid()], body: None,
            responses: vec![("200", ok("report", json!({"type": "object"})))] })}),
    );
    put(
        "/api/v1/procedures/{id}/report.html",
        json!({"get": {"summary": "Printable report (A4 HTML, median-beat pictures)", "parameters": [pid()],
            "responses": {"200": {"description": "report", "content": {"text/html": {"schema": {"type": "string"}}}}, "4XX": err_ref()}}}),
    );
    put(
        "/api/v1/procedures/{id}/close",
        json!({"post": op(Op { summary: "Close the procedure (chosen site defaults to the accepted or recommended one)", params: vec![pid()],
            body: Some(json!({"type": "object", "properties": {"chosen_site_id": {"type": ["integer", "null"]}, "note": {"type": "string", "maxLength": 1000}}, "additionalProperties": false})),
            responses: vec![("200", ok("procedure", sref("Procedure")))] })}),
    );
    put(
        "/api/v1/measurements/{id}",
        json!({"get": op(Op { summary: "A measurement: progress while collecting, the result when done", params: vec![id_param("id", "measurement id")], body: None,
            responses: vec![("200", ok("measurement", sref("Measurement")))] })}),
    );
    put(
        "/api/v1/measurements/{id}/stop",
        json!({"post": op(Op { summary: "End a collecting measurement now: complete with the clean beats so far (at least the minimum), else incomplete", params: vec![id_param("id", "measurement id")], body: None,
            responses: vec![("200", ok("measurement", sref("Measurement")))] })}),
    );
    put(
        "/api/v1/source",
        json!({"get": op(Op { summary: "Source state: sample rate, frames, CRC errors, gaps, reconnects, lead-off", params: vec![], body: None,
            responses: vec![("200", ok("source", sref("Source")))] })}),
    );
    put(
        "/api/v1/source/sim",
        json!({
            "get": op(Op { summary: "Simulator settings (409 when the source is not the simulator)", params: vec![], body: None,
                responses: vec![("200", ok("settings", json!({"type": "object"})))] }),
            "put": op(Op { summary: "Change the simulator while it runs (409 when the source is not the simulator, 422 for invalid values)", params: vec![],
                body: Some(sref("SimUpdate")),
                responses: vec![("200", ok("settings", json!({"type": "object"})))] }),
        }),
    );
    put(
        "/api/v1/sim/truth",
        json!({"get": op(Op { summary: "Truth of the simulator's recent beats (index > since)",
            params: vec![json!({"name": "since", "in": "query", "required": false, "schema": {"type": "integer"}})], body: None,
            responses: vec![("200", ok("truth", json!({"type": "object"})))] })}),
    );
    put(
        "/api/v1/stream",
        json!({"get": {"summary": "WebSocket of numbered JSON messages: hello, samples, beat, measurement, source, gap",
            "parameters": [{"name": "token", "in": "query", "required": false, "schema": {"type": "string"}, "description": "bearer token (browsers cannot set headers on a WebSocket)"}],
            "responses": {"101": {"description": "switching protocols"}, "4XX": err_ref()}}}),
    );

    let enum_s = |v: &[&str]| json!({"type": "string", "enum": v});
    let schemas = json!({
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
        "NewProcedure": {"type": "object", "additionalProperties": false, "required": ["case_id"], "properties": {
            "case_id": {"type": "string", "minLength": 1, "maxLength": 64, "description": "pseudonymous case id (no patient names)"},
            "operator": {"type": "string", "maxLength": 100}, "note": {"type": "string", "maxLength": 1000}}},
        "NewSite": {"type": "object", "additionalProperties": false, "required": ["vein", "segment"], "properties": {
            "vein": enum_s(&["anterior", "anterolateral", "lateral", "posterolateral", "posterior", "middle_cardiac"]),
            "segment": enum_s(&["basal", "mid", "apical"]),
            "label": {"type": "string", "maxLength": 100}, "electrode": {"type": "string", "maxLength": 100},
            "note": {"type": "string", "maxLength": 1000}}},
        "StartMeasurement": {"type": ["object", "null"], "additionalProperties": false, "properties": {
            "beats": {"type": "integer", "minimum": 1, "maximum": 200}, "timeout_s": {"type": "number", "minimum": 1, "maximum": 600}}},
        "Reject": {"type": "object", "additionalProperties": false, "required": ["reason"], "properties": {
            "reason": enum_s(&["phrenic_stimulation", "high_threshold", "unstable", "other"]), "note": {"type": "string", "maxLength": 1000}}},
        "SimUpdate": {"type": "object", "additionalProperties": false, "properties": {
            "rhythm": enum_s(&["intrinsic", "biv", "rv"]), "qrsd_ms": {"type": "number", "minimum": 60, "maximum": 250},
            "intrinsic_qrsd_ms": {"type": "number", "minimum": 60, "maximum": 250},
            "rate_bpm": {"type": "number", "minimum": 30, "maximum": 180}, "hrv_ms": {"type": "number"},
            "lbbb": {"type": "boolean"}, "realistic_edges": {"type": "boolean"}, "fusion_probability": {"type": "number", "minimum": 0, "maximum": 1},
            "loss_of_capture_probability": {"type": "number", "minimum": 0, "maximum": 1},
            "ectopic_probability": {"type": "number", "minimum": 0, "maximum": 1},
            "vv_offset_ms": {"type": "number", "minimum": -100, "maximum": 100},
            "noise": {"type": "object", "additionalProperties": false, "properties": {"emg_uv_rms": {"type": "number"}, "baseline_wander_uv": {"type": "number"}, "mains_uv": {"type": "number"}, "mains_hz": {"type": "number"},
                "emg_lead_uv_rms": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}, "description": "extra muscle noise per acquired channel (I, II, V1..V6), µV RMS, by name; channels not named keep theirs"}}},
            "lead_off": {"type": "array", "items": {"type": "string"}, "description": "acquired channels flagged off (I, II, V1..V6)"},
            "speed": {"type": "number", "exclusiveMinimum": 0, "maximum": 100}}},
        "ProcedureSummary": {"type": "object"},
        "Procedure": {"type": "object", "properties": {"id": {"type": "integer"}, "case_id": {"type": "string"},
            "status": enum_s(&["open", "closed"]), "sites": {"type": "array", "items": sref("Site")},
            "baseline": {"type": ["object", "null"]}, "measurements": {"type": "array", "items": sref("Measurement")}}},
        "Site": {"type": "object"},
        "Measurement": {"type": "object", "properties": {"id": {"type": "integer"},
            "status": enum_s(&["collecting", "complete", "incomplete", "failed", "interrupted"]),
            "qrsd_ms": {"type": ["number", "null"]}, "leads": {"type": "object"}, "stim_to_end_ms": {"type": ["number", "null"]},
            "qrs_area_uvs": {"type": ["number", "null"], "description": "median QRS area (Kors VCG), µV·s"},
            "qrs_area_iqr_uvs": {"type": ["number", "null"]},
            "delta_qrs_area_uvs": {"type": ["number", "null"], "description": "site − baseline QRS area, µV·s"},
            "delta_qrs_area_pct": {"type": ["number", "null"]},
            "lv_capture": {"type": ["string", "null"], "enum": ["likely", "unlikely", "uncertain", null]},
            "lv_capture_criteria": {"type": ["object", "null"]}, "vcg_loop": {"type": ["object", "null"]},
            "beats_used": {"type": "integer"},
            "beats_rejected": {"type": "object", "properties": {"total": {"type": "integer"}, "by_reason": {"type": "object"},
                "by_cause": {"type": "object", "description": "signal-quality rejections by what showed them: electrode_off, flat, saturated, unreadable, noise_beat, noise_level"}}},
            "flags": {"type": "object", "properties": {"noise": {"type": "boolean"}, "lead_off": {"type": "boolean"}, "suspected_fusion": {"type": "boolean"},
                "suspected_loss_of_capture": {"type": "boolean"}, "gap": {"type": "boolean"}, "short_run": {"type": "boolean"}}},
            "quality_reasons": {"type": "array", "items": sref("QualityReason")},
            "leads_excluded": {"type": "array", "items": sref("ExcludedLead"), "description": "leads left out of the global QRS of the result's beats (electrode off or flat; not one the measurement needs)"},
            "global_leads": {"type": ["integer", "null"], "description": "the fewest leads a used beat's global QRS was taken over"},
            "global_leads_text": {"type": ["string", "null"], "description": "e.g. \"V3 electrode off: global QRS over 11 leads\""}}},
        "ExcludedLead": {"type": "object", "required": ["lead", "reason", "cause", "beats"], "properties": {
            "lead": {"type": "string"}, "reason": enum_s(&["lead_off"]), "cause": enum_s(&["electrode_off", "flat"]),
            "beats": {"type": "integer", "description": "of the result's beats, in how many it was left out"}}},
        "QualityReason": {"type": "object", "required": ["reason", "cause", "beats", "leads", "text"], "properties": {
            "reason": enum_s(&["lead_off", "noise"]),
            "cause": enum_s(&["electrode_off", "flat", "saturated", "unreadable", "noise_beat", "noise_level"]),
            "beats": {"type": "integer"}, "leads": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "per lead concerned, in how many of the beats"},
            "text": {"type": "string"}}},
        "LeadQuality": {"type": "object", "properties": {"lead": {"type": "string"},
            "quality": enum_s(&["clean", "noisy", "unreadable", "saturated", "lead_off"]),
            "since_sample": {"type": "integer"}, "since_wall_ms": {"type": "number"}, "for_s": {"type": "number"}}},
        "Source": {"type": "object", "properties": {"state": enum_s(&["connecting", "streaming", "stalled", "disconnected", "ended"]),
            "fs_hz": {"type": ["number", "null"]}, "channels": {"type": "array", "items": {"type": "string"}},
            "pipeline_leads": {"type": "array", "items": {"type": "string"}}, "next_sample": {"type": "integer"},
            "lead_off": {"type": "array", "items": {"type": "string"}},
            "lead_quality": {"type": "array", "items": sref("LeadQuality"), "description": "each pipeline lead's current signal-quality label and since when"}}},
        "Recommendation": {"type": "object", "properties": {"site_id": {"type": ["integer", "null"]},
            "rule": enum_s(&["shortest_qrsd", "smallest_qrs_area"]), "baseline_qrs_area_uvs": {"type": ["number", "null"]}}},
    });
    json!({
        "openapi": "3.1.0",
        "info": {"title": "qrsd", "version": env!("CARGO_PKG_VERSION"),
            "description": "Live paced-QRS-duration measurement during CRT implantation. When a token is configured every /api route needs `Authorization: Bearer <token>`. Every error is `{\"error\": {\"code\", \"message\"}}`."},
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": Value::Object(paths),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        let routes = crate::app::route_list();
        for r in &routes {
            let item = paths
                .get(r.path)
                .unwrap_or_else(|| panic!("{} missing from the OpenAPI document", r.path));
            for m in r.methods {
                assert!(
                    item.get(m.to_lowercase()).is_some(),
                    "{m} {} missing from the OpenAPI document",
                    r.path
                );
            }
            let documented: Vec<&String> = item.as_object().unwrap().keys().collect();
            assert_eq!(
                documented.len(),
                r.methods.len(),
                "{}: documented {documented:?}, routed {:?}",
                r.path,
                r.methods
            );
        }
        for p in paths.keys() {
            assert!(
                routes.iter().any(|r| r.path == p),
                "{p} documented but not routed"
            );
        }
    }
}
