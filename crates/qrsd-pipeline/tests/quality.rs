//! The signal-quality stage in the pipeline: beats in a stretch where every lead is swamped by noise
//! in the QRS band are labelled unreadable, and what the detector finds there is classed `noise`
//! unless it has the record's own QRS shape; the clean stretches around it are untouched.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use qrsd_pipeline::{BeatClass, Pipeline, PipelineConfig, Quality};
use qrsd_synth::{generate, NoiseConfig, Rhythm, SynthConfig};

#[test]
fn beats_in_an_unreadable_stretch_are_noise_and_the_clean_ones_are_not() {
    let fs = 500.0;
    let cfg = SynthConfig {
        fs_hz: fs,
        rhythm: Rhythm::Intrinsic,
        qrsd_ms: 100.0,
        noise: NoiseConfig::moderate(),
        seed: 11,
        ..SynthConfig::default()
    };
    let rec = generate(&cfg, 40.0).unwrap();
    let mut leads = rec.leads_f32();
    // 12–24 s: noise in the QRS band on every lead, as large as the QRS (motion and muscle at their
    // worst): 24 sinusoids at 3–26 Hz with pseudo-random phases, different per lead, ~700 µV RMS.
    let (a, b) = ((12.0 * fs) as usize, (24.0 * fs) as usize);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for lead in &mut leads {
        let phases: Vec<f64> = (0..24)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 53) as f64 * std::f64::consts::TAU
            })
            .collect();
        for (i, v) in lead.iter_mut().enumerate().take(b).skip(a) {
            let t = i as f64 / fs;
            let n: f64 = phases
                .iter()
                .enumerate()
                .map(|(k, ph)| (std::f64::consts::TAU * (3.0 + k as f64) * t + ph).sin())
                .sum();
            *v += (200.0 * n) as f32;
        }
    }
    let mut p = Pipeline::new(PipelineConfig::new(fs, rec.lead_names())).unwrap();
    let beats = p.run_to_end(&leads, Some(&rec.pace_flags));
    let t = |s: u64| s as f64 / fs;
    let clean: Vec<_> = beats
        .iter()
        // (The last beat, delineated on a window cut short by the end of input, is left out.)
        .filter(|b| (3.0..11.0).contains(&t(b.r_sample)) || (27.0..39.0).contains(&t(b.r_sample)))
        .collect();
    assert!(clean.len() >= 15, "{} clean beats", clean.len());
    assert!(
        clean
            .iter()
            .all(|b| b.class == BeatClass::Intrinsic && b.quality == Quality::Clean),
        "{:?}",
        clean
            .iter()
            .map(|b| (t(b.r_sample), b.class, b.quality))
            .collect::<Vec<_>>()
    );
    let noisy: Vec<_> = beats
        .iter()
        .filter(|b| (14.0..23.0).contains(&t(b.r_sample)))
        .collect();
    let unreadable = noisy
        .iter()
        .filter(|b| b.quality == Quality::Unreadable)
        .count();
    assert!(
        unreadable * 10 >= noisy.len() * 8,
        "{unreadable} of {} beats in the noise unreadable",
        noisy.len()
    );
    // Whatever is kept as a beat there has the usual shape; the rest is noise, never ectopic.
    assert!(noisy
        .iter()
        .filter(|b| b.quality == Quality::Unreadable)
        .all(|b| matches!(b.class, BeatClass::Noise | BeatClass::Intrinsic)));
    assert!(noisy.iter().any(|b| b.class == BeatClass::Noise));
}
