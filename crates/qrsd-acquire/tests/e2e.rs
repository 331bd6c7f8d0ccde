//! End to end: `firmware-sim --pty --link` → SerialSource → Recorder (thread) and Pipeline, compared
//! with the simulator's own truth and fault log; then `qrsd record` → `qrsd analyze` on the same link.
//!
//! The binaries are built by the test itself (see `common/bins.rs`). The simulator runs faster than real
//! time (`--speed`), so 30 s of signal take a few seconds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::bins::bins;
use common::{check_recording, temp_dir};
use qrsd_acquire::{
    derive_12, leads::LEAD_NAMES_12, spawn, GapReason, Recorder, RecorderOptions, RecorderThread,
    RecordingSummary, SerialOptions, SerialSource, SourceEvent, SourceStatus,
};
use qrsd_pipeline::{Beat, Pipeline, PipelineConfig};
use serde_json::Value;

/// The e2e tests run one at a time (pseudo-terminal numbers are reused as soon as one closes; see
/// tests/serial.rs), which also keeps the simulator's real-time pacing undisturbed on 2 cores.
static E2E: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn e2e_lock() -> std::sync::MutexGuard<'static, ()> {
    E2E.lock().unwrap_or_else(|e| e.into_inner())
}

struct Sim {
    child: Child,
    link: PathBuf,
    truth: PathBuf,
    faults: PathBuf,
}

