//! The signal-quality stage's features and labels per block on MIT-BIH records, clean or with the EC57
//! noise stress, for choosing and checking its thresholds (docs/validation.md, signal quality).
//!
//! `cargo run --release -p qrsd-eval --example quality_check -- DIR [SNR_DB] [RECORD ...]` prints one
//! line per lead and block: record, block start (s), whether noise was added there, label, features.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a development tool: fail loudly

use qrsd_condition::{FilterConfig, LeadFilter, QualityConfig, QualityMeter};
use qrsd_eval::mitdb::{in_noise_segment, list_records, open_record};
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("DIR"));
    let snr: Option<f64> = args.next().and_then(|a| a.parse().ok());
    let only: Vec<String> = args.collect();
    let names = list_records(&dir, (!only.is_empty()).then_some(only.as_slice())).unwrap();
    let noise = [
        qrsd_formats::open(dir.join("bw.hea")).unwrap(),
        qrsd_formats::open(dir.join("ma.hea")).unwrap(),
    ];
    println!("record\tt_s\tnoise\tlead\tlabel\tslope_ratio\thf_ratio\tkurtosis\traw_range_uv");
    for name in names {
        let (rec, _) = open_record(&dir, &name, snr.map(|s| (noise.as_slice(), s))).unwrap();
        let n = rec.leads.len();
        let mut filters: Vec<LeadFilter> = (0..n)
            .map(|_| LeadFilter::new(&FilterConfig::default(), rec.fs_hz).unwrap())
            .collect();
        let mut meter = QualityMeter::new(QualityConfig::default(), rec.fs_hz, n).unwrap();
        let (mut raw, mut cond) = (vec![0.0; n], vec![0.0; n]);
        let mut done = 0;
        for i in 0..rec.len_samples() {
            for l in 0..n {
                raw[l] = f64::from(rec.leads[l].samples_uv[i]);
                cond[l] = filters[l].process(raw[l]);
            }
            meter.process(&raw, &cond);
            if meter.blocks_done() > done {
                done = meter.blocks_done();
                let first = (done - 1) as usize * meter.block_len();
                let noisy = snr.is_some() && in_noise_segment(first, rec.fs_hz);
                for l in 0..n {
                    let f = meter.features(l).unwrap();
                    println!(
                        "{name}\t{:.2}\t{}\t{l}\t{}\t{:.4}\t{:.4}\t{:.2}\t{:.0}",
                        first as f64 / rec.fs_hz,
                        u8::from(noisy),
                        meter.label(l, done - 1).unwrap().as_str(),
                        f.slope_ratio,
                        f.hf_ratio,
                        f.kurtosis,
                        f.raw_range_uv
                    );
                }
            }
        }
    }
}
