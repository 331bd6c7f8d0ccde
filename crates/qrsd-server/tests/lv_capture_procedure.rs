//! A simulated procedure with a baseline (intrinsic LBBB), a BiV site and a site where the LV lead
//! does not capture (`rhythm: "rv"`): QRS area and ΔQRS area in the API, the recommendation and the
//! report, `lv_capture` likely at the BiV site and unlikely (with a warning) at the RV-only one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};

async fn measure_site(s: &TestServer, pid: i64, label: &str, vein: &str) -> (i64, Value) {
    let site = json!({"vein": vein, "segment": "mid", "label": label});
    let sid = s.add_site(pid, &site).await;
    let mid = s.start_site_measurement(pid, sid, None).await;
    let m = s.wait_final(mid).await;
    assert_eq!(m["status"], "complete", "{label}: {m}");
    (sid, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_biv_and_rv_only_sites() {
    let s = TestServer::start(config("lv-capture", 8.0)).await;
    s.wait_streaming().await;
    let pid = s.create_procedure("CRT-LV-1").await;

    s.set_sim(
        &json!({"rhythm": "intrinsic", "lbbb": true, "qrsd_ms": 160}),
        "intrinsic",
        Some(160.0),
    )
    .await;
    let bid = s.start_baseline(pid, None).await;
    let base = s.wait_final(bid).await;
    assert_eq!(base["status"], "complete", "{base}");
    let base_area = base["qrs_area_uvs"].as_f64().expect("baseline QRS area");
    assert!(base["qrs_area_iqr_uvs"].as_f64().is_some());
    assert!(base["lv_capture"].is_null() && base["delta_qrs_area_uvs"].is_null());

    s.set_sim(
        &json!({"rhythm": "biv", "qrsd_ms": 130}),
        "paced",
        Some(130.0),
    )
    .await;
    let (biv_id, biv) = measure_site(&s, pid, "LAT mid (BiV)", "lateral").await;
    s.set_sim(
        &json!({"rhythm": "rv", "qrsd_ms": 160}),
        "loss_of_capture",
        Some(160.0),
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
        assert!(used_beats(m).all(|b| b["qrs_area_uvs"].is_number()));
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
