//! Generalisation check: LUDB with the MIT-BIH noise-stress records added (`qrsd_eval::noisy`: `bw` +
//! `ma`, scaled per lead to the SNR as `nst` defines it) at 24, 18, 12 and 6 dB. Prints detection, the
//! per-beat global QRSd error (and its tail, by the beats' signal-quality label) and the site-level
//! (per-record median) QRSd error by width band per SNR, against the same run without noise. The
//! shipped models are in sample for LUDB: read the *change* from the clean row, which is what the
//! noise does.
//! `cargo run --release -p qrsd-eval --example ludb_noise [SNR_DB ...] [section.key=value ...]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use qrsd_eval::noisy::{abs_quantile, evaluate_ludb_noisy, NoiseSource};
use qrsd_pipeline::PipelineConfig;
use std::path::PathBuf;

fn main() {
    // Numbers are SNRs; `section.key=value` arguments override pipeline settings (experiments).
    let args: Vec<String> = std::env::args().skip(1).collect();
    let overrides: Vec<String> = args.iter().filter(|a| a.contains('=')).cloned().collect();
    let mut snrs: Vec<f64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if snrs.is_empty() {
        snrs = vec![24.0, 18.0, 12.0, 6.0];
    }
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    let noise = NoiseSource::load(&shared.join("mitdb"), 500.0)
        .expect("the MIT-BIH noise records bw and ma in ../shared/data/mitdb");
    let cfg = PipelineConfig::new(500.0, Vec::new())
        .with_overrides(&overrides)
        .unwrap();
    for snr in std::iter::once(None).chain(snrs.into_iter().map(Some)) {
        let rep = evaluate_ludb_noisy(&shared.join("ludb"), &noise, snr, &cfg).unwrap();
        let all = &rep.all;
        let label = snr.map_or("clean".to_string(), |s| format!("bw+ma {s} dB"));
        let (on, off, q) = (
            all.stats("GLOBAL.onset"),
            all.stats("GLOBAL.offset"),
            all.stats("GLOBAL.qrsd"),
        );
        println!(
            "== LUDB, {label}: Se {:.2} %, PPV {:.2} %; global per beat onset {:+.1} ± {:.1}, offset {:+.1} ± {:.1}, QRSd {:+.1} ± {:.1} ms (coverage {:.1} %)",
            all.se(),
            all.ppv(),
            on.mean,
            on.sd,
            off.mean,
            off.sd,
            q.mean,
            q.sd,
            all.coverage("GLOBAL.qrsd")
        );
        let tail = |t: &qrsd_eval::Tally| {
            let v = t.errors.get("GLOBAL.qrsd").cloned().unwrap_or_default();
            let p = |x| abs_quantile(&v, x).map_or("-".into(), |e| format!("{e:.0}"));
            format!(
                "{} beats, |global QRSd error| p50 {} p90 {} p95 {} ms",
                v.len(),
                p(0.5),
                p(0.9),
                p(0.95)
            )
        };
        println!("  all: {}", tail(all));
        for (ql, t) in &rep.by_quality {
            if t.errors.get("GLOBAL.qrsd").is_some_and(|v| !v.is_empty()) {
                println!("  labelled {ql}: {}", tail(t));
            }
        }
        print!(
            "{}",
            qrsd_eval::site::format_site_table(&format!("site level, {label}"), &rep.per_record)
                .lines()
                .take(6)
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        );
    }
}
