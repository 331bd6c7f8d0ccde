#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End to end: synthetic ECG with known truth → the real pipeline → the measurement.

use qrsd_measure::{
    BeatInput, BeatWaveform, Measurement, MeasurementConfig, MeasurementResult, RejectReason,
    Status,
};
use qrsd_pipeline::{Beat, Pipeline, PipelineConfig};
use qrsd_synth::{
    generate, BeatClass as TrueClass, BeatTruth, Rhythm, SynthConfig, SynthRecording,
};

fn beats_of(rec: &SynthRecording) -> Vec<Beat> {
    Pipeline::new(PipelineConfig::new(rec.fs_hz, rec.lead_names()))
        .unwrap()
        .run_to_end(&rec.leads_f32(), Some(rec.pace_flags.as_slice()))
}

fn snippet(rec: &SynthRecording, r: u64) -> Option<BeatWaveform> {
    let half = (0.4 * rec.fs_hz).round() as u64;
    let first = r.checked_sub(half)?;
    let last = r + half;
    if last as usize >= rec.len_samples() {
        return None;
    }
    Some(BeatWaveform {
        first_sample: first,
        leads: ["II", "V1", "V6"]
            .iter()
            .map(|n| {
                let v = rec.lead(n).unwrap();
                (
                    n.to_string(),
                    v[first as usize..=last as usize]
                        .iter()
                        .map(|x| *x as f32)
                        .collect(),
                )
            })
            .collect(),
    })
}

fn truth_of<'a>(rec: &'a SynthRecording, b: &Beat) -> Option<&'a BeatTruth> {
    rec.truth
        .iter()
        .find(|t| (t.onset_sample..=t.offset_sample).contains(&b.r_sample))
}

/// Runs a measurement over the recording; returns it and the truth class of each considered beat.
fn measure(
    rec: &SynthRecording,
    cfg: MeasurementConfig,
    waveforms: bool,
) -> (MeasurementResult, Vec<Option<TrueClass>>) {
    let mut m = Measurement::new(cfg, 0).unwrap();
    let mut truth = Vec::new();
    for b in beats_of(rec) {
        let t = truth_of(rec, &b).map(|t| t.class);
        let mut input = BeatInput::new(b.clone(), rec.fs_hz);
        if waveforms {
            input.waveform = snippet(rec, b.r_sample);
        }
        if m.push(input).is_some() {
            truth.push(t);
        }
        if m.status() != Status::Collecting {
            break;
        }
    }
    m.stop();
    let r = m.result();
    if std::env::var("QRSD_DIAG").is_ok() {
        for (b, t) in r.beats.iter().zip(&truth) {
            eprintln!(
                "{:>3} {:?} q={:?} lat={:?} r={:?} used={} {:?}",
                b.seq,
                t,
                b.qrsd_ms,
                b.stim_to_onset_ms,
                b.correlation.map(|c| (c * 1000.0).round() / 1000.0),
                b.used,
                b.reason
            );
        }
    }
    (r, truth)
}

/// A measurement that never completes early, so that every beat of the recording is judged.
fn long_run() -> MeasurementConfig {
    MeasurementConfig {
        beats_required: 1000,
        timeout_s: 115.0,
        ..MeasurementConfig::site()
    }
}

fn biv(qrsd: f64, seed: u64) -> SynthConfig {
    SynthConfig {
        fs_hz: 1000.0,
        rhythm: Rhythm::Biv,
        qrsd_ms: qrsd,
        intrinsic_qrsd_ms: 170.0,
        loc_extra_qrsd_ms: 40.0,
        hrv_ms: 10.0,
        seed,
        ..SynthConfig::default()
    }
}

