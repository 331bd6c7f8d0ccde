//! The procedure workflow: HTTP requests → store and live thread; beats → measurement → store → events.
//!
//! - **One measurement at a time.** The active slot ([`Workflow::active_id`]) is taken, under its lock,
//!   in the same step that creates the `collecting` row; a second start gets 409.
//! - **Live side.** [`MeasureSink`] runs on the live thread: it feeds each beat (with its noise,
//!   lead-off and waveform) to the [`Measurement`] state machine, publishes `measurement` progress,
//!   and hands per-beat records and the final result to the store thread through a bounded queue
//!   (never waiting on SQLite).
//! - **Commit before report.** The store thread commits a finished measurement, *then* clears the
//!   active slot and publishes the final `measurement` message; until then `GET` says `collecting`.
//! - **Restart.** [`Workflow::open`] marks every measurement left `collecting` by a killed process as
//!   interrupted (`incomplete`, `interrupted: true`), keeping the beats saved so far.

use crate::api::{Close, NewProcedure, NewSite, Reject, SimUpdate, StartMeasurement};
use crate::config::Config;
use crate::error::ApiError;
use crate::live::{LiveBeat, LiveSink, SourceSnapshot};
use crate::metrics::Metrics;
use crate::recording::RecordingHandle;
use crate::server::StartError;
use crate::Hub;
use qrsd_measure::{
    BeatInput, Measurement, MeasurementConfig, MeasurementKind, MeasurementResult, Progress,
    RejectionReason, Segment, SiteSpec, Status, Vein,
};
use qrsd_pipeline::PipelineConfig;
use qrsd_store::{MeasurementRow, Store, StoreError};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The measurement that is collecting now.
#[derive(Debug, Clone)]
struct Active {
    id: i64,
    procedure_id: i64,
    site_id: Option<i64>,
    kind: MeasurementKind,
    beats_required: usize,
    started: Instant,
    /// Latest partial result from the live thread.
    partial: Option<Value>,
}

enum Cmd {
    Start {
        id: i64,
        cfg: MeasurementConfig,
        start_sample: u64,
    },
    Stop {
        id: i64,
    },
}

enum Job {
    SaveBeats {
        id: i64,
        result: Box<MeasurementResult>,
    },
    Finish {
        id: i64,
        result: Box<MeasurementResult>,
    },
    Shutdown,
}

/// Shared workflow state (owned by the app state).
pub struct Workflow {
    store: Arc<Mutex<Store>>,
    active: Arc<Mutex<Option<Active>>>,
    cmd: SyncSender<Cmd>,
    jobs: SyncSender<Job>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    snapshot: Arc<Mutex<SourceSnapshot>>,
    hub: Hub,
    cfg: Config,
    pipeline: PipelineConfig,
    recording: RecordingHandle,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn store_err(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { what, id } => ApiError::not_found(format!("{what} {id} not found")),
        StoreError::Conflict(m) => ApiError::conflict("conflict", m),
        StoreError::Invalid(m) => ApiError::invalid(m),
        e => ApiError::internal(e),
    }
}

/// Run blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// JSON of a stored measurement: the result (per-lead, per-beat, median beat) plus its row.
pub fn measurement_json(m: &MeasurementRow) -> Value {
    let mut v = m
        .result
        .as_ref()
        .and_then(|r| serde_json::to_value(r).ok())
        .unwrap_or_else(|| json!({}));
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), json!(m.id));
        o.insert("procedure_id".into(), json!(m.procedure_id));
        o.insert("site_id".into(), json!(m.site_id));
        o.insert("kind".into(), json!(m.kind));
        o.insert("status".into(), json!(m.status));
        o.insert("interrupted".into(), json!(m.interrupted));
        o.insert("started_at".into(), json!(m.started_at));
        o.insert("finished_at".into(), json!(m.finished_at));
        o.insert("start_sample".into(), json!(m.start_sample));
        o.insert("beats_required".into(), json!(m.beats_required));
        if m.result.is_none() {
            o.insert("reason".into(), json!(m.reason));
            o.insert("qrsd_ms".into(), json!(m.qrsd_ms));
            o.insert("beats_used".into(), json!(m.beats_used.unwrap_or(0)));
        }
    }
    v
}

