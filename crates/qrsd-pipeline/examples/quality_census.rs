//! Per-lead signal-quality labels on the simulator as `qrsd serve` runs it (12 leads, hardware pace
//! flag, noise-free at start-up): the share of lead-blocks of each label, of blocks with a
//! `saturated` lead, and of beats at which every lead reads `saturated` (a measurement rejects those),
//! for the intrinsic and BiV rhythms at 1000 and 500 Hz, and BiV with a 30 ms V-V offset and
//! moderate noise (the blanker's merged windows over two stimuli). With `--why` it also says where
//! the value held at each saturated block's extreme lies: over a blanked stimulus (pace flag in or
//! just before it), on the exactly-0 µV baseline of the noise-free signal, or elsewhere.
//! `cargo run --release -p qrsd-pipeline --example quality_census [--why] [section.key=value ...]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use qrsd_condition::{LeadFilter, PaceBlanker, QualityMeter};
use qrsd_pipeline::{Pipeline, PipelineConfig, Quality};
use qrsd_synth::{generate, NoiseConfig, PaceConfig, Rhythm, SynthConfig, SynthRecording};

const LABELS: [Quality; 5] = [
    Quality::Clean,
    Quality::Noisy,
    Quality::Unreadable,
    Quality::Saturated,
    Quality::LeadOff,
];

/// Signal before this is not counted: the quality reference is being learnt, s.
const SETTLE_S: f64 = 2.0;

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
    println!(
        "case                      fs_Hz  lead-blocks  clean%  noisy%  unread%  saturated%  lead_off%  \
         blocks_any_saturated%  beats_all_saturated"
    );
    let server = |rhythm, fs| SynthConfig {
        fs_hz: fs,
        rhythm,
        seed: 1,
        ..SynthConfig::default()
    };
    let cases = [
        ("intrinsic", server(Rhythm::Intrinsic, 1000.0)),
        ("intrinsic", server(Rhythm::Intrinsic, 500.0)),
        ("biv", server(Rhythm::Biv, 1000.0)),
        ("biv", server(Rhythm::Biv, 500.0)),
        (
            "biv V-V 30 ms, noise",
            SynthConfig {
                noise: NoiseConfig::moderate(),
                pace: PaceConfig {
                    vv_offset_ms: 30.0,
                    ..PaceConfig::default()
                },
                ..server(Rhythm::Biv, 1000.0)
            },
        ),
    ];
    for (name, cfg) in cases {
        let fs = cfg.fs_hz;
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
        let (mut blocks, mut sat_blocks, mut n_beats, mut all_sat) = (0, 0, 0, 0);
        let settle = (SETTLE_S * fs) as usize;
        for i in 0..rec.len_samples() {
            for (f, l) in frame.iter_mut().zip(&leads) {
                *f = l[i];
            }
            p.process_frame(&frame, rec.pace_flags[i], &mut beats);
            for b in beats.drain(..) {
                if b.r_sample as usize >= settle {
                    p.lead_quality_at(b.r_sample, &mut labels);
                    n_beats += 1;
                    all_sat += usize::from(labels.iter().all(|q| *q == Quality::Saturated));
                }
            }
            // One look per block length sees every block's label once.
            if i % block == 0 && i >= settle {
                p.lead_quality(&mut labels);
                for q in &labels {
                    count[LABELS.iter().position(|x| x == q).unwrap()] += 1;
                }
                blocks += 1;
                sat_blocks += usize::from(labels.contains(&Quality::Saturated));
            }
        }
        let total: usize = count.iter().sum();
        let pct = |c: usize, of: usize| 100.0 * c as f64 / of.max(1) as f64;
        println!(
            "{name:<24} {fs:>6}  {total:>11}  {:>6.1}  {:>6.1}  {:>7.1}  {:>10.1}  {:>9.1}  {:>21.1}  {all_sat:>6} of {n_beats}",
            pct(count[0], total),
            pct(count[1], total),
            pct(count[2], total),
            pct(count[3], total),
            pct(count[4], total),
            pct(sat_blocks, blocks),
        );
        if why {
            explain(&rec, &pc);
        }
    }
}

/// The pipeline's conditioning replayed stage by stage: for each saturated lead-block, where the
/// longest run of one value at the block's extreme lies.
fn explain(rec: &SynthRecording, pc: &PipelineConfig) {
    let fs = rec.fs_hz;
    let n = rec.leads.len();
    let len = rec.len_samples();
    let mut blanker = PaceBlanker::new(pc.pace, fs, n).unwrap();
    let mut filters: Vec<LeadFilter> = (0..n)
        .map(|_| LeadFilter::new(&pc.filter, fs).unwrap())
        .collect();
    let mut meter = QualityMeter::new(pc.quality, fs, n).unwrap();
    let block = meter.block_len();
    let reach = ((pc.pace.max_width_ms + pc.pace.blank_ms) * fs / 1000.0).ceil() as usize + 2;
    let (mut frame, mut out, mut cond) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut blanked: Vec<Vec<f64>> = vec![Vec::with_capacity(len); n];
    let (mut ev, mut examined) = (None, 0u64);
    // Saturated lead-blocks: all, over a blanked stimulus, on the 0 µV baseline, elsewhere.
    let mut tally = [0usize; 4];
    let mut step = |out: &[f64], blanker: &PaceBlanker, meter: &mut QualityMeter| {
        for ((c, f), x) in cond.iter_mut().zip(filters.iter_mut()).zip(out) {
            *c = f.process(*x);
        }
        meter.process_marked(out, &cond, blanker.output_blanked());
        for (b, x) in blanked.iter_mut().zip(out) {
            b.push(*x);
        }
        // Labels are remembered for a few seconds only: each block is looked at as it ends.
        while examined < meter.blocks_done() {
            let k = examined as usize;
            examined += 1;
            if k * block < (SETTLE_S * fs) as usize {
                continue;
            }
            for (l, x) in blanked.iter().enumerate() {
                if meter.label(l, k as u64) != Some(Quality::Saturated) {
                    continue;
                }
                tally[0] += 1;
                let s = &x[k * block..(k + 1) * block];
                let lo = s.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                // Longest run of one value at either extreme: (start, length, value).
                let (mut best, mut run) = ((0, 0, 0.0), 0);
                for (j, v) in s.iter().enumerate() {
                    run = if j > 0 && *v == s[j - 1] { run + 1 } else { 1 };
                    if (*v == lo || *v == hi) && run > best.1 {
                        best = (j + 1 - run, run, *v);
                    }
                }
                let start = k * block + best.0;
                let flagged = (start.saturating_sub(reach)..start + best.1)
                    .any(|j| rec.pace_flags.get(j).copied().unwrap_or(false));
                tally[if flagged {
                    1
                } else if best.2 == 0.0 {
                    2
                } else {
                    3
                }] += 1;
            }
        }
    };
    for i in 0..len {
        for (f, (_, l)) in frame.iter_mut().zip(&rec.leads) {
            *f = f64::from(l[i] as f32);
        }
        if blanker.process(&frame, rec.pace_flags[i], &mut out, &mut ev) {
            step(&out, &blanker, &mut meter);
        }
    }
    while blanker.drain(&mut out) {
        step(&out, &blanker, &mut meter);
    }
    println!(
        "    saturated lead-blocks: {}; the held value over a blanked stimulus {}, on the 0 µV \
         baseline {}, elsewhere {}",
        tally[0], tally[1], tally[2], tally[3]
    );
}
