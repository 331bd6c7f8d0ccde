//! Recorder: round trip through qrsd-formats, Python wfdb, the recorder thread's overrun handling, and
//! crash safety under `kill -9` (the test binary re-runs itself as the child that records).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{check_recording, temp_dir};
use qrsd_acquire::{
    spawn, Chunk, GapReason, Recorder, RecorderOptions, RecorderThread, SimOptions, SimSource,
    SourceEvent, Speed, StreamInfo,
};
use qrsd_formats::wfdb::{read_annotations, read_header};
use qrsd_synth::{Rhythm, Sample, Synth, SynthConfig};

fn info(n: usize, fs: f64) -> StreamInfo {
    StreamInfo {
        fs_hz: fs,
        lead_names: ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"][..n]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        description: "test".into(),
        firmware: Some("fw 1.2".into()),
        has_hw_pace: true,
    }
}

fn chunk(first: u64, n: usize, nl: usize, f: impl Fn(u64, usize) -> f32) -> Chunk {
    let mut c = Chunk {
        first_sample: first,
        ..Chunk::default()
    };
    for k in first..first + n as u64 {
        for l in 0..nl {
            c.samples_uv.push(f(k, l));
        }
        c.pace.push(k % 100 == 10 || k % 100 == 11);
        c.lead_off
            .push(if (300..350).contains(&k) { 0b10 } else { 0 });
    }
    c
}

pub fn value(k: u64, l: usize) -> f32 {
    if l == 1 && (300..350).contains(&k) {
        return f32::NAN;
    }
    ((k as f32) * 0.37 + l as f32 * 1000.0).sin() * 3000.0 + (l as f32) * 12.3
}

