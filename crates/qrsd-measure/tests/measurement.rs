#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The measurement state machine on constructed beat sequences with known values.

use qrsd_measure::{
    BeatInput, BeatWaveform, EndReason, Measurement, MeasurementConfig, MeasurementResult,
    RejectReason, Status,
};
use qrsd_pipeline::{Beat, BeatClass, Boundary, LeadBoundary, Quality};

const FS: f64 = 1000.0;
const RR: u64 = 800;

/// A beat description: global QRSd, stimulus-to-onset latency, class, waveform shape.
#[derive(Clone, Copy)]
struct B {
    class: BeatClass,
    qrsd: u64,
    latency: u64,
    /// V1 QRSd = qrsd − v1_less.
    v1_less: u64,
    /// Waveform: None = no snippet; Some(sign of V1, width scale ‰).
    wave: Option<(f32, u64)>,
}

fn paced(qrsd: u64) -> B {
    B {
        class: BeatClass::Paced,
        qrsd,
        latency: 20,
        v1_less: 10,
        wave: None,
    }
}

fn intrinsic(qrsd: u64) -> B {
    B {
        class: BeatClass::Intrinsic,
        latency: 0,
        ..paced(qrsd)
    }
}

fn with_wave(mut b: B) -> B {
    b.wave = Some((1.0, 1000));
    b
}

/// Synthetic QRS shape of one lead: a biphasic wave over [onset, offset] relative to R = 400.
fn lead_wave(onset_rel: i64, qrsd: u64, sign: f32, phase: f32) -> Vec<f32> {
    (0..801)
        .map(|i| {
            let t = i as i64 - 400 - onset_rel;
            if t < 0 || t > qrsd as i64 {
                0.0
            } else {
                let x = t as f32 / qrsd as f32;
                sign * 1000.0
                    * (std::f32::consts::PI * x).sin()
                    * (2.0 * std::f32::consts::PI * x + phase).cos()
            }
        })
        .collect()
}

fn make(r: u64, b: B) -> BeatInput {
    let onset = r - 40;
    let g = Boundary {
        onset_sample: Some(onset),
        offset_sample: Some(onset + b.qrsd),
    };
    let v1 = Boundary {
        onset_sample: Some(onset + b.v1_less / 2),
        offset_sample: Some(onset + b.qrsd - (b.v1_less - b.v1_less / 2)),
    };
    let beat = Beat {
        r_sample: r,
        class: b.class,
        quality: Quality::Clean,
        pace_sample: (b.class == BeatClass::Paced).then(|| onset - b.latency),
        global: g,
        leads: vec![
            LeadBoundary {
                name: "II".into(),
                bounds: g,
            },
            LeadBoundary {
                name: "V1".into(),
                bounds: v1,
            },
            LeadBoundary {
                name: "V6".into(),
                bounds: g,
            },
        ],
        leads_excluded: Vec::new(),
        vcg: Default::default(),
    };
    let mut input = BeatInput::new(beat, FS);
    input.noise_uv = Some(8.0);
    if let Some((v1_sign, scale)) = b.wave {
        let w = b.qrsd * scale / 1000;
        input.waveform = Some(BeatWaveform {
            first_sample: r.saturating_sub(400),
            leads: vec![
                ("II".into(), lead_wave(-40, w, 1.0, 0.0)),
                ("V1".into(), lead_wave(-40, w, v1_sign, 0.7)),
                ("V6".into(), lead_wave(-40, w, 1.0, 1.4)),
            ],
        });
    }
    input
}

/// Feeds beats every 800 ms from sample 1000 until the measurement ends or the list runs out.
fn feed(m: &mut Measurement, beats: &[B]) -> Vec<Option<RejectReason>> {
    let mut reasons = Vec::new();
    let base = 1000 + RR * m.records().len() as u64;
    for (i, b) in beats.iter().enumerate() {
        if let Some(p) = m.push(make(base + RR * i as u64, *b)) {
            reasons.push(p.reason);
        }
    }
    reasons
}

fn site() -> Measurement {
    Measurement::new(MeasurementConfig::site(), 0).unwrap()
}

fn used_seqs(r: &MeasurementResult) -> Vec<usize> {
    r.beats.iter().filter(|b| b.used).map(|b| b.seq).collect()
}

