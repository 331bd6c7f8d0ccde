//! Public-API tests of the synthetic ECG generator: streaming invariance, truth consistency, timing, classes,
//! stimuli, noise-free baseline, validation.
// Test helpers outside `#[test]` functions may unwrap too (clippy's test exemption covers only the latter).
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use qrsd_synth::{
    derive_limb_leads, generate, BeatClass, BeatTruth, LeadOffWindow, NoiseConfig, PaceConfig,
    Rhythm, Sample, Synth, SynthConfig, SynthError, LEAD_NAMES, LEAD_NAMES_12,
};

/// A configuration exercising everything at once.
fn busy(fs_hz: f64) -> SynthConfig {
    SynthConfig {
        fs_hz,
        rhythm: Rhythm::Biv,
        qrsd_ms: 135.0,
        hrv_ms: 40.0,
        fusion_probability: 0.15,
        loss_of_capture_probability: 0.15,
        ectopic_probability: 0.1,
        pace: PaceConfig {
            vv_offset_ms: -20.0,
            amplitude_uv: 150_000.0,
            ..PaceConfig::default()
        },
        noise: NoiseConfig {
            emg_uv_rms: 20.0,
            baseline_wander_uv: 300.0,
            mains_uv: 50.0,
            mains_hz: 60.0,
            ..NoiseConfig::default()
        },
        lead_off: vec![LeadOffWindow {
            lead: 3,
            start_s: 2.0,
            end_s: 3.5,
        }],
        clip_uv: 100_000.0,
        seed: 42,
        ..SynthConfig::default()
    }
}

/// Streams `total` samples in chunks of `chunk`, applying `changes` (sample index, config) exactly there.
fn stream(
    cfg: &SynthConfig,
    total: usize,
    chunk: usize,
    changes: &[(usize, SynthConfig)],
) -> (Vec<Sample>, Vec<BeatTruth>) {
    let mut synth = Synth::new(cfg.clone()).unwrap();
    let mut out = vec![Sample::default(); total];
    let mut truth = Vec::new();
    let mut pos = 0;
    while pos < total {
        let mut end = (pos + chunk).min(total);
        if let Some((at, _)) = changes.iter().find(|(at, _)| *at > pos && *at < end) {
            end = *at;
        }
        assert_eq!(synth.fill(&mut out[pos..end]), end - pos);
        pos = end;
        if let Some((_, c)) = changes.iter().find(|(at, _)| *at == pos) {
            synth.set_config(c.clone()).unwrap();
        }
        truth.extend(synth.drain_truth());
    }
    (out, truth)
}

#[test]
fn chunking_does_not_change_samples_or_truth() {
    let cfg = busy(1000.0);
    let total = 20_000;
    let mut switched = cfg.clone();
    switched.rhythm = Rhythm::Intrinsic;
    switched.rate_bpm = 95.0;
    switched.noise.emg_uv_rms = 5.0;
    let changes = [(9_001, switched)];
    let (reference, ref_truth) = stream(&cfg, total, total, &changes);
    assert!(ref_truth.len() > 15);
    for chunk in [1, 7, 64, 1000] {
        let (s, t) = stream(&cfg, total, chunk, &changes);
        assert!(s == reference, "samples differ with chunk {chunk}");
        assert_eq!(t, ref_truth, "truth differs with chunk {chunk}");
    }
    // The switch took effect: intrinsic beats at the end, paced ones before.
    assert!(ref_truth.iter().any(|t| t.class == BeatClass::Paced));
    assert_eq!(ref_truth.last().unwrap().class, BeatClass::Intrinsic);
}

#[test]
fn same_seed_same_output_other_seed_other_output() {
    let a = generate(&busy(500.0), 10.0).unwrap();
    let b = generate(&busy(500.0), 10.0).unwrap();
    assert_eq!(a, b);
    let c = generate(
        &SynthConfig {
            seed: 43,
            ..busy(500.0)
        },
        10.0,
    )
    .unwrap();
    assert_ne!(a.leads, c.leads);
    assert_ne!(a.truth, c.truth);
}

