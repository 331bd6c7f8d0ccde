//! Training data for the learned boundary correction (`scripts/train/boundary_model.py`): every LUDB
//! beat's per-lead boundaries from the rules (learned correction off), their features, and the
//! cardiologist's boundary of the same lead and beat, as CSV on stdout.
//! `cargo run --release -p qrsd-eval --example boundary_features -- ../shared/data/ludb > features.csv`
//! With `--synth` it writes the same rows for qrsd-synth recordings against their per-lead truth
//! (sharp and LUDB-like edges, 250–1000 Hz, 2–20 µV EMG; seeds other than the tests'), so that the
//! correction learns to leave an edge alone that has no foot.
//! Columns: record, lead, edge (0 onset, 1 offset), fs_hz, r_sample, rules_sample, reference_sample,
//! target_ms (reference − rules), f0 … f19.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use qrsd_eval::{reference_qrs, LUDB_LEADS, MATCH_MS};
use qrsd_pipeline::{BeatTrace, LeadTrace, Pipeline, PipelineConfig};
use qrsd_synth::{generate, NoiseConfig, Rhythm, SynthConfig};
use std::io::Write;
use std::path::PathBuf;

fn traces(
    fs_hz: f64,
    names: Vec<String>,
    leads: &[&[f32]],
    flags: Option<&[bool]>,
) -> Vec<BeatTrace> {
    let mut cfg = PipelineConfig::new(fs_hz, names);
    cfg.delineation.learned_correction = false;
    cfg.delineation.trace = true;
    let mut p = Pipeline::new(cfg).unwrap();
    let _ = p.run_to_end(leads, flags);
    p.take_traces()
}

/// The two CSV rows (onset, offset) of one lead of one beat: the rules' boundaries and their features
/// against the reference `(onset, offset)`.
fn rows(
    out: &mut impl Write,
    rec: &str,
    lead: &str,
    fs: f64,
    t: (u64, &LeadTrace),
    reference: (i64, i64),
) {
    let (r, lt) = t;
    let (Some(on), Some(off)) = (lt.rules.onset_sample, lt.rules.offset_sample) else {
        return;
    };
    for (edge, ours, theirs) in [(0, on as i64, reference.0), (1, off as i64, reference.1)] {
        let target = (theirs - ours) as f64 * 1000.0 / fs;
        write!(out, "{rec},{lead},{edge},{fs},{r},{ours},{theirs},{target}").unwrap();
        for v in &lt.features[edge] {
            write!(out, ",{v:.6}").unwrap();
        }
        writeln!(out).unwrap();
    }
}

fn synth(out: &mut impl Write) {
    let mut k = 0u64;
    for fs in [250.0, 500.0, 1000.0] {
        for (rhythm, widths) in [
            (Rhythm::Intrinsic, [100.0, 130.0, 160.0]),
            (Rhythm::Biv, [110.0, 130.0, 150.0]),
        ] {
            for qrsd in widths {
                for realistic_edges in [false, true] {
                    for emg in [2.0, 5.0, 10.0, 20.0] {
                        k += 1;
                        let cfg = SynthConfig {
                            fs_hz: fs,
                            rhythm,
                            qrsd_ms: qrsd,
                            intrinsic_qrsd_ms: qrsd + 30.0,
                            noise: NoiseConfig {
                                emg_uv_rms: emg,
                                ..NoiseConfig::moderate()
                            },
                            seed: 1000 + k,
                            realistic_edges,
                            ..SynthConfig::default()
                        };
                        let rec = generate(&cfg, 12.0).unwrap();
                        let names = rec.lead_names();
                        let leads = rec.leads_f32();
                        let views: Vec<&[f32]> = leads.iter().map(|v| v.as_slice()).collect();
                        let tr = traces(fs, names.clone(), &views, Some(rec.pace_flags.as_slice()));
                        let ms = 1000.0 / fs;
                        for t in &tr {
                            let Some(truth) = rec.truth.iter().find(|b| {
                                (b.onset_sample..=b.offset_sample).contains(&t.r_sample)
                                    || (b.r_sample as f64 - t.r_sample as f64).abs() * ms <= 75.0
                            }) else {
                                continue;
                            };
                            for (li, lt) in t.leads.iter().enumerate() {
                                let Some(w) = truth.lead(&names[li]) else {
                                    continue;
                                };
                                let reference = (w.onset_sample as i64, w.offset_sample as i64);
                                // The rhythm in the name: the global model's training leaves paced
                                // onsets out (scripts/train/global_model.py).
                                let kind = if rhythm == Rhythm::Biv {
                                    "biv"
                                } else {
                                    "intrinsic"
                                };
                                let name = format!("synth{k}-{kind}");
                                rows(out, &name, &names[li], fs, (t.r_sample, lt), reference);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--synth") {
        synth(&mut std::io::BufWriter::new(std::io::stdout().lock()));
        return;
    }
    let db = PathBuf::from(std::env::args().nth(1).expect("LUDB directory"));
    let list = std::fs::read_to_string(db.join("RECORDS")).unwrap();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for rec in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let base = db.join(rec);
        let name = base.file_name().unwrap().to_string_lossy().into_owned();
        let r = qrsd_formats::open(base.with_extension("hea")).unwrap();
        let leads: Vec<&[f32]> = r.leads.iter().map(|l| l.samples_uv.as_slice()).collect();
        let traces = traces(
            r.fs_hz,
            r.leads.iter().map(|l| l.name.clone()).collect(),
            &leads,
            None,
        );
        let tol = (MATCH_MS * r.fs_hz / 1000.0) as i64;
        for (li, lead) in r.leads.iter().enumerate() {
            let Some((_, ext)) = LUDB_LEADS
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(&lead.name))
            else {
                continue;
            };
            let refs = reference_qrs(&base.with_extension(ext));
            for t in &traces {
                let Some(lt) = t.leads.get(li) else { continue };
                let rs = t.r_sample as i64;
                let Some(q) = refs
                    .iter()
                    .find(|q| (q.peak - rs).abs() <= tol || (q.onset..=q.offset).contains(&rs))
                else {
                    continue;
                };
                rows(
                    &mut out,
                    &name,
                    &lead.name,
                    r.fs_hz,
                    (t.r_sample, lt),
                    (q.onset, q.offset),
                );
            }
        }
    }
}
