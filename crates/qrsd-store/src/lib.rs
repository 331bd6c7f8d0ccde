//! SQLite store for procedures, sites, measurements, per-beat values and the audit trail.
//!
//! One [`Store`] owns one SQLite connection (wrap it in a `Mutex` to share it). The database runs
//! in WAL mode with `synchronous = FULL`: every write method commits its own transaction before it
//! returns, so a measurement that [`Store::finish_measurement`] has returned for survives a
//! `kill -9` (and a power cut) of the process.
//!
//! IDs are SQLite integer row ids (`i64`), unique per table, used by the API in URLs.
//! Times are RFC 3339 UTC strings with milliseconds.
//!
//! Every state change writes an [`AuditEntry`] in the same transaction: procedure creation and
//! close, site added, measurement start/finish/interruption, site accept/reject.
#![deny(missing_docs)]

pub mod schema;
mod time;

use qrsd_measure::{
    recommend_with, BeatRecord, EndReason, Flags, MeasurementConfig, MeasurementKind,
    MeasurementResult, MeasurementSummary, RecommendConfig, Recommendation, RejectionReason,
    Segment, SiteCandidate, SiteDecision, SiteSpec, Status, Vein,
};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

pub use schema::SCHEMA_VERSION;
pub use time::now_rfc3339;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No row with that id.
    #[error("{what} {id} not found")]
    NotFound {
        /// "procedure", "site", "measurement".
        what: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// The database was written by a newer qrsd.
    #[error("database schema version {found} is newer than this build supports ({supported}); use a newer qrsd")]
    TooNew {
        /// Version in the file.
        found: u32,
        /// Newest version known here.
        supported: u32,
    },
    /// The request conflicts with the current state (e.g. the procedure is closed, the measurement
    /// already finished).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is invalid (e.g. a site of another procedure).
    #[error("invalid: {0}")]
    Invalid(String),
    /// A stored value could not be read back.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// SQLite error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// JSON (de)serialisation error.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// Result alias.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Open or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcedureStatus {
    /// Measurements may be added.
    Open,
    /// Closed: read-only.
    Closed,
}

/// What [`Store::create_procedure`] needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewProcedure {
    /// Pseudonymous case id (no patient names).
    pub case_id: String,
    /// Source description (e.g. "sim", "serial:/dev/ttyUSB0 @ 1000 Hz", "replay:x.hea").
    pub source: String,
    /// Filter settings in force (JSON object).
    pub filter_settings: Value,
    /// qrsd version.
    pub software_version: String,
}

/// A procedure row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Procedure {
    /// Id.
    pub id: i64,
    /// Pseudonymous case id.
    pub case_id: String,
    /// Source description.
    pub source: String,
    /// Filter settings.
    pub filter_settings: Value,
    /// Software version.
    pub software_version: String,
    /// Created (RFC 3339 UTC).
    pub created_at: String,
    /// Closed.
    pub closed_at: Option<String>,
    /// Open or closed.
    pub status: ProcedureStatus,
    /// Site chosen at close.
    pub chosen_site_id: Option<i64>,
    /// Note given at close.
    pub close_note: Option<String>,
}

/// A site row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// Id.
    pub id: i64,
    /// Procedure.
    pub procedure_id: i64,
    /// Vein.
    pub vein: Vein,
    /// Segment.
    pub segment: Segment,
    /// Label (never empty: "<vein> <segment>" when none was given).
    pub label: String,
    /// Note.
    pub note: Option<String>,
    /// Electrode / vector.
    pub electrode: Option<String>,
    /// Added.
    pub created_at: String,
}

