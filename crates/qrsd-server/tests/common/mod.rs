//! Shared helpers of the server's integration tests: a real server on loopback port 0 with the
//! simulator, an HTTP client, and a WebSocket client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use futures_util::StreamExt;
use qrsd_server::{Config, Running};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A fresh data folder under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let p = std::env::temp_dir().join(format!("qrsd-test-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// Test configuration: loopback, port 0, simulator at `speed`× real time.
pub fn config(tag: &str, speed: f64) -> Config {
    let mut c = Config::default();
    c.server.port = 0;
    c.source.sim.speed = speed;
    c.storage.data_dir = temp_dir(tag);
    c.storage.record = false;
    c
}

pub struct TestServer {
    pub running: Running,
    pub base: String,
    pub http: reqwest::Client,
}

impl TestServer {
    pub async fn start(cfg: Config) -> Self {
        let running = qrsd_server::start(cfg).await.expect("server starts");
        let base = format!("http://{}", running.addr);
        Self {
            running,
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
        }
    }

    /// Wait until the source reports `streaming`: the server listens before the source's first
    /// frame, and a measurement started before it is refused (409 `source_not_streaming`).
    pub async fn wait_streaming(&self) {
        for _ in 0..400 {
            let (_, s) = self.get("/api/v1/source").await;
            if s["state"] == "streaming" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the source did not start streaming within 20 s");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.running.addr, path)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        let s = r.status().as_u16();
        let t = r.text().await.unwrap();
        (s, serde_json::from_str(&t).unwrap_or(Value::String(t)))
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self.http.request(m, self.url(path));
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let r = rb.send().await.unwrap();
        let s = r.status().as_u16();
        let t = r.text().await.unwrap();
        (s, serde_json::from_str(&t).unwrap_or(Value::String(t)))
    }

    /// Raw body with a content type.
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = self
            .http
            .request(m, self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        let t = r.text().await.unwrap();
        (s, serde_json::from_str(&t).unwrap_or(Value::String(t)))
    }

    /// A text (not JSON) response: the page, the printable report, `/metrics`.
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Change the simulator settings and return the new state.
    pub async fn put_sim(&self, body: &Value) -> Value {
        let (st, b) = self.send("PUT", "/api/v1/source/sim", Some(body)).await;
        assert_eq!(st, 200, "{b}");
        b
    }

    /// Change the simulator, then wait for two new beats of `class` (and `qrsd_ms`, if given): the
    /// settings apply from the next beat, and the operator too waits for stable pacing to measure.
    pub async fn set_sim(&self, body: &Value, class: &str, qrsd_ms: Option<f64>) {
        self.put_sim(body).await;
        let (_, t) = self.get("/api/v1/sim/truth").await;
        let since = t["beats"]
            .as_array()
            .unwrap()
            .last()
            .map_or(0, |b| b["index"].as_u64().unwrap());
        let path = format!("/api/v1/sim/truth?since={since}");
        let t0 = Instant::now();
        loop {
            let (_, t) = self.get(&path).await;
            let n = t["beats"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|b| {
                    b["class"] == class
                        && qrsd_ms.is_none_or(|q| (b["qrsd_ms"].as_f64().unwrap() - q).abs() < 1.5)
                })
                .count();
            if n >= 2 {
                return;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "sim never changed: no new {class} beats"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The simulator's truth once it holds every beat measurement `m` used: a beat's truth is
    /// published when its T wave is generated, which can be after the measurement that used it
    /// completed (R + 250 ms).
    pub async fn sim_truth_for(&self, m: &Value) -> Value {
        let used_r: Vec<i64> = used_beats(m)
            .map(|b| b["r_sample"].as_i64().unwrap())
            .collect();
        let mut t = Value::Null;
        for _ in 0..40 {
            t = self.get("/api/v1/sim/truth").await.1;
            let last_truth_r = t["beats"]
                .as_array()
                .and_then(|b| b.last())
                .and_then(|b| b["r_sample"].as_i64())
                .unwrap_or(i64::MIN);
            if used_r.iter().all(|&r| r <= last_truth_r) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        t
    }

    /// Open a procedure and return its id.
    pub async fn create_procedure(&self, case_id: &str) -> i64 {
        let body = json!({"case_id": case_id});
        let (st, p) = self.send("POST", "/api/v1/procedures", Some(&body)).await;
        assert_eq!(st, 201, "{p}");
        p["id"].as_i64().unwrap()
    }

    /// Add a site (`{"vein", "segment", "label"}`) to procedure `pid` and return its id.
    pub async fn add_site(&self, pid: i64, site: &Value) -> i64 {
        let path = format!("/api/v1/procedures/{pid}/sites");
        let (st, r) = self.send("POST", &path, Some(site)).await;
        assert_eq!(st, 201, "{r}");
        r["id"].as_i64().unwrap()
    }

    /// Start the baseline measurement of procedure `pid` and return the measurement's id.
    pub async fn start_baseline(&self, pid: i64, body: Option<&Value>) -> i64 {
        self.start_measurement(&format!("/api/v1/procedures/{pid}/baseline"), body)
            .await
    }

    /// Start a measurement at site `sid` and return the measurement's id.
    pub async fn start_site_measurement(&self, pid: i64, sid: i64, body: Option<&Value>) -> i64 {
        let path = format!("/api/v1/procedures/{pid}/sites/{sid}/measurements");
        self.start_measurement(&path, body).await
    }

    async fn start_measurement(&self, path: &str, body: Option<&Value>) -> i64 {
        let (st, r) = self.send("POST", path, body).await;
        assert_eq!(st, 202, "{r}");
        r["id"].as_i64().unwrap()
    }

    /// Poll measurement `id` until it is no longer collecting (at most 90 s) and return it.
    pub async fn wait_final(&self, id: i64) -> Value {
        let t0 = Instant::now();
        loop {
            let (st, m) = self.get(&format!("/api/v1/measurements/{id}")).await;
            assert_eq!(st, 200, "{m}");
            if m["status"] != "collecting" {
                return m;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(90),
                "measurement {id} still collecting: {m}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Open a procedure for `case_id`, add one site labelled `label`, start a measurement at it,
    /// and return the finished measurement ([`TestServer::wait_final`]).
    pub async fn measure_one_site(&self, case_id: &str, label: &str) -> Value {
        let pid = self.create_procedure(case_id).await;
        let site = json!({"vein": "lateral", "segment": "mid", "label": label});
        let sid = self.add_site(pid, &site).await;
        let mid = self.start_site_measurement(pid, sid, None).await;
        self.wait_final(mid).await
    }

    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}

/// The beats measurement `m` used.
pub fn used_beats(m: &Value) -> impl Iterator<Item = &Value> {
    m["beats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["used"] == true)
}

/// Assert the body is the JSON error shape.
pub fn assert_error(status: u16, body: &Value, expect_status: u16) {
    assert_eq!(status, expect_status, "status; body {body}");
    let e = &body["error"];
    assert!(
        e["code"].is_string() && e["message"].is_string(),
        "error body shape: {body}"
    );
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn ws_connect(url: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("ws connects");
    ws
}

/// Next JSON text message (None on close/timeout).
pub async fn ws_next(ws: &mut Ws, timeout: Duration) -> Option<Value> {
    loop {
        let m = tokio::time::timeout(timeout, ws.next()).await.ok()??.ok()?;
        match m {
            tokio_tungstenite::tungstenite::Message::Text(t) => {
                return serde_json::from_str(t.as_str()).ok()
            }
            tokio_tungstenite::tungstenite::Message::Close(_) => return None,
            _ => continue,
        }
    }
}

/// Read the stream until measurement `id`'s `finished` event and return it; `seen` is shown every
/// message on the way.
pub async fn ws_until_finished(ws: &mut Ws, id: i64, mut seen: impl FnMut(&Value)) -> Value {
    loop {
        let m = ws_next(ws, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("the stream ended before measurement {id} finished"));
        seen(&m);
        if m["type"] == "measurement" && m["event"] == "finished" && m["id"] == id {
            return m;
        }
    }
}
