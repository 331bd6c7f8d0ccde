//! Developer loop: LUDB evaluation without the CLI, with `section.key=value` overrides.
//! `cargo run --release -p qrsd-eval --example ludb_quick -- [--paced] [--zero] [section.key=value ...]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use qrsd_eval::{evaluate_ludb, format_table, Conditioning};
use qrsd_pipeline::PipelineConfig;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ludb");
    let mut cfg = serde_json::to_value(PipelineConfig::new(500.0, Vec::new())).unwrap();
    let mut paced = false;
    let mut cond = Conditioning::Causal;
    let mut per_record = false;
    for a in std::env::args().skip(1) {
        if a == "--paced" {
            paced = true;
            continue;
        }
        if a == "--zero" {
            cond = Conditioning::ZeroPhase;
            continue;
        }
        if a == "--per-record" {
            per_record = true;
            continue;
        }
        let (k, v) = a.split_once('=').expect("section.key=value");
        let (s, key) = k.split_once('.').expect("section.key");
        cfg[s][key] = serde_json::from_str(v).expect("JSON value");
    }
    let cfg: PipelineConfig = serde_json::from_value(cfg).unwrap();
    let only: Option<Vec<String>> = std::env::var("ONLY").ok().map(|v| {
        (1..=v.parse::<usize>().unwrap())
            .map(|i| i.to_string())
            .collect()
    });
    let rep = evaluate_ludb(&dir, &cfg, cond, only.as_deref(), None).unwrap();
    print!("{}", format_table("all", &rep.all));
    if paced {
        print!("{}", format_table("paced", &rep.paced));
    }
    if per_record {
        for (name, t) in &rep.per_record {
            let s = t.stats("GLOBAL.qrsd");
            let o = t.stats("GLOBAL.onset");
            let f = t.stats("GLOBAL.offset");
            if t.fn_ + t.fp > 0 {
                println!("{name:>4} FN {} FP {}", t.fn_, t.fp);
            }
            println!(
                "{name:>4} n {:>3} on {:+6.1} off {:+6.1} qrsd {:+6.1}",
                s.n, o.mean, f.mean, s.mean
            );
        }
    }
    println!(
        "speed {:.0}x real time",
        rep.signal_seconds / rep.analysis_seconds
    );
}
