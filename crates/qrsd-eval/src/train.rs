//! Training and cross-validation of the delineator's learned models (the per-lead boundary correction
//! and the global boundary, `qrsd_delineate::learned`).
//!
//! Everything learned is scored out of fold: [`cross_validate`] splits LUDB's records into folds,
//! trains the models on the other folds' records (and on qrsd-synth recordings, whose exact truth
//! teaches the correction to leave a sharp edge alone) and runs the real pipeline with those models
//! over the held-out records. [`train_all`] trains the shipped model file on every record the same way
//! (`qrsd eval ludb DIR --train-out FILE`): one deterministic path from data to the file.
//!
//! The width prior: LUDB's beats are mostly 80–110 ms wide, so a correction fitted to them pulls every
//! QRS towards that width (wide ones come out short, narrow ones long). LUDB rows are therefore
//! weighted so that each reference-width band (< 110, 110–130, 130–150, ≥ 150 ms) carries the same
//! total weight (time-stretched copies of the records were tried too, [`STRETCHES`]).

use crate::gbm::{self, Dataset, GbmParams, Loss};
use crate::site::WIDTH_BINS_MS;
use crate::{reference_qrs, EvalError, EvalReport, RefQrs, LUDB_LEADS, MATCH_MS};
use qrsd_delineate::learned::{global_features, Forests, Models, N_FEATURES, N_GLOBAL_FEATURES};
use qrsd_pipeline::{Pipeline, PipelineConfig};
use qrsd_synth::{generate, BeatTruth, NoiseConfig, Rhythm, SynthConfig};
use std::path::Path;
use std::sync::Arc;

/// Per-lead correction forests: absolute error (LUDB's marks have outliers). 400 trees of depth ≤ 5
/// (200 of depth ≤ 4 left the simulator's sharp LBBB edges 4 ms long at 500 Hz; out of fold on LUDB
/// within ±0.4 ms SD of this).
pub const LEAD_PARAMS: GbmParams = GbmParams {
    loss: Loss::Absolute,
    trees: 400,
    max_depth: 5,
    learning_rate: 0.05,
    min_leaf_weight: 40.0,
    bins: 64,
};
/// Global boundary forests: 6 features, squared error.
pub const GLOBAL_PARAMS: GbmParams = GbmParams {
    loss: Loss::Squared,
    trees: 150,
    max_depth: 3,
    learning_rate: 0.05,
    min_leaf_weight: 40.0,
    bins: 64,
};
/// Weight of a synthetic per-lead row against a LUDB row of average weight. At 1
/// the width-weighted LUDB rows made the simulator's sharp edges 2–4 ms long (firmware-sim's 150 ms
/// LBBB at 500 Hz: median 4 ms, max 8, against ≤ 3 / ≤ 5); at 2 they stay at their truth, for
/// 0–1 ms more site-level SD on LUDB out of fold; at 3 the LUDB SDs rose by ~1 ms.
pub const SYNTH_WEIGHT: f64 = 0.5;
/// The same for the global rows (at 4 LUDB's out-of-fold global bins moved 1–1.5 ms further apart).
pub const GLOBAL_SYNTH_WEIGHT: f64 = 2.0;
/// Folds of the cross-validation (grouped by record).
pub const FOLDS: usize = 5;
/// Seed of the fold assignment.
pub const FOLD_SEED: u64 = 17;

/// What a training recording is compared against.
enum Reference {
    /// LUDB: per lead (in the recording's lead order), the annotated QRS triplets.
    Ludb(Vec<Vec<RefQrs>>),
    /// qrsd-synth: the per-beat truth.
    Synth(Vec<BeatTruth>),
}

