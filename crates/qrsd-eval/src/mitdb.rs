//! Beat-by-beat evaluation on WFDB databases with beat labels (MIT-BIH Arrhythmia), the AAMI EC57 way,
//! and the EC57 noise stress test.
//!
//! Scoring (ANSI/AAMI EC57, as the WFDB tool `bxb` applies it): a detection matches a reference beat
//! when its R lies within 150 ms of the beat label (closest unused detection, references in time
//! order); the first 5 minutes are the detector's learning period and are not scored. QRS Se/PPV count
//! every labelled beat. Ventricular ectopic beats (VEB): reference `V`/`E` against class `ectopic`;
//! Se = V classed ectopic / all V (missed ones included), PPV = ectopic-classed detections that are V /
//! ectopic-classed detections matching N, S, V, Q or nothing (a fusion `F` classed ectopic counts
//! neither way, as in EC57). EC57 leaves the paced records out of the gross VEB figures; so does
//! [`MitdbReport::gross_unpaced`] (records without a `/` label). Paced beats: `/` classed `paced`;
//! fusion of paced and conducted (`f`) should not be.
//!
//! Noise stress ([`add_noise_stress`]): noise is added in alternating 2-minute segments from minute 5
//! (on 5–7, off 7–9, on 9–11, …), scaled per lead to a signal-to-noise ratio defined as the WFDB `nst`
//! tool defines it: S = (mean QRS peak-to-peak amplitude)² / 8, the peak-to-peak amplitudes measured
//! around each beat label with the largest and smallest 5 % dropped; N = mean of the noise's power in
//! 1-second chunks (chunk mean removed), again dropping the largest and smallest 5 %;
//! SNR = 10·log10(S/N). The noise is the MIT-BIH Noise Stress Test records `bw` (baseline wander) and
//! `ma` (muscle) at equal power, summed.

use crate::EvalError;
use qrsd_formats::wfdb::{read_annotations, Annotation};
use qrsd_formats::Recording;
use qrsd_pipeline::{Beat, BeatClass, PipelineConfig};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A detection matches a reference beat within this, ms (EC57).
pub const MATCH_MS: f64 = 150.0;
/// Learning period at the start of each record, not scored, s (EC57).
pub const LEARNING_S: f64 = 300.0;
/// Noise-stress segments: noise on and off in turn for this long each, from `LEARNING_S`, s (EC57).
pub const NOISE_SEGMENT_S: f64 = 120.0;
/// Half-width of the window around a beat label in which its peak-to-peak amplitude is read for the
/// noise-stress SNR, ms.
const PP_HALF_MS: f64 = 50.0;

/// Reference beat label groups (AAMI EC57 classes; paced and paced fusion apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Normal and bundle-branch-block beats, escape beats: N L R B e j n.
    N,
    /// Supraventricular ectopic beats: A a J S.
    S,
    /// Ventricular ectopic beats: V E r.
    V,
    /// Fusion of ventricular and normal: F.
    F,
    /// Paced: `/`.
    Paced,
    /// Fusion of paced and normal: f.
    PacedFusion,
    /// Unclassifiable: Q ?.
    Q,
}

impl Group {
    /// All groups, in table order.
    pub const ALL: [Group; 7] = [
        Group::N,
        Group::S,
        Group::V,
        Group::F,
        Group::Paced,
        Group::PacedFusion,
        Group::Q,
    ];

    /// The group of a beat label, `None` for annotations that are not beats (rhythm, noise, comments).
    pub fn of(symbol: &str) -> Option<Group> {
        Some(match symbol {
            "N" | "L" | "R" | "B" | "e" | "j" | "n" => Group::N,
            "A" | "a" | "J" | "S" => Group::S,
            "V" | "E" | "r" => Group::V,
            "F" => Group::F,
            "/" => Group::Paced,
            "f" => Group::PacedFusion,
            "Q" | "?" => Group::Q,
            _ => return None,
        })
    }

    fn label(self) -> &'static str {
        match self {
            Group::N => "N-like",
            Group::S => "S",
            Group::V => "V",
            Group::F => "F",
            Group::Paced => "/",
            Group::PacedFusion => "f",
            Group::Q => "Q",
        }
    }
}

