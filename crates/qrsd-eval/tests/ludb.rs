//! The LUDB evaluation as a test: detection targets, coverage, and delineation accuracy bounds.
//!
//! Detection (Se, PPV ≥ 99.5 %) and coverage (≥ 95 %) are the targets and asserted as such. The
//! delineation targets (|mean| ≤ 5 ms, SD ≤ 10 ms) are met only in part (docs/validation.md): every
//! mean (II, V1, V6 and global) is asserted as the target, the SDs at today's figures + ~0.5 ms. The
//! default includes the learned boundary correction and the learned global boundary, trained on these
//! records: these are in-sample figures; the cross-validated ones (no record scored by a model that saw
//! it) come from `scripts/train/boundary_model.py` and `scripts/train/global_model.py`. `DelineationConfig::visible()` (the rules alone) is
//! kept at its own figures.
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

/// Every `(measure, max |mean| ms, max SD ms)` holds.
fn assert_within(t: &qrsd_eval::Tally, bounds: &[(&str, f64, f64)]) {
    for &(key, mean, sd) in bounds {
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
    // (measure, max |mean| ms, max SD ms): the mean target (5 ms), SDs today's + ~0.5 ms.
    let bounds = [
        ("II.onset", 5.0, 8.8),
        ("II.offset", 5.0, 9.9),
        ("II.qrsd", 5.0, 13.0),
        ("V1.onset", 5.0, 9.3),
        ("V1.offset", 5.0, 10.4),
        ("V1.qrsd", 5.0, 13.2),
        ("V6.onset", 5.0, 6.8),
        ("V6.offset", 5.0, 8.8),
        ("V6.qrsd", 5.0, 11.2),
        ("GLOBAL.onset", 5.0, 8.8),
        ("GLOBAL.offset", 5.0, 10.1),
        ("GLOBAL.qrsd", 5.0, 14.1),
    ];
    assert_within(t, &bounds);
    // Paced records (72 beats): no target of their own; today's + ~0.5 ms. Paced onsets moved by the
    // learned correction beyond its dead band (2026-12-06): global onset −1.61 ± 10.94 (at the rules'
    // position −0.89 ± 11.93). With the software stimulus detector one sample wider (third session):
    // one more stimulus found in record 74, whose beat had offsets ~150 ms off (II offset 19.60 → 5.41,
    // V6 offset 20.11 → 12.76, global QRSd 15.04 → 14.13; V6 onset 13.62 → 14.19). With weak stimulus
    // candidates (15 more stimuli found, none in unpaced records): II onset −1.97 ± 22.46 → +0.57 ±
    // 21.01, II QRSd 22.60 → 21.48 ms SD, but global onset 11.18 → 11.79 and QRSd −4.89 ± 14.13 → −7.03 ±
    // 14.94 (the onset now after the stimulus exposes the paced offsets' −6 ms bias).
    assert_within(
        &rep.paced,
        &[
            ("GLOBAL.onset", 5.0, 12.3),
            ("GLOBAL.qrsd", 10.0, 15.5),
            ("II.onset", 5.0, 21.5),
            ("V6.onset", 5.0, 14.7),
            ("II.offset", 5.0, 6.0),
            ("V6.offset", 5.0, 13.3),
        ],
    );
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
fn visible_profile_keeps_its_figures() {
    // The rules alone (no learned correction): the visible-deflection convention.
    let mut cfg = PipelineConfig::new(500.0, Vec::new());
    cfg.delineation = qrsd_delineate::DelineationConfig::visible();
    let rep = evaluate_ludb(&ludb_dir(), &cfg, Conditioning::Causal, None, None).unwrap();
    let t = &rep.all;
    assert!(t.se() >= 99.5 && t.ppv() >= 99.5);
    let bounds = [
        ("II.onset", 10.5, 13.8),
        ("II.offset", 7.7, 15.8),
        ("II.qrsd", 17.7, 23.2),
        ("V1.onset", 8.5, 12.5),
        ("V1.offset", 1.2, 12.1),
        ("V1.qrsd", 8.4, 17.5),
        ("V6.onset", 10.4, 10.7),
        ("V6.offset", 11.1, 13.1),
        ("V6.qrsd", 21.0, 17.4),
        ("GLOBAL.onset", 12.0, 11.8),
        ("GLOBAL.offset", 8.4, 11.8),
        ("GLOBAL.qrsd", 19.9, 17.8),
    ];
    assert_within(t, &bounds);
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
