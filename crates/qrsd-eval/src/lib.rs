//! Evaluation of the beat pipeline against cardiologist annotations.
//!
//! The rules are those of the project's reference scorer (`shared/tools/score_delineation.py`), so the two
//! agree to the rounding: a reference QRS is an annotation `(`, peak, `)` triplet (peak any label except
//! p/t/u) in a lead's annotation file; the anchor lead is II (or the first annotated lead); a detection
//! matches a reference beat when its R lies within 75 ms of the reference peak or inside the reference QRS
//! (closest unused detection first); detections outside the annotated span do not count; the reference
//! global QRS is the earliest onset to the latest offset over the leads annotated for that beat.
#![deny(missing_docs)]

pub mod mitdb;
pub mod procedures;

use qrsd_pipeline::{Analysis, Beat, PipelineConfig};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub mod gbm;
pub mod median;
pub mod noisy;
pub mod site;
pub mod train;

/// LUDB's paced records (93 is biventricular).
pub const LUDB_PACED: [&str; 9] = ["8", "34", "45", "74", "90", "93", "95", "104", "111"];
/// LUDB annotation file extension of each lead.
pub const LUDB_LEADS: [(&str, &str); 12] = [
    ("I", "i"),
    ("II", "ii"),
    ("III", "iii"),
    ("AVR", "avr"),
    ("AVL", "avl"),
    ("AVF", "avf"),
    ("V1", "v1"),
    ("V2", "v2"),
    ("V3", "v3"),
    ("V4", "v4"),
    ("V5", "v5"),
    ("V6", "v6"),
];
/// Leads reported individually.
pub const REPORT_LEADS: [&str; 3] = ["II", "V1", "V6"];
/// A detection matches an annotated QRS when its R lies within this of the annotated peak, ms.
pub const MATCH_MS: f64 = 75.0;

/// Evaluation errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The database folder or its RECORDS list is unreadable.
    #[error("cannot read database {path}: {source}")]
    Database {
        /// Path tried.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A record could not be read.
    #[error("record {record}: {source}")]
    Record {
        /// Record name.
        record: String,
        /// Cause.
        source: qrsd_formats::FormatError,
    },
    /// The pipeline could not be built for a record.
    #[error("record {record}: {source}")]
    Pipeline {
        /// Record name.
        record: String,
        /// Cause.
        source: qrsd_pipeline::PipelineError,
    },
    /// An evaluation setting is out of range.
    #[error("{0}")]
    Parameter(String),
}

/// How the signal is conditioned for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conditioning {
    /// The live, causal pipeline (the product).
    #[default]
    Causal,
    /// Forward-backward (zero-phase) band filtering offline, then the same detector and delineator.
    ZeroPhase,
}

/// How a record's (a site's) QRS boundaries are read from its beats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SiteMethod {
    /// Every beat delineated on its own (the site result is the median of the beats' values).
    #[default]
    PerBeat,
    /// The run's median beat delineated, its boundaries given to every beat of the run ([`median`]).
    MedianBeat,
}

/// Error statistics of one measure, in ms (detected − reference).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Stats {
    /// Number of beats with a value.
    pub n: usize,
    /// Mean error.
    pub mean: f64,
    /// Population standard deviation.
    pub sd: f64,
    /// Mean absolute error.
    pub mae: f64,
}

impl Stats {
    /// Statistics of the values `v`.
    pub fn of(v: &[f64]) -> Self {
        if v.is_empty() {
            return Self::default();
        }
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let sd = (v.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n).sqrt();
        let mae = v.iter().map(|e| e.abs()).sum::<f64>() / n;
        Self {
            n: v.len(),
            mean,
            sd,
            mae,
        }
    }
}

/// Accumulated per-beat errors (ms) and detection counts.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Matched reference beats.
    pub tp: usize,
    /// Missed reference beats.
    pub fn_: usize,
    /// Detections inside the annotated span that match no reference beat.
    pub fp: usize,
    /// Errors keyed `LEAD.measure` (measure: onset, offset, qrsd; LEAD includes GLOBAL).
    pub errors: BTreeMap<String, Vec<f64>>,
    /// Reference QRSd (ms) of each beat behind `errors["LEAD.qrsd"]`, in the same order, keyed `LEAD`.
    pub ref_qrsd_ms: BTreeMap<String, Vec<f64>>,
    /// QRSd errors (ms) by the class qrsd gave the beat, keyed `class/LEAD` (e.g. `ectopic/GLOBAL`).
    pub qrsd_by_class: BTreeMap<String, Vec<f64>>,
}