#[test]
fn generate_matches_streaming() {
    let cfg = busy(500.0);
    let rec = generate(&cfg, 8.0).unwrap();
    let (samples, truth) = stream(&cfg, 4000, 333, &[]);
    assert_eq!(rec.len_samples(), 4000);
    for (k, s) in samples.iter().enumerate() {
        for (a, name) in LEAD_NAMES.iter().enumerate() {
            assert_eq!(rec.lead(name).unwrap()[k], s.leads[a]);
        }
        let [iii, avr, avl, avf] = derive_limb_leads(s.leads[0], s.leads[1]);
        assert_eq!(rec.lead("III").unwrap()[k], iii);
        assert_eq!(rec.lead("aVR").unwrap()[k], avr);
        assert_eq!(rec.lead("AVL").unwrap()[k], avl);
        assert_eq!(rec.lead("avf").unwrap()[k], avf);
        assert_eq!(rec.pace_flags[k], s.pace);
    }
    // generate() also reports beats whose T wave runs past the end, streaming only completed ones.
    assert!(rec.truth.len() >= truth.len());
    assert_eq!(rec.truth[..truth.len()], truth[..]);
    assert!(rec.truth.iter().all(|t| t.offset_sample < 4000));
    let names: Vec<_> = rec.leads.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, LEAD_NAMES_12);
}

fn check_truth(t: &BeatTruth, fs: f64) {
    let ms = 1000.0 / fs;
    assert_eq!(t.qrsd_ms, (t.offset_sample - t.onset_sample) as f64 * ms);
    assert!(t.r_sample > t.onset_sample && t.r_sample < t.offset_sample);
    assert!(t.t_offset_sample > t.offset_sample);
    for w in t.per_lead.iter().flatten() {
        assert!(t.onset_sample <= w.onset_sample && w.onset_sample < w.offset_sample);
        assert!(w.offset_sample <= t.offset_sample);
    }
    assert!(
        t.per_lead.iter().filter(|w| w.is_some()).count() >= 10,
        "{t:?}"
    );
    match t.class {
        BeatClass::Paced | BeatClass::Fusion | BeatClass::LossOfCapture => {
            let s = t.stimulus_sample.unwrap();
            assert!(s < t.onset_sample, "{t:?}");
            assert!(t.p_onset_sample.unwrap() <= s);
            let s2e = t.stimulus_to_offset_ms(fs).unwrap();
            assert!((s2e - (t.offset_sample - s) as f64 * ms).abs() < 1e-9);
        }
        BeatClass::Intrinsic => {
            assert_eq!(t.stimulus_sample, None);
            assert!(t.p_onset_sample.unwrap() < t.onset_sample);
        }
        BeatClass::Ectopic => {
            assert_eq!(t.stimulus_sample, None);
            assert_eq!(t.p_onset_sample, None);
        }
    }
}

#[test]
fn truth_is_consistent_and_qrsd_is_honoured_at_every_rate() {
    for fs in [250.0, 500.0, 1000.0, 2000.0] {
        for (rhythm, lbbb, qrsd) in [
            (Rhythm::Intrinsic, true, 163.0),
            (Rhythm::Intrinsic, false, 88.0),
            (Rhythm::Biv, true, 127.0),
        ] {
            let cfg = SynthConfig {
                fs_hz: fs,
                rhythm,
                lbbb,
                qrsd_ms: qrsd,
                seed: fs as u64,
                ..SynthConfig::default()
            };
            let rec = generate(&cfg, 20.0).unwrap();
            assert!(rec.truth.len() >= 20);
            for t in &rec.truth {
                check_truth(t, fs);
                assert!(
                    (t.qrsd_ms - qrsd).abs() <= 0.5 * 1000.0 / fs + 1e-9,
                    "{fs} Hz: {} vs {qrsd}",
                    t.qrsd_ms
                );
            }
        }
    }
    // A busy mixture too.
    for fs in [250.0, 2000.0] {
        let rec = generate(&busy(fs), 30.0).unwrap();
        rec.truth.iter().for_each(|t| check_truth(t, fs));
    }
}