/// One recording used for training.
struct Case {
    name: String,
    /// LUDB record (in the folds) or synthetic (always trained on, never scored).
    ludb: bool,
    fs_hz: f64,
    lead_names: Vec<String>,
    leads: Vec<Vec<f32>>,
    pace_flags: Option<Vec<bool>>,
    reference: Reference,
    /// Synthetic with realistic (LUDB-like, slow-footed) edges: every lead's reference is the QRS
    /// support. The feet were calibrated on LUDB's median edge profile measured from each lead's
    /// annotated onset and offset, so a cardiologist marks a lead's QRS where its foot starts, which
    /// in the simulator is the support; the per-lead threshold truth (10 µV, 1 % of the peak) lies
    /// 4–6 ms inside it and taught the forest to stop short of the foot.
    support_truth: bool,
}

/// One lead of a delineated beat with its reference.
#[derive(Clone, Copy)]
struct TLead {
    rules: (i64, i64),
    features: [[f64; N_FEATURES]; 2],
    /// As reported (after the learned correction).
    fin: Option<(i64, i64)>,
    reference: (i64, i64),
}

struct TBeat {
    paced: bool,
    ms: f64,
    leads: Vec<TLead>,
}

impl Case {
    /// The reference `(onset, offset)` of each lead for a beat with R at `r`.
    fn reference_at(&self, r: i64) -> Vec<Option<(i64, i64)>> {
        let tol = (MATCH_MS * self.fs_hz / 1000.0) as i64;
        match &self.reference {
            Reference::Ludb(per_lead) => per_lead
                .iter()
                .map(|refs| {
                    refs.iter()
                        .find(|q| (q.peak - r).abs() <= tol || (q.onset..=q.offset).contains(&r))
                        .map(|q| (q.onset, q.offset))
                })
                .collect(),
            Reference::Synth(truth) => {
                let b = truth.iter().find(|b| {
                    (b.onset_sample as i64..=b.offset_sample as i64).contains(&r)
                        || (b.r_sample as i64 - r).abs() <= tol
                });
                self.lead_names
                    .iter()
                    .map(|n| {
                        let b = b?;
                        let w = b.lead(n)?;
                        Some(if self.support_truth {
                            (b.onset_sample as i64, b.offset_sample as i64)
                        } else {
                            (w.onset_sample as i64, w.offset_sample as i64)
                        })
                    })
                    .collect()
            }
        }
    }

    /// Run the pipeline with `models` (global model on or off) and pair every lead of every beat
    /// with its reference.
    fn trace(&self, models: &Arc<Models>, learned_global: bool) -> Vec<TBeat> {
        let mut cfg = PipelineConfig::new(self.fs_hz, self.lead_names.clone());
        cfg.delineation.trace = true;
        cfg.delineation.learned_global = learned_global;
        cfg.models = Some(models.clone());
        let Ok(mut p) = Pipeline::new(cfg) else {
            return Vec::new();
        };
        let beats = p.run_to_end(&self.leads, self.pace_flags.as_deref());
        let traces = p.take_traces();
        let mut out = Vec::new();
        for t in &traces {
            let Some(b) = beats.iter().find(|b| b.r_sample == t.r_sample) else {
                continue;
            };
            let refs = self.reference_at(t.r_sample as i64);
            let mut leads = Vec::new();
            for (li, lt) in t.leads.iter().enumerate() {
                let (Some(on), Some(off)) = (lt.rules.onset_sample, lt.rules.offset_sample) else {
                    continue;
                };
                let Some(Some(reference)) = refs.get(li).copied() else {
                    continue;
                };
                let fin = b.leads.get(li).and_then(|l| {
                    Some((
                        l.bounds.onset_sample? as i64,
                        l.bounds.offset_sample? as i64,
                    ))
                });
                leads.push(TLead {
                    rules: (on as i64, off as i64),
                    features: lt.features,
                    fin,
                    reference,
                });
            }
            if !leads.is_empty() {
                out.push(TBeat {
                    paced: b.pace_sample.is_some(),
                    ms: 1000.0 / self.fs_hz,
                    leads,
                });
            }
        }
        out
    }
}