#[test]
fn clean_biv_site_is_the_pipeline_median_and_near_truth() {
    for (q, seed) in [(120.0, 1), (140.0, 2), (160.0, 3)] {
        let rec = generate(&biv(q, seed), 30.0).unwrap();
        let (r, _) = measure(&rec, MeasurementConfig::site(), true);
        assert_eq!(r.status, Status::Complete, "{q}: {:?}", r.reason);
        let got = r.qrsd_ms.unwrap();
        // The measurement adds no error to the pipeline's per-beat values…
        let per_beat: Vec<f64> = r
            .beats
            .iter()
            .filter(|b| b.used)
            .filter_map(|b| b.qrsd_ms)
            .collect();
        assert_eq!(Some(got), qrsd_measure::stats::median(&per_beat));
        // …and those are within the delineator's accuracy of the truth (docs/validation.md).
        eprintln!("truth {q} ms → measured {got} ms (IQR {:?})", r.iqr_ms);
        assert!((got - q).abs() <= 8.0, "truth {q} ms, measured {got} ms");
        assert_eq!(r.beats_used, 10);
        assert!(
            !r.flags.suspected_fusion && !r.flags.suspected_loss_of_capture,
            "{q}: false flags {:?} {:?}",
            r.flags,
            r.beats_rejected
        );
        assert!(r.median_beat.is_some());
    }
}

#[test]
fn intrinsic_lbbb_baseline() {
    let cfg = SynthConfig {
        fs_hz: 1000.0,
        qrsd_ms: 165.0,
        seed: 9,
        ..SynthConfig::default()
    };
    let rec = generate(&cfg, 30.0).unwrap();
    let (r, _) = measure(&rec, MeasurementConfig::baseline(), true);
    assert_eq!(r.status, Status::Complete, "{:?}", r.reason);
    let got = r.qrsd_ms.unwrap();
    assert!((got - 165.0).abs() <= 5.0, "measured {got}");
}

/// Beats of the given truth class, and how many of them were rejected for `reason`.
fn tally(
    r: &MeasurementResult,
    truth: &[Option<TrueClass>],
    class: TrueClass,
    reason: RejectReason,
) -> (usize, usize) {
    let mut n = 0;
    let mut hit = 0;
    for (b, t) in r.beats.iter().zip(truth) {
        if *t == Some(class) {
            n += 1;
            if b.reason == Some(reason) {
                hit += 1;
            }
        }
    }
    (n, hit)
}

#[test]
fn loss_of_capture_beats_are_flagged_and_kept_out() {
    let cfg = SynthConfig {
        loss_of_capture_probability: 0.15,
        ..biv(140.0, 21)
    };
    let rec = generate(&cfg, 120.0).unwrap();
    let mc = long_run();
    let (r, truth) = measure(&rec, mc, true);
    let (n, hit) = tally(
        &r,
        &truth,
        TrueClass::LossOfCapture,
        RejectReason::SuspectedLossOfCapture,
    );
    assert!(n >= 3, "the scenario has LOC beats before completion ({n})");
    assert!(
        hit == n,
        "{hit} of {n} LOC beats flagged: {:?}",
        r.beats_rejected
    );
    assert!(r.flags.suspected_loss_of_capture);
    for (b, t) in r.beats.iter().zip(&truth) {
        if b.used {
            assert_eq!(
                *t,
                Some(TrueClass::Paced),
                "only captured beats in the result"
            );
        }
    }
    if r.status == Status::Complete {
        assert!((r.qrsd_ms.unwrap() - 140.0).abs() <= 3.0, "{:?}", r.qrsd_ms);
    }
}

#[test]
fn fusion_beats_are_flagged_and_kept_out() {
    let cfg = SynthConfig {
        fusion_probability: 0.15,
        ..biv(140.0, 33)
    };
    let rec = generate(&cfg, 120.0).unwrap();
    let mc = long_run();
    let (r, truth) = measure(&rec, mc, true);
    let mut n = 0;
    let mut flagged = 0;
    for (b, t) in r.beats.iter().zip(&truth) {
        if *t == Some(TrueClass::Fusion) {
            n += 1;
            if !b.used && b.reason.is_some() {
                flagged += 1;
            }
        }
        if b.used {
            assert_eq!(
                *t,
                Some(TrueClass::Paced),
                "only captured beats in the result"
            );
        }
    }
    let (_, as_fusion) = tally(&r, &truth, TrueClass::Fusion, RejectReason::SuspectedFusion);
    assert!(n >= 3, "scenario has fusion beats ({n})");
    assert_eq!(
        flagged, n,
        "every fusion beat rejected: {:?}",
        r.beats_rejected
    );
    assert!(
        as_fusion * 2 >= n,
        "most as suspected_fusion ({as_fusion} of {n}): {:?}",
        r.beats_rejected
    );
    assert!(r.flags.suspected_fusion);
}