#[test]
fn exact_median_iqr_sd_per_lead_and_stimulus_to_end() {
    let q = [130, 132, 128, 131, 129, 130, 133, 127, 130, 130];
    let mut m = site();
    let beats: Vec<B> = q.iter().map(|&x| paced(x)).collect();
    feed(&mut m, &beats);
    assert_eq!(m.status(), Status::Complete);
    let r = m.result();
    // sorted 127 128 129 130 130 130 130 131 132 133: median 130, Q1 129.25, Q3 130.75, SD √(28/9)
    assert_eq!(r.qrsd_ms, Some(130.0));
    assert!((r.iqr_ms.unwrap() - 1.5).abs() < 1e-9);
    assert!((r.sd_ms.unwrap() - (28.0f64 / 9.0).sqrt()).abs() < 1e-9);
    assert_eq!(r.leads["II"].qrsd_ms, Some(130.0));
    assert_eq!(r.leads["V6"].n, 10);
    assert_eq!(r.leads["V1"].qrsd_ms, Some(120.0));
    assert!((r.leads["V1"].iqr_ms.unwrap() - 1.5).abs() < 1e-9);
    // stimulus 20 ms before onset: stimulus-to-end = QRSd + 20
    assert_eq!(r.stim_to_end_ms, Some(150.0));
    assert!((r.stim_to_end.unwrap().iqr_ms - 1.5).abs() < 1e-9);
    assert_eq!(r.stim_to_onset_ms, Some(20.0));
    // per lead: V1 ends 5 ms before the global end
    assert_eq!(r.leads["II"].stim_to_end_ms, Some(150.0));
    assert_eq!(r.leads["V1"].stim_to_end_ms, Some(145.0));
    assert_eq!(r.leads["V1"].stim_to_end.unwrap().n, 10);
    assert_eq!(r.beats_used, 10);
    assert_eq!(r.beats_required, 10);
    assert_eq!(r.beats_rejected.total, 0);
    assert_eq!(r.reason, None);
    assert_eq!(r.reason_code, None);
    let run = r.run.unwrap();
    assert_eq!(run.first_sample, 1000 - 40);
    assert_eq!(run.last_sample, 1000 + 9 * RR - 40 + 130);
    assert_eq!(r.flags, Default::default());
    assert_eq!(r.noise_uv, Some(8.0));
    assert_eq!(m.beats_collected(), 10);
}

#[test]
fn baseline_collects_intrinsic_and_rejects_paced() {
    let mut m = Measurement::new(MeasurementConfig::baseline(), 0).unwrap();
    let mut beats = vec![intrinsic(160); 4];
    beats.push(paced(160));
    beats.extend(vec![intrinsic(160); 10]);
    let reasons = feed(&mut m, &beats);
    assert_eq!(reasons[4], Some(RejectReason::WrongClass));
    let r = m.result();
    assert_eq!(r.status, Status::Complete);
    assert_eq!(r.qrsd_ms, Some(160.0));
    assert_eq!(r.stim_to_end_ms, None, "no stimulus in a baseline");
    // The paced beat broke the run: the result uses the 10 beats after it.
    assert_eq!(used_seqs(&r), (5..15).collect::<Vec<_>>());
}

#[test]
fn artefacts_skip_a_beat_rhythm_events_break_the_run() {
    let mut m = site();
    // 5 good, then a noisy, a lead-off, an undelineated and a stimulus-less beat
    feed(&mut m, &[paced(140); 5]);
    let mut r = 1000 + 5 * RR;
    let mut noisy = make(r, paced(140));
    noisy.noise_uv = Some(80.0);
    assert_eq!(m.push(noisy).unwrap().reason, Some(RejectReason::Noise));
    r += RR;
    let mut off = make(r, paced(140));
    off.lead_off = 0b100;
    assert_eq!(m.push(off).unwrap().reason, Some(RejectReason::LeadOff));
    r += RR;
    let mut nb = make(r, paced(140));
    nb.beat.global.offset_sample = None;
    assert_eq!(m.push(nb).unwrap().reason, Some(RejectReason::NoBoundaries));
    r += RR;
    let mut ns = make(r, paced(140));
    ns.beat.pace_sample = None;
    assert_eq!(m.push(ns).unwrap().reason, Some(RejectReason::NoStimulus));
    assert_eq!(m.beats_collected(), 5, "artefacts did not break the run");
    // An ectopic beat breaks it.
    let beats = vec![B {
        class: BeatClass::Ectopic,
        ..paced(180)
    }];
    assert_eq!(feed(&mut m, &beats), vec![Some(RejectReason::Ectopic)]);
    assert_eq!(m.beats_collected(), 0);
    feed(&mut m, &[paced(140); 10]);
    let res = m.result();
    assert_eq!(res.status, Status::Complete);
    assert_eq!(res.beats_rejected.total, 5);
    for reason in [
        RejectReason::Noise,
        RejectReason::LeadOff,
        RejectReason::NoBoundaries,
        RejectReason::NoStimulus,
        RejectReason::Ectopic,
    ] {
        assert_eq!(res.beats_rejected.by_reason[&reason], 1, "{reason:?}");
    }
    assert!(res.flags.noise && res.flags.lead_off);
    assert!(!res.flags.suspected_fusion);
    assert_eq!(used_seqs(&res), (10..20).collect::<Vec<_>>());
}

