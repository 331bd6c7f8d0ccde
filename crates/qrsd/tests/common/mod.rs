//! Helpers shared by the tests that run a real `qrsd serve` process: a minimal HTTP/1.1 client, the
//! server process (killed on drop), temporary data folders, simulator control and measurement polling.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test binary uses a subset

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
/// One raw request on its own connection: returns the status (None when the server closed the
/// connection without an answer) and the body.
pub fn raw_request(addr: SocketAddr, req: &[u8]) -> Result<(Option<u16>, String), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(15))).unwrap();
    // The server may answer (413) and close before taking a whole oversize body: a failed write is
    // fine as long as an answer can be read.
    let _ = s.write_all(req);
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !raw.is_empty() => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
            return Ok((None, String::new()))
        }
        Err(e) => return Err(format!("read: {e} (hang?)")),
    }
    let text = String::from_utf8_lossy(&raw).to_string();
    if text.is_empty() {
        return Ok((None, text));
    }
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not HTTP: {head:?}"))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((Some(status), body))
}

pub fn request(method: &str, path: &str, ct: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(ct) = ct {
        r.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    r.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut v = r.into_bytes();
    v.extend_from_slice(body);
    v
}

pub fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let b = body.map(|b| b.to_string()).unwrap_or_default();
    let ct = body.is_some().then_some("application/json");
    let (st, text) = raw_request(addr, &request(method, path, ct, b.as_bytes())).unwrap();
    let st = st.unwrap_or_else(|| panic!("{method} {path}: no answer"));
    (
        st,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest.get(n + 2..).unwrap_or("");
    }
    out
}

pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(data: &Path, speed: f64) -> Serve {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qrsd"));
    cmd.args([
        "serve",
        "--port",
        "0",
        "--sim-speed",
        &speed.to_string(),
        "--data",
    ])
    .arg(data);
    let (child, addr) = spawn_serve(cmd);
    let s = Serve { child, addr };
    wait_streaming(addr);
    s
}

/// Wait until the source streams, as a client must: the server listens before the simulated amplifier
/// has sent its first frame, and a measurement started then is refused (409 `source_not_streaming`).
pub fn wait_streaming(addr: SocketAddr) {
    let t0 = Instant::now();
    loop {
        let (st, v) = http(addr, "GET", "/api/v1/source", None);
        if st == 200 && v["state"] == "streaming" && v["fs_hz"].is_number() {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "source never streamed: {v}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Start a `qrsd serve` command (its arguments already set) and read the address it listens on from
/// its first stdout line.
pub fn spawn_serve(mut cmd: Command) -> (Child, SocketAddr) {
    let mut child = cmd
        .env("RUST_LOG", "error")
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
    (child, addr)
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let p = std::env::temp_dir().join(format!("qrsd-test-{tag}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// Change the simulator and wait until two beats of the new `class` and `qrsd` (± 1.5 ms) were generated.
pub fn set_sim(addr: SocketAddr, body: Value, class: &str, qrsd: f64) {
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

pub fn wait_final(addr: SocketAddr, id: i64) -> Value {
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
