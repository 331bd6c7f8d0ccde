//! `Pipeline::lead_quality_at`: the per-lead labels behind a beat's quality, with one lead swamped by
//! muscle noise (the simulator's per-lead EMG).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use qrsd_pipeline::{Beat, Pipeline, PipelineConfig, Quality};
use qrsd_synth::{generate, NoiseConfig, SynthConfig, LEAD_NAMES_12};

#[test]
fn a_noisy_v1_is_named_at_each_beat_and_the_beat_keeps_its_best_lead() {
    let fs = 1000.0;
    let mut extra = [0.0; 8];
    extra[2] = 400.0; // acquired channel 2 = V1
    let cfg = SynthConfig {
        fs_hz: fs,
        noise: NoiseConfig {
            emg_lead_uv_rms: extra,
            ..NoiseConfig::default()
        },
        ..SynthConfig::default()
    };
    let rec = generate(&cfg, 30.0).unwrap();
    let names: Vec<String> = LEAD_NAMES_12.iter().map(|s| s.to_string()).collect();
    let v1 = names.iter().position(|n| n == "V1").unwrap();
    let mut p = Pipeline::new(PipelineConfig::new(fs, names.clone())).unwrap();
    let leads = rec.leads_f32();
    let mut labels = vec![Quality::Clean; names.len()];
    let (mut beats, mut judged, mut v1_bad, mut others_bad) = (Vec::<Beat>::new(), 0, 0, 0);
    // Half-second chunks: each beat is looked up soon after it is delivered, as the live thread does.
    let step = (fs / 2.0) as usize;
    for i in (0..rec.pace_flags.len()).step_by(step) {
        let k = step.min(rec.pace_flags.len() - i);
        let views: Vec<&[f32]> = leads.iter().map(|l| &l[i..i + k]).collect();
        p.process_planar(&views, Some(&rec.pace_flags[i..i + k]), &mut beats);
        for b in beats.drain(..) {
            p.lead_quality_at(b.r_sample, &mut labels);
            // The beat's own quality is its best lead's label of the same block.
            assert_eq!(
                labels.iter().min().copied(),
                Some(b.quality),
                "beat at {}",
                b.r_sample
            );
            if b.r_sample < (5.0 * fs) as u64 {
                continue; // the quality reference is still being learnt
            }
            judged += 1;
            v1_bad += usize::from(labels[v1] != Quality::Clean);
            // Nor is the noise-free baseline (exactly 0 µV) beside a T wave a rail.
            others_bad += labels
                .iter()
                .enumerate()
                .filter(|&(l, q)| l != v1 && *q != Quality::Clean)
                .count();
        }
    }
    assert!(judged >= 25, "beats judged: {judged}");
    assert!(
        v1_bad * 10 >= judged * 9,
        "V1 not clean at {v1_bad} of {judged} beats"
    );
    // Derived limb leads do not use V1; the other leads carry no noise.
    assert_eq!(others_bad, 0, "other leads not labelled clean");
}
