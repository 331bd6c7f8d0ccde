//! Per-lead signal-quality labels on the noise-free simulator, as `qrsd serve` runs it (12 leads,
//! hardware pace flag): the share of lead-blocks of each label, and of blocks with a `saturated`
//! lead, for the intrinsic and BiV rhythms at 1000 and 500 Hz. With `--why` it also says where the
//! value held at a saturated block's extreme came from: the blanker's stretch over a stimulus
//! (pace flag in or just before it), the recording's own exactly-0 baseline, or elsewhere.
//! `cargo run --release -p qrsd-pipeline --example quality_census [--why] [section.key=value ...]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use qrsd_condition::{FilterConfig, LeadFilter, PaceBlanker, PaceConfig, QualityMeter};
use qrsd_pipeline::{Pipeline, PipelineConfig, Quality};
use qrsd_synth::{generate, Rhythm, SynthConfig};

const LABELS: [Quality; 5] = [
    Quality::Clean,
    Quality::Noisy,
    Quality::Unreadable,
    Quality::Saturated,
    Quality::LeadOff,
];

fn main() {
    let mut why = false;
    let overrides: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| {
            let w = a == "--why";
            why |= w;
            !w
        })
        .collect();
    println!("rhythm     fs_Hz  lead-blocks  clean%  noisy%  unreadable%  saturated%  lead_off%  blocks_with_saturated%");
    for rhythm in [Rhythm::Intrinsic, Rhythm::Biv] {
        for fs in [1000.0, 500.0] {
            // The server's simulator at start-up (SimSettings defaults), 60 s.
            let cfg = SynthConfig {
                fs_hz: fs,
                rhythm,
                seed: 1,
                ..SynthConfig::default()
            };
            let rec = generate(&cfg, 60.0).unwrap();
            let names = rec.lead_names();
            let pc = PipelineConfig::new(fs, names.clone())
                .with_overrides(&overrides)
                .unwrap();
            let block = (pc.quality.block_ms * fs / 1000.0).round() as usize;
            let mut p = Pipeline::new(pc.clone()).unwrap();
            let leads = rec.leads_f32();
            let n = names.len();
            let (mut frame, mut beats) = (vec![0.0f32; n], Vec::new());
            let mut labels = vec![Quality::Clean; n];
            let mut count = [0usize; 5];
            let (mut blocks, mut sat_blocks) = (0usize, 0usize);
            for i in 0..rec.len_samples() {
                for (f, l) in frame.iter_mut().zip(&leads) {
                    *f = l[i];
                }
                p.process_frame(&frame, rec.pace_flags[i], &mut beats);
                beats.clear();
                // One look per block length sees every block's label once; the first 2 s are the
                // quality reference being learnt.
                if i % block == 0 && i as f64 >= 2.0 * fs {
                    p.lead_quality(&mut labels);
                    for q in &labels {
                        count[LABELS.iter().position(|x| x == q).unwrap()] += 1;
                    }
                    blocks += 1;
                    sat_blocks += usize::from(labels.contains(&Quality::Saturated));
                    if std::env::var("DBG").is_ok() && labels.contains(&Quality::Saturated) { println!("P {} {}", i / block, labels.iter().filter(|q| **q == Quality::Saturated).count()); }
                }
            }
            let total: usize = count.iter().sum();
            let pct = |c: usize| 100.0 * c as f64 / total.max(1) as f64;
            println!(
                "{:<10} {:>5}  {:>11}  {:>6.1}  {:>6.1}  {:>11.1}  {:>10.1}  {:>9.1}  {:>22.1}",
                format!("{rhythm:?}"),
                fs,
                total,
                pct(count[0]),
                pct(count[1]),
                pct(count[2]),
                pct(count[3]),
                pct(count[4]),
                100.0 * sat_blocks as f64 / blocks.max(1) as f64
            );
            if why {
                explain(&rec, &pc);
            }
        }
    }
}

