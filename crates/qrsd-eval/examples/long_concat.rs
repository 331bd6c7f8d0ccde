//! Long-recording check: all 200 LUDB records joined end to end into one 2000 s recording (every join a
//! jump in morphology, amplitude and baseline, as when electrodes are moved or the patient changes), run
//! through one pipeline, and beat detection scored against each record's lead-II annotations (inside each
//! record's annotated span, as `qrsd eval`). Leads II + V5 and all 12, at 500 Hz and (resampled) 360 Hz.
//! `cargo run --release -p qrsd-eval --example long_concat` (`DBG=1`: records with errors).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use qrsd_eval::reference_qrs;
use qrsd_formats::Recording;
use qrsd_pipeline::{analyze, PipelineConfig};
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ludb");
    let list = std::fs::read_to_string(dir.join("RECORDS")).unwrap();
    let names: Vec<&str> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    for two_leads in [true, false] {
        for fs in [500.0, 360.0] {
            // Join the records; remember where each starts and its reference R peaks (at 500 Hz).
            let mut joined: Option<Recording> = None;
            let mut segments = Vec::new(); // (name, start sample at 500 Hz, reference triplets)
            let mut start = 0i64;
            for name in &names {
                let base = dir.join(name);
                let mut rec = qrsd_formats::open(base.with_extension("hea")).unwrap();
                if two_leads {
                    rec.leads.retain(|l| {
                        l.name.eq_ignore_ascii_case("II") || l.name.eq_ignore_ascii_case("V5")
                    });
                }
                let refs = reference_qrs(&base.with_extension("ii"));
                segments.push((name.to_string(), start, refs));
                start += rec.len_samples() as i64;
                match joined.as_mut() {
                    None => joined = Some(rec),
                    Some(j) => {
                        for (a, b) in j.leads.iter_mut().zip(rec.leads) {
                            a.samples_uv.extend(b.samples_uv);
                        }
                    }
                }
            }
            let joined = joined.unwrap();
            let rec = if fs == joined.fs_hz {
                joined
            } else {
                joined.resampled_linear(fs)
            };
            let n_leads = rec.leads.len();
            let a = analyze(&rec, PipelineConfig::new(fs, Vec::new())).unwrap();
            let ratio = 500.0 / fs;
            let rs: Vec<i64> = a
                .beats
                .iter()
                .map(|b| (b.r_sample as f64 * ratio).round() as i64)
                .collect();
            let tol = 37; // 75 ms at 500 Hz
            let (mut tp, mut fn_, mut fp) = (0usize, 0usize, 0usize);
            for (name, off, refs) in &segments {
                if refs.is_empty() {
                    continue;
                }
                let lo = off + refs[0].onset - tol;
                let hi = off + refs[refs.len() - 1].offset + tol;
                let mut det: Vec<(i64, bool)> = rs
                    .iter()
                    .filter(|r| (lo..=hi).contains(*r))
                    .map(|r| (*r, false))
                    .collect();
                let (tp0, fn0) = (tp, fn_);
                for q in refs {
                    let m = det.iter_mut().find(|(r, used)| {
                        !*used
                            && ((r - (off + q.peak)).abs() <= tol
                                || (off + q.onset..=off + q.offset).contains(r))
                    });
                    match m {
                        Some(d) => {
                            d.1 = true;
                            tp += 1;
                        }
                        None => fn_ += 1,
                    }
                }
                let extra = det.iter().filter(|(_, used)| !used).count();
                fp += extra;
                if std::env::var("DBG").is_ok() && (fn_ > fn0 || extra > 0) {
                    println!(
                        "  record {name}: TP {} FN {} FP {extra}",
                        tp - tp0,
                        fn_ - fn0
                    );
                    let peaks: Vec<i64> = refs.iter().map(|q| q.peak).collect();
                    let dets: Vec<i64> = rs
                        .iter()
                        .filter(|r| (lo - 1000..=hi).contains(*r))
                        .map(|r| r - off)
                        .collect();
                    println!("    reference R {peaks:?}\n    detected R {dets:?}");
                }
            }
            let se = 100.0 * tp as f64 / (tp + fn_) as f64;
            let ppv = 100.0 * tp as f64 / (tp + fp) as f64;
            println!(
                "{n_leads:>2} leads at {fs} Hz, 200 records joined ({:.0} s): reference beats {}  Se {se:.2}%  PPV {ppv:.2}%  (TP {tp} FN {fn_} FP {fp})",
                rec.len_samples() as f64 / fs,
                tp + fn_
            );
        }
    }
}
