//! Internal tests that look at the QRS component on its own (the public signal sums P, QRS, T and stimuli).

use crate::synth::{twelve, LEAD_THRESHOLD_REL, LEAD_THRESHOLD_UV};
use crate::{BeatClass, BeatTruth, Rhythm, Sample, Synth, SynthConfig, LEAD_NAMES_12};

/// Runs `cfg` for `seconds`, returning the truth and the logged QRS component of every completed beat.
fn run(cfg: SynthConfig, seconds: f64) -> (Vec<BeatTruth>, Synth) {
    let mut synth = Synth::new(cfg).unwrap();
    let mut buf = vec![Sample::default(); (seconds * synth.fs_hz()) as usize];
    synth.fill(&mut buf);
    let truth: Vec<_> = synth.drain_truth().collect();
    (truth, synth)
}

/// The logged QRS samples (8 acquired leads per row) of the beat whose truth is `t`.
fn qrs_of<'a>(synth: &'a Synth, t: &BeatTruth) -> &'a [[f64; crate::N_ACQUIRED]] {
    &synth
        .qrs_log
        .iter()
        .find(|(on, _)| *on == t.onset_sample)
        .expect("a logged QRS for every truth beat")
        .1
}

/// Sharp-edged scenarios (`realistic_edges: false`): the tests that use them check that mode's
/// properties (edges visible within 2 ms, the per-lead threshold rule); the default slow-footed edges
/// are checked by `realistic_edges_rise_as_slowly_as_ludb_qrs_and_keep_the_support`.
fn scenarios() -> Vec<SynthConfig> {
    let sharp = SynthConfig {
        realistic_edges: false,
        ..SynthConfig::default()
    };
    let mut out = Vec::new();
    for fs in [250.0, 500.0, 1000.0, 2000.0] {
        out.push(SynthConfig {
            fs_hz: fs,
            lbbb: false,
            qrsd_ms: 90.0,
            ectopic_probability: 0.1,
            seed: 11,
            ..sharp.clone()
        });
        out.push(SynthConfig {
            fs_hz: fs,
            qrsd_ms: 170.0,
            seed: 12,
            ..sharp.clone()
        });
        out.push(SynthConfig {
            fs_hz: fs,
            rhythm: Rhythm::Biv,
            qrsd_ms: 130.0,
            fusion_probability: 0.2,
            loss_of_capture_probability: 0.2,
            ectopic_probability: 0.1,
            seed: 13,
            ..sharp.clone()
        });
    }
    out
}

#[test]
fn qrs_component_support_and_per_lead_threshold_rule() {
    for cfg in scenarios() {
        let fs = cfg.fs_hz;
        let (truth, synth) = run(cfg, 30.0);
        assert!(truth.len() > 20);
        for t in &truth {
            let q = qrs_of(&synth, t);
            assert_eq!(q.len() as u64, t.offset_sample - t.onset_sample + 1);
            // Global support: nonzero at both ends (outside, the component does not exist).
            for edge in [q.first().unwrap(), q.last().unwrap()] {
                assert!(edge.iter().any(|&x| x != 0.0), "{t:?}");
            }
            let rows: Vec<[f64; 12]> = q.iter().map(twelve).collect();
            for (l, name) in LEAD_NAMES_12.iter().enumerate() {
                let peak = rows.iter().fold(0.0_f64, |m, r| m.max(r[l].abs()));
                let thr = (LEAD_THRESHOLD_REL * peak).max(LEAD_THRESHOLD_UV);
                match t.per_lead[l] {
                    None => assert!(peak <= LEAD_THRESHOLD_UV, "{name} {peak}"),
                    Some(w) => {
                        assert!(
                            w.onset_sample >= t.onset_sample && w.offset_sample <= t.offset_sample
                        );
                        assert!(w.onset_sample < w.offset_sample, "{name} {w:?}");
                        for (k, r) in rows.iter().enumerate() {
                            let s = t.onset_sample + k as u64;
                            if s < w.onset_sample || s > w.offset_sample {
                                assert!(r[l].abs() <= thr, "{name} sample {s} {} > {thr}", r[l]);
                            }
                            if s == w.onset_sample || s == w.offset_sample {
                                assert!(r[l].abs() > thr);
                            }
                        }
                    }
                }
            }
            // The visible 12-lead QRS starts and ends within a few ms of the support.
            let span = t.lead_span().unwrap();
            let ms = |d: u64| d as f64 * 1000.0 / fs;
            let tol = 4.0 + 1000.0 / fs;
            assert!(ms(span.onset_sample - t.onset_sample) <= tol, "{fs} {t:?}");
            assert!(
                ms(t.offset_sample - span.offset_sample) <= tol,
                "{fs} {t:?}"
            );
            // Peak magnitude inside the window.
            assert!(t.r_sample > t.onset_sample && t.r_sample < t.offset_sample);
        }
    }
}

