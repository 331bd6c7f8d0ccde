//! Generalisation check: LUDB records cut to 2 leads (II + V5, a Holter-like pair) and resampled to
//! 250 and 360 Hz; beats mapped back to 500 Hz and scored (detection, lead II boundaries, and the global
//! QRS against the earliest / latest of the II and V5 marks, as a 2-lead database annotated on the
//! leads it holds, e.g. QTDB, would mark it). LUDB's 9 paced records are also shown on their own:
//! global onset and QRSd per record, and how many of their beats had a stimulus found.
//! `cargo run --release -p qrsd-eval --example holter_check` (`QUANT_UV=5` rounds every sample to 5 µV
//! steps after resampling, as an 11-bit Holter/MIT-BIH-style recording at 200 adu/mV; `DBG=1` lists the
//! records with detection errors).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use qrsd_eval::{format_table, score_ludb_record_with, Tally};
use qrsd_pipeline::{analyze, Boundary, PipelineConfig};
use std::path::PathBuf;

fn main() {
    // `section.key=value` arguments override pipeline settings (experiments).
    let overrides: Vec<String> = std::env::args().skip(1).collect();
    let make = |fs: f64| {
        PipelineConfig::new(fs, Vec::new())
            .with_overrides(&overrides)
            .unwrap()
    };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ludb");
    let list = std::fs::read_to_string(dir.join("RECORDS")).unwrap();
    for fs in [250.0, 360.0, 500.0] {
        let mut all = Tally::default();
        let mut parts = Vec::new();
        // Beats given a stimulus in records without pacing (LUDB's paced records are listed in
        // qrsd_eval): false pacing detections.
        let mut false_stimuli = 0;
        let mut paced = Tally::default();
        // Per paced record: name, median global onset and QRSd error (ms), beats with a stimulus.
        let mut paced_records = Vec::new();
        for rec_name in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let base = dir.join(rec_name);
            let mut rec = qrsd_formats::open(base.with_extension("hea")).unwrap();
            rec.leads
                .retain(|l| l.name.eq_ignore_ascii_case("II") || l.name.eq_ignore_ascii_case("V5"));
            let ratio = rec.fs_hz / fs;
            let mut rec = rec.resampled_linear(fs);
            if let Some(q) = std::env::var("QUANT_UV")
                .ok()
                .and_then(|v| v.parse::<f32>().ok())
            {
                for l in rec.leads.iter_mut() {
                    for v in l.samples_uv.iter_mut() {
                        *v = (*v / q).round() * q;
                    }
                }
            }
            let a = analyze(&rec, make(fs)).unwrap();
            let back = |s: u64| (s as f64 * ratio).round() as u64;
            let bb = |b: &Boundary| Boundary {
                onset_sample: b.onset_sample.map(back),
                offset_sample: b.offset_sample.map(back),
            };
            let beats: Vec<_> = a
                .beats
                .iter()
                .map(|b| {
                    let mut c = b.clone();
                    c.r_sample = back(b.r_sample);
                    c.pace_sample = b.pace_sample.map(back);
                    c.global = bb(&b.global);
                    for l in c.leads.iter_mut() {
                        l.bounds = bb(&l.bounds);
                    }
                    c
                })
                .collect();
            let short = rec_name.trim_start_matches("data/");
            let with_stimulus = a.beats.iter().filter(|b| b.pace_sample.is_some()).count();
            let is_paced = qrsd_eval::LUDB_PACED.contains(&short);
            if !is_paced {
                false_stimuli += with_stimulus;
            }
            let t = score_ludb_record_with(&base, 500.0, &beats, Some(&["II", "V5"]));
            if is_paced {
                paced.add(&t);
                let med =
                    |k: &str| qrsd_measure::stats::median(t.errors.get(k).map_or(&[][..], |v| v));
                paced_records.push((
                    short.to_string(),
                    med("GLOBAL.onset"),
                    med("GLOBAL.qrsd"),
                    with_stimulus,
                    a.beats.len(),
                ));
            }
            if t.fp + t.fn_ > 0 && std::env::var("DBG").is_ok() {
                println!("  {rec_name}: FN {} FP {}", t.fn_, t.fp);
            }
            parts.push(t);
        }
        for t in &parts {
            all.tp += t.tp;
            all.fn_ += t.fn_;
            all.fp += t.fp;
            for (k, v) in &t.errors {
                all.errors
                    .entry(k.clone())
                    .or_default()
                    .extend_from_slice(v);
            }
        }
        let table = format_table(
            &format!(
                "II+V5 at {fs} Hz (beats with a stimulus in unpaced records: {false_stimuli})"
            ),
            &all,
        );
        for line in table
            .lines()
            .filter(|l| !l.starts_with("V1") && !l.starts_with("V6"))
        {
            println!("{line}");
        }
        let table = format_table(&format!("  paced records, II+V5 at {fs} Hz"), &paced);
        for line in table
            .lines()
            .filter(|l| l.contains("GLOBAL") || l.contains("paced"))
        {
            println!("{line}");
        }
        let within = paced_records
            .iter()
            .filter(|r| r.2.is_some_and(|q| q.abs() <= 10.0))
            .count();
        println!(
            "  per paced record, median global onset / QRSd error (ms), beats with a stimulus: {} ({within} of {} within ±10 ms)",
            paced_records
                .iter()
                .map(|(n, on, q, s, b)| format!(
                    "{n} {} / {} {s}/{b}",
                    on.map_or("-".into(), |v| format!("{v:+.0}")),
                    q.map_or("-".into(), |v| format!("{v:+.0}"))
                ))
                .collect::<Vec<_>>()
                .join(", "),
            paced_records.len()
        );
    }
}