/// The median QRS area of the latest complete baseline, µV·s.
fn baseline_area(baselines: &[MeasurementRow]) -> Option<f64> {
    baselines
        .iter()
        .rev()
        .find(|m| m.status == Status::Complete)
        .and_then(|m| m.result.as_ref())
        .and_then(|r| r.qrs_area_uvs)
}

/// A site measurement's JSON with `delta_qrs_area_uvs` / `delta_qrs_area_pct` against the
/// baseline's QRS area (at read time: a re-measured baseline moves them).
fn with_area_delta(mut v: Value, base_area: Option<f64>) -> Value {
    if v["kind"] != "site" {
        return v;
    }
    let (d, pct) = qrsd_measure::area_delta(v["qrs_area_uvs"].as_f64(), base_area);
    if let Some(o) = v.as_object_mut() {
        o.insert("delta_qrs_area_uvs".into(), json!(d));
        o.insert("delta_qrs_area_pct".into(), json!(pct));
    }
    v
}

fn site_json(s: &qrsd_store::SiteView, base_area: Option<f64>) -> Value {
    let mj = |m: &MeasurementRow| with_area_delta(measurement_json(m), base_area);
    let ms: Vec<Value> = s.measurements.iter().map(mj).collect();
    let latest_complete = s
        .measurements
        .iter()
        .rev()
        .find(|m| m.status == Status::Complete)
        .map(mj);
    let rejected = matches!(s.decision, Some(qrsd_measure::SiteDecision::Reject { .. }));
    json!({
        "id": s.site.id,
        "site_id": s.site.id,
        "procedure_id": s.site.procedure_id,
        "vein": s.site.vein,
        "segment": s.site.segment,
        "label": s.site.label,
        "electrode": s.site.electrode,
        "note": s.site.note,
        "created_at": s.site.created_at,
        "decision": s.decision,
        "rejected": rejected,
        "decisions": s.decisions,
        "measurement": latest_complete,
        "measurements": ms,
    })
}

fn view_json(v: &qrsd_store::ProcedureView, active: Option<i64>) -> Value {
    let base_area = baseline_area(&v.baselines);
    let baselines: Vec<Value> = v.baselines.iter().map(measurement_json).collect();
    let baseline = v
        .baselines
        .iter()
        .rev()
        .find(|m| m.status == Status::Complete)
        .map(measurement_json);
    let p = &v.procedure;
    json!({
        "id": p.id,
        "case_id": p.case_id,
        "status": p.status,
        "source": p.source,
        "filter_settings": p.filter_settings,
        "software_version": p.software_version,
        "created_at": p.created_at,
        "closed_at": p.closed_at,
        "chosen_site_id": p.chosen_site_id,
        "close_note": p.close_note,
        "baseline": baseline,
        "baselines": baselines,
        "sites": v.sites.iter().map(|s| site_json(s, base_area)).collect::<Vec<_>>(),
        "active_measurement_id": active,
    })
}

impl Workflow {
    /// Open the store (migrations, interrupted measurements) and build the live-thread sink.
    pub fn open(
        cfg: &Config,
        pipeline: &PipelineConfig,
        hub: Hub,
        metrics: Arc<Metrics>,
        snapshot: Arc<Mutex<SourceSnapshot>>,
        recording: RecordingHandle,
    ) -> Result<(Self, Box<dyn LiveSink>), StartError> {
        let path = cfg.storage.data_dir.join("qrsd.sqlite3");
        let mut store = Store::open(&path).map_err(|e| StartError::Store(e.to_string()))?;
        let ids = store
            .mark_interrupted()
            .map_err(|e| StartError::Store(e.to_string()))?;
        if !ids.is_empty() {
            tracing::warn!(
                ?ids,
                "measurements left collecting by the previous run marked interrupted"
            );
        }
        tracing::info!(db = %path.display(), "store open");
        let store = Arc::new(Mutex::new(store));
        let active: Arc<Mutex<Option<Active>>> = Arc::new(Mutex::new(None));
        let (cmd_tx, cmd_rx) = mpsc::sync_channel(16);
        let (job_tx, job_rx) = mpsc::sync_channel(256);
        let writer = {
            let store = Arc::clone(&store);
            let active = Arc::clone(&active);
            let hub = hub.clone();
            let metrics = Arc::clone(&metrics);
            std::thread::Builder::new()
                .name("qrsd-store".into())
                .spawn(move || writer_loop(job_rx, store, active, hub, metrics))?
        };
        let sink = MeasureSink {
            cmd: cmd_rx,
            jobs: job_tx.clone(),
            current: None,
            active: Arc::clone(&active),
            hub: hub.clone(),
            metrics,
            next_sample: 0,
            fs_hz: None,
            channels: Vec::new(),
        };
        Ok((
            Workflow {
                store,
                active,
                cmd: cmd_tx,
                jobs: job_tx,
                writer: Mutex::new(Some(writer)),
                snapshot,
                hub,
                cfg: cfg.clone(),
                pipeline: pipeline.clone(),
                recording,
            },
            Box::new(sink),
        ))
    }

