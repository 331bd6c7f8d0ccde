//! `qrsd`: command-line entry point.
//!
//! - `qrsd analyze PATH [--json]`: run the live pipeline over a recorded file (WFDB `.hea`, EDF, CSV).
//! - `qrsd eval ludb DIR`: score the pipeline against LUDB's cardiologist annotations.
//! - `qrsd eval mitdb DIR [--noise-stress SNR_DB]`: AAMI EC57 beat-by-beat scoring on MIT-BIH.
//! - `qrsd record --source serial:PATH|sim|replay:PATH --seconds N --out DIR`: headless capture (record.rs).
//! - `qrsd serve [--source ...] [--bind ...] [--data DIR] [--config FILE]`: the service (serve.rs).

mod record;
mod serve;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use qrsd_condition::FilterConfig;
use qrsd_delineate::DelineationConfig;
use qrsd_eval::{Conditioning, EvalReport};
use qrsd_pipeline::PipelineConfig;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// The git commit this binary was built from (build.rs): short hash, `-dirty` when its sources
/// differed from it, or `unknown`.
pub const COMMIT: &str = env!("QRSD_COMMIT");

/// `qrsd --version`: the version and the commit, e.g. `qrsd 0.1.0 (commit 1a2b3c4d5e6f)`.
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("QRSD_COMMIT"),
    ")"
);

/// This build, as the service, the recorder and the analyze JSON report it.
pub fn build() -> qrsd_server::Build {
    qrsd_server::Build {
        version: env!("CARGO_PKG_VERSION").to_string(),
        commit: COMMIT.to_string(),
    }
}

#[derive(Parser)]
#[command(
    name = "qrsd",
    version = LONG_VERSION,
    about = "QRS duration measurement for CRT implantation"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Analyse a recorded ECG file (WFDB .hea, EDF/EDF+, CSV) and print its beats.
    Analyze(AnalyzeArgs),
    /// Score the pipeline against an annotated database.
    Eval(EvalArgs),
    /// Record a live source (serial amplifier, simulator, replay) into a WFDB recording; print its path.
    Record(record::RecordArgs),
    /// Serve the procedure API, live WebSocket and operator page (default: the simulator on 127.0.0.1:7474).
    Serve(serve::ServeArgs),
}