impl Tally {
    /// Add `other`'s counts and errors to these.
    pub fn add(&mut self, other: &Tally) {
        self.tp += other.tp;
        self.fn_ += other.fn_;
        self.fp += other.fp;
        for (k, v) in &other.errors {
            self.errors
                .entry(k.clone())
                .or_default()
                .extend_from_slice(v);
        }
        for (k, v) in &other.ref_qrsd_ms {
            self.ref_qrsd_ms
                .entry(k.clone())
                .or_default()
                .extend_from_slice(v);
        }
        for (k, v) in &other.qrsd_by_class {
            self.qrsd_by_class
                .entry(k.clone())
                .or_default()
                .extend_from_slice(v);
        }
    }

    /// Sensitivity in %.
    pub fn se(&self) -> f64 {
        100.0 * self.tp as f64 / (self.tp + self.fn_).max(1) as f64
    }

    /// Positive predictivity in %.
    pub fn ppv(&self) -> f64 {
        100.0 * self.tp as f64 / (self.tp + self.fp).max(1) as f64
    }

    /// Statistics of one measure.
    pub fn stats(&self, key: &str) -> Stats {
        self.errors
            .get(key)
            .map(|v| Stats::of(v))
            .unwrap_or_default()
    }

    /// Share (%) of matched beats for which `key` was reported.
    pub fn coverage(&self, key: &str) -> f64 {
        100.0 * self.stats(key).n as f64 / self.tp.max(1) as f64
    }
}

/// One reference QRS (samples).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefQrs {
    /// Onset.
    pub onset: i64,
    /// Peak.
    pub peak: i64,
    /// Offset.
    pub offset: i64,
}

/// Reference QRS triplets from one annotation file (empty when the file is missing or unreadable).
pub fn reference_qrs(path: &Path) -> Vec<RefQrs> {
    let Ok(ann) = qrsd_formats::wfdb::read_annotations(path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, a) in ann.iter().enumerate() {
        if matches!(a.symbol.as_str(), "(" | ")" | "p" | "t" | "T" | "u" | "U") {
            continue;
        }
        let on = i
            .checked_sub(1)
            .and_then(|j| ann.get(j))
            .filter(|b| b.symbol == "(");
        let off = ann.get(i + 1).filter(|b| b.symbol == ")");
        if let (Some(on), Some(off)) = (on, off) {
            out.push(RefQrs {
                onset: on.sample,
                peak: a.sample,
                offset: off.sample,
            });
        }
    }
    out
}

/// Score one record's beats against its LUDB annotations (`base` = path without extension).
pub fn score_ludb_record(base: &Path, fs_hz: f64, beats: &[Beat]) -> Tally {
    score_ludb_record_with(base, fs_hz, beats, None)
}