    /// The measurement collecting now.
    pub fn active_id(&self) -> Option<i64> {
        lock(&self.active).as_ref().map(|a| a.id)
    }

    /// Flush the store queue and close the recording.
    pub async fn shutdown(&self) {
        let _ = self.jobs.try_send(Job::Shutdown);
        let w = lock(&self.writer).take();
        if let Some(w) = w {
            let _ = tokio::task::spawn_blocking(move || w.join()).await;
        }
        let rec = self.recording.clone();
        let _ = tokio::task::spawn_blocking(move || rec.finish()).await;
    }

    /// Record a simulator change in the audit trail (the open procedures' context).
    pub fn audit_sim(&self, u: &SimUpdate) {
        let store = Arc::clone(&self.store);
        let details = json!({
            "rhythm": u.rhythm, "qrsd_ms": u.qrsd_ms, "rate_bpm": u.rate_bpm,
            "fusion_probability": u.fusion_probability,
            "loss_of_capture_probability": u.loss_of_capture_probability,
            "lead_off": u.lead_off, "speed": u.speed,
        });
        tokio::task::spawn_blocking(move || {
            let _ = lock(&store).log(None, "sim_changed", details);
        });
    }

    fn filter_settings(&self) -> Value {
        json!({
            "filter": self.pipeline.filter,
            "pace": self.pipeline.pace,
            "detector": self.pipeline.detector,
            "delineation": self.pipeline.delineation,
            "live": {
                "derived_leads": "III, aVR, aVL, aVF derived from I and II when 8 channels are acquired",
                "gap_fill_max_s": crate::live::MAX_FILL_S,
            },
        })
    }

    /// `GET /api/v1/procedures`.
    pub async fn list_procedures(&self) -> Result<Value, ApiError> {
        let store = Arc::clone(&self.store);
        blocking(move || {
            let ps = lock(&store).list_procedures().map_err(store_err)?;
            Ok(json!({"procedures": ps}))
        })
        .await
    }

    /// `POST /api/v1/procedures`.
    pub async fn create_procedure(&self, r: NewProcedure) -> Result<i64, ApiError> {
        let store = Arc::clone(&self.store);
        let snap = lock(&self.snapshot).clone();
        let source = match snap.fs_hz {
            Some(fs) => format!("{} @ {fs} Hz", self.cfg.source.spec),
            None => self.cfg.source.spec.to_string(),
        };
        let np = qrsd_store::NewProcedure {
            case_id: r.case_id.trim().to_string(),
            source,
            filter_settings: self.filter_settings(),
            software_version: self.cfg.build.to_string(),
        };
        blocking(move || {
            let mut s = lock(&store);
            let p = s.create_procedure(&np).map_err(store_err)?;
            if r.operator.is_some() || r.note.is_some() {
                let _ = s.log(
                    Some(p.id),
                    "procedure_note",
                    json!({"operator": r.operator, "note": r.note}),
                );
            }
            Ok(p.id)
        })
        .await
    }

