//! End-to-end tests of the `firmware-sim` binary: run it, decode its bytes with qrsd-protocol, check
//! frames, rate, truth lines and that injected faults appear as decoder events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use qrsd_protocol::{Decoder, DecoderStats, Event, Hello};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_firmware-sim");

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("firmware-sim-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// What a decoded stream contained.
#[derive(Debug, Default)]
struct Decoded {
    hellos: Vec<Hello>,
    statuses: usize,
    samples: u64,
    first_samples: Vec<u64>,
    pace_samples: Vec<u64>,
    lead_off_samples: u64,
    crc_errors: u64,
    discarded: u64,
    lost_frames: u64,
    lost_samples: u64,
    other: Vec<String>,
    stats: DecoderStats,
}

fn decode_into(d: &mut Decoder, out: &mut Decoded, bytes: &[u8]) {
    d.feed(bytes, |ev| match ev {
        Event::Hello { hello, .. } => out.hellos.push(hello),
        Event::Status { .. } => out.statuses += 1,
        Event::Samples(b) => {
            out.first_samples.push(b.first_sample);
            for i in 0..b.n_samples() {
                if b.pace(i) {
                    out.pace_samples.push(b.first_sample + i as u64);
                }
                if b.lead_off[i] != 0 {
                    out.lead_off_samples += 1;
                }
            }
            out.samples += b.n_samples() as u64;
        }
        Event::CrcError { .. } => out.crc_errors += 1,
        Event::Discarded { bytes } => out.discarded += bytes as u64,
        Event::FrameGap { lost_frames, .. } => out.lost_frames += u64::from(lost_frames),
        Event::SampleGap { lost_samples, .. } => out.lost_samples += lost_samples,
        other => out.other.push(format!("{other:?}")),
    });
    out.stats = d.stats();
}

fn decode(bytes: &[u8]) -> Decoded {
    let mut d = Decoder::new();
    let mut out = Decoded::default();
    decode_into(&mut d, &mut out, bytes);
    out
}

fn run(args: &[&str]) -> (Vec<u8>, String) {
    let o = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "firmware-sim failed: {err}");
    (o.stdout, err)
}

fn json_lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn stdout_stream_has_the_declared_rate_and_truth() {
    let dir = tmp("stdout");
    let truth = dir.join("truth.jsonl");
    let (bytes, _) = run(&[
        "--max-speed",
        "--seconds",
        "6",
        "--fs",
        "500",
        "--rate-bpm",
        "60",
        "--qrsd-ms",
        "150",
        "--truth",
        truth.to_str().unwrap(),
    ]);
    let d = decode(&bytes);
    assert_eq!(d.samples, 3000);
    assert_eq!(d.hellos.len(), 6, "one hello per second");
    let h = d.hellos[0];
    assert_eq!(h.sample_rate_hz, 500);
    assert_eq!(h.n_channels, 8);
    assert!(h.has_hw_pace());
    assert_eq!(d.statuses, 24, "four per second");
    assert_eq!(
        (d.crc_errors, d.discarded, d.lost_frames, d.lost_samples),
        (0, 0, 0, 0)
    );
    assert!(d.other.is_empty(), "{:?}", d.other);
    // Contiguous sample numbers from 0.
    for (i, f) in d.first_samples.iter().enumerate() {
        assert_eq!(*f, i as u64 * 10);
    }
    let beats = json_lines(&truth);
    assert!((4..=6).contains(&beats.len()), "{} beats", beats.len());
    for b in &beats {
        assert_eq!(b["class"], "intrinsic");
        assert!(b["stimulus_sample"].is_null());
        let (on, off) = (
            b["onset_sample"].as_u64().unwrap(),
            b["offset_sample"].as_u64().unwrap(),
        );
        assert!(on < off && off < 3000);
        assert!((b["qrsd_ms"].as_f64().unwrap() - 150.0).abs() <= 2.0);
        assert!(b["per_lead"]["V6"].is_object());
        let r = b["r_sample"].as_u64().unwrap();
        assert!(on <= r && r <= off);
    }
}

#[test]
fn biv_pace_flags_match_truth_stimuli() {
    let dir = tmp("biv");
    let truth = dir.join("truth.jsonl");
    let (bytes, _) = run(&[
        "--max-speed",
        "--seconds",
        "5",
        "--fs",
        "1000",
        "--rhythm",
        "biv",
        "--qrsd-ms",
        "130",
        "--vv-offset-ms",
        "-20",
        "--truth",
        truth.to_str().unwrap(),
    ]);
    let d = decode(&bytes);
    assert_eq!(d.samples, 5000);
    let beats = json_lines(&truth);
    assert!(beats.len() >= 4);
    for b in &beats {
        assert_eq!(b["class"], "paced");
        let stim = b["stimulus_sample"].as_u64().unwrap();
        assert!(
            d.pace_samples.contains(&stim),
            "no pace flag at stimulus {stim}"
        );
        assert!(!d.pace_samples.contains(&(stim - 1)));
        // The RV stimulus 20 ms later is flagged too.
        assert!(d
            .pace_samples
            .iter()
            .any(|&p| (stim + 19..=stim + 21).contains(&p)));
        assert!((b["qrsd_ms"].as_f64().unwrap() - 130.0).abs() <= 1.0);
    }
}

