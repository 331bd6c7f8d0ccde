//! A site measurement on a replay of MIT-BIH record 217: a paced Holter excerpt at 360 Hz with no
//! pace flag, whose stimuli the recorder smeared into narrow peaks. The beats are recognised as paced
//! from the spike and the repeating paced complex (docs/algorithms.md, beat class), so the measurement
//! completes with paced beats and a stimulus-to-QRS-end value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use qrsd_server::config::SourceSpec;
use serde_json::Value;
use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_paced_holter_record_gives_a_complete_site_measurement() {
    let hea = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mitdb/217.hea");
    assert!(
        hea.exists(),
        "MIT-BIH record 217 is needed at {}",
        hea.display()
    );
    let mut cfg = config("replay-217", 1.0);
    cfg.source.spec = SourceSpec::Replay(hea);
    // The record opens with 86 s of pacing: 10× real time reaches it in seconds and leaves time to
    // measure before its first conducted beats.
    cfg.source.replay_speed = 10.0;
    let s = TestServer::start(cfg).await;
    s.wait_streaming().await;
    let m = s.measure_one_site("MITDB-217", "replay 217").await;
    assert_eq!(m["status"], "complete", "{m}");
    assert!(m["beats_used"].as_u64().unwrap() >= 8, "{m}");
    let used: Vec<&Value> = used_beats(&m).collect();
    assert!(used.iter().all(|b| b["class"] == "paced"), "{used:?}");
    // Paced QRSd of 217 (stimulus spike included) lies near 200 ms; a conducted beat's near 110 ms.
    let q = m["qrsd_ms"].as_f64().unwrap();
    assert!((150.0..=240.0).contains(&q), "QRSd {q} ms");
    assert!(m["stim_to_end_ms"].as_f64().is_some(), "{m}");
    eprintln!(
        "replay 217: QRSd {q:.1} ms, stimulus to end {:.1} ms, {} beats used",
        m["stim_to_end_ms"].as_f64().unwrap(),
        used.len()
    );
    s.shutdown().await;
}
