//! `kill -9` of a real `qrsd serve` process during a measurement, then a restart on the same data
//! folder: every completed measurement is still there, unchanged; the one that was collecting is
//! marked interrupted with the beats saved so far; the procedure continues.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Minimal HTTP/1.1 client (one request per connection), enough for JSON over loopback.
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let b = body.map(|b| b.to_string()).unwrap_or_default();
    let ct = if body.is_some() {
        "Content-Type: application/json\r\n"
    } else {
        ""
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{ct}Content-Length: {}\r\n\r\n{b}",
        b.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

struct Serve {
    child: Child,
    addr: SocketAddr,
}

fn serve(data: &Path) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_qrsd"))
        .args(["serve", "--port", "0", "--sim-speed", "8", "--data"])
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("qrsd serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    Serve { child, addr }
}

fn temp_dir() -> PathBuf {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let p = std::env::temp_dir().join(format!("qrsd-crash-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn set_sim(addr: SocketAddr, body: Value, class: &str, qrsd: f64) {
    let (st, b) = http(addr, "PUT", "/api/v1/source/sim", Some(&body));
    assert_eq!(st, 200, "{b}");
    let (_, t) = http(addr, "GET", "/api/v1/sim/truth", None);
    let since = t["beats"]
        .as_array()
        .unwrap()
        .last()
        .map(|b| b["index"].as_u64().unwrap());
    let t0 = Instant::now();
    loop {
        let (_, t) = http(addr, "GET", "/api/v1/sim/truth", None);
        let n = t["beats"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| {
                Some(b["index"].as_u64().unwrap()) > since
                    && b["class"] == class
                    && (b["qrsd_ms"].as_f64().unwrap() - qrsd).abs() < 1.5
            })
            .count();
        if n >= 2 {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_final(addr: SocketAddr, id: i64) -> Value {
    let t0 = Instant::now();
    loop {
        let (st, m) = http(addr, "GET", &format!("/api/v1/measurements/{id}"), None);
        assert_eq!(st, 200, "{m}");
        if m["status"] != "collecting" {
            return m;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{m}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn kill_9_during_a_measurement_loses_nothing_completed() {
    let data = temp_dir();
    let mut s = serve(&data);
    let a = s.addr;
    let (st, p) = http(
        a,
        "POST",
        "/api/v1/procedures",
        Some(&json!({"case_id": "KILL-9"})),
    );
    assert_eq!(st, 201, "{p}");
    let pid = p["id"].as_i64().unwrap();

    set_sim(
        a,
        json!({"rhythm": "intrinsic", "qrsd_ms": 150}),
        "intrinsic",
        150.0,
    );
    let (st, b) = http(
        a,
        "POST",
        &format!("/api/v1/procedures/{pid}/baseline"),
        None,
    );
    assert_eq!(st, 202, "{b}");
    let base = wait_final(a, b["id"].as_i64().unwrap());

    let (_, site) = http(
        a,
        "POST",
        &format!("/api/v1/procedures/{pid}/sites"),
        Some(&json!({"vein": "lateral", "segment": "mid", "label": "LAT mid"})),
    );
    let sid = site["id"].as_i64().unwrap();
    set_sim(a, json!({"rhythm": "biv", "qrsd_ms": 130}), "paced", 130.0);
    let (_, m) = http(
        a,
        "POST",
        &format!("/api/v1/procedures/{pid}/sites/{sid}/measurements"),
        None,
    );
    let first = wait_final(a, m["id"].as_i64().unwrap());
    let completed = [base, first];
    for m in &completed {
        assert_ne!(m["status"], "collecting");
    }

    // Re-measure the site, and kill -9 while it collects (after some beats were saved).
    let (st, m) = http(
        a,
        "POST",
        &format!("/api/v1/procedures/{pid}/sites/{sid}/measurements"),
        None,
    );
    assert_eq!(st, 202, "{m}");
    let collecting = m["id"].as_i64().unwrap();
    let t0 = Instant::now();
    loop {
        let (_, m) = http(
            a,
            "GET",
            &format!("/api/v1/measurements/{collecting}"),
            None,
        );
        assert_eq!(
            m["status"], "collecting",
            "still collecting when killed: {m}"
        );
        if m["beats_seen"].as_u64().unwrap_or(0) >= 3 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(20));
    }
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();

    // Restart on the same data.
    let mut s2 = serve(&data);
    let a = s2.addr;
    for m in &completed {
        let id = m["id"].as_i64().unwrap();
        let (st, again) = http(a, "GET", &format!("/api/v1/measurements/{id}"), None);
        assert_eq!(st, 200);
        for k in [
            "status",
            "qrsd_ms",
            "leads",
            "beats_used",
            "beats",
            "median_beat",
            "stim_to_end_ms",
        ] {
            assert_eq!(
                again[k], m[k],
                "measurement {id}: {k} changed across kill -9"
            );
        }
    }
    let (_, m) = http(
        a,
        "GET",
        &format!("/api/v1/measurements/{collecting}"),
        None,
    );
    assert_eq!(m["interrupted"], true, "{m}");
    assert_eq!(m["status"], "incomplete");
    assert!(m["qrsd_ms"].is_null());
    assert!(
        !m["beats"].as_array().unwrap().is_empty(),
        "the beats saved before the kill are kept"
    );
    let (_, rep) = http(a, "GET", &format!("/api/v1/procedures/{pid}/report"), None);
    let actions: Vec<&str> = rep["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"measurement_interrupted"), "{actions:?}");

    // The procedure continues: a new measurement at the same site completes.
    set_sim(a, json!({"rhythm": "biv", "qrsd_ms": 130}), "paced", 130.0);
    let (st, m) = http(
        a,
        "POST",
        &format!("/api/v1/procedures/{pid}/sites/{sid}/measurements"),
        None,
    );
    assert_eq!(st, 202, "{m}");
    let m = wait_final(a, m["id"].as_i64().unwrap());
    assert_eq!(m["status"], "complete", "{m}");

    // The recording of the killed session is there.
    let hea = std::fs::read_dir(data.join("recordings"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "hea"))
        .count();
    assert!(hea >= 2, "one recording per session");
    let _ = s2.child.kill();
    let _ = s2.child.wait();
    let _ = std::fs::remove_dir_all(&data);
}
