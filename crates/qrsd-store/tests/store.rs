#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Store behaviour: migrations, persistence across reopen and `kill -9`, interrupted marking,
//! typed errors.

use qrsd_measure::{
    BeatInput, Measurement, MeasurementConfig, RejectionReason, Segment, SiteDecision, SiteSpec,
    Status, Vein,
};
use qrsd_pipeline::{Beat, BeatClass, Boundary, LeadBoundary, Quality};
use qrsd_store::{schema, NewProcedure, ProcedureStatus, Store, StoreError, SCHEMA_VERSION};
use rusqlite::Connection;
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FS: f64 = 1000.0;

fn beat(r: u64, class: BeatClass, qrsd: u64) -> Beat {
    let onset = r - 40;
    let b = Boundary {
        onset_sample: Some(onset),
        offset_sample: Some(onset + qrsd),
    };
    Beat {
        r_sample: r,
        class,
        quality: Quality::Clean,
        pace_sample: (class == BeatClass::Paced).then_some(onset - 20),
        global: b,
        leads: ["II", "V1", "V6"]
            .iter()
            .map(|n| LeadBoundary {
                name: n.to_string(),
                bounds: b,
            })
            .collect(),
        leads_excluded: Vec::new(),
        vcg: Default::default(),
    }
}

/// A complete measurement of `n` beats of width `qrsd` starting at `start`.
fn run(cfg: MeasurementConfig, start: u64, qrsd: u64) -> Measurement {
    let class = cfg.expected_class();
    let mut m = Measurement::new(cfg, start).unwrap();
    let mut r = start + 500;
    while m.status() == Status::Collecting {
        m.push(BeatInput::new(beat(r, class, qrsd), FS));
        r += 800;
    }
    m
}

fn new_proc(case: &str) -> NewProcedure {
    NewProcedure {
        case_id: case.into(),
        source: "sim".into(),
        filter_settings: json!({"highpass_hz": 0.5, "lowpass_hz": 150, "notch_hz": 50}),
        software_version: "0.1.0".into(),
    }
}

fn pl_mid() -> SiteSpec {
    SiteSpec {
        vein: Vein::Posterolateral,
        segment: Segment::Mid,
        label: "PL mid".into(),
        note: None,
        electrode: Some("D1-M2".into()),
    }
}

#[test]
fn fresh_database_is_migrated_with_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qrsd.sqlite");
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    drop(store);
    let conn = Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN
             ('procedures','sites','measurements','beats','site_decisions','audit')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 6);
}

#[test]
fn existing_older_database_is_upgraded_keeping_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    {
        let mut conn = Connection::open(&path).unwrap();
        assert_eq!(schema::migrate_to(&mut conn, 1).unwrap(), 1);
        conn.execute(
            "INSERT INTO procedures (case_id, source, filter_settings, software_version, created_at, status)
             VALUES ('OLD-1', 'replay:x.hea', '{}', '0.0.9', '2026-01-01T00:00:00.000Z', 'open')",
            [],
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let ps = store.list_procedures().unwrap();
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0].case_id, "OLD-1");
    let conn = Connection::open(&path).unwrap();
    let idx: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'audit_by_procedure'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(idx, 1, "migration 2 ran on the old file");
    // Opening again is a no-op.
    drop(store);
    assert_eq!(
        Store::open(&path).unwrap().schema_version().unwrap(),
        SCHEMA_VERSION
    );
}

