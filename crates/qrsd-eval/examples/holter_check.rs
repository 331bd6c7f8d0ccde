//! Generalisation check: LUDB records cut to 2 leads (II + V5, a Holter-like pair) and resampled to
//! 250 and 360 Hz; beats mapped back to 500 Hz and scored (detection, lead II boundaries).
//! `cargo run --release -p qrsd-eval --example holter_check`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use qrsd_eval::{format_table, score_ludb_record, Tally};
use qrsd_pipeline::{analyze, Boundary, PipelineConfig};
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ludb");
    let list = std::fs::read_to_string(dir.join("RECORDS")).unwrap();
    for fs in [250.0, 360.0, 500.0] {
        let mut all = Tally::default();
        let mut parts = Vec::new();
        for rec_name in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let base = dir.join(rec_name);
            let mut rec = qrsd_formats::open(base.with_extension("hea")).unwrap();
            rec.leads
                .retain(|l| l.name.eq_ignore_ascii_case("II") || l.name.eq_ignore_ascii_case("V5"));
            let ratio = rec.fs_hz / fs;
            let rec = rec.resampled_linear(fs);
            let a = analyze(&rec, PipelineConfig::new(fs, Vec::new())).unwrap();
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
            let t = score_ludb_record(&base, 500.0, &beats);
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
        let table = format_table(&format!("II+V5 at {fs} Hz"), &all);
        for line in table
            .lines()
            .filter(|l| !l.starts_with("V1") && !l.starts_with("V6"))
        {
            println!("{line}");
        }
    }
}
