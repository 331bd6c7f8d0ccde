//! Diagnostic: signed global boundary errors of the pipeline on qrsd-synth recordings, against the QRS
//! support (`BeatTruth::onset_sample`/`offset_sample`) and the visible 12-lead span (`lead_span`).
//! `cargo run --release -p qrsd-pipeline --example synth_diag [emg_uv_rms] [seed]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use qrsd_pipeline::{Pipeline, PipelineConfig};
use qrsd_synth::{generate, NoiseConfig, Rhythm, SynthConfig};

fn med(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

fn main() {
    let all: Vec<String> = std::env::args().collect();
    let args: Vec<String> = all.iter().filter(|a| !a.contains('=')).cloned().collect();
    let overrides: Vec<(String, String, serde_json::Value)> = all
        .iter()
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| {
            let (s, key) = k.split_once('.').expect("section.key=value");
            (
                s.to_string(),
                key.to_string(),
                serde_json::from_str(v).expect("JSON"),
            )
        })
        .collect();
    let make = |fs: f64, names: Vec<String>| {
        let mut c = serde_json::to_value(PipelineConfig::new(fs, names)).unwrap();
        for (s, k, v) in &overrides {
            c[s][k] = v.clone();
        }
        serde_json::from_value::<PipelineConfig>(c).unwrap()
    };
    let emg: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(7);
    println!(
        "emg {emg} µV, seed {seed}; signed median (p10..p90) ms: vs support | vs visible span"
    );
    for fs in [250.0, 360.0, 500.0, 1000.0, 2000.0] {
        for (rhythm, qrsd) in [(Rhythm::Intrinsic, 160.0), (Rhythm::Biv, 120.0)] {
            let cfg = SynthConfig {
                fs_hz: fs,
                rhythm,
                qrsd_ms: qrsd,
                intrinsic_qrsd_ms: 160.0,
                noise: NoiseConfig {
                    emg_uv_rms: emg,
                    baseline_wander_uv: 100.0,
                    mains_uv: 20.0,
                    mains_hz: 50.0,
                    ..NoiseConfig::default()
                },
                seed,
                ..SynthConfig::default()
            };
            let rec = generate(&cfg, 30.0).unwrap();
            let mut p = Pipeline::new(make(fs, rec.lead_names())).unwrap();
            let beats = p.run_to_end(&rec.leads_f32(), Some(&rec.pace_flags));
            let ms = 1000.0 / fs;
            let (mut on_s, mut off_s, mut q_s, mut on_v, mut off_v, mut q_v, mut sv_on, mut sv_off) = (
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
            );
            let mut missed = 0;
            for t in &rec.truth {
                let Some(b) = beats
                    .iter()
                    .find(|b| (t.onset_sample..=t.offset_sample).contains(&b.r_sample))
                else {
                    missed += 1;
                    continue;
                };
                let (Some(on), Some(off)) = (b.global.onset_sample, b.global.offset_sample) else {
                    missed += 1;
                    continue;
                };
                let span = t.lead_span().unwrap();
                let (on, off) = (on as f64, off as f64);
                on_s.push((on - t.onset_sample as f64) * ms);
                off_s.push((off - t.offset_sample as f64) * ms);
                q_s.push((off - on) * ms - t.qrsd_ms);
                if ((off - on) * ms - t.qrsd_ms).abs() > 10.0 {
                    println!(
                        "  outlier: truth {}..{} r {} got {on}..{off} r {} class {:?}",
                        t.onset_sample, t.offset_sample, t.r_sample, b.r_sample, b.class
                    );
                }
                on_v.push((on - span.onset_sample as f64) * ms);
                off_v.push((off - span.offset_sample as f64) * ms);
                q_v.push(((off - on) - (span.offset_sample - span.onset_sample) as f64) * ms);
                sv_on.push((span.onset_sample as f64 - t.onset_sample as f64) * ms);
                sv_off.push((t.offset_sample as f64 - span.offset_sample as f64) * ms);
            }
            let abs_med = |v: &[f64]| {
                let mut a: Vec<f64> = v.iter().map(|x| x.abs()).collect();
                med(&mut a)
            };
            let q_abs = abs_med(&q_s);
            println!(
                "{fs:>5} {rhythm:?}: n {} missed {missed} | support: on {:+.1} off {:+.1} qrsd {:+.1} (|qrsd| med {:.1}, max {:.1}) | span: on {:+.1} off {:+.1} qrsd {:+.1} | span inside support by {:.1}/{:.1}",
                on_s.len(),
                med(&mut on_s.clone()),
                med(&mut off_s.clone()),
                med(&mut q_s.clone()),
                q_abs,
                q_s.iter().fold(0.0f64, |m, x| m.max(x.abs())),
                med(&mut on_v),
                med(&mut off_v),
                med(&mut q_v),
                med(&mut sv_on),
                med(&mut sv_off),
            );
        }
    }
}