#[test]
fn an_unclassified_beat_breaks_the_run_an_undelineated_one_skips() {
    let mut m = site();
    feed(&mut m, &[paced(140); 5]);
    let r = 1000 + 5 * RR;
    // `unknown` without boundaries: the beat could not be measured, the run goes on …
    let mut nb = make(r, paced(140));
    nb.beat.class = BeatClass::Unknown;
    nb.beat.global.offset_sample = None;
    assert_eq!(m.push(nb).unwrap().reason, Some(RejectReason::NoBoundaries));
    assert_eq!(m.beats_collected(), 5);
    // … with boundaries: a premature complex the pipeline could not class, a rhythm event.
    let mut un = make(r + RR, paced(140));
    un.beat.class = BeatClass::Unknown;
    assert_eq!(m.push(un).unwrap().reason, Some(RejectReason::Unclassified));
    assert_eq!(m.beats_collected(), 0);
    assert_eq!(RejectReason::Unclassified.as_str(), "unclassified");
}

#[test]
fn beats_the_quality_stage_finds_unreadable_or_classes_noise_are_never_used() {
    let mut m = site();
    feed(&mut m, &[paced(140); 5]);
    let mut r = 1000 + 5 * RR;
    // Kept as a paced beat (it has the record's shape) but no lead is readable at it.
    let mut unreadable = make(r, paced(140));
    unreadable.beat.quality = Quality::Unreadable;
    assert_eq!(
        m.push(unreadable).unwrap().reason,
        Some(RejectReason::Noise)
    );
    r += RR;
    let noise = make(
        r,
        B {
            class: BeatClass::Noise,
            ..paced(140)
        },
    );
    assert_eq!(m.push(noise).unwrap().reason, Some(RejectReason::Noise));
    r += RR;
    let mut off = make(r, paced(140));
    off.beat.quality = Quality::LeadOff;
    assert_eq!(m.push(off).unwrap().reason, Some(RejectReason::LeadOff));
    // Noisy leads still measure.
    r += RR;
    let mut noisy = make(r, paced(140));
    noisy.beat.quality = Quality::Noisy;
    assert_eq!(m.push(noisy).unwrap().reason, None);
    assert_eq!(m.beats_collected(), 6, "artefacts did not break the run");
    let res = m.result();
    assert!(res.flags.noise && res.flags.lead_off);
}

#[test]
fn strict_consecutive_breaks_on_any_rejection() {
    let cfg = MeasurementConfig {
        strict_consecutive: true,
        ..MeasurementConfig::site()
    };
    let mut m = Measurement::new(cfg, 0).unwrap();
    feed(&mut m, &[paced(140); 5]);
    let mut noisy = make(1000 + 5 * RR, paced(140));
    noisy.noise_uv = Some(500.0);
    m.push(noisy);
    assert_eq!(m.beats_collected(), 0);
}