#[test]
fn newer_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.sqlite");
    drop(Store::open(&path).unwrap());
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 5)
            .unwrap();
    }
    match Store::open(&path) {
        Err(StoreError::TooNew { found, supported }) => {
            assert_eq!(found, SCHEMA_VERSION + 5);
            assert_eq!(supported, SCHEMA_VERSION);
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
}

#[test]
fn whole_procedure_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qrsd.sqlite");
    let (pid, site_id, mid, bid);
    {
        let mut s = Store::open(&path).unwrap();
        let p = s.create_procedure(&new_proc("CASE-7")).unwrap();
        pid = p.id;
        let b = s
            .start_measurement(pid, None, &MeasurementConfig::baseline(), 0)
            .unwrap();
        bid = b.id;
        assert_eq!(b.status, Status::Collecting);
        let res = run(MeasurementConfig::baseline(), 0, 160).result();
        s.finish_measurement(bid, &res).unwrap();

        let site = s.add_site(pid, &pl_mid()).unwrap();
        site_id = site.id;
        let m = s
            .start_measurement(pid, Some(site_id), &MeasurementConfig::site(), 100_000)
            .unwrap();
        mid = m.id;
        let meas = run(MeasurementConfig::site(), 100_000, 130);
        s.save_beats(mid, &meas.records()[..3]).unwrap();
        s.finish_measurement(mid, &meas.result()).unwrap();
        let other = s
            .add_site(
                pid,
                &SiteSpec {
                    vein: Vein::Lateral,
                    segment: Segment::Basal,
                    label: String::new(),
                    note: Some("phrenic at 3 V".into()),
                    electrode: None,
                },
            )
            .unwrap();
        assert_eq!(other.label, "lateral basal");
        s.reject_site(other.id, RejectionReason::PhrenicStimulation, None)
            .unwrap();
        s.accept_site(site_id, Some("good threshold")).unwrap();
        s.close_procedure(pid, Some(site_id), Some("done")).unwrap();
    }
    let s = Store::open(&path).unwrap();
    let v = s.procedure_view(pid).unwrap();
    assert_eq!(v.procedure.status, ProcedureStatus::Closed);
    assert_eq!(v.procedure.chosen_site_id, Some(site_id));
    assert!(v.procedure.closed_at.is_some());
    assert_eq!(v.baselines.len(), 1);
    assert_eq!(v.baselines[0].qrsd_ms, Some(160.0));
    assert_eq!(v.sites.len(), 2);
    let pl = &v.sites[0];
    assert_eq!(pl.site.label, "PL mid");
    assert_eq!(pl.site.electrode.as_deref(), Some("D1-M2"));
    assert!(matches!(pl.decision, Some(SiteDecision::Accept { .. })));
    assert_eq!(pl.measurements.len(), 1);
    let m = &pl.measurements[0];
    assert_eq!(m.status, Status::Complete);
    assert_eq!(m.qrsd_ms, Some(130.0));
    assert_eq!(m.stim_to_end_ms, Some(150.0));
    assert_eq!(m.beats_used, Some(10));
    let res = m.result.as_ref().unwrap();
    assert_eq!(res.beats.len(), 10);
    assert_eq!(s.beats(mid).unwrap().len(), 10);
    assert!(s.beats(mid).unwrap().iter().all(|b| b.used));
    assert!(matches!(
        v.sites[1].decision,
        Some(SiteDecision::Reject {
            reason: RejectionReason::PhrenicStimulation,
            ..
        })
    ));
    // Recommendation from the stored view: the only non-rejected site, ΔQRS −30 ms.
    let rec = v.recommendation();
    assert_eq!(rec.site_id, Some(site_id));
    assert_eq!(rec.best.as_ref().unwrap().delta_qrs_ms, Some(-30.0));
    assert_eq!(rec.excluded.len(), 1);
    // The audit trail holds every step, in order.
    let actions: Vec<String> = s
        .audit(Some(pid))
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert_eq!(
        actions,
        [
            "procedure_created",
            "measurement_started",
            "measurement_finished",
            "site_added",
            "measurement_started",
            "measurement_finished",
            "site_added",
            "site_rejected",
            "site_accepted",
            "procedure_closed"
        ]
    );
    let _ = bid;
}

#[test]
fn closed_procedure_and_finished_measurement_refuse_changes() {
    let mut s = Store::open_in_memory().unwrap();
    let p = s.create_procedure(&new_proc("C")).unwrap();
    let m = s
        .start_measurement(p.id, None, &MeasurementConfig::baseline(), 0)
        .unwrap();
    let res = run(MeasurementConfig::baseline(), 0, 150).result();
    s.finish_measurement(m.id, &res).unwrap();
    assert!(matches!(
        s.finish_measurement(m.id, &res),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.save_beats(m.id, &res.beats),
        Err(StoreError::Conflict(_))
    ));
    s.close_procedure(p.id, None, None).unwrap();
    assert!(matches!(
        s.add_site(p.id, &pl_mid()),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.start_measurement(p.id, None, &MeasurementConfig::baseline(), 0),
        Err(StoreError::Conflict(_))
    ));
}

