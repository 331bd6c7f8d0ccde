//! Per detected beat: whether it matches a labelled beat, its class, and its slope SNR per lead (peak
//! |slope| at R over the slope noise around it), on MIT-BIH with or without the EC57 noise stress.
//! Development tool for the signal-quality stage.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use qrsd_condition::{FilterConfig, LeadFilter};
use qrsd_eval::mitdb::{in_noise_segment, list_records, open_record, Group};
use qrsd_pipeline::PipelineConfig;
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
    println!("record\tr\tnoise\tmatch\tclass\tsnr0\tsnr1\tmed0\tmed1");
    for name in names {
        let (rec, ann) = open_record(&dir, &name, snr.map(|s| (noise.as_slice(), s))).unwrap();
        let fs = rec.fs_hz;
        let a = qrsd_pipeline::analyze(&rec, PipelineConfig::new(fs, Vec::new())).unwrap();
        let slopes: Vec<Vec<f64>> = rec
            .leads
            .iter()
            .map(|l| {
                let mut f = LeadFilter::new(&FilterConfig::default(), fs).unwrap();
                let x: Vec<f64> = l
                    .samples_uv
                    .iter()
                    .map(|v| f.process(f64::from(*v)))
                    .collect();
                let mut s = vec![0.0; x.len()];
                for i in 1..x.len() {
                    s[i] = (x[i] - x[i - 1]) * fs / 1000.0;
                }
                s
            })
            .collect();
        let refs: Vec<i64> = ann
            .iter()
            .filter(|a| Group::of(&a.symbol).is_some())
            .map(|a| a.sample)
            .collect();
        let ms = |v: f64| (v * fs / 1000.0).round() as usize;
        let sub = ms(50.0);
        for b in &a.beats {
            let r = b.r_sample as usize;
            if r < ms(1200.0) || r + ms(200.0) >= slopes[0].len() {
                continue;
            }
            let matched = refs
                .iter()
                .any(|&x| (x - r as i64).abs() <= ms(150.0) as i64);
            let mut out = Vec::new();
            let mut meds = Vec::new();
            for s in &slopes {
                let peak = s[r - ms(40.0)..r + ms(40.0)]
                    .iter()
                    .fold(0.0f64, |m, v| m.max(v.abs()));
                // RMS slope of 50 ms windows from R - 1.1 s to R - 0.1 s: the median.
                let mut w: Vec<f64> = (0..20)
                    .map(|k| {
                        let a = r - ms(1100.0) + k * sub;
                        (s[a..a + sub].iter().map(|v| v * v).sum::<f64>() / sub as f64).sqrt()
                    })
                    .collect();
                w.sort_by(f64::total_cmp);
                out.push(peak / w[10].max(1e-9));
                meds.push(w[10]);
            }
            println!(
                "{name}\t{r}\t{}\t{}\t{:?}\t{:.2}\t{:.2}\t{:.2}\t{:.2}",
                u8::from(snr.is_some() && in_noise_segment(r, fs)),
                u8::from(matched),
                b.class,
                out[0],
                out.get(1).copied().unwrap_or(0.0),
                meds[0],
                meds.get(1).copied().unwrap_or(0.0)
            );
        }
    }
}
