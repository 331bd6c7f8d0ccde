//! Shared application state.

use crate::config::Config;
use crate::live::SourceSnapshot;
use crate::metrics::{Metrics, SourceCounters};
use crate::workflow::Workflow;
use crate::Hub;
use qrsd_acquire::{SimControl, SourceState};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Semaphore;

/// Cheap-to-clone handle to everything a request needs.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub cfg: Config,
    pub hub: Hub,
    pub metrics: Arc<Metrics>,
    pub snapshot: Arc<Mutex<SourceSnapshot>>,
    pub sim: Option<SimControl>,
    pub busy: Arc<Semaphore>,
    pub started: Instant,
    pub workflow: Workflow,
}

impl AppState {
    pub(crate) fn new(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The configuration in force.
    pub fn cfg(&self) -> &Config {
        &self.inner.cfg
    }

    /// The simulator's control, when the source is the simulator.
    pub fn sim(&self) -> Option<&SimControl> {
        self.inner.sim.as_ref()
    }

    /// The procedure workflow.
    pub fn workflow(&self) -> &Workflow {
        &self.inner.workflow
    }

    /// A copy of the live thread's view of the source.
    pub fn source_snapshot(&self) -> SourceSnapshot {
        self.inner
            .snapshot
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    pub(crate) fn source_counters(&self) -> SourceCounters {
        let s = self.source_snapshot().status;
        SourceCounters {
            frames: s.frames,
            crc_errors: s.crc_errors,
            gaps: s.gaps,
            missing_frames: s.missing_frames,
            overrun_frames: s.overrun_frames,
            reconnects: s.reconnects,
            bytes_discarded: s.bytes_discarded,
            streaming: s.state == SourceState::Streaming,
        }
    }

    /// `GET /api/v1/source` body.
    pub fn source_json(&self) -> Value {
        let s = self.source_snapshot();
        let st = &s.status;
        let lead_off: Vec<&String> = s
            .channels
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < 16 && st.lead_off & (1 << i) != 0)
            .map(|(_, n)| n)
            .collect();
        json!({
            "kind": self.cfg().source.spec.kind(),
            "spec": self.cfg().source.spec.to_string(),
            "description": s.description,
            "state": if s.ended { "ended" } else { st.state.as_str() },
            "fs_hz": s.fs_hz,
            "channels": s.channels,
            "pipeline_leads": s.pipeline_leads,
            "firmware": s.firmware,
            "has_hw_pace": s.has_hw_pace,
            "frames": st.frames,
            "crc_errors": st.crc_errors,
            "bytes_discarded": st.bytes_discarded,
            "gaps": st.gaps,
            "missing_frames": st.missing_frames,
            "overrun_frames": st.overrun_frames,
            "reconnects": st.reconnects,
            "lead_off_bits": st.lead_off,
            "lead_off": lead_off,
            "last_error": st.last_error,
            "next_sample": s.next_sample,
            "pipeline_resets": s.pipeline_resets,
            "live_gaps": s.gaps,
            "recent_gaps": s.recent_gaps,
            "lead_quality": crate::live::lead_quality_json(
                &s.lead_quality,
                s.next_sample,
                s.fs_hz.unwrap_or(0.0),
            ),
            "is_simulator": self.inner.sim.is_some(),
        })
    }

    /// First message a WebSocket subscriber gets: what it is connected to, and where numbering is.
    pub fn hello_message(&self) -> Value {
        json!({
            "type": "hello",
            "seq": self.inner.hub.last_seq(),
            "version": self.inner.cfg.build.version,
            "commit": self.inner.cfg.build.commit,
            "source": self.source_json(),
            "active_measurement": self.inner.workflow.active_id(),
        })
    }
}