fn bin_of(w_ms: f64) -> usize {
    WIDTH_BINS_MS
        .iter()
        .position(|(lo, hi)| (*lo..*hi).contains(&w_ms))
        .unwrap_or(0)
}

/// Weights that give each width band of the LUDB rows the same total (a band with no rows gets
/// none), normalised to a mean of 1 over those rows.
fn band_weights(widths_ms: &[f64]) -> [f64; 4] {
    let mut n = [0usize; 4];
    for w in widths_ms {
        n[bin_of(*w)] += 1;
    }
    let bands = n.iter().filter(|c| **c > 0).count().max(1) as f64;
    let total = widths_ms.len() as f64;
    n.map(|c| {
        if c == 0 {
            0.0
        } else {
            total / (bands * c as f64)
        }
    })
}

/// Small deterministic generator (lead subsets, fold assignment).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// Per-lead rows (onset, offset) of the traced beats of the cases in `use_case`.
fn lead_rows(
    traced: &[(usize, Vec<TBeat>)],
    cases: &[Case],
    use_case: &dyn Fn(usize) -> bool,
) -> [Dataset; 2] {
    let mut widths = Vec::new();
    for (c, beats) in traced
        .iter()
        .filter(|(c, _)| use_case(*c) && cases[*c].ludb)
    {
        let _ = c;
        for b in beats {
            for l in &b.leads {
                widths.push((l.reference.1 - l.reference.0) as f64 * b.ms);
            }
        }
    }
    let wb = band_weights(&widths);
    let mut sets = [Dataset::new(N_FEATURES), Dataset::new(N_FEATURES)];
    for (c, beats) in traced.iter().filter(|(c, _)| use_case(*c)) {
        for b in beats {
            for l in &b.leads {
                let w = if cases[*c].ludb {
                    wb[bin_of((l.reference.1 - l.reference.0) as f64 * b.ms)]
                } else {
                    SYNTH_WEIGHT
                };
                if w <= 0.0 {
                    continue;
                }
                sets[0].push(&l.features[0], (l.reference.0 - l.rules.0) as f64 * b.ms, w);
                sets[1].push(&l.features[1], (l.reference.1 - l.rules.1) as f64 * b.ms, w);
            }
        }
    }
    sets
}

