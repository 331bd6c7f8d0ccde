//! An electrode off during a procedure, end to end with the simulator: with V3 off a site is still
//! measured, over the other 11 leads, and the measurement, the WebSocket, the recommendation and
//! the printable report say so; with V1 off (a reported lead) no beat is measured.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Simulator speed (× real time).
const SPEED: f64 = 8.0;
/// Paced QRSd of the simulated sites, ms.
const PACED_MS: f64 = 140.0;

async fn sim(s: &TestServer, body: Value) {
    let (st, b) = s.send("PUT", "/api/v1/source/sim", Some(&body)).await;
    assert_eq!(st, 200, "{b}");
}

/// Waits for `n` more simulated beats of `class` (settings changed apply from the next beat).
async fn beats_of(s: &TestServer, class: &str, n: usize) {
    let (_, t) = s.get("/api/v1/sim/truth").await;
    let since = t["beats"]
        .as_array()
        .unwrap()
        .last()
        .map_or(0, |b| b["index"].as_u64().unwrap());
    let t0 = Instant::now();
    loop {
        let (_, t) = s.get(&format!("/api/v1/sim/truth?since={since}")).await;
        let k = t["beats"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["class"] == class)
            .count();
        if k >= n {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "no {class} beats");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts a measurement at `path` and returns its id.
async fn start(s: &TestServer, path: &str, body: Option<Value>) -> i64 {
    let (st, r) = s.send("POST", path, body.as_ref()).await;
    assert_eq!(st, 202, "{r}");
    r["id"].as_i64().unwrap()
}

async fn add_site(s: &TestServer, pid: i64, label: &str) -> i64 {
    let (st, r) = s
        .send(
            "POST",
            &format!("/api/v1/procedures/{pid}/sites"),
            Some(&json!({"vein": "lateral", "segment": "mid", "label": label})),
        )
        .await;
    assert_eq!(st, 201, "{r}");
    r["id"].as_i64().unwrap()
}

/// Median truth QRSd of the beats the measurement used (matched by R sample).
async fn truth_median(s: &TestServer, m: &Value) -> f64 {
    let used: Vec<i64> = m["beats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["used"] == true)
        .map(|b| b["r_sample"].as_i64().unwrap())
        .collect();
    // A beat's truth is published once its T wave is generated.
    let mut t = Value::Null;
    for _ in 0..40 {
        t = s.get("/api/v1/sim/truth").await.1;
        let last = t["beats"]
            .as_array()
            .and_then(|b| b.last())
            .and_then(|b| b["r_sample"].as_i64())
            .unwrap_or(i64::MIN);
        if used.iter().all(|&r| r <= last) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let truth = t["beats"].as_array().unwrap();
    let mut q: Vec<f64> = used
        .iter()
        .map(|&r| {
            let b = truth
                .iter()
                .min_by_key(|x| (x["r_sample"].as_i64().unwrap() - r).abs())
                .unwrap();
            assert_eq!(b["class"], "paced", "used beat {r}");
            b["qrsd_ms"].as_f64().unwrap()
        })
        .collect();
    q.sort_by(f64::total_cmp);
    q[q.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_is_measured_with_a_precordial_electrode_off_and_says_so() {
    let s = TestServer::start(config("leads-off", SPEED)).await;
    s.wait_streaming().await;
    let mut ws = ws_connect(&s.ws_url("/api/v1/stream")).await;
    let (st, p) = s
        .send(
            "POST",
            "/api/v1/procedures",
            Some(&json!({"case_id": "LO-1"})),
        )
        .await;
    assert_eq!(st, 201, "{p}");
    let pid = p["id"].as_i64().unwrap();

    // Baseline and a first site over all 12 leads.
    sim(
        &s,
        json!({"rhythm": "intrinsic", "lbbb": true, "qrsd_ms": 160}),
    )
    .await;
    beats_of(&s, "intrinsic", 2).await;
    let bid = start(&s, &format!("/api/v1/procedures/{pid}/baseline"), None).await;
    let base = s.wait_final(bid).await;
    assert_eq!(base["status"], "complete", "{base}");
    assert_eq!(base["leads_excluded"], json!([]));
    assert_eq!(base["global_leads"], 12);
    assert!(base["global_leads_text"].is_null());
    sim(&s, json!({"rhythm": "biv", "qrsd_ms": PACED_MS})).await;
    beats_of(&s, "paced", 2).await;
    let s12 = add_site(&s, pid, "LAT mid").await;
    let m12 = start(
        &s,
        &format!("/api/v1/procedures/{pid}/sites/{s12}/measurements"),
        None,
    )
    .await;
    let all12 = s.wait_final(m12).await;
    assert_eq!(all12["status"], "complete", "{all12}");
    assert_eq!(all12["global_leads"], 12);

    // V3's electrode falls off: the next site is measured over the other 11 leads.
    sim(&s, json!({"lead_off": ["V3"]})).await;
    beats_of(&s, "paced", 2).await;
    let s11 = add_site(&s, pid, "PL mid").await;
    let m11 = start(
        &s,
        &format!("/api/v1/procedures/{pid}/sites/{s11}/measurements"),
        None,
    )
    .await;
    let mut beat_without_v3 = false;
    let finished = loop {
        let m = ws_next(&mut ws, Duration::from_secs(10)).await.unwrap();
        if m["type"] == "beat" && m["leads_excluded"] == json!(["V3"]) {
            beat_without_v3 = true;
        }
        if m["type"] == "measurement" && m["event"] == "finished" && m["id"] == m11 {
            break m;
        }
    };
    assert!(beat_without_v3, "beat messages name the lead left out");
    let text = "V3 electrode off: global QRS over 11 leads";
    assert_eq!(finished["global_leads_text"], text, "{finished}");
    let m = s.wait_final(m11).await;
    assert_eq!(m["status"], "complete", "{}", m["reason"]);
    assert_eq!(m["beats_used"], 10);
    assert_eq!(
        m["beats_rejected"]["by_reason"]["lead_off"],
        Value::Null,
        "no beat rejected for lead-off: {}",
        m["beats_rejected"]
    );
    assert_eq!(
        m["leads_excluded"],
        json!([{"lead": "V3", "reason": "lead_off", "cause": "electrode_off", "beats": 10}])
    );
    assert_eq!(m["global_leads"], 11);
    assert_eq!(m["global_leads_text"], text);
    for b in m["beats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["used"] == true)
    {
        assert_eq!(b["leads_excluded"], json!(["V3"]), "{b}");
        assert_eq!(b["global_leads"], 11);
        assert_eq!(b["lead_quality"]["V3"], "lead_off");
    }
    // The QRSd over 11 leads is still the truth (V3 holds no extreme of the simulated QRS) and
    // that of the same pacing over 12.
    let (q11, q12) = (
        m["qrsd_ms"].as_f64().unwrap(),
        all12["qrsd_ms"].as_f64().unwrap(),
    );
    let tq = truth_median(&s, &m).await;
    assert!((q11 - tq).abs() <= 5.0, "11 leads {q11} ms, truth {tq} ms");
    assert!(
        (q11 - q12).abs() <= 4.0,
        "11 leads {q11} ms, 12 leads {q12} ms"
    );
    for l in ["II", "V1", "V6"] {
        assert_eq!(m["leads"][l]["n"], 10, "{l}");
    }
    // The Kors VCG needs V3: no QRS area, no loop; the median beat leaves V3 out. LV capture reads
    // I and V1 and is still judged.
    assert!(
        m["qrs_area_uvs"].is_null() && m["vcg_loop"].is_null(),
        "{}",
        m["qrs_area_uvs"]
    );
    assert!(m["median_beat"]["leads"]["V3"].is_null());
    assert!(m["median_beat"]["leads"]["V1"].is_object());
    assert_eq!(m["lv_capture"], "likely");

    // The recommendation compares sites measured over different leads: it says so.
    let (_, rec) = s
        .get(&format!("/api/v1/procedures/{pid}/recommendation"))
        .await;
    let warnings: Vec<&str> = rec["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("were measured over different leads")),
        "{warnings:?}"
    );
    let best = rec["best"]["site_id"].as_i64().unwrap();
    let lead_sets: Vec<&Value> = rec["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["leads_excluded"])
        .collect();
    assert!(lead_sets.contains(&&json!(["V3"])) && lead_sets.contains(&&json!([])));
    if best == s11 {
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("compares a QRS without V3")),
            "{warnings:?}"
        );
    }

    // The printable report shows it with the site.
    let html = s
        .http
        .get(s.url(&format!("/api/v1/procedures/{pid}/report.html")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(text), "report names the lead left out");

    // V1 (a reported lead) off instead: every beat is rejected as lead_off.
    sim(&s, json!({"lead_off": ["V1"]})).await;
    beats_of(&s, "paced", 2).await;
    let s_v1 = add_site(&s, pid, "AL basal").await;
    let m_v1 = start(
        &s,
        &format!("/api/v1/procedures/{pid}/sites/{s_v1}/measurements"),
        Some(json!({"timeout_s": 8})),
    )
    .await;
    let m = s.wait_final(m_v1).await;
    assert_eq!(m["status"], "incomplete", "{m}");
    let rejected = m["beats_rejected"]["by_reason"]["lead_off"]
        .as_u64()
        .unwrap();
    assert!(rejected >= 5, "beats rejected for lead-off: {rejected}");
    assert_eq!(m["beats_rejected"]["total"].as_u64(), Some(rejected));
    let q = &m["quality_reasons"][0];
    assert_eq!(q["cause"], "electrode_off");
    assert!(
        q["text"].as_str().unwrap().starts_with("V1 electrode off"),
        "{q}"
    );
    assert_eq!(m["leads_excluded"], json!([]));
    sim(&s, json!({"lead_off": []})).await;
    s.shutdown().await;
}