/// [`score_ludb_record`] with the global reference taken over `global_leads` only (e.g. the two leads
/// a Holter excerpt keeps, as a database annotated on those leads would mark it); `None`: all 12.
pub fn score_ludb_record_with(
    base: &Path,
    fs_hz: f64,
    beats: &[Beat],
    global_leads: Option<&[&str]>,
) -> Tally {
    let mut t = Tally::default();
    let tol = MATCH_MS * fs_hz / 1000.0;
    let ms = 1000.0 / fs_hz;
    let per_lead: Vec<(&str, Vec<RefQrs>)> = LUDB_LEADS
        .iter()
        .map(|(name, ext)| (*name, reference_qrs(&base.with_extension(ext))))
        .collect();
    let anchor = per_lead
        .iter()
        .find(|(n, v)| *n == "II" && !v.is_empty())
        .or_else(|| per_lead.iter().find(|(_, v)| !v.is_empty()));
    let Some((_, anchor)) = anchor else { return t };
    let (first, last) = (
        anchor[0].onset as f64 - tol,
        anchor[anchor.len() - 1].offset as f64 + tol,
    );
    let beats: Vec<&Beat> = beats
        .iter()
        .filter(|b| (first..=last).contains(&(b.r_sample as f64)))
        .collect();
    let mut used = vec![false; beats.len()];
    for q in anchor {
        let mut best: Option<(usize, f64)> = None;
        for (j, b) in beats.iter().enumerate() {
            let r = b.r_sample as i64;
            let d = (r - q.peak).abs() as f64;
            if !used[j]
                && (d <= tol || (q.onset..=q.offset).contains(&r))
                && best.is_none_or(|(_, bd)| d < bd)
            {
                best = Some((j, d));
            }
        }
        let Some((j, _)) = best else {
            t.fn_ += 1;
            continue;
        };
        used[j] = true;
        t.tp += 1;
        let b = beats[j];
        let near = |v: &Vec<RefQrs>| {
            v.iter()
                .find(|r| ((r.peak - q.peak).abs() as f64) <= tol)
                .copied()
        };
        let matched: Vec<RefQrs> = per_lead
            .iter()
            .filter(|(n, _)| global_leads.is_none_or(|g| g.contains(n)))
            .filter_map(|(_, v)| near(v))
            .collect();
        let mut refs: Vec<(&str, Option<(i64, i64)>)> = vec![(
            "GLOBAL",
            (!matched.is_empty()).then(|| {
                (
                    matched.iter().map(|r| r.onset).min().unwrap_or(0),
                    matched.iter().map(|r| r.offset).max().unwrap_or(0),
                )
            }),
        )];
        for lead in REPORT_LEADS {
            let v = per_lead
                .iter()
                .find(|(n, _)| *n == lead)
                .and_then(|(_, v)| near(v));
            refs.push((lead, v.map(|r| (r.onset, r.offset))));
        }
        for (lead, r) in refs {
            let Some((ron, roff)) = r else { continue };
            let d = if lead == "GLOBAL" {
                Some(&b.global)
            } else {
                b.lead(lead)
            };
            let (on, off) = d
                .map(|d| (d.onset_sample, d.offset_sample))
                .unwrap_or((None, None));
            let mut push =
                |m: &str, v: f64| t.errors.entry(format!("{lead}.{m}")).or_default().push(v);
            if let Some(on) = on {
                push("onset", (on as i64 - ron) as f64 * ms);
            }
            if let Some(off) = off {
                push("offset", (off as i64 - roff) as f64 * ms);
            }
            if let (Some(on), Some(off)) = (on, off) {
                let e = ((off as i64 - on as i64) - (roff - ron)) as f64 * ms;
                push("qrsd", e);
                t.qrsd_by_class
                    .entry(format!("{}/{lead}", class_word(b.class)))
                    .or_default()
                    .push(e);
                t.ref_qrsd_ms
                    .entry(lead.to_string())
                    .or_default()
                    .push((roff - ron) as f64 * ms);
            }
        }
    }
    t.fp += used.iter().filter(|u| !**u).count();
    t
}

fn class_word(c: qrsd_pipeline::BeatClass) -> &'static str {
    use qrsd_pipeline::BeatClass as C;
    match c {
        C::Intrinsic => "intrinsic",
        C::Paced => "paced",
        C::Ectopic => "ectopic",
        C::Unknown => "unknown",
        C::Noise => "noise",
    }
}

/// Per-beat QRSd error by the class qrsd gave the beat (the matched beats of `t`): mean ± SD (beats)
/// for GLOBAL, II, V1 and V6, one line per class that holds beats.
pub fn format_class_table(t: &Tally) -> String {
    let mut s = String::from("per beat by qrsd's beat class: QRSd error mean ± SD (beats)\n");
    s += &format!("{:<10}", "class");
    for lead in ["GLOBAL", "II", "V1", "V6"] {
        s += &format!(" {:>20}", lead);
    }
    s += "\n";
    for class in ["intrinsic", "paced", "ectopic", "unknown", "noise"] {
        let cells: Vec<String> = ["GLOBAL", "II", "V1", "V6"]
            .iter()
            .map(|lead| {
                let v = t
                    .qrsd_by_class
                    .get(&format!("{class}/{lead}"))
                    .map(|v| Stats::of(v))
                    .unwrap_or_default();
                if v.n == 0 {
                    "-".to_string()
                } else {
                    format!("{:+.1} ± {:.1} ({})", v.mean, v.sd, v.n)
                }
            })
            .collect();
        if cells.iter().all(|c| c == "-") {
            continue;
        }
        s += &format!("{class:<10}");
        for c in cells {
            s += &format!(" {c:>20}");
        }
        s += "\n";
    }
    s
}