#[test]
fn invalid_ids_are_not_found() {
    let mut s = Store::open_in_memory().unwrap();
    assert!(matches!(
        s.procedure(42),
        Err(StoreError::NotFound {
            what: "procedure",
            id: 42
        })
    ));
    assert!(matches!(
        s.add_site(42, &pl_mid()),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.measurement(-1),
        Err(StoreError::NotFound {
            what: "measurement",
            ..
        })
    ));
    assert!(matches!(
        s.site(7),
        Err(StoreError::NotFound { what: "site", .. })
    ));
    assert!(matches!(
        s.reject_site(7, RejectionReason::Unstable, None),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(s.beats(3), Err(StoreError::NotFound { .. })));
    assert!(matches!(
        s.procedure_view(3),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(s.audit(Some(3)), Err(StoreError::NotFound { .. })));
    let p = s.create_procedure(&new_proc("C")).unwrap();
    assert!(matches!(
        s.start_measurement(p.id, Some(99), &MeasurementConfig::site(), 0),
        Err(StoreError::NotFound { what: "site", .. })
    ));
    // Wrong combinations are Invalid.
    assert!(matches!(
        s.start_measurement(p.id, None, &MeasurementConfig::site(), 0),
        Err(StoreError::Invalid(_))
    ));
    let p2 = s.create_procedure(&new_proc("D")).unwrap();
    let site = s.add_site(p2.id, &pl_mid()).unwrap();
    assert!(matches!(
        s.start_measurement(p.id, Some(site.id), &MeasurementConfig::site(), 0),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.close_procedure(p.id, Some(site.id), None),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.reject_site(site.id, RejectionReason::Other, Some("  ")),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.create_procedure(&new_proc(" ")),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn rejected_site_cannot_be_chosen() {
    let mut s = Store::open_in_memory().unwrap();
    let p = s.create_procedure(&new_proc("C")).unwrap();
    let site = s.add_site(p.id, &pl_mid()).unwrap();
    s.reject_site(site.id, RejectionReason::HighThreshold, Some("3.5 V"))
        .unwrap();
    assert!(matches!(
        s.close_procedure(p.id, Some(site.id), None),
        Err(StoreError::Conflict(_))
    ));
}

#[test]
fn collecting_measurements_are_marked_interrupted_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qrsd.sqlite");
    let (pid, mid, done);
    {
        let mut s = Store::open(&path).unwrap();
        let p = s.create_procedure(&new_proc("C")).unwrap();
        pid = p.id;
        let b = s
            .start_measurement(pid, None, &MeasurementConfig::baseline(), 0)
            .unwrap();
        s.finish_measurement(b.id, &run(MeasurementConfig::baseline(), 0, 150).result())
            .unwrap();
        done = b.id;
        let site = s.add_site(pid, &pl_mid()).unwrap();
        let m = s
            .start_measurement(pid, Some(site.id), &MeasurementConfig::site(), 5_000)
            .unwrap();
        mid = m.id;
        let partial = run(MeasurementConfig::site(), 5_000, 120);
        s.save_beats(mid, &partial.records()[..4]).unwrap();
        // dropped while collecting
    }
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.mark_interrupted().unwrap(), vec![mid]);
    assert!(s.mark_interrupted().unwrap().is_empty(), "idempotent");
    let m = s.measurement(mid).unwrap();
    assert_eq!(m.status, Status::Incomplete);
    assert!(m.interrupted);
    assert!(m.reason.as_deref().unwrap().contains("interrupted"));
    assert_eq!(m.qrsd_ms, None);
    let r = m.result.unwrap();
    assert_eq!(r.status, Status::Incomplete);
    assert_eq!(r.reason_code, Some(qrsd_measure::EndReason::Interrupted));
    assert_eq!(r.beats.len(), 4, "saved beats kept");
    assert_eq!(r.qrsd_ms, None);
    // The completed one is untouched.
    let d = s.measurement(done).unwrap();
    assert_eq!(d.status, Status::Complete);
    assert!(!d.interrupted);
    let last = s.audit(Some(pid)).unwrap().pop().unwrap();
    assert_eq!(last.action, "measurement_interrupted");
    assert_eq!(last.details["measurement_id"], json!(mid));
}

/// Child half of `completed_measurement_survives_kill_9`: finishes a measurement, says so on
/// stdout, then waits to be killed.
#[test]
fn kill9_child() {
    let Ok(path) = std::env::var("QRSD_STORE_KILL9_CHILD") else {
        return; // only runs as the child
    };
    let mut s = Store::open(&path).unwrap();
    let p = s.create_procedure(&new_proc("KILL")).unwrap();
    let site = s.add_site(p.id, &pl_mid()).unwrap();
    let m = s
        .start_measurement(p.id, Some(site.id), &MeasurementConfig::site(), 0)
        .unwrap();
    s.finish_measurement(m.id, &run(MeasurementConfig::site(), 0, 128).result())
        .unwrap();
    // A second measurement left collecting when the process dies.
    let m2 = s
        .start_measurement(p.id, Some(site.id), &MeasurementConfig::site(), 90_000)
        .unwrap();
    let partial = run(MeasurementConfig::site(), 90_000, 131);
    s.save_beats(m2.id, &partial.records()[..5]).unwrap();
    // Tell the parent through a file (libtest may capture stdout), renamed into place atomically.
    let marker = format!("{path}.done");
    std::fs::write(
        format!("{marker}.tmp"),
        format!("{} {} {}", p.id, m.id, m2.id),
    )
    .unwrap();
    std::fs::rename(format!("{marker}.tmp"), &marker).unwrap();
    std::thread::sleep(std::time::Duration::from_secs(60));
}

#[test]
fn completed_measurement_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qrsd.sqlite");
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "kill9_child", "--nocapture", "--test-threads=1"])
        .env("QRSD_STORE_KILL9_CHILD", &path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let marker = format!("{}.done", path.display());
    let t0 = Instant::now();
    let line = loop {
        if let Ok(s) = std::fs::read_to_string(&marker) {
            break s;
        }
        if let Some(st) = child.try_wait().unwrap() {
            panic!("child ended early: {st}");
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "child too slow");
        std::thread::sleep(Duration::from_millis(10));
    };
    child.kill().unwrap(); // SIGKILL on Unix: no destructors, no checkpoint
    let status = child.wait().unwrap();
    assert!(!status.success());
    let ids: Vec<i64> = line
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    let (pid, mid, m2) = (ids[0], ids[1], ids[2]);
    let mut s = Store::open(&path).unwrap();
    let m = s.measurement(mid).unwrap();
    assert_eq!(m.status, Status::Complete);
    assert_eq!(m.qrsd_ms, Some(128.0));
    assert_eq!(s.beats(mid).unwrap().len(), 10);
    assert_eq!(s.mark_interrupted().unwrap(), vec![m2]);
    assert_eq!(s.procedure(pid).unwrap().case_id, "KILL");
    // The beats saved incrementally before the kill are kept.
    let r = s.measurement(m2).unwrap().result.unwrap();
    assert_eq!(r.beats.len(), 5);
    assert_eq!(r.beats[4].qrsd_ms, Some(131.0));
}

#[test]
fn not_a_database_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.sqlite");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    assert!(matches!(Store::open(&path), Err(StoreError::Sqlite(_))));
}

#[test]
fn open_creates_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/qrsd.sqlite");
    Store::open(&path).unwrap();
    assert!(path.exists());
}

#[test]
fn site_of_checks_the_procedure() {
    let mut s = Store::open_in_memory().unwrap();
    let p1 = s.create_procedure(&new_proc("A")).unwrap();
    let p2 = s.create_procedure(&new_proc("B")).unwrap();
    let site = s.add_site(p1.id, &pl_mid()).unwrap();
    assert_eq!(s.site_of(p1.id, site.id).unwrap().id, site.id);
    assert!(matches!(
        s.site_of(p2.id, site.id),
        Err(StoreError::NotFound { what: "site", .. })
    ));
    assert!(matches!(
        s.site_of(99, site.id),
        Err(StoreError::NotFound {
            what: "procedure",
            ..
        })
    ));
    assert_eq!(s.list_procedures().unwrap()[0].id, p2.id, "newest first");
}
