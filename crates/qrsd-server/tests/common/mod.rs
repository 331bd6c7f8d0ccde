//! Shared helpers of the server's integration tests: a real server on loopback port 0 with the
//! simulator, an HTTP client, and a WebSocket client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use futures_util::StreamExt;
use qrsd_server::{Config, Running};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

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

    /// Poll measurement `id` until it is no longer collecting (at most 90 s) and return it.
    pub async fn wait_final(&self, id: i64) -> Value {
        let t0 = std::time::Instant::now();
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
        let body = serde_json::json!({"case_id": case_id});
        let (st, p) = self.send("POST", "/api/v1/procedures", Some(&body)).await;
        assert_eq!(st, 201, "{p}");
        let pid = p["id"].as_i64().unwrap();
        let site = serde_json::json!({"vein": "lateral", "segment": "mid", "label": label});
        let (st, r) = self
            .send(
                "POST",
                &format!("/api/v1/procedures/{pid}/sites"),
                Some(&site),
            )
            .await;
        assert_eq!(st, 201, "{r}");
        let sid = r["id"].as_i64().unwrap();
        let (st, r) = self
            .send(
                "POST",
                &format!("/api/v1/procedures/{pid}/sites/{sid}/measurements"),
                None,
            )
            .await;
        assert_eq!(st, 202, "{r}");
        self.wait_final(r["id"].as_i64().unwrap()).await
    }

    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
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