    /// `GET /api/v1/procedures/{id}`.
    pub async fn procedure(&self, id: i64) -> Result<Value, ApiError> {
        let store = Arc::clone(&self.store);
        let active = self.active_id();
        blocking(move || {
            let v = lock(&store).procedure_view(id).map_err(store_err)?;
            Ok(view_json(&v, active))
        })
        .await
    }

    /// Start a baseline (`site = None`) or site measurement.
    pub async fn start_measurement(
        &self,
        procedure_id: i64,
        site: Option<i64>,
        b: StartMeasurement,
    ) -> Result<i64, ApiError> {
        let snap = lock(&self.snapshot).clone();
        if snap.ended || snap.fs_hz.is_none() {
            return Err(ApiError::conflict(
                "source_not_streaming",
                "the source is not streaming; nothing to measure",
            ));
        }
        let mc = &self.cfg.measurement;
        let beats = b.beats.unwrap_or(mc.beats);
        let mut cfg = if site.is_some() {
            MeasurementConfig::site()
        } else {
            MeasurementConfig::baseline()
        };
        cfg.beats_required = beats;
        cfg.beats_min = mc.min_beats.min(beats);
        cfg.timeout_s = b.timeout_s.unwrap_or(mc.timeout_s);
        cfg.validate()
            .map_err(|e| ApiError::invalid(e.to_string()))?;
        let start_sample = snap.next_sample;
        let store = Arc::clone(&self.store);
        let active = Arc::clone(&self.active);
        let cmd = self.cmd.clone();
        let hub = self.hub.clone();
        blocking(move || {
            let mut slot = lock(&active);
            if let Some(a) = slot.as_ref() {
                return Err(ApiError::conflict(
                    "measurement_in_progress",
                    format!("measurement {} is collecting; stop it or wait", a.id),
                ));
            }
            let mut s = lock(&store);
            if let Some(sid) = site {
                let st = s.site(sid).map_err(store_err)?;
                if st.procedure_id != procedure_id {
                    return Err(ApiError::not_found(format!(
                        "site {sid} not found in procedure {procedure_id}"
                    )));
                }
            }
            let row = s
                .start_measurement(procedure_id, site, &cfg, start_sample)
                .map_err(store_err)?;
            let kind = cfg.kind;
            if cmd
                .try_send(Cmd::Start {
                    id: row.id,
                    cfg,
                    start_sample,
                })
                .is_err()
            {
                // The live thread is gone or flooded: do not leave a row collecting forever.
                let r = MeasurementResult::ended_without_result(
                    row.config.clone(),
                    Vec::new(),
                    start_sample,
                    qrsd_measure::EndReason::Aborted,
                    "the live thread did not take the measurement",
                );
                let mut r = r;
                r.status = Status::Failed;
                let _ = s.finish_measurement(row.id, &r);
                return Err(ApiError::unavailable(
                    "live_unavailable",
                    "the live pipeline is not running",
                ));
            }
            *slot = Some(Active {
                id: row.id,
                procedure_id,
                site_id: site,
                kind,
                beats_required: row.beats_required,
                started: Instant::now(),
                partial: None,
            });
            hub.publish(json!({
                "type": "measurement", "event": "started", "id": row.id,
                "procedure_id": procedure_id, "site_id": site, "kind": kind,
                "status": "collecting", "beats_collected": 0,
                "beats_required": row.beats_required,
            }));
            Ok(row.id)
        })
        .await
    }

    /// `POST /api/v1/procedures/{id}/sites`.
    pub async fn add_site(&self, procedure_id: i64, s: NewSite) -> Result<i64, ApiError> {
        let vein: Vein = s
            .vein
            .parse()
            .map_err(|e: qrsd_measure::UnknownValue| ApiError::invalid(e.to_string()))?;
        let segment: Segment = s
            .segment
            .parse()
            .map_err(|e: qrsd_measure::UnknownValue| ApiError::invalid(format!("segment: {e}")))?;
        let spec = SiteSpec {
            vein,
            segment,
            label: s.label.unwrap_or_default(),
            note: s.note,
            electrode: s.electrode,
        };
        let store = Arc::clone(&self.store);
        blocking(move || {
            let site = lock(&store)
                .add_site(procedure_id, &spec)
                .map_err(store_err)?;
            Ok(site.id)
        })
        .await
    }

