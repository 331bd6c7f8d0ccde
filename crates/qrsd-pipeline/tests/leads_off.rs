//! Leads off: a lead the source flags off (`Pipeline::set_leads_off`), or one that has been flat for
//! 2 s (quality `lead_off`), is left out of the beats it touches — no boundaries, no part in the
//! global QRS or the VCG — and the beat names it (`Beat::leads_excluded`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use qrsd_pipeline::{Beat, Pipeline, PipelineConfig, OFF_SETTLE_MS};
use qrsd_synth::{generate, Rhythm, SynthConfig, SynthRecording, LEAD_NAMES_12};

const FS: f64 = 1000.0;

fn recording() -> SynthRecording {
    let cfg = SynthConfig {
        fs_hz: FS,
        rhythm: Rhythm::Biv,
        qrsd_ms: 140.0,
        fusion_probability: 0.0,
        loss_of_capture_probability: 0.0,
        ..SynthConfig::default()
    };
    generate(&cfg, 30.0).unwrap()
}

/// Runs `leads` through a pipeline frame by frame, flagging `lead` off (and its samples NaN, as
/// the amplifier sources deliver them) over input samples `off` when given.
fn run(
    rec: &SynthRecording,
    leads: &[Vec<f32>],
    lead: usize,
    off: Option<std::ops::Range<usize>>,
) -> Vec<Beat> {
    let names: Vec<String> = LEAD_NAMES_12.iter().map(|s| s.to_string()).collect();
    let mut p = Pipeline::new(PipelineConfig::new(FS, names)).unwrap();
    let mut beats = Vec::new();
    let mut frame = vec![0.0f32; leads.len()];
    for i in 0..rec.pace_flags.len() {
        let is_off = off.as_ref().is_some_and(|o| o.contains(&i));
        for (f, l) in frame.iter_mut().zip(leads) {
            *f = l[i];
        }
        if is_off {
            frame[lead] = f32::NAN;
        }
        p.set_leads_off(if is_off { 1 << lead } else { 0 });
        p.process_frame(&frame, rec.pace_flags[i], &mut beats);
    }
    p.finish(&mut beats);
    beats
}

fn ms(samples: i64) -> f64 {
    samples as f64 * 1000.0 / FS
}

