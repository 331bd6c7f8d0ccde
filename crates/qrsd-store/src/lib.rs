//! SQLite store for procedures, sites, measurements, per-beat values and the audit trail.
