//! QRS area (docs/algorithms.md, vectorcardiogram): computed here, independently of the pipeline,
//! from the simulator's noise-free lead signals and its exact QRS windows, and compared with what
//! `qrsd analyze` reports for a recording of the same beats (the same `analyze_reader` call on the
//! WFDB file) and with a live site measurement of a replay of that file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use qrsd_server::config::SourceSpec;
use qrsd_synth::{BeatClass, BeatTruth, Rhythm, SynthConfig, SynthRecording};
use serde_json::Value;

/// Kors et al., Eur Heart J 1990 (as tabulated by van Deursen et al., J Electrocardiol 2015):
/// X, Y, Z per lead I, II, V1..V6. Typed here from the paper's table, not taken from the service.
const KORS_TABLE: [(&str, [f64; 3]); 8] = [
    ("I", [0.38, -0.07, 0.11]),
    ("II", [-0.07, 0.93, -0.23]),
    ("V1", [-0.13, 0.06, -0.43]),
    ("V2", [0.05, -0.02, -0.06]),
    ("V3", [-0.01, -0.05, -0.14]),
    ("V4", [0.14, 0.06, -0.20]),
    ("V5", [0.06, -0.17, -0.11]),
    ("V6", [0.54, 0.13, 0.31]),
];

/// QRS area (µV·s) of one simulated beat from the synthesiser's own lead signals over its true
/// global QRS window: X, Y, Z relative to their level at the onset, trapezoids, √(Ax² + Ay² +
/// Az²). The truth's onset is the first sample the QRS already contributes to (with the simulator's
/// sharp edges ~20 µV per axis): the level is the sample before it, the last one without QRS.
fn true_area(rec: &SynthRecording, t: &BeatTruth) -> f64 {
    let xyz = |i: usize| {
        let mut p = [0.0f64; 3];
        for (name, c) in KORS_TABLE {
            let v = rec.lead(name).unwrap()[i];
            for k in 0..3 {
                p[k] += c[k] * v;
            }
        }
        p
    };
    let (on, off) = (t.onset_sample as usize - 1, t.offset_sample as usize);
    let base = xyz(on);
    let mut a = [0.0f64; 3];
    let mut prev = [0.0f64; 3];
    for i in on + 1..=off {
        let p = xyz(i);
        for k in 0..3 {
            let cur = p[k] - base[k];
            a[k] += 0.5 * (prev[k] + cur) / rec.fs_hz;
            prev[k] = cur;
        }
    }
    (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt()
}

fn truth_of(rec: &SynthRecording, r: u64) -> Option<&BeatTruth> {
    rec.truth
        .iter()
        .find(|t| (t.onset_sample..=t.offset_sample).contains(&r))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qrs_area_agrees_with_the_simulator_in_analyze_and_live() {
    let cfg = SynthConfig {
        rhythm: Rhythm::Biv,
        qrsd_ms: 130.0,
        fs_hz: 500.0,
        seed: 19,
        ..SynthConfig::default()
    };
    let rec = qrsd_synth::generate(&cfg, 40.0).unwrap();
    let dir = temp_dir("qrs-area");
    let file = qrsd_formats::Recording {
        fs_hz: rec.fs_hz,
        leads: rec
            .lead_names()
            .into_iter()
            .zip(rec.leads_f32())
            .map(|(name, samples_uv)| qrsd_formats::Lead { name, samples_uv })
            .collect(),
    };
    // 1 µV steps: quantisation is no part of the comparison.
    qrsd_formats::wfdb::write_record(&dir, "biv", &file, 1000.0).unwrap();
    let hea = dir.join("biv.hea");

    // `qrsd analyze` (the same reader and pipeline call as the binary's).
    let mut reader = qrsd_formats::open_reader(&hea).unwrap();
    let pcfg = qrsd_pipeline::PipelineConfig::new(reader.fs_hz(), Vec::new());
    let analysis = qrsd_pipeline::analyze_reader(&mut reader, pcfg).unwrap();
    let mut rel = Vec::new();
    for b in &analysis.beats {
        let Some(t) = truth_of(&rec, b.r_sample).filter(|t| t.class == BeatClass::Paced) else {
            continue;
        };
        let want = true_area(&rec, t);
        let got = b.vcg.qrs_area_uvs.expect("12 leads give a QRS area");
        rel.push(got / want - 1.0);
    }
    assert!(rel.len() >= 35, "{} paced beats matched", rel.len());
    let worst = rel.iter().fold(0.0f64, |m, r| m.max(r.abs()));
    let truth_areas: Vec<f64> = rec
        .truth
        .iter()
        .filter(|t| t.class == BeatClass::Paced)
        .map(|t| true_area(&rec, t))
        .collect();
    let true_median = median(&truth_areas);
    eprintln!(
        "analyze: {} beats, QRS area within {:.2} % of the simulator's (median error {:+.2} %, true median {true_median:.1} µV·s)",
        rel.len(),
        100.0 * worst,
        100.0 * median(&rel)
    );
    assert!(worst < 0.03, "worst relative error {worst}");
    // The JSON field of `qrsd analyze --json`.
    let j = serde_json::to_value(&analysis.beats[3]).unwrap();
    assert!(j["qrs_area_uvs"].as_f64().is_some(), "{j}");

    // A live site measurement of a replay of the same file.
    let mut scfg = config("qrs-area-live", 1.0);
    scfg.source.spec = SourceSpec::Replay(hea.clone());
    scfg.source.replay_speed = 4.0;
    let s = TestServer::start(scfg).await;
    s.wait_streaming().await;
    let m = s.measure_one_site("QRS-AREA", "BiV replay").await;
    s.shutdown().await;
    assert_eq!(m["status"], "complete", "{m}");
    let used: Vec<&Value> = used_beats(&m).collect();
    assert!(used.len() >= 8, "{}", used.len());
    for b in &used {
        let r = b["r_sample"].as_u64().unwrap();
        let live = b["qrs_area_uvs"].as_f64().expect("per-beat qrs_area_uvs");
        // The replay's session samples are the file's: the same beat in the analysis.
        let a = analysis
            .beats
            .iter()
            .find(|x| x.r_sample.abs_diff(r) <= 2)
            .unwrap_or_else(|| panic!("beat at {r} not in the analysis"));
        let off = a.vcg.qrs_area_uvs.unwrap();
        assert!(
            (live / off - 1.0).abs() < 1e-3,
            "beat {r}: live {live} analyze {off}"
        );
        let t = truth_of(&rec, r).unwrap();
        let want = true_area(&rec, t);
        assert!(
            (live / want - 1.0).abs() < 0.03,
            "beat {r}: live {live} true {want}"
        );
    }
    let site = m["qrs_area_uvs"]
        .as_f64()
        .expect("measurement qrs_area_uvs");
    let iqr = m["qrs_area_iqr_uvs"].as_f64().expect("qrs_area_iqr_uvs");
    eprintln!(
        "live site: QRS area {site:.1} µV·s (IQR {iqr:.2}) over {} beats; simulator {true_median:.1}",
        used.len()
    );
    assert!(
        (site / true_median - 1.0).abs() < 0.03,
        "{site} vs {true_median}"
    );
    // No baseline in this procedure: no ΔQRS area.
    assert!(m["delta_qrs_area_uvs"].is_null(), "{m}");
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
