//! Pipeline throughput in multiples of real time, on one core, for 1, 3 and 12 leads at 500/1000/2000 Hz.
//!
//! `cargo run --release -p qrsd-pipeline --example throughput [SECONDS]` (default 600 s of synthetic BiV-paced
//! 12-lead ECG with noise). Signal generation is excluded from the timing; the best of 3 runs is reported.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use qrsd_pipeline::{Pipeline, PipelineConfig};
use qrsd_synth::{generate, Rhythm, SynthConfig};
use std::time::Instant;

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(600.0);
    println!(
        "{:>6} {:>8} {:>12} {:>14} {:>8}",
        "leads", "fs Hz", "signal s", "x real time", "beats"
    );
    for fs in [500.0, 1000.0, 2000.0] {
        let cfg = SynthConfig {
            fs_hz: fs,
            rhythm: Rhythm::Biv,
            qrsd_ms: 130.0,
            ..SynthConfig::default()
        };
        let rec = match generate(&cfg, seconds) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("synth: {e}");
                std::process::exit(1);
            }
        };
        let f32_leads: Vec<(String, Vec<f32>)> = rec
            .leads
            .iter()
            .map(|(n, v)| (n.clone(), v.iter().map(|x| *x as f32).collect()))
            .collect();
        for pick in [
            vec!["II"],
            vec!["II", "V1", "V6"],
            f32_leads.iter().map(|(n, _)| n.as_str()).collect(),
        ] {
            let chosen: Vec<&(String, Vec<f32>)> = f32_leads
                .iter()
                .filter(|(n, _)| pick.contains(&n.as_str()))
                .collect();
            let names: Vec<String> = chosen.iter().map(|(n, _)| n.clone()).collect();
            let views: Vec<&[f32]> = chosen.iter().map(|(_, v)| v.as_slice()).collect();
            let mut best = f64::MAX;
            let mut n_beats = 0;
            for _ in 0..3 {
                let mut p = match Pipeline::new(PipelineConfig::new(fs, names.clone())) {
                    Ok(p) => p,
                    Err(e) => {
                        eprintln!("pipeline: {e}");
                        std::process::exit(1);
                    }
                };
                let mut beats = Vec::new();
                let t0 = Instant::now();
                p.process_planar(&views, Some(&rec.pace_flags), &mut beats);
                p.finish(&mut beats);
                best = best.min(t0.elapsed().as_secs_f64());
                n_beats = beats.len();
            }
            println!(
                "{:>6} {:>8.0} {:>12.0} {:>14.0} {:>8}",
                names.len(),
                fs,
                seconds,
                seconds / best,
                n_beats
            );
        }
    }
}