/// Column of the confusion table for reference beats no detection matched (the classes are 0–4).
const MISSED: usize = 5;

fn class_index(c: BeatClass) -> usize {
    match c {
        BeatClass::Intrinsic => 0,
        BeatClass::Paced => 1,
        BeatClass::Ectopic => 2,
        BeatClass::Unknown => 3,
        BeatClass::Noise => 4,
    }
}

/// Beat-by-beat counts of one record or a sum of records: reference group × detected class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Confusion {
    /// `counts[group][class]`, class index 0–4 as [`BeatClass`] (intrinsic, paced, ectopic, unknown,
    /// noise), 5 = missed (no detection matched).
    pub counts: [[usize; 6]; 7],
    /// Scored detections that match no reference beat, per class.
    pub extra: [usize; 5],
}

impl Confusion {
    fn add(&mut self, o: &Confusion) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        for (x, y) in self.extra.iter_mut().zip(&o.extra) {
            *x += y;
        }
    }

    fn row(&self, g: Group) -> &[usize; 6] {
        &self.counts[g as usize]
    }

    /// Reference beats matched by a detection.
    pub fn tp(&self) -> usize {
        self.counts
            .iter()
            .map(|r| r[..MISSED].iter().sum::<usize>())
            .sum()
    }

    /// Reference beats missed.
    pub fn fn_(&self) -> usize {
        self.counts.iter().map(|r| r[MISSED]).sum()
    }

    /// Detections matching no reference beat.
    pub fn fp(&self) -> usize {
        self.extra.iter().sum()
    }

    /// QRS sensitivity, %.
    pub fn se(&self) -> f64 {
        pct(self.tp(), self.tp() + self.fn_())
    }

    /// QRS positive predictivity, %.
    pub fn ppv(&self) -> f64 {
        pct(self.tp(), self.tp() + self.fp())
    }

    /// QRS Se and PPV, %, with detections classed `noise` (unreadable signal without one of the
    /// record's QRS shapes, or too small and unlike the usual beat to be a QRS) left out, not counted
    /// as beats, as `bxb` counts no NOISE annotation: a matched one becomes a miss, an unmatched one
    /// is no false beat. An `unknown` detection (not delineated) is a beat of unknown class, as `Q`
    /// is. The issue's "report both ways".
    pub fn se_ppv_excluding_noise(&self) -> (f64, f64) {
        let cols = [class_index(BeatClass::Noise)];
        let matched_noise: usize = self
            .counts
            .iter()
            .map(|r| cols.iter().map(|&c| r[c]).sum::<usize>())
            .sum();
        let tp = self.tp() - matched_noise;
        let fn_ = self.fn_() + matched_noise;
        let fp = self.fp() - cols.iter().map(|&c| self.extra[c]).sum::<usize>();
        (pct(tp, tp + fn_), pct(tp, tp + fp))
    }

    /// Reference V beats classed `ectopic`.
    pub fn veb_tp(&self) -> usize {
        self.row(Group::V)[class_index(BeatClass::Ectopic)]
    }

    /// Detections classed `ectopic` that are not V beats: N and S beats and detections matching no
    /// beat, as EC57 counts them (`bxb`: Nv + Sv + Ov; fusion `F` and unclassifiable `Q` excepted).
    pub fn veb_fp(&self) -> usize {
        let e = class_index(BeatClass::Ectopic);
        Group::ALL
            .iter()
            .filter(|g| !matches!(g, Group::V | Group::F | Group::Q))
            .map(|g| self.row(*g)[e])
            .sum::<usize>()
            + self.extra[e]
    }

    /// Reference V beats in all.
    pub fn veb_total(&self) -> usize {
        self.row(Group::V).iter().sum()
    }

    /// VEB sensitivity, % (NaN without V beats).
    pub fn veb_se(&self) -> f64 {
        pct(self.veb_tp(), self.veb_total())
    }

    /// VEB positive predictivity, % (NaN without ectopic-classed detections).
    pub fn veb_ppv(&self) -> f64 {
        pct(self.veb_tp(), self.veb_tp() + self.veb_fp())
    }

    /// Scored detections classed `class`, whether they match a reference beat or not.
    pub fn classed(&self, class: BeatClass) -> usize {
        let c = class_index(class);
        self.counts.iter().map(|row| row[c]).sum::<usize>() + self.extra[c]
    }

    /// Reference beats of group `g`, and of those the share classed `class`, % (of all, missed included).
    pub fn share(&self, g: Group, class: BeatClass) -> (usize, f64) {
        let row = self.row(g);
        let n: usize = row.iter().sum();
        (n, pct(row[class_index(class)], n))
    }
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        100.0 * a as f64 / b as f64
    }
}

