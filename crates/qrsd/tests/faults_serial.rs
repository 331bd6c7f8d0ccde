//! Serial-link faults through the whole process (issue 7), complementing qrsd-acquire's scripted-amplifier
//! tests: `firmware-sim --pty --link` → `qrsd serve --source serial:LINK`, then five unplug/replug
//! cycles (`unplug 1` on firmware-sim's stdin: the pty is closed, re-created and the link re-pointed) and a
//! burst of garbage and bit flips. After every replug acquisition resumes by itself, each unplug is
//! counted as a reconnect and a sample gap, garbage is skipped (bytes discarded / CRC errors counted), the
//! server stays healthy and beats keep coming.
//!
//! Needs the `firmware-sim` binary next to `qrsd` (built by `cargo test --workspace`; built here with
//! `cargo build -p firmware-sim` when missing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{spawn_serve, temp_dir};

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    (
        head.split(' ').nth(1).unwrap().parse().unwrap(),
        body.to_string(),
    )
}

fn source(addr: SocketAddr) -> Value {
    let (st, b) = get(addr, "/api/v1/source");
    assert_eq!(st, 200, "{b}");
    serde_json::from_str(&b).unwrap()
}

fn metric(addr: SocketAddr, name: &str) -> f64 {
    let (_, b) = get(addr, "/metrics");
    b.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn firmware_sim() -> PathBuf {
    let qrsd = PathBuf::from(env!("CARGO_BIN_EXE_qrsd"));
    let fw = qrsd.with_file_name(format!("firmware-sim{}", std::env::consts::EXE_SUFFIX));
    if !fw.exists() {
        let st = Command::new(env!("CARGO"))
            .args(["build", "-p", "firmware-sim"])
            .status()
            .expect("cargo build -p firmware-sim");
        assert!(st.success());
    }
    assert!(fw.exists(), "{} missing", fw.display());
    fw
}

struct Procs {
    fw: Child,
    fw_in: ChildStdin,
    qrsd: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Drop for Procs {
    fn drop(&mut self) {
        let _ = self.qrsd.kill();
        let _ = self.qrsd.wait();
        let _ = self.fw.kill();
        let _ = self.fw.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(dir: &Path) -> Procs {
    let link = dir.join("amp");
    let mut fw = Command::new(firmware_sim())
        .args([
            "--pty",
            "--fs",
            "1000",
            "--rhythm",
            "biv",
            "--qrsd-ms",
            "130",
            "--link",
        ])
        .arg(&link)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("firmware-sim starts");
    let fw_in = fw.stdin.take().unwrap();
    let mut line = String::new();
    let mut fw_out = BufReader::new(fw.stdout.take().unwrap());
    fw_out.read_line(&mut line).unwrap();
    assert!(line.starts_with("/dev/"), "firmware-sim: {line:?}");
    // Keep reading its stdout (a new pty path per replug) so it never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while fw_out.read_line(&mut sink).unwrap_or(0) > 0 {
            sink.clear();
        }
    });
    let t0 = Instant::now();
    while !link.exists() {
        assert!(t0.elapsed() < Duration::from_secs(10), "no link");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qrsd"));
    cmd.args(["serve", "--port", "0", "--no-record", "--source"])
        .arg(format!("serial:{}", link.display()))
        .arg("--data")
        .arg(dir.join("data"));
    let (qrsd, addr) = spawn_serve(cmd);
    Procs {
        fw,
        fw_in,
        qrsd,
        addr,
        dir: dir.to_path_buf(),
    }
}

/// Wait until the source has delivered `n` more frames than `from` and is streaming.
fn wait_frames(addr: SocketAddr, from: u64, n: u64, what: &str) -> Value {
    let t0 = Instant::now();
    loop {
        let s = source(addr);
        if s["frames"].as_u64().unwrap() >= from + n && s["state"] == "streaming" {
            return s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{what}: acquisition did not resume: {s}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn unplug_replug_five_times_and_garbage_burst() {
    let dir = temp_dir("serial");
    let mut p = start(&dir);
    let a = p.addr;
    let s0 = wait_frames(a, 0, 1500, "start");
    let mut frames = s0["frames"].as_u64().unwrap();
    let reconnects0 = s0["reconnects"].as_u64().unwrap_or(0);
    let gaps0 = s0["gaps"].as_u64().unwrap_or(0);
    const CYCLES: u64 = 5;
    for cycle in 0..CYCLES {
        writeln!(p.fw_in, "unplug 1").unwrap();
        p.fw_in.flush().unwrap();
        // The link goes away and comes back; frames stop, then resume.
        std::thread::sleep(Duration::from_millis(1200));
        let s = wait_frames(a, frames, 800, &format!("replug {cycle}"));
        frames = s["frames"].as_u64().unwrap();
        let (st, _) = get(a, "/healthz");
        assert_eq!(st, 200);
    }
    let s1 = source(a);
    let reconnects = s1["reconnects"].as_u64().unwrap_or(0) - reconnects0;
    let gaps = s1["gaps"].as_u64().unwrap_or(0) - gaps0;
    assert!(reconnects >= CYCLES, "reconnects {reconnects}: {s1}");
    assert!(
        gaps >= CYCLES,
        "every unplug loses samples and is a gap: {s1}"
    );
    assert!(s1["missing_frames"].as_u64().unwrap() > 0, "{s1}");

    // A burst of garbage and bit flips: skipped, counted, acquisition goes on.
    let discarded0 = s1["bytes_discarded"].as_u64().unwrap_or(0);
    let crc0 = s1["crc_errors"].as_u64().unwrap_or(0);
    for _ in 0..20 {
        writeln!(p.fw_in, "garbage 512").unwrap();
        writeln!(p.fw_in, "bitflip").unwrap();
        p.fw_in.flush().unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    let s2 = wait_frames(a, frames, 1500, "after garbage");
    assert!(
        s2["bytes_discarded"].as_u64().unwrap_or(0) > discarded0
            || s2["crc_errors"].as_u64().unwrap_or(0) > crc0,
        "garbage was not counted: {s2}"
    );
    // Beats still come out after all this.
    let beats0 = metric(a, "qrsd_beats_total");
    let t0 = Instant::now();
    while metric(a, "qrsd_beats_total") < beats0 + 2.0 {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "no beats after the faults"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (st, _) = get(a, "/healthz");
    assert_eq!(st, 200);
    assert!(p.qrsd.try_wait().unwrap().is_none(), "qrsd serve exited");
    eprintln!(
        "serial faults: {reconnects} reconnects, {gaps} gaps, missing {} frames, bytes discarded {}, CRC errors {}",
        s2["missing_frames"], s2["bytes_discarded"], s2["crc_errors"]
    );
}