#[test]
fn outlier_in_baseline_is_skipped_not_used() {
    let mut m = Measurement::new(MeasurementConfig::baseline(), 0).unwrap();
    let mut beats = vec![intrinsic(160); 6];
    beats.push(intrinsic(200)); // +40 ms: a delineation error
    beats.extend(vec![intrinsic(160); 4]);
    let reasons = feed(&mut m, &beats);
    assert_eq!(reasons[6], Some(RejectReason::Outlier));
    let r = m.result();
    assert_eq!(r.status, Status::Complete);
    assert_eq!(r.qrsd_ms, Some(160.0));
    assert_eq!(r.sd_ms, Some(0.0));
    assert!(!used_seqs(&r).contains(&6));
    assert_eq!(r.beats_used, 10);
}

#[test]
fn implausible_width_rejected() {
    let mut m = site();
    feed(&mut m, &[paced(140); 3]);
    assert_eq!(
        feed(&mut m, &[paced(20)]),
        vec![Some(RejectReason::Implausible)]
    );
}

#[test]
fn fusion_flagged_by_narrowing_without_waveforms() {
    let mut m = site();
    let mut beats = vec![paced(150); 5];
    beats.push(paced(118)); // 32 ms narrower
    beats.extend(vec![paced(150); 10]);
    let reasons = feed(&mut m, &beats);
    assert_eq!(reasons[5], Some(RejectReason::SuspectedFusion));
    let r = m.result();
    assert_eq!(r.status, Status::Complete);
    assert!(r.flags.suspected_fusion);
    assert!(!r.flags.suspected_loss_of_capture);
    assert_eq!(r.qrsd_ms, Some(150.0));
    assert_eq!(
        used_seqs(&r),
        (6..16).collect::<Vec<_>>(),
        "fusion broke the run"
    );
}

#[test]
fn fusion_by_latency_shift_and_narrowing_with_same_shape() {
    let mut m = site();
    let mut beats = vec![with_wave(paced(150)); 5];
    // 18 ms narrower (beyond 15) and the stimulus-to-onset interval 30 ms off: fusion.
    beats.push(B {
        latency: 50,
        ..with_wave(paced(132))
    });
    // 18 ms narrower by delineation, same latency, same waveform: within the outlier limit,
    // accepted.
    beats.push(B {
        wave: Some((1.0, 1000 * 150 / 132)),
        ..paced(132)
    });
    let reasons = feed(&mut m, &beats);
    assert_eq!(reasons[5], Some(RejectReason::SuspectedFusion));
    assert_eq!(reasons[6], None);
}

#[test]
fn loss_of_capture_flagged_by_widening_and_morphology() {
    let mut m = site();
    let mut beats = vec![with_wave(paced(140)); 5];
    // RV-only: 40 ms wider and V1 inverted (LBBB-like).
    beats.push(B {
        wave: Some((-1.0, 1000)),
        ..paced(180)
    });
    // 30 ms wider by delineation but the same waveform: an outlier, not loss of capture.
    beats.push(B {
        wave: Some((1.0, 1000 * 140 / 170)),
        ..paced(170)
    });
    beats.extend(vec![with_wave(paced(140)); 12]);
    let reasons = feed(&mut m, &beats);
    assert_eq!(reasons[5], Some(RejectReason::SuspectedLossOfCapture));
    assert_eq!(reasons[6], Some(RejectReason::Outlier));
    let r = m.result();
    assert_eq!(r.status, Status::Complete);
    assert!(r.flags.suspected_loss_of_capture);
    assert_eq!(r.qrsd_ms, Some(140.0));
    let loc = &r.beats[5];
    assert!(loc.correlation.unwrap() < 0.8, "{:?}", loc.correlation);
    assert!(r.beats[6].correlation.unwrap() > 0.9);
    // The LOC beat broke the run; the outlier only skipped: run = 6.. without 6.
    assert_eq!(
        used_seqs(&r),
        (7..17).collect::<Vec<_>>(),
        "run after the LOC beat, outlier skipped"
    );
}

#[test]
fn morphology_change_without_widening_is_fusion_in_a_paced_run() {
    let mut m = site();
    let mut beats = vec![with_wave(paced(140)); 5];
    beats.push(B {
        wave: Some((-1.0, 1000)),
        ..paced(145)
    });
    let reasons = feed(&mut m, &beats);
    assert_eq!(reasons[5], Some(RejectReason::SuspectedFusion));
    assert_eq!(m.beats_collected(), 0, "breaks the run");
}