/// The pipeline's conditioning replayed stage by stage: for each saturated lead-block, where the
/// longest run of one value at the block's extreme lies.
fn explain(rec: &qrsd_synth::SynthRecording, pc: &PipelineConfig) {
    let fs = rec.fs_hz;
    let n = rec.leads.len();
    let len = rec.len_samples();
    let mut blanker = PaceBlanker::new(pc.pace, fs, n).unwrap();
    let mut filters: Vec<LeadFilter> = (0..n)
        .map(|_| LeadFilter::new(&pc.filter, fs).unwrap())
        .collect();
    let mut meter = QualityMeter::new(pc.quality, fs, n).unwrap();
    let (mut frame, mut out, mut cond) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut blanked: Vec<Vec<f64>> = vec![Vec::with_capacity(len); n];
    let mut ev = None;
    let mut push = |out: &[f64], meter: &mut QualityMeter, blanked: &mut Vec<Vec<f64>>| {
        for ((c, f), x) in cond.iter_mut().zip(filters.iter_mut()).zip(out) {
            *c = f.process(*x);
        }
        meter.process(out, &cond);
        for (b, x) in blanked.iter_mut().zip(out) {
            b.push(*x);
        }
    };
    let (mut at_blank, mut at_zero, mut other, mut sat) = (0, 0, 0, 0);
    let mut examined = 0u64;
    let mut check = |meter: &QualityMeter, blanked: &[Vec<f64>]| {
        let block = meter.block_len();
        let blank = ((pc.pace.max_width_ms + pc.pace.blank_ms) * fs / 1000.0).ceil() as usize + 2;
        while examined < meter.blocks_done() {
            let k = examined;
            examined += 1;
            if k < 8 {
                continue;
            }
            for (l, x) in blanked.iter().enumerate() {
                if meter.label(l, k) != Some(Quality::Saturated) {
                    continue;
                }
                sat += 1;
                let s = &x[k as usize * block..(k as usize + 1) * block];
                let (lo, hi) = s
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                        (a.min(*v), b.max(*v))
                    });
                // Longest run of equal values at either extreme: (start, length, value).
                let (mut best, mut run) = ((0, 0, 0.0), 0);
                for (j, v) in s.iter().enumerate() {
                    run = if j > 0 && *v == s[j - 1] { run + 1 } else { 1 };
                    if (*v == lo || *v == hi) && run > best.1 {
                        best = (j + 1 - run, run, *v);
                    }
                }
                let start = k as usize * block + best.0;
                let flagged = (start.saturating_sub(blank)..start + best.1)
                    .any(|j| rec.pace_flags.get(j).copied().unwrap_or(false));
                if flagged {
                    at_blank += 1;
                } else if best.2 == 0.0 {
                    at_zero += 1;
                } else {
                    other += 1;
                }
                if std::env::var("DBG").is_ok() && l % 6 == 0 {
                    let mean = s.iter().sum::<f64>() / s.len() as f64;
                    let w = &x[(k as usize + 1).saturating_sub(8) * block..(k as usize + 1) * block];
                    let mean2 = w.iter().sum::<f64>() / w.len() as f64;
                    let (lo2, hi2) = w.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
                    println!("  block {k} lead {l}: lo {lo:.0} hi {hi:.0} mean {mean:.0}; run {} samples at {:.0} from {}; 2 s: lo {lo2:.0} hi {hi2:.0} mean {mean2:.0}", best.1, best.2, best.0);
                }
            }
        }
    };
    for i in 0..len {
        for (f, (_, l)) in frame.iter_mut().zip(&rec.leads) {
            *f = f64::from(l[i] as f32);
        }
        if blanker.process(&frame, rec.pace_flags[i], &mut out, &mut ev) {
            push(&out, &mut meter, &mut blanked);
            check(&meter, &blanked);
        }
    }
    while blanker.drain(&mut out) {
        push(&out, &mut meter, &mut blanked);
        check(&meter, &blanked);
    }
    println!(
        "    saturated lead-blocks (after 2 s): {sat}; held run over a blanked stimulus {at_blank}, \
         on the exactly-0 baseline {at_zero}, elsewhere {other}"
    );
}
