//! WebSocket load client for `qrsd serve`: N reading clients and optionally stalled ones on
//! `/api/v1/stream`, for a given time; prints per-client `beat` latency (client receive wall time −
//! the beat's `t_offset_wall_ms`, the wall time at which the server's source received the QRS offset
//! sample), sequence continuity, and the acquisition counters before/after.
//!
//! ```sh
//! ws-load --addr 127.0.0.1:7474 --clients 10 --stalled 1 --seconds 30 [--json]
//! ```
//! A stalled client connects with a 4 KiB receive buffer, completes the handshake and never reads. The
//! scripts scripts/bench/ws_fanout.sh and scripts/bench/e2e_latency.sh drive it.

use futures_util::StreamExt;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::Message;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// GET a JSON document (plain HTTP/1.1, one connection).
fn get_json(addr: SocketAddr, path: &str) -> Value {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return Value::Null;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let body = raw.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    serde_json::from_str(body).unwrap_or(Value::Null)
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn get_metrics(addr: SocketAddr) -> String {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    raw
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

#[derive(Default, Debug)]
struct ClientStats {
    latencies_ms: Vec<f64>,
    server_latencies_ms: Vec<f64>,
    messages: u64,
    seq_holes: u64,
    gap_messages: u64,
    closed_early: bool,
}

async fn reader(url: String, until: Instant) -> ClientStats {
    let mut st = ClientStats::default();
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(&url).await else {
        st.closed_early = true;
        return st;
    };
    let mut last_seq: Option<u64> = None;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let m = match tokio::time::timeout(left, ws.next()).await {
            Err(_) => break,
            Ok(None) | Ok(Some(Err(_))) => {
                st.closed_early = true;
                break;
            }
            Ok(Some(Ok(m))) => m,
        };
        let Message::Text(t) = m else { continue };
        let recv = now_ms();
        let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else {
            continue;
        };
        st.messages += 1;
        let ty = v["type"].as_str().unwrap_or("");
        if ty == "gap" {
            st.gap_messages += 1;
            last_seq = v["seq"]
                .as_u64()
                .map(|s| s + v["missed"].as_u64().unwrap_or(0) - 1);
            continue;
        }
        if let Some(seq) = v["seq"].as_u64() {
            if let Some(l) = last_seq {
                if seq > l + 1 {
                    st.seq_holes += seq - l - 1;
                }
            }
            last_seq = Some(seq);
        }
        if ty == "beat" {
            if let Some(t_off) = v["t_offset_wall_ms"].as_f64() {
                st.latencies_ms.push(recv - t_off);
            }
            if let Some(l) = v["latency_ms"].as_f64() {
                st.server_latencies_ms.push(l);
            }
        }
    }
    let _ = ws.close(None).await;
    st
}

/// A client that completes the handshake and then never reads; returns the socket to keep it open.
async fn stalled(
    addr: SocketAddr,
) -> Option<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>> {
    let sock = tokio::net::TcpSocket::new_v4().ok()?;
    let _ = sock.set_recv_buffer_size(4096);
    let tcp = sock.connect(addr).await.ok()?;
    let url = format!("ws://{addr}/api/v1/stream");
    let (ws, _) = tokio_tungstenite::client_async(url, tcp).await.ok()?;
    Some(ws)
}

/// Whether the server closed the stalled client's connection (reads until EOF/error or timeout).
async fn was_dropped(mut ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) -> bool {
    use tokio::io::AsyncReadExt;
    let tcp = ws.get_mut();
    let mut buf = vec![0u8; 1 << 16];
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let addr: SocketAddr = arg(&args, "--addr", "127.0.0.1:7474".to_string()).parse()?;
    let clients: usize = arg(&args, "--clients", 1);
    let n_stalled: usize = arg(&args, "--stalled", 0);
    let seconds: f64 = arg(&args, "--seconds", 20.0);
    let as_json = args.iter().any(|a| a == "--json");

    let src0 = get_json(addr, "/api/v1/source");
    let m0 = get_metrics(addr);
    let t0 = Instant::now();
    let mut stalled_socks = Vec::new();
    for _ in 0..n_stalled {
        if let Some(s) = stalled(addr).await {
            stalled_socks.push(s);
        }
    }
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let url = format!("ws://{addr}/api/v1/stream");
    let tasks: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(reader(url.clone(), until)))
        .collect();
    let mut stats = Vec::new();
    for t in tasks {
        stats.push(t.await?);
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let src1 = get_json(addr, "/api/v1/source");
    let m1 = get_metrics(addr);
    let mut dropped = Vec::new();
    for s in stalled_socks {
        dropped.push(was_dropped(s).await);
    }

    let mut all: Vec<f64> = stats.iter().flat_map(|s| s.latencies_ms.clone()).collect();
    all.sort_by(f64::total_cmp);
    let mut server: Vec<f64> = stats
        .iter()
        .flat_map(|s| s.server_latencies_ms.clone())
        .collect();
    server.sort_by(f64::total_cmp);
    let per_client: Vec<Value> = stats
        .iter()
        .map(|s| {
            let mut l = s.latencies_ms.clone();
            l.sort_by(f64::total_cmp);
            json!({"beats": l.len(), "p50_ms": pct(&l, 0.5), "p99_ms": pct(&l, 0.99),
                   "max_ms": l.last().copied(), "messages": s.messages, "seq_holes": s.seq_holes,
                   "gaps": s.gap_messages, "closed_early": s.closed_early})
        })
        .collect();
    let fs = src1["fs_hz"].as_f64().unwrap_or(f64::NAN);
    let frames = src1["frames"].as_f64().unwrap_or(0.0) - src0["frames"].as_f64().unwrap_or(0.0);
    let d = |k: &str| src1[k].as_f64().unwrap_or(0.0) - src0[k].as_f64().unwrap_or(0.0);
    let dm = |k: &str| metric(&m1, k) - metric(&m0, k);
    let worst_p99 = per_client
        .iter()
        .filter_map(|c| c["p99_ms"].as_f64())
        .fold(f64::NAN, f64::max);
    let out = json!({
        "clients": clients, "stalled": n_stalled, "seconds": elapsed,
        "beats": all.len(),
        "latency_p50_ms": pct(&all, 0.5), "latency_p99_ms": pct(&all, 0.99),
        "latency_max_ms": all.last().copied(), "worst_client_p99_ms": worst_p99,
        "server_latency_p50_ms": pct(&server, 0.5), "server_latency_p99_ms": pct(&server, 0.99),
        "readers_seq_holes": stats.iter().map(|s| s.seq_holes).sum::<u64>(),
        "readers_gap_messages": stats.iter().map(|s| s.gap_messages).sum::<u64>(),
        "readers_closed_early": stats.iter().filter(|s| s.closed_early).count(),
        "frames": frames, "expected_frames_at_fs": elapsed * fs,
        "missing_frames": d("missing_frames"), "overrun_frames": d("overrun_frames"),
        "source_gaps": d("gaps"),
        "ws_dropped_clients": dm("qrsd_ws_dropped_clients_total"),
        "ws_gap_messages": dm("qrsd_ws_gaps_total"),
        "stalled_dropped": dropped,
        "per_client": per_client,
    });
    if as_json {
        println!("{out}");
    } else {
        println!(
            "{clients} readers + {n_stalled} stalled, {elapsed:.1} s: {} beats received; latency p50 {:.1} ms, \
             p99 {:.1} ms, max {:.1} ms (worst client p99 {:.1} ms); server-side p50 {:.1} ms; \
             reader seq holes {}, gap messages {}; frames {frames:.0} (≈ {:.0} at fs × wall), missing {}, \
             overrun {}; stalled dropped: {:?} (server: {} dropped, {} gap messages)",
            all.len(),
            pct(&all, 0.5),
            pct(&all, 0.99),
            all.last().copied().unwrap_or(f64::NAN),
            worst_p99,
            pct(&server, 0.5),
            out["readers_seq_holes"],
            out["readers_gap_messages"],
            elapsed * fs,
            d("missing_frames"),
            d("overrun_frames"),
            dropped,
            dm("qrsd_ws_dropped_clients_total"),
            dm("qrsd_ws_gaps_total"),
        );
    }
    Ok(())
}