#[test]
fn morphology_change_in_a_baseline_is_morphology() {
    let mut m = Measurement::new(MeasurementConfig::baseline(), 0).unwrap();
    let mut beats = vec![with_wave(intrinsic(160)); 5];
    beats.push(B {
        wave: Some((-1.0, 1000)),
        ..intrinsic(160)
    });
    let reasons = feed(&mut m, &beats);
    assert_eq!(reasons[5], Some(RejectReason::Morphology));
    assert_eq!(m.beats_collected(), 0);
}

#[test]
fn wide_beats_before_a_consensus_do_not_enter_the_result() {
    // The first three beats lose LV capture (180 ms), then capture is consistent (140 ms).
    let mut m = site();
    let mut beats = vec![paced(180); 3];
    beats.extend(vec![paced(140); 14]);
    feed(&mut m, &beats);
    let r = m.result();
    assert_eq!(r.status, Status::Complete);
    assert_eq!(r.qrsd_ms, Some(140.0));
    assert!(r
        .beats
        .iter()
        .filter(|b| b.used)
        .all(|b| b.qrsd_ms == Some(140.0)));
    // Final verdicts are against the result's run: the wide beats are loss of capture, the
    // narrow beats live-judged against the wide consensus are not fusion.
    assert!(r.flags.suspected_loss_of_capture);
    assert!(!r.flags.suspected_fusion);
    for b in &r.beats[..3] {
        assert_eq!(b.reason, Some(RejectReason::SuspectedLossOfCapture));
    }
}

#[test]
fn intermittent_fusion_until_timeout_is_incomplete_with_reason() {
    let mut m = site();
    // every 4th beat fused: never 8 consecutive clean beats; 60 s at 800 ms ≈ 75 beats
    let beats: Vec<B> = (0..100)
        .map(|i| if i % 4 == 3 { paced(110) } else { paced(150) })
        .collect();
    feed(&mut m, &beats);
    assert_eq!(m.status(), Status::Incomplete);
    let r = m.result();
    assert_eq!(r.qrsd_ms, None, "no bare number");
    assert_eq!(r.reason_code, Some(EndReason::Timeout));
    let reason = r.reason.clone().unwrap();
    assert!(reason.contains("timeout"), "{reason}");
    assert!(reason.contains("suspected_fusion"), "{reason}");
    assert!(r.flags.suspected_fusion);
    assert!(r.beats_rejected.by_reason[&RejectReason::SuspectedFusion] >= 15);
    assert!(r.beats.iter().all(|b| !b.used));
    assert!(r.median_beat.is_none());
    // ignored after the end
    assert!(m.push(make(10_000_000, paced(150))).is_none());
}

#[test]
fn short_run_at_timeout_is_complete_and_flagged() {
    let cfg = MeasurementConfig {
        timeout_s: 10.0,
        ..MeasurementConfig::site()
    };
    let mut m = Measurement::new(cfg, 0).unwrap();
    // 9 clean beats (≥ 8), then intrinsic beats only until the timeout.
    let mut beats = vec![paced(150); 9];
    beats.extend(vec![intrinsic(160); 10]);
    feed(&mut m, &beats);
    let r = m.result();
    assert_eq!(r.status, Status::Complete);
    assert_eq!(r.beats_used, 9);
    assert!(r.flags.short_run);
    assert_eq!(r.reason_code, Some(EndReason::Timeout));
    assert_eq!(r.qrsd_ms, Some(150.0));
}

#[test]
fn no_beats_at_all_times_out_via_advance() {
    let mut m = Measurement::new(MeasurementConfig::site(), 5_000).unwrap();
    assert_eq!(m.advance(30_000, FS), Status::Collecting);
    assert_eq!(m.advance(65_001, FS), Status::Incomplete);
    let r = m.result();
    assert_eq!(r.beats_seen, 0);
    assert!(r.reason.unwrap().contains("only 0 consecutive"));
}

#[test]
fn gap_breaks_the_run() {
    let mut m = site();
    feed(&mut m, &[paced(140); 6]);
    m.gap(1000 + 6 * RR - 100);
    assert_eq!(m.beats_collected(), 0);
    feed(&mut m, &[paced(140); 9]);
    assert_eq!(
        m.status(),
        Status::Collecting,
        "6 + 9 across a gap is not 10"
    );
    feed(&mut m, &[paced(140)]);
    let r = m.result();
    assert_eq!(r.status, Status::Complete);
    assert!(r.flags.gap);
    assert_eq!(r.gaps.len(), 1);
    assert_eq!(used_seqs(&r), (6..16).collect::<Vec<_>>());
}

