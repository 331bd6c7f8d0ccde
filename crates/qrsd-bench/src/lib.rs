//! Benchmark workloads for qrsd (issue 7), shared by the criterion benches (`cargo bench -p qrsd-bench`)
//! and the `throughput-table` binary (`cargo run --release -p qrsd-bench --bin throughput-table`).
//!
//! Every workload runs on a synthetic BiV-paced 12-lead signal from `qrsd-synth` (130 ms paced QRS,
//! 70 bpm, default noise, hardware pace flag), cut down to 1 (II), 3 (II, V1, V6) or 12 leads. The stages
//! are measured on exactly what they see inside the pipeline:
//!
//! | stage | input | public API |
//! |---|---|---|
//! | pace blanker | raw frames + pace flag | [`qrsd_condition::PaceBlanker::process`] |
//! | band filters | blanked frames, one [`qrsd_condition::LeadFilter`] per lead | `LeadFilter::process` |
//! | detector | filtered frames | [`qrsd_detect::QrsDetector::process`] |
//! | delineator | a window around each detected R | [`qrsd_delineate::Delineator::delineate_with`] |
//! | pipeline | raw `f32` frames | [`qrsd_pipeline::Pipeline::process_frame`] |
//!
//! The protocol workload encodes the 8 acquired channels into amplifier frames ([`qrsd_protocol::Encoder`],
//! 10 samples per frame as the simulator sends them) and measures [`qrsd_protocol::Decoder::feed`].
#![deny(missing_docs)]

pub mod api_fuzz;

use qrsd_condition::{FilterConfig, LeadFilter, PaceBlanker, PaceConfig};
use qrsd_delineate::{BeatHints, Delineation, DelineationConfig, Delineator};
use qrsd_detect::{Detection, DetectorConfig, QrsDetector};
use qrsd_pipeline::{Beat, Pipeline, PipelineConfig};
use qrsd_protocol::{uv_to_code, Decoder, Encoder, Event, Hello, SamplesIn, DEFAULT_LSB_NV};
use qrsd_synth::{Rhythm, SynthConfig, LEAD_NAMES_12};
use std::time::{Duration, Instant};

/// Lead counts benchmarked.
pub const LEAD_COUNTS: [usize; 3] = [1, 3, 12];
/// Sampling rates benchmarked, Hz.
pub const RATES_HZ: [f64; 3] = [500.0, 1000.0, 2000.0];

/// Errors building a workload.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The lead names used for `n` leads: 1 = II, 3 = II, V1, V6, otherwise the first `n` of the 12.
pub fn lead_names(n: usize) -> Vec<String> {
    match n {
        1 => vec!["II".into()],
        3 => vec!["II".into(), "V1".into(), "V6".into()],
        _ => LEAD_NAMES_12
            .iter()
            .take(n)
            .map(|s| s.to_string())
            .collect(),
    }
}

/// A benchmark input: `n` frames of `leads` leads at `fs_hz`.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Sampling rate, Hz.
    pub fs_hz: f64,
    /// Lead names in frame order.
    pub leads: Vec<String>,
    /// Frames.
    pub n: usize,
    /// Raw frames, frame-major `f32` µV (what the pipeline takes).
    pub raw_f32: Vec<f32>,
    /// Raw frames, frame-major `f64` µV (what the blanker takes).
    pub raw: Vec<f64>,
    /// Hardware pace flag per frame.
    pub pace: Vec<bool>,
    /// Blanked frames (output of the blanker), frame-major.
    pub blanked: Vec<f64>,
    /// Filtered frames (output of the band filters), frame-major.
    pub filtered: Vec<f64>,
    /// Filtered signal, lead-major (windows for the delineator).
    pub filtered_planar: Vec<Vec<f64>>,
    /// Detector output on `filtered`.
    pub detections: Vec<Detection>,
    /// The 8 acquired channels (I, II, V1..V6), frame-major µV, for the protocol workload.
    pub acquired: Vec<f64>,
}

