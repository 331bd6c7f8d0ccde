//! Shared test helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod bins;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use qrsd_acquire::{SourceEvent, SourceHandle};

/// A fresh, empty directory under the target dir's tmp (kept for inspection after failures).
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let d = base.join(format!(
        "qrsd-acquire-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// All events until Ended (or 30 s of silence).
pub fn collect(h: &SourceHandle) -> Vec<SourceEvent> {
    let mut v = Vec::new();
    while let Ok(ev) = h.events.recv_timeout(Duration::from_secs(30)) {
        let end = ev == SourceEvent::Ended;
        v.push(ev);
        if end {
            break;
        }
    }
    v
}