#[test]
fn round_trip_with_gaps_lead_off_and_pace() {
    let dir = temp_dir("rec-rt");
    let opts = RecorderOptions {
        record_name: Some("rt".into()),
        ..RecorderOptions::default()
    };
    let mut rec = Recorder::new(&dir, opts).unwrap();
    rec.handle(&SourceEvent::Started(info(8, 500.0))).unwrap();
    rec.handle(&SourceEvent::Chunk(chunk(0, 400, 8, value)))
        .unwrap();
    // A 100-frame sequence gap, then more data; an unreported 20-frame hole; a huge value (clamped).
    rec.handle(&SourceEvent::Gap {
        at_sample: 400,
        missing_frames: 100,
        reason: GapReason::SequenceGap,
    })
    .unwrap();
    rec.handle(&SourceEvent::Chunk(chunk(500, 300, 8, value)))
        .unwrap();
    rec.handle(&SourceEvent::Chunk(chunk(820, 180, 8, |k, l| {
        if k == 900 && l == 0 {
            5.0e6
        } else {
            value(k, l)
        }
    })))
    .unwrap();
    rec.handle(&SourceEvent::Ended).unwrap();
    let summary = rec.finish().unwrap();
    assert_eq!(summary.segments.len(), 1);
    let seg = &summary.segments[0];
    assert_eq!(seg.frames, 1000);
    assert_eq!(seg.gaps, 2);
    assert_eq!(seg.missing_frames, 120);
    assert_eq!(summary.clipped_samples, 1);
    let hea = dir.join("rt.hea");
    assert_eq!(summary.hea_path(), Some(hea.as_path()));

    // qrsd-formats reads it back.
    let h = read_header(&hea).unwrap();
    assert_eq!(h.num_samples, Some(1000));
    assert!(h
        .signals
        .iter()
        .all(|s| s.format == 24 && s.adc_gain == 10_000.0));
    let r = qrsd_formats::open(&hea).unwrap();
    assert_eq!(r.fs_hz, 500.0);
    assert_eq!(r.leads.len(), 8);
    assert_eq!(r.leads[2].name, "V1");
    for (l, lead) in r.leads.iter().enumerate() {
        for (k, &got) in lead.samples_uv.iter().enumerate() {
            let k = k as u64;
            let missing = (400..500).contains(&k) || (800..820).contains(&k);
            let want = value(k, l);
            if missing || want.is_nan() {
                assert!(got.is_nan(), "lead {l} sample {k}: {got}");
            } else if k == 900 && l == 0 {
                assert!((got - 838_860.7).abs() < 0.2, "clamped: {got}");
            } else {
                assert!(
                    (got - want).abs() <= 0.051,
                    "lead {l} sample {k}: {got} vs {want}"
                );
            }
        }
    }

    // Annotations: start note, gaps (with reasons) and their ends, lead-off on/off, stimuli.
    let anns = read_annotations(dir.join("rt.atr")).unwrap();
    assert!(anns.windows(2).all(|w| w[0].sample <= w[1].sample));
    let gaps: Vec<_> = anns
        .iter()
        .filter(|a| a.symbol == "~" && a.subtype == -1)
        .map(|a| (a.sample, a.aux.clone().unwrap()))
        .collect();
    assert_eq!(
        gaps,
        vec![
            (400, "gap sequence_gap 100".to_string()),
            (800, "gap recorder_overrun 20".to_string())
        ]
    );
    let clean: Vec<i64> = anns
        .iter()
        .filter(|a| a.symbol == "~" && a.subtype == 0)
        .map(|a| a.sample)
        .collect();
    assert_eq!(clean, vec![500, 820]);
    let lo: Vec<_> = anns
        .iter()
        .filter(|a| a.aux.as_deref().is_some_and(|x| x.starts_with("lead_off")))
        .map(|a| (a.sample, a.aux.clone().unwrap()))
        .collect();
    assert_eq!(
        lo,
        vec![(300, "lead_off II".into()), (350, "lead_off none".into())]
    );
    let stim: Vec<_> = anns.iter().filter(|a| a.symbol == "^").collect();
    // Pace runs at k%100 == 10,11 in frames that were written (not 410, 810).
    let want: Vec<i64> = (0..10)
        .map(|b| b * 100 + 10)
        .filter(|&s| s != 410 && s != 810)
        .collect();
    assert_eq!(stim.iter().map(|a| a.sample).collect::<Vec<_>>(), want);
    assert!(stim.iter().all(|a| a.num == 2));

    // Python wfdb agrees.
    let j = check_recording(
        &hea,
        &[
            "--channels",
            "8",
            "--fs",
            "500",
            "--gain",
            "10000",
            "--units",
            "mV",
        ],
    );
    assert_eq!(j["sig_len"], 1000);
    assert_eq!(j["fmt"][0], "24");
    assert_eq!(j["invalid_samples"]["I"], 120);
    assert_eq!(j["invalid_samples"]["II"], 170);
    assert_eq!(j["annotations"]["gaps"].as_array().unwrap().len(), 2);
    assert_eq!(j["annotations"]["by_symbol"]["^"], 8);
    assert_eq!(j["annotations"]["by_symbol"]["\""], 2);
    assert_eq!(j["annotations"]["count"], anns.len());

    // And replay turns the stimuli back into the pace flag.
    let src = qrsd_acquire::ReplaySource::open(&hea, Default::default()).unwrap();
    assert!(src.stream_info().has_hw_pace);
    let h = spawn(Box::new(src), 8);
    let evs = common::collect(&h);
    let paced: Vec<u64> = evs
        .iter()
        .filter_map(|e| match e {
            SourceEvent::Chunk(c) => Some(
                c.pace
                    .iter()
                    .enumerate()
                    .filter(|(_, &p)| p)
                    .map(|(i, _)| c.first_sample + i as u64)
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(paced.len(), 16);
    assert_eq!(paced[0], 10);
    assert_eq!(paced[1], 11);
}

#[test]
fn stream_change_starts_new_segment() {
    let dir = temp_dir("rec-seg");
    let mut rec = Recorder::new(
        &dir,
        RecorderOptions {
            record_name: Some("s".into()),
            ..Default::default()
        },
    )
    .unwrap();
    rec.handle(&SourceEvent::Started(info(8, 500.0))).unwrap();
    rec.handle(&SourceEvent::Chunk(chunk(0, 100, 8, value)))
        .unwrap();
    // Same stream again (a reconnect): continues.
    rec.handle(&SourceEvent::Started(info(8, 500.0))).unwrap();
    rec.handle(&SourceEvent::Chunk(chunk(100, 100, 8, value)))
        .unwrap();
    // Different rate: new record.
    rec.handle(&SourceEvent::Started(info(8, 1000.0))).unwrap();
    rec.handle(&SourceEvent::Chunk(chunk(0, 50, 8, value)))
        .unwrap();
    let s = rec.finish().unwrap();
    assert_eq!(s.segments.len(), 2);
    assert_eq!(s.segments[0].frames, 200);
    assert_eq!(s.segments[1].frames, 50);
    assert_eq!(s.segments[1].hea_path, dir.join("s_2.hea"));
    assert_eq!(
        qrsd_formats::open(dir.join("s_2.hea")).unwrap().fs_hz,
        1000.0
    );
}

#[test]
fn recorder_thread_never_blocks_and_reports_its_drops() {
    let dir = temp_dir("rec-thread");
    let rec = Recorder::new(
        &dir,
        RecorderOptions {
            record_name: Some("t".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let th = RecorderThread::spawn(rec, 2).unwrap();
    let t = Instant::now();
    let mut accepted = 0;
    assert!(th.send(&SourceEvent::Started(info(8, 1000.0))));
    for i in 0..2000u64 {
        if th.send(&SourceEvent::Chunk(chunk(i * 10, 10, 8, value))) {
            accepted += 1;
        }
    }
    // 2000 sends never waited on the disk.
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    let dropped = 2000 - accepted;
    assert_eq!(th.status().dropped_events, dropped);
    let s = th.finish().unwrap();
    assert_eq!(s.dropped_events, dropped);
    let seg = &s.segments[0];
    // Everything up to the last accepted chunk is there; holes are annotated recorder_overrun.
    let anns = read_annotations(dir.join("t.atr")).unwrap();
    let holes: u64 = anns
        .iter()
        .filter(|a| a.subtype == -1)
        .map(|a| {
            let aux = a.aux.clone().unwrap();
            assert!(aux.starts_with("gap recorder_overrun "), "{aux}");
            aux.rsplit(' ').next().unwrap().parse::<u64>().unwrap()
        })
        .sum();
    assert_eq!(seg.missing_frames, holes);
    assert_eq!(seg.frames - holes, accepted * 10);
}

const CHILD_ENV: &str = "QRSD_RECORDER_CRASH_CHILD_DIR";

fn crash_synth() -> SynthConfig {
    SynthConfig {
        fs_hz: 1000.0,
        rhythm: Rhythm::Biv,
        qrsd_ms: 130.0,
        seed: 7,
        ..SynthConfig::default()
    }
}

/// The child half of `kill_9_leaves_a_readable_recording`: does nothing unless the parent set the env var.
#[test]
fn recorder_crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let src = SimSource::new(SimOptions {
        synth: crash_synth(),
        speed: Speed::RealTime,
        ..SimOptions::default()
    })
    .unwrap();
    let h = spawn(Box::new(src), 1024);
    let rec = Recorder::new(
        &dir,
        RecorderOptions {
            record_name: Some("crash".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let th = RecorderThread::spawn(rec, 1024).unwrap();
    let mut sent = 0u64;
    let mut last = Instant::now();
    while let Ok(ev) = h.events.recv_timeout(Duration::from_secs(5)) {
        if let SourceEvent::Chunk(c) = &ev {
            sent = c.first_sample + c.n_frames() as u64;
        }
        th.send(&ev);
        if last.elapsed() >= Duration::from_millis(50) {
            last = Instant::now();
            println!("FRAMES {sent}");
        }
    }
}

#[test]
fn kill_9_leaves_a_readable_recording() {
    let dir = temp_dir("rec-crash");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "recorder_crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(n) = line.strip_prefix("FRAMES ") {
                let _ = tx.send((Instant::now(), n.trim().parse::<u64>().unwrap_or(0)));
            }
        }
    });
    let start = Instant::now();
    let mut reports = Vec::new();
    while start.elapsed() < Duration::from_millis(3700) {
        if let Ok(r) = rx.recv_timeout(Duration::from_millis(20)) {
            reports.push(r);
        }
    }
    let killed_at = Instant::now();
    // SIGKILL: no destructor, no final flush.
    let st = Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status()
        .expect("running `kill` (procps)");
    assert!(st.success());
    let _ = child.wait();
    while let Ok(r) = rx.try_recv() {
        reports.push(r);
    }
    assert!(!reports.is_empty(), "child produced no progress");
    let sent_last = reports.last().unwrap().1;
    // Frames the child had handed to the recorder 1 s (+ 50 ms report period) before the kill.
    let sent_1s_before = reports
        .iter()
        .filter(|(t, _)| *t + Duration::from_millis(1050) <= killed_at)
        .map(|r| r.1)
        .max()
        .unwrap_or(0);
    assert!(sent_1s_before >= 2000, "child too slow: {sent_1s_before}");

    let hea = dir.join("crash.hea");
    let j = check_recording(
        &hea,
        &[
            "--channels",
            "8",
            "--fs",
            "1000",
            "--gain",
            "10000",
            "--units",
            "mV",
        ],
    );
    let len = j["sig_len"].as_u64().unwrap();
    eprintln!(
        "kill -9: recorded {len} frames; child had sent {sent_1s_before} 1 s before the kill, {sent_last} at the end"
    );
    assert!(len >= sent_1s_before, "{len} < {sent_1s_before}");
    assert!(len <= sent_last + 100, "{len} > {sent_last}");
    assert_eq!(
        j["sig_name"],
        serde_json::json!(["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"])
    );
    let an = &j["annotations"];
    assert!(an["by_symbol"]["^"].as_u64().unwrap() >= 2, "{an}");
    assert!(an["last_sample"].as_u64().unwrap() <= len);

    // Content: exactly the simulator's samples (to the 0.1 µV step).
    let r = qrsd_formats::open(&hea).unwrap();
    assert_eq!(r.len_samples() as u64, len);
    let mut synth = Synth::new(crash_synth()).unwrap();
    let mut buf = vec![Sample::default(); len as usize];
    synth.fill(&mut buf);
    for (k, s) in buf.iter().enumerate() {
        for l in 0..8 {
            let want = s.leads[l] as f32;
            let got = r.leads[l].samples_uv[k];
            assert!(
                (got - want).abs() <= 0.06,
                "lead {l} sample {k}: {got} vs {want}"
            );
        }
    }
}
