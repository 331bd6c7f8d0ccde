//! The procedure workflow (placeholder until qrsd-store and qrsd-measure land).
#![allow(missing_docs, clippy::unused_async)]

use crate::api::{Close, NewProcedure, NewSite, Reject, SimUpdate, StartMeasurement};
use crate::config::Config;
use crate::error::ApiError;
use crate::live::LiveSink;
use crate::metrics::Metrics;
use crate::server::StartError;
use crate::Hub;
use qrsd_acquire::Source;
use qrsd_pipeline::PipelineConfig;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

pub struct Workflow {}

struct Sink;
impl LiveSink for Sink {}

fn todo() -> ApiError {
    ApiError::unavailable("not_ready", "not implemented yet")
}

pub fn serial_source(_p: &Path) -> Result<Box<dyn Source>, StartError> {
    Err(StartError::Source("serial source not available yet".into()))
}

pub fn recorder_sink(_cfg: &Config) -> Option<Box<dyn LiveSink>> {
    None
}

impl Workflow {
    pub fn open(
        _cfg: &Config,
        _p: &PipelineConfig,
        _hub: Hub,
        _m: Arc<Metrics>,
    ) -> Result<(Self, Box<dyn LiveSink>), StartError> {
        Ok((Workflow {}, Box::new(Sink)))
    }
    pub fn active_id(&self) -> Option<i64> {
        None
    }
    pub async fn shutdown(&self) {}
    pub fn audit_sim(&self, _u: &SimUpdate) {}
    pub async fn list_procedures(&self) -> Result<Value, ApiError> {
        Err(todo())
    }
    pub async fn create_procedure(&self, _r: NewProcedure) -> Result<i64, ApiError> {
        Err(todo())
    }
    pub async fn procedure(&self, _id: i64) -> Result<Value, ApiError> {
        Err(todo())
    }
    pub async fn start_measurement(
        &self,
        _id: i64,
        _site: Option<i64>,
        _b: StartMeasurement,
    ) -> Result<i64, ApiError> {
        Err(todo())
    }
    pub async fn add_site(&self, _id: i64, _s: NewSite) -> Result<i64, ApiError> {
        Err(todo())
    }
    pub async fn accept_site(
        &self,
        _id: i64,
        _site: i64,
        _n: Option<String>,
    ) -> Result<Value, ApiError> {
        Err(todo())
    }
    pub async fn reject_site(&self, _id: i64, _site: i64, _r: Reject) -> Result<Value, ApiError> {
        Err(todo())
    }
    pub async fn recommendation(&self, _id: i64) -> Result<Value, ApiError> {
        Err(todo())
    }
    pub async fn report(&self, _id: i64) -> Result<Value, ApiError> {
        Err(todo())
    }
    pub async fn close(&self, _id: i64, _c: Close) -> Result<Value, ApiError> {
        Err(todo())
    }
    pub async fn measurement(&self, _id: i64) -> Result<Value, ApiError> {
        Err(todo())
    }
    pub async fn cancel(&self, _id: i64) -> Result<Value, ApiError> {
        Err(todo())
    }
}