/// Noise-free signal: exactly 0 outside P, QRS, T and stimuli; the QRS support is visible in the signal.
#[test]
fn noise_free_baseline_is_exactly_zero_and_qrs_support_is_exact() {
    for (fs, rhythm) in [
        (500.0, Rhythm::Intrinsic),
        (1000.0, Rhythm::Biv),
        (2000.0, Rhythm::Intrinsic),
    ] {
        let cfg = SynthConfig {
            fs_hz: fs,
            rhythm,
            pace: PaceConfig {
                recharge_fraction: 0.0,
                ..PaceConfig::default()
            },
            ..SynthConfig::default()
        };
        let rec = generate(&cfg, 15.0).unwrap();
        let all_zero = |k: u64| rec.leads.iter().all(|(_, v)| v[k as usize] == 0.0);
        let first_start = |t: &BeatTruth| {
            t.p_onset_sample
                .unwrap_or(t.onset_sample)
                .min(t.stimulus_sample.unwrap_or(u64::MAX))
        };
        // Before the first beat and between a T end and the next beat's start.
        let mut prev_end = 0u64;
        for t in &rec.truth {
            for k in prev_end..first_start(t) - 1 {
                assert!(
                    all_zero(k),
                    "{fs} Hz sample {k} not zero before beat {}",
                    t.index
                );
            }
            prev_end = t.t_offset_sample + 1;
            // PR segment / post-stimulus latency and ST start are flat, the QRS edges are not.
            assert!(all_zero(t.onset_sample - 1), "{t:?}");
            assert!(!all_zero(t.onset_sample));
            assert!(!all_zero(t.offset_sample));
            assert!(all_zero(t.offset_sample + 1));
        }
    }
}

#[test]
fn mean_rr_matches_rate() {
    for (rhythm, rate) in [(Rhythm::Intrinsic, 72.0), (Rhythm::Biv, 95.0)] {
        let cfg = SynthConfig {
            rhythm,
            rate_bpm: rate,
            hrv_ms: 30.0,
            seed: 5,
            ..SynthConfig::default()
        };
        let rec = generate(&cfg, 300.0).unwrap();
        let on: Vec<f64> = rec.truth.iter().map(|t| t.onset_sample as f64).collect();
        let rr_ms = (on[on.len() - 1] - on[0]) / (on.len() - 1) as f64 * 1000.0 / cfg.fs_hz;
        let expect = 60_000.0 / rate;
        assert!(
            (rr_ms - expect).abs() < 0.01 * expect,
            "{rr_ms} vs {expect}"
        );
        // With jitter, RR varies.
        let sd = {
            let rr: Vec<f64> = on
                .windows(2)
                .map(|w| (w[1] - w[0]) * 1000.0 / cfg.fs_hz)
                .collect();
            let m = rr.iter().sum::<f64>() / rr.len() as f64;
            (rr.iter().map(|x| (x - m).powi(2)).sum::<f64>() / rr.len() as f64).sqrt()
        };
        assert!((20.0..45.0).contains(&sd), "RR SD {sd}");
    }
}

