//! Synthetic signals with known truth: boundaries, stimulus times and classes at several rates.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use qrsd_pipeline::{Beat, BeatClass, Pipeline, PipelineConfig};
use qrsd_synth::{
    generate, BeatClass as TrueClass, NoiseConfig, Rhythm, SynthConfig, SynthRecording,
};

fn run(rec: &SynthRecording, use_flags: bool) -> Vec<Beat> {
    Pipeline::new(PipelineConfig::new(rec.fs_hz, rec.lead_names()))
        .unwrap()
        .run_to_end(
            &rec.leads_f32(),
            use_flags.then_some(rec.pace_flags.as_slice()),
        )
}

struct Errors {
    /// Global QRSd − the truth `qrsd_ms` (QRS support), ms.
    qrsd_vs_support_ms: Vec<f64>,
    onset_ms: Vec<f64>,
    offset_ms: Vec<f64>,
    qrsd_ms: Vec<f64>,
    matched: usize,
    truths: usize,
    wrong_class: usize,
}

fn median_abs(v: &[f64]) -> f64 {
    let mut a: Vec<f64> = v.iter().map(|x| x.abs()).collect();
    a.sort_by(f64::total_cmp);
    a.get(a.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Match each true beat to its detected beat, and collect global errors against the QRS support (the
/// truth `qrsd_ms`) and the visible 12-lead span (`lead_span`, within 0–2 ms of the support).
fn compare(rec: &SynthRecording, beats: &[Beat], class: BeatClass) -> Errors {
    let ms = 1000.0 / rec.fs_hz;
    let mut e = Errors {
        qrsd_vs_support_ms: vec![],
        onset_ms: vec![],
        offset_ms: vec![],
        qrsd_ms: vec![],
        matched: 0,
        truths: 0,
        wrong_class: 0,
    };
    for t in &rec.truth {
        let Some(span) = t.lead_span() else { continue };
        e.truths += 1;
        // The detection rule of the evaluation: R inside the QRS or within 75 ms of the true R.
        let near = |b: &&Beat| {
            (t.onset_sample..=t.offset_sample).contains(&b.r_sample)
                || (b.r_sample as f64 - t.r_sample as f64).abs() * ms <= 75.0
        };
        let Some(b) = beats.iter().find(near) else {
            continue;
        };
        e.matched += 1;
        if b.class != class {
            e.wrong_class += 1;
        }
        if class == BeatClass::Paced {
            let stim = t.stimulus_sample.unwrap() as f64;
            match b.pace_sample {
                Some(got) => assert!(
                    (got as f64 - stim).abs() * ms <= 1.0 + ms,
                    "stimulus {got} vs {stim}"
                ),
                None => e.wrong_class += 1,
            }
        }
        let (on, off) = (
            b.global.onset_sample.unwrap() as f64,
            b.global.offset_sample.unwrap() as f64,
        );
        e.qrsd_vs_support_ms.push((off - on) * ms - t.qrsd_ms);
        e.onset_ms.push((on - span.onset_sample as f64) * ms);
        e.offset_ms.push((off - span.offset_sample as f64) * ms);
        e.qrsd_ms
            .push(((off - on) - (span.offset_sample - span.onset_sample) as f64) * ms);
    }
    e
}

#[test]
fn intrinsic_lbbb_and_biv_paced_boundaries_match_truth() {
    let mut failures = Vec::new();
    for fs in [250.0, 500.0, 1000.0, 2000.0] {
        for (rhythm, qrsd, class) in [
            (Rhythm::Intrinsic, 160.0, BeatClass::Intrinsic),
            (Rhythm::Biv, 120.0, BeatClass::Paced),
        ] {
            let cfg = SynthConfig {
                fs_hz: fs,
                rhythm,
                qrsd_ms: qrsd,
                intrinsic_qrsd_ms: 160.0,
                noise: NoiseConfig::moderate(),
                seed: 7,
                ..SynthConfig::default()
            };
            let rec = generate(&cfg, 30.0).unwrap();
            let beats = run(&rec, true);
            let e = compare(&rec, &beats, class);
            assert!(e.truths >= 30, "fs {fs}: {} beats of truth", e.truths);
            assert_eq!(
                e.matched, e.truths,
                "fs {fs} {rhythm:?}: detected {} of {}",
                e.matched, e.truths
            );
            let (mo, mf, mq) = (
                median_abs(&e.onset_ms),
                median_abs(&e.offset_ms),
                median_abs(&e.qrsd_ms),
            );
            let ms_support = median_abs(&e.qrsd_vs_support_ms);
            let max_support = e
                .qrsd_vs_support_ms
                .iter()
                .fold(0.0f64, |m, x| m.max(x.abs()));
            eprintln!(
                "fs {fs} {rhythm:?}: QRSd − truth: median |error| {ms_support:.1} ms, max {max_support:.1} ms; vs visible span: onset {mo:.1} offset {mf:.1} qrsd {mq:.1} ms; {} of {} beats of the wrong class",
                e.wrong_class, e.matched
            );
            if e.wrong_class * 10 > e.matched {
                failures.push(format!(
                    "fs {fs} {rhythm:?}: {} beats not classed {class:?}",
                    e.wrong_class
                ));
            }
            // Product target at 500 and 1000 Hz: median |QRSd error| ≤ 3 ms against the truth (the QRS
            // support). The simulator's default edges have LUDB's slow feet, so the per-lead threshold
            // truth ("visible span", printed) lies 8–12 ms inside the support by design and is not a
            // target. Measured 2026-12-07 (medians / max): 250 Hz 4 / 8 and 0 / 4, 500 Hz 2 / 10 and
            // 2 / 6, 1000 Hz 3 / 6 and 1 / 3, 2000 Hz 2.5 / 6 and 2 / 4 ms (intrinsic and BiV); the
            // single beats beyond 6 ms are LBBB beats whose foot sinks into the EMG.
            let (tol_median, tol_max) = match fs as u32 {
                250 => (6.0, 12.0),
                500 => (3.0, 12.0),
                1000 => (3.0, 8.0),
                _ => (3.0, 8.0),
            };
            if !(ms_support <= tol_median && max_support <= tol_max) {
                failures.push(format!(
                    "fs {fs} {rhythm:?}: QRSd median {ms_support} max {max_support}; span onset {mo} offset {mf} qrsd {mq} ms"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn software_detection_finds_large_stimuli_without_the_hardware_flag() {
    let cfg = SynthConfig {
        fs_hz: 2000.0,
        rhythm: Rhythm::Biv,
        qrsd_ms: 130.0,
        seed: 3,
        ..SynthConfig::default()
    };
    let rec = generate(&cfg, 20.0).unwrap();
    let beats = run(&rec, false);
    let e = compare(&rec, &beats, BeatClass::Paced);
    if std::env::var("DBG").is_ok() {
        for b in &beats {
            eprintln!(
                "beat r {} {:?} {:?} pace {:?}",
                b.r_sample, b.global, b.class, b.pace_sample
            );
        }
        for t in &rec.truth {
            eprintln!(
                "truth {}..{} r {} stim {:?}",
                t.onset_sample, t.offset_sample, t.r_sample, t.stimulus_sample
            );
        }
    }
    eprintln!(
        "software pace detection: {} beats detected of {} true, {} without stimulus",
        beats.len(),
        e.truths,
        e.wrong_class
    );
    assert_eq!(e.matched, e.truths);
    assert!(rec.truth.iter().all(|t| t.class == TrueClass::Paced));
}

/// Detection over a long mixed rhythm: BiV pacing with fusion, loss of capture and premature ventricular
/// complexes, moderate noise, 12 leads and a 2-lead Holter-like pair (II + V5), 250–1000 Hz.
#[test]
fn long_mixed_rhythm_detection() {
    let mut failures = Vec::new();
    for fs in [250.0, 360.0, 500.0, 1000.0] {
        for (two_lead, flags) in [(false, true), (true, true), (true, false)] {
            let cfg = SynthConfig {
                fs_hz: fs,
                rhythm: Rhythm::Biv,
                qrsd_ms: 130.0,
                intrinsic_qrsd_ms: 160.0,
                rate_bpm: 75.0,
                fusion_probability: 0.05,
                loss_of_capture_probability: 0.05,
                ectopic_probability: 0.08,
                noise: NoiseConfig::moderate(),
                seed: 11,
                ..SynthConfig::default()
            };
            let mut rec = generate(&cfg, 300.0).unwrap();
            if two_lead {
                rec.leads.retain(|(n, _)| n == "II" || n == "V5");
            }
            let beats = run(&rec, flags);
            let ms = 1000.0 / fs;
            let mut used = vec![false; beats.len()];
            let mut tp = 0;
            for t in &rec.truth {
                let hit = beats.iter().enumerate().find(|(j, b)| {
                    !used[*j]
                        && ((t.onset_sample..=t.offset_sample).contains(&b.r_sample)
                            || (b.r_sample as f64 - t.r_sample as f64).abs() * ms <= 75.0)
                });
                if let Some((j, _)) = hit {
                    used[j] = true;
                    tp += 1;
                } else if std::env::var("DBG").is_ok() {
                    let near: Vec<_> = beats
                        .iter()
                        .filter(|b| {
                            (b.r_sample as i64 - t.r_sample as i64).abs() < (0.4 * fs) as i64
                        })
                        .map(|b| (b.r_sample, b.global, b.class))
                        .collect();
                    eprintln!(
                        "missed {:?} {}..{} r {}: near {near:?}",
                        t.class, t.onset_sample, t.offset_sample, t.r_sample
                    );
                }
            }
            let fp = used.iter().filter(|u| !**u).count();
            let se = 100.0 * tp as f64 / rec.truth.len() as f64;
            let ppv = 100.0 * tp as f64 / (tp + fp).max(1) as f64;
            eprintln!(
                "fs {fs} {} leads, pace flag {flags}: {} beats, Se {se:.2}% PPV {ppv:.2}%",
                rec.leads.len(),
                rec.truth.len()
            );
            if se < 99.5 || ppv < 99.5 {
                failures.push(format!(
                    "fs {fs} {} leads flags {flags}: Se {se:.2} PPV {ppv:.2}",
                    rec.leads.len()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Paced rhythm on an ambulatory-style 2-lead recording without the hardware flag: every stimulus
/// smeared by a recorder's 100 Hz low-pass (two one-pole sections) and rounded to 5 µV. A large
/// stimulus must still be found (it straddles two samples with a decaying tail); one under the
/// detector's threshold (3 mV at 500 Hz: ~350 µV after the low-pass), the largest deflection of a
/// small paced QRS, must not be taken for R (the beat would sit up to 100 ms before its QRS peak and
/// miss its match), and is found as a weak candidate on which the QRS onset lies. Also
/// `cargo run --release -p qrsd-pipeline --example holter_paced` for the whole grid.
#[test]
fn smeared_stimuli_on_a_two_lead_recording() {
    use qrsd_synth::PaceConfig;
    let mut failures = Vec::new();
    for (fs, amp_uv, min_found) in [
        (360.0, 10_000.0, 0.95),
        (500.0, 10_000.0, 0.95),
        (500.0, 3_000.0, 0.7),
    ] {
        let cfg = SynthConfig {
            fs_hz: fs,
            rhythm: Rhythm::Biv,
            qrsd_ms: 130.0,
            intrinsic_qrsd_ms: 160.0,
            rate_bpm: 75.0,
            fusion_probability: 0.05,
            loss_of_capture_probability: 0.05,
            ectopic_probability: 0.08,
            noise: NoiseConfig::moderate(),
            pace: PaceConfig {
                amplitude_uv: amp_uv,
                ..PaceConfig::default()
            },
            seed: 5,
            ..SynthConfig::default()
        };
        let mut rec = generate(&cfg, 150.0).unwrap();
        rec.leads.retain(|(n, _)| n == "II" || n == "V5");
        rec.through_recorder(100.0, 5.0);
        let beats = run(&rec, false);
        let ms = 1000.0 / fs;
        let mut used = vec![false; beats.len()];
        let (mut tp, mut paced, mut found, mut far) = (0, 0, 0, 0);
        let mut qrsd_err_ms = Vec::new();
        for t in &rec.truth {
            let hit = beats.iter().enumerate().find(|(j, b)| {
                !used[*j]
                    && ((t.onset_sample..=t.offset_sample).contains(&b.r_sample)
                        || (b.r_sample as f64 - t.r_sample as f64).abs() * ms <= 75.0)
            });
            let Some((j, b)) = hit else { continue };
            used[j] = true;
            tp += 1;
            // Beats with a stimulus (paced, fusion, loss of capture): R on the stimulus, before the
            // QRS. (Within the QRS the 2-lead R may lie far from the truth's 8-lead one: fusion beats.)
            if t.stimulus_sample.is_some() && b.r_sample < t.onset_sample {
                far += 1;
            }
            if t.class == TrueClass::Paced {
                paced += 1;
                found += usize::from(b.pace_sample.is_some());
                if let Some(q) = b.global.duration_ms(fs) {
                    qrsd_err_ms.push(q - t.qrsd_ms);
                }
            }
        }
        // Paced QRSd against the truth: the onset is searched after the stimulus, also when only
        // its smeared shape in the recording gave it away (measured 2026-12-07: medians 0 / 0 / +4,
        // 95th percentiles +2.8 / +4 / +20 ms; median +30 ms at 500 Hz / 3 mV before the re-search).
        qrsd_err_ms.sort_by(f64::total_cmp);
        let q = |p: f64| qrsd_err_ms[((qrsd_err_ms.len() - 1) as f64 * p) as usize];
        let (med, p95) = (q(0.5), q(0.95));
        if med.abs() > 6.0 || p95 > 24.0 {
            failures.push(format!(
                "{fs} Hz {amp_uv} µV: paced QRSd error median {med} p95 {p95} ms"
            ));
        }
        let fp = used.iter().filter(|u| !**u).count();
        let n = rec.truth.len();
        let (se, ppv) = (
            100.0 * tp as f64 / n as f64,
            100.0 * tp as f64 / (tp + fp).max(1) as f64,
        );
        let found = found as f64 / paced.max(1) as f64;
        eprintln!("{fs} Hz, {amp_uv} µV stimuli: Se {se:.2}% PPV {ppv:.2}%, stimuli found {:.1}%, R before the QRS: {far}; paced QRSd error median {med} p95 {p95} ms", 100.0 * found);
        if se < 99.5 || ppv < 99.5 || found < min_found || far > 0 {
            failures.push(format!(
                "{fs} Hz {amp_uv} µV: Se {se:.2} PPV {ppv:.2} found {found:.2} R before QRS {far}"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Class `ectopic` by shape: in LBBB (150 ms) the simulator's PVCs are ~20 % wider, under the 25 %
/// width test, so they are found by their shape (correlation with the usual beat over the leads),
/// at 250 and 360 Hz through two leads, while an irregular rhythm of one shape (heart-rate variability
/// of 150 ms) has no ectopic beat. Before the shape test, 71 % of the PVCs at 360 Hz / 90 bpm were
/// classed ectopic. `cargo run --release -p qrsd-pipeline --example ectopy_check` for the whole grid.
#[test]
fn extrasystoles_are_classed_by_shape_and_irregular_rhythm_is_not() {
    let mut failures = Vec::new();
    for fs in [250.0, 360.0] {
        for (ectopic_probability, hrv_ms) in [(0.15, 15.0), (0.0, 150.0)] {
            let cfg = SynthConfig {
                fs_hz: fs,
                rhythm: Rhythm::Intrinsic,
                rate_bpm: 90.0,
                ectopic_probability,
                hrv_ms,
                noise: NoiseConfig::moderate(),
                seed: 11,
                ..SynthConfig::default()
            };
            let mut rec = generate(&cfg, 150.0).unwrap();
            rec.leads.retain(|(n, _)| n == "II" || n == "V5");
            rec.through_recorder(100.0, 5.0);
            let beats = run(&rec, false);
            let ms = 1000.0 / fs;
            let mut used = vec![false; beats.len()];
            let (mut pvcs, mut pvcs_classed, mut others_classed) = (0, 0, 0);
            for t in &rec.truth {
                let Some((j, b)) = beats.iter().enumerate().find(|(j, b)| {
                    !used[*j]
                        && ((t.onset_sample..=t.offset_sample).contains(&b.r_sample)
                            || (b.r_sample as f64 - t.r_sample as f64).abs() * ms <= 75.0)
                }) else {
                    continue;
                };
                used[j] = true;
                let classed = b.class == BeatClass::Ectopic;
                if t.class == TrueClass::Ectopic {
                    pvcs += 1;
                    pvcs_classed += usize::from(classed);
                } else {
                    others_classed += usize::from(classed);
                }
            }
            eprintln!(
                "fs {fs} PVC p {ectopic_probability} hrv {hrv_ms}: {pvcs_classed}/{pvcs} PVCs \
                 classed ectopic, {others_classed} other beats"
            );
            if pvcs > 0 && (pvcs_classed as f64) < 0.85 * pvcs as f64 {
                failures.push(format!(
                    "fs {fs}: {pvcs_classed}/{pvcs} PVCs classed ectopic"
                ));
            }
            if others_classed > 0 {
                failures.push(format!(
                    "fs {fs} hrv {hrv_ms}: {others_classed} other beats classed ectopic"
                ));
            }
            if ectopic_probability > 0.0 && pvcs < 10 {
                failures.push(format!("fs {fs}: only {pvcs} PVCs generated"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `analyze_reader` (a WFDB record streamed from disk in chunks, as `qrsd analyze` does) gives the
/// same analysis as `analyze` on the whole recording in memory; the record is longer than several
/// chunks.
#[test]
fn streamed_analysis_equals_the_in_memory_one() {
    let cfg = SynthConfig {
        fs_hz: 500.0,
        rhythm: Rhythm::Biv,
        ectopic_probability: 0.1,
        noise: NoiseConfig::moderate(),
        seed: 3,
        ..SynthConfig::default()
    };
    let synth = generate(&cfg, 120.0).unwrap();
    let rec = qrsd_formats::Recording {
        fs_hz: synth.fs_hz,
        leads: synth
            .leads
            .iter()
            .map(|(name, x)| qrsd_formats::Lead {
                name: name.clone(),
                samples_uv: x.iter().map(|&v| v as f32).collect(),
            })
            .collect(),
    };
    let dir = std::env::temp_dir().join(format!("qrsd-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    qrsd_formats::wfdb::write_record(&dir, "s", &rec, 1000.0).unwrap();
    let hea = dir.join("s.hea");
    let whole = qrsd_formats::open(&hea).unwrap();
    let cfg = PipelineConfig::new(whole.fs_hz, Vec::new());
    let want = qrsd_pipeline::analyze(&whole, cfg.clone()).unwrap();
    let mut reader = qrsd_formats::open_reader(&hea).unwrap();
    assert!(matches!(reader, qrsd_formats::RecordReader::Wfdb(_)));
    let got = qrsd_pipeline::analyze_reader(&mut reader, cfg).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(got.n_samples, 60_000);
    assert!(want.beats.len() > 100, "{} beats", want.beats.len());
    assert_eq!(got, want);
}
