//! The live session recording: every source event goes to qrsd-acquire's crash-safe WFDB recorder on
//! its own thread (bounded queue; a full queue becomes a `recorder_overrun` gap in the recording, never
//! a wait on the live thread). Files go to `<data>/recordings/`.

use crate::live::LiveSink;
use qrsd_acquire::record::{Recorder, RecorderOptions, RecorderStatus, RecorderThread};
use qrsd_acquire::SourceEvent;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Shared handle: the sink writes, the service reads the status (report, `/api/v1/source`).
#[derive(Clone, Default)]
pub struct RecordingHandle(Arc<Mutex<Option<RecorderThread>>>);

impl RecordingHandle {
    /// Recorder progress (None when not recording).
    pub fn status(&self) -> Option<RecorderStatus> {
        self.0.lock().ok()?.as_ref().map(|r| r.status())
    }

    /// Close the record (flush, final header).
    pub fn finish(&self) {
        let r = self.0.lock().ok().and_then(|mut g| g.take());
        if let Some(r) = r {
            match r.finish() {
                Ok(s) => tracing::info!(summary = ?s, "recording closed"),
                Err(e) => tracing::warn!(error = %e, "recording close failed"),
            }
        }
    }
}

struct Sink(RecordingHandle);

impl LiveSink for Sink {
    fn source_event(&mut self, ev: &SourceEvent) {
        if let Ok(g) = self.0 .0.lock() {
            if let Some(r) = g.as_ref() {
                let _ = r.send(ev);
            }
        }
    }
}

/// Start recording into `<data_dir>/recordings`; `None` (logged) when the recorder cannot start —
/// measuring goes on without a recording.
pub fn start(
    data_dir: &Path,
    build: &crate::Build,
) -> (RecordingHandle, Option<Box<dyn LiveSink>>) {
    let dir: PathBuf = data_dir.join("recordings");
    let h = RecordingHandle::default();
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::warn!(error = %e, dir = %dir.display(), "no recording: cannot create folder");
        return (h, None);
    }
    let opts = RecorderOptions {
        software_version: build.to_string(),
        ..RecorderOptions::default()
    };
    let rec = match Recorder::new(&dir, opts) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "no recording: recorder did not start");
            return (h, None);
        }
    };
    match RecorderThread::spawn(rec, 1024) {
        Ok(t) => {
            if let Ok(mut g) = h.0.lock() {
                *g = Some(t);
            }
            (h.clone(), Some(Box::new(Sink(h))))
        }
        Err(e) => {
            tracing::warn!(error = %e, "no recording: recorder thread did not start");
            (h, None)
        }
    }
}
