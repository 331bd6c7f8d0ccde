#![allow(clippy::unwrap_used, clippy::expect_used)]
//! LUDB with MIT-BIH muscle and baseline-wander noise added (`qrsd_eval::noisy`, the `nst` way) at 18
//! and 12 dB: the delineation's figures in noise, kept at today's values plus a margin
//! (`cargo run --release -p qrsd-eval --example ludb_noise` prints them; docs/validation.md).
//! Measured 2026-12-07 with the global QRS held within the leads' spread of their median: 18 dB site
//! level +3.6 ± 11.2 ms, per beat |error| p95 46 ms; 12 dB +6.7 ± 13.1, p95 60 ms, Se 99.07 % (without
//! the hold, with S as the mean of the squared peak-to-peaks, 12 dB was +7.8 ± 15.1, p95 114 ms).

use qrsd_eval::noisy::{abs_quantile, evaluate_ludb_noisy, NoiseSource};
use qrsd_pipeline::PipelineConfig;
use std::path::PathBuf;

#[test]
fn delineation_in_noise_keeps_its_figures() {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    let noise = NoiseSource::load(&shared.join("mitdb"), 500.0)
        .expect("the MIT-BIH noise records bw and ma in ../shared/data/mitdb");
    let cfg = PipelineConfig::new(500.0, Vec::new());
    // (SNR dB, max |site mean|, max site SD, max per-beat |error| p95, min Se %)
    for (snr, mean, sd, p95, se) in [(18.0, 4.5, 11.8, 52.0, 99.5), (12.0, 8.0, 14.0, 70.0, 98.3)] {
        let rep = evaluate_ludb_noisy(&shared.join("ludb"), &noise, Some(snr), &cfg).unwrap();
        assert_eq!(rep.per_record.len(), 200);
        assert!(rep.all.se() >= se, "{snr} dB: Se {:.2} %", rep.all.se());
        let s = qrsd_eval::site::site_level(&rep.per_record, "GLOBAL");
        assert!(
            s.all.mean.abs() <= mean && s.all.sd <= sd,
            "{snr} dB: site {:+.1} ± {:.1} ms",
            s.all.mean,
            s.all.sd
        );
        let q = abs_quantile(&rep.all.errors["GLOBAL.qrsd"], 0.95).unwrap();
        assert!(q <= p95, "{snr} dB: per-beat |QRSd error| p95 {q} ms");
    }
}