#[derive(Args)]
struct FilterArgs {
    /// Mains notch frequency.
    #[arg(long, value_enum, default_value = "50")]
    notch: Notch,
    /// Switch the 0.5 Hz high-pass off (the amplifier already filters).
    #[arg(long)]
    no_highpass: bool,
    /// Switch the 150 Hz low-pass off.
    #[arg(long)]
    no_lowpass: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Notch {
    #[value(name = "50")]
    Hz50,
    #[value(name = "60")]
    Hz60,
    Off,
}

impl FilterArgs {
    fn config(&self) -> FilterConfig {
        let notch_hz = match self.notch {
            Notch::Hz50 => Some(50.0),
            Notch::Hz60 => Some(60.0),
            Notch::Off => None,
        };
        let mut f = FilterConfig {
            notch_hz,
            ..FilterConfig::default()
        };
        if self.no_highpass {
            f.highpass_hz = None;
        }
        if self.no_lowpass {
            f.lowpass_hz = None;
        }
        f
    }
}

#[derive(Args)]
struct AnalyzeArgs {
    /// Recording: a WFDB header (.hea), an EDF/EDF+ file (.edf) or a CSV file (.csv).
    path: PathBuf,
    /// Print one JSON document (schema: docs/analyze-json.md).
    #[arg(long)]
    json: bool,
    /// Where boundaries are placed: `cardiologist` (the default: where a cardiologist marks them, the
    /// rules plus the learned per-lead correction and global boundary), or `visible` (the rules alone:
    /// where the deflection stands out of the noise, inside the QRS's slow foot; docs/algorithms.md).
    #[arg(long, value_enum, default_value = "cardiologist")]
    convention: Convention,
    #[command(flatten)]
    filter: FilterArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum Convention {
    Cardiologist,
    Visible,
}

impl Convention {
    fn delineation(self) -> DelineationConfig {
        match self {
            Convention::Cardiologist => DelineationConfig::default(),
            Convention::Visible => DelineationConfig::visible(),
        }
    }
}

#[derive(Args)]
struct EvalArgs {
    /// Database kind.
    #[arg(value_enum)]
    db: Db,
    /// Database folder (for LUDB: the folder holding RECORDS and data/).
    dir: PathBuf,
    /// Only these records (comma-separated names, e.g. 1,2,8).
    #[arg(long, value_delimiter = ',')]
    records: Option<Vec<String>>,
    /// Condition offline with zero-phase (forward-backward) filters instead of the live causal path.
    #[arg(long)]
    zero_phase: bool,
    /// Run both the causal and the zero-phase conditioning and print the offset differences.
    #[arg(long)]
    compare_zero_phase: bool,
    /// Write each record's analyze JSON here (LUDB: for the reference scorer; MIT-BIH: of the
    /// noise-stress variant with `--noise-stress`).
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Print per-record detection counts and QRSd errors.
    #[arg(long)]
    per_record: bool,
    /// Exit with status 1 when a target of docs/validation.md is missed.
    #[arg(long)]
    check: bool,
    /// MIT-BIH (and other labelled WFDB databases): add EC57 noise-stress noise (the database's `bw`
    /// and `ma` records) at this signal-to-noise ratio, dB.
    #[arg(long, value_name = "SNR_DB", allow_hyphen_values = true)]
    noise_stress: Option<f64>,
    /// MIT-BIH (and other labelled WFDB databases): resample every record to this rate first
    /// (linear interpolation; beat labels moved along), e.g. 250 for a Holter recorder's rate.
    #[arg(long, value_name = "HZ")]
    resample_hz: Option<f64>,
    /// Override a pipeline setting for an experiment, e.g. `delineation.lead_onset_fraction=0.05`.
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    overrides: Vec<String>,
    /// LUDB: also score out of fold (5 folds grouped by record: each record scored by models trained
    /// without it, through the real pipeline), next to the shipped models' in-sample figures.
    #[arg(long)]
    oof: bool,
    /// LUDB: read each record's boundaries from its median beat (the run's beats aligned on R and
    /// averaged sample by sample, then delineated) instead of beat by beat.
    #[arg(long)]
    median_beat: bool,
    /// LUDB with `--oof`: write each record's out-of-fold analyze JSON here.
    #[arg(long, value_name = "DIR")]
    oof_json_out: Option<PathBuf>,
    /// LUDB: train the learned models on every record (and the synthetic set) and write the model file
    /// here (the shipped one is crates/qrsd-delineate/models/boundary-models.json).
    #[arg(long, value_name = "FILE")]
    train_out: Option<PathBuf>,
    #[command(flatten)]
    filter: FilterArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum Db {
    /// LUDB: delineation against cardiologist annotations.
    Ludb,
    /// MIT-BIH Arrhythmia or any WFDB database with `.atr` beat labels: AAMI EC57 beat-by-beat scoring.
    Mitdb,
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Analyze(a) => analyze(a),
        Cmd::Eval(e) => eval(e),
        Cmd::Record(r) => record::run(r),
        Cmd::Serve(s) => serve::run(s),
    }
}

fn analyze(a: AnalyzeArgs) -> Result<()> {
    // WFDB records stream from disk: a day-long 12-lead Holter fits in a few megabytes.
    let mut reader = qrsd_formats::open_reader(&a.path)
        .with_context(|| format!("reading {}", a.path.display()))?;
    let n_leads = reader.lead_names().len();
    let mut cfg = PipelineConfig::new(reader.fs_hz(), Vec::new());
    cfg.filter = a.filter.config();
    cfg.delineation = a.convention.delineation();
    let t0 = Instant::now();
    let analysis = qrsd_pipeline::analyze_reader(&mut reader, cfg)
        .with_context(|| format!("analysing {}", a.path.display()))?;
    let dt = t0.elapsed().as_secs_f64();
    if a.json {
        // Written as it is serialised: a day-long recording's document is tens of megabytes.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        // `software` first: a reader of a long document sees which build made it without the beats.
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            software: serde_json::Value,
            #[serde(flatten)]
            analysis: &'a qrsd_pipeline::Analysis,
        }
        let doc = Doc {
            software: serde_json::json!({"name": "qrsd", "version": env!("CARGO_PKG_VERSION"),
                "commit": COMMIT}),
            analysis: &analysis,
        };
        serde_json::to_writer(&mut out, &doc)?;
        writeln!(out)?;
        out.flush()?;
        return Ok(());
    }
    let fs = analysis.sampling_rate_hz;
    let secs = analysis.n_samples as f64 / fs;
    println!(
        "{}: {} leads, {:.0} Hz, {:.1} s, {} beats ({:.0}x real time)",
        a.path.display(),
        n_leads,
        fs,
        secs,
        analysis.beats.len(),
        secs / dt.max(1e-9)
    );
    println!(
        "{:>10} {:>10} {:>9} {:>10}",
        "r_sample", "class", "QRSd ms", "stim"
    );
    for b in &analysis.beats {
        let q = b
            .global
            .duration_ms(fs)
            .map(|v| format!("{v:.0}"))
            .unwrap_or_else(|| "-".into());
        let stim = b
            .pace_sample
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into());
        println!(
            "{:>10} {:>10} {:>9} {:>10}",
            b.r_sample,
            format!("{:?}", b.class).to_lowercase(),
            q,
            stim
        );
    }
    Ok(())
}

