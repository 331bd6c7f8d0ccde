//! HTTP handlers. Each validates its input completely before changing anything, so an invalid
//! request gets a 4xx JSON error and leaves no trace.

use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use qrsd_synth::Rhythm;
use serde::Deserialize;
use serde_json::{json, Value};

/// Candidate LV veins.
pub const VEINS: [&str; 6] = [
    "anterior",
    "anterolateral",
    "lateral",
    "posterolateral",
    "posterior",
    "middle_cardiac",
];
/// Vein segments.
pub const SEGMENTS: [&str; 3] = ["basal", "mid", "apical"];
/// Reasons to reject a site.
pub const REJECT_REASONS: [&str; 4] =
    ["phrenic_stimulation", "high_threshold", "unstable", "other"];

fn check_len(field: &str, v: &Option<String>, max: usize) -> Result<(), ApiError> {
    if let Some(s) = v {
        if s.chars().count() > max {
            return Err(ApiError::invalid(format!(
                "{field}: at most {max} characters"
            )));
        }
        if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(ApiError::invalid(format!(
                "{field}: control characters are not allowed"
            )));
        }
    }
    Ok(())
}

/// `POST /api/v1/procedures`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProcedure {
    /// Pseudonymous case id.
    pub case_id: String,
    /// Operator (initials).
    pub operator: Option<String>,
    /// Free text.
    pub note: Option<String>,
}

impl NewProcedure {
    fn validate(&self) -> Result<(), ApiError> {
        let c = self.case_id.trim();
        if c.is_empty() || c.chars().count() > 64 {
            return Err(ApiError::invalid("case_id: 1 to 64 characters"));
        }
        if !c
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.:/#".contains(ch))
        {
            return Err(ApiError::invalid(
                "case_id: letters, digits and - _ . : / # only (a pseudonymous id, not a name)",
            ));
        }
        check_len("operator", &self.operator, 100)?;
        check_len("note", &self.note, 1000)
    }
}

/// `POST /api/v1/procedures/{id}/sites`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSite {
    /// Vein ([`VEINS`]).
    pub vein: String,
    /// Segment ([`SEGMENTS`]).
    pub segment: String,
    /// Short label (`PL mid`).
    pub label: Option<String>,
    /// LV electrode or pacing vector.
    pub electrode: Option<String>,
    /// Free text.
    pub note: Option<String>,
}

impl NewSite {
    fn validate(&self) -> Result<(), ApiError> {
        if !VEINS.contains(&self.vein.as_str()) {
            return Err(ApiError::invalid(format!(
                "vein: one of {}",
                VEINS.join(", ")
            )));
        }
        if !SEGMENTS.contains(&self.segment.as_str()) {
            return Err(ApiError::invalid(format!(
                "segment: one of {}",
                SEGMENTS.join(", ")
            )));
        }
        check_len("label", &self.label, 100)?;
        check_len("electrode", &self.electrode, 100)?;
        check_len("note", &self.note, 1000)
    }
}

/// Optional body of the measurement-start routes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartMeasurement {
    /// Clean beats to collect (default from the config).
    pub beats: Option<usize>,
    /// Give up after this much signal, s.
    pub timeout_s: Option<f64>,
}

impl StartMeasurement {
    fn validate(&self) -> Result<(), ApiError> {
        if let Some(b) = self.beats {
            if !(1..=200).contains(&b) {
                return Err(ApiError::invalid("beats: 1..=200"));
            }
        }
        if let Some(t) = self.timeout_s {
            if !(1.0..=600.0).contains(&t) {
                return Err(ApiError::invalid("timeout_s: 1..=600"));
            }
        }
        Ok(())
    }
}

/// `POST .../reject`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reject {
    /// [`REJECT_REASONS`].
    pub reason: String,
    /// Free text.
    pub note: Option<String>,
}

/// `POST .../accept`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accept {
    /// Free text.
    pub note: Option<String>,
}

/// `POST .../close`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Close {
    /// The site the lead stays at (default: the accepted site, else the recommended one).
    pub chosen_site_id: Option<i64>,
    /// Free text.
    pub note: Option<String>,
}