/// A measurement row: key columns plus the full result JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasurementRow {
    /// Id.
    pub id: i64,
    /// Procedure.
    pub procedure_id: i64,
    /// Site (None for a baseline).
    pub site_id: Option<i64>,
    /// Baseline or site.
    pub kind: MeasurementKind,
    /// Status.
    pub status: Status,
    /// Plain reason when incomplete or failed.
    pub reason: Option<String>,
    /// Configuration it ran with.
    pub config: MeasurementConfig,
    /// Started.
    pub started_at: String,
    /// Finished.
    pub finished_at: Option<String>,
    /// Signal sample it started at.
    pub start_sample: u64,
    /// Global median QRSd.
    pub qrsd_ms: Option<f64>,
    /// Global IQR.
    pub iqr_ms: Option<f64>,
    /// Global SD.
    pub sd_ms: Option<f64>,
    /// Median stimulus-to-end.
    pub stim_to_end_ms: Option<f64>,
    /// Beats used.
    pub beats_used: Option<usize>,
    /// Beats required.
    pub beats_required: usize,
    /// Quality flags.
    pub flags: Option<Flags>,
    /// First sample of the run.
    pub first_sample: Option<u64>,
    /// Last sample of the run.
    pub last_sample: Option<u64>,
    /// Marked interrupted on a restart.
    pub interrupted: bool,
    /// The full result (None while collecting).
    pub result: Option<MeasurementResult>,
}

impl MeasurementRow {
    /// The values [`qrsd_measure::recommend`] ranks by.
    pub fn summary(&self) -> MeasurementSummary {
        MeasurementSummary {
            measurement_id: self.id,
            kind: self.kind,
            status: self.status,
            qrsd_ms: self.qrsd_ms,
            iqr_ms: self.iqr_ms,
            sd_ms: self.sd_ms,
            stim_to_end_ms: self.stim_to_end_ms,
            beats_used: self.beats_used.unwrap_or(0),
            flags: self.flags.unwrap_or_default(),
            qrs_area_uvs: self.result.as_ref().and_then(|r| r.qrs_area_uvs),
            lv_capture: self.result.as_ref().and_then(|r| r.lv_capture),
            leads_excluded: self
                .result
                .as_ref()
                .map(|r| r.leads_excluded.iter().map(|e| e.lead.clone()).collect())
                .unwrap_or_default(),
        }
    }
}

/// A site decision row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRow {
    /// Id.
    pub id: i64,
    /// Procedure.
    pub procedure_id: i64,
    /// Site.
    pub site_id: i64,
    /// The decision.
    pub decision: SiteDecision,
    /// When.
    pub decided_at: String,
}

/// An audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Id (increasing).
    pub id: i64,
    /// When (RFC 3339 UTC).
    pub at: String,
    /// Procedure concerned.
    pub procedure_id: Option<i64>,
    /// Action (`procedure_created`, `site_added`, `measurement_started`, `measurement_finished`,
    /// `measurement_interrupted`, `site_accepted`, `site_rejected`, `procedure_closed`, or one the
    /// service logs with [`Store::log`]).
    pub action: String,
    /// Details.
    pub details: Value,
}

/// A site with its decisions and measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteView {
    /// The site.
    pub site: Site,
    /// Latest decision.
    pub decision: Option<SiteDecision>,
    /// Every decision, oldest first.
    pub decisions: Vec<DecisionRow>,
    /// Its measurements, oldest first.
    pub measurements: Vec<MeasurementRow>,
}

/// Everything about a procedure, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcedureView {
    /// The procedure.
    pub procedure: Procedure,
    /// Baseline measurements, oldest first.
    pub baselines: Vec<MeasurementRow>,
    /// Sites, in order added.
    pub sites: Vec<SiteView>,
}

impl ProcedureView {
    /// The recommendation over this procedure's sites and baselines.
    pub fn recommendation(&self) -> Recommendation {
        self.recommendation_with(&RecommendConfig::default())
    }

    /// [`ProcedureView::recommendation`] with the recommender's settings (e.g. its ranking rule).
    pub fn recommendation_with(&self, cfg: &RecommendConfig) -> Recommendation {
        let baselines: Vec<MeasurementSummary> =
            self.baselines.iter().map(MeasurementRow::summary).collect();
        let sites: Vec<SiteCandidate> = self
            .sites
            .iter()
            .map(|s| SiteCandidate {
                site_id: s.site.id,
                label: s.site.label.clone(),
                decision: s.decision.clone(),
                measurements: s.measurements.iter().map(MeasurementRow::summary).collect(),
            })
            .collect();
        recommend_with(&baselines, &sites, cfg)
    }
}

/// The procedure store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

const PROC_COLS: &str = "id, case_id, source, filter_settings, software_version, created_at, \
                         closed_at, status, chosen_site_id, close_note";
