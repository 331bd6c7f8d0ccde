//! The build identity: `qrsd --version` names the version and the git commit the binary was built from,
//! and everything qrsd writes carries the same — the analyze JSON, recordings (`qrsd record` and the
//! service's), `/healthz`, and each procedure and its report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::{http, spawn_serve, temp_dir, Serve};

/// What build.rs gave this package (the integration tests are built with the same environment).
const COMMIT: &str = env!("QRSD_COMMIT");
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn qrsd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_qrsd"))
}

fn long() -> String {
    format!("{VERSION} (commit {COMMIT})")
}

/// The header comment of a recording that names the recorder.
fn recorder_line(hea: &Path) -> String {
    let text = std::fs::read_to_string(hea).unwrap();
    text.lines()
        .find(|l| l.starts_with("# qrsd recorder "))
        .unwrap_or_else(|| panic!("no recorder line in {}:\n{text}", hea.display()))
        .to_string()
}

#[test]
fn build_script_took_the_commit_from_git() {
    // The build script's answer against git's own, asked here independently (git is on every
    // machine that builds from a clone; without it the build says `unknown`).
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running `git` (the build script reads the commit with it)");
    assert!(
        head.status.success(),
        "git rev-parse failed: {}",
        String::from_utf8_lossy(&head.stderr)
    );
    let head = String::from_utf8(head.stdout).unwrap().trim().to_string();
    assert_eq!(head.len(), 12, "{head}");
    assert!(
        COMMIT == head || COMMIT == format!("{head}-dirty"),
        "built as {COMMIT}, HEAD is {head}"
    );
}

#[test]
fn version_names_version_and_commit() {
    let out = qrsd().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.trim(), format!("qrsd {}", long()));
    assert!(!COMMIT.is_empty());
}

#[test]
fn analyze_json_carries_the_build() {
    let rec =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ludb/data/1.hea");
    let out = qrsd()
        .arg("analyze")
        .arg(&rec)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["software"],
        json!({"name": "qrsd", "version": VERSION, "commit": COMMIT})
    );
    // The documented keys are still there beside it.
    assert_eq!(v["sampling_rate_hz"].as_f64(), Some(500.0));
    assert!(!v["beats"].as_array().unwrap().is_empty());
}

#[test]
fn record_header_carries_the_build() {
    let dir = temp_dir("version-record");
    let out = qrsd()
        .args([
            "record",
            "--source",
            "sim",
            "--seconds",
            "1",
            "--speed",
            "max",
            "--name",
            "v",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hea = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert_eq!(recorder_line(&hea), format!("# qrsd recorder {}", long()));
}

#[test]
fn service_procedure_report_and_recording_carry_the_build() {
    let data = temp_dir("version-serve");
    let mut cmd = qrsd();
    cmd.args(["serve", "--port", "0", "--data"]).arg(&data);
    let (child, addr) = spawn_serve(cmd);
    let _s = Serve { child, addr };

    let (st, h) = http(addr, "GET", "/healthz", None);
    assert_eq!(st, 200, "{h}");
    assert_eq!(
        (h["version"].as_str(), h["commit"].as_str()),
        (Some(VERSION), Some(COMMIT))
    );

    let (st, p) = http(
        addr,
        "POST",
        "/api/v1/procedures",
        Some(&json!({"case_id": "VERSION"})),
    );
    assert_eq!(st, 201, "{p}");
    let id = p["id"].as_i64().unwrap();
    let (st, r) = http(
        addr,
        "GET",
        &format!("/api/v1/procedures/{id}/report"),
        None,
    );
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["software"]["version"], VERSION);
    assert_eq!(r["software"]["commit"], COMMIT);
    assert_eq!(r["procedure"]["software_version"], long().as_str(), "{r}");
    let (st, html) = http(
        addr,
        "GET",
        &format!("/api/v1/procedures/{id}/report.html"),
        None,
    );
    assert_eq!(st, 200);
    let html = html.as_str().unwrap().to_string();
    assert!(html.contains(&format!("(commit {COMMIT})")), "{html}");

    // The live recording's header (written at the first flush, within a second of the first samples).
    let t0 = Instant::now();
    let hea = loop {
        let found = std::fs::read_dir(data.join("recordings"))
            .ok()
            .and_then(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .find(|p| p.extension().is_some_and(|x| x == "hea"))
            });
        if let Some(h) = found {
            break h;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no recording appeared"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(recorder_line(&hea), format!("# qrsd recorder {}", long()));
}