fn start_sim(dir: &Path, args: &[&str]) -> Sim {
    let link = dir.join("amp");
    let truth = dir.join("truth.jsonl");
    let faults = dir.join("faults.jsonl");
    let mut child = Command::new(&bins().0)
        .args(["--pty", "--link"])
        .arg(&link)
        .arg("--truth")
        .arg(&truth)
        .arg("--fault-log")
        .arg(&faults)
        .args(["--no-stdin", "--session-id", "4242"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("firmware-sim");
    // First line = slave path: the pty and the link exist from then on.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(
        first.trim().starts_with("/dev/"),
        "firmware-sim said {first:?}"
    );
    std::thread::spawn(move || for _ in out.lines().map_while(Result::ok) {});
    Sim {
        child,
        link,
        truth,
        faults,
    }
}

fn json_lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

struct Acquired {
    fs: f64,
    beats: Vec<Beat>,
    origin: u64,
    /// Session samples covered (delivered + gaps).
    covered: u64,
    delivered: u64,
    gaps: Vec<(u64, u64, GapReason)>,
    status: SourceStatus,
    states: Vec<String>,
    summary: RecordingSummary,
}

/// Acquire from the link until the simulator has exited and the link has gone quiet.
fn acquire(sim: &mut Sim, out_dir: &Path, watchdog_ms: u64) -> Acquired {
    let mut opts = SerialOptions::new(&sim.link);
    opts.watchdog = Duration::from_millis(watchdog_ms);
    let src = SerialSource::new(opts).unwrap();
    let origin = src.device_origin();
    let handle = spawn(Box::new(src), 8192);
    let rec = RecorderThread::spawn(
        Recorder::new(
            out_dir,
            RecorderOptions {
                record_name: Some("e2e".into()),
                ..Default::default()
            },
        )
        .unwrap(),
        8192,
    )
    .unwrap();
    let names12: Vec<String> = LEAD_NAMES_12.iter().map(|s| s.to_string()).collect();
    let mut pipeline: Option<Pipeline> = None;
    let mut beats = Vec::new();
    let (mut fs, mut covered, mut delivered) = (0.0, 0u64, 0u64);
    let mut gaps = Vec::new();
    let mut states = Vec::new();
    let mut exited_at: Option<Instant> = None;
    let mut last_event = Instant::now();
    let t0 = Instant::now();
    loop {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "e2e run took too long"
        );
        if exited_at.is_none() && sim.child.try_wait().unwrap().is_some() {
            exited_at = Some(Instant::now());
        }
        if let Some(t) = exited_at {
            if t.elapsed() > Duration::from_millis(300)
                && last_event.elapsed() > Duration::from_millis(400)
            {
                break;
            }
        }
        let Ok(ev) = handle.events.recv_timeout(Duration::from_millis(50)) else {
            continue;
        };
        if !matches!(ev, SourceEvent::Status(_)) {
            last_event = Instant::now();
        }
        match &ev {
            SourceEvent::Started(info) => {
                assert!(pipeline.is_none(), "one session");
                fs = info.fs_hz;
                assert_eq!(info.lead_names.len(), 8);
                pipeline = Some(Pipeline::new(PipelineConfig::new(fs, names12.clone())).unwrap());
            }
            SourceEvent::Chunk(c) => {
                assert_eq!(c.first_sample, covered, "no unreported hole");
                let p = pipeline.as_mut().unwrap();
                for f in 0..c.n_frames() {
                    let fr = derive_12(&c.samples_uv[f * 8..(f + 1) * 8]);
                    p.process_frame(&fr, c.pace[f], &mut beats);
                }
                covered += c.n_frames() as u64;
                delivered += c.n_frames() as u64;
            }
            SourceEvent::Gap {
                at_sample,
                missing_frames,
                reason,
            } => {
                assert_eq!(*at_sample, covered);
                gaps.push((*at_sample, *missing_frames, *reason));
                // Keep the pipeline's sample numbers equal to session time.
                let p = pipeline.as_mut().unwrap();
                let nan = [f32::NAN; 12];
                for _ in 0..*missing_frames {
                    p.process_frame(&nan, false, &mut beats);
                }
                covered += missing_frames;
            }
            SourceEvent::Status(s) => {
                let st = s.state.as_str().to_string();
                if states.last() != Some(&st) {
                    states.push(st);
                }
            }
            SourceEvent::Ended => {}
        }
        assert!(rec.send(&ev), "recorder kept up");
    }
    if let Some(p) = pipeline.as_mut() {
        p.finish(&mut beats);
    }
    let status = handle.status();
    handle.stop().unwrap();
    let summary = rec.finish().unwrap();
    Acquired {
        fs,
        beats,
        origin: origin.get().expect("samples arrived"),
        covered,
        delivered,
        gaps,
        status,
        states,
        summary,
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

/// Per-beat global QRSd error against the truth, for beats after the first 2 s (filter settling).
struct Accuracy {
    truths: usize,
    matched: usize,
    errors_ms: Vec<f64>,
    span_errors_ms: Vec<f64>,
}

fn accuracy(a: &Acquired, truth: &[Value]) -> Accuracy {
    let ms = 1000.0 / a.fs;
    let mut acc = Accuracy {
        truths: 0,
        matched: 0,
        errors_ms: vec![],
        span_errors_ms: vec![],
    };
    for t in truth {
        let dev = |k: &str| t[k].as_u64().unwrap();
        let (Some(on), Some(off), Some(r)) = (
            dev("onset_sample").checked_sub(a.origin),
            dev("offset_sample").checked_sub(a.origin),
            dev("r_sample").checked_sub(a.origin),
        ) else {
            continue;
        };
        if (on as f64) < 2.0 * a.fs || off + (0.5 * a.fs) as u64 >= a.covered {
            continue;
        }
        // Beats within 1 s after a gap (filters settling on the held value) are not scored.
        if a.gaps
            .iter()
            .any(|&(at, n, _)| on + (0.5 * a.fs) as u64 >= at && on <= at + n + a.fs as u64)
        {
            continue;
        }
        acc.truths += 1;
        let near = |b: &&Beat| {
            (on..=off).contains(&b.r_sample) || (b.r_sample as f64 - r as f64).abs() * ms <= 75.0
        };
        let Some(b) = a.beats.iter().find(near) else {
            continue;
        };
        let Some(d) = b.global.duration_ms(a.fs) else {
            continue;
        };
        acc.matched += 1;
        acc.errors_ms.push(d - t["qrsd_ms"].as_f64().unwrap());
        if let Some(span) = t["lead_span"]["qrsd_ms"].as_f64() {
            acc.span_errors_ms.push(d - span);
        }
    }
    acc
}

#[test]
fn serial_link_to_pipeline_matches_truth_at_500_and_1000_hz() {
    let _serial = e2e_lock();
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for fs in ["500", "1000"] {
        for (rhythm, qrsd) in [("intrinsic", "150"), ("biv", "130")] {
            let dir = temp_dir(&format!("e2e-{fs}-{rhythm}"));
            let mut sim = start_sim(
                &dir,
                &[
                    "--speed",
                    "10",
                    "--seconds",
                    "30",
                    "--fs",
                    fs,
                    "--rhythm",
                    rhythm,
                    "--qrsd-ms",
                    qrsd,
                    "--seed",
                    "3",
                ],
            );
            let a = acquire(&mut sim, &dir, 500);
            let truth = json_lines(&sim.truth);
            // Link: nothing lost on a clean link, and the recording holds exactly what was acquired.
            // No fault is injected: the only possible loss is frames the simulator could not write because
            // the pty was full (a loaded machine), which it logs as `unsent`; every one is a gap.
            let unsent: u64 = json_lines(&sim.faults)
                .iter()
                .filter(|f| f["fault"] == "unsent")
                .filter(|f| f["sample"].as_u64().unwrap_or(0) >= a.origin)
                .filter_map(|f| f["samples"].as_u64())
                .sum();
            let missing: u64 = a.gaps.iter().map(|g| g.1).sum();
            assert_eq!(missing, unsent, "{fs} {rhythm}: gaps {:?}", a.gaps);
            if !a.gaps.is_empty() {
                eprintln!(
                    "{fs} {rhythm}: link overflow on a loaded machine: {:?}",
                    a.gaps
                );
            }
            assert_eq!(a.delivered + missing, a.covered);
            assert!(
                a.covered as f64 >= 29.0 * a.fs,
                "{fs} {rhythm}: only {} samples",
                a.covered
            );
            let seg = &a.summary.segments[0];
            assert_eq!(seg.frames, a.covered);
            let r = qrsd_formats::open(&seg.hea_path).unwrap();
            assert_eq!(r.len_samples() as u64, a.covered);
            let acc = accuracy(&a, &truth);
            // The link adds no error: the same signal fed in-process (qrsd-synth with the simulator's
            // configuration, from the host's first sample on) gives the same beats to within a sample.
            let cfg = qrsd_synth::SynthConfig {
                fs_hz: fs.parse().unwrap(),
                rhythm: if rhythm == "biv" {
                    qrsd_synth::Rhythm::Biv
                } else {
                    qrsd_synth::Rhythm::Intrinsic
                },
                qrsd_ms: qrsd.parse().unwrap(),
                seed: 3,
                ..qrsd_synth::SynthConfig::default()
            };
            let direct = {
                let n = (a.origin + a.covered) as f64 / a.fs;
                let g = qrsd_synth::generate(&cfg, n).unwrap();
                let mut p = Pipeline::new(PipelineConfig::new(
                    a.fs,
                    g.leads.iter().map(|l| l.0.clone()).collect(),
                ))
                .unwrap();
                let mut out = Vec::new();
                let o = a.origin as usize;
                let mut frame = [0f32; 12];
                for k in o..g.len_samples() {
                    for (l, (_, v)) in g.leads.iter().enumerate() {
                        frame[l] = v[k] as f32;
                    }
                    p.process_frame(&frame, g.pace_flags[k], &mut out);
                }
                p.finish(&mut out);
                out
            };
            let mut same = 0;
            // (Only meaningful without gaps: around a gap the link run holds the last value.)
            let linked: &[Beat] = if a.gaps.is_empty() { &a.beats } else { &[] };
            for b in linked {
                if let Some(d) = direct.iter().find(|d| d.r_sample.abs_diff(b.r_sample) <= 2) {
                    let (x, y) = (b.global.duration_ms(a.fs), d.global.duration_ms(a.fs));
                    if let (Some(x), Some(y)) = (x, y) {
                        assert!(
                            (x - y).abs() <= 1000.0 / a.fs + 1e-9,
                            "link {x} ms vs direct {y} ms"
                        );
                        same += 1;
                    }
                }
            }
            assert!(
                same + 1 >= linked.len(),
                "{same} of {} beats match the in-process run",
                linked.len()
            );
            let mut abs: Vec<f64> = acc.errors_ms.iter().map(|e| e.abs()).collect();
            let med = median(&mut abs);
            let max = abs.iter().fold(0.0f64, |m, x| m.max(*x));
            let mut span_abs: Vec<f64> = acc.span_errors_ms.iter().map(|e| e.abs()).collect();
            let span_med = median(&mut span_abs);
            let mean = acc.errors_ms.iter().sum::<f64>() / acc.errors_ms.len().max(1) as f64;
            let line = format!(
                "fs {fs} {rhythm} {qrsd} ms: {}/{} beats matched; QRSd − truth: mean {mean:+.1} ms, median |e| {med:.1} ms, max |e| {max:.1} ms (vs visible lead span: median |e| {span_med:.1} ms)",
                acc.matched, acc.truths
            );
            eprintln!("{line}");
            report.push(line.clone());
            if acc.truths < 20 || acc.matched < acc.truths {
                failures.push(format!("{line}: detection"));
            }
            if max > 5.0 || med > 3.0 {
                failures.push(format!(
                    "{line}: accuracy target (every beat ±5 ms, median ≤ 3 ms) not met"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn link_faults_are_survived_counted_and_annotated() {
    let _serial = e2e_lock();
    let dir = temp_dir("e2e-faults");
    let mut sim = start_sim(
        &dir,
        &[
            "--speed",
            "5",
            "--seconds",
            "40",
            "--fs",
            "500",
            "--rhythm",
            "biv",
            "--faults",
            "garbage,bitflip,drop,stall,disconnect",
            "--fault-rate",
            "20",
            "--fault-seed",
            "5",
            "--stall-s",
            "2.5",
            "--unplug-s",
            "0.5",
        ],
    );
    let a = acquire(&mut sim, &dir, 150);
    let faults = json_lines(&sim.faults);
    let kinds = |k: &str| faults.iter().filter(|f| f["fault"] == k).count();
    for k in ["garbage", "bitflip", "drop", "stall", "disconnect"] {
        assert!(kinds(k) >= 1, "fault {k} not injected: {faults:?}");
    }
    // Samples lost by the simulator after the host's first sample (the log counts device samples).
    let lost: u64 = faults
        .iter()
        .filter(|f| f["sample"].as_u64().unwrap_or(0) >= a.origin)
        .filter(|f| f.get("event").is_none() || f["event"] == "end")
        .filter_map(|f| f["samples"].as_u64())
        .sum();
    let missing: u64 = a.gaps.iter().map(|g| g.1).sum();
    let total = 40 * 500 - a.origin;
    eprintln!(
        "faults: {} injected ({} garbage, {} bitflip, {} drop, {} stall, {} disconnect); host: {} gaps, {} samples missing (log: {lost}), {} CRC errors, {} bytes discarded, {} reconnects; delivered {} of {total}; states {:?}",
        faults.iter().filter(|f| f.get("event").is_none() || f["event"] == "start").count(),
        kinds("garbage"),
        kinds("bitflip"),
        kinds("drop"),
        kinds("stall") / 2,
        kinds("disconnect") / 2,
        a.gaps.len(),
        missing,
        a.status.crc_errors,
        a.status.bytes_discarded,
        a.status.reconnects,
        a.delivered,
        a.states
    );
    // Acquisition resumed by itself to the end, every lost sample is in a gap, and nothing intact was lost.
    assert_eq!(
        a.covered, total,
        "sample numbers reach the end of the signal"
    );
    // Every sample the simulator lost is in a gap of the host. An unplug also loses the bytes that were
    // in the pty when it closed (sent by the device, never received: a real unplug does the same); they
    // are in the Disconnect gap, at most one write burst (20 ms of wall time = 0.1 s of signal at 5x)
    // plus a frame per unplug.
    let log_disconnect: u64 = faults
        .iter()
        .filter(|f| f["fault"] == "disconnect" && f["event"] == "end")
        .filter(|f| f["sample"].as_u64().unwrap_or(0) >= a.origin)
        .filter_map(|f| f["samples"].as_u64())
        .sum();
    let host_disconnect: u64 = a
        .gaps
        .iter()
        .filter(|g| g.2 == GapReason::Disconnect)
        .map(|g| g.1)
        .sum();
    eprintln!(
        "gaps {:?}; disconnect: host {host_disconnect}, log {log_disconnect}",
        a.gaps
    );
    assert_eq!(
        missing - host_disconnect,
        lost - log_disconnect,
        "every sample lost by bit flips, drops and stalls is a reported gap"
    );
    let n_unplugs = (kinds("disconnect") / 2) as u64;
    assert!(
        host_disconnect >= log_disconnect && host_disconnect <= log_disconnect + n_unplugs * 60,
        "disconnect gaps {host_disconnect} vs {log_disconnect} lost while unplugged"
    );
    assert_eq!(a.delivered, total - missing);
    assert_eq!(a.status.missing_frames, missing);
    assert_eq!(a.status.gaps, a.gaps.len() as u64);
    assert!(a.status.reconnects as usize >= kinds("disconnect") / 2);
    assert!(a.gaps.iter().any(|g| g.2 == GapReason::Disconnect));
    assert!(a.gaps.iter().any(|g| g.2 == GapReason::Stall));
    assert!(a.gaps.iter().any(|g| g.2 == GapReason::SequenceGap));
    for s in ["stalled", "disconnected"] {
        assert!(a.states.iter().any(|x| x == s), "{:?}", a.states);
    }
    let garbage: u64 = faults
        .iter()
        .filter(|f| f["fault"] == "garbage")
        .filter_map(|f| f["bytes"].as_u64())
        .sum();
    assert!(a.status.bytes_discarded >= garbage / 2, "garbage discarded");
    // The recording: every gap annotated, same length, invalid samples where frames were missing.
    let seg = &a.summary.segments[0];
    assert_eq!(a.summary.segments.len(), 1);
    assert_eq!(seg.frames, total);
    assert_eq!(seg.gaps, a.gaps.len() as u64);
    assert_eq!(seg.missing_frames, missing);
    let anns = qrsd_formats::wfdb::read_annotations(seg.hea_path.with_extension("atr")).unwrap();
    let gap_anns: Vec<(u64, String)> = anns
        .iter()
        .filter(|x| x.symbol == "~" && x.subtype == -1)
        .map(|x| (x.sample as u64, x.aux.clone().unwrap()))
        .collect();
    let want: Vec<(u64, String)> = a
        .gaps
        .iter()
        .map(|(at, n, r)| (*at, format!("gap {} {n}", r.as_str())))
        .collect();
    assert_eq!(gap_anns, want);
    let j = check_recording(
        &seg.hea_path,
        &["--channels", "8", "--fs", "500", "--gain", "10000"],
    );
    assert_eq!(j["sig_len"].as_u64().unwrap(), total);
    assert_eq!(j["invalid_samples"]["V6"].as_u64().unwrap(), missing);
    assert_eq!(
        j["annotations"]["gaps"].as_array().unwrap().len(),
        a.gaps.len()
    );
    // No frame that arrived intact was lost or altered: the recording holds the simulator's samples
    // (regenerated here from the same configuration) at their device sample numbers.
    let r = qrsd_formats::open(&seg.hea_path).unwrap();
    let cfg = qrsd_synth::SynthConfig {
        fs_hz: 500.0,
        rhythm: qrsd_synth::Rhythm::Biv,
        ..qrsd_synth::SynthConfig::default()
    };
    let mut synth = qrsd_synth::Synth::new(cfg).unwrap();
    let mut buf = vec![qrsd_synth::Sample::default(); (a.origin + total) as usize];
    synth.fill(&mut buf);
    let mut compared = 0u64;
    for k in 0..total as usize {
        let want = &buf[a.origin as usize + k];
        for l in 0..8 {
            let got = r.leads[l].samples_uv[k];
            if got.is_nan() {
                continue;
            }
            assert!(
                (f64::from(got) - want.leads[l]).abs() <= 0.06,
                "sample {k} lead {l}: {got} vs {}",
                want.leads[l]
            );
            compared += 1;
        }
    }
    assert_eq!(compared, a.delivered * 8);
}

#[test]
fn qrsd_record_then_analyze() {
    let _serial = e2e_lock();
    let dir = temp_dir("e2e-cli");
    let mut sim = start_sim(
        &dir,
        &[
            "--speed",
            "10",
            "--seconds",
            "20",
            "--fs",
            "1000",
            "--rhythm",
            "biv",
            "--qrsd-ms",
            "140",
            "--seed",
            "9",
        ],
    );
    let out = Command::new(&bins().1)
        .args(["record", "--source"])
        .arg(format!("serial:{}", sim.link.display()))
        .args(["--seconds", "12", "--name", "cli", "--out"])
        .arg(dir.join("rec"))
        .output()
        .unwrap();
    let _ = sim.child.kill();
    let _ = sim.child.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hea = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(hea.ends_with("cli.hea"), "{hea}");
    let h = qrsd_formats::wfdb::read_header(&hea).unwrap();
    assert_eq!(h.num_samples, Some(12_000));
    let an = Command::new(&bins().1)
        .args(["analyze", &hea, "--json"])
        .output()
        .unwrap();
    assert!(
        an.status.success(),
        "{}",
        String::from_utf8_lossy(&an.stderr)
    );
    let j: Value = serde_json::from_slice(&an.stdout).unwrap();
    let beats = j["beats"].as_array().unwrap();
    assert!(beats.len() >= 12, "{} beats", beats.len());
    let paced = beats.iter().filter(|b| b["class"] == "paced").count();
    assert!(
        paced * 10 >= beats.len() * 8,
        "{paced} of {} paced",
        beats.len()
    );
}