const SITE_COLS: &str = "id, procedure_id, vein, segment, label, note, electrode, created_at";
const MEAS_COLS: &str = "id, procedure_id, site_id, kind, status, reason, config, started_at, \
     finished_at, start_sample, qrsd_ms, iqr_ms, sd_ms, stim_to_end_ms, beats_used, \
     beats_required, flags, first_sample, last_sample, interrupted, result";
const DEC_COLS: &str = "id, procedure_id, site_id, decision, reason, note, decided_at";

impl Store {
    /// Opens (creating if needed) the database at `path`, applies pending migrations, and sets
    /// WAL, `synchronous = FULL`, foreign keys and a 5 s busy timeout.
    /// The parent folder is created if missing. A file that is not an SQLite database gives
    /// [`StoreError::Sqlite`].
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Invalid(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path)?;
        Store::setup(conn, true)
    }

    /// An in-memory store (tests, `--data :memory:`); nothing survives the process.
    pub fn open_in_memory() -> Result<Store> {
        Store::setup(Connection::open_in_memory()?, false)
    }

    fn setup(mut conn: Connection, wal: bool) -> Result<Store> {
        conn.busy_timeout(Duration::from_secs(5))?;
        // Refuse a newer file before touching it (journal mode changes write the header).
        let v = schema::version(&conn)?;
        if v > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found: v,
                supported: SCHEMA_VERSION,
            });
        }
        if wal {
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Invalid(format!(
                    "could not enable WAL (journal_mode = {mode})"
                )));
            }
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate_to(&mut conn, SCHEMA_VERSION)?;
        Ok(Store { conn })
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32> {
        schema::version(&self.conn)
    }

    // ---- procedures ----

    /// Creates an open procedure.
    pub fn create_procedure(&mut self, p: &NewProcedure) -> Result<Procedure> {
        if p.case_id.trim().is_empty() {
            return Err(StoreError::Invalid("case_id must not be empty".into()));
        }
        let now = now_rfc3339();
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO procedures (case_id, source, filter_settings, software_version, created_at, status)
             VALUES (?1, ?2, ?3, ?4, ?5, 'open')",
            params![
                p.case_id.trim(),
                p.source,
                serde_json::to_string(&p.filter_settings)?,
                p.software_version,
                now
            ],
        )?;
        let id = tx.last_insert_rowid();
        audit(
            &tx,
            Some(id),
            "procedure_created",
            json!({"case_id": p.case_id.trim(), "source": p.source, "software_version": p.software_version}),
        )?;
        tx.commit()?;
        self.procedure(id)
    }

    /// A procedure.
    pub fn procedure(&self, id: i64) -> Result<Procedure> {
        self.conn
            .query_row(
                &format!("SELECT {PROC_COLS} FROM procedures WHERE id = ?1"),
                [id],
                procedure_from_row,
            )
            .optional()?
            .ok_or(StoreError::NotFound {
                what: "procedure",
                id,
            })?
    }

    /// Every procedure, newest first.
    pub fn list_procedures(&self) -> Result<Vec<Procedure>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {PROC_COLS} FROM procedures ORDER BY id DESC"
        ))?;
        let rows = st.query_map([], procedure_from_row)?;
        rows.map(|r| r?).collect()
    }

    /// Closes an open procedure with the chosen site (which must belong to it and not be rejected).
    pub fn close_procedure(
        &mut self,
        id: i64,
        chosen_site_id: Option<i64>,
        note: Option<&str>,
    ) -> Result<Procedure> {
        self.open_procedure(id)?;
        if let Some(s) = chosen_site_id {
            let site = self.site(s)?;
            if site.procedure_id != id {
                return Err(StoreError::Invalid(format!(
                    "site {s} belongs to procedure {}, not {id}",
                    site.procedure_id
                )));
            }
            if let Some(SiteDecision::Reject { reason, .. }) = self.latest_decision(s)? {
                return Err(StoreError::Conflict(format!(
                    "site {s} was rejected ({reason}) and cannot be chosen"
                )));
            }
        }
        let now = now_rfc3339();
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE procedures SET status = 'closed', closed_at = ?2, chosen_site_id = ?3, close_note = ?4
             WHERE id = ?1",
            params![id, now, chosen_site_id, note],
        )?;
        audit(
            &tx,
            Some(id),
            "procedure_closed",
            json!({"chosen_site_id": chosen_site_id, "note": note}),
        )?;
        tx.commit()?;
        self.procedure(id)
    }

    fn open_procedure(&self, id: i64) -> Result<Procedure> {
        let p = self.procedure(id)?;
        if p.status == ProcedureStatus::Closed {
            return Err(StoreError::Conflict(format!("procedure {id} is closed")));
        }
        Ok(p)
    }

    // ---- sites ----

    /// Adds a candidate site to an open procedure.
    pub fn add_site(&mut self, procedure_id: i64, spec: &SiteSpec) -> Result<Site> {
        self.open_procedure(procedure_id)?;
        let label = spec.display_label();
        let now = now_rfc3339();
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO sites (procedure_id, vein, segment, label, note, electrode, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                procedure_id,
                spec.vein.as_str(),
                spec.segment.as_str(),
                label,
                spec.note,
                spec.electrode,
                now
            ],
        )?;
        let id = tx.last_insert_rowid();
        audit(
            &tx,
            Some(procedure_id),
            "site_added",
            json!({"site_id": id, "vein": spec.vein, "segment": spec.segment, "label": label,
                   "note": spec.note, "electrode": spec.electrode}),
        )?;
        tx.commit()?;
        self.site(id)
    }

    /// A site.
    pub fn site(&self, id: i64) -> Result<Site> {
        self.conn
            .query_row(
                &format!("SELECT {SITE_COLS} FROM sites WHERE id = ?1"),
                [id],
                site_from_row,
            )
            .optional()?
            .ok_or(StoreError::NotFound { what: "site", id })?
    }

    /// A site that must belong to `procedure_id` (URLs name both): `NotFound` otherwise.
    pub fn site_of(&self, procedure_id: i64, site_id: i64) -> Result<Site> {
        self.procedure(procedure_id)?;
        let site = self.site(site_id)?;
        if site.procedure_id != procedure_id {
            return Err(StoreError::NotFound {
                what: "site",
                id: site_id,
            });
        }
        Ok(site)
    }

    /// The sites of a procedure, in order added.
    pub fn sites(&self, procedure_id: i64) -> Result<Vec<Site>> {
        self.procedure(procedure_id)?;
        let mut st = self.conn.prepare(&format!(
            "SELECT {SITE_COLS} FROM sites WHERE procedure_id = ?1 ORDER BY id"
        ))?;
        let rows = st.query_map([procedure_id], site_from_row)?;
        rows.map(|r| r?).collect()
    }

    /// Records a decision about a site (the latest decision counts; a rejected site can be
    /// accepted again).
    pub fn decide_site(&mut self, site_id: i64, decision: &SiteDecision) -> Result<DecisionRow> {
        let site = self.site(site_id)?;
        self.open_procedure(site.procedure_id)?;
        let (kind, reason, note, action) = match decision {
            SiteDecision::Accept { note } => ("accept", None, note.clone(), "site_accepted"),
            SiteDecision::Reject { reason, note } => {
                if *reason == RejectionReason::Other
                    && note.as_deref().map(str::trim).unwrap_or("").is_empty()
                {
                    return Err(StoreError::Invalid(
                        "a rejection for reason 'other' needs a note".into(),
                    ));
                }
                (
                    "reject",
                    Some(reason.as_str()),
                    note.clone(),
                    "site_rejected",
                )
            }
        };
        let now = now_rfc3339();
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO site_decisions (procedure_id, site_id, decision, reason, note, decided_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![site.procedure_id, site_id, kind, reason, note, now],
        )?;
        let id = tx.last_insert_rowid();
        audit(
            &tx,
            Some(site.procedure_id),
            action,
            json!({"site_id": site_id, "label": site.label, "reason": reason, "note": note}),
        )?;
        tx.commit()?;
        self.decisions(site_id)?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or(StoreError::NotFound {
                what: "decision",
                id,
            })
    }

    /// Rejects a site.
    pub fn reject_site(
        &mut self,
        site_id: i64,
        reason: RejectionReason,
        note: Option<&str>,
    ) -> Result<DecisionRow> {
        self.decide_site(
            site_id,
            &SiteDecision::Reject {
                reason,
                note: note.map(str::to_string),
            },
        )
    }

    /// Accepts a site.
    pub fn accept_site(&mut self, site_id: i64, note: Option<&str>) -> Result<DecisionRow> {
        self.decide_site(
            site_id,
            &SiteDecision::Accept {
                note: note.map(str::to_string),
            },
        )
    }

    /// A site's decisions, oldest first.
    pub fn decisions(&self, site_id: i64) -> Result<Vec<DecisionRow>> {
        self.site(site_id)?;
        let mut st = self.conn.prepare(&format!(
            "SELECT {DEC_COLS} FROM site_decisions WHERE site_id = ?1 ORDER BY id"
        ))?;
        let rows = st.query_map([site_id], decision_from_row)?;
        rows.map(|r| r?).collect()
    }

    fn latest_decision(&self, site_id: i64) -> Result<Option<SiteDecision>> {
        Ok(self.decisions(site_id)?.pop().map(|d| d.decision))
    }

    // ---- measurements ----

    /// Starts a measurement (status `collecting`): a baseline when `site_id` is `None` (the
    /// config's kind must be `baseline`), else at that site of the procedure (kind `site`).
    pub fn start_measurement(
        &mut self,
        procedure_id: i64,
        site_id: Option<i64>,
        config: &MeasurementConfig,
        start_sample: u64,
    ) -> Result<MeasurementRow> {
        self.open_procedure(procedure_id)?;
        config
            .validate()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        match (site_id, config.kind) {
            (None, MeasurementKind::Baseline) => {}
            (Some(s), MeasurementKind::Site) => {
                let site = self.site(s)?;
                if site.procedure_id != procedure_id {
                    return Err(StoreError::Invalid(format!(
                        "site {s} belongs to procedure {}, not {procedure_id}",
                        site.procedure_id
                    )));
                }
            }
            (None, MeasurementKind::Site) => {
                return Err(StoreError::Invalid(
                    "a site measurement needs a site".into(),
                ))
            }
            (Some(_), MeasurementKind::Baseline) => {
                return Err(StoreError::Invalid(
                    "a baseline measurement has no site".into(),
                ))
            }
        }
        let now = now_rfc3339();
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO measurements (procedure_id, site_id, kind, status, config, started_at,
                                       beats_required, start_sample)
             VALUES (?1, ?2, ?3, 'collecting', ?4, ?5, ?6, ?7)",
            params![
                procedure_id,
                site_id,
                config.kind.as_str(),
                serde_json::to_string(config)?,
                now,
                config.beats_required as i64,
                to_i64(start_sample)?
            ],
        )?;
        let id = tx.last_insert_rowid();
        audit(
            &tx,
            Some(procedure_id),
            "measurement_started",
            json!({"measurement_id": id, "kind": config.kind, "site_id": site_id,
                   "beats_required": config.beats_required, "start_sample": start_sample}),
        )?;
        tx.commit()?;
        self.measurement(id)
    }

    /// Saves (inserts or replaces by `seq`) per-beat records of a collecting measurement.
    pub fn save_beats(&mut self, measurement_id: i64, beats: &[BeatRecord]) -> Result<()> {
        let m = self.measurement(measurement_id)?;
        if m.status.is_final() {
            return Err(StoreError::Conflict(format!(
                "measurement {measurement_id} has finished ({})",
                m.status.as_str()
            )));
        }
        let tx = self.conn.transaction()?;
        upsert_beats(&tx, measurement_id, beats)?;
        tx.commit()?;
        Ok(())
    }

    /// Stores the final result of a collecting measurement (status must be final), all its beats,
    /// and the audit entry, in one committed transaction.
    pub fn finish_measurement(
        &mut self,
        measurement_id: i64,
        result: &MeasurementResult,
    ) -> Result<MeasurementRow> {
        let m = self.measurement(measurement_id)?;
        if m.status.is_final() {
            return Err(StoreError::Conflict(format!(
                "measurement {measurement_id} has already finished ({})",
                m.status.as_str()
            )));
        }
        if !result.status.is_final() {
            return Err(StoreError::Invalid(
                "the result is still collecting; finish it first".into(),
            ));
        }
        if result.kind != m.kind {
            return Err(StoreError::Invalid(format!(
                "result kind {} does not match measurement kind {}",
                result.kind.as_str(),
                m.kind.as_str()
            )));
        }
        let now = now_rfc3339();
        let tx = self.conn.transaction()?;
        write_result(&tx, measurement_id, result, &now, false)?;
        upsert_beats(&tx, measurement_id, &result.beats)?;
        audit(
            &tx,
            Some(m.procedure_id),
            "measurement_finished",
            json!({"measurement_id": measurement_id, "kind": m.kind, "site_id": m.site_id,
                   "status": result.status, "reason": result.reason, "qrsd_ms": result.qrsd_ms,
                   "beats_used": result.beats_used, "beats_rejected": result.beats_rejected.total}),
        )?;
        tx.commit()?;
        self.measurement(measurement_id)
    }

    /// A measurement with its result.
    pub fn measurement(&self, id: i64) -> Result<MeasurementRow> {
        self.conn
            .query_row(
                &format!("SELECT {MEAS_COLS} FROM measurements WHERE id = ?1"),
                [id],
                measurement_from_row,
            )
            .optional()?
            .ok_or(StoreError::NotFound {
                what: "measurement",
                id,
            })?
    }

    /// A procedure's measurements, oldest first.
    pub fn measurements(&self, procedure_id: i64) -> Result<Vec<MeasurementRow>> {
        self.procedure(procedure_id)?;
        let mut st = self.conn.prepare(&format!(
            "SELECT {MEAS_COLS} FROM measurements WHERE procedure_id = ?1 ORDER BY id"
        ))?;
        let rows = st.query_map([procedure_id], measurement_from_row)?;
        rows.map(|r| r?).collect()
    }

    /// The stored per-beat records of a measurement, in order.
    pub fn beats(&self, measurement_id: i64) -> Result<Vec<BeatRecord>> {
        self.measurement(measurement_id)?;
        let mut st = self
            .conn
            .prepare("SELECT record FROM beats WHERE measurement_id = ?1 ORDER BY seq")?;
        let rows = st.query_map([measurement_id], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(serde_json::from_str(&r?)?);
        }
        Ok(out)
    }

    /// On startup: every measurement still `collecting` (the service died while it ran) becomes
    /// `incomplete` with reason `interrupted`, keeping the beats saved so far; each is audited.
    /// Returns their ids.
    pub fn mark_interrupted(&mut self) -> Result<Vec<i64>> {
        let ids: Vec<i64> = {
            let mut st = self
                .conn
                .prepare("SELECT id FROM measurements WHERE status = 'collecting' ORDER BY id")?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for &id in &ids {
            let m = self.measurement(id)?;
            let beats = self.beats(id)?;
            let result = MeasurementResult::ended_without_result(
                m.config.clone(),
                beats,
                m.start_sample,
                EndReason::Interrupted,
                "interrupted: the service stopped while this measurement was collecting",
            );
            let now = now_rfc3339();
            let tx = self.conn.transaction()?;
            write_result(&tx, id, &result, &now, true)?;
            audit(
                &tx,
                Some(m.procedure_id),
                "measurement_interrupted",
                json!({"measurement_id": id, "kind": m.kind, "site_id": m.site_id,
                       "beats_saved": result.beats_seen}),
            )?;
            tx.commit()?;
        }
        Ok(ids)
    }

    // ---- audit and views ----

    /// Writes an audit entry for something the service did (e.g. a source gap during a procedure).
    pub fn log(&mut self, procedure_id: Option<i64>, action: &str, details: Value) -> Result<i64> {
        if let Some(p) = procedure_id {
            self.procedure(p)?;
        }
        let tx = self.conn.transaction()?;
        let id = audit(&tx, procedure_id, action, details)?;
        tx.commit()?;
        Ok(id)
    }

    /// Audit entries, oldest first: of one procedure, or all.
    pub fn audit(&self, procedure_id: Option<i64>) -> Result<Vec<AuditEntry>> {
        let map = |r: &Row<'_>| -> rusqlite::Result<(i64, String, Option<i64>, String, String)> {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        };
        let rows: Vec<_> = match procedure_id {
            Some(p) => {
                self.procedure(p)?;
                let mut st = self.conn.prepare(
                    "SELECT id, at, procedure_id, action, details FROM audit
                     WHERE procedure_id = ?1 ORDER BY id",
                )?;
                let rows = st.query_map([p], map)?;
                rows.collect::<Result<_, _>>()?
            }
            None => {
                let mut st = self.conn.prepare(
                    "SELECT id, at, procedure_id, action, details FROM audit ORDER BY id",
                )?;
                let rows = st.query_map([], map)?;
                rows.collect::<Result<_, _>>()?
            }
        };
        rows.into_iter()
            .map(|(id, at, procedure_id, action, details)| {
                Ok(AuditEntry {
                    id,
                    at,
                    procedure_id,
                    action,
                    details: serde_json::from_str(&details)?,
                })
            })
            .collect()
    }

    /// The whole procedure: sites with decisions and measurements, and the baselines.
    pub fn procedure_view(&self, id: i64) -> Result<ProcedureView> {
        let procedure = self.procedure(id)?;
        let measurements = self.measurements(id)?;
        let mut sites = Vec::new();
        for site in self.sites(id)? {
            let decisions = self.decisions(site.id)?;
            let decision = decisions.last().map(|d| d.decision.clone());
            let ms = measurements
                .iter()
                .filter(|m| m.site_id == Some(site.id))
                .cloned()
                .collect();
            sites.push(SiteView {
                site,
                decision,
                decisions,
                measurements: ms,
            });
        }
        let baselines = measurements
            .into_iter()
            .filter(|m| m.kind == MeasurementKind::Baseline)
            .collect();
        Ok(ProcedureView {
            procedure,
            baselines,
            sites,
        })
    }

    /// The recommendation for a procedure (see [`qrsd_measure::recommend`]).
    pub fn recommendation(&self, procedure_id: i64) -> Result<Recommendation> {
        Ok(self.procedure_view(procedure_id)?.recommendation())
    }

    /// [`Store::recommendation`] with the recommender's settings.
    pub fn recommendation_with(
        &self,
        procedure_id: i64,
        cfg: &RecommendConfig,
    ) -> Result<Recommendation> {
        Ok(self.procedure_view(procedure_id)?.recommendation_with(cfg))
    }
}

fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Invalid(format!("sample number {v} too large")))
}

fn audit(
    tx: &Transaction<'_>,
    procedure_id: Option<i64>,
    action: &str,
    details: Value,
) -> Result<i64> {
    tx.execute(
        "INSERT INTO audit (at, procedure_id, action, details) VALUES (?1, ?2, ?3, ?4)",
        params![
            now_rfc3339(),
            procedure_id,
            action,
            serde_json::to_string(&details)?
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

fn write_result(
    tx: &Transaction<'_>,
    id: i64,
    r: &MeasurementResult,
    now: &str,
    interrupted: bool,
) -> Result<()> {
    tx.execute(
        "UPDATE measurements SET status = ?2, reason = ?3, finished_at = ?4, result = ?5,
            qrsd_ms = ?6, iqr_ms = ?7, sd_ms = ?8, stim_to_end_ms = ?9, beats_used = ?10,
            flags = ?11, first_sample = ?12, last_sample = ?13, interrupted = ?14
         WHERE id = ?1",
        params![
            id,
            r.status.as_str(),
            r.reason,
            now,
            serde_json::to_string(r)?,
            r.qrsd_ms,
            r.iqr_ms,
            r.sd_ms,
            r.stim_to_end_ms,
            r.beats_used as i64,
            serde_json::to_string(&r.flags)?,
            r.run.map(|s| to_i64(s.first_sample)).transpose()?,
            r.run.map(|s| to_i64(s.last_sample)).transpose()?,
            interrupted,
        ],
    )?;
    Ok(())
}

fn upsert_beats(tx: &Transaction<'_>, measurement_id: i64, beats: &[BeatRecord]) -> Result<()> {
    let mut st = tx.prepare_cached(
        "INSERT OR REPLACE INTO beats
           (measurement_id, seq, r_sample, class, accepted, used, reason, qrsd_ms, stim_to_end_ms, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for b in beats {
        let class = serde_json::to_value(b.class)?;
        st.execute(params![
            measurement_id,
            b.seq as i64,
            to_i64(b.r_sample)?,
            class.as_str().unwrap_or("unknown"),
            b.accepted,
            b.used,
            b.reason.map(|r| r.as_str()),
            b.qrsd_ms,
            b.stim_to_end_ms,
            serde_json::to_string(b)?,
        ])?;
    }
    Ok(())
}

fn parse<T: std::str::FromStr>(s: String, what: &str) -> Result<T> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what}: {s:?}")))
}

fn procedure_from_row(r: &Row<'_>) -> rusqlite::Result<Result<Procedure>> {
    let fs: String = r.get(3)?;
    let status: String = r.get(7)?;
    Ok((|| {
        Ok(Procedure {
            id: r.get(0)?,
            case_id: r.get(1)?,
            source: r.get(2)?,
            filter_settings: serde_json::from_str(&fs)?,
            software_version: r.get(4)?,
            created_at: r.get(5)?,
            closed_at: r.get(6)?,
            status: match status.as_str() {
                "open" => ProcedureStatus::Open,
                "closed" => ProcedureStatus::Closed,
                s => return Err(StoreError::Corrupt(format!("procedure status {s:?}"))),
            },
            chosen_site_id: r.get(8)?,
            close_note: r.get(9)?,
        })
    })())
}

fn site_from_row(r: &Row<'_>) -> rusqlite::Result<Result<Site>> {
    let vein: String = r.get(2)?;
    let segment: String = r.get(3)?;
    Ok((|| {
        Ok(Site {
            id: r.get(0)?,
            procedure_id: r.get(1)?,
            vein: parse(vein, "vein")?,
            segment: parse(segment, "segment")?,
            label: r.get(4)?,
            note: r.get(5)?,
            electrode: r.get(6)?,
            created_at: r.get(7)?,
        })
    })())
}

fn decision_from_row(r: &Row<'_>) -> rusqlite::Result<Result<DecisionRow>> {
    let kind: String = r.get(3)?;
    let reason: Option<String> = r.get(4)?;
    let note: Option<String> = r.get(5)?;
    Ok((|| {
        let decision = match kind.as_str() {
            "accept" => SiteDecision::Accept { note },
            "reject" => SiteDecision::Reject {
                reason: parse(reason.unwrap_or_default(), "rejection reason")?,
                note,
            },
            s => return Err(StoreError::Corrupt(format!("decision {s:?}"))),
        };
        Ok(DecisionRow {
            id: r.get(0)?,
            procedure_id: r.get(1)?,
            site_id: r.get(2)?,
            decision,
            decided_at: r.get(6)?,
        })
    })())
}

fn measurement_from_row(r: &Row<'_>) -> rusqlite::Result<Result<MeasurementRow>> {
    let kind: String = r.get(3)?;
    let status: String = r.get(4)?;
    let config: String = r.get(6)?;
    let flags: Option<String> = r.get(16)?;
    let result: Option<String> = r.get(20)?;
    let u = |v: Option<i64>| v.map(|x| x.max(0) as u64);
    Ok((|| {
        Ok(MeasurementRow {
            id: r.get(0)?,
            procedure_id: r.get(1)?,
            site_id: r.get(2)?,
            kind: serde_json::from_value(Value::String(kind))?,
            status: serde_json::from_value(Value::String(status))?,
            reason: r.get(5)?,
            config: serde_json::from_str(&config)?,
            started_at: r.get(7)?,
            finished_at: r.get(8)?,
            start_sample: u(r.get(9)?).unwrap_or(0),
            qrsd_ms: r.get(10)?,
            iqr_ms: r.get(11)?,
            sd_ms: r.get(12)?,
            stim_to_end_ms: r.get(13)?,
            beats_used: u(r.get(14)?).map(|v| v as usize),
            beats_required: u(r.get(15)?).unwrap_or(0) as usize,
            flags: flags.map(|f| serde_json::from_str(&f)).transpose()?,
            first_sample: u(r.get(17)?),
            last_sample: u(r.get(18)?),
            interrupted: r.get(19)?,
            result: result.map(|s| serde_json::from_str(&s)).transpose()?,
        })
    })())
}