    fn check_site(s: &Store, procedure_id: i64, site: i64) -> Result<(), ApiError> {
        s.procedure(procedure_id).map_err(store_err)?;
        let st = s.site(site).map_err(store_err)?;
        if st.procedure_id != procedure_id {
            return Err(ApiError::not_found(format!(
                "site {site} not found in procedure {procedure_id}"
            )));
        }
        Ok(())
    }

    async fn site_after(&self, procedure_id: i64, site: i64) -> Result<Value, ApiError> {
        let v = self.procedure(procedure_id).await?;
        v["sites"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["id"] == json!(site)).cloned())
            .ok_or_else(|| ApiError::not_found(format!("site {site}")))
    }

    /// `POST .../accept`.
    pub async fn accept_site(
        &self,
        procedure_id: i64,
        site: i64,
        note: Option<String>,
    ) -> Result<Value, ApiError> {
        let store = Arc::clone(&self.store);
        blocking(move || {
            let mut s = lock(&store);
            Self::check_site(&s, procedure_id, site)?;
            s.accept_site(site, note.as_deref()).map_err(store_err)?;
            Ok(())
        })
        .await?;
        self.site_after(procedure_id, site).await
    }

    /// `POST .../reject`.
    pub async fn reject_site(
        &self,
        procedure_id: i64,
        site: i64,
        r: Reject,
    ) -> Result<Value, ApiError> {
        let reason: RejectionReason = r
            .reason
            .parse()
            .map_err(|e: qrsd_measure::UnknownValue| ApiError::invalid(e.to_string()))?;
        let store = Arc::clone(&self.store);
        blocking(move || {
            let mut s = lock(&store);
            Self::check_site(&s, procedure_id, site)?;
            s.reject_site(site, reason, r.note.as_deref())
                .map_err(store_err)?;
            Ok(())
        })
        .await?;
        self.site_after(procedure_id, site).await
    }

    /// `GET .../recommendation`.
    pub async fn recommendation(&self, procedure_id: i64) -> Result<Value, ApiError> {
        let store = Arc::clone(&self.store);
        let rc = self.cfg.recommendation.config();
        blocking(move || {
            let r = lock(&store)
                .recommendation_with(procedure_id, &rc)
                .map_err(store_err)?;
            serde_json::to_value(r).map_err(ApiError::internal)
        })
        .await
    }

    /// `GET .../report`: everything needed to reproduce the decision.
    pub async fn report(&self, procedure_id: i64) -> Result<Value, ApiError> {
        let store = Arc::clone(&self.store);
        let active = self.active_id();
        let recording = self.recording.status().map(|s| {
            json!({"format": "WFDB (format 24, 10000 adu/mV, annotations .atr)",
                   "hea_path": s.hea_path, "frames": s.frames,
                   "dropped_events": s.dropped_events, "error": s.error})
        });
        let cfg = self.cfg.clone();
        let live_filters = self.filter_settings();
        blocking(move || {
            let s = lock(&store);
            let view = s.procedure_view(procedure_id).map_err(store_err)?;
            let rec = view.recommendation_with(&cfg.recommendation.config());
            let audit = s.audit(Some(procedure_id)).map_err(store_err)?;
            let mut v = view_json(&view, active);
            let rec_rule = rec.rule.describe();
            let proc_ = v.clone();
            Ok(json!({
                "report_version": 1,
                "generated_at": qrsd_store::now_rfc3339(),
                "software": {"name": "qrsd", "version": cfg.build.version,
                    "commit": cfg.build.commit, "schema_version": qrsd_store::SCHEMA_VERSION},
                "procedure": proc_,
                "chosen_site_id": view.procedure.chosen_site_id,
                "baseline": v["baseline"].take(),
                "baselines": v["baselines"].take(),
                "sites": v["sites"].take(),
                "recommendation": rec,
                "filter_settings": view.procedure.filter_settings,
                "filter_settings_now": live_filters,
                "measurement_defaults": cfg.measurement,
                "recording": recording,
                "audit": audit,
                "definitions": {
                    "qrsd_ms": "global QRS duration, earliest onset to latest offset over the 12 leads, median over the run's beats",
                    "stim_to_end_ms": "first pacing stimulus to global QRS end, median",
                    "qrs_area_uvs": "QRS area: vectorcardiogram X, Y, Z from I, II, V1-V6 (Kors matrix), each relative to its level at the global QRS onset, integrated from global onset to offset, sqrt(Ax^2 + Ay^2 + Az^2), µV·s; median over the run's beats",
                    "delta_qrs_area_uvs": "site QRS area minus the latest complete baseline's, µV·s (negative = reduction); delta_qrs_area_pct as % of the baseline's",
                    "qrs_area_literature": "baseline QRS area >= 102 µV·s and a reduction >= 45-62 µV·s went with better CRT outcomes (Okafor 2019, Ghossein 2021): population findings, not a rule for one patient",
                    "lv_capture": "LV capture on the site's median paced beat by the Ammann criteria (R/S >= 1 in V1, or R/S < 1 in V1 with R/S <= 1 in I: LV capture), Q/q/QS in I as supporting sign (Cao 2015): likely / unlikely / uncertain",
                    "recommendation_rule": rec_rule,
                    "sample_numbers": "session samples at the source rate, as in the recording",
                },
            }))
        })
        .await
    }

    /// `POST .../close`.
    pub async fn close(&self, procedure_id: i64, c: Close) -> Result<Value, ApiError> {
        if let Some(a) = lock(&self.active).as_ref() {
            if a.procedure_id == procedure_id {
                return Err(ApiError::conflict(
                    "measurement_in_progress",
                    format!("measurement {} is collecting; stop it first", a.id),
                ));
            }
        }
        let store = Arc::clone(&self.store);
        let rc = self.cfg.recommendation.config();
        blocking(move || {
            let mut s = lock(&store);
            let view = s.procedure_view(procedure_id).map_err(store_err)?;
            let chosen = match c.chosen_site_id {
                Some(id) => {
                    if !view.sites.iter().any(|x| x.site.id == id) {
                        return Err(ApiError::invalid(format!(
                            "chosen_site_id {id} is not a site of procedure {procedure_id}"
                        )));
                    }
                    Some(id)
                }
                None => view
                    .sites
                    .iter()
                    .rev()
                    .find(|x| matches!(x.decision, Some(qrsd_measure::SiteDecision::Accept { .. })))
                    .map(|x| x.site.id)
                    .or(view.recommendation_with(&rc).site_id),
            };
            s.close_procedure(procedure_id, chosen, c.note.as_deref())
                .map_err(store_err)?;
            let v = s.procedure_view(procedure_id).map_err(store_err)?;
            Ok(view_json(&v, None))
        })
        .await
    }

    /// `GET /api/v1/measurements/{id}`.
    pub async fn measurement(&self, id: i64) -> Result<Value, ApiError> {
        if let Some(a) = lock(&self.active).as_ref().filter(|a| a.id == id) {
            let mut v = a.partial.clone().unwrap_or_else(|| json!({}));
            if let Some(o) = v.as_object_mut() {
                o.insert("id".into(), json!(a.id));
                o.insert("procedure_id".into(), json!(a.procedure_id));
                o.insert("site_id".into(), json!(a.site_id));
                o.insert("kind".into(), json!(a.kind));
                o.insert("status".into(), json!("collecting"));
                o.insert("interrupted".into(), json!(false));
                o.insert("beats_required".into(), json!(a.beats_required));
                o.entry("beats_used").or_insert(json!(0));
                o.insert("elapsed_s".into(), json!(a.started.elapsed().as_secs_f64()));
                o.insert("qrsd_ms".into(), Value::Null);
            }
            return Ok(v);
        }
        let store = Arc::clone(&self.store);
        blocking(move || {
            let s = lock(&store);
            let m = s.measurement(id).map_err(store_err)?;
            let base_area = match m.kind {
                MeasurementKind::Site => s
                    .procedure_view(m.procedure_id)
                    .ok()
                    .and_then(|v| baseline_area(&v.baselines)),
                MeasurementKind::Baseline => None,
            };
            Ok(with_area_delta(measurement_json(&m), base_area))
        })
        .await
    }

    /// `POST /api/v1/measurements/{id}/stop`: end now (complete if enough clean beats, else
    /// incomplete). Returns once the result is committed.
    pub async fn stop(&self, id: i64) -> Result<Value, ApiError> {
        let collecting = lock(&self.active).as_ref().is_some_and(|a| a.id == id);
        if !collecting {
            // Unknown id → 404; finished → 409.
            let m = self.measurement(id).await?;
            return Err(ApiError::conflict(
                "not_collecting",
                format!(
                    "measurement {id} is {}",
                    m["status"].as_str().unwrap_or("?")
                ),
            ));
        }
        self.cmd
            .try_send(Cmd::Stop { id })
            .map_err(|_| ApiError::unavailable("live_unavailable", "live pipeline busy"))?;
        let t = Instant::now();
        while self.active_id() == Some(id) && t.elapsed().as_secs() < 10 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.measurement(id).await
    }
}

