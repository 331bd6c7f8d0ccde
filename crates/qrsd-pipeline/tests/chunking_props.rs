//! Property: any chunking of the same samples gives the same beats (noisy paced synthetic ECG).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use proptest::prelude::*;
use qrsd_pipeline::{Beat, Pipeline, PipelineConfig};
use qrsd_synth::{generate, NoiseConfig, Rhythm, SynthConfig};

fn run(leads: &[Vec<f32>], flags: &[bool], fs: f64, chunks: &[usize]) -> Vec<Beat> {
    let names = qrsd_synth::LEAD_NAMES_12
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut p = Pipeline::new(PipelineConfig::new(fs, names)).unwrap();
    let mut beats = Vec::new();
    let n = flags.len();
    let (mut i, mut c) = (0, 0);
    while i < n {
        let k = chunks[c % chunks.len()].clamp(1, n - i);
        let views: Vec<&[f32]> = leads.iter().map(|l| &l[i..i + k]).collect();
        p.process_planar(&views, Some(&flags[i..i + k]), &mut beats);
        i += k;
        c += 1;
    }
    p.finish(&mut beats);
    beats
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn beats_do_not_depend_on_chunking(
        fs in prop_oneof![Just(250.0), Just(500.0), Just(1000.0)],
        seed in 0u64..1000,
        chunks in prop::collection::vec(1usize..2000, 1..5),
    ) {
        let cfg = SynthConfig {
            fs_hz: fs,
            rhythm: Rhythm::Biv,
            qrsd_ms: 130.0,
            ectopic_probability: 0.1,
            noise: NoiseConfig { emg_uv_rms: 8.0, baseline_wander_uv: 100.0, mains_uv: 20.0, mains_hz: 50.0, ..NoiseConfig::default() },
            seed,
            ..SynthConfig::default()
        };
        let rec = generate(&cfg, 6.0).unwrap();
        let leads = rec.leads_f32();
        let whole = run(&leads, &rec.pace_flags, fs, &[usize::MAX]);
        prop_assert!(whole.len() >= 4);
        let chunked = run(&leads, &rec.pace_flags, fs, &chunks);
        prop_assert_eq!(whole, chunked);
    }
}
