//! Per-site QRSd measurement, quality flags and the site recommendation (pure logic).
//!
//! - [`Measurement`]: a state machine fed one [`BeatInput`] at a time; it collects a run of
//!   consecutive clean beats of the expected class and yields a [`MeasurementResult`] (the JSON of
//!   `GET /api/v1/measurements/{id}`). Definitions (consecutive, fusion, loss of capture) are in the
//!   [`measurement`] module docs.
//! - [`procedure`]: sites ([`SiteSpec`], [`Vein`], [`Segment`]), decisions ([`SiteDecision`],
//!   [`RejectionReason`]) and [`recommend`].
//!
//! Everything here is synchronous and pure: no clocks, no I/O.
#![deny(missing_docs)]

pub mod capture;
pub mod config;
pub mod measurement;
pub mod procedure;
pub mod stats;
pub mod waveform;

pub use capture::{LvCaptureClass, LvCaptureCriteria, VcgLoop};
pub use config::{ConfigError, MeasurementConfig, MeasurementKind};
pub use measurement::{
    BeatInput, BeatRecord, EndReason, ExcludedLead, Flags, LeadBeat, LeadStats, Measurement,
    MeasurementResult, Progress, QualityCause, QualityReason, RejectReason, RejectedCounts,
    RunSpan, Status, NEEDED_LEADS,
};
pub use procedure::{
    area_delta, recommend, recommend_with, ExcludedSite, MeasurementSummary, RankBy, RankedSite,
    RecommendConfig, Recommendation, RejectionReason, Segment, SiteCandidate, SiteDecision,
    SiteSpec, UnknownValue, Vein,
};
pub use stats::Spread;
pub use waveform::{BeatWaveform, MedianBeat, MedianLead};
