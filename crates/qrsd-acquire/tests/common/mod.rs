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

/// The Python interpreter the tests run: `QRSD_PYTHON` (scripts/test.sh points it at the project's
/// venv, which has the pinned `wfdb`), else `python3` on PATH.
pub fn python() -> String {
    std::env::var("QRSD_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Run scripts/check_recording.py (PhysioNet's Python `wfdb`, independent of qrsd) on a recording
/// with `--json` and these expectations, and return its summary. When it cannot run, the panic says
/// which tool is missing (the interpreter, or its `wfdb`/`numpy`) rather than an empty assertion.
pub fn check_recording(hea: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let py = python();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/check_recording.py");
    let out = std::process::Command::new(&py)
        .arg(&script)
        .arg(hea)
        .arg("--json")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run Python `{py}` for scripts/check_recording.py ({e}): install python3, or \
                 run ./scripts/test.sh, which makes .venv and sets QRSD_PYTHON"
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let hint = if stderr.contains("No module named") {
            format!(
                "\n`{py}` lacks Python wfdb (or numpy), which this check needs: run ./scripts/test.sh \
                 (it makes .venv and sets QRSD_PYTHON), or `{py} -m pip install -r tests/requirements.txt`"
            )
        } else {
            String::new()
        };
        panic!(
            "scripts/check_recording.py {} {args:?} failed ({}):\n{stdout}\n{stderr}{hint}",
            hea.display(),
            out.status
        );
    }
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("check_recording.py printed no JSON ({e}): {stdout}"))
}
