//! The MIT-BIH (AAMI EC57) evaluation as a test: today's figures on the dev records, the noise-stress
//! variants of records 118 and 119, and the paced record 217 are kept, with small margins (the figures
//! and the targets they fall short of: docs/validation.md, "MIT-BIH").
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use qrsd_eval::mitdb::{evaluate_mitdb, evaluate_mitdb_at, Group, NoiseStress};
use qrsd_pipeline::{BeatClass, PipelineConfig};
use std::path::PathBuf;

fn mitdb_dir() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mitdb");
    assert!(
        p.join("RECORDS").exists(),
        "MIT-BIH is needed at {}",
        p.display()
    );
    p
}

fn cfg() -> PipelineConfig {
    PipelineConfig::new(360.0, Vec::new())
}

#[test]
fn mitdb_detection_and_class_do_not_regress() {
    let rep = evaluate_mitdb(&mitdb_dir(), &cfg(), None, None).unwrap();
    assert_eq!(rep.per_record.len(), 39);
    let g = &rep.gross;
    // Every labelled beat after the learning period, outside ventricular flutter.
    assert_eq!(g.tp() + g.fn_(), 74424);
    // Today 99.91 % (99.92 % before the quiet-steps stimulus test; 99.87 % before the per-lead slope
    // cap, R off the QRS placed over readable leads and the 30 % T-wave test only after wide QRS,
    // issue 18 stage 8; 99.82 % before the late
    // T-wave test applied only after a wide QRS: MIT-BIH 201's aberrated APCs; 99.77 % before a peak
    // with half the last QRS's envelope was a beat whatever its slope; 99.79 % before the threshold
    // rose where any lead is noisy).
    assert!(g.se() >= 99.88, "QRS Se {:.2}%", g.se());
    // Today 99.81 % (99.75 % before search-back needed a fifth of the last QRS's envelope and the
    // signal level stopped at 3x the noise level in pauses; 99.62 % before undelineable search-back detections were dropped, 99.53 % before
    // the threshold rose where any lead is noisy, 99.42 % before it rose where every lead is).
    assert!(g.ppv() >= 99.8, "QRS PPV {:.2}%", g.ppv());
    // The per-record target, both ways: every record's Se counting every detection, and its PPV
    // with the detections classed noise left out (false beats in noise labelled so), ≥ 99 %.
    // Today the lowest are 203 (Se 99.31 %, PPV 99.35 %), 201 (Se 99.34 %) and 232 (PPV 99.40 %).
    for (name, c) in &rep.per_record {
        let (_, ppv_n) = c.se_ppv_excluding_noise();
        assert!(
            c.se() >= 99.0 && ppv_n >= 99.0,
            "record {name}: Se {:.2}%, PPV with noise left out {ppv_n:.2}%",
            c.se()
        );
    }
    // Today 99.74 % / 99.90 % with the detections classed noise left out (an unreadable stretch's
    // detection is a beat when it correlates ≥ 0.6 with one of the record's shapes; 99.61 % / 99.91 %
    // before, with `unknown` detections left out too).
    let (se_n, ppv_n) = g.se_ppv_excluding_noise();
    assert!(
        se_n >= 99.65 && ppv_n >= 99.85,
        "without noise-classed: Se {se_n:.2}% PPV {ppv_n:.2}%"
    );
    // What a baseline measurement (intrinsic beats) would take in: V beats and false detections
    // classed intrinsic. Today 167 and 18 (215 and 31 before a premature beat very unlike the usual
    // one yet narrower or much smaller was `unknown`, not conducted).
    let (n_v, v_intrinsic) = g.share(Group::V, BeatClass::Intrinsic);
    let v_intrinsic = (v_intrinsic * n_v as f64 / 100.0).round() as usize;
    let false_intrinsic = g.extra[0];
    assert!(
        v_intrinsic <= 175 && false_intrinsic <= 24,
        "classed intrinsic: {v_intrinsic} V beats, {false_intrinsic} false detections"
    );
    let u = &rep.gross_unpaced;
    // Today 95.58 % / 96.58 % (93.94 % / 96.54 % before a run of a new shape with the P wave only
    // now and then stayed ectopic and an on-time beat after the usual P wave was conducted, a9e8f63;
    // PPV 96.76 % before the detector found 201's flat aberrated APCs, which are classed ectopic;
    // 94.14 % / 95.14 % at d5a5f9a). History in docs/validation.md.
    assert!(u.veb_se() >= 95.2, "VEB Se {:.2}%", u.veb_se());
    assert!(u.veb_ppv() >= 96.3, "VEB PPV {:.2}%", u.veb_ppv());
}

#[test]
fn mitdb_at_250_hz_holds() {
    // A Holter recorder's rate: every record resampled to 250 Hz (linear; labels moved along).
    let rep = evaluate_mitdb_at(&mitdb_dir(), &cfg(), None, None, None, Some(250.0)).unwrap();
    assert_eq!(rep.per_record.len(), 39);
    let g = &rep.gross;
    // Today 99.91 / 99.85 %, as at 360 Hz.
    assert!(
        g.se() >= 99.85 && g.ppv() >= 99.8,
        "QRS Se {:.2}% PPV {:.2}%",
        g.se(),
        g.ppv()
    );
    // Today 95.30 / 96.54 % (360 Hz: 95.58 / 96.58 %).
    let u = &rep.gross_unpaced;
    assert!(
        u.veb_se() >= 95.0 && u.veb_ppv() >= 96.2,
        "VEB Se {:.2}% PPV {:.2}%",
        u.veb_se(),
        u.veb_ppv()
    );
    // Today 96.3 % of 217's paced beats classed paced, 3.9 % of its fusion beats.
    let (_, c217) = rep.per_record.iter().find(|(n, _)| n == "217").unwrap();
    let (_, paced) = c217.share(Group::Paced, BeatClass::Paced);
    let (_, fusion) = c217.share(Group::PacedFusion, BeatClass::Paced);
    assert!(
        paced >= 95.5 && fusion <= 5.0,
        "217: paced {paced:.1}%, fusion {fusion:.1}%"
    );
    // Scored detections of the 38 unpaced records classed paced: today 19 (over the whole records 20;
    // 36 when a software stimulus needed only the one step before it quiet: electrode-noise jumps
    // in 200's V1).
    let false_paced: usize = rep
        .per_record
        .iter()
        .filter(|(n, _)| n != "217")
        .map(|(_, c)| c.classed(BeatClass::Paced))
        .sum();
    assert!(
        false_paced <= 23,
        "{false_paced} beats of unpaced records classed paced"
    );
}