#[test]
fn a_lead_flagged_off_is_left_out_of_the_beats_it_touches() {
    let rec = recording();
    let leads = rec.leads_f32();
    let v3 = LEAD_NAMES_12.iter().position(|n| *n == "V3").unwrap();
    // The electrode comes off at V3's largest QRS deflection near 16 s, so the trace is held far
    // from its baseline, and back on 30 ms before a QRS onset about 1.5 s later (before the
    // quality stage would call the flat trace `lead_off`), so that its jump back lies in that
    // beat's window, just before the QRS.
    let qrs = rec.truth.iter().find(|t| t.onset_sample > 15_500).unwrap();
    let peak = (qrs.onset_sample as usize..=qrs.offset_sample as usize)
        .max_by(|&a, &b| leads[v3][a].abs().total_cmp(&leads[v3][b].abs()))
        .unwrap();
    let back = rec
        .truth
        .iter()
        .map(|t| t.onset_sample as usize - 30)
        .find(|&s| s > peak + 1_500)
        .unwrap();
    let off = peak..back;
    let all = run(&rec, &leads, v3, None);
    let some = run(&rec, &leads, v3, Some(off.clone()));
    assert!(all.len() >= 30, "{} beats", all.len());
    let pre = (300.0 + OFF_SETTLE_MS) as u64;
    let (mut inside, mut outside, mut back_beats) = (0, 0, 0);
    for b in &some {
        let r = b.r_sample;
        // The beat's window (R − 300 ms − settling … R + 150 ms when delivered early, else
        // R + 250 ms) touches the off stretch; a few samples of filter delay either way, and a
        // window end between R + 150 and R + 250 ms, are left undecided.
        let (start, end) = (off.start as u64, off.end as u64);
        let touches = r + 150 >= start + 5 && r + 5 < end + pre;
        let clear = r + 250 + 5 < start || r > end + pre + 5;
        if !touches && !clear {
            continue;
        }
        let twin = all
            .iter()
            .find(|a| a.r_sample.abs_diff(r) <= 5)
            .expect("the same beat without the lead off");
        if touches {
            assert_eq!(b.leads_excluded, vec!["V3".to_string()], "beat at {r}");
            assert_eq!(b.leads_considered(), 11);
            assert_eq!(*b.lead("V3").unwrap(), Default::default(), "beat at {r}");
            // The Kors VCG needs V3.
            assert_eq!(b.vcg.qrs_area_uvs, None, "beat at {r}");
            // Over 11 leads the global QRS stays that of the 12 (V3 holds no extreme here).
            let (on, off_) = (
                b.global.onset_sample.unwrap(),
                b.global.offset_sample.unwrap(),
            );
            let (on12, off12) = (
                twin.global.onset_sample.unwrap(),
                twin.global.offset_sample.unwrap(),
            );
            let d_on = ms(on as i64 - on12 as i64);
            let d_off = ms(off_ as i64 - off12 as i64);
            assert!(
                d_on.abs() <= 4.0 && d_off.abs() <= 4.0,
                "beat at {r}: onset {d_on:+} ms, offset {d_off:+} ms against 12 leads"
            );
            inside += 1;
            back_beats += usize::from(r > back as u64);
        } else {
            // Beats away from it are the same as without it.
            assert!(b.leads_excluded.is_empty(), "beat at {r}");
            assert_eq!(b.global, twin.global, "beat at {r}");
            assert!(b.vcg.qrs_area_uvs.is_some());
            outside += 1;
        }
    }
    assert!(
        inside >= 2 && outside >= 20,
        "{inside} inside, {outside} outside"
    );
    assert!(
        back_beats >= 1,
        "the beat at the electrode's return was left out too"
    );
}

#[test]
fn a_flat_lead_without_a_lead_off_signal_is_left_out_once_labelled() {
    // An amplifier without lead-off detection, or a replayed recording: V4 held at a constant.
    let rec = recording();
    let mut leads = rec.leads_f32();
    let v4 = LEAD_NAMES_12.iter().position(|n| *n == "V4").unwrap();
    for v in leads[v4][10_000..].iter_mut() {
        *v = 250.0;
    }
    let beats = run(&rec, &leads, v4, None);
    // The quality stage calls it `lead_off` after 2 s of flat trace (and a block of margin).
    let late: Vec<&Beat> = beats.iter().filter(|b| b.r_sample > 13_000).collect();
    assert!(late.len() >= 15);
    for b in late {
        assert_eq!(
            b.leads_excluded,
            vec!["V4".to_string()],
            "beat at {}",
            b.r_sample
        );
        assert_eq!(*b.lead("V4").unwrap(), Default::default());
    }
    assert!(beats
        .iter()
        .filter(|b| b.r_sample < 9_500)
        .all(|b| b.leads_excluded.is_empty()));
}

#[test]
fn set_leads_off_between_two_frames_changes_nothing() {
    // Flagged and cleared before any frame: no beat loses the lead.
    let rec = recording();
    let leads = rec.leads_f32();
    let names: Vec<String> = LEAD_NAMES_12.iter().map(|s| s.to_string()).collect();
    let mut p = Pipeline::new(PipelineConfig::new(FS, names)).unwrap();
    let mut beats = Vec::new();
    let mut frame = vec![0.0f32; leads.len()];
    for i in 0..rec.pace_flags.len() {
        for (f, l) in frame.iter_mut().zip(&leads) {
            *f = l[i];
        }
        if i == 10_000 {
            p.set_leads_off(1 << 8);
            p.set_leads_off(0);
        }
        p.process_frame(&frame, rec.pace_flags[i], &mut beats);
    }
    assert!(beats.len() >= 25);
    assert!(beats.iter().all(|b| b.leads_excluded.is_empty()));
}
