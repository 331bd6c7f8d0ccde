//! Muscle noise in one lead makes spikes of a stimulus's shape; they must not make a beat paced.
//! With a hardware pace flag channel the flag decides; without one a spike only in a noisy lead is
//! that lead's noise (a stimulus stands out in many leads at once).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use qrsd_pipeline::{Beat, BeatClass, Pipeline, PipelineConfig};
use qrsd_synth::{
    generate, BeatClass as TrueClass, NoiseConfig, Rhythm, SynthConfig, SynthRecording,
};

const FS: f64 = 1000.0;

/// 60 s of the simulator at 1 kHz (LBBB 150 ms when intrinsic) with 400 µV RMS of muscle noise on
/// V1 only.
fn v1_noisy(rhythm: Rhythm, seed: u64) -> SynthRecording {
    v1_noisy_with(rhythm, seed, SynthConfig::default())
}

fn v1_noisy_with(rhythm: Rhythm, seed: u64, base: SynthConfig) -> SynthRecording {
    let mut extra = [0.0; 8];
    extra[2] = 400.0; // acquired channel 2 = V1
    let cfg = SynthConfig {
        fs_hz: FS,
        rhythm,
        seed,
        noise: NoiseConfig {
            emg_lead_uv_rms: extra,
            ..NoiseConfig::default()
        },
        ..base
    };
    generate(&cfg, 60.0).unwrap()
}

/// The beats of `rec`, with its pace flag channel (the simulator's) or as a file without one.
fn beats(rec: &SynthRecording, flag_channel: bool) -> Vec<Beat> {
    let mut cfg = PipelineConfig::new(rec.fs_hz, rec.lead_names());
    cfg.pace_flag_channel = flag_channel;
    // With a flag channel the noisy-lead rule is on by itself; without one it is a setting (off
    // by default: see its docs).
    cfg.ignore_noisy_lead_spikes = !flag_channel;
    let flags = flag_channel.then_some(rec.pace_flags.as_slice());
    Pipeline::new(cfg)
        .unwrap()
        .run_to_end(&rec.leads_f32(), flags)
}

fn qrsd_ms(b: &Beat) -> Option<f64> {
    let (on, off) = b.global.onset_sample.zip(b.global.offset_sample)?;
    Some((off - on) as f64 * 1000.0 / FS)
}

#[test]
fn with_a_flag_channel_noise_spikes_in_v1_make_no_intrinsic_beat_paced() {
    for seed in [1, 2, 3] {
        let rec = v1_noisy(Rhythm::Intrinsic, seed);
        let b = beats(&rec, true);
        assert!(b.len() >= 65, "seed {seed}: {} beats", b.len());
        let paced: Vec<_> = b
            .iter()
            .filter(|b| b.class == BeatClass::Paced || b.pace_sample.is_some())
            .map(|b| b.r_sample)
            .collect();
        assert!(paced.is_empty(), "seed {seed}: paced at {paced:?}");
        // Nor does a spike move the onset: the QRSd stays the simulator's 150 ms (it was 142–214 ms).
        let mut q: Vec<f64> = b.iter().filter_map(qrsd_ms).collect();
        q.sort_by(f64::total_cmp);
        let median = q[q.len() / 2];
        assert!(
            (median - 150.0).abs() <= 15.0,
            "seed {seed}: median QRSd {median} ms"
        );
    }
}

#[test]
fn without_a_flag_channel_a_spike_only_in_the_noisy_lead_is_no_stimulus() {
    // The quality stage knows V1 is noisy once the lead's QRS is learnt (the first 2 s); from then
    // on no spike of V1 alone makes a beat paced.
    let settled = (3.0 * FS) as u64;
    // A narrow (110 ms) QRS: the classifier's recognition of paced beats without a stimulus (a
    // repeating ≥ 150 ms morphology starting with a spike) cannot fire, so a paced beat here is
    // one with a detected stimulus.
    let narrow = SynthConfig {
        lbbb: false,
        qrsd_ms: 110.0,
        ..SynthConfig::default()
    };
    for seed in [1, 2, 3] {
        let rec = v1_noisy_with(Rhythm::Intrinsic, seed, narrow.clone());
        let b = beats(&rec, false);
        assert!(b.len() >= 65, "seed {seed}: {} beats", b.len());
        let paced: Vec<_> = b
            .iter()
            .filter(|b| b.r_sample >= settled)
            .filter(|b| b.class == BeatClass::Paced || b.pace_sample.is_some())
            .map(|b| b.r_sample)
            .collect();
        assert!(paced.is_empty(), "seed {seed}: paced at {paced:?}");
    }
}

#[test]
fn biv_paced_beats_stay_paced_with_v1_noisy_with_or_without_a_flag_channel() {
    for seed in [1, 2] {
        let rec = v1_noisy(Rhythm::Biv, seed);
        let truth_paced = rec
            .truth
            .iter()
            .filter(|t| t.class == TrueClass::Paced)
            .count();
        assert!(truth_paced >= 60, "seed {seed}: {truth_paced} paced beats");
        for flag_channel in [true, false] {
            let b = beats(&rec, flag_channel);
            let paced = b.iter().filter(|b| b.class == BeatClass::Paced).count();
            assert!(
                paced * 100 >= truth_paced * 97,
                "seed {seed}, flag channel {flag_channel}: {paced} of {truth_paced} paced"
            );
        }
    }
}
