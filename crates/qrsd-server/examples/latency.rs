//! Service latency: from a beat's QRS offset in the signal to its `beat` message reaching a WebSocket
//! client, with the simulator in real time (1×, 1000 Hz, 12 leads: 8 acquired + 4 derived).
//!
//! The offset's wall time is the sample time of the offset mapped to the wall clock through the
//! receive time of the chunk that carried it (`t_offset_wall_ms` in the message); the client takes
//! its own clock when the message arrives. Both clocks are this machine's.
//!
//! ```sh
//! cargo run --release -p qrsd-server --example latency -- --seconds 180 [--rhythm biv|intrinsic]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::StreamExt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let seconds: f64 = arg("--seconds")
        .map(|s| s.parse().unwrap())
        .unwrap_or(180.0);
    let rhythm = arg("--rhythm").unwrap_or_else(|| "biv".into());
    let mut cfg = qrsd_server::Config::default();
    cfg.server.port = 0;
    cfg.source.sim.speed = 1.0;
    cfg.source.sim.rhythm = rhythm.clone();
    cfg.source.sim.qrsd_ms = 140.0;
    let dir = std::env::temp_dir().join(format!("qrsd-latency-{}", std::process::id()));
    cfg.storage.data_dir = dir.clone();
    cfg.storage.record = true;
    let running = qrsd_server::start(cfg).await.expect("server starts");
    let url = format!("ws://{}/api/v1/stream", running.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    eprintln!("measuring for {seconds} s ({rhythm}, 1000 Hz, 1x real time)...");
    let t0 = Instant::now();
    let (mut client, mut publish) = (Vec::new(), Vec::new());
    let mut offset_to_emit_margin = Vec::new();
    let mut warmup_skipped = 0;
    while t0.elapsed() < Duration::from_secs_f64(seconds) {
        let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await else {
            panic!("stream stopped");
        };
        let tokio_tungstenite::tungstenite::Message::Text(t) = m else {
            continue;
        };
        let arrived = now_ms();
        let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
        if v["type"] != "beat" {
            continue;
        }
        // Beats held back while the detector learns (first 2 s) are not live beats.
        if t0.elapsed() < Duration::from_secs(4) {
            warmup_skipped += 1;
            continue;
        }
        if let Some(off) = v["t_offset_wall_ms"].as_f64() {
            client.push(arrived - off);
            if let Some(p) = v["latency_ms"].as_f64() {
                publish.push(p);
            }
            if let (Some(r), Some(o)) = (v["r_sample"].as_f64(), v["offset_sample"].as_f64()) {
                offset_to_emit_margin.push(o - r);
            }
        }
    }
    for v in [&mut client, &mut publish, &mut offset_to_emit_margin] {
        v.sort_by(f64::total_cmp);
    }
    println!(
        "beats: {} (after {} warm-up beats), {:.0} s of real-time simulation",
        client.len(),
        warmup_skipped,
        seconds
    );
    println!(
        "QRS offset -> beat message at a WebSocket client: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        pct(&client, 0.5),
        pct(&client, 0.99),
        client.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "QRS offset -> beat message published (server side): p50 {:.0} ms, p99 {:.0} ms",
        pct(&publish, 0.5),
        pct(&publish, 0.99)
    );
    let d = qrsd_pipeline::PipelineConfig::new(1000.0, Vec::new()).delineation;
    println!(
        "R -> QRS offset in these beats: median {:.0} ms (a beat is delineated {} ms after R when that \
         window decides it, else {} ms after R)",
        pct(&offset_to_emit_margin, 0.5),
        d.early_post_ms,
        d.post_ms
    );
    running.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