#[test]
fn class_probabilities_and_class_durations() {
    let cfg = SynthConfig {
        rhythm: Rhythm::Biv,
        qrsd_ms: 130.0,
        intrinsic_qrsd_ms: 170.0,
        fusion_probability: 0.2,
        loss_of_capture_probability: 0.25,
        ectopic_probability: 0.1,
        seed: 9,
        ..SynthConfig::default()
    };
    let rec = generate(&cfg, 600.0).unwrap();
    let n = rec.truth.len() as f64;
    let frac = |c: BeatClass| rec.truth.iter().filter(|t| t.class == c).count() as f64 / n;
    // Ectopic beats take a slot of their own; the others split the rest.
    let ecto = frac(BeatClass::Ectopic);
    assert!((ecto - 0.1).abs() < 0.04, "ectopic {ecto}");
    let sinus = 1.0 - ecto;
    assert!((frac(BeatClass::Fusion) / sinus - 0.2).abs() < 0.05);
    assert!((frac(BeatClass::LossOfCapture) / sinus - 0.25).abs() < 0.05);
    assert_eq!(frac(BeatClass::Intrinsic), 0.0);
    let half = 0.5 * 1000.0 / cfg.fs_hz + 1e-9;
    let mut prev: Option<&BeatTruth> = None;
    for t in &rec.truth {
        match t.class {
            BeatClass::Paced => assert!((t.qrsd_ms - 130.0).abs() <= half),
            BeatClass::LossOfCapture => assert!((t.qrsd_ms - 170.0).abs() <= half),
            BeatClass::Fusion => assert!(t.qrsd_ms > 130.0 && t.qrsd_ms < 170.0),
            BeatClass::Ectopic => {
                assert!(t.qrsd_ms >= 180.0);
                // Premature: earlier than the sinus cycle would bring the next QRS.
                if let Some(p) = prev {
                    let rr_ms = (t.onset_sample - p.onset_sample) as f64 * 1000.0 / cfg.fs_hz;
                    assert!(rr_ms < 0.8 * 60_000.0 / cfg.rate_bpm, "{rr_ms}");
                }
            }
            BeatClass::Intrinsic => unreachable!(),
        }
        prev = Some(t);
    }
}

#[test]
fn pace_flag_and_pulse_averaging() {
    // 0.5 ms pulses at 500 Hz: one or two flagged samples whose values add up to a quarter of the amplitude
    // (in the lead where the artefact is largest).
    let amp = 100_000.0;
    let cfg = SynthConfig {
        fs_hz: 500.0,
        rhythm: Rhythm::Biv,
        pace: PaceConfig {
            pulse_width_ms: 0.5,
            amplitude_uv: amp,
            vv_offset_ms: 40.0,
            recharge_fraction: 0.0,
            ..PaceConfig::default()
        },
        clip_uv: 1.0e6,
        ..SynthConfig::default()
    };
    let rec = generate(&cfg, 10.0).unwrap();
    for t in &rec.truth {
        let s = t.stimulus_sample.unwrap() as usize;
        assert!(rec.pace_flags[s] && !rec.pace_flags[s - 1]);
        let n_flag = rec.pace_flags[s..].iter().take_while(|f| **f).count();
        assert!((1..=2).contains(&n_flag));
        let best = LEAD_NAMES
            .iter()
            .map(|name| {
                rec.lead(name).unwrap()[s..s + n_flag]
                    .iter()
                    .sum::<f64>()
                    .abs()
            })
            .fold(0.0, f64::max);
        assert!((best - 0.25 * amp).abs() < 1.0, "{best}");
        // The second (RV) stimulus, 40 ms later, is flagged too.
        let s2 = s + 20;
        assert!(rec.pace_flags[s2 - 1..=s2 + 1].iter().any(|f| *f));
    }
    // 2 ms pulses at 4 kHz: full amplitude reached on whole samples (RV first, both before the QRS).
    let cfg = SynthConfig {
        fs_hz: 4000.0,
        pace: PaceConfig {
            pulse_width_ms: 2.0,
            vv_offset_ms: -10.0,
            ..cfg.pace.clone()
        },
        ..cfg
    };
    let rec = generate(&cfg, 3.0).unwrap();
    let peak = LEAD_NAMES
        .iter()
        .flat_map(|n| rec.lead(n).unwrap().iter())
        .fold(0.0_f64, |m, x| m.max(x.abs()));
    assert!((peak - amp).abs() < 1e-6 * amp, "{peak}");
    assert!(rec.pace_flags.iter().filter(|f| **f).count() >= 2 * 8);
}