#[test]
fn rv_rhythm_paces_both_leads_and_its_truth_is_loss_of_lv_capture() {
    let dir = tmp("rv");
    let truth = dir.join("truth.jsonl");
    let (bytes, _) = run(&[
        "--max-speed",
        "--seconds",
        "5",
        "--fs",
        "1000",
        "--rhythm",
        "rv",
        "--qrsd-ms",
        "175",
        "--truth",
        truth.to_str().unwrap(),
    ]);
    let d = decode(&bytes);
    let beats = json_lines(&truth);
    assert!(beats.len() >= 4);
    for b in &beats {
        // The LV lead paces but does not capture: an RV-only paced QRS of the configured width.
        assert_eq!(b["class"], "loss_of_capture");
        let stim = b["stimulus_sample"].as_u64().unwrap();
        assert!(d.pace_samples.contains(&stim), "no pace flag at {stim}");
        assert!((b["qrsd_ms"].as_f64().unwrap() - 175.0).abs() <= 1.0);
    }
}

#[test]
fn link_faults_are_all_seen_by_the_decoder() {
    let dir = tmp("faults");
    let log = dir.join("faults.jsonl");
    let (bytes, _) = run(&[
        "--max-speed",
        "--seconds",
        "60",
        "--fs",
        "1000",
        "--faults",
        "garbage,bitflip,drop",
        "--fault-rate",
        "120",
        "--fault-seed",
        "11",
        "--fault-log",
        log.to_str().unwrap(),
    ]);
    let d = decode(&bytes);
    let faults = json_lines(&log);
    fn of<'a>(faults: &'a [Value], k: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        faults.iter().filter(move |f| f["fault"] == k)
    }
    let of = |k: &'static str| of(&faults, k);
    assert!(of("garbage").count() > 10 && of("bitflip").count() > 10 && of("drop").count() > 10);
    let lost_samples: u64 = faults.iter().filter_map(|f| f["samples"].as_u64()).sum();
    let lost_frames = of("bitflip").count() + of("drop").count();
    assert_eq!(
        d.lost_samples, lost_samples,
        "every lost sample is a reported gap"
    );
    assert_eq!(
        d.lost_frames, lost_frames as u64,
        "every lost frame is a sequence gap"
    );
    assert_eq!(d.samples + lost_samples, 60_000);
    // Flips after the header are CRC errors; the others (sync/header) are discarded silently.
    let payload_flips = of("bitflip")
        .filter(|f| f["byte"].as_u64().unwrap() >= 9)
        .count();
    assert_eq!(d.crc_errors, payload_flips as u64);
    let garbage: u64 = of("garbage").map(|f| f["bytes"].as_u64().unwrap()).sum();
    assert!(d.discarded >= garbage);
    assert!(d.other.is_empty(), "{:?}", d.other);
}

#[test]
fn stdin_commands_change_rhythm_and_stall() {
    let dir = tmp("stdin");
    let truth = dir.join("truth.jsonl");
    let log = dir.join("faults.jsonl");
    let mut child = Command::new(BIN)
        .args([
            "--speed",
            "10",
            "--seconds",
            "12",
            "--fs",
            "500",
            "--rate-bpm",
            "90",
            "--truth",
            truth.to_str().unwrap(),
            "--fault-log",
            log.to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        stdout.read_to_end(&mut v).unwrap();
        v
    });
    std::thread::sleep(Duration::from_millis(300)); // ~3 s of signal
    writeln!(stdin, "rhythm biv").unwrap();
    writeln!(stdin, "qrsd 120").unwrap();
    writeln!(stdin, "{{\"pace\": {{\"av_delay_ms\": 100}}}}").unwrap();
    writeln!(stdin, "stall 1").unwrap();
    writeln!(stdin, "bogus").unwrap();
    stdin.flush().unwrap();
    let bytes = reader.join().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown command"), "{err}");
    let d = decode(&bytes);
    let faults = json_lines(&log);
    let end = faults
        .iter()
        .find(|f| f["fault"] == "stall" && f["event"] == "end")
        .expect("stall logged");
    assert_eq!(d.lost_samples, end["samples"].as_u64().unwrap());
    assert!((490..=510).contains(&d.lost_samples), "{}", d.lost_samples);
    let beats = json_lines(&truth);
    let classes: Vec<&str> = beats.iter().map(|b| b["class"].as_str().unwrap()).collect();
    assert_eq!(classes[0], "intrinsic");
    assert_eq!(*classes.last().unwrap(), "paced");
    let last = beats.last().unwrap();
    assert!((last["qrsd_ms"].as_f64().unwrap() - 120.0).abs() <= 2.0);
}

