//! `qrsd eval` must agree with the project's reference scorer (shared/tools/score_delineation.py).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use qrsd_eval::{evaluate_ludb, Conditioning};
use qrsd_pipeline::PipelineConfig;
use std::path::PathBuf;
use std::process::Command;

#[test]
fn rust_evaluation_equals_reference_scorer() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let db = root.join("shared/data/ludb");
    let scorer = root.join("shared/tools/score_delineation.py");
    assert!(
        scorer.exists(),
        "reference scorer missing at {}",
        scorer.display()
    );
    let out = std::env::temp_dir().join(format!("qrsd-scorer-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    // A subset with paced records keeps the Python side quick; the scorer reads RECORDS, so give it one.
    let only: Vec<String> = ["1", "2", "8", "34", "74", "93", "120", "196"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let sub = out.join("db");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(
        sub.join("RECORDS"),
        only.iter().map(|r| format!("{r}\n")).collect::<String>(),
    )
    .unwrap();
    for r in &only {
        for ext in [
            "hea", "dat", "i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6",
        ] {
            let from = db.join(format!("data/{r}.{ext}"));
            let to = sub.join(format!("{r}.{ext}"));
            let _ = std::fs::remove_file(&to);
            std::os::unix::fs::symlink(&from, &to).unwrap();
        }
    }
    let json = out.join("json");
    std::fs::create_dir_all(&json).unwrap();
    let cfg = PipelineConfig::new(500.0, Vec::new());
    let rep = evaluate_ludb(&sub, &cfg, Conditioning::Causal, None, Some(&json)).unwrap();
    // QRSD_PYTHON: scripts/test.sh points it at the project's venv, which has the pinned wfdb.
    let python = std::env::var("QRSD_PYTHON").unwrap_or_else(|_| "python3".into());
    let py = Command::new(&python)
        .arg(&scorer)
        .arg(&sub)
        .arg(&json)
        .arg("--json")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run Python `{python}` for the reference scorer ({e}): install python3, or \
                 run ./scripts/test.sh, which makes .venv and sets QRSD_PYTHON"
            )
        });
    let stderr = String::from_utf8_lossy(&py.stderr);
    assert!(
        !stderr.contains("No module named"),
        "`{python}` lacks Python wfdb, which the reference scorer needs: run ./scripts/test.sh (it \
         makes .venv and sets QRSD_PYTHON), or `{python} -m pip install -r tests/requirements.txt`\n{stderr}"
    );
    assert!(
        py.status.success(),
        "the reference scorer failed ({}): {stderr}",
        py.status
    );
    let v: serde_json::Value = serde_json::from_slice(&py.stdout).unwrap();
    assert_eq!(v["tp"].as_u64().unwrap() as usize, rep.all.tp);
    assert_eq!(v["fn"].as_u64().unwrap() as usize, rep.all.fn_);
    assert_eq!(v["fp"].as_u64().unwrap() as usize, rep.all.fp);
    let mut compared = 0;
    for lead in ["II", "V1", "V6", "GLOBAL"] {
        for m in ["onset", "offset", "qrsd"] {
            let key = format!("{lead}.{m}");
            let e = &v["errors_ms"][&key];
            let s = rep.all.stats(&key);
            assert_eq!(e["n"].as_u64().unwrap() as usize, s.n, "{key} n");
            for (name, ours) in [("mean", s.mean), ("sd", s.sd), ("mae", s.mae)] {
                let theirs = e[name].as_f64().unwrap();
                assert!(
                    (theirs - ours).abs() <= 0.006,
                    "{key} {name}: scorer {theirs} vs ours {ours}"
                );
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 36);
    let _ = std::fs::remove_dir_all(&out);
}