#[test]
fn long_pause_breaks_the_run_and_out_of_order_is_rejected() {
    let mut m = site();
    feed(&mut m, &[paced(140); 4]);
    let last = 1000 + 3 * RR;
    // duplicate R
    assert_eq!(
        m.push(make(last, paced(140))).unwrap().reason,
        Some(RejectReason::NotConsecutive)
    );
    assert_eq!(m.beats_collected(), 0, "out of order breaks the run");
    feed(&mut m, &[paced(140); 3]);
    assert_eq!(m.beats_collected(), 3);
    // 3 s pause
    let r = m.records().last().unwrap().r_sample + 3000;
    let p = m.push(make(r, paced(140))).unwrap();
    assert_eq!(p.reason, None);
    assert_eq!(p.beats_collected, 1);
}

#[test]
fn stop_and_abort() {
    let mut m = site();
    feed(&mut m, &[paced(140); 8]);
    m.stop();
    let r = m.result();
    assert_eq!(r.status, Status::Complete);
    assert_eq!(r.reason_code, Some(EndReason::Stopped));
    assert_eq!(r.beats_used, 8);

    let mut m = site();
    feed(&mut m, &[paced(140); 7]);
    m.stop();
    assert_eq!(m.status(), Status::Incomplete);

    let mut m = site();
    feed(&mut m, &[paced(140); 3]);
    m.abort("source lost");
    let r = m.result();
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.reason.as_deref(), Some("source lost"));
    assert_eq!(r.qrsd_ms, None);
}

#[test]
fn median_beat_positions() {
    let mut m = site();
    feed(&mut m, &[with_wave(paced(140)); 10]);
    let r = m.result();
    let mb = r.median_beat.unwrap();
    assert_eq!(mb.n_beats, 10);
    assert_eq!(mb.r_index, 400);
    assert_eq!(mb.onset_index, Some(360));
    assert_eq!(mb.offset_index, Some(500));
    assert_eq!(mb.stim_index, Some(340));
    assert_eq!(mb.leads["V1"].onset_index, Some(365));
    assert_eq!(mb.leads["V1"].offset_index, Some(495));
    for l in ["II", "V1", "V6"] {
        assert_eq!(mb.leads[l].uv.len(), 801, "{l}");
    }
    // identical beats: the median equals the input
    let w = lead_wave(-40, 140, 1.0, 0.0);
    assert_eq!(mb.leads["II"].uv, w);
}

#[test]
fn collecting_result_has_no_number() {
    let mut m = site();
    feed(&mut m, &[paced(140); 4]);
    let r = m.result();
    assert_eq!(r.status, Status::Collecting);
    assert_eq!(r.beats_used, 4);
    assert_eq!(r.qrsd_ms, None);
    assert_eq!(r.beats.len(), 4);
}

#[test]
fn result_json_shape() {
    let mut m = site();
    let mut beats = vec![with_wave(paced(140)); 3];
    beats.push(paced(90));
    feed(&mut m, &beats);
    let mut bad = make(1000 + 4 * RR, paced(140));
    bad.noise_uv = Some(100.0);
    m.push(bad);
    feed(&mut m, &[with_wave(paced(140)); 10]);
    let r = m.result();
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["status"], "complete");
    assert_eq!(v["kind"], "site");
    assert_eq!(v["qrsd_ms"], 140.0);
    for l in ["II", "V1", "V6"] {
        for k in ["qrsd_ms", "iqr_ms", "sd_ms", "n"] {
            assert!(v["leads"][l].get(k).is_some(), "leads.{l}.{k}");
        }
    }
    for k in [
        "iqr_ms",
        "sd_ms",
        "stim_to_end_ms",
        "beats_used",
        "beats_required",
        "median_beat",
        "run",
    ] {
        assert!(v.get(k).is_some(), "{k}");
    }
    assert_eq!(v["beats_required"], 10);
    assert_eq!(v["beats_rejected"]["by_reason"]["noise"], 1);
    assert!(v["beats_rejected"]["by_reason"]
        .get("suspected_fusion")
        .is_some());
    for k in [
        "noise",
        "lead_off",
        "suspected_fusion",
        "suspected_loss_of_capture",
    ] {
        assert!(v["flags"][k].is_boolean(), "flags.{k}");
    }
    assert_eq!(v["flags"]["noise"], true);
    let b0 = &v["beats"][0];
    for k in [
        "r_sample",
        "class",
        "onset_sample",
        "offset_sample",
        "leads",
        "qrsd_ms",
        "stim_to_end_ms",
        "accepted",
        "reason",
        "used",
    ] {
        assert!(b0.get(k).is_some(), "beats[0].{k}");
    }
    assert_eq!(b0["class"], "paced");
    assert_eq!(b0["leads"]["V1"]["qrsd_ms"], 130.0);
    assert_eq!(v["beats"][3]["reason"], "suspected_fusion");
    assert_eq!(v["beats"][3]["accepted"], false);
    assert!(v["run"]["first_sample"].is_u64() && v["run"]["last_sample"].is_u64());
    assert!(v["median_beat"]["leads"]["II"]["uv"].is_array());
    // round trip
    let back: MeasurementResult = serde_json::from_value(v).unwrap();
    assert_eq!(back, r);
}