fn eval(e: EvalArgs) -> Result<()> {
    if let Db::Mitdb = e.db {
        return eval_mitdb(e);
    }
    if e.resample_hz.is_some() {
        bail!("--resample-hz is for labelled WFDB databases (mitdb), not LUDB");
    }
    if let Some(out) = &e.train_out {
        let t0 = Instant::now();
        let models = qrsd_eval::train::train_all(&e.dir)?;
        std::fs::write(out, models.to_json())
            .with_context(|| format!("writing {}", out.display()))?;
        println!(
            "wrote {} ({:.1} s): {}",
            out.display(),
            t0.elapsed().as_secs_f64(),
            models.about
        );
        return Ok(());
    }
    let mut cfg = PipelineConfig::new(500.0, Vec::new());
    cfg.filter = e.filter.config();
    let cfg = apply_overrides(cfg, &e.overrides)?;
    for dir in e.json_out.iter().chain(&e.oof_json_out) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let only = e.records.as_deref();
    let cond = if e.zero_phase {
        Conditioning::ZeroPhase
    } else {
        Conditioning::Causal
    };
    let site = if e.median_beat {
        qrsd_eval::SiteMethod::MedianBeat
    } else {
        qrsd_eval::SiteMethod::PerBeat
    };
    let rep = qrsd_eval::evaluate_ludb_site(&e.dir, &cfg, cond, only, e.json_out.as_deref(), site)?;
    print_report(&rep, cond, e.per_record);
    if e.oof {
        let t0 = Instant::now();
        let oof =
            qrsd_eval::train::cross_validate_site(&e.dir, &cfg, site, e.oof_json_out.as_deref())?;
        println!(
            "\nOUT OF FOLD ({} folds grouped by record, models trained in {:.1} s): every record scored by \
             models that did not see it",
            qrsd_eval::train::FOLDS,
            t0.elapsed().as_secs_f64()
        );
        print_report(&oof, cond, false);
        if e.check {
            let mut fails = qrsd_eval::target_failures(&oof.all);
            fails.extend(qrsd_eval::site::site_target_failures(&oof.per_record));
            if !fails.is_empty() {
                bail!("out-of-fold targets missed: {}", fails.join("; "));
            }
        }
    }
    if e.compare_zero_phase {
        let zp = qrsd_eval::evaluate_ludb(&e.dir, &cfg, Conditioning::ZeroPhase, only, None)?;
        print_report(&zp, Conditioning::ZeroPhase, false);
        println!("causal − zero-phase, mean error difference (ms):");
        for lead in ["II", "V1", "V6", "GLOBAL"] {
            let d = |m: &str| {
                let k = format!("{lead}.{m}");
                rep.all.stats(&k).mean - zp.all.stats(&k).mean
            };
            println!(
                "  {lead:<7} onset {:+.2}  offset {:+.2}  qrsd {:+.2}",
                d("onset"),
                d("offset"),
                d("qrsd")
            );
        }
    }
    if e.check {
        let fails = qrsd_eval::target_failures(&rep.all);
        if !fails.is_empty() {
            bail!("targets missed: {}", fails.join("; "));
        }
        println!("all targets met");
    }
    Ok(())
}

