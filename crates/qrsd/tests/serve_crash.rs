//! `kill -9` of a real `qrsd serve` process during a measurement, then a restart on the same data
//! folder: every completed measurement is still there, unchanged; the one that was collecting is
//! marked interrupted with the beats saved so far; the procedure continues.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use std::time::{Duration, Instant};

mod common;
use common::{http, serve, set_sim, temp_dir, wait_final};

#[test]
fn kill_9_during_a_measurement_loses_nothing_completed() {
    let data = temp_dir("crash");
    let mut s = serve(&data, 8.0);
    let a = s.addr;
    let (st, p) = http(
        a,
        "POST",
        "/api/v1/procedures",
        Some(&json!({"case_id": "KILL-9"})),
    );
    assert_eq!(st, 201, "{p}");
    let pid = p["id"].as_i64().unwrap();

    set_sim(
        a,
        json!({"rhythm": "intrinsic", "qrsd_ms": 150}),
        "intrinsic",
        150.0,
    );
    let (st, b) = http(
        a,
        "POST",
        &format!("/api/v1/procedures/{pid}/baseline"),
        None,
    );
    assert_eq!(st, 202, "{b}");
    let base = wait_final(a, b["id"].as_i64().unwrap());

    let (_, site) = http(
        a,
        "POST",
        &format!("/api/v1/procedures/{pid}/sites"),
        Some(&json!({"vein": "lateral", "segment": "mid", "label": "LAT mid"})),
    );
    let sid = site["id"].as_i64().unwrap();
    set_sim(a, json!({"rhythm": "biv", "qrsd_ms": 130}), "paced", 130.0);
    let (_, m) = http(
        a,
        "POST",
        &format!("/api/v1/procedures/{pid}/sites/{sid}/measurements"),
        None,
    );
    let first = wait_final(a, m["id"].as_i64().unwrap());
    let completed = [base, first];
    for m in &completed {
        assert_ne!(m["status"], "collecting");
    }

    // Re-measure the site, and kill -9 while it collects (after some beats were saved).
    let (st, m) = http(
        a,
        "POST",
        &format!("/api/v1/procedures/{pid}/sites/{sid}/measurements"),
        None,
    );
    assert_eq!(st, 202, "{m}");
    let collecting = m["id"].as_i64().unwrap();
    let t0 = Instant::now();
    loop {
        let (_, m) = http(
            a,
            "GET",
            &format!("/api/v1/measurements/{collecting}"),
            None,
        );
        assert_eq!(
            m["status"], "collecting",
            "still collecting when killed: {m}"
        );
        if m["beats_seen"].as_u64().unwrap_or(0) >= 3 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(20));
    }
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();

    // Restart on the same data.
    let mut s2 = serve(&data, 8.0);
    let a = s2.addr;
    for m in &completed {
        let id = m["id"].as_i64().unwrap();
        let (st, again) = http(a, "GET", &format!("/api/v1/measurements/{id}"), None);
        assert_eq!(st, 200);
        for k in [
            "status",
            "qrsd_ms",
            "leads",
            "beats_used",
            "beats",
            "median_beat",
            "stim_to_end_ms",
        ] {
            assert_eq!(
                again[k], m[k],
                "measurement {id}: {k} changed across kill -9"
            );
        }
    }
    let (_, m) = http(
        a,
        "GET",
        &format!("/api/v1/measurements/{collecting}"),
        None,
    );
    assert_eq!(m["interrupted"], true, "{m}");
    assert_eq!(m["status"], "incomplete");
    assert!(m["qrsd_ms"].is_null());
    assert!(
        !m["beats"].as_array().unwrap().is_empty(),
        "the beats saved before the kill are kept"
    );
    let (_, rep) = http(a, "GET", &format!("/api/v1/procedures/{pid}/report"), None);
    let actions: Vec<&str> = rep["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"measurement_interrupted"), "{actions:?}");

    // The procedure continues: a new measurement at the same site completes.
    set_sim(a, json!({"rhythm": "biv", "qrsd_ms": 130}), "paced", 130.0);
    let (st, m) = http(
        a,
        "POST",
        &format!("/api/v1/procedures/{pid}/sites/{sid}/measurements"),
        None,
    );
    assert_eq!(st, 202, "{m}");
    let m = wait_final(a, m["id"].as_i64().unwrap());
    assert_eq!(m["status"], "complete", "{m}");

    // The recording of the killed session is there.
    let hea = std::fs::read_dir(data.join("recordings"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "hea"))
        .count();
    assert!(hea >= 2, "one recording per session");
    let _ = s2.child.kill();
    let _ = s2.child.wait();
    let _ = std::fs::remove_dir_all(&data);
}