/// `(SNR dB, min Se %, min PPV %)` of the bw+ma noise-stress variants of 118 and 119, counting every
/// detection, and the same with the detections classed `noise` left out.
/// At most `max_n_paced` N-like beats may be classed paced (118 and 119 are not paced records: a
/// noise spike taken for a stimulus).
fn noise_stress_holds(snr_db: f64, all: (f64, f64), without_noise: (f64, f64), max_n_paced: usize) {
    let dir = mitdb_dir();
    let only = ["118".to_string(), "119".to_string()];
    let noise = NoiseStress {
        snr_db,
        noise_records: vec![dir.join("bw.hea"), dir.join("ma.hea")],
    };
    let rep = evaluate_mitdb(&dir, &cfg(), Some(&only), Some(&noise)).unwrap();
    let g = &rep.gross;
    assert!(
        g.se() >= all.0 && g.ppv() >= all.1,
        "{snr_db} dB: Se {:.2}% PPV {:.2}% (bounds {all:?})",
        g.se(),
        g.ppv()
    );
    let (se, ppv) = g.se_ppv_excluding_noise();
    assert!(
        se >= without_noise.0 && ppv >= without_noise.1,
        "{snr_db} dB without noise-classed: Se {se:.2}% PPV {ppv:.2}% (bounds {without_noise:?})"
    );
    let (n, pct) = g.share(Group::N, BeatClass::Paced);
    let n_paced = (pct * n as f64 / 100.0).round() as usize;
    assert!(
        n_paced <= max_n_paced,
        "{snr_db} dB: {n_paced} N-like beats classed paced (bound {max_n_paced})"
    );
}

#[test]
fn noise_stress_12_db_does_not_regress() {
    // Today 100.00 / 99.55 %, without noise-classed 100.00 / 99.72 % (99.97 / 99.47 % before the
    // noise switched on and off without a step, as `nst` adds it; history in docs/history.md).
    // N-like beats classed paced: 0 (1 before a software stimulus needed 3 quiet steps before it).
    noise_stress_holds(12.0, (99.8, 99.5), (99.5, 99.5), 1);
}

#[test]
fn noise_stress_6_db_does_not_regress() {
    // Today 99.58 / 94.03 %, without noise-classed 99.22 / 97.88 % (the targets: 99 / 97 %); 97.37 %
    // PPV before an undelineated detection in a noisy stretch needed one of the record's shapes too;
    // 92.62 / 98.05 % (`unknown` left out as well) when an unreadable stretch's detection needed
    // ≥ 0.9 likeness to the usual beat, not ≥ 0.6 to any of the record's recurring shapes.
    // N-like beats classed paced: 9 (20 before a software stimulus needed 3 quiet steps before it,
    // not 1; noise spikes above the pace detector's own threshold).
    noise_stress_holds(6.0, (99.3, 93.0), (99.0, 97.5), 12);
}

#[test]
fn record_217_paced_and_fusion_beats() {
    let only = ["217".to_string()];
    let rep = evaluate_mitdb(&mitdb_dir(), &cfg(), Some(&only), None).unwrap();
    let c = &rep.gross;
    assert!(
        c.se() >= 99.8 && c.ppv() >= 99.8,
        "217 Se {:.2} PPV {:.2}",
        c.se(),
        c.ppv()
    );
    let (n_paced, paced) = c.share(Group::Paced, BeatClass::Paced);
    assert_eq!(n_paced, 1241);
    // Today 96.5 % (target ≥ 95 %).
    assert!(paced >= 96.0, "paced beats classed paced {paced:.1}%");
    let (_, fusion_paced) = c.share(Group::PacedFusion, BeatClass::Paced);
    assert!(
        fusion_paced <= 5.0,
        "fusion classed paced {fusion_paced:.1}%"
    );
}

#[test]
fn record_217_paced_beats_through_12_db_noise() {
    let dir = mitdb_dir();
    let only = ["217".to_string()];
    let noise = NoiseStress {
        snr_db: 12.0,
        noise_records: vec![dir.join("bw.hea"), dir.join("ma.hea")],
    };
    let rep = evaluate_mitdb(&dir, &cfg(), Some(&only), Some(&noise)).unwrap();
    let c = &rep.gross;
    // Today 77.7 % of `/` paced (79.2 % before the quality stage) and 3.5 % of `f` (noise hides the
    // spike or changes the shape in the noisy segments; docs/validation.md).
    let (_, paced) = c.share(Group::Paced, BeatClass::Paced);
    assert!(paced >= 76.0, "paced beats classed paced {paced:.1}%");
    let (_, fusion_paced) = c.share(Group::PacedFusion, BeatClass::Paced);
    assert!(
        fusion_paced <= 6.0,
        "fusion classed paced {fusion_paced:.1}%"
    );
}