/// Run the pipeline over one record.
pub fn analyze_record(
    hea: &Path,
    cfg: &PipelineConfig,
    cond: Conditioning,
) -> Result<Analysis, EvalError> {
    let name = hea.display().to_string();
    let mut rec = qrsd_formats::open(hea).map_err(|source| EvalError::Record {
        record: name.clone(),
        source,
    })?;
    let mut cfg = cfg.clone();
    if cond == Conditioning::ZeroPhase {
        for lead in rec.leads.iter_mut() {
            let x: Vec<f64> = lead.samples_uv.iter().map(|v| f64::from(*v)).collect();
            let y = qrsd_condition::filter::filtfilt(&cfg.filter, rec.fs_hz, &x).map_err(|e| {
                EvalError::Pipeline {
                    record: name.clone(),
                    source: qrsd_pipeline::PipelineError::Condition(e),
                }
            })?;
            lead.samples_uv = y.iter().map(|v| *v as f32).collect();
        }
        cfg.filter = qrsd_condition::FilterConfig::off();
    }
    qrsd_pipeline::analyze(&rec, cfg).map_err(|source| EvalError::Pipeline {
        record: name,
        source,
    })
}

/// [`analyze_record`], with the boundaries read as `site` says.
pub fn analyze_record_site(
    hea: &Path,
    cfg: &PipelineConfig,
    cond: Conditioning,
    site: SiteMethod,
) -> Result<Analysis, EvalError> {
    let mut a = analyze_record(hea, cfg, cond)?;
    if site == SiteMethod::MedianBeat {
        let name = hea.display().to_string();
        let rec = qrsd_formats::open(hea).map_err(|source| EvalError::Record {
            record: name.clone(),
            source,
        })?;
        let mut cfg = cfg.clone();
        cfg.fs_hz = rec.fs_hz;
        cfg.lead_names = rec.leads.iter().map(|l| l.name.clone()).collect();
        let leads: Vec<&[f32]> = rec.leads.iter().map(|l| l.samples_uv.as_slice()).collect();
        let c = median::condition(&leads, &cfg).map_err(|source| EvalError::Pipeline {
            record: name,
            source,
        })?;
        a.beats = median::with_median_beat(&a.beats, &c, &cfg);
    }
    Ok(a)
}

/// The records a LUDB-style database lists in its `RECORDS` file: `(name, path without extension)`.
pub(crate) fn ludb_records(db_dir: &Path) -> Result<Vec<(String, PathBuf)>, EvalError> {
    let list = db_dir.join("RECORDS");
    let text = std::fs::read_to_string(&list)
        .map_err(|source| EvalError::Database { path: list, source })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|rec| {
            let base = db_dir.join(rec);
            let name = base
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, base)
        })
        .collect())
}

/// Result of a database evaluation.
#[derive(Debug, Clone, Default)]
pub struct EvalReport {
    /// All records.
    pub all: Tally,
    /// LUDB's paced records only.
    pub paced: Tally,
    /// Per record.
    pub per_record: Vec<(String, Tally)>,
    /// Seconds of signal analysed and wall-clock seconds spent in the pipeline.
    pub signal_seconds: f64,
    /// Wall-clock seconds in `analyze` (reading excluded).
    pub analysis_seconds: f64,
}

/// Evaluate on LUDB at `db_dir` (holding `RECORDS` and `data/`). `only` restricts the records.
/// When `json_out` is given, each record's `qrsd analyze --json` document is written there.
pub fn evaluate_ludb(
    db_dir: &Path,
    cfg: &PipelineConfig,
    cond: Conditioning,
    only: Option<&[String]>,
    json_out: Option<&Path>,
) -> Result<EvalReport, EvalError> {
    evaluate_ludb_site(db_dir, cfg, cond, only, json_out, SiteMethod::PerBeat)
}