/// An optional JSON body: absent/empty is the default, anything else must parse.
async fn optional_body<T: serde::de::DeserializeOwned + Default>(
    req: axum::extract::Request,
) -> Result<T, ApiError> {
    let has_body = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > 0)
        || req
            .headers()
            .contains_key(axum::http::header::TRANSFER_ENCODING);
    if !has_body {
        return Ok(T::default());
    }
    let ApiJson(v) = <ApiJson<T> as axum::extract::FromRequest<()>>::from_request(req, &()).await?;
    Ok(v)
}

fn created(v: Value) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

fn accepted(v: Value) -> Response {
    (StatusCode::ACCEPTED, Json(v)).into_response()
}

/// `GET /api/v1/procedures`.
pub async fn list_procedures(State(st): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(st.workflow().list_procedures().await?).into_response())
}

/// `POST /api/v1/procedures`.
pub async fn create_procedure(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<NewProcedure>,
) -> Result<Response, ApiError> {
    req.validate()?;
    let id = st.workflow().create_procedure(req).await?;
    Ok(created(json!({"id": id})))
}

/// `GET /api/v1/procedures/{id}`.
pub async fn get_procedure(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    Ok(Json(st.workflow().procedure(id).await?).into_response())
}

/// `POST /api/v1/procedures/{id}/baseline`.
pub async fn start_baseline(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: StartMeasurement = optional_body(req).await?;
    body.validate()?;
    let mid = st.workflow().start_measurement(id, None, body).await?;
    Ok(accepted(json!({"id": mid})))
}

/// `POST /api/v1/procedures/{id}/sites`.
pub async fn add_site(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<NewSite>,
) -> Result<Response, ApiError> {
    req.validate()?;
    let sid = st.workflow().add_site(id, req).await?;
    Ok(created(json!({"id": sid})))
}

/// `POST /api/v1/procedures/{id}/sites/{site}/measurements`.
pub async fn start_site_measurement(
    State(st): State<AppState>,
    ApiPath((id, site)): ApiPath<(i64, i64)>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: StartMeasurement = optional_body(req).await?;
    body.validate()?;
    let mid = st
        .workflow()
        .start_measurement(id, Some(site), body)
        .await?;
    Ok(accepted(json!({"id": mid})))
}

/// `POST /api/v1/procedures/{id}/sites/{site}/accept`.
pub async fn accept_site(
    State(st): State<AppState>,
    ApiPath((id, site)): ApiPath<(i64, i64)>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: Accept = optional_body(req).await?;
    check_len("note", &body.note, 1000)?;
    Ok(Json(st.workflow().accept_site(id, site, body.note).await?).into_response())
}

/// `POST /api/v1/procedures/{id}/sites/{site}/reject`.
pub async fn reject_site(
    State(st): State<AppState>,
    ApiPath((id, site)): ApiPath<(i64, i64)>,
    ApiJson(req): ApiJson<Reject>,
) -> Result<Response, ApiError> {
    if !REJECT_REASONS.contains(&req.reason.as_str()) {
        return Err(ApiError::invalid(format!(
            "reason: one of {}",
            REJECT_REASONS.join(", ")
        )));
    }
    check_len("note", &req.note, 1000)?;
    Ok(Json(st.workflow().reject_site(id, site, req).await?).into_response())
}

/// `GET /api/v1/procedures/{id}/recommendation`.
pub async fn recommendation(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    Ok(Json(st.workflow().recommendation(id).await?).into_response())
}

/// The JSON report with the live source's description: what both report routes render.
async fn report_with_source(st: &AppState, id: i64) -> Result<serde_json::Value, ApiError> {
    let mut r = st.workflow().report(id).await?;
    if let Some(m) = r.as_object_mut() {
        m.insert("source".into(), st.source_json());
    }
    Ok(r)
}

/// `GET /api/v1/procedures/{id}/report`.
pub async fn report(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    Ok(Json(report_with_source(&st, id).await?).into_response())
}

/// `POST /api/v1/procedures/{id}/close`.
pub async fn close_procedure(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let body: Close = optional_body(req).await?;
    check_len("note", &body.note, 1000)?;
    Ok(Json(st.workflow().close(id, body).await?).into_response())
}