fn writer_loop(
    rx: Receiver<Job>,
    store: Arc<Mutex<Store>>,
    active: Arc<Mutex<Option<Active>>>,
    hub: Hub,
    metrics: Arc<Metrics>,
) {
    while let Ok(job) = rx.recv() {
        match job {
            Job::Shutdown => break,
            Job::SaveBeats { id, result } => {
                if let Err(e) = lock(&store).save_beats(id, &result.beats) {
                    metrics.store_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, id, "saving beats failed");
                }
            }
            Job::Finish { id, result } => {
                let r = lock(&store).finish_measurement(id, &result);
                let (procedure_id, site_id) = lock(&active)
                    .as_ref()
                    .filter(|a| a.id == id)
                    .map(|a| (Some(a.procedure_id), a.site_id))
                    .unwrap_or((None, None));
                match r {
                    Ok(row) => {
                        metrics.measurements.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(id, status = row.status.as_str(), qrsd_ms = ?row.qrsd_ms,
                            beats_used = ?row.beats_used, "measurement finished");
                        // Committed: now it may be reported.
                        *lock(&active) = None;
                        hub.publish(json!({
                            "type": "measurement", "event": "finished", "id": id,
                            "procedure_id": procedure_id, "site_id": site_id,
                            "kind": row.kind, "status": row.status,
                            "qrsd_ms": row.qrsd_ms, "iqr_ms": row.iqr_ms, "sd_ms": row.sd_ms,
                            "stim_to_end_ms": row.stim_to_end_ms,
                            "beats_used": row.beats_used, "beats_required": row.beats_required,
                            "leads": result.leads, "flags": row.flags,
                            "quality_reasons": result.quality_reasons,
                            "leads_excluded": result.leads_excluded,
                            "global_leads": result.global_leads,
                            "global_leads_text": result.global_leads_text,
                            "reason": row.reason,
                        }));
                    }
                    Err(e) => {
                        metrics.store_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(error = %e, id, "committing a measurement failed");
                        *lock(&active) = None;
                        hub.publish(json!({
                            "type": "measurement", "event": "error", "id": id,
                            "status": "failed", "reason": format!("store: {e}"),
                        }));
                    }
                }
            }
        }
    }
}

