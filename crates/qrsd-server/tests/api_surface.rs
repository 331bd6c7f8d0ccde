//! The HTTP surface without the procedure workflow: errors, limits, auth, metrics, the simulator
//! routes and the WebSocket hub (numbering, beats, a stalled client).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_openapi_and_json_errors() {
    let s = TestServer::start(config("surface", 1.0)).await;
    let (st, h) = s.get("/healthz").await;
    assert_eq!(st, 200);
    assert_eq!(h["status"], "ok");

    let (st, doc) = s.get("/api/v1/openapi.json").await;
    assert_eq!(st, 200);
    assert_eq!(doc["openapi"], "3.1.0");

    // Unknown route, wrong method: JSON errors.
    let (st, b) = s.get("/api/v1/nope").await;
    assert_error(st, &b, 404);
    let (st, b) = s.get("/nope.html").await;
    assert_error(st, &b, 404);
    let (st, b) = s.send("DELETE", "/api/v1/procedures", None).await;
    assert_error(st, &b, 405);
    let (st, b) = s.send("PUT", "/healthz", None).await;
    assert_error(st, &b, 405);

    // The page.
    let r = s.http.get(s.url("/")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/html"));

    // Simulator: bad JSON, wrong type, unknown field, absurd value, wrong content type, oversize.
    let (st, b) = s
        .send_raw(
            "PUT",
            "/api/v1/source/sim",
            "application/json",
            b"{\"rhythm\":".to_vec(),
        )
        .await;
    assert_error(st, &b, 400);
    let (st, b) = s
        .send("PUT", "/api/v1/source/sim", Some(&json!({"rhythm": "vt"})))
        .await;
    assert_error(st, &b, 422);
    let (st, b) = s
        .send("PUT", "/api/v1/source/sim", Some(&json!({"qrsdms": 120})))
        .await;
    assert_error(st, &b, 422);
    assert!(b["error"]["message"].as_str().unwrap().contains("qrsdms"));
    let before = s.get("/api/v1/source/sim").await.1;
    let (st, b) = s
        .send(
            "PUT",
            "/api/v1/source/sim",
            Some(&json!({"qrsd_ms": 10000})),
        )
        .await;
    assert_error(st, &b, 422);
    let (st, b) = s
        .send(
            "PUT",
            "/api/v1/source/sim",
            Some(&json!({"rhythm": "biv", "qrsd_ms": 120, "lead_off": ["V9"]})),
        )
        .await;
    assert_error(st, &b, 422);
    let after = s.get("/api/v1/source/sim").await.1;
    assert_eq!(
        before["config"], after["config"],
        "invalid PUTs change nothing"
    );
    let (st, b) = s
        .send_raw("PUT", "/api/v1/source/sim", "text/plain", b"{}".to_vec())
        .await;
    assert_error(st, &b, 415);
    let big = format!("{{\"note\": \"{}\"}}", "x".repeat(100_000));
    let r = s
        .http
        .post(s.url("/api/v1/procedures"))
        .header("content-type", "application/json")
        .body(big.into_bytes())
        .send()
        .await
        .unwrap();
    // The unread rest of the body ends the connection: the client is told not to reuse it.
    assert_eq!(
        r.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    let st = r.status().as_u16();
    let b: serde_json::Value = r.json().await.unwrap();
    assert_error(st, &b, 413);

    // A valid change.
    let b = s
        .put_sim(&json!({"rhythm": "biv", "qrsd_ms": 130, "realistic_edges": false}))
        .await;
    assert_eq!(b["config"]["rhythm"], "biv");
    assert_eq!(b["config"]["qrsd_ms"], 130.0);
    assert_eq!(b["config"]["realistic_edges"], false);

    // Metrics are Prometheus text.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, t) = s.get_text("/metrics").await;
    for name in [
        "qrsd_source_frames_total",
        "qrsd_source_crc_errors_total",
        "qrsd_live_frames_total",
        "qrsd_live_gaps_total",
        "qrsd_beats_total",
        "qrsd_ws_clients",
        "qrsd_ws_gaps_total",
        "qrsd_beat_latency_seconds_bucket",
    ] {
        assert!(t.contains(name), "{name} missing from /metrics");
    }
    let (st, src) = s.get("/api/v1/source").await;
    assert_eq!(st, 200);
    assert_eq!(src["kind"], "sim");
    assert!(src["frames"].as_u64().unwrap() > 0, "{src}");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_required_when_set() {
    let mut c = config("token", 1.0);
    c.server.token = Some("test-token-0123456789".into());
    let s = TestServer::start(c).await;
    let (st, b) = s.get("/api/v1/source").await;
    assert_error(st, &b, 401);
    let r = s
        .http
        .get(s.url("/api/v1/source"))
        .bearer_auth("test-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = s
        .http
        .get(s.url("/api/v1/source"))
        .bearer_auth("wrong-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // WebSocket: without the token refused, with ?token= accepted.
    assert!(tokio_tungstenite::connect_async(s.ws_url("/api/v1/stream"))
        .await
        .is_err());
    let mut ws = ws_connect(&s.ws_url("/api/v1/stream?token=test-token-0123456789")).await;
    let hello = ws_next(&mut ws, Duration::from_secs(5)).await.unwrap();
    assert_eq!(hello["type"], "hello");
    // Health stays open.
    assert_eq!(s.get("/healthz").await.0, 200);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_non_loopback_without_token() {
    let mut c = config("bind", 1.0);
    c.server.bind = "0.0.0.0".parse().unwrap();
    assert!(qrsd_server::start(c).await.is_err());
}

/// A client that connects and then never reads, with a tiny receive window so that the server's
/// socket buffer fills in seconds rather than minutes.
async fn stalled_client(addr: std::net::SocketAddr) -> Ws {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let stream = sock.connect(addr).await.unwrap();
    let url = format!("ws://{addr}/api/v1/stream");
    let (ws, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
    ws
}

fn metric(t: &str, name: &str) -> u64 {
    t.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_numbers_messages_and_a_stalled_client_stalls_nothing() {
    let mut c = config("ws", 10.0);
    c.server.ws_buffer_messages = 64;
    c.server.ws_send_timeout_ms = 1000;
    let s = TestServer::start(c).await;
    let stalled = stalled_client(s.running.addr).await;
    let mut ws = ws_connect(&s.ws_url("/api/v1/stream")).await;
    let hello = ws_next(&mut ws, Duration::from_secs(5)).await.unwrap();
    assert_eq!(hello["type"], "hello");
    let metrics = || async { s.get_text("/metrics").await.1 };
    let m0 = metrics().await;
    let f0 = metric(&m0, "qrsd_live_frames_total");
    let mut last_seq = hello["seq"].as_u64().unwrap();
    let (mut beats, mut samples, mut sources, mut own_gaps) = (0, 0, 0, 0);
    let t0 = Instant::now();
    let mut last_check = Instant::now();
    let mut stalled_handled = false;
    while t0.elapsed() < Duration::from_secs(60) {
        let Some(m) = ws_next(&mut ws, Duration::from_secs(5)).await else {
            panic!("the reading client's stream stopped")
        };
        let seq = m["seq"].as_u64().unwrap();
        if m["type"] == "gap" {
            own_gaps += 1;
            last_seq = seq + m["missed"].as_u64().unwrap() - 1;
            continue;
        }
        assert!(seq > last_seq, "seq increases: {seq} after {last_seq}");
        last_seq = seq;
        match m["type"].as_str().unwrap() {
            "beat" => {
                beats += 1;
                assert!(m["qrsd_ms"].as_f64().is_some(), "{m}");
                assert!(m["r_sample"].as_u64().is_some());
                assert!(m["t_offset_wall_ms"].as_f64().is_some());
                assert!(m["leads"]["II"].is_object());
                assert!(m["class"].is_string());
            }
            "samples" => {
                samples += 1;
                assert_eq!(m["leads"].as_array().unwrap().len(), 12);
                assert_eq!(m["fs_hz"], 250.0);
            }
            "source" => sources += 1,
            _ => {}
        }
        if last_check.elapsed() > Duration::from_secs(1) {
            last_check = Instant::now();
            let t = metrics().await;
            if metric(&t, "qrsd_ws_gaps_total") + metric(&t, "qrsd_ws_dropped_clients_total") > 0
                && beats >= 10
            {
                stalled_handled = true;
                break;
            }
        }
    }
    assert!(
        stalled_handled,
        "the stalled client lagged or was dropped within 60 s"
    );
    assert!(beats >= 10, "beats received: {beats}");
    assert!(
        samples > 10 && sources > 0,
        "samples {samples}, source {sources}"
    );
    let f1 = metric(&metrics().await, "qrsd_live_frames_total");
    let secs = t0.elapsed().as_secs_f64();
    // 1000 Hz × 10× real time; allow for a loaded machine, but acquisition must not have stopped.
    assert!(
        (f1 - f0) as f64 > 0.5 * 10_000.0 * secs,
        "acquisition kept its pace with a stalled client: {} frames in {secs:.1} s",
        f1 - f0
    );
    assert_eq!(
        metric(&metrics().await, "qrsd_source_overrun_frames_total"),
        0,
        "no frame lost between acquisition and the live thread"
    );
    eprintln!("reading client: {beats} beats, {samples} samples, {own_gaps} gaps in {secs:.1} s");
    drop(stalled);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_ends_a_measurement_and_it_is_committed() {
    let s = TestServer::start(config("stop", 4.0)).await;
    let pid = s.create_procedure("STOP-1").await;
    // Wait for the source to stream.
    let t0 = Instant::now();
    while s.get("/api/v1/source").await.1["fs_hz"].is_null() {
        assert!(t0.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mid = s
        .start_baseline(pid, Some(&json!({"beats": 50, "timeout_s": 120})))
        .await;
    let (st, m) = s.get(&format!("/api/v1/measurements/{mid}")).await;
    assert_eq!(st, 200);
    assert_eq!(m["status"], "collecting");
    assert_eq!(m["beats_required"], 50);
    // A site measurement cannot start meanwhile.
    let sid = s
        .add_site(pid, &json!({"vein": "lateral", "segment": "mid"}))
        .await;
    let (st, e) = s
        .send(
            "POST",
            &format!("/api/v1/procedures/{pid}/sites/{sid}/measurements"),
            None,
        )
        .await;
    assert_error(st, &e, 409);
    assert_eq!(e["error"]["code"], "measurement_in_progress");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (st, m) = s
        .send("POST", &format!("/api/v1/measurements/{mid}/stop"), None)
        .await;
    assert_eq!(st, 200, "{m}");
    assert_ne!(m["status"], "collecting", "{m}");
    assert_eq!(m["reason_code"], "stopped");
    let (st, e) = s
        .send("POST", &format!("/api/v1/measurements/{mid}/stop"), None)
        .await;
    assert_error(st, &e, 409);
    // Now the site can be measured.
    s.start_site_measurement(pid, sid, None).await;
    s.shutdown().await;
}
