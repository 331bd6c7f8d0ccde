//! SimSource timing and control, and EventSender overrun reporting with a stalled consumer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use qrsd_acquire::{spawn, GapReason, SimOptions, SimSource, SourceEvent, SourceHandle, Speed};
use qrsd_synth::{BeatClass, Rhythm, SynthConfig};

fn opts(fs: f64, speed: Speed, seconds: f64) -> SimOptions {
    SimOptions {
        synth: SynthConfig {
            fs_hz: fs,
            ..SynthConfig::default()
        },
        speed,
        seconds: Some(seconds),
        ..SimOptions::default()
    }
}

/// Collect all events until Ended.
fn collect(h: &SourceHandle) -> Vec<SourceEvent> {
    let mut v = Vec::new();
    while let Ok(ev) = h.events.recv_timeout(Duration::from_secs(20)) {
        let end = ev == SourceEvent::Ended;
        v.push(ev);
        if end {
            break;
        }
    }
    v
}

fn frames(evs: &[SourceEvent]) -> (u64, u64) {
    let mut next = 0u64;
    let mut total = 0u64;
    for e in evs {
        if let SourceEvent::Chunk(c) = e {
            assert_eq!(c.first_sample, next, "chunks contiguous");
            assert_eq!(c.samples_uv.len(), c.n_frames() * 8);
            next += c.n_frames() as u64;
            total += c.n_frames() as u64;
        }
    }
    (total, next)
}

#[test]
fn real_time_pacing_no_drift_and_chunk_size() {
    let src = SimSource::new(opts(500.0, Speed::RealTime, 0.6)).unwrap();
    let t = Instant::now();
    let h = spawn(Box::new(src), 256);
    let mut first_chunk_at = None;
    let mut evs = Vec::new();
    while let Ok(ev) = h.events.recv_timeout(Duration::from_secs(5)) {
        if matches!(ev, SourceEvent::Chunk(_)) && first_chunk_at.is_none() {
            first_chunk_at = Some(t.elapsed());
        }
        let end = ev == SourceEvent::Ended;
        evs.push(ev);
        if end {
            break;
        }
    }
    let el = t.elapsed();
    assert!(
        matches!(evs[0], SourceEvent::Started(ref i) if i.fs_hz == 500.0 && i.lead_names.len() == 8)
    );
    let (n, _) = frames(&evs);
    assert_eq!(n, 300);
    // 0.6 s of signal takes 0.6 s: never early, and (on a loaded machine) not much late.
    assert!(el >= Duration::from_millis(595), "{el:?}");
    // Generous upper bound: a loaded CI machine may run late, never early.
    assert!(el < Duration::from_millis(1600), "{el:?}");
    // 16 ms chunks at 500 Hz = 8 frames; the first arrives after ~16 ms, not at once.
    let c0 = evs.iter().find_map(|e| match e {
        SourceEvent::Chunk(c) => Some(c.n_frames()),
        _ => None,
    });
    assert_eq!(c0, Some(8));
    assert!(first_chunk_at.unwrap() >= Duration::from_millis(15));
}

#[test]
fn speed_factor_and_max() {
    let t = Instant::now();
    let h = spawn(
        Box::new(SimSource::new(opts(1000.0, Speed::Factor(10.0), 3.0)).unwrap()),
        256,
    );
    let evs = collect(&h);
    let el = t.elapsed();
    assert_eq!(frames(&evs).0, 3000);
    assert!(
        el >= Duration::from_millis(295) && el < Duration::from_millis(900),
        "{el:?}"
    );

    // Max speed with a tiny channel: waits for the consumer, drops nothing.
    let h = spawn(
        Box::new(SimSource::new(opts(1000.0, Speed::Max, 20.0)).unwrap()),
        2,
    );
    std::thread::sleep(Duration::from_millis(100));
    let evs = collect(&h);
    assert_eq!(frames(&evs).0, 20_000);
    assert!(!evs.iter().any(|e| matches!(e, SourceEvent::Gap { .. })));
    assert_eq!(h.status().overrun_frames, 0);
}