#[test]
fn clipping_and_lead_off() {
    let cfg = SynthConfig {
        fs_hz: 1000.0,
        rhythm: Rhythm::Biv,
        pace: PaceConfig {
            amplitude_uv: 700_000.0,
            pulse_width_ms: 1.0,
            ..PaceConfig::default()
        },
        clip_uv: 300_000.0,
        lead_off: vec![LeadOffWindow {
            lead: 2,
            start_s: 1.0,
            end_s: 2.0,
        }],
        ..SynthConfig::default()
    };
    let mut synth = Synth::new(cfg).unwrap();
    let mut buf = vec![Sample::default(); 3000];
    synth.fill(&mut buf);
    let max = buf
        .iter()
        .flat_map(|s| s.leads.iter())
        .fold(0.0_f64, |m, x| m.max(x.abs()));
    assert_eq!(max, 300_000.0);
    for (k, s) in buf.iter().enumerate() {
        let off = (1000..2000).contains(&k);
        assert_eq!(s.lead_off, if off { 1 << 2 } else { 0 }, "sample {k}");
        if off {
            assert_eq!(s.leads[2], 300_000.0);
        }
    }
    synth.set_lead_off(7, true).unwrap();
    synth.fill(&mut buf[..10]);
    assert!(buf[..10]
        .iter()
        .all(|s| s.lead_off == 1 << 7 && s.leads[7] == 300_000.0));
    synth.set_lead_off(7, false).unwrap();
    synth.fill(&mut buf[..10]);
    assert!(buf[..10].iter().all(|s| s.lead_off == 0));
    assert_eq!(synth.set_lead_off(8, true), Err(SynthError::NoSuchLead(8)));
    assert_eq!(synth.position(), 3020);
}

#[test]
fn rhythm_switch_applies_from_the_next_beats() {
    let mut synth = Synth::new(SynthConfig::default()).unwrap();
    let mut buf = vec![Sample::default(); 5000]; // 10 s at 500 Hz
    synth.fill(&mut buf);
    let before: Vec<_> = synth.drain_truth().collect();
    assert!(before.iter().all(|t| t.class == BeatClass::Intrinsic));
    synth.set_rhythm(Rhythm::Biv);
    synth.fill(&mut buf);
    let after: Vec<_> = synth.drain_truth().collect();
    // At most the beat already under way (and its T wave) is still intrinsic.
    assert!(after.iter().skip(1).all(|t| t.class == BeatClass::Paced));
    assert!(after.iter().skip(1).all(|t| t.stimulus_sample.is_some()));
}

