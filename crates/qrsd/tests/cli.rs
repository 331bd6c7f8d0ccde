//! `qrsd analyze --json` on real and broken files.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use std::path::PathBuf;
use std::process::Command;

fn qrsd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_qrsd"))
}

fn ludb(rec: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../../shared/data/ludb/data/{rec}.hea"))
}

/// `qrsd analyze <LUDB record> --json [extra]`, which must succeed.
fn analyze_json(rec: &str, extra: &[&str]) -> serde_json::Value {
    let out = qrsd()
        .arg("analyze")
        .arg(ludb(rec))
        .arg("--json")
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn analyze_json_follows_the_documented_schema() {
    let v = analyze_json("1", &[]);
    assert_eq!(v["sampling_rate_hz"].as_f64(), Some(500.0));
    let beats = v["beats"].as_array().unwrap();
    assert!(beats.len() >= 6, "{} beats", beats.len());
    for b in beats {
        let r = b["r_sample"].as_u64().unwrap();
        assert!(["intrinsic", "paced", "ectopic", "unknown", "noise"]
            .contains(&b["class"].as_str().unwrap()));
        // LUDB record 1 is clean throughout.
        assert_eq!(b["quality"].as_str(), Some("clean"));
        assert!(b["pace_sample"].is_null() || b["pace_sample"].is_u64());
        let (on, off) = (
            b["global"]["onset_sample"].as_u64().unwrap(),
            b["global"]["offset_sample"].as_u64().unwrap(),
        );
        assert!(on < r && r < off, "R {r} outside its QRS {on}..{off}");
        let leads = b["leads"].as_object().unwrap();
        let (mut early, mut late) = (0, 0);
        for name in [
            "I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6",
        ] {
            let l = &leads[name];
            for k in ["onset_sample", "offset_sample"] {
                assert!(l[k].is_null() || l[k].is_u64(), "{name}.{k}");
            }
            if let (Some(a), Some(z)) = (l["onset_sample"].as_u64(), l["offset_sample"].as_u64()) {
                assert!(a <= z, "lead {name}: onset after offset");
                early += usize::from(a < on);
                late += usize::from(z > off);
            }
        }
        // Global = 2nd-earliest onset to 2nd-latest offset (docs/algorithms.md): at most one lead outside.
        assert!(
            early <= 1 && late <= 1,
            "{early} leads start before and {late} end after the global QRS"
        );
    }
}

#[test]
fn analyze_convention_visible_is_the_rules_without_the_learned_correction() {
    let (learned, visible) = (
        analyze_json("1", &[]),
        analyze_json("1", &["--convention", "visible"]),
    );
    let (a, b) = (
        learned["beats"].as_array().unwrap(),
        visible["beats"].as_array().unwrap(),
    );
    assert_eq!(a.len(), b.len());
    // The correction moves a boundary by at most 30 ms (15 samples at 500 Hz); on this record's
    // gradual feet it moves most onsets earlier and most offsets later.
    let (mut n, mut earlier, mut later) = (0, 0, 0);
    for (x, y) in a.iter().zip(b) {
        for (lead, bx) in x["leads"].as_object().unwrap() {
            let by = &y["leads"][lead];
            let (Some(o1), Some(o2), Some(f1), Some(f2)) = (
                bx["onset_sample"].as_i64(),
                by["onset_sample"].as_i64(),
                bx["offset_sample"].as_i64(),
                by["offset_sample"].as_i64(),
            ) else {
                continue;
            };
            assert!((o1 - o2).abs() <= 15, "{lead} onset {o2} -> {o1}");
            assert!((f1 - f2).abs() <= 15, "{lead} offset {f2} -> {f1}");
            n += 1;
            earlier += usize::from(o1 < o2);
            later += usize::from(f1 > f2);
        }
    }
    assert!(
        n > 50 && earlier * 2 > n && later * 2 > n,
        "of {n} leads: {earlier} onsets earlier, {later} offsets later"
    );
    let bad = qrsd()
        .args(["analyze", "--convention", "cardio"])
        .arg(ludb("1"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn analyze_reports_bad_files_clearly() {
    let dir = std::env::temp_dir().join(format!("qrsd-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.hea");
    std::fs::write(&bad, "this is not a header\n").unwrap();
    for path in [bad, dir.join("missing.hea"), dir.join("x.unknown")] {
        let out = qrsd()
            .arg("analyze")
            .arg(&path)
            .arg("--json")
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(out.stdout.is_empty(), "nothing on stdout for a bad file");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("Error") && err.len() > 20,
            "unclear error: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eval_rejects_an_absurd_resampling_rate_clearly() {
    let mitdb = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mitdb");
    let ludb_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ludb");
    for (db, dir, rate, says) in [
        ("mitdb", &mitdb, "50", "100-10000 Hz"),
        ("mitdb", &mitdb, "1e9", "100-10000 Hz"),
        ("mitdb", &mitdb, "NaN", "100-10000 Hz"),
        ("ludb", &ludb_dir, "250", "not LUDB"),
    ] {
        let out = qrsd()
            .args(["eval", db])
            .arg(dir)
            .args(["--records", "100", "--resample-hz", rate])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{db} at {rate} Hz accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(says),
            "{db} at {rate} Hz: unclear error: {err}"
        );
    }
}