/// [`evaluate_ludb`] with the boundaries read as `site` says.
pub fn evaluate_ludb_site(
    db_dir: &Path,
    cfg: &PipelineConfig,
    cond: Conditioning,
    only: Option<&[String]>,
    json_out: Option<&Path>,
    site: SiteMethod,
) -> Result<EvalReport, EvalError> {
    let mut rep = EvalReport::default();
    for (name, base) in ludb_records(db_dir)? {
        if only.is_some_and(|o| !o.contains(&name)) {
            continue;
        }
        let t0 = std::time::Instant::now();
        let a = analyze_record_site(&base.with_extension("hea"), cfg, cond, site)?;
        rep.analysis_seconds += t0.elapsed().as_secs_f64();
        if let Some(dir) = json_out {
            let path = dir.join(format!("{name}.json"));
            let body = serde_json::to_string(&a).unwrap_or_default();
            std::fs::write(&path, body).map_err(|source| EvalError::Database { path, source })?;
        }
        let t = score_ludb_record(&base, a.sampling_rate_hz, &a.beats);
        rep.signal_seconds += a.n_samples as f64 / a.sampling_rate_hz;
        rep.all.add(&t);
        if LUDB_PACED.contains(&name.as_str()) {
            rep.paced.add(&t);
        }
        rep.per_record.push((name, t));
    }
    Ok(rep)
}

/// Targets of the signal-core issue: |mean| ≤ 5 ms, SD ≤ 10 ms, coverage ≥ 95 %, Se/PPV ≥ 99.5 %.
pub fn target_failures(t: &Tally) -> Vec<String> {
    let mut fails = Vec::new();
    if t.se() < 99.5 {
        fails.push(format!("Se {:.2}% < 99.5%", t.se()));
    }
    if t.ppv() < 99.5 {
        fails.push(format!("PPV {:.2}% < 99.5%", t.ppv()));
    }
    for lead in ["II", "V1", "V6", "GLOBAL"] {
        for m in ["onset", "offset", "qrsd"] {
            let key = format!("{lead}.{m}");
            let s = t.stats(&key);
            if s.mean.abs() > 5.0 || s.sd > 10.0 {
                fails.push(format!("{key} {:+.1}±{:.1} ms", s.mean, s.sd));
            }
            if t.coverage(&key) < 95.0 {
                fails.push(format!("{key} coverage {:.1}%", t.coverage(&key)));
            }
        }
    }
    fails
}

/// The report table as text.
pub fn format_table(title: &str, t: &Tally) -> String {
    let mut s = format!(
        "{title}: reference beats {}  Se {:.2}%  PPV {:.2}%  (TP {} FN {} FP {})\n",
        t.tp + t.fn_,
        t.se(),
        t.ppv(),
        t.tp,
        t.fn_,
        t.fp
    );
    s += &format!(
        "{:<16} {:>6} {:>8} {:>8} {:>8} {:>9}\n",
        "measure", "n", "mean", "sd", "mae", "coverage"
    );
    for lead in ["II", "V1", "V6", "GLOBAL"] {
        for m in ["onset", "offset", "qrsd"] {
            let key = format!("{lead}.{m}");
            let st = t.stats(&key);
            s += &format!(
                "{:<16} {:>6} {:>8.2} {:>8.2} {:>8.2} {:>8.1}%\n",
                key,
                st.n,
                st.mean,
                st.sd,
                st.mae,
                t.coverage(&key)
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_table_lists_the_classes_that_hold_beats() {
        let mut a = Tally::default();
        a.qrsd_by_class
            .insert("ectopic/GLOBAL".into(), vec![-10.0, -20.0]);
        let mut t = Tally::default();
        t.add(&a);
        t.add(&a);
        let s = format_class_table(&t);
        assert!(
            s.contains("ectopic") && s.contains("-15.0 ± 5.0 (4)"),
            "{s}"
        );
        assert!(!s.contains("paced"), "{s}");
    }
}