#[test]
fn validation_names_the_field() {
    assert_eq!(SynthConfig::default().validate(), Ok(()));
    let field = |cfg: SynthConfig| match cfg.validate() {
        Err(SynthError::InvalidConfig { field, .. }) => field,
        other => panic!("expected an error, got {other:?}"),
    };
    let d = SynthConfig::default;
    assert_eq!(
        field(SynthConfig {
            fs_hz: 100.0,
            ..d()
        }),
        "fs_hz"
    );
    assert_eq!(
        field(SynthConfig {
            fs_hz: f64::NAN,
            ..d()
        }),
        "fs_hz"
    );
    assert_eq!(
        field(SynthConfig {
            qrsd_ms: 300.0,
            ..d()
        }),
        "qrsd_ms"
    );
    assert_eq!(
        field(SynthConfig {
            rate_bpm: 0.0,
            ..d()
        }),
        "rate_bpm"
    );
    assert_eq!(
        field(SynthConfig {
            hrv_ms: -1.0,
            ..d()
        }),
        "hrv_ms"
    );
    let pace = |p: PaceConfig| SynthConfig { pace: p, ..d() };
    assert_eq!(
        field(pace(PaceConfig {
            pulse_width_ms: 5.0,
            ..PaceConfig::default()
        })),
        "pace.pulse_width_ms"
    );
    assert_eq!(
        field(pace(PaceConfig {
            amplitude_uv: -1.0,
            ..PaceConfig::default()
        })),
        "pace.amplitude_uv"
    );
    assert_eq!(
        field(SynthConfig {
            fusion_probability: 0.6,
            loss_of_capture_probability: 0.6,
            ..d()
        }),
        "fusion_probability + loss_of_capture_probability"
    );
    assert_eq!(
        field(SynthConfig {
            ectopic_probability: 1.5,
            ..d()
        }),
        "ectopic_probability"
    );
    assert_eq!(
        field(SynthConfig {
            noise: NoiseConfig {
                mains_hz: 55.0,
                ..NoiseConfig::default()
            },
            ..d()
        }),
        "noise.mains_hz"
    );
    assert_eq!(
        field(SynthConfig {
            clip_uv: 0.0,
            ..d()
        }),
        "clip_uv"
    );
    assert_eq!(
        field(SynthConfig {
            lead_off: vec![LeadOffWindow {
                lead: 8,
                start_s: 0.0,
                end_s: 1.0
            }],
            ..d()
        }),
        "lead_off.lead"
    );
    assert_eq!(
        field(SynthConfig {
            lead_off: vec![LeadOffWindow {
                lead: 0,
                start_s: 2.0,
                end_s: 1.0
            }],
            ..d()
        }),
        "lead_off.end_s"
    );
    assert!(Synth::new(SynthConfig {
        fs_hz: 5000.0,
        ..d()
    })
    .is_err());
    assert!(matches!(
        generate(&d(), -1.0),
        Err(SynthError::InvalidDuration(_))
    ));
    let mut synth = Synth::new(d()).unwrap();
    assert!(matches!(
        synth.set_config(SynthConfig {
            fs_hz: 1000.0,
            ..d()
        }),
        Err(SynthError::SamplingRateChange { .. })
    ));
    assert!(synth
        .set_config(SynthConfig {
            qrsd_ms: 10.0,
            ..d()
        })
        .is_err());
    assert_eq!(synth.config(), &d());
}

#[test]
fn truth_and_config_serialise() {
    let rec = generate(&busy(500.0), 60.0).unwrap();
    let json = serde_json::to_string(&rec.truth).unwrap();
    for class in [
        "\"paced\"",
        "\"fusion\"",
        "\"loss_of_capture\"",
        "\"ectopic\"",
    ] {
        assert!(json.contains(class), "{class} missing");
    }
    let back: Vec<BeatTruth> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, rec.truth);
    assert_eq!(
        serde_json::to_string(&BeatClass::Intrinsic).unwrap(),
        "\"intrinsic\""
    );
    let cfg: SynthConfig =
        serde_json::from_str(r#"{"rhythm":"biv","qrsd_ms":120,"pace":{"vv_offset_ms":30}}"#)
            .unwrap();
    assert_eq!(cfg.rhythm, Rhythm::Biv);
    assert_eq!(cfg.pace.vv_offset_ms, 30.0);
    assert_eq!(cfg.pace.av_delay_ms, PaceConfig::default().av_delay_ms);
    let round: SynthConfig =
        serde_json::from_str(&serde_json::to_string(&busy(1000.0)).unwrap()).unwrap();
    assert_eq!(round, busy(1000.0));
}

#[test]
fn derived_limb_leads() {
    let [iii, avr, avl, avf] = derive_limb_leads(300.0, 800.0);
    assert_eq!([iii, avr, avl, avf], [500.0, -550.0, -100.0, 650.0]);
    // Einthoven and Goldberger identities.
    assert_eq!(avr + avl + avf, 0.0);
    assert_eq!(300.0 + iii, 800.0);
}

#[test]
fn runs_far_faster_than_real_time_at_2khz() {
    let mut synth = Synth::new(busy(2000.0)).unwrap();
    let mut buf = vec![Sample::default(); 2000];
    let t0 = Instant::now();
    for _ in 0..120 {
        synth.fill(&mut buf);
        synth.drain_truth().for_each(drop);
    }
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "120 s of busy 2 kHz signal in {secs:.3} s ({:.0}x real time)",
        120.0 / secs
    );
    // 120 s of signal; ≥ 100× real time means < 1.2 s even in an unoptimised build.
    assert!(secs < 1.2, "120 s of 2 kHz signal took {secs:.3} s");
}