fn open_slave(p: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::fcntl::OFlag::O_NOCTTY.bits())
        .open(p)
}

#[test]
fn pty_with_link_survives_unplug_and_replug() {
    let dir = tmp("pty");
    let link = dir.join("amp");
    let log = dir.join("faults.jsonl");
    let scenario = dir.join("s.json");
    std::fs::write(
        &scenario,
        r#"{"config":{"fs_hz":1000},"phases":[
            {"label":"before","duration_s":3},
            {"label":"after","duration_s":4,"set":{"rhythm":"biv"},"commands":["unplug 1"]}]}"#,
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args([
            "--pty",
            "--link",
            link.to_str().unwrap(),
            "--speed",
            "4",
            "--scenario",
            scenario.to_str().unwrap(),
            "--fault-log",
            log.to_str().unwrap(),
            "--no-stdin",
            "--linger-s",
            "0.3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("/dev/pts/"), "{first}");
    assert_eq!(std::fs::read_link(&link).unwrap(), PathBuf::from(&first));
    let mut dec = Decoder::new();
    let mut d = Decoded::default();
    let mut opens = 0;
    let t0 = Instant::now();
    let mut buf = vec![0u8; 4096];
    // Read through the link; after a hang-up wait for the link to come back and reopen it.
    'outer: while t0.elapsed() < Duration::from_secs(20) {
        let mut f = loop {
            if let Ok(f) = open_slave(&link) {
                break f;
            }
            if child.try_wait().unwrap().is_some() {
                break 'outer;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        opens += 1;
        dec.reset_link();
        loop {
            match f.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => decode_into(&mut dec, &mut d, &buf[..n]),
            }
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success());
    let second = lines.next().unwrap().unwrap();
    assert!(
        second.starts_with("/dev/pts/"),
        "new path printed: {second}"
    );
    assert!(opens >= 2, "reopened after the unplug");
    assert!(!link.exists(), "link removed at exit");
    let faults = json_lines(&log);
    let end = faults
        .iter()
        .find(|f| f["fault"] == "disconnect" && f["event"] == "end")
        .expect("disconnect logged");
    let outage = end["samples"].as_u64().unwrap();
    assert!((990..=1010).contains(&outage), "{outage}");
    let unsent: u64 = faults
        .iter()
        .filter(|f| f["fault"] == "unsent")
        .filter_map(|f| f["samples"].as_u64())
        .sum();
    // Raw mode: no byte translation (a cooked tty would corrupt most frames). A frame torn by the kernel
    // at the hang-up or at an open may fail its CRC.
    assert!(d.crc_errors <= 2, "{} CRC errors", d.crc_errors);
    // Every missing sample is a reported gap; the loss is the outage, plus what was in flight at the
    // moment of the hang-up (at most a burst) and whatever the link could not take.
    assert_eq!(d.samples + d.lost_samples, 7000 - d.first_samples[0]);
    assert!(d.lost_samples >= outage + unsent);
    assert!(
        d.lost_samples <= outage + unsent + 200,
        "{} lost",
        d.lost_samples
    );
    // The same session continues: hellos after the replug carry the same session id.
    assert!(d
        .hellos
        .windows(2)
        .all(|w| w[0].session_id == w[1].session_id));
}

#[test]
fn pty_without_reader_keeps_generating() {
    let dir = tmp("noreader");
    let log = dir.join("faults.jsonl");
    let mut child = Command::new(BIN)
        .args([
            "--pty",
            "--speed",
            "10",
            "--seconds",
            "6",
            "--fault-log",
            log.to_str().unwrap(),
            "--no-stdin",
            "--linger-s",
            "0.3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let path = lines.next().unwrap().unwrap();
    // Nobody reads for ~3 s of signal, then a reader appears.
    std::thread::sleep(Duration::from_millis(300));
    let mut f = open_slave(Path::new(&path)).unwrap();
    let mut d = Decoded::default();
    let mut dec = Decoder::new();
    let mut buf = vec![0u8; 4096];
    loop {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => decode_into(&mut dec, &mut d, &buf[..n]),
        }
    }
    assert!(child.wait().unwrap().success());
    let unsent: u64 = json_lines(&log)
        .iter()
        .filter(|f| f["fault"] == "unsent")
        .filter_map(|f| f["samples"].as_u64())
        .sum();
    assert!(unsent > 0, "frames were dropped while no one read");
    // Every frame the simulator could not send is a reported gap. (Opening a pty slave can also lose
    // what the kernel had buffered; that loss is a reported gap too.)
    assert!(d.lost_samples >= unsent, "{} < {unsent}", d.lost_samples);
    assert_eq!(d.samples + d.lost_samples, 6000 - d.first_samples[0]);
    assert_eq!(*d.first_samples.last().unwrap() + 10, 6000);
}

#[test]
fn scenario_phases_label_truth_and_end_the_run() {
    let dir = tmp("scenario");
    let truth = dir.join("truth.jsonl");
    let scenario = dir.join("s.json");
    std::fs::write(
        &scenario,
        r#"{"config":{"fs_hz":2000,"rate_bpm":80},"phases":[
            {"label":"baseline","duration_s":4,"set":{"qrsd_ms":170}},
            {"label":"site A","duration_s":4,"set":{"rhythm":"biv","qrsd_ms":125}}]}"#,
    )
    .unwrap();
    let (bytes, _) = run(&[
        "--max-speed",
        "--scenario",
        scenario.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
    ]);
    let d = decode(&bytes);
    assert_eq!(d.hellos[0].sample_rate_hz, 2000);
    assert_eq!(d.samples, 16_000, "the run ends with the last phase");
    let beats = json_lines(&truth);
    let first = &beats[0];
    assert_eq!(
        (first["label"].as_str(), first["phase"].as_u64()),
        (Some("baseline"), Some(0))
    );
    assert!((first["qrsd_ms"].as_f64().unwrap() - 170.0).abs() <= 1.0);
    let last = beats.last().unwrap();
    assert_eq!(last["label"], "site A");
    assert_eq!(last["class"], "paced");
    assert!((last["qrsd_ms"].as_f64().unwrap() - 125.0).abs() <= 1.0);
    // Every beat's label is the phase its QRS started in.
    for b in &beats {
        let in_a = b["onset_sample"].as_u64().unwrap() >= 8000;
        assert_eq!(b["label"] == "site A", in_a);
    }
}

#[test]
fn lead_off_saturation_and_no_pace_flag() {
    let mut d = Decoder::new();
    let (bytes, _) = run(&[
        "--max-speed",
        "--seconds",
        "3",
        "--fs",
        "500",
        "--rhythm",
        "biv",
        "--lead-off",
        "V3:1:2",
        "--no-pace-flag",
    ]);
    let mut off = 0u64;
    let mut electrode = 0u16;
    let mut status_electrodes = Vec::new();
    let mut paced = 0;
    let mut hw_pace = true;
    let mut saturated = 0u64;
    d.feed(&bytes, |ev| match ev {
        Event::Hello { hello, .. } => hw_pace = hello.has_hw_pace(),
        Event::Status { status, .. } => status_electrodes.push(status.electrode_lead_off),
        Event::Samples(b) => {
            electrode |= b.electrode_lead_off;
            for i in 0..b.n_samples() {
                if b.lead_off[i] != 0 {
                    assert_eq!(b.lead_off[i], 1 << 4, "V3 is channel 4");
                    off += 1;
                    // The off channel sits at the rail of the input range: flagged saturated.
                    assert!(b.flags[i] & qrsd_protocol::SAMPLE_FLAG_SATURATED != 0);
                    saturated += 1;
                }
                paced += usize::from(b.pace(i));
            }
        }
        _ => {}
    });
    assert!(!hw_pace);
    assert_eq!(paced, 0);
    assert_eq!(off, 500);
    assert_eq!(saturated, 500);
    assert_eq!(electrode, qrsd_protocol::Electrode::V3.bit());
    assert!(status_electrodes.contains(&qrsd_protocol::Electrode::V3.bit()));
    assert_eq!(
        *status_electrodes.last().unwrap(),
        0,
        "status follows the electrode back on"
    );
}

#[test]
fn device_file_output() {
    let dir = tmp("device");
    let out = dir.join("stream.bin");
    std::fs::write(&out, b"").unwrap();
    let (stdout, _) = run(&[
        "--device",
        out.to_str().unwrap(),
        "--max-speed",
        "--seconds",
        "2",
        "--fs",
        "1000",
        "--linger-s",
        "0",
    ]);
    assert!(stdout.is_empty());
    let d = decode(&std::fs::read(&out).unwrap());
    assert_eq!(d.samples, 2000);
    assert_eq!(d.lost_samples, 0);
}
