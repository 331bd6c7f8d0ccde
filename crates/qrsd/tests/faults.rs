//! Fault tests of a real `qrsd serve` process (issue 7), each well under 60 s on 2 cores:
//!
//! * **API flood**: 5,000 requests from 32 concurrent connections on loopback, a mix of valid, invalid,
//!   oversize and garbage requests. Every request gets an answer (2xx, 4xx, 429 or 503; never another
//!   5xx, never a hang), `/healthz` stays 200, acquisition keeps advancing during the flood, and the
//!   server's RSS stays bounded.
//! * **Repeated `kill -9`** (complements `serve_crash.rs`, which kills once during a measurement): three
//!   kills — during a measurement, during recording with no measurement, and right after a start-up —
//!   each followed by a restart on the same data folder. After every restart all completed measurements
//!   are there unchanged, the one that was collecting is marked interrupted, a new measurement completes;
//!   at the end every session's recording opens (qrsd-formats) and holds the signal up to shortly before
//!   its kill.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::{http, raw_request, request, serve, set_sim, temp_dir, wait_final, Serve};

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn frames(addr: SocketAddr) -> u64 {
    let (st, s) = http(addr, "GET", "/api/v1/source", None);
    assert_eq!(st, 200, "{s}");
    s["frames"].as_u64().unwrap()
}

/// The request mix of the flood: (label, request bytes).
fn flood_mix(procedure: i64) -> Vec<(&'static str, Vec<u8>)> {
    let big = vec![b'x'; 64 * 1024];
    let mut big_json = b"{\"case_id\": \"".to_vec();
    big_json.extend(std::iter::repeat_n(b'a', 40 * 1024));
    big_json.extend_from_slice(b"\"}");
    vec![
        ("healthz", request("GET", "/healthz", None, b"")),
        ("source", request("GET", "/api/v1/source", None, b"")),
        ("metrics", request("GET", "/metrics", None, b"")),
        (
            "procedure",
            request("GET", &format!("/api/v1/procedures/{procedure}"), None, b""),
        ),
        (
            "create",
            request(
                "POST",
                "/api/v1/procedures",
                Some("application/json"),
                br#"{"case_id": "FLOOD"}"#,
            ),
        ),
        (
            "add_site",
            request(
                "POST",
                &format!("/api/v1/procedures/{procedure}/sites"),
                Some("application/json"),
                br#"{"vein": "lateral", "segment": "mid", "label": "F"}"#,
            ),
        ),
        (
            "missing",
            request("GET", "/api/v1/procedures/987654321", None, b""),
        ),
        (
            "bad_id",
            request("GET", "/api/v1/measurements/abc", None, b""),
        ),
        (
            "bad_json",
            request(
                "POST",
                "/api/v1/procedures",
                Some("application/json"),
                b"{\"case_id\": ",
            ),
        ),
        (
            "wrong_type",
            request(
                "POST",
                &format!("/api/v1/procedures/{procedure}/sites"),
                Some("application/json"),
                br#"{"vein": 7, "segment": [], "label": null}"#,
            ),
        ),
        (
            "bad_sim",
            request(
                "PUT",
                "/api/v1/source/sim",
                Some("application/json"),
                br#"{"speed": 1e300, "qrsd_ms": -5}"#,
            ),
        ),
        (
            "no_ct",
            request("POST", "/api/v1/procedures", None, br#"{"case_id": "X"}"#),
        ),
        (
            "oversize",
            request("POST", "/api/v1/procedures", Some("application/json"), &big),
        ),
        (
            "oversize_json",
            request(
                "POST",
                "/api/v1/procedures",
                Some("application/json"),
                &big_json,
            ),
        ),
        ("method", request("DELETE", "/api/v1/source", None, b"")),
        ("route", request("GET", "/api/v1/nope/../../etc", None, b"")),
        (
            "garbage",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n".to_vec(),
        ),
    ]
}

#[test]
fn api_flood_is_answered_and_acquisition_continues() {
    const REQUESTS: usize = 5_000;
    const CONNECTIONS: usize = 32;
    let data = temp_dir("flood");
    let s = serve(&data, 1.0);
    let a = s.addr;
    let (st, p) = http(
        a,
        "POST",
        "/api/v1/procedures",
        Some(&json!({"case_id": "F"})),
    );
    assert_eq!(st, 201, "{p}");
    let mix = Arc::new(flood_mix(p["id"].as_i64().unwrap()));
    // Let acquisition start, then note where it is.
    std::thread::sleep(Duration::from_millis(500));
    let f0 = frames(a);
    let rss0 = rss_kb(s.child.id());

    let next = Arc::new(AtomicUsize::new(0));
    let statuses = Arc::new(Mutex::new(
        std::collections::BTreeMap::<(String, u16), usize>::new(),
    ));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let t0 = Instant::now();
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (mix, next, statuses, failures) = (
                Arc::clone(&mix),
                Arc::clone(&next),
                Arc::clone(&statuses),
                Arc::clone(&failures),
            );
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= REQUESTS {
                    return;
                }
                let (label, req) = &mix[i % mix.len()];
                match raw_request(a, req) {
                    Ok((Some(code), body)) => {
                        let ok =
                            (200..300).contains(&code) || (400..500).contains(&code) || code == 503;
                        if !ok {
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{label}: {code} {body}"));
                        }
                        *statuses
                            .lock()
                            .unwrap()
                            .entry((label.to_string(), code))
                            .or_default() += 1;
                    }
                    // Only a non-HTTP byte stream may be closed without an answer.
                    Ok((None, _)) if *label == "garbage" || label.starts_with("oversize") => {
                        *statuses
                            .lock()
                            .unwrap()
                            .entry((label.to_string(), 0))
                            .or_default() += 1;
                    }
                    Ok((None, _)) => failures
                        .lock()
                        .unwrap()
                        .push(format!("{label}: closed without an answer")),
                    Err(e) => failures.lock().unwrap().push(format!("{label}: {e}")),
                }
            })
        })
        .collect();
    // Acquisition keeps advancing while the flood runs.
    let mut during = Vec::new();
    while next.load(Ordering::Relaxed) < REQUESTS && t0.elapsed() < Duration::from_secs(50) {
        std::thread::sleep(Duration::from_millis(400));
        during.push(rss_kb(s.child.id()));
    }
    for w in workers {
        w.join().unwrap();
    }
    let elapsed = t0.elapsed();
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} of {REQUESTS} requests failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let statuses = statuses.lock().unwrap().clone();
    let answered: usize = statuses.values().sum();
    assert_eq!(answered, REQUESTS);
    // The valid reads were served (not everything refused as busy).
    for label in ["healthz", "source", "procedure", "create"] {
        let ok: usize = statuses
            .iter()
            .filter(|((l, c), _)| l == label && (200..300).contains(c))
            .map(|(_, n)| n)
            .sum();
        assert!(ok > 0, "{label}: never served, {statuses:?}");
    }
    for label in [
        "bad_json",
        "wrong_type",
        "bad_sim",
        "missing",
        "bad_id",
        "method",
        "route",
    ] {
        assert!(
            statuses
                .iter()
                .filter(|((l, _), _)| l == label)
                .all(|((_, c), _)| (400..500).contains(c) || *c == 503),
            "{label} must be refused with a 4xx: {statuses:?}"
        );
    }

    let (st, h) = http(a, "GET", "/healthz", None);
    assert_eq!(st, 200, "{h}");
    let f1 = frames(a);
    // At 1 kHz real time the flood's duration must show in the frame count (allow for start-up).
    let expected = (elapsed.as_secs_f64() * 1000.0) as u64;
    assert!(
        f1 - f0 >= expected * 8 / 10,
        "acquisition stalled during the flood: {} frames in {elapsed:?}",
        f1 - f0
    );
    let (_, src) = http(a, "GET", "/api/v1/source", None);
    assert_eq!(src["overrun_frames"], 0, "{src}");
    let rss_max = during
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .max(rss_kb(s.child.id()));
    assert!(
        rss_max < rss0 + 64 * 1024 && rss_max < 200 * 1024,
        "RSS grew from {rss0} kB to {rss_max} kB during the flood"
    );
    eprintln!(
        "flood: {REQUESTS} requests / {CONNECTIONS} connections in {elapsed:?} ({:.0} req/s); \
         frames +{}; RSS {rss0} -> max {rss_max} kB; statuses {statuses:?}",
        REQUESTS as f64 / elapsed.as_secs_f64(),
        f1 - f0
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&data);
}