#[test]
fn qrs_amplitudes_and_onset_slopes_are_physiological() {
    for cfg in scenarios() {
        let fs = cfg.fs_hz;
        let (truth, synth) = run(cfg, 20.0);
        for t in &truth {
            let q = qrs_of(&synth, t);
            let rows: Vec<[f64; 12]> = q.iter().map(twelve).collect();
            let peak = rows
                .iter()
                .flat_map(|r| r.iter())
                .fold(0.0_f64, |m, x| m.max(x.abs()));
            assert!(
                (500.0..=2500.0).contains(&peak),
                "{:?} peak {peak}",
                t.class
            );
            // Steepest lead between 5 and 10 ms after onset: tens of µV/ms.
            let k5 = (5.0 * fs / 1000.0).round() as usize;
            let k10 = (10.0 * fs / 1000.0).round() as usize;
            let slope = (0..12)
                .map(|l| (rows[k10][l] - rows[k5][l]).abs() / ((k10 - k5) as f64 * 1000.0 / fs))
                .fold(0.0, f64::max);
            assert!(slope >= 10.0, "{:?} onset slope {slope} µV/ms", t.class);
            // Same at the end of the complex.
            let n = rows.len() - 1;
            let slope_end = (0..12)
                .map(|l| {
                    (rows[n - k10][l] - rows[n - k5][l]).abs() / ((k10 - k5) as f64 * 1000.0 / fs)
                })
                .fold(0.0, f64::max);
            assert!(
                slope_end >= 10.0,
                "{:?} offset slope {slope_end} µV/ms",
                t.class
            );
        }
    }
}

#[test]
fn some_leads_start_later_or_end_earlier_than_global() {
    let (truth, _) = run(SynthConfig::default(), 20.0);
    let late = truth
        .iter()
        .filter(|t| {
            t.per_lead.iter().flatten().any(|w| {
                w.onset_sample > t.onset_sample + 5 || w.offset_sample + 5 < t.offset_sample
            })
        })
        .count();
    assert_eq!(late, truth.len());
}

#[test]
fn lbbb_intrinsic_beats_have_lbbb_shape() {
    let (truth, synth) = run(SynthConfig::default(), 10.0);
    for t in &truth {
        assert_eq!(t.class, BeatClass::Intrinsic);
        let q = qrs_of(&synth, t);
        let max = |l: usize| q.iter().fold(f64::MIN, |m, r| m.max(r[l]));
        let min = |l: usize| q.iter().fold(f64::MAX, |m, r| m.min(r[l]));
        // Deep QS in V1, dominant R in I and V6.
        assert!(
            min(2) < -600.0 && max(2) < 0.1 * -min(2),
            "V1 {} {}",
            min(2),
            max(2)
        );
        assert!(
            max(0) > 300.0 && min(0) > -0.15 * max(0),
            "I {} {}",
            min(0),
            max(0)
        );
        assert!(
            max(7) > 400.0 && min(7) > -0.15 * max(7),
            "V6 {} {}",
            min(7),
            max(7)
        );
    }
}

#[test]
fn qrs_support_edges_are_visible() {
    // The truth (the QRS support) is what a cardiologist sees: within 2 ms of each edge some lead's QRS
    // is already tens of µV (not a few µV that no one could see).
    let mut worst = f64::MAX;
    for cfg in scenarios() {
        let fs = cfg.fs_hz;
        let (truth, synth) = run(cfg, 20.0);
        for t in &truth {
            let q = qrs_of(&synth, t);
            let rows: Vec<[f64; 12]> = q.iter().map(twelve).collect();
            let k = ((2.0 * fs / 1000.0).round() as usize).min(rows.len() - 1);
            let at = |r: &[f64; 12]| r.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
            let edge = at(&rows[k]).min(at(&rows[rows.len() - 1 - k]));
            worst = worst.min(edge);
        }
    }
    assert!(
        worst >= 20.0,
        "an edge is only {worst:.1} µV 2 ms inside the support"
    );
}

