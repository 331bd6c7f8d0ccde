//! Generalisation check for ectopy at several heart rates (MIT-BIH-like): qrsd-synth intrinsic rhythm
//! with frequent premature ventricular complexes (coupled at 55–70 % of the RR, so at 150 bpm they fall
//! 220–280 ms after the previous beat, inside its T wave), cut to 2 leads (II + V5), recorder low-pass and
//! 5 µV quantisation, at 250 / 360 / 500 Hz. Prints Se / PPV (R within 75 ms or inside the QRS), Se of the
//! premature beats alone, how many were classed `ectopic`, and how many other beats were.
//! `cargo run --release -p qrsd-pipeline --example ectopy_check [section.key=value ...]`
//! (`DBG=360/150` lists the missed beats at that rate and heart rate).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use qrsd_pipeline::{BeatClass, Pipeline, PipelineConfig};
use qrsd_synth::{generate, BeatClass as TrueClass, NoiseConfig, Rhythm, SynthConfig};

fn main() {
    let overrides: Vec<String> = std::env::args().skip(1).collect();
    println!("fs   bpm  beats   Se%    PPV%   PVCs  PVC Se%  PVCs classed ectopic%  other beats classed ectopic");
    for fs in [250.0, 360.0, 500.0] {
        for bpm in [60.0, 90.0, 120.0, 150.0] {
            let cfg = SynthConfig {
                fs_hz: fs,
                rhythm: Rhythm::Intrinsic,
                intrinsic_qrsd_ms: 95.0,
                rate_bpm: bpm,
                ectopic_probability: 0.15,
                noise: NoiseConfig::moderate(),
                seed: 11,
                ..SynthConfig::default()
            };
            let mut rec = generate(&cfg, 300.0).unwrap();
            rec.leads.retain(|(n, _)| n == "II" || n == "V5");
            rec.through_recorder(100.0, 5.0);
            let pc = PipelineConfig::new(fs, rec.lead_names())
                .with_overrides(&overrides)
                .unwrap();
            let beats = Pipeline::new(pc)
                .unwrap()
                .run_to_end(&rec.leads_f32(), None);
            let ms = 1000.0 / fs;
            let mut used = vec![false; beats.len()];
            let (mut tp, mut pvc, mut pvc_tp, mut pvc_cls, mut other_cls) = (0, 0, 0, 0, 0);
            for t in &rec.truth {
                let is_pvc = t.class == TrueClass::Ectopic;
                pvc += usize::from(is_pvc);
                let hit = beats.iter().enumerate().find(|(j, b)| {
                    !used[*j]
                        && ((t.onset_sample..=t.offset_sample).contains(&b.r_sample)
                            || (b.r_sample as f64 - t.r_sample as f64).abs() * ms <= 75.0)
                });
                let Some((j, b)) = hit else {
                    if std::env::var("DBG").is_ok_and(|v| v == format!("{fs}/{bpm}")) {
                        println!(
                            "missed {:?} on {} r {} off {}",
                            t.class, t.onset_sample, t.r_sample, t.offset_sample
                        );
                    }
                    continue;
                };
                used[j] = true;
                tp += 1;
                if is_pvc {
                    pvc_tp += 1;
                    pvc_cls += usize::from(b.class == BeatClass::Ectopic);
                } else {
                    other_cls += usize::from(b.class == BeatClass::Ectopic);
                }
            }
            let fp = used.iter().filter(|u| !**u).count();
            let n = rec.truth.len();
            println!(
                "{fs:4} {bpm:4} {n:6} {:7.2} {:7.2} {pvc:5} {:7.2} {:7.1} {other_cls:5}",
                100.0 * tp as f64 / n as f64,
                100.0 * tp as f64 / (tp + fp).max(1) as f64,
                100.0 * pvc_tp as f64 / pvc.max(1) as f64,
                100.0 * pvc_cls as f64 / pvc_tp.max(1) as f64,
            );
        }
    }
}