impl Workload {
    /// `seconds` of paced signal with `n_leads` leads at `fs_hz`.
    pub fn new(n_leads: usize, fs_hz: f64, seconds: f64) -> Result<Self, Error> {
        let cfg = SynthConfig {
            fs_hz,
            rhythm: Rhythm::Biv,
            qrsd_ms: 130.0,
            rate_bpm: 70.0,
            seed: 7,
            ..SynthConfig::default()
        };
        let rec = qrsd_synth::generate(&cfg, seconds)?;
        let leads = lead_names(n_leads);
        let cols: Vec<&[f64]> = leads
            .iter()
            .map(|l| rec.lead(l).ok_or_else(|| format!("lead {l} missing")))
            .collect::<Result<_, _>>()?;
        let n = rec.len_samples();
        let mut raw = Vec::with_capacity(n * n_leads);
        for i in 0..n {
            raw.extend(cols.iter().map(|c| c[i]));
        }
        let acq_cols: Vec<&[f64]> = qrsd_synth::LEAD_NAMES
            .iter()
            .map(|l| rec.lead(l).ok_or_else(|| format!("lead {l} missing")))
            .collect::<Result<_, _>>()?;
        let mut acquired = Vec::with_capacity(n * acq_cols.len());
        for i in 0..n {
            acquired.extend(acq_cols.iter().map(|c| c[i]));
        }
        let raw_f32 = raw.iter().map(|&v| v as f32).collect();
        let pace = rec.pace_flags.clone();
        let mut w = Self {
            fs_hz,
            leads,
            n,
            raw_f32,
            raw,
            pace,
            blanked: Vec::new(),
            filtered: Vec::new(),
            filtered_planar: Vec::new(),
            detections: Vec::new(),
            acquired,
        };
        w.blanked = w.run_blanker()?;
        w.filtered = w.run_filters()?;
        w.filtered_planar = (0..n_leads)
            .map(|l| {
                w.filtered
                    .iter()
                    .skip(l)
                    .step_by(n_leads)
                    .copied()
                    .collect()
            })
            .collect();
        w.detections = w.run_detector()?;
        Ok(w)
    }

    /// Leads per frame.
    pub fn n_leads(&self) -> usize {
        self.leads.len()
    }

    /// Signal duration, s.
    pub fn seconds(&self) -> f64 {
        self.n as f64 / self.fs_hz
    }

    /// The whole pipeline over the raw frames; returns the beats.
    pub fn run_pipeline(&self) -> Result<Vec<Beat>, Error> {
        let mut p = Pipeline::new(PipelineConfig::new(self.fs_hz, self.leads.clone()))?;
        let mut beats = Vec::new();
        for (frame, &flag) in self.raw_f32.chunks_exact(self.n_leads()).zip(&self.pace) {
            p.process_frame(frame, flag, &mut beats);
        }
        p.finish(&mut beats);
        Ok(beats)
    }

    /// The pace blanker over the raw frames; returns the blanked frames (zeros during its look-ahead).
    pub fn run_blanker(&self) -> Result<Vec<f64>, Error> {
        let nl = self.n_leads();
        let mut b = PaceBlanker::new(PaceConfig::default(), self.fs_hz, nl)?;
        let mut out = vec![0.0; self.n * nl];
        let mut ev = None;
        for ((frame, &flag), o) in self
            .raw
            .chunks_exact(nl)
            .zip(&self.pace)
            .zip(out.chunks_exact_mut(nl))
        {
            b.process(frame, flag, o, &mut ev);
        }
        Ok(out)
    }

    /// One band filter per lead over the blanked frames; returns the filtered frames.
    pub fn run_filters(&self) -> Result<Vec<f64>, Error> {
        let nl = self.n_leads();
        let mut f = (0..nl)
            .map(|_| LeadFilter::new(&FilterConfig::default(), self.fs_hz))
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = vec![0.0; self.n * nl];
        for (x, y) in self.blanked.chunks_exact(nl).zip(out.chunks_exact_mut(nl)) {
            for ((fl, xi), yi) in f.iter_mut().zip(x).zip(y) {
                *yi = fl.process(*xi);
            }
        }
        Ok(out)
    }

    /// The QRS detector over the filtered frames; returns its detections.
    pub fn run_detector(&self) -> Result<Vec<Detection>, Error> {
        let nl = self.n_leads();
        let mut d = QrsDetector::new(DetectorConfig::default(), self.fs_hz, nl)?;
        let mut out = Vec::new();
        for frame in self.filtered.chunks_exact(nl) {
            d.process(frame, &mut out);
        }
        d.finish(&mut out);
        Ok(out)
    }