/// Global rows (onset, offset) from beats delineated with the per-lead correction: every beat through
/// all its leads and through one random subset of 2, 3 and 6 of them (the reference taken over the
/// same leads), so that the model knows a 2-lead Holter excerpt. Paced onsets are left out: they
/// follow their stimulus and the delineator applies no global onset model to them.
fn global_rows(traced: &[(usize, Vec<TBeat>)], cases: &[Case]) -> [Dataset; 2] {
    let mut rng = Lcg(0x5eed);
    // (is LUDB, paced, reference width ms, features on, target on, features off, target off)
    let mut rows = Vec::new();
    for (c, beats) in traced {
        for b in beats {
            let leads: Vec<(f64, f64, f64, f64, f64, f64)> = b
                .leads
                .iter()
                .filter_map(|l| {
                    let (on, off) = l.fin?;
                    Some((
                        on as f64 * b.ms,
                        off as f64 * b.ms,
                        l.rules.0 as f64 * b.ms,
                        l.rules.1 as f64 * b.ms,
                        l.reference.0 as f64 * b.ms,
                        l.reference.1 as f64 * b.ms,
                    ))
                })
                .collect();
            let mut subsets: Vec<Vec<usize>> = vec![(0..leads.len()).collect()];
            for size in [2usize, 3, 6] {
                if leads.len() > size {
                    let mut idx: Vec<usize> = (0..leads.len()).collect();
                    for i in (1..idx.len()).rev() {
                        idx.swap(i, rng.next() as usize % (i + 1));
                    }
                    idx.truncate(size);
                    subsets.push(idx);
                }
            }
            for s in subsets.iter().filter(|s| s.len() >= 2) {
                let m = s.len();
                let k = if m >= 6 { 1 } else { 0 };
                let mut ons: Vec<f64> = s.iter().map(|&i| leads[i].0).collect();
                ons.sort_by(f64::total_cmp);
                let r_on: Vec<f64> = s.iter().map(|&i| leads[i].2).collect();
                let ref_on = s.iter().map(|&i| leads[i].4).fold(f64::INFINITY, f64::min);
                let mut offs: Vec<f64> = s.iter().map(|&i| -leads[i].1).collect();
                offs.sort_by(f64::total_cmp);
                let r_off: Vec<f64> = s.iter().map(|&i| -leads[i].3).collect();
                let ref_off = s
                    .iter()
                    .map(|&i| leads[i].5)
                    .fold(f64::NEG_INFINITY, f64::max);
                rows.push((
                    cases[*c].ludb,
                    b.paced,
                    ref_off - ref_on,
                    global_features(&ons, &r_on),
                    ref_on - ons[k],
                    global_features(&offs, &r_off),
                    -ref_off - offs[k],
                ));
            }
        }
    }
    let widths: Vec<f64> = rows.iter().filter(|r| r.0).map(|r| r.2).collect();
    let wb = band_weights(&widths);
    let mut sets = [
        Dataset::new(N_GLOBAL_FEATURES),
        Dataset::new(N_GLOBAL_FEATURES),
    ];
    for (ludb, paced, width, f_on, t_on, f_off, t_off) in rows {
        let w = if ludb {
            wb[bin_of(width)]
        } else {
            GLOBAL_SYNTH_WEIGHT
        };
        if w <= 0.0 {
            continue;
        }
        if !paced {
            sets[0].push(&f_on, t_on, w);
        }
        sets[1].push(&f_off, t_off, w);
    }
    sets
}

/// Time-stretch factors of the LUDB records used for training (1 = as recorded; a factor s adds a
/// copy of every record slowed down s× with its marks, so that a wide QRS is not rare in training).
/// Measured 2026-12-07, out of fold, global QRSd by reference width band (< 110, 110–130, 130–150,
/// ≥ 150 ms): without copies +9.1 / +2.5 / −5.1 / −12.1 ms; {1, 1.5} +7.7 / +4.9 / −2.6 / −4.5;
/// {1, 1.3, 1.6} +8.6 / +5.2 / −2.5 / −3.9. Not adopted: with the copies the simulator's sharp-edged
/// beats came out 5–10 ms long (LBBB 190 ms, BiV 100 ms, 5–10 µV EMG) while its slow-footed ones
/// stayed 6–12 ms short: the forest learned a width prior, not to read the edge.
pub const STRETCHES: [f64; 1] = [1.0];

/// `x` slowed down by `s` (`y(n) = x(n / s)`, linear interpolation): every wave `s` times wider, as
/// if conduction were `s` times slower, at the same sampling rate.
fn stretch(x: &[f32], s: f64) -> Vec<f32> {
    let n = ((x.len() as f64 - 1.0) * s).floor() as usize + 1;
    (0..n)
        .map(|i| {
            let t = i as f64 / s;
            let j = (t.floor() as usize).min(x.len() - 1);
            let f = (t - j as f64) as f32;
            let b = x[(j + 1).min(x.len() - 1)];
            x[j] + f * (b - x[j])
        })
        .collect()
}

