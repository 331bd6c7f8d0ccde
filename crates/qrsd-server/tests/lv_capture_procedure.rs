//! A simulated procedure with a baseline (intrinsic LBBB), a BiV site and a site where the LV lead
//! does not capture (`rhythm: "rv"`): QRS area and ΔQRS area in the API, the recommendation and the
//! report, `lv_capture` likely at the BiV site and unlikely (with a warning) at the RV-only one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Change the simulator, then wait for two beats of the new kind.
async fn set_sim(s: &TestServer, body: Value, class: &str, qrsd: f64) {
    let (st, b) = s.send("PUT", "/api/v1/source/sim", Some(&body)).await;
    assert_eq!(st, 200, "{b}");
    let last = |t: &Value| {
        t["beats"]
            .as_array()
            .unwrap()
            .last()
            .map(|b| b["index"].as_u64().unwrap())
    };
    let since = last(&s.get("/api/v1/sim/truth").await.1);
    let t0 = Instant::now();
    loop {
        let (_, t) = s.get("/api/v1/sim/truth").await;
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
        assert!(t0.elapsed() < Duration::from_secs(30), "sim never changed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn measure_site(s: &TestServer, pid: i64, label: &str, vein: &str) -> (i64, Value) {
    let (st, r) = s
        .send(
            "POST",
            &format!("/api/v1/procedures/{pid}/sites"),
            Some(&json!({"vein": vein, "segment": "mid", "label": label})),
        )
        .await;
    assert_eq!(st, 201, "{r}");
    let sid = r["id"].as_i64().unwrap();
    let (st, r) = s
        .send(
            "POST",
            &format!("/api/v1/procedures/{pid}/sites/{sid}/measurements"),
            None,
        )
        .await;
    assert_eq!(st, 202, "{r}");
    let m = s.wait_final(r["id"].as_i64().unwrap()).await;
    assert_eq!(m["status"], "complete", "{label}: {m}");
    (sid, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_biv_and_rv_only_sites() {
    let s = TestServer::start(config("lv-capture", 8.0)).await;
    s.wait_streaming().await;
    let (st, p) = s
        .send(
            "POST",
            "/api/v1/procedures",
            Some(&json!({"case_id": "CRT-LV-1"})),
        )
        .await;
    assert_eq!(st, 201, "{p}");
    let pid = p["id"].as_i64().unwrap();

    set_sim(
        &s,
        json!({"rhythm": "intrinsic", "lbbb": true, "qrsd_ms": 160}),
        "intrinsic",
        160.0,
    )
    .await;
    let (st, b) = s
        .send("POST", &format!("/api/v1/procedures/{pid}/baseline"), None)
        .await;
    assert_eq!(st, 202, "{b}");
    let base = s.wait_final(b["id"].as_i64().unwrap()).await;
    assert_eq!(base["status"], "complete", "{base}");
    let base_area = base["qrs_area_uvs"].as_f64().expect("baseline QRS area");
    assert!(base["qrs_area_iqr_uvs"].as_f64().is_some());
    assert!(base["lv_capture"].is_null() && base["delta_qrs_area_uvs"].is_null());

    set_sim(&s, json!({"rhythm": "biv", "qrsd_ms": 130}), "paced", 130.0).await;
    let (biv_id, biv) = measure_site(&s, pid, "LAT mid (BiV)", "lateral").await;
    set_sim(
        &s,
        json!({"rhythm": "rv", "qrsd_ms": 160}),
        "loss_of_capture",
        160.0,
    )
    .await;
    let (rv_id, rv) = measure_site(&s, pid, "AL mid (LV not capturing)", "anterolateral").await;

    for (name, m, want) in [("BiV", &biv, "likely"), ("RV only", &rv, "unlikely")] {
        let area = m["qrs_area_uvs"].as_f64().unwrap();
        let d = m["delta_qrs_area_uvs"].as_f64().expect("ΔQRS area");
        let pct = m["delta_qrs_area_pct"].as_f64().unwrap();
        assert!((d - (area - base_area)).abs() < 1e-6, "{name}: {d}");
        assert!((pct - 100.0 * d / base_area).abs() < 1e-6);
        assert_eq!(
            m["lv_capture"], want,
            "{name}: {}",
            m["lv_capture_criteria"]
        );
        let c = &m["lv_capture_criteria"];
        assert!(
            c["rs_ratio_v1"].is_number() && c["q_in_i"].is_boolean(),
            "{c}"
        );
        assert!(m["vcg_loop"]["x_uv"].as_array().unwrap().len() > 10);
        // Every used beat carries its own area.
        let used = m["beats"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["used"] == true);
        assert!(used.clone().all(|b| b["qrs_area_uvs"].is_number()));
        eprintln!(
            "{name}: QRSd {:.1} ms, QRS area {area:.1} µV·s (baseline {base_area:.1}), Δ {d:+.1} µV·s ({pct:+.0} %), lv_capture {} ({})",
            m["qrsd_ms"].as_f64().unwrap(),
            m["lv_capture"],
            c["rule"]
        );
    }
    assert!(rv["lv_capture_criteria"]["warning"].is_string());
    assert!(biv["lv_capture_criteria"]["warning"].is_null());
    // BiV resynchronises: the largest area reduction.
    assert!(
        biv["delta_qrs_area_uvs"].as_f64().unwrap() < rv["delta_qrs_area_uvs"].as_f64().unwrap()
    );
    assert!(
        biv["delta_qrs_area_uvs"].as_f64().unwrap() < -45.0,
        "{}",
        biv["delta_qrs_area_uvs"]
    );

    // The recommendation: shortest QRSd (the BiV site), areas beside it, a warning for the RV site.
    let (_, rec) = s
        .get(&format!("/api/v1/procedures/{pid}/recommendation"))
        .await;
    assert_eq!(rec["site_id"].as_i64(), Some(biv_id), "{rec}");
    assert_eq!(rec["rule"], "shortest_qrsd");
    assert!(rec["baseline_qrs_area_uvs"].as_f64().is_some());
    assert!(
        rec["best"]["delta_qrs_area_uvs"].as_f64().is_some(),
        "{rec}"
    );
    let warns = rec["warnings"].as_array().unwrap();
    assert!(
        warns
            .iter()
            .any(|w| w.as_str().unwrap().contains("RV-only")),
        "{warns:?}"
    );
    let ranked_rv = rec["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["site_id"].as_i64() == Some(rv_id))
        .unwrap();
    assert_eq!(ranked_rv["lv_capture"], "unlikely");

    // The JSON report carries all of it.
    let (st, report) = s.get(&format!("/api/v1/procedures/{pid}/report")).await;
    assert_eq!(st, 200);
    assert_eq!(report["baseline"]["qrs_area_uvs"].as_f64(), Some(base_area));
    let sites = report["sites"].as_array().unwrap();
    let rv_site = sites
        .iter()
        .find(|x| x["id"].as_i64() == Some(rv_id))
        .unwrap();
    assert_eq!(rv_site["measurement"]["lv_capture"], "unlikely");
    assert!(rv_site["measurement"]["delta_qrs_area_uvs"].is_number());
    assert!(report["definitions"]["qrs_area_uvs"].is_string());
    assert!(report["definitions"]["recommendation_rule"]
        .as_str()
        .unwrap()
        .contains("shortest"));
    s.shutdown().await;
}
