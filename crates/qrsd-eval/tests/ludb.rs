//! The LUDB evaluation as a test: detection targets, coverage, and delineation accuracy bounds.
//!
//! Detection (Se, PPV ≥ 99.5 %) and coverage (≥ 95 %) are the targets and asserted as such. The
//! delineation targets (|mean| ≤ 5 ms, SD ≤ 10 ms) are NOT met (docs/validation.md). The default
//! delineator marks the first/last deflection that stands out of the noise (what the simulator's truth
//! is, and where it is within 2 ms); LUDB's cardiologists mark onsets ≈ 14 ms earlier and offsets ≈ 12 ms
//! later than that, so the default's means are that convention offset, asserted at today's level; its
//! SDs are today's figures + ~0.5 ms. `DelineationConfig::ludb_convention()` (the default shifted by
//! those two constants) meets the mean targets for II, V6 and global; asserted as targets where met.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use qrsd_eval::{evaluate_ludb, Conditioning};
use qrsd_pipeline::PipelineConfig;
use std::path::PathBuf;

fn ludb_dir() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ludb");
    assert!(
        p.join("RECORDS").exists(),
        "LUDB is needed at {}",
        p.display()
    );
    p
}

#[test]
fn ludb_detection_meets_targets_and_delineation_does_not_regress() {
    let cfg = PipelineConfig::new(500.0, Vec::new());
    let rep = evaluate_ludb(&ludb_dir(), &cfg, Conditioning::Causal, None, None).unwrap();
    let t = &rep.all;
    assert_eq!(
        t.tp + t.fn_,
        1826,
        "LUDB has 1826 annotated beats in lead II"
    );
    assert!(t.se() >= 99.5, "Se {:.2}%", t.se());
    assert!(t.ppv() >= 99.5, "PPV {:.2}%", t.ppv());
    // (measure, max |mean| ms, max SD ms) = today's figures + ~0.5 ms (means: the convention offset). The
    // slope-noise floor of 0.6 µV/ms (noise-free simulator: no chasing of notch ring-down) moved the means
    // 0.5-1.6 ms further from LUDB's convention and left the SDs within 0.5 ms: a deliberate trade.
    let bounds = [
        ("II.onset", 14.4, 13.7),
        ("II.offset", 12.5, 16.5),
        ("II.qrsd", 26.4, 24.0),
        ("V1.onset", 12.1, 12.3),
        ("V1.offset", 5.8, 11.9),
        ("V1.qrsd", 17.4, 17.2),
        ("V6.onset", 15.1, 10.5),
        ("V6.offset", 16.2, 13.3),
        ("V6.qrsd", 30.8, 17.6),
        ("GLOBAL.onset", 15.8, 11.2),
        ("GLOBAL.offset", 14.1, 12.5),
        ("GLOBAL.qrsd", 29.4, 18.4),
    ];
    for (key, mean, sd) in bounds {
        let s = t.stats(key);
        assert!(
            s.mean.abs() <= mean && s.sd <= sd,
            "{key}: {:+.2} ± {:.2} ms (bound ±{mean}, SD {sd})",
            s.mean,
            s.sd
        );
    }
    for key in [
        "II.onset",
        "II.offset",
        "V6.onset",
        "V6.offset",
        "GLOBAL.onset",
        "GLOBAL.offset",
    ] {
        assert!(
            t.coverage(key) >= 95.0,
            "{key} reported for {:.1}% of beats",
            t.coverage(key)
        );
    }
}

#[test]
fn ludb_convention_profile_meets_mean_targets_where_it_does() {
    let mut cfg = PipelineConfig::new(500.0, Vec::new());
    cfg.delineation = qrsd_delineate::DelineationConfig::ludb_convention();
    let rep = evaluate_ludb(&ludb_dir(), &cfg, Conditioning::Causal, None, None).unwrap();
    let t = &rep.all;
    assert!(t.se() >= 99.5 && t.ppv() >= 99.5);
    // Targets: |mean| ≤ 5 ms where met; SD at today's level + ~0.5 ms (the target 10 ms is not met;
    // V6 onset is at 10.0). V1 offset/QRSd means are today's level.
    let bounds = [
        ("II.onset", 5.0, 13.7),
        ("II.offset", 5.0, 16.5),
        ("II.qrsd", 5.0, 24.0),
        ("V1.onset", 5.0, 12.1),
        ("V1.offset", 8.3, 11.8),
        ("V1.qrsd", 11.5, 16.7),
        ("V6.onset", 5.0, 10.5),
        ("V6.offset", 5.0, 13.5),
        ("V6.qrsd", 5.0, 18.3),
        ("GLOBAL.onset", 5.0, 11.0),
        ("GLOBAL.offset", 5.0, 12.8),
        ("GLOBAL.qrsd", 5.0, 18.5),
    ];
    for (key, mean, sd) in bounds {
        let s = t.stats(key);
        assert!(
            s.mean.abs() <= mean && s.sd <= sd,
            "{key}: {:+.2} ± {:.2} ms (bound ±{mean}, SD {sd})",
            s.mean,
            s.sd
        );
    }
}

#[test]
fn causal_conditioning_keeps_offset_timing_of_zero_phase() {
    // The live causal 0.5 Hz high-pass must not move QRS offsets against an offline zero-phase run.
    let cfg = PipelineConfig::new(500.0, Vec::new());
    let only: Vec<String> = (1..=60).map(|i| i.to_string()).collect();
    let dir = ludb_dir();
    let causal = evaluate_ludb(&dir, &cfg, Conditioning::Causal, Some(&only), None).unwrap();
    let zero = evaluate_ludb(&dir, &cfg, Conditioning::ZeroPhase, Some(&only), None).unwrap();
    for lead in ["II", "V1", "V6", "GLOBAL"] {
        let k = format!("{lead}.offset");
        let d = causal.all.stats(&k).mean - zero.all.stats(&k).mean;
        assert!(
            d.abs() <= 2.0,
            "{k}: causal − zero-phase mean offset {d:+.2} ms"
        );
    }
}