/// Spans `[start, end)` of ventricular flutter/fibrillation (`[` … `]` in the reference), where EC57
/// (and `bxb`) suspend beat-by-beat comparison: there are no beats to match.
fn vf_episodes(annotations: &[Annotation]) -> Vec<(i64, i64)> {
    let mut spans = Vec::new();
    let mut open = None;
    for a in annotations {
        match a.symbol.as_str() {
            "[" => open = Some(a.sample),
            "]" => {
                if let Some(s) = open.take() {
                    spans.push((s, a.sample));
                }
            }
            _ => {}
        }
    }
    if let Some(s) = open {
        spans.push((s, i64::MAX));
    }
    spans
}

/// Score detected beats against a record's annotations (`fs_hz`: the record's rate). Reference beats and
/// detections before `LEARNING_S` or inside a ventricular flutter/fibrillation episode are not scored.
pub fn score_record(annotations: &[Annotation], beats: &[Beat], fs_hz: f64) -> Confusion {
    let first = (LEARNING_S * fs_hz).round() as i64;
    let window = (MATCH_MS * fs_hz / 1000.0).round() as i64;
    let vf = vf_episodes(annotations);
    let scored = |s: i64| s >= first && !vf.iter().any(|&(a, b)| (a..b).contains(&s));
    let refs: Vec<(i64, Group)> = annotations
        .iter()
        .filter(|a| scored(a.sample))
        .filter_map(|a| Group::of(&a.symbol).map(|g| (a.sample, g)))
        .collect();
    let mut dets: Vec<(i64, BeatClass)> = beats
        .iter()
        .map(|b| (b.r_sample as i64, b.class))
        .filter(|(r, _)| scored(*r))
        .collect();
    dets.sort_by_key(|d| d.0);
    let mut used = vec![false; dets.len()];
    let mut c = Confusion::default();
    let mut lo = 0;
    for &(s, g) in &refs {
        while lo < dets.len() && dets[lo].0 < s - window {
            lo += 1;
        }
        let best = (lo..dets.len())
            .take_while(|&j| dets[j].0 <= s + window)
            .filter(|&j| !used[j])
            .min_by_key(|&j| (dets[j].0 - s).abs());
        let col = match best {
            Some(j) => {
                used[j] = true;
                class_index(dets[j].1)
            }
            None => MISSED,
        };
        c.counts[g as usize][col] += 1;
    }
    for (d, u) in dets.iter().zip(&used) {
        if !u {
            c.extra[class_index(d.1)] += 1;
        }
    }
    c
}

/// Noise-stress settings.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseStress {
    /// Signal-to-noise ratio, dB (EC57 uses 24, 18, 12, 6, 0, −6).
    pub snr_db: f64,
    /// The noise records (default: `bw` and `ma` in the database folder), summed at equal power.
    pub noise_records: Vec<PathBuf>,
}

/// Result of a database evaluation.
#[derive(Debug, Clone, Default)]
pub struct MitdbReport {
    /// Per record.
    pub per_record: Vec<(String, Confusion)>,
    /// Sum over all records.
    pub gross: Confusion,
    /// Sum over the records without paced beats (the EC57 VEB figures).
    pub gross_unpaced: Confusion,
    /// Seconds of signal analysed.
    pub signal_seconds: f64,
    /// Wall-clock seconds in the pipeline.
    pub analysis_seconds: f64,
    /// The noise-stress SNR, when noise was added.
    pub snr_db: Option<f64>,
}

