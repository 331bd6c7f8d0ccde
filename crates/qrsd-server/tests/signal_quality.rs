//! Per-lead signal quality end to end: one simulated lead made noisy, then taken off; its label
//! arrives over the WebSocket and `GET /api/v1/source`, a measurement names why it rejected beats,
//! and the report shows it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Signal runs this many times real time (labels and timeouts are in signal time).
const SPEED: f64 = 4.0;

/// The label of `lead` in a `lead_quality` array.
fn label<'a>(leads: &'a Value, lead: &str) -> Option<&'a str> {
    leads
        .as_array()?
        .iter()
        .find(|q| q["lead"] == lead)
        .and_then(|q| q["quality"].as_str())
}

/// Reads the stream until `pred` holds for a message (at most `wall` of wall time).
async fn until(ws: &mut Ws, wall: Duration, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let t0 = Instant::now();
    while t0.elapsed() < wall {
        let Some(m) = ws_next(ws, Duration::from_secs(5)).await else {
            break;
        };
        if pred(&m) {
            return m;
        }
    }
    panic!("no message {what} within {wall:?}");
}

fn is_quality(m: &Value) -> bool {
    m["type"] == "source" && m["event"] == "quality"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noisy_or_detached_lead_is_labelled_and_the_measurement_says_why() {
    let s = TestServer::start(config("signal-quality", SPEED)).await;
    s.wait_streaming().await;
    let mut ws = ws_connect(&s.ws_url("/api/v1/stream")).await;
    let hello = ws_next(&mut ws, Duration::from_secs(5)).await.unwrap();
    let leads0 = &hello["source"]["lead_quality"];
    assert_eq!(leads0.as_array().map(Vec::len), Some(12), "{hello}");

    // Per-lead noise is validated before anything changes.
    for bad in [json!({"V9": 100.0}), json!({"V1": -1.0})] {
        let (st, b) = s
            .send(
                "PUT",
                "/api/v1/source/sim",
                Some(&json!({"noise": {"emg_lead_uv_rms": bad}})),
            )
            .await;
        assert_error(st, &b, 422);
    }
    let (_, sim) = s.get("/api/v1/source/sim").await;
    assert_eq!(sim["config"]["noise"]["emg_lead_uv_rms"]["V1"], 0.0);

    // The quality stage learns each lead's QRS over its first seconds: start from settled labels.
    let t0 = Instant::now();
    loop {
        let (_, src) = s.get("/api/v1/source").await;
        if src["next_sample"].as_f64().unwrap() >= 8.0 * src["fs_hz"].as_f64().unwrap() {
            assert_eq!(label(&src["lead_quality"], "V1"), Some("clean"), "{src}");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // V1 swamped by muscle noise: its label (and only its) turns noisy or unreadable.
    let sim = s
        .put_sim(&json!({"noise": {"emg_lead_uv_rms": {"V1": 400.0}}}))
        .await;
    assert_eq!(sim["config"]["noise"]["emg_lead_uv_rms"]["V1"], 400.0);
    assert_eq!(sim["config"]["noise"]["emg_lead_uv_rms"]["V2"], 0.0);
    let noisy = |q: Option<&str>| matches!(q, Some("noisy" | "unreadable"));
    let m = until(&mut ws, Duration::from_secs(20), "V1 noisy", |m| {
        is_quality(m) && noisy(label(&m["leads"], "V1"))
    })
    .await;
    assert!(
        m["changed"].as_array().unwrap().iter().any(|l| l == "V1"),
        "{m}"
    );
    for other in ["I", "II", "V2", "V3", "V4", "V5", "V6"] {
        assert!(!noisy(label(&m["leads"], other)), "{other} in {m}");
    }
    // Beats name the lead too, and the REST state agrees, with how long it has been so.
    let b = until(&mut ws, Duration::from_secs(10), "a beat naming V1", |m| {
        m["type"] == "beat" && noisy(m["lead_quality"]["V1"].as_str())
    })
    .await;
    assert_eq!(
        b["quality"], "clean",
        "the other leads keep the beat clean: {b}"
    );
    let (_, src) = s.get("/api/v1/source").await;
    let v1 = src["lead_quality"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["lead"] == "V1")
        .unwrap();
    assert!(noisy(v1["quality"].as_str()), "{src}");
    let since = v1["since_sample"].as_u64().unwrap();
    let next = src["next_sample"].as_u64().unwrap();
    assert!(since > 0 && since <= next, "since {since}, next {next}");
    let for_s = v1["for_s"].as_f64().unwrap();
    let want = (next - since) as f64 / src["fs_hz"].as_f64().unwrap();
    assert!((for_s - want).abs() <= 0.06, "for_s {for_s}, want {want}");

    // Noise taken away: V1 clean again.
    s.put_sim(&json!({"noise": {"emg_lead_uv_rms": {"V1": 0.0}}}))
        .await;
    until(&mut ws, Duration::from_secs(20), "V1 clean again", |m| {
        is_quality(m) && label(&m["leads"], "V1") == Some("clean")
    })
    .await;

    // V1 electrode off: a baseline measurement rejects every beat and says why.
    s.put_sim(&json!({"lead_off": ["V1"]})).await;
    let pid = s.create_procedure("SQ-1").await;
    let mid = s.start_baseline(pid, Some(&json!({"timeout_s": 8}))).await;
    // The flat V1 is labelled lead_off by the quality stage too (2 s of flat signal).
    let mut lead_off_label = false;
    let mut progress_cause = None;
    let finished = ws_until_finished(&mut ws, mid, |m| {
        if is_quality(m) && label(&m["leads"], "V1") == Some("lead_off") {
            lead_off_label = true;
        }
        if m["type"] == "measurement" && m["event"] == "progress" && m["id"] == mid {
            progress_cause = Some(m["last_beat"].clone());
        }
    })
    .await;
    assert!(lead_off_label, "V1 labelled lead_off while flat");
    let last = progress_cause.expect("progress messages");
    assert_eq!(last["reason"], "lead_off", "{last}");
    assert_eq!(last["cause"], "electrode_off", "{last}");
    assert_eq!(last["cause_leads"], json!(["V1"]), "{last}");
    assert_eq!(finished["status"], "incomplete", "{finished}");
    assert_eq!(
        finished["quality_reasons"][0]["cause"], "electrode_off",
        "{finished}"
    );

    let m = s.wait_final(mid).await;
    let rejected = m["beats_rejected"]["by_reason"]["lead_off"]
        .as_u64()
        .unwrap();
    assert!(rejected >= 5, "8 s of beats rejected: {rejected}");
    assert_eq!(
        m["beats_rejected"]["by_cause"]["electrode_off"].as_u64(),
        Some(rejected)
    );
    let q = &m["quality_reasons"][0];
    assert_eq!(q["reason"], "lead_off");
    assert_eq!(q["leads"]["V1"].as_u64(), Some(rejected), "{q}");
    let text = q["text"].as_str().unwrap();
    assert!(text.starts_with("V1 electrode off"), "{text}");
    assert!(
        m["reason"].as_str().unwrap().contains("V1 electrode off"),
        "{m}"
    );
    assert_eq!(m["flags"]["lead_off"], true);
    let beat = &m["beats"][0];
    assert_eq!(beat["lead_quality"]["V1"], "lead_off", "{beat}");

    // The printable report lists it where it lists the flags.
    let (_, html) = s
        .get_text(&format!("/api/v1/procedures/{pid}/report.html"))
        .await;
    assert!(html.contains(text), "report names the cause: {text}");

    // Electrode back on: the label clears.
    s.put_sim(&json!({"lead_off": []})).await;
    until(&mut ws, Duration::from_secs(20), "V1 on again", |m| {
        is_quality(m) && label(&m["leads"], "V1") == Some("clean")
    })
    .await;
    s.shutdown().await;
}