    /// A delineator for this workload.
    pub fn delineator(&self) -> Delineator {
        Delineator::new(DelineationConfig::default(), self.fs_hz, self.n_leads())
    }

    /// Delineate every detected beat (windows as the pipeline cuts them); returns the beats with a global
    /// onset and offset.
    pub fn run_delineator(&self, d: &mut Delineator) -> usize {
        let (pre, post) = (d.pre_samples(), d.post_samples());
        let mut out = Delineation::default();
        let mut found = 0;
        for det in &self.detections {
            let r = det.r_sample as usize;
            if r < pre || r + post >= self.n {
                continue;
            }
            let (a, b) = (r - pre, r + post + 1);
            let windows: Vec<&[f64]> = self.filtered_planar.iter().map(|l| &l[a..b]).collect();
            d.delineate_with(&windows, pre, BeatHints::default(), &mut out);
            if out.global.onset.is_some() && out.global.offset.is_some() {
                found += 1;
            }
        }
        found
    }

    /// Beats the delineator workload delineates (detections with a full window).
    pub fn delineated_beats(&self, d: &Delineator) -> usize {
        let (pre, post) = (d.pre_samples() as u64, d.post_samples() as u64);
        self.detections
            .iter()
            .filter(|x| x.r_sample >= pre && x.r_sample + post < self.n as u64)
            .count()
    }

    /// The 8 acquired channels as an amplifier byte stream (hello + sample frames of 10 samples).
    pub fn protocol_bytes(&self) -> Result<ProtocolStream, Error> {
        let hello = Hello {
            sample_rate_hz: self.fs_hz as u16,
            ..Hello::default()
        };
        let nc = usize::from(hello.n_channels);
        let mut enc = Encoder::new();
        let mut bytes = Vec::new();
        enc.hello(&hello, &mut bytes)?;
        let per = 10;
        let mut frames = 1;
        let mut codes = Vec::with_capacity(per * nc);
        let mut flags = Vec::with_capacity(per);
        let n = self.acquired.len() / nc;
        let mut first = 0;
        while first < n {
            let k = per.min(n - first);
            codes.clear();
            flags.clear();
            for i in first..first + k {
                codes.extend(
                    self.acquired[i * nc..(i + 1) * nc]
                        .iter()
                        .map(|&v| uv_to_code(v, DEFAULT_LSB_NV).0),
                );
                flags.push(if self.pace[i] {
                    qrsd_protocol::SAMPLE_FLAG_PACE
                } else {
                    0
                });
            }
            let lead_off = vec![0u16; k];
            enc.samples(
                &SamplesIn {
                    first_sample: first as u32,
                    n_channels: nc,
                    codes: &codes,
                    flags: &flags,
                    lead_off: &lead_off,
                    electrode_lead_off: 0,
                    channel_saturated: 0,
                },
                &mut bytes,
            )?;
            frames += 1;
            first += k;
        }
        Ok(ProtocolStream {
            bytes,
            frames,
            samples: n,
        })
    }
}

/// An encoded amplifier stream.
#[derive(Debug, Clone)]
pub struct ProtocolStream {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Frames in it (hello included).
    pub frames: usize,
    /// Samples (multi-channel) in it.
    pub samples: usize,
}

impl ProtocolStream {
    /// Decode the whole stream in `chunk`-byte reads (as a serial port delivers it); returns the samples
    /// decoded.
    pub fn decode(&self, chunk: usize) -> usize {
        let mut dec = Decoder::new();
        let mut samples = 0;
        for c in self.bytes.chunks(chunk.max(1)) {
            dec.feed(c, |ev| {
                if let Event::Samples(b) = ev {
                    samples += b.n_samples();
                }
            });
        }
        samples
    }
}

/// Best (smallest) wall time of `reps` runs of `f`, after one warm-up run.
pub fn best_of<T>(reps: usize, mut f: impl FnMut() -> T) -> Duration {
    std::hint::black_box(f());
    let mut best = Duration::MAX;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        std::hint::black_box(f());
        best = best.min(t.elapsed());
    }
    best
}