#[test]
fn invalid_config_is_refused() {
    let cfg = MeasurementConfig {
        beats_min: 0,
        ..MeasurementConfig::site()
    };
    assert!(Measurement::new(cfg, 0).is_err());
}

/// Arbitrary, inconsistent beats (onset after offset, stimulus after the QRS, R at 0, lead-off,
/// NaN noise, short or NaN waveforms, huge sample numbers) never panic, and the result always
/// serialises and reads back.
#[test]
fn arbitrary_input_never_panics() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..40 {
        let cfg = if round % 2 == 0 {
            MeasurementConfig::site()
        } else {
            MeasurementConfig::baseline()
        };
        let mut m = Measurement::new(cfg, next() % 1000).unwrap();
        let mut r = next() % 5000;
        for _ in 0..200 {
            r = match next() % 10 {
                0 => r.saturating_sub(next() % 2000),
                1 => r + next() % 100_000,
                2 => u64::MAX / 2 + next() % 1000,
                _ => r + 300 + next() % 900,
            };
            let class = match next() % 5 {
                0 => BeatClass::Intrinsic,
                1 => BeatClass::Ectopic,
                2 => BeatClass::Unknown,
                _ => BeatClass::Paced,
            };
            let q = next() % 400;
            let mut input = make(
                r.max(100),
                B {
                    class,
                    qrsd: q,
                    latency: next() % 60,
                    v1_less: q.min(10),
                    wave: (next() % 2 == 0).then_some((
                        if next() % 2 == 0 { 1.0 } else { -1.0 },
                        500 + next() % 1000,
                    )),
                },
            );
            match next() % 8 {
                0 => {
                    // onset after offset
                    input.beat.global.onset_sample = input.beat.global.offset_sample.map(|o| o + 5);
                }
                1 => input.beat.pace_sample = Some(r + 500),
                2 => input.noise_uv = Some(f64::NAN),
                3 => input.lead_off = 1,
                4 => {
                    if let Some(w) = &mut input.waveform {
                        w.leads[0].1.truncate((next() % 50) as usize);
                        w.leads[1]
                            .1
                            .iter_mut()
                            .step_by(3)
                            .for_each(|v| *v = f32::NAN);
                        w.first_sample = r + 10; // after R
                    }
                }
                5 => m.gap(r),
                6 => input.fs_hz = if next() % 2 == 0 { 0.0 } else { 250.0 },
                _ => {}
            }
            m.push(input);
            if next() % 50 == 0 {
                m.advance(r + next() % 100_000, FS);
            }
        }
        if round % 3 == 0 {
            m.stop();
        }
        let res = m.result();
        let json = serde_json::to_string(&res).unwrap();
        let _: MeasurementResult = serde_json::from_str(&json).unwrap();
    }
}

#[test]
fn beats_before_the_start_are_ignored() {
    let mut m = Measurement::new(MeasurementConfig::site(), 5_000).unwrap();
    assert!(m.push(make(4_900, paced(140))).is_none());
    assert!(m.records().is_empty());
    assert!(m.push(make(5_100, paced(140))).is_some());
    assert_eq!(m.records().len(), 1);
}