/// The measurement side of the live thread.
struct MeasureSink {
    cmd: Receiver<Cmd>,
    jobs: SyncSender<Job>,
    current: Option<(i64, u64, Measurement)>,
    active: Arc<Mutex<Option<Active>>>,
    hub: Hub,
    metrics: Arc<Metrics>,
    next_sample: u64,
    fs_hz: Option<f64>,
    /// Acquired channel names (lead-off bit i = `channels[i]`).
    channels: Vec<String>,
}

impl MeasureSink {
    fn finish_if_final(&mut self) {
        let done = self
            .current
            .as_ref()
            .is_some_and(|(_, _, m)| m.status().is_final());
        if !done {
            return;
        }
        if let Some((id, _, m)) = self.current.take() {
            let result = Box::new(m.result());
            // The final result must reach the store: wait for room (the store thread only writes).
            let mut job = Job::Finish { id, result };
            loop {
                match self.jobs.try_send(job) {
                    Ok(()) => break,
                    Err(mpsc::TrySendError::Full(j)) => {
                        job = j;
                        std::thread::sleep(std::time::Duration::from_millis(2));
                    }
                    Err(mpsc::TrySendError::Disconnected(_)) => {
                        self.metrics.store_errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
    }

    fn progress(&mut self, p: &Progress, beat: &LiveBeat) {
        let Some((id, _, m)) = self.current.as_ref() else {
            return;
        };
        let id = *id;
        let partial = m.result();
        let partial_json = serde_json::to_value(&partial).ok();
        if let Some(a) = lock(&self.active).as_mut().filter(|a| a.id == id) {
            a.partial = partial_json;
        }
        let rec = partial.beats.get(p.seq);
        self.hub.publish(json!({
            "type": "measurement", "event": "progress", "id": id,
            "status": p.status, "beats_collected": p.beats_collected,
            "beats_required": p.beats_required, "beats_seen": partial.beats_seen,
            "beats_rejected": partial.beats_rejected.total,
            "last_beat": {"r_sample": beat.r_sample, "accepted": p.accepted,
                          "reason": p.reason, "qrsd_ms": p.qrsd_ms,
                          "cause": rec.and_then(|r| r.cause),
                          "cause_leads": rec.map(|r| r.cause_leads.as_slice()).unwrap_or_default()},
        }));
        // Per-beat records reach the store while collecting (a kill keeps them); a full queue
        // skips one save, the next one or the final commit carries the records.
        let _ = self.jobs.try_send(Job::SaveBeats {
            id,
            result: Box::new(partial),
        });
    }
}

impl LiveSink for MeasureSink {
    fn started(&mut self, info: &qrsd_acquire::StreamInfo) {
        self.channels = info.lead_names.clone();
    }

    fn poll(&mut self) {
        loop {
            match self.cmd.try_recv() {
                Ok(Cmd::Start {
                    id,
                    cfg,
                    start_sample,
                }) => {
                    if let Some((old, _, m)) = self.current.as_mut() {
                        tracing::warn!(old = *old, "a measurement replaced another; aborting it");
                        m.abort("replaced by a new measurement");
                        self.finish_if_final();
                    }
                    match Measurement::new(cfg, start_sample) {
                        Ok(m) => self.current = Some((id, start_sample, m)),
                        Err(e) => tracing::error!(error = %e, "invalid measurement config"),
                    }
                }
                Ok(Cmd::Stop { id }) => {
                    if let Some((cur, _, m)) = self.current.as_mut() {
                        if *cur == id {
                            m.stop();
                        }
                    }
                    self.finish_if_final();
                }
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
            }
        }
    }

    fn beat(&mut self, b: &LiveBeat) {
        let Some((_, start, m)) = self.current.as_mut() else {
            return;
        };
        if b.r_sample < *start {
            return;
        }
        let mut input = BeatInput::new(b.beat.clone(), b.fs_hz);
        input.lead_off = b.lead_off;
        input.lead_off_leads = self
            .channels
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < 16 && b.lead_off & (1 << i) != 0)
            .map(|(_, n)| n.clone())
            .collect();
        input.lead_quality = b.lead_quality.clone();
        input.noise_uv = b.noise_uv;
        input.waveform = b.snippet.clone();
        if b.gap {
            m.gap(b.r_sample);
        }
        if let Some(p) = m.push(input) {
            self.progress(&p, b);
        }
        self.finish_if_final();
    }

    fn gap(&mut self, at_sample: u64, _missing: u64, _reason: &'static str) {
        if let Some((_, _, m)) = self.current.as_mut() {
            m.gap(at_sample);
        }
    }

    fn tick(&mut self, sample: u64, fs_hz: f64) {
        self.next_sample = sample;
        self.fs_hz = Some(fs_hz);
        if let Some((_, _, m)) = self.current.as_mut() {
            m.advance(sample, fs_hz);
        }
        self.finish_if_final();
    }

    fn ended(&mut self) {
        if let Some((_, _, m)) = self.current.as_mut() {
            m.abort("the source ended");
        }
        self.finish_if_final();
    }
}