fn measure_site(addr: SocketAddr, pid: i64, sid: i64) -> i64 {
    let (st, m) = http(
        addr,
        "POST",
        &format!("/api/v1/procedures/{pid}/sites/{sid}/measurements"),
        None,
    );
    assert_eq!(st, 202, "{m}");
    m["id"].as_i64().unwrap()
}

const KEYS: [&str; 6] = [
    "status",
    "qrsd_ms",
    "leads",
    "beats_used",
    "beats",
    "stim_to_end_ms",
];

fn check_completed(addr: SocketAddr, completed: &[Value]) {
    for m in completed {
        let id = m["id"].as_i64().unwrap();
        let (st, again) = http(addr, "GET", &format!("/api/v1/measurements/{id}"), None);
        assert_eq!(st, 200, "{again}");
        for k in KEYS {
            assert_eq!(
                again[k], m[k],
                "measurement {id}: {k} changed across kill -9"
            );
        }
    }
}

fn kill9(s: &mut Serve) {
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();
}

#[test]
fn repeated_kill_9_during_measurement_recording_and_startup() {
    const SPEED: f64 = 8.0;
    let data = temp_dir("kill");
    let mut completed: Vec<Value> = Vec::new();
    let mut interrupted: Vec<i64> = Vec::new();
    // Frames streamed (session samples) shortly before each kill, per session, in start order.
    let mut frames_at_kill: Vec<u64> = Vec::new();

    // Session 1: baseline completes; a site measurement is killed while collecting.
    let mut s = serve(&data, SPEED);
    let a = s.addr;
    let (st, p) = http(
        a,
        "POST",
        "/api/v1/procedures",
        Some(&json!({"case_id": "KILL-REPEAT"})),
    );
    assert_eq!(st, 201, "{p}");
    let pid = p["id"].as_i64().unwrap();
    let (st, b) = http(
        a,
        "POST",
        &format!("/api/v1/procedures/{pid}/baseline"),
        None,
    );
    assert_eq!(st, 202, "{b}");
    completed.push(wait_final(a, b["id"].as_i64().unwrap()));
    let (_, site) = http(
        a,
        "POST",
        &format!("/api/v1/procedures/{pid}/sites"),
        Some(&json!({"vein": "posterolateral", "segment": "mid", "label": "PL mid"})),
    );
    let sid = site["id"].as_i64().unwrap();
    set_sim(a, json!({"rhythm": "biv", "qrsd_ms": 125}), "paced", 125.0);
    let mid = measure_site(a, pid, sid);
    let t0 = Instant::now();
    loop {
        let (_, m) = http(a, "GET", &format!("/api/v1/measurements/{mid}"), None);
        assert_eq!(m["status"], "collecting", "{m}");
        if m["beats_seen"].as_u64().unwrap_or(0) >= 2 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(20));
    }
    frames_at_kill.push(frames(a));
    kill9(&mut s);
    interrupted.push(mid);

    // Session 2: everything is there; a new measurement completes; then kill -9 while only recording.
    let mut s = serve(&data, SPEED);
    let a = s.addr;
    check_completed(a, &completed);
    for id in &interrupted {
        let (_, m) = http(a, "GET", &format!("/api/v1/measurements/{id}"), None);
        assert_eq!(m["interrupted"], true, "{m}");
        assert_eq!(m["status"], "incomplete", "{m}");
    }
    set_sim(a, json!({"rhythm": "biv", "qrsd_ms": 125}), "paced", 125.0);
    let m = wait_final(a, measure_site(a, pid, sid));
    assert_eq!(m["status"], "complete", "{m}");
    completed.push(m);
    // Recording only: a few seconds of wall time with no measurement.
    std::thread::sleep(Duration::from_millis(2500));
    frames_at_kill.push(frames(a));
    kill9(&mut s);

    // Session 3: killed right after start-up (store just opened, recording just begun).
    std::thread::sleep(Duration::from_millis(1100)); // a new second: a new recording name
    let mut s = serve(&data, SPEED);
    let a = s.addr;
    let (st, _) = http(a, "GET", "/healthz", None);
    assert_eq!(st, 200);
    frames_at_kill.push(0);
    kill9(&mut s);

    // Session 4: the procedure continues after three kills.
    std::thread::sleep(Duration::from_millis(1100));
    let s = serve(&data, SPEED);
    let a = s.addr;
    check_completed(a, &completed);
    let (st, proc_view) = http(a, "GET", &format!("/api/v1/procedures/{pid}"), None);
    assert_eq!(st, 200, "{proc_view}");
    set_sim(a, json!({"rhythm": "biv", "qrsd_ms": 125}), "paced", 125.0);
    let m = wait_final(a, measure_site(a, pid, sid));
    assert_eq!(m["status"], "complete", "{m}");
    let (st, rep) = http(a, "GET", &format!("/api/v1/procedures/{pid}/report"), None);
    assert_eq!(st, 200, "{rep}");
    let interrupted_audits = rep["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["action"] == "measurement_interrupted")
        .count();
    assert_eq!(interrupted_audits, interrupted.len(), "{}", rep["audit"]);
    drop(s);

    // Every killed session's recording opens and holds its signal up to shortly before the kill
    // ("readable up to the last second before the kill": 1 s of wall time = SPEED s of signal).
    let mut heads: Vec<PathBuf> = std::fs::read_dir(data.join("recordings"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "hea"))
        .collect();
    heads.sort();
    assert!(
        heads.len() >= 3,
        "one recording per session with signal: {heads:?}"
    );
    for (i, &want) in frames_at_kill.iter().enumerate().take(2) {
        let rec = qrsd_formats::open(&heads[i])
            .unwrap_or_else(|e| panic!("recording {} does not open: {e}", heads[i].display()));
        assert_eq!(rec.leads.len(), 8, "{}", heads[i].display());
        let margin = (2.0 * SPEED * rec.fs_hz) as u64;
        assert!(
            rec.len_samples() as u64 + margin >= want,
            "{}: {} samples, {want} streamed before the kill",
            heads[i].display(),
            rec.len_samples()
        );
    }
    for h in &heads[2..] {
        // Sessions killed at start-up may hold little or nothing, but what is there opens.
        qrsd_formats::open(h).unwrap_or_else(|e| panic!("{}: {e}", h.display()));
    }
    let _ = std::fs::remove_dir_all(&data);
}
