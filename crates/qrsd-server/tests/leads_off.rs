//! An electrode off during a procedure, end to end with the simulator: with V3 off a site is still
//! measured, over the other 11 leads, and the measurement, the WebSocket, the recommendation and
//! the printable report say so; with V1 off (a reported lead) no beat is measured.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};

/// Simulator speed (× real time).
const SPEED: f64 = 8.0;
/// Paced QRSd of the simulated sites, ms.
const PACED_MS: f64 = 140.0;

/// The sites here are all in the lateral vein's mid segment: only the leads off differ.
fn lateral_mid(label: &str) -> Value {
    json!({"vein": "lateral", "segment": "mid", "label": label})
}

/// Median truth QRSd of the beats the measurement used (matched by R sample).
async fn truth_median(s: &TestServer, m: &Value) -> f64 {
    let t = s.sim_truth_for(m).await;
    let truth = t["beats"].as_array().unwrap();
    let mut q: Vec<f64> = used_beats(m)
        .map(|b| {
            let r = b["r_sample"].as_i64().unwrap();
            let t = truth
                .iter()
                .min_by_key(|x| (x["r_sample"].as_i64().unwrap() - r).abs())
                .unwrap();
            assert_eq!(t["class"], "paced", "used beat {r}");
            t["qrsd_ms"].as_f64().unwrap()
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
    let pid = s.create_procedure("LO-1").await;

    // Baseline and a first site over all 12 leads.
    s.set_sim(
        &json!({"rhythm": "intrinsic", "lbbb": true, "qrsd_ms": 160}),
        "intrinsic",
        None,
    )
    .await;
    let bid = s.start_baseline(pid, None).await;
    let base = s.wait_final(bid).await;
    assert_eq!(base["status"], "complete", "{base}");
    assert_eq!(base["leads_excluded"], json!([]));
    assert_eq!(base["global_leads"], 12);
    assert!(base["global_leads_text"].is_null());
    s.set_sim(
        &json!({"rhythm": "biv", "qrsd_ms": PACED_MS}),
        "paced",
        None,
    )
    .await;
    let s12 = s.add_site(pid, &lateral_mid("LAT mid")).await;
    let m12 = s.start_site_measurement(pid, s12, None).await;
    let all12 = s.wait_final(m12).await;
    assert_eq!(all12["status"], "complete", "{all12}");
    assert_eq!(all12["global_leads"], 12);

    // V3's electrode falls off: the next site is measured over the other 11 leads.
    s.set_sim(&json!({"lead_off": ["V3"]}), "paced", None).await;
    let s11 = s.add_site(pid, &lateral_mid("PL mid")).await;
    let m11 = s.start_site_measurement(pid, s11, None).await;
    let mut beat_without_v3 = false;
    let finished = ws_until_finished(&mut ws, m11, |m| {
        if m["type"] == "beat" && m["leads_excluded"] == json!(["V3"]) {
            beat_without_v3 = true;
        }
    })
    .await;
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
    for b in used_beats(&m) {
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
    let (_, html) = s
        .get_text(&format!("/api/v1/procedures/{pid}/report.html"))
        .await;
    assert!(html.contains(text), "report names the lead left out");

    // V1 (a reported lead) off instead: every beat is rejected as lead_off.
    s.set_sim(&json!({"lead_off": ["V1"]}), "paced", None).await;
    let s_v1 = s.add_site(pid, &lateral_mid("AL basal")).await;
    let m_v1 = s
        .start_site_measurement(pid, s_v1, Some(&json!({"timeout_s": 8})))
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
    s.put_sim(&json!({"lead_off": []})).await;
    s.shutdown().await;
}