/// The training recordings: LUDB's records (all 12 leads, with their annotations) and the synthetic
/// set (intrinsic and BiV-paced, 100–160 ms, sharp and LUDB-like edges, 250–1000 Hz, 2–20 µV EMG).
fn cases(db_dir: &Path) -> Result<Vec<Case>, EvalError> {
    let mut out = Vec::new();
    for (name, base) in crate::ludb_records(db_dir)? {
        let r =
            qrsd_formats::open(base.with_extension("hea")).map_err(|source| EvalError::Record {
                record: name.clone(),
                source,
            })?;
        let per_lead: Vec<Vec<RefQrs>> = r
            .leads
            .iter()
            .map(|l| {
                LUDB_LEADS
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(&l.name))
                    .map(|(_, ext)| reference_qrs(&base.with_extension(ext)))
                    .unwrap_or_default()
            })
            .collect();
        let lead_names: Vec<String> = r.leads.iter().map(|l| l.name.clone()).collect();
        let leads: Vec<Vec<f32>> = r.leads.into_iter().map(|l| l.samples_uv).collect();
        for &s in STRETCHES.iter().filter(|s| **s != 1.0) {
            out.push(Case {
                name: name.clone(),
                ludb: true,
                fs_hz: r.fs_hz,
                lead_names: lead_names.clone(),
                leads: leads.iter().map(|x| stretch(x, s)).collect(),
                pace_flags: None,
                support_truth: false,
                reference: Reference::Ludb(
                    per_lead
                        .iter()
                        .map(|v: &Vec<RefQrs>| {
                            v.iter()
                                .map(|q| RefQrs {
                                    onset: (q.onset as f64 * s).round() as i64,
                                    peak: (q.peak as f64 * s).round() as i64,
                                    offset: (q.offset as f64 * s).round() as i64,
                                })
                                .collect()
                        })
                        .collect(),
                ),
            });
        }
        out.push(Case {
            name,
            ludb: true,
            fs_hz: r.fs_hz,
            lead_names,
            leads,
            pace_flags: None,
            support_truth: false,
            reference: Reference::Ludb(per_lead),
        });
    }
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
                            // Seeds other than the tests'.
                            seed: 1000 + k,
                            realistic_edges,
                            ..SynthConfig::default()
                        };
                        let Ok(rec) = generate(&cfg, 12.0) else {
                            continue;
                        };
                        out.push(Case {
                            name: format!("synth{k}"),
                            ludb: false,
                            fs_hz: fs,
                            lead_names: rec.lead_names(),
                            leads: rec.leads_f32(),
                            pace_flags: Some(rec.pace_flags.clone()),
                            reference: Reference::Synth(rec.truth.clone()),
                            support_truth: realistic_edges,
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Every case's beats through the rules alone (no learned model: the rows then depend on the data and
/// the code only, not on whichever model file is embedded).
fn rules_traces(cases: &[Case]) -> Vec<(usize, Vec<TBeat>)> {
    let none = match Models::new(Forests::default(), "rules only".into()) {
        Ok(m) => Arc::new(m),
        Err(_) => return Vec::new(),
    };
    (0..cases.len())
        .map(|c| (c, cases[c].trace(&none, false)))
        .collect()
}

/// Train the models on the cases `use_case` accepts, given every case's rules-only traces.
fn train(
    cases: &[Case],
    rules: &[(usize, Vec<TBeat>)],
    use_case: &dyn Fn(usize) -> bool,
    about: String,
) -> Arc<Models> {
    let [on, off] = lead_rows(rules, cases, use_case);
    let stage1 = Forests {
        onset: gbm::fit(&on, &LEAD_PARAMS),
        offset: gbm::fit(&off, &LEAD_PARAMS),
        ..Forests::default()
    };
    let per_lead = match Models::new(stage1.clone(), String::new()) {
        Ok(m) => Arc::new(m),
        Err(_) => return Models::embedded(),
    };
    let corrected: Vec<(usize, Vec<TBeat>)> = (0..cases.len())
        .filter(|c| use_case(*c))
        .map(|c| (c, cases[c].trace(&per_lead, false)))
        .collect();
    let [g_on, g_off] = global_rows(&corrected, cases);
    let forests = Forests {
        global_onset: gbm::fit(&g_on, &GLOBAL_PARAMS),
        global_offset: gbm::fit(&g_off, &GLOBAL_PARAMS),
        ..stage1
    };
    Models::new(forests, about).map_or_else(|_| Models::embedded(), Arc::new)
}

fn describe(n_ludb: usize, n_synth: usize, what: &str) -> String {
    format!(
        "{what}: LUDB {n_ludb} records + qrsd-synth {n_synth} recordings; per-lead {LEAD_PARAMS:?}; \
         global {GLOBAL_PARAMS:?}; LUDB rows weighted equally per reference-width band; \
         synthetic weight {SYNTH_WEIGHT} (global {GLOBAL_SYNTH_WEIGHT}); written by `qrsd eval ludb DIR --train-out FILE`"
    )
}

/// Train the models on every LUDB record at `db_dir` and the synthetic set (the shipped file).
pub fn train_all(db_dir: &Path) -> Result<Arc<Models>, EvalError> {
    let cases = cases(db_dir)?;
    let rules = rules_traces(&cases);
    let n_ludb = cases.iter().filter(|c| c.ludb).count();
    let about = describe(n_ludb, cases.len() - n_ludb, "all records");
    let about = format!("{about}; LUDB also time-stretched by {STRETCHES:?}");
    Ok(train(&cases, &rules, &|_| true, about))
}

/// The fold (0..[`FOLDS`]) of each LUDB record name, from a seeded shuffle.
pub fn fold_of(names: &[String]) -> Vec<(String, usize)> {
    let mut idx: Vec<usize> = (0..names.len()).collect();
    let mut rng = Lcg(FOLD_SEED);
    for i in (1..idx.len()).rev() {
        idx.swap(i, rng.next() as usize % (i + 1));
    }
    idx.iter()
        .enumerate()
        .map(|(pos, &i)| (names[i].clone(), pos % FOLDS))
        .collect()
}

/// Out-of-fold evaluation: for each fold, the models trained without its records score them through
/// the real pipeline. Returns the combined report (every record scored once, by a model that never
/// saw it).
pub fn cross_validate(db_dir: &Path, cfg: &PipelineConfig) -> Result<EvalReport, EvalError> {
    cross_validate_site(db_dir, cfg, crate::SiteMethod::PerBeat, None)
}

/// [`cross_validate`] with the held-out records' boundaries read as `site` says; with `json_out`, each
/// record's out-of-fold `qrsd analyze --json` document is written there.
pub fn cross_validate_site(
    db_dir: &Path,
    cfg: &PipelineConfig,
    site: crate::SiteMethod,
    json_out: Option<&Path>,
) -> Result<EvalReport, EvalError> {
    let cases = cases(db_dir)?;
    let rules = rules_traces(&cases);
    let mut names: Vec<String> = Vec::new();
    for c in cases.iter().filter(|c| c.ludb) {
        if !names.contains(&c.name) {
            names.push(c.name.clone());
        }
    }
    let folds = fold_of(&names);
    let fold_by_name = |n: &str| folds.iter().find(|(m, _)| m == n).map(|(_, f)| *f);
    let mut rep = EvalReport::default();
    for k in 0..FOLDS {
        let use_case = |c: usize| !cases[c].ludb || fold_by_name(&cases[c].name) != Some(k);
        let models = train(&cases, &rules, &use_case, format!("fold {k}"));
        let held: Vec<String> = folds
            .iter()
            .filter(|(_, f)| *f == k)
            .map(|(n, _)| n.clone())
            .collect();
        let mut cfg = cfg.clone();
        cfg.models = Some(models);
        let part = crate::evaluate_ludb_site(
            db_dir,
            &cfg,
            crate::Conditioning::Causal,
            Some(&held),
            json_out,
            site,
        )?;
        rep.signal_seconds += part.signal_seconds;
        rep.analysis_seconds += part.analysis_seconds;
        rep.all.add(&part.all);
        rep.paced.add(&part.paced);
        rep.per_record.extend(part.per_record);
    }
    // Record order as in the database, whatever the folds.
    rep.per_record
        .sort_by_key(|(n, _)| names.iter().position(|m| m == n).unwrap_or(usize::MAX));
    Ok(rep)
}