#[test]
fn control_changes_rhythm_lead_off_and_truth() {
    let src = SimSource::new(opts(500.0, Speed::Factor(20.0), 12.0)).unwrap();
    let ctl = src.control();
    let h = spawn(Box::new(src), 1024);
    let mut evs = Vec::new();
    let mut switched_at = None;
    let mut lead_off_at = None;
    while let Ok(ev) = h.events.recv_timeout(Duration::from_secs(10)) {
        let pos = ctl.position();
        if switched_at.is_none() && pos >= 2500 {
            ctl.set_rhythm(Rhythm::Biv);
            ctl.set_qrsd_ms(120.0).unwrap();
            switched_at = Some(pos);
        }
        if lead_off_at.is_none() && pos >= 4000 {
            ctl.set_lead_off(2, true).unwrap();
            lead_off_at = Some(pos);
        }
        let end = ev == SourceEvent::Ended;
        evs.push(ev);
        if end {
            break;
        }
    }
    assert!(ctl.set_qrsd_ms(10.0).is_err(), "validated");
    assert!(
        ctl.update(|c| c.fs_hz = 1000.0).is_err(),
        "rate cannot change"
    );
    let truth = ctl.drain_truth();
    assert!(truth.len() >= 10, "{}", truth.len());
    let sw = switched_at.unwrap();
    // Beats well before the switch are intrinsic, beats well after are paced at 120 ms.
    assert!(truth
        .iter()
        .filter(|b| b.offset_sample + 100 < sw)
        .all(|b| b.class == BeatClass::Intrinsic && b.stimulus_sample.is_none()));
    let paced: Vec<_> = truth
        .iter()
        .filter(|b| b.onset_sample > sw + 1000)
        .collect();
    assert!(!paced.is_empty());
    assert!(paced
        .iter()
        .all(|b| b.class == BeatClass::Paced && (b.qrsd_ms - 120.0).abs() < 2.1));
    // Hardware pace flag present after the switch; V1 (channel 2) NaN with its bit once off.
    let lo = lead_off_at.unwrap();
    let mut saw_pace = false;
    let mut saw_off = false;
    for e in &evs {
        if let SourceEvent::Chunk(c) = e {
            saw_pace |= c.pace.iter().any(|&p| p);
            if c.first_sample > lo + 50 {
                for f in 0..c.n_frames() {
                    assert!(c.samples_uv[f * 8 + 2].is_nan());
                    assert!(c.samples_uv[f * 8 + 1].is_finite());
                    assert_eq!(c.lead_off[f] & 0b100, 0b100);
                    saw_off = true;
                }
            }
        }
    }
    assert!(saw_pace && saw_off);
    assert!(ctl.truth_after(None).is_empty(), "drained");
}

#[test]
fn stalled_consumer_overrun_is_reported_as_gap() {
    // 20× real time with 4 slots: the consumer sleeps, chunks are dropped, counted, and reported.
    let h = spawn(
        Box::new(SimSource::new(opts(500.0, Speed::Factor(20.0), 4.0)).unwrap()),
        4,
    );
    std::thread::sleep(Duration::from_millis(120));
    let evs = collect(&h);
    let mut delivered = 0u64;
    let mut gap_frames = 0u64;
    let mut next = 0u64;
    for e in &evs {
        match e {
            SourceEvent::Chunk(c) => {
                assert_eq!(c.first_sample, next, "a gap event precedes every hole");
                next += c.n_frames() as u64;
                delivered += c.n_frames() as u64;
            }
            SourceEvent::Gap {
                at_sample,
                missing_frames,
                reason,
            } => {
                assert_eq!(*reason, GapReason::ConsumerOverrun);
                assert_eq!(*at_sample, next);
                next += missing_frames;
                gap_frames += missing_frames;
            }
            _ => {}
        }
    }
    assert!(gap_frames > 0, "the stall must have overrun");
    assert_eq!(delivered + gap_frames, 2000);
    let st = h.status();
    assert_eq!(st.overrun_frames, gap_frames);
    assert_eq!(st.missing_frames, gap_frames);
}
