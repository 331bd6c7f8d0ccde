//! Robustness sweep on qrsd-synth: |global QRSd − truth| over seeds, widths, noise levels and rates.
//! `cargo run --release -p qrsd-pipeline --example synth_sweep [section.key=value ...]`
//! (`EMG=5,10` sets the EMG levels in µV RMS; `EDGES=realistic` uses LUDB-like gradual QRS edges.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use qrsd_pipeline::{Pipeline, PipelineConfig};
use qrsd_synth::{generate, NoiseConfig, Rhythm, SynthConfig};

fn main() {
    let overrides: Vec<(String, String, serde_json::Value)> = std::env::args()
        .skip(1)
        .filter_map(|a| {
            let (k, v) = a.split_once('=')?;
            let (s, key) = k.split_once('.')?;
            Some((s.into(), key.into(), serde_json::from_str(v).ok()?))
        })
        .collect();
    let emgs: Vec<f64> = std::env::var("EMG")
        .map(|v| v.split(',').map(|x| x.parse().unwrap()).collect())
        .unwrap_or_else(|_| vec![5.0, 10.0]);
    let realistic_edges = std::env::var("EDGES").is_ok_and(|v| v == "realistic");
    let mut worst = 0.0f64;
    for fs in [500.0, 1000.0] {
        for emg in &emgs {
            for (rhythm, qrsd) in [
                (Rhythm::Intrinsic, 130.0),
                (Rhythm::Intrinsic, 190.0),
                (Rhythm::Biv, 100.0),
                (Rhythm::Biv, 150.0),
            ] {
                let mut all = Vec::new();
                let mut missed = 0;
                for seed in 1..=4u64 {
                    let cfg = SynthConfig {
                        fs_hz: fs,
                        rhythm,
                        qrsd_ms: qrsd,
                        intrinsic_qrsd_ms: 160.0,
                        noise: NoiseConfig {
                            emg_uv_rms: *emg,
                            baseline_wander_uv: 150.0,
                            mains_uv: 30.0,
                            mains_hz: 50.0,
                            ..NoiseConfig::default()
                        },
                        pace: qrsd_synth::PaceConfig {
                            capture_latency_ms: 10.0 + 5.0 * seed as f64,
                            vv_offset_ms: if seed % 2 == 0 { 20.0 } else { 0.0 },
                            ..Default::default()
                        },
                        seed,
                        realistic_edges,
                        ..SynthConfig::default()
                    };
                    let rec = generate(&cfg, 20.0).unwrap();
                    let names = rec.lead_names();
                    let mut c = serde_json::to_value(PipelineConfig::new(fs, names)).unwrap();
                    for (s, k, v) in &overrides {
                        c[s][k] = v.clone();
                    }
                    let mut p = Pipeline::new(serde_json::from_value(c).unwrap()).unwrap();
                    let beats = p.run_to_end(&rec.leads_f32(), Some(&rec.pace_flags));
                    for t in &rec.truth {
                        let b = beats
                            .iter()
                            .find(|b| (t.onset_sample..=t.offset_sample).contains(&b.r_sample));
                        match b.and_then(|b| b.global.duration_ms(fs)) {
                            Some(d) => {
                                all.push(d - t.qrsd_ms);
                                let b = b.unwrap();
                                if std::env::var("OUT").is_ok() && (d - t.qrsd_ms).abs() > 6.0 {
                                    let ms = |x: u64, y: u64| (x as f64 - y as f64) * 1000.0 / fs;
                                    println!(
                                        "   seed {seed} truth {} on {:+.0} off {:+.0} stim {:?} pace {:?} class {:?}",
                                        t.onset_sample,
                                        ms(b.global.onset_sample.unwrap(), t.onset_sample),
                                        ms(b.global.offset_sample.unwrap(), t.offset_sample),
                                        t.stimulus_sample.map(|s| ms(t.onset_sample, s)),
                                        b.pace_sample.map(|s| ms(t.onset_sample, s)),
                                        t.class
                                    );
                                }
                            }
                            None => missed += 1,
                        }
                    }
                }
                let mut a: Vec<f64> = all.iter().map(|x| x.abs()).collect();
                a.sort_by(f64::total_cmp);
                let med = a[a.len() / 2];
                let p95 = a[(a.len() * 95) / 100];
                let max = a[a.len() - 1];
                let bias = all.iter().sum::<f64>() / all.len() as f64;
                worst = worst.max(med);
                println!(
                    "{fs:>5} emg {emg:>4} {rhythm:?} {qrsd}: n {} missed {missed} bias {bias:+.1} median {med:.1} p95 {p95:.1} max {max:.1}",
                    all.len()
                );
            }
        }
    }
    println!("worst median {worst:.1}");
}
