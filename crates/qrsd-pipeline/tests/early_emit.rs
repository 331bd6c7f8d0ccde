//! Early delivery: a beat whose window ending `early_post_ms` after R already decides it comes out then,
//! not `post_ms` after R, and it is the same beat the full window gives.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use qrsd_pipeline::{Beat, Pipeline, PipelineConfig};
use qrsd_synth::{generate, NoiseConfig, Rhythm, SynthConfig};
use std::path::PathBuf;

/// Feed one frame at a time; each beat with the number of input frames pushed when it came out.
fn run(
    leads: &[Vec<f32>],
    flags: Option<&[bool]>,
    mut cfg: PipelineConfig,
    early: bool,
) -> Vec<(Beat, u64)> {
    cfg.early_emit = early;
    let mut p = Pipeline::new(cfg).unwrap();
    let n = leads.iter().map(Vec::len).min().unwrap();
    let mut frame = vec![0.0f32; leads.len()];
    let (mut out, mut got) = (Vec::new(), Vec::new());
    for i in 0..n {
        for (f, l) in frame.iter_mut().zip(leads) {
            *f = l[i];
        }
        p.process_frame(&frame, flags.is_some_and(|f| f[i]), &mut out);
        got.extend(out.drain(..).map(|b| (b, i as u64 + 1)));
    }
    p.finish(&mut out);
    got.extend(out.drain(..).map(|b| (b, n as u64)));
    got
}

/// Median of (frames pushed when the beat came out − its global offset), ms.
fn median_lag_ms(beats: &[(Beat, u64)], fs_hz: f64) -> f64 {
    let mut v: Vec<f64> = beats
        .iter()
        .filter_map(|(b, at)| {
            b.global
                .offset_sample
                .map(|o| (*at as f64 - o as f64) * 1000.0 / fs_hz)
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn same_beats(a: &[(Beat, u64)], b: &[(Beat, u64)]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0)
}

#[test]
fn early_delivery_gives_the_full_windows_beats_sooner_on_synthetic_ecg() {
    for fs in [250.0, 500.0, 1000.0] {
        for (rhythm, lbbb, qrsd_ms) in [
            (Rhythm::Intrinsic, true, 140.0),
            (Rhythm::Biv, false, 130.0),
            (Rhythm::Intrinsic, false, 90.0),
        ] {
            let cfg = SynthConfig {
                fs_hz: fs,
                rhythm,
                lbbb,
                qrsd_ms,
                noise: NoiseConfig::moderate(),
                seed: 3,
                ..SynthConfig::default()
            };
            let rec = generate(&cfg, 20.0).unwrap();
            let pc = PipelineConfig::new(fs, rec.lead_names());
            let leads = rec.leads_f32();
            let early = run(&leads, Some(&rec.pace_flags), pc.clone(), true);
            let full = run(&leads, Some(&rec.pace_flags), pc, false);
            assert!(early.len() >= 15, "{fs} {rhythm:?}: {} beats", early.len());
            assert!(
                same_beats(&early, &full),
                "{fs} {rhythm:?}: early delivery changed the beats"
            );
            let (le, lf) = (median_lag_ms(&early, fs), median_lag_ms(&full, fs));
            println!("{fs} Hz {rhythm:?} {qrsd_ms} ms: median lag after the QRS offset {le:.0} ms early, {lf:.0} ms full");
            // The early window ends 150 ms after R instead of 250 ms.
            assert!(le <= lf, "{fs} {rhythm:?}: lag {le} vs {lf} ms");
        }
    }
}

#[test]
fn early_delivery_gives_the_full_windows_beats_on_ludb() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ludb/data");
    let (mut sooner, mut total) = (0, 0);
    for rec in (1..=200).step_by(5) {
        let r = qrsd_formats::open(dir.join(format!("{rec}.hea"))).unwrap();
        let names = r.leads.iter().map(|l| l.name.clone()).collect();
        let leads: Vec<Vec<f32>> = r.leads.iter().map(|l| l.samples_uv.clone()).collect();
        let pc = PipelineConfig::new(r.fs_hz, names);
        let early = run(&leads, None, pc.clone(), true);
        let full = run(&leads, None, pc, false);
        assert!(
            same_beats(&early, &full),
            "record {rec}: early delivery changed the beats"
        );
        sooner += early.iter().zip(&full).filter(|(e, f)| e.1 < f.1).count();
        total += early.len();
    }
    println!("LUDB (every 5th record): {sooner} of {total} beats delivered early");
    assert!(sooner * 10 >= total * 8, "{sooner} of {total} beats early");
}
