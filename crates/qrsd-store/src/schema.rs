//! Schema migrations, applied forward-only by `PRAGMA user_version`.
//!
//! Migration `i` (0-based in [`MIGRATIONS`]) brings the database from version `i` to `i + 1`; each
//! runs in its own transaction together with the version bump, so a crash leaves the database at
//! either the old or the new version. A database whose version is above `MIGRATIONS.len()` was
//! written by a newer qrsd and is refused ([`crate::StoreError::TooNew`]).

use crate::StoreError;
use rusqlite::Connection;

/// The migrations, oldest first. Never edit a released entry: append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the procedure model.
    r#"
    CREATE TABLE procedures (
        id               INTEGER PRIMARY KEY,
        case_id          TEXT NOT NULL,
        source           TEXT NOT NULL,
        filter_settings  TEXT NOT NULL,   -- JSON
        software_version TEXT NOT NULL,
        created_at       TEXT NOT NULL,   -- RFC 3339 UTC
        closed_at        TEXT,
        status           TEXT NOT NULL CHECK (status IN ('open', 'closed')),
        chosen_site_id   INTEGER,
        close_note       TEXT
    );
    CREATE TABLE sites (
        id           INTEGER PRIMARY KEY,
        procedure_id INTEGER NOT NULL REFERENCES procedures(id),
        vein         TEXT NOT NULL,
        segment      TEXT NOT NULL,
        label        TEXT NOT NULL,
        note         TEXT,
        electrode    TEXT,
        created_at   TEXT NOT NULL
    );
    CREATE TABLE measurements (
        id             INTEGER PRIMARY KEY,
        procedure_id   INTEGER NOT NULL REFERENCES procedures(id),
        site_id        INTEGER REFERENCES sites(id),
        kind           TEXT NOT NULL CHECK (kind IN ('baseline', 'site')),
        status         TEXT NOT NULL CHECK (status IN ('collecting', 'complete', 'incomplete', 'failed')),
        reason         TEXT,
        config         TEXT NOT NULL,   -- JSON MeasurementConfig
        started_at     TEXT NOT NULL,
        finished_at    TEXT,
        result         TEXT,            -- JSON MeasurementResult
        qrsd_ms        REAL,
        iqr_ms         REAL,
        sd_ms          REAL,
        stim_to_end_ms REAL,
        beats_used     INTEGER,
        beats_required INTEGER NOT NULL,
        start_sample   INTEGER NOT NULL,
        flags          TEXT,            -- JSON Flags
        first_sample   INTEGER,
        last_sample    INTEGER,
        interrupted    INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE beats (
        measurement_id INTEGER NOT NULL REFERENCES measurements(id),
        seq            INTEGER NOT NULL,
        r_sample       INTEGER NOT NULL,
        class          TEXT NOT NULL,
        accepted       INTEGER NOT NULL,
        used           INTEGER NOT NULL,
        reason         TEXT,
        qrsd_ms        REAL,
        stim_to_end_ms REAL,
        record         TEXT NOT NULL,   -- JSON BeatRecord
        PRIMARY KEY (measurement_id, seq)
    );
    CREATE TABLE site_decisions (
        id             INTEGER PRIMARY KEY,
        procedure_id   INTEGER NOT NULL REFERENCES procedures(id),
        site_id        INTEGER NOT NULL REFERENCES sites(id),
        decision       TEXT NOT NULL CHECK (decision IN ('accept', 'reject')),
        reason         TEXT,
        note           TEXT,
        decided_at     TEXT NOT NULL
    );
    CREATE TABLE audit (
        id           INTEGER PRIMARY KEY,
        at           TEXT NOT NULL,
        procedure_id INTEGER,
        action       TEXT NOT NULL,
        details      TEXT NOT NULL      -- JSON
    );
    "#,
    // 2: indexes for the per-procedure look-ups.
    r#"
    CREATE INDEX sites_by_procedure ON sites(procedure_id);
    CREATE INDEX measurements_by_procedure ON measurements(procedure_id);
    CREATE INDEX measurements_by_status ON measurements(status);
    CREATE INDEX decisions_by_site ON site_decisions(site_id);
    CREATE INDEX audit_by_procedure ON audit(procedure_id, id);
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The database's `user_version`.
pub fn version(conn: &Connection) -> Result<u32, StoreError> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    u32::try_from(v).map_err(|_| StoreError::TooNew {
        found: u32::MAX,
        supported: SCHEMA_VERSION,
    })
}

/// Applies the migrations after the current version up to `target`.
pub fn migrate_to(conn: &mut Connection, target: u32) -> Result<u32, StoreError> {
    apply(conn, MIGRATIONS, target)
}

fn apply(conn: &mut Connection, migrations: &[&str], target: u32) -> Result<u32, StoreError> {
    let known = migrations.len() as u32;
    let current = version(conn)?;
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            supported: known,
        });
    }
    for v in current..target.min(known) {
        let tx = conn.transaction()?;
        tx.execute_batch(migrations[v as usize])?;
        tx.pragma_update(None, "user_version", v + 1)?;
        tx.commit()?;
    }
    version(conn)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_failing_migration_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        let good = "CREATE TABLE a (x INTEGER);";
        // The second statement fails: the first must be rolled back with it.
        let bad = "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);";
        assert!(apply(&mut conn, &[good, bad], 2).is_err());
        assert_eq!(version(&conn).unwrap(), 1, "migration 1 committed, 2 not");
        let b: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'b'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(b, 0, "table b rolled back");
        // Fixed migration applies on the next open.
        let fixed = "CREATE TABLE b (x INTEGER);";
        assert_eq!(apply(&mut conn, &[good, fixed], 2).unwrap(), 2);
    }

    #[test]
    fn every_migration_applies_in_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        for v in 1..=SCHEMA_VERSION {
            assert_eq!(migrate_to(&mut conn, v).unwrap(), v);
        }
        assert_eq!(
            migrate_to(&mut conn, SCHEMA_VERSION + 3).unwrap(),
            SCHEMA_VERSION
        );
    }
}