fn eval_mitdb(e: EvalArgs) -> Result<()> {
    // The rate and leads are each record's own (`analyze` takes them from the record).
    let mut cfg = PipelineConfig::new(360.0, Vec::new());
    cfg.filter = e.filter.config();
    let cfg = apply_overrides(cfg, &e.overrides)?;
    let noise = e.noise_stress.map(|snr_db| qrsd_eval::mitdb::NoiseStress {
        snr_db,
        noise_records: vec![e.dir.join("bw.hea"), e.dir.join("ma.hea")],
    });
    if let Some(dir) = &e.json_out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let rep = qrsd_eval::mitdb::evaluate_mitdb_at(
        &e.dir,
        &cfg,
        e.records.as_deref(),
        noise.as_ref(),
        e.json_out.as_deref(),
        e.resample_hz,
    )?;
    print!("{}", qrsd_eval::mitdb::format_report(&rep, e.per_record));
    Ok(())
}

fn print_report(rep: &EvalReport, cond: Conditioning, per_record: bool) {
    let label = match cond {
        Conditioning::Causal => "live causal conditioning",
        Conditioning::ZeroPhase => "zero-phase conditioning (offline)",
    };
    println!("LUDB, {} records, {label}", rep.per_record.len());
    print!("{}", qrsd_eval::format_table("all records", &rep.all));
    if rep.paced.tp + rep.paced.fn_ > 0 {
        print!(
            "{}",
            qrsd_eval::format_table("paced records (8 34 45 74 90 93 95 104 111)", &rep.paced)
        );
    }
    print!("{}", qrsd_eval::format_class_table(&rep.all));
    print!(
        "{}",
        qrsd_eval::site::format_site_table("site level, all records", &rep.per_record)
    );
    // Paced records one by one: each is one "site" of paced beats.
    let paced: Vec<String> = qrsd_eval::site::record_medians(&rep.per_record, "GLOBAL")
        .into_iter()
        .filter(|r| qrsd_eval::LUDB_PACED.contains(&r.record.as_str()))
        .map(|r| {
            format!(
                "{} {:+.1} ({:.0} ms)",
                r.record, r.median_error_ms, r.mean_ref_ms
            )
        })
        .collect();
    if !paced.is_empty() {
        println!(
            "paced records, median global QRSd error (reference QRSd): {}",
            paced.join(", ")
        );
    }
    println!(
        "speed: {:.1} s of 12-lead signal in {:.3} s of pipeline time = {:.0}x real time",
        rep.signal_seconds,
        rep.analysis_seconds,
        rep.signal_seconds / rep.analysis_seconds.max(1e-9)
    );
    if per_record {
        for (name, t) in &rep.per_record {
            let g = t.stats("GLOBAL.qrsd");
            println!(
                "record {name:>4}: TP {:>3} FN {:>2} FP {:>2}  global qrsd {:+6.1}±{:5.1}  onset {:+6.1} offset {:+6.1}",
                t.tp,
                t.fn_,
                t.fp,
                g.mean,
                g.sd,
                t.stats("GLOBAL.onset").mean,
                t.stats("GLOBAL.offset").mean
            );
        }
    }
}

/// Apply `section.key=value` overrides ([`PipelineConfig::with_overrides`]).
fn apply_overrides(cfg: PipelineConfig, overrides: &[String]) -> Result<PipelineConfig> {
    cfg.with_overrides(overrides)
        .map_err(|e| anyhow::anyhow!("--set: {e}"))
}