#[test]
fn realistic_edges_rise_as_slowly_as_ludb_qrs_and_keep_the_support() {
    // LUDB median (scripts/eval/edge_profile.py): 1.7 % of the QRS amplitude 8 ms after the onset and
    // 4.9 % at 16 ms; 4.4 % 8 ms before the offset. The sharp default is > 10 % within 4 ms.
    for (rhythm, qrsd, lbbb) in [
        (Rhythm::Intrinsic, 90.0, false),
        (Rhythm::Intrinsic, 150.0, true),
        (Rhythm::Biv, 130.0, true),
    ] {
        let fs = 1000.0;
        let cfg = SynthConfig {
            fs_hz: fs,
            rhythm,
            qrsd_ms: qrsd,
            lbbb,
            realistic_edges: true,
            ..SynthConfig::default()
        };
        let (truth, synth) = run(cfg, 10.0);
        let (mut on8, mut on16, mut off8) = (Vec::new(), Vec::new(), Vec::new());
        for t in &truth {
            let q = qrs_of(&synth, t);
            let rows: Vec<[f64; 12]> = q.iter().map(twelve).collect();
            assert_eq!(rows.len() as u64, t.offset_sample - t.onset_sample + 1);
            for lead in 0..12 {
                let col: Vec<f64> = rows.iter().map(|r| r[lead]).collect();
                let amp = col.iter().cloned().fold(f64::MIN, f64::max)
                    - col.iter().cloned().fold(f64::MAX, f64::min);
                // The support is exact: nonzero from its first to its last sample.
                assert!(col[0] != 0.0 && col[col.len() - 1] != 0.0);
                on8.push(col[8].abs() / amp);
                on16.push(col[16].abs() / amp);
                off8.push(col[col.len() - 9].abs() / amp);
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (a, b, c) = (median(&mut on8), median(&mut on16), median(&mut off8));
        assert!(
            a < 0.03 && b < 0.08 && c < 0.08,
            "{rhythm:?} {qrsd}: {a:.3} {b:.3} {c:.3}"
        );
        assert!(a > 0.002, "{rhythm:?} {qrsd}: the feet are there ({a:.4})");
    }
}

/// R and S (magnitudes, µV) of acquired lead `l` over a logged QRS, and whether its first clear
/// deflection (≥ 5 % of peak-to-peak) is negative.
fn rs_q(qrs: &[[f64; crate::N_ACQUIRED]], l: usize) -> (f64, f64, bool) {
    let r = qrs.iter().map(|x| x[l]).fold(0.0f64, f64::max);
    let s = -qrs.iter().map(|x| x[l]).fold(0.0f64, f64::min);
    let first_neg = qrs
        .iter()
        .map(|x| x[l])
        .find(|v| v.abs() >= 0.05 * (r + s))
        .is_some_and(|v| v < 0.0);
    (r, s, first_neg)
}

#[test]
fn rv_rhythm_is_rv_only_paced_and_biv_shows_lv_capture_signs() {
    // Leads: 0 = I, 2 = V1. Every seed rotates the heart a little; the signs must hold for each.
    for seed in 0..8 {
        let (truth, synth) = run(
            SynthConfig {
                rhythm: Rhythm::Rv,
                qrsd_ms: 170.0,
                seed,
                ..SynthConfig::default()
            },
            6.0,
        );
        assert!(truth.len() >= 5);
        for t in &truth {
            assert_eq!(t.class, BeatClass::LossOfCapture);
            assert!(t.stimulus_sample.is_some());
            assert!((t.qrsd_ms - 170.0).abs() <= 2.0, "{}", t.qrsd_ms);
            let q = qrs_of(&synth, t);
            let (r_v1, s_v1, _) = rs_q(q, 2);
            let (r_i, s_i, q_i) = rs_q(q, 0);
            assert!(
                r_v1 < 0.05 * s_v1,
                "QS in V1 (seed {seed}): R {r_v1} S {s_v1}"
            );
            assert!(
                r_i > 2.0 * s_i && !q_i,
                "R in I (seed {seed}): R {r_i} S {s_i}"
            );
        }
        let (truth, synth) = run(
            SynthConfig {
                rhythm: Rhythm::Biv,
                qrsd_ms: 130.0,
                seed,
                ..SynthConfig::default()
            },
            6.0,
        );
        for t in truth.iter().filter(|t| t.class == BeatClass::Paced) {
            let q = qrs_of(&synth, t);
            let (r_v1, s_v1, _) = rs_q(q, 2);
            let (_, _, q_i) = rs_q(q, 0);
            assert!(
                r_v1 >= s_v1,
                "R/S ≥ 1 in V1 (seed {seed}): R {r_v1} S {s_v1}"
            );
            assert!(q_i, "Q/QS in I (seed {seed})");
        }
    }
}