#[test]
fn moderate_noise_no_false_fusion_or_loc() {
    let cfg = SynthConfig {
        noise: qrsd_synth::NoiseConfig::moderate(),
        ..biv(140.0, 44)
    };
    let rec = generate(&cfg, 60.0).unwrap();
    let (r, truth) = measure(
        &rec,
        MeasurementConfig {
            timeout_s: 55.0,
            ..long_run()
        },
        true,
    );
    let false_flags = r
        .beats
        .iter()
        .zip(&truth)
        .filter(|(b, t)| {
            **t == Some(TrueClass::Paced)
                && matches!(
                    b.reason,
                    Some(RejectReason::SuspectedFusion | RejectReason::SuspectedLossOfCapture)
                )
        })
        .count();
    assert!(r.beats.len() >= 50);
    assert_eq!(false_flags, 0, "{:?}", r.beats_rejected);
    assert_eq!(r.status, Status::Complete);
    assert!((r.qrsd_ms.unwrap() - 140.0).abs() <= 8.0, "{:?}", r.qrsd_ms);
}

#[test]
fn gaps_in_waveforms_are_tolerated() {
    let rec = generate(&biv(140.0, 5), 20.0).unwrap();
    let mut m = Measurement::new(MeasurementConfig::site(), 0).unwrap();
    for b in beats_of(&rec) {
        let mut input = BeatInput::new(b.clone(), rec.fs_hz);
        input.waveform = snippet(&rec, b.r_sample).map(|mut w| {
            for (_, v) in &mut w.leads {
                v[100..150].iter_mut().for_each(|x| *x = f32::NAN);
            }
            w
        });
        m.push(input);
    }
    let r = m.result();
    assert_eq!(r.status, Status::Complete);
    let json = serde_json::to_string(&r).unwrap();
    let back: MeasurementResult = serde_json::from_str(&json).unwrap();
    assert_eq!(back.qrsd_ms, r.qrsd_ms);
}

#[test]
fn wide_fusion_is_rejected_even_when_labelled_loss_of_capture() {
    // Intrinsic LBBB much wider than BiV: fusion complexes are up to ~30 ms wider than paced,
    // in the loss-of-capture range. They must still be kept out of the result and flagged.
    let cfg = SynthConfig {
        qrsd_ms: 130.0,
        intrinsic_qrsd_ms: 200.0,
        fusion_probability: 0.15,
        ..biv(130.0, 55)
    };
    let rec = generate(&cfg, 120.0).unwrap();
    let (r, truth) = measure(&rec, long_run(), true);
    let mut n = 0;
    for (b, t) in r.beats.iter().zip(&truth) {
        if *t == Some(TrueClass::Fusion) {
            n += 1;
            assert!(
                matches!(
                    b.reason,
                    Some(RejectReason::SuspectedFusion | RejectReason::SuspectedLossOfCapture)
                ),
                "fusion beat {} q={:?} r={:?}: {:?}",
                b.seq,
                b.qrsd_ms,
                b.correlation,
                b.reason
            );
        }
        if b.used {
            assert_eq!(*t, Some(TrueClass::Paced));
        }
    }
    assert!(n >= 5, "{n}");
    assert!(r.flags.suspected_fusion);
}

#[test]
fn ectopic_beats_in_a_paced_run() {
    let cfg = SynthConfig {
        ectopic_probability: 0.1,
        ..biv(140.0, 66)
    };
    let rec = generate(&cfg, 120.0).unwrap();
    let (r, truth) = measure(&rec, long_run(), true);
    let mut n = 0;
    for (b, t) in r.beats.iter().zip(&truth) {
        if *t == Some(TrueClass::Ectopic) {
            n += 1;
            assert!(!b.accepted, "ectopic beat {} accepted", b.seq);
        }
        if b.used {
            assert_eq!(*t, Some(TrueClass::Paced));
        }
    }
    assert!(n >= 3, "{n}");
    assert_eq!(r.status, Status::Complete);
    assert!((r.qrsd_ms.unwrap() - 140.0).abs() <= 8.0);
}