/// `GET /api/v1/measurements/{id}`.
pub async fn get_measurement(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    Ok(Json(st.workflow().measurement(id).await?).into_response())
}

/// `POST /api/v1/measurements/{id}/stop`.
pub async fn stop_measurement(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    Ok(Json(st.workflow().stop(id).await?).into_response())
}

/// `GET /api/v1/procedures/{id}/report.html`: the printable report.
pub async fn report_html(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let html = crate::report_html::render(&report_with_source(&st, id).await?);
    Ok((
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response())
}

/// `GET /api/v1/source`.
pub async fn get_source(State(st): State<AppState>) -> Response {
    Json(st.source_json()).into_response()
}

fn not_sim(st: &AppState) -> ApiError {
    ApiError::conflict(
        "not_simulator",
        format!("the source is {}, not the simulator", st.cfg().source.spec),
    )
}

fn sim_json(sim: &qrsd_acquire::SimControl) -> Value {
    let c = sim.config();
    let off = sim.lead_off();
    let lead_off: Vec<&str> = qrsd_synth::LEAD_NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| off & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect();
    let mut config = json!(c);
    // Per-channel noise by channel name, as PUT takes it (the generator keeps an array).
    if let Some(n) = config.get_mut("noise").and_then(Value::as_object_mut) {
        let by_name: serde_json::Map<String, Value> = qrsd_synth::LEAD_NAMES
            .iter()
            .zip(c.noise.emg_lead_uv_rms)
            .map(|(n, v)| (n.to_string(), json!(v)))
            .collect();
        n.insert("emg_lead_uv_rms".into(), Value::Object(by_name));
    }
    json!({
        "config": config,
        "lead_off": lead_off,
        "position": sim.position(),
        "fs_hz": sim.fs_hz(),
    })
}

/// `GET /api/v1/source/sim`.
pub async fn get_sim(State(st): State<AppState>) -> Result<Response, ApiError> {
    let sim = st.sim().ok_or_else(|| not_sim(&st))?;
    Ok(Json(sim_json(sim)).into_response())
}

/// Noise settings of [`SimUpdate`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimNoise {
    /// EMG RMS, µV.
    pub emg_uv_rms: Option<f64>,
    /// Baseline wander, µV.
    pub baseline_wander_uv: Option<f64>,
    /// Mains amplitude, µV.
    pub mains_uv: Option<f64>,
    /// Mains frequency, Hz.
    pub mains_hz: Option<f64>,
    /// Extra muscle noise per acquired channel, µV RMS, by channel name (`{"V1": 300}`: V1 noisy,
    /// the others as they were; 0 takes it away).
    pub emg_lead_uv_rms: Option<std::collections::BTreeMap<String, f64>>,
}

/// `PUT /api/v1/source/sim`: every field optional; only the given ones change.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimUpdate {
    /// `intrinsic` or `biv`.
    pub rhythm: Option<Rhythm>,
    /// QRSd of the rhythm's beats, ms.
    pub qrsd_ms: Option<f64>,
    /// Conducted QRSd while pacing (fusion partner), ms.
    pub intrinsic_qrsd_ms: Option<f64>,
    /// Rate, bpm.
    pub rate_bpm: Option<f64>,
    /// RR jitter SD, ms.
    pub hrv_ms: Option<f64>,
    /// LBBB morphology for intrinsic beats.
    pub lbbb: Option<bool>,
    /// QRS edges as gradual as real ones (LUDB edge profile) instead of sharp ones.
    pub realistic_edges: Option<bool>,
    /// Probability of fusion.
    pub fusion_probability: Option<f64>,
    /// Probability of loss of LV capture.
    pub loss_of_capture_probability: Option<f64>,
    /// Probability of ectopic beats.
    pub ectopic_probability: Option<f64>,
    /// V-V offset, ms.
    pub vv_offset_ms: Option<f64>,
    /// Noise.
    pub noise: Option<SimNoise>,
    /// Acquired channels flagged off.
    pub lead_off: Option<Vec<String>>,
    /// Speed, × real time.
    pub speed: Option<f64>,
}

