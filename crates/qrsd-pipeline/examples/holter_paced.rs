//! Generalisation check for ambulatory-style recordings of paced rhythms (MIT-BIH-like): qrsd-synth
//! BiV pacing with fusion, loss of capture and PVCs, cut to 2 leads (II + V5), passed through a
//! recorder's 100 Hz low-pass (two one-pole sections, which smears each stimulus over several samples
//! with a decaying tail), rounded to 5 µV, **without** the hardware pace flag, at 250 / 360 / 500 Hz and
//! several stimulus amplitudes. Prints Se / PPV (75 ms), the share of paced beats whose stimulus was
//! found, the median |R − true R| and the per-beat global QRSd error against the truth.
//! `cargo run --release -p qrsd-pipeline --example holter_paced [section.key=value ...]` (`DBG=500/3000`
//! lists the missed beats at that rate and stimulus amplitude).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use qrsd_pipeline::{Pipeline, PipelineConfig};
use qrsd_synth::{generate, BeatClass as TrueClass, NoiseConfig, PaceConfig, Rhythm, SynthConfig};

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let overrides: Vec<String> = std::env::args().skip(1).collect();
    let make = |fs: f64, names: Vec<String>| {
        PipelineConfig::new(fs, names)
            .with_overrides(&overrides)
            .unwrap()
    };
    println!("fs  spike_uV  beats  Se%  PPV%  stim_found%  |dR| med/p95 ms  paced QRSd err med (p5..p95) ms");
    for fs in [250.0, 360.0, 500.0] {
        for amp in [1000.0, 3000.0, 10000.0] {
            let cfg = SynthConfig {
                fs_hz: fs,
                rhythm: Rhythm::Biv,
                qrsd_ms: 130.0,
                intrinsic_qrsd_ms: 160.0,
                rate_bpm: 75.0,
                fusion_probability: 0.05,
                loss_of_capture_probability: 0.05,
                ectopic_probability: 0.08,
                noise: NoiseConfig::moderate(),
                pace: PaceConfig {
                    amplitude_uv: amp,
                    ..PaceConfig::default()
                },
                seed: 5,
                ..SynthConfig::default()
            };
            let mut rec = generate(&cfg, 300.0).unwrap();
            rec.leads.retain(|(n, _)| n == "II" || n == "V5");
            rec.through_recorder(100.0, 5.0);
            let mut p = Pipeline::new(make(fs, rec.lead_names())).unwrap();
            let beats = p.run_to_end(&rec.leads_f32(), None);
            let ms = 1000.0 / fs;
            let mut used = vec![false; beats.len()];
            let (mut tp, mut paced, mut found) = (0, 0, 0);
            let (mut dr, mut dq) = (Vec::new(), Vec::new());
            for t in &rec.truth {
                let hit = beats.iter().enumerate().find(|(j, b)| {
                    !used[*j]
                        && ((t.onset_sample..=t.offset_sample).contains(&b.r_sample)
                            || (b.r_sample as f64 - t.r_sample as f64).abs() * ms <= 75.0)
                });
                let Some((j, b)) = hit else {
                    if std::env::var("DBG").is_ok_and(|v| v == format!("{fs}/{amp}")) {
                        let near: Vec<_> = beats
                            .iter()
                            .filter(|b| {
                                (b.r_sample as i64 - t.r_sample as i64).abs() < (0.5 * fs) as i64
                            })
                            .map(|b| {
                                (
                                    b.r_sample,
                                    b.global.onset_sample,
                                    b.global.offset_sample,
                                    b.class,
                                    b.pace_sample,
                                )
                            })
                            .collect();
                        if std::env::var("DUMP").is_ok() {
                            for i in (t.onset_sample - 20..t.offset_sample + 5).step_by(2) {
                                println!(
                                    "  {i} {:.0} {:.0}",
                                    rec.leads[0].1[i as usize], rec.leads[1].1[i as usize]
                                );
                            }
                        }
                        println!(
                            "missed {:?} on {} r {} off {} stim {:?}: near {near:?}",
                            t.class, t.onset_sample, t.r_sample, t.offset_sample, t.stimulus_sample
                        );
                    }
                    continue;
                };
                used[j] = true;
                tp += 1;
                dr.push((b.r_sample as f64 - t.r_sample as f64).abs() * ms);
                if t.class == TrueClass::Paced {
                    paced += 1;
                    found += usize::from(b.pace_sample.is_some());
                    if let (Some(on), Some(off)) = (b.global.onset_sample, b.global.offset_sample) {
                        dq.push((off as f64 - on as f64) * ms - t.qrsd_ms);
                    }
                }
            }
            let fp = used.iter().filter(|u| !**u).count();
            let n = rec.truth.len();
            println!(
                "{fs:4} {amp:7} {n:6} {:6.2} {:6.2} {:8.1} {:8.1}/{:5.1} {:8.1} ({:.1}..{:.1})",
                100.0 * tp as f64 / n as f64,
                100.0 * tp as f64 / (tp + fp).max(1) as f64,
                100.0 * found as f64 / paced.max(1) as f64,
                pct(&mut dr, 0.5),
                pct(&mut dr, 0.95),
                pct(&mut dq, 0.5),
                pct(&mut dq, 0.05),
                pct(&mut dq, 0.95),
            );
        }
    }
}
