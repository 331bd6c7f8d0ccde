//! LUDB with the MIT-BIH noise-stress records added: how the delineation holds up in noise.
//!
//! `bw` (baseline wander) and `ma` (muscle), each at unit power and summed, are scaled per lead to an SNR
//! as `nst` defines it ([`crate::mitdb::qrs_signal_power`] and [`noise_power`], as for MIT-BIH) and
//! added over the whole 10 s of each record. The noise is resampled to the record's rate and every
//! record takes its own stretch of it. `cargo run --release -p qrsd-eval --example ludb_noise`.

use crate::mitdb::{noise_power, qrs_signal_power_at};
use crate::{reference_qrs, score_ludb_record_with, EvalError, Tally};
use qrsd_formats::Recording;
use qrsd_pipeline::{analyze, PipelineConfig};
use std::path::Path;

/// The noise records, channel by channel at unit power, at one sampling rate.
pub struct NoiseSource {
    fs_hz: f64,
    /// Per record (`bw`, `ma`), per channel.
    channels: Vec<Vec<Vec<f64>>>,
    len: usize,
}

impl NoiseSource {
    /// `bw` and `ma` from the MIT-BIH directory, resampled to `fs_hz`.
    pub fn load(mitdb_dir: &Path, fs_hz: f64) -> Result<Self, EvalError> {
        let mut channels = Vec::new();
        for n in ["bw", "ma"] {
            let r = qrsd_formats::open(mitdb_dir.join(format!("{n}.hea")))
                .map_err(|source| EvalError::Record {
                    record: n.to_string(),
                    source,
                })?
                .resampled_linear(fs_hz);
            channels.push(
                r.leads
                    .iter()
                    .map(|l| {
                        let x: Vec<f64> = l.samples_uv.iter().map(|v| f64::from(*v)).collect();
                        let g = noise_power(&x, fs_hz).sqrt().recip();
                        x.iter().map(|v| v * g).collect::<Vec<f64>>()
                    })
                    .collect::<Vec<_>>(),
            );
        }
        let len = channels.iter().flatten().map(Vec::len).min().unwrap_or(0);
        Ok(Self {
            fs_hz,
            channels,
            len,
        })
    }

    /// Add the noise to every lead of `rec` (at this source's rate) at `snr_db`, taking the `k`-th
    /// record's stretch; `peaks` are the reference QRS peaks (samples) that S is measured at.
    pub fn add(&self, rec: &mut Recording, peaks: &[i64], snr_db: f64, k: usize) {
        let n = rec.len_samples();
        if self.len <= n || self.channels.iter().any(Vec::is_empty) {
            return;
        }
        // Record k's own stretch (7 s apart, wrapping).
        let start = (k * 7 * self.fs_hz as usize) % (self.len - n);
        for (l, lead) in rec.leads.iter_mut().enumerate() {
            let sum: Vec<f64> = (0..n)
                .map(|i| {
                    self.channels
                        .iter()
                        .map(|c| c[l % c.len()][start + i])
                        .sum()
                })
                .collect();
            let s = qrs_signal_power_at(&lead.samples_uv, peaks, self.fs_hz);
            let p = noise_power(&sum, self.fs_hz);
            if s <= 0.0 || p <= 0.0 {
                continue;
            }
            let gain = (s / (p * 10f64.powf(snr_db / 10.0))).sqrt();
            for (y, v) in lead.samples_uv.iter_mut().zip(&sum) {
                *y += (gain * v) as f32;
            }
        }
    }
}

/// Every LUDB record at `ludb_dir` with the noise at `snr_db` (`None`: as recorded) through a pipeline
/// built from `cfg`: the summed tally and the per-record ones (for [`crate::site`]), each beat's
/// errors also kept by the beat's signal-quality label (`clean`, `noisy`, `unreadable`, ...).
pub fn evaluate_ludb_noisy(
    ludb_dir: &Path,
    noise: &NoiseSource,
    snr_db: Option<f64>,
    cfg: &PipelineConfig,
) -> Result<NoisyReport, EvalError> {
    let mut rep = NoisyReport::default();
    for (k, (name, base)) in crate::ludb_records(ludb_dir)?.into_iter().enumerate() {
        let mut rec =
            qrsd_formats::open(base.with_extension("hea")).map_err(|source| EvalError::Record {
                record: name.clone(),
                source,
            })?;
        if (rec.fs_hz - noise.fs_hz).abs() > 1e-9 {
            rec = rec.resampled_linear(noise.fs_hz);
        }
        if let Some(snr) = snr_db {
            let peaks: Vec<i64> = reference_qrs(&base.with_extension("ii"))
                .iter()
                .map(|q| q.peak)
                .collect();
            noise.add(&mut rec, &peaks, snr, k);
        }
        let mut c = cfg.clone();
        c.fs_hz = rec.fs_hz;
        let a = analyze(&rec, c).map_err(|source| EvalError::Pipeline {
            record: name.clone(),
            source,
        })?;
        let t = score_ludb_record_with(&base, rec.fs_hz, &a.beats, None);
        rep.all.add(&t);
        for q in ["clean", "noisy", "unreadable"] {
            let bq: Vec<_> = a
                .beats
                .iter()
                .filter(|b| b.quality.as_str() == q)
                .cloned()
                .collect();
            rep.by_quality
                .entry(q)
                .or_default()
                .add(&score_ludb_record_with(&base, rec.fs_hz, &bq, None));
        }
        rep.per_record.push((name, t));
    }
    Ok(rep)
}

/// What [`evaluate_ludb_noisy`] returns.
#[derive(Debug, Default)]
pub struct NoisyReport {
    /// Every beat.
    pub all: Tally,
    /// Per record.
    pub per_record: Vec<(String, Tally)>,
    /// The beats by their signal-quality label.
    pub by_quality: std::collections::BTreeMap<&'static str, Tally>,
}

/// The `p`-quantile (0–1) of the absolute values of `v`.
pub fn abs_quantile(v: &[f64], p: f64) -> Option<f64> {
    let mut a: Vec<f64> = v.iter().map(|e| e.abs()).collect();
    if a.is_empty() {
        return None;
    }
    a.sort_by(f64::total_cmp);
    Some(qrsd_measure::stats::quantile_sorted(&a, p))
}