/// Records listed in `db_dir/RECORDS` (only those named in `only`, when given), noise records excluded.
pub fn list_records(db_dir: &Path, only: Option<&[String]>) -> Result<Vec<String>, EvalError> {
    let list = db_dir.join("RECORDS");
    let text = std::fs::read_to_string(&list).map_err(|source| EvalError::Database {
        path: list.clone(),
        source,
    })?;
    Ok(text
        .split_whitespace()
        .filter(|n| only.is_none_or(|o| o.iter().any(|x| x == n)))
        .filter(|n| !matches!(*n, "bw" | "ma" | "em"))
        .map(str::to_owned)
        .collect())
}

/// Evaluate the pipeline on the labelled WFDB database at `db_dir` (a `RECORDS` list, `.hea`/`.dat`
/// and `.atr` per record), with noise added when `noise` is given.
pub fn evaluate_mitdb(
    db_dir: &Path,
    cfg: &PipelineConfig,
    only: Option<&[String]>,
    noise: Option<&NoiseStress>,
) -> Result<MitdbReport, EvalError> {
    evaluate_mitdb_at(db_dir, cfg, only, noise, None, None)
}

/// [`evaluate_mitdb`], writing each record's analysis (the `qrsd analyze --json` document, of the
/// noise-stress variant when noise is added) to `json_out/NAME.json` when given, with every record
/// (and the noise records) first resampled to `resample_hz` when given
/// ([`Recording::resampled_linear`]; beat labels moved to the new rate): a recorder's other rate,
/// e.g. a 250 Hz Holter.
pub fn evaluate_mitdb_at(
    db_dir: &Path,
    cfg: &PipelineConfig,
    only: Option<&[String]>,
    noise: Option<&NoiseStress>,
    json_out: Option<&Path>,
    resample_hz: Option<f64>,
) -> Result<MitdbReport, EvalError> {
    if let Some(fs) = resample_hz {
        if !(MIN_RESAMPLE_HZ..=MAX_RESAMPLE_HZ).contains(&fs) {
            return Err(EvalError::Parameter(format!(
                "resampling rate {fs} Hz: must be {MIN_RESAMPLE_HZ}-{MAX_RESAMPLE_HZ} Hz"
            )));
        }
    }
    let names = list_records(db_dir, only)?;
    let noise_recs = match noise {
        Some(n) => n
            .noise_records
            .iter()
            .map(|p| read(p).map(|r| resampled(r, resample_hz)))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let mut rep = MitdbReport {
        snr_db: noise.map(|n| n.snr_db),
        ..MitdbReport::default()
    };
    for name in names {
        let (rec, ann) = open_record_at(
            db_dir,
            &name,
            noise.map(|n| (noise_recs.as_slice(), n.snr_db)),
            resample_hz,
        )?;
        let t0 = Instant::now();
        let analysis =
            qrsd_pipeline::analyze(&rec, cfg.clone()).map_err(|source| EvalError::Pipeline {
                record: name.clone(),
                source,
            })?;
        rep.analysis_seconds += t0.elapsed().as_secs_f64();
        if let Some(dir) = json_out {
            let path = dir.join(format!("{name}.json"));
            let body = serde_json::to_string(&analysis).unwrap_or_default();
            std::fs::write(&path, body).map_err(|source| EvalError::Database { path, source })?;
        }
        rep.signal_seconds += rec.len_samples() as f64 / rec.fs_hz;
        let c = score_record(&ann, &analysis.beats, rec.fs_hz);
        rep.gross.add(&c);
        if !ann.iter().any(|a| a.symbol == "/") {
            rep.gross_unpaced.add(&c);
        }
        rep.per_record.push((name, c));
    }
    Ok(rep)
}

/// Record `name` of the database at `db_dir` with its beat labels (`.atr`); with `noise`
/// (`bw`/`ma` recordings, SNR dB), made a noise-stress variant ([`add_noise_stress`]).
pub fn open_record(
    db_dir: &Path,
    name: &str,
    noise: Option<(&[Recording], f64)>,
) -> Result<(Recording, Vec<Annotation>), EvalError> {
    open_record_at(db_dir, name, noise, None)
}

/// [`open_record`] resampled to `resample_hz` when given (before the noise is added; the noise
/// recordings must be at that rate already), its beat labels moved to the new rate.
pub fn open_record_at(
    db_dir: &Path,
    name: &str,
    noise: Option<(&[Recording], f64)>,
    resample_hz: Option<f64>,
) -> Result<(Recording, Vec<Annotation>), EvalError> {
    let base = db_dir.join(name);
    let rec = read(&base.with_extension("hea"))?;
    let atr = base.with_extension("atr");
    let mut ann = read_annotations(&atr).map_err(|source| EvalError::Record {
        record: atr.display().to_string(),
        source,
    })?;
    if let Some(fs) = resample_hz {
        let ratio = fs / rec.fs_hz;
        for a in ann.iter_mut() {
            a.sample = (a.sample as f64 * ratio).round() as i64;
        }
    }
    let mut rec = resampled(rec, resample_hz);
    if let Some((recs, snr_db)) = noise {
        add_noise_stress(&mut rec, &ann, recs, snr_db);
    }
    Ok((rec, ann))
}

/// Lowest rate [`evaluate_mitdb_at`] resamples to, Hz: below it a QRS is a handful of samples.
pub const MIN_RESAMPLE_HZ: f64 = 100.0;
/// Highest rate [`evaluate_mitdb_at`] resamples to, Hz (a 30 min record stays under 1 GB).
pub const MAX_RESAMPLE_HZ: f64 = 10_000.0;

fn resampled(rec: Recording, fs_hz: Option<f64>) -> Recording {
    match fs_hz {
        Some(fs) if fs != rec.fs_hz => rec.resampled_linear(fs),
        _ => rec,
    }
}

fn read(hea: &Path) -> Result<Recording, EvalError> {
    qrsd_formats::open(hea).map_err(|source| EvalError::Record {
        record: hea.display().to_string(),
        source,
    })
}

/// Mean of `v` without its largest and smallest 5 % (`nst`'s robust amplitude).
fn trimmed_mean(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let cut = v.len() / 20;
    let kept = &v[cut..v.len() - cut];
    kept.iter().sum::<f64>() / kept.len() as f64
}

/// Signal power of a lead for the SNR: (mean QRS peak-to-peak amplitude)² / 8, µV².
pub fn qrs_signal_power(x: &[f32], annotations: &[Annotation], fs_hz: f64) -> f64 {
    let peaks: Vec<i64> = annotations
        .iter()
        .filter(|a| Group::of(&a.symbol).is_some())
        .map(|a| a.sample)
        .collect();
    qrs_signal_power_at(x, &peaks, fs_hz)
}

/// [`qrs_signal_power`] with the QRS peaks (samples) given.
pub fn qrs_signal_power_at(x: &[f32], peaks: &[i64], fs_hz: f64) -> f64 {
    let half = (PP_HALF_MS * fs_hz / 1000.0).round() as i64;
    let pp: Vec<f64> = peaks
        .iter()
        .filter_map(|&p| {
            let lo = usize::try_from(p - half).ok()?;
            let hi = usize::try_from(p + half).ok()?.min(x.len());
            let w = x.get(lo..hi).filter(|w| !w.is_empty())?;
            let (mn, mx) = w
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
            Some(f64::from(mx - mn))
        })
        .collect();
    trimmed_mean(pp).powi(2) / 8.0
}

/// Noise power of a noise lead for the SNR: trimmed mean of the power in 1-second chunks, each chunk's
/// mean removed, µV².
pub fn noise_power(x: &[f64], fs_hz: f64) -> f64 {
    let chunk = (fs_hz.round() as usize).max(1);
    let p: Vec<f64> = x
        .chunks_exact(chunk)
        .map(|c| {
            let m = c.iter().sum::<f64>() / c.len() as f64;
            c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / c.len() as f64
        })
        .collect();
    trimmed_mean(p)
}

/// Whether sample `i` at `fs_hz` lies in a noise segment of the EC57 protocol.
pub fn in_noise_segment(i: usize, fs_hz: f64) -> bool {
    let t = i as f64 / fs_hz;
    t >= LEARNING_S && (((t - LEARNING_S) / NOISE_SEGMENT_S) as u64).is_multiple_of(2)
}

/// Add noise to `rec` the EC57 way at `snr_db`: lead `l` gets channel `l mod channels` of each noise
/// record, each normalised to unit power and summed (equal power from each), scaled to the SNR against
/// that lead's QRS amplitude (`annotations`: the record's beat labels), in the noise segments only.
/// The noise records are used from their start and must be at the record's rate; a shorter noise
/// record leaves the rest of the record clean. Each switch on or off keeps the sum continuous, as the
/// WFDB `nst` tool does: the offset it takes stays until the next switch.
pub fn add_noise_stress(
    rec: &mut Recording,
    annotations: &[Annotation],
    noise: &[Recording],
    snr_db: f64,
) {
    if noise.is_empty() {
        return;
    }
    let fs = rec.fs_hz;
    let n_samples = rec.len_samples();
    for (l, lead) in rec.leads.iter_mut().enumerate() {
        // The summed noise for this lead, each record at unit power.
        let len = noise
            .iter()
            .map(|r| r.len_samples())
            .min()
            .unwrap_or(0)
            .min(n_samples);
        let mut sum = vec![0.0f64; len];
        for r in noise {
            if r.leads.is_empty() {
                continue;
            }
            let ch = &r.leads[l % r.leads.len()].samples_uv;
            let x: Vec<f64> = ch[..len].iter().map(|v| f64::from(*v)).collect();
            let p = noise_power(&x, r.fs_hz);
            if p > 0.0 {
                let g = p.sqrt().recip();
                sum.iter_mut().zip(&x).for_each(|(s, v)| *s += g * v);
            }
        }
        let n = noise_power(&sum, fs);
        let s = qrs_signal_power(&lead.samples_uv, annotations, fs);
        if n <= 0.0 || s <= 0.0 {
            continue;
        }
        let gain = (s / (n * 10f64.powf(snr_db / 10.0))).sqrt();
        // As `nst` does, each switch of the noise on or off moves an offset that keeps the sum
        // continuous: the noise's own level at the switch (baseline wander is far from zero) would
        // otherwise make a step no recording has, and a detector would see a beat in it.
        let mut offset_uv = 0.0f64;
        let mut g_prev = 0.0f64;
        for (i, (y, v)) in lead.samples_uv.iter_mut().zip(&sum).enumerate() {
            let g = if in_noise_segment(i, fs) { gain } else { 0.0 };
            if g != g_prev && i > 0 {
                offset_uv += (g - g_prev) * sum[i - 1];
            }
            g_prev = g;
            *y += (g * v - offset_uv) as f32;
        }
    }
}

/// The EC57 tables: gross figures, the confusion table, and (with `per_record`) one line per record.
pub fn format_report(rep: &MitdbReport, per_record: bool) -> String {
    let mut s = String::new();
    let g = &rep.gross;
    let u = &rep.gross_unpaced;
    let noise = rep
        .snr_db
        .map(|d| format!(", noise stress bw+ma at {d} dB"))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "{} records{noise}; EC57: {MATCH_MS} ms window, first {LEARNING_S} s not scored",
        rep.per_record.len()
    );
    let _ = writeln!(
        s,
        "QRS  gross: Se {:.2} %  PPV {:.2} %  (TP {} FN {} FP {})",
        g.se(),
        g.ppv(),
        g.tp(),
        g.fn_(),
        g.fp()
    );
    let (se_n, ppv_n) = g.se_ppv_excluding_noise();
    let _ = writeln!(
        s,
        "QRS  gross, detections classed noise left out: Se {se_n:.2} %  PPV {ppv_n:.2} %"
    );
    let _ = writeln!(
        s,
        "VEB  gross (records without paced beats): Se {:.2} %  PPV {:.2} %  (V {} classed ectopic {}, other beats classed ectopic {})",
        u.veb_se(),
        u.veb_ppv(),
        u.veb_total(),
        u.veb_tp(),
        u.veb_fp()
    );
    let (np, paced) = g.share(Group::Paced, BeatClass::Paced);
    let (nf, fusion) = g.share(Group::PacedFusion, BeatClass::Paced);
    let _ = writeln!(
        s,
        "Paced: {np} `/` beats, {paced:.1} % classed paced; {nf} `f` beats, {fusion:.1} % classed paced"
    );
    let _ = writeln!(
        s,
        "{:<8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "label", "intrinsic", "paced", "ectopic", "unknown", "noise", "missed"
    );
    for grp in Group::ALL {
        let r = g.row(grp);
        let _ = writeln!(
            s,
            "{:<8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            grp.label(),
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5]
        );
    }
    let e = &g.extra;
    let _ = writeln!(
        s,
        "{:<8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "no beat", e[0], e[1], e[2], e[3], e[4], "-"
    );
    let _ = writeln!(
        s,
        "speed: {:.0} s of signal in {:.2} s = {:.0}x real time",
        rep.signal_seconds,
        rep.analysis_seconds,
        rep.signal_seconds / rep.analysis_seconds.max(1e-9)
    );
    if per_record {
        let _ = writeln!(
            s,
            "per record (Se -n, PPV -n: detections classed noise left out)"
        );
        let _ = writeln!(
            s,
            "{:<6} {:>6} {:>4} {:>4} {:>7} {:>7} {:>7} {:>7} {:>5} {:>7} {:>7} {:>6} {:>6} {:>7}",
            "record",
            "TP",
            "FN",
            "FP",
            "Se %",
            "PPV %",
            "Se -n",
            "PPV -n",
            "V",
            "VEB Se",
            "VEB +P",
            "V miss",
            "VEB FP",
            "paced%"
        );
        for (name, c) in &rep.per_record {
            let (np, paced) = c.share(Group::Paced, BeatClass::Paced);
            let (se_n, ppv_n) = c.se_ppv_excluding_noise();
            let _ = writeln!(
                s,
                "{:<6} {:>6} {:>4} {:>4} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>5} {:>7.1} {:>7.1} {:>6} {:>6} {:>7}",
                name,
                c.tp(),
                c.fn_(),
                c.fp(),
                c.se(),
                c.ppv(),
                se_n,
                ppv_n,
                c.veb_total(),
                c.veb_se(),
                c.veb_ppv(),
                c.veb_total() - c.veb_tp(),
                c.veb_fp(),
                if np > 0 {
                    format!("{paced:.1}")
                } else {
                    "-".into()
                }
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use qrsd_pipeline::Boundary;

    fn ann(sample: i64, symbol: &str) -> Annotation {
        Annotation {
            sample,
            symbol: symbol.into(),
            subtype: 0,
            chan: 0,
            num: 0,
            aux: None,
        }
    }

    fn beat(r: u64, class: BeatClass) -> Beat {
        Beat {
            r_sample: r,
            class,
            quality: qrsd_pipeline::Quality::Clean,
            pace_sample: None,
            global: Boundary::default(),
            leads: Vec::new(),
            leads_excluded: Vec::new(),
            vcg: Default::default(),
        }
    }

    #[test]
    fn scoring_follows_ec57_window_learning_period_and_veb_rules() {
        let fs = 360.0;
        let t = |s: f64| (s * fs) as i64;
        let anns = vec![
            ann(t(100.0), "N"), // learning period: not scored
            ann(t(301.0), "N"),
            ann(t(302.0), "V"),
            ann(t(303.0), "N"),
            ann(t(304.0), "F"),
            ann(t(305.0), "/"),
            ann(t(306.0), "f"),
            ann(t(306.5), "+"), // rhythm annotation, not a beat
            ann(t(307.0), "Q"),
            ann(t(310.0), "["), // ventricular flutter: nothing in it is scored
            ann(t(311.0), "!"),
            ann(t(320.0), "]"),
        ];
        let beats = vec![
            beat(t(100.0) as u64, BeatClass::Ectopic), // not scored
            beat(t(301.0) as u64 + 50, BeatClass::Ectopic), // 139 ms late: matches, a false VEB
            beat(t(302.0) as u64, BeatClass::Ectopic),
            beat(t(303.0) as u64 + 60, BeatClass::Intrinsic), // 167 ms late: no match
            beat(t(304.0) as u64, BeatClass::Ectopic),        // fusion classed ectopic: neither way
            beat(t(305.0) as u64, BeatClass::Paced),
            beat(t(306.0) as u64, BeatClass::Intrinsic),
            beat(t(307.0) as u64, BeatClass::Ectopic), // unclassifiable beat: neither way (bxb)
            beat(t(312.0) as u64, BeatClass::Ectopic),
        ];
        let c = score_record(&anns, &beats, fs);
        assert_eq!((c.tp(), c.fn_(), c.fp()), (6, 1, 1));
        assert_eq!(c.veb_tp(), 1);
        assert_eq!(c.veb_fp(), 1);
        assert_eq!(c.classed(BeatClass::Ectopic), 4);
        assert_eq!(c.classed(BeatClass::Paced), 1);
        assert_eq!(c.share(Group::Paced, BeatClass::Paced), (1, 100.0));
        assert_eq!(c.share(Group::PacedFusion, BeatClass::Paced), (1, 0.0));
        assert_eq!(c.row(Group::N)[MISSED], 1);
        // A detection classed noise is no beat: a matched one becomes a miss …
        let mut beats = beats;
        beats[4].class = BeatClass::Noise; // the F beat
        let c = score_record(&anns, &beats, fs);
        let (se, ppv) = c.se_ppv_excluding_noise();
        assert_eq!((se, ppv), (500.0 / 7.0, 500.0 / 6.0));
        // … an unmatched one no false beat; an undelineated (`unknown`) one is still a beat.
        beats[3].class = BeatClass::Noise; // the late detection
        beats[5].class = BeatClass::Unknown; // the `/` beat
        let c = score_record(&anns, &beats, fs);
        assert_eq!(c.se_ppv_excluding_noise(), (500.0 / 7.0, 100.0));
    }

    #[test]
    fn noise_is_scaled_to_the_snr_and_only_in_its_segments() {
        let fs = 100.0;
        let n = (20.0 * 60.0 * fs) as usize;
        // A spike train: peak-to-peak 1000 µV every second.
        let sig: Vec<f32> = (0..n)
            .map(|i| if i % 100 == 50 { 1000.0 } else { 0.0 })
            .collect();
        let anns: Vec<Annotation> = (0..n / 100)
            .map(|k| ann(k as i64 * 100 + 50, "N"))
            .collect();
        // Far from zero, as baseline wander is: a switch without an offset would step by ~500·gain.
        let noise: Vec<f32> = (0..n)
            .map(|i| if i % 2 == 0 { 510.0 } else { 490.0 })
            .collect();
        let mk = |x: Vec<f32>| Recording {
            fs_hz: fs,
            leads: vec![qrsd_formats::Lead {
                name: "MLII".into(),
                samples_uv: x,
            }],
        };
        let mut rec = mk(sig.clone());
        add_noise_stress(&mut rec, &anns, &[mk(noise)], 6.0);
        let added: Vec<f64> = rec.leads[0]
            .samples_uv
            .iter()
            .zip(&sig)
            .map(|(a, b)| f64::from(a - b))
            .collect();
        // Clean before minute 5; noise in 5–7 and 9–11; in 7–9 only the constant offset that kept
        // the switch-off continuous.
        let at = |s: f64| added[(s * fs) as usize];
        assert_eq!(at(299.0), 0.0);
        assert!(at(301.0) != at(301.01) && at(541.0) != at(541.01));
        assert_eq!(at(421.0), at(421.01));
        // No step at any switch: the added noise moves no more across one than within a segment.
        let within = (30_001..42_000)
            .map(|i| (added[i] - added[i - 1]).abs())
            .fold(0.0, f64::max);
        assert!(within > 0.0);
        for t_s in [300.0, 420.0, 540.0, 660.0] {
            let i = (t_s * fs) as usize;
            let step = (added[i] - added[i - 1]).abs();
            assert!(
                step <= within + 1e-6,
                "{t_s} s: step {step} µV, within {within} µV"
            );
        }
        // S = 1000² / 8; N = a²: 10·log10(S/N) = 6 dB.
        let p = noise_power(&added[(300.0 * fs) as usize..(420.0 * fs) as usize], fs);
        let snr = 10.0 * (1000.0f64.powi(2) / 8.0 / p).log10();
        assert!((snr - 6.0).abs() < 0.01, "{snr}");
    }
}
