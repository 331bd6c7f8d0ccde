//! The LUDB evaluation as a test: detection targets, coverage, and delineation accuracy bounds.
//!
//! Detection (Se, PPV ≥ 99.5 %) and coverage (≥ 95 %) are the targets and asserted as such. The
//! delineation targets (|mean| ≤ 5 ms, SD ≤ 10 ms) are met only in part (docs/validation.md): every
//! mean (II, V1, V6 and global) is asserted as the target, the SDs at today's figures + ~0.5 ms. The
//! default includes the learned boundary correction and the learned global boundary, trained on these
//! records: these are in-sample figures. The out-of-fold ones (every record scored through the real
//! pipeline by models trained without it, `qrsd_eval::train::cross_validate`) are the honest estimate
//! and are kept too, per beat and at site level (per-record median QRSd error, by reference width).
//! `DelineationConfig::visible()` (the rules alone) is kept at its own figures.
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
    // (measure, max |mean| ms, max SD ms): the mean target (5 ms), SDs today's + ~0.5 ms (2026-12-07,
    // the slow-footed synthetic beats labelled at their support; docs/validation.md). V1's offset
    // (+5.7) and QRSd (+7.2) miss the mean target since then (they were +3.8 / +2.8): bounded at
    // today's + 0.5 ms.
    let bounds = [
        ("II.onset", 5.0, 8.7),
        ("II.offset", 5.0, 10.5),
        ("II.qrsd", 5.0, 13.9),
        ("V1.onset", 5.0, 9.5),
        ("V1.offset", 6.2, 11.2),
        ("V1.qrsd", 7.7, 14.0),
        ("V6.onset", 5.0, 6.1),
        ("V6.offset", 5.0, 9.1),
        ("V6.qrsd", 5.0, 11.0),
        ("GLOBAL.onset", 5.0, 8.6),
        ("GLOBAL.offset", 5.0, 9.9),
        ("GLOBAL.qrsd", 5.0, 13.9),
    ];
    assert_within(t, &bounds);
    // Paced records (72 beats): no target of their own; today's + ~0.5 ms.
    assert_within(
        &rep.paced,
        &[
            ("GLOBAL.onset", 5.0, 11.5),
            ("GLOBAL.qrsd", 10.0, 14.4),
            ("II.onset", 5.0, 19.4),
            ("V6.onset", 5.0, 13.4),
            ("II.offset", 5.0, 7.8),
            ("V6.offset", 5.0, 10.5),
        ],
    );
    // Site level (in sample): per-record median global QRSd error, by reference width.
    let s = qrsd_eval::site::site_level(&rep.per_record, "GLOBAL");
    assert!(s.all.mean.abs() <= 3.0 && s.all.sd <= 10.6, "{:?}", s.all);
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

/// Out of fold: 5 folds grouped by record, each record scored by models trained without it, through
/// the real pipeline. Bounds: today's figures plus ~0.5 ms (2026-12-07), and the width-bin means
/// today's plus 1.5 ms (few records in the wide bins). The site-level targets of docs/validation.md (SD ≤ 7 ms,
/// |mean| ≤ 5 ms in every width bin) are not met, nor V1's offset mean (+5.8) and the II and V1
/// site means (+3.9, +7.2); these bounds keep what holds.
#[test]
fn out_of_fold_figures_hold() {
    let cfg = PipelineConfig::new(500.0, Vec::new());
    let rep = qrsd_eval::train::cross_validate(&ludb_dir(), &cfg).unwrap();
    let t = &rep.all;
    assert_eq!(rep.per_record.len(), 200, "every record scored once");
    assert_eq!(t.tp + t.fn_, 1826);
    assert!(t.se() >= 99.5 && t.ppv() >= 99.5);
    assert_within(
        t,
        &[
            ("II.onset", 5.0, 9.6),
            ("II.offset", 5.0, 11.2),
            ("II.qrsd", 5.0, 14.9),
            ("V1.onset", 5.0, 10.3),
            ("V1.offset", 6.3, 11.8),
            ("V1.qrsd", 7.8, 15.0),
            ("V6.onset", 5.0, 6.9),
            ("V6.offset", 5.0, 9.6),
            ("V6.qrsd", 5.0, 11.9),
            ("GLOBAL.onset", 5.0, 9.6),
            ("GLOBAL.offset", 5.0, 10.9),
            ("GLOBAL.qrsd", 5.0, 15.4),
        ],
    );
    // Issue 17 target 3 (LUDB's half): each paced record's median global QRSd within ±10 ms. Today 7
    // of 9 (45 −13, 8 +11 ms; 6 of 9 before paced onsets were placed inside the stimulus artefact).
    let paced: Vec<_> = qrsd_eval::site::record_medians(&rep.per_record, "GLOBAL")
        .into_iter()
        .filter(|r| qrsd_eval::LUDB_PACED.contains(&r.record.as_str()))
        .collect();
    assert_eq!(paced.len(), 9);
    let within = paced
        .iter()
        .filter(|r| r.median_error_ms.abs() <= 10.0)
        .count();
    assert!(
        within >= 7,
        "paced records within ±10 ms: {within} of 9: {:?}",
        paced
            .iter()
            .map(|r| (r.record.as_str(), r.median_error_ms))
            .collect::<Vec<_>>()
    );
    // (lead, max |site mean|, max site SD, max |bin mean| per width bin <110, 110-130, 130-150, >=150)
    for (lead, mean, sd, bins) in [
        ("GLOBAL", 3.0, 11.5, [8.8, 2.6, 7.7, 12.3]),
        ("II", 4.5, 10.7, [6.2, 3.3, 2.4, 6.2]),
        ("V1", 7.7, 11.7, [10.9, 1.8, 1.9, 13.3]),
        ("V6", 3.0, 8.4, [4.5, 5.9, 7.1, 4.5]),
    ] {
        let s = qrsd_eval::site::site_level(&rep.per_record, lead);
        assert!(
            s.all.mean.abs() <= mean && s.all.sd <= sd,
            "{lead} site {:+.1} ± {:.1}",
            s.all.mean,
            s.all.sd
        );
        for (b, st) in s.bins.iter().enumerate() {
            assert!(
                st.mean.abs() <= bins[b],
                "{lead} width bin {}: {:+.1} ms over {} records",
                qrsd_eval::site::WIDTH_BIN_LABELS[b],
                st.mean,
                st.n
            );
        }
    }
}

/// The shipped model file is what training writes from today's data and code, byte for byte
/// (`qrsd eval ludb DIR --train-out FILE`). When this fails after a change to the rules, the pace
/// detector or the synthetic set, retrain and commit the file with the figures it gives.
#[test]
fn shipped_models_are_what_training_writes() {
    let trained = qrsd_eval::train::train_all(&ludb_dir()).unwrap();
    let shipped = include_str!("../../qrsd-delineate/models/boundary-models.json");
    assert!(
        trained.to_json() == shipped,
        "crates/qrsd-delineate/models/boundary-models.json is stale: run `cargo run --release -- \
         eval ludb ../shared/data/ludb --train-out crates/qrsd-delineate/models/boundary-models.json`"
    );
}