/// `PUT /api/v1/source/sim`.
pub async fn put_sim(
    State(st): State<AppState>,
    ApiJson(u): ApiJson<SimUpdate>,
) -> Result<Response, ApiError> {
    let sim = st.sim().ok_or_else(|| not_sim(&st))?;
    // Validate everything first.
    let channel = |field: &str, n: &str| {
        qrsd_synth::LEAD_NAMES
            .iter()
            .position(|x| x.eq_ignore_ascii_case(n))
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "{field}: unknown channel {n:?} (one of {})",
                    qrsd_synth::LEAD_NAMES.join(", ")
                ))
            })
    };
    let mut off_bits: Option<u8> = None;
    if let Some(names) = &u.lead_off {
        let mut bits = 0u8;
        for n in names {
            bits |= 1 << channel("lead_off", n)?;
        }
        off_bits = Some(bits);
    }
    if let Some(s) = u.speed {
        if !(s.is_finite() && s > 0.0 && s <= 100.0) {
            return Err(ApiError::invalid("speed: > 0 and ≤ 100"));
        }
    }
    let mut cfg = sim.config();
    if let Some(v) = u.rhythm {
        cfg.rhythm = v;
    }
    let set = |slot: &mut f64, v: Option<f64>| {
        if let Some(v) = v {
            *slot = v;
        }
    };
    set(&mut cfg.qrsd_ms, u.qrsd_ms);
    set(&mut cfg.intrinsic_qrsd_ms, u.intrinsic_qrsd_ms);
    set(&mut cfg.rate_bpm, u.rate_bpm);
    set(&mut cfg.hrv_ms, u.hrv_ms);
    set(&mut cfg.fusion_probability, u.fusion_probability);
    set(
        &mut cfg.loss_of_capture_probability,
        u.loss_of_capture_probability,
    );
    set(&mut cfg.ectopic_probability, u.ectopic_probability);
    set(&mut cfg.pace.vv_offset_ms, u.vv_offset_ms);
    if let Some(v) = u.lbbb {
        cfg.lbbb = v;
    }
    if let Some(v) = u.realistic_edges {
        cfg.realistic_edges = v;
    }
    if let Some(n) = &u.noise {
        set(&mut cfg.noise.emg_uv_rms, n.emg_uv_rms);
        set(&mut cfg.noise.baseline_wander_uv, n.baseline_wander_uv);
        set(&mut cfg.noise.mains_uv, n.mains_uv);
        set(&mut cfg.noise.mains_hz, n.mains_hz);
        for (name, v) in n.emg_lead_uv_rms.iter().flatten() {
            cfg.noise.emg_lead_uv_rms[channel("noise.emg_lead_uv_rms", name)?] = *v;
        }
    }
    cfg.validate()
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    // Apply (each step validated above, so these do not fail half-way).
    sim.set_config(cfg)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    if let Some(bits) = off_bits {
        for l in 0..qrsd_synth::LEAD_NAMES.len() {
            sim.set_lead_off(l, bits & (1 << l) != 0)
                .map_err(|e| ApiError::invalid(e.to_string()))?;
        }
    }
    if let Some(s) = u.speed {
        let sp = if s == 1.0 {
            qrsd_acquire::Speed::RealTime
        } else {
            qrsd_acquire::Speed::Factor(s)
        };
        sim.set_speed(sp)
            .map_err(|e| ApiError::invalid(e.to_string()))?;
    }
    st.workflow().audit_sim(&u);
    Ok(Json(sim_json(sim)).into_response())
}

/// `GET /api/v1/sim/truth` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruthQuery {
    /// Only beats with `index > since`.
    pub since: Option<u64>,
}

/// `GET /api/v1/sim/truth?since=N`.
pub async fn sim_truth(
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<TruthQuery>,
) -> Result<Response, ApiError> {
    let sim = st.sim().ok_or_else(|| not_sim(&st))?;
    let beats = sim.truth_after(q.since);
    Ok(Json(json!({
        "fs_hz": sim.fs_hz(),
        "position": sim.position(),
        "dropped": sim.truth_dropped(),
        "beats": beats,
    }))
    .into_response())
}
