//! Simulated-procedure ranking check (issue 17, target 4 and the simulated half of target 3).
//!
//! `cargo run --release -p qrsd-eval --example ranking_check [-- --procedures N] [--first K] [--list] [--vv-offsets]`
//!
//! Runs N (default 200) seeded simulated CRT procedures (`qrsd_eval::procedures`: a baseline and
//! 3–5 BiV-paced sites with random true QRSd 100–180 ms, realistic QRS edges, 2–10 µV EMG plus the
//! moderate noise, 500 and 1000 Hz alternating) through the default pipeline, the per-site
//! measurement and the recommendation, and prints: the share of procedures whose recommended site
//! is the truly shortest or within 3 ms of it (target ≥ 97 %); the share of site pairs with a true
//! difference ≥ 8 ms ordered right (target ≥ 99 %); the site error (measured − true global QRSd)
//! per true-width band and per sampling rate (target: median ≤ 3 ms at every width); the
//! stimulus-to-QRS-end error; incomplete measurements; the wall time. `--list` prints every
//! procedure whose recommendation is wrong; `--vv-offsets` programs a V-V offset per site (−20 to
//! +40 ms, a harder variant outside the check).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use qrsd_eval::procedures::{
    run_procedure, ErrorStats, Figures, ProcedureSpec, SiteError, FS_HZ, PAIR_MIN_DIFF_MS,
    RECOMMEND_TOLERANCE_MS, WIDTH_BANDS_MS,
};
use std::time::Instant;

fn arg(name: &str) -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
}

fn row(label: &str, s: Option<ErrorStats>) {
    match s {
        Some(s) => println!(
            "| {label} | {} | {:+.1} | {:+.2} | {:.2} | {:.1} |",
            s.n, s.median_ms, s.mean_ms, s.sd_ms, s.max_abs_ms
        ),
        None => println!("| {label} | 0 | – | – | – | – |"),
    }
}

fn main() {
    let n = arg("--procedures").unwrap_or(200);
    let first = arg("--first").unwrap_or(0);
    let list = std::env::args().any(|a| a == "--list");
    let vv = std::env::args().any(|a| a == "--vv-offsets");
    let t0 = Instant::now();
    let mut fig = Figures::default();
    for i in first..first + n {
        let spec = if vv {
            ProcedureSpec::new(i).with_vv_offsets()
        } else {
            ProcedureSpec::new(i)
        };
        let p = run_procedure(&spec).unwrap();
        if list && !p.recommendation_right() {
            let truth: Vec<String> = p
                .sites
                .iter()
                .map(|s| {
                    format!(
                        "{:.0}→{}",
                        s.true_qrsd_ms,
                        s.result
                            .qrsd_ms
                            .map_or("incomplete".into(), |q| format!("{q:.0}"))
                    )
                })
                .collect();
            println!(
                "procedure {i} ({} Hz, EMG {:.1} µV): recommended site {:?}, close call {}: {}",
                p.spec.fs_hz,
                p.spec.emg_uv_rms,
                p.recommended().map(|k| k + 1),
                p.recommendation.close_call,
                truth.join(", ")
            );
        }
        fig.add(&p);
    }
    let wall = t0.elapsed().as_secs_f64();

    println!(
        "{} simulated procedures ({} sites){}, default pipeline and measurement",
        fig.procedures,
        fig.sites,
        if vv {
            ", V-V offsets −20…+40 ms"
        } else {
            ""
        }
    );
    println!(
        "recommended site truly shortest or within {RECOMMEND_TOLERANCE_MS} ms: {}/{} = {:.1} % \
         (target ≥ 97 %); wrong with a close-call warning: {}; no recommendation: {}",
        fig.recommendation_right,
        fig.procedures,
        fig.recommendation_pct(),
        fig.wrong_but_close_call,
        fig.no_recommendation
    );
    println!(
        "site pairs with true difference ≥ {PAIR_MIN_DIFF_MS} ms ordered right: {}/{} = {:.2} % \
         (target ≥ 99 %); pairs with an unranked (incomplete) site: {}",
        fig.pairs_right,
        fig.pairs,
        fig.pairs_pct(),
        fig.pairs_missing
    );
    println!(
        "incomplete: {} of {} sites, {} of {} baselines; used beats that were not the expected \
         class: {}",
        fig.incomplete_sites,
        fig.sites,
        fig.incomplete_baselines,
        fig.procedures,
        fig.used_wrong_class
    );
    println!();
    println!(
        "Site error, measured − true global QRSd (ms), by true width (target |median| ≤ 3 ms):"
    );
    println!();
    println!("| true width | n | median | mean | SD | max abs |");
    println!("|---|---|---|---|---|---|");
    for b in WIDTH_BANDS_MS {
        row(&format!("{:.0}–{:.0} ms, all", b.0, b.1), fig.band(b, None));
        for fs in FS_HZ {
            row(
                &format!("{:.0}–{:.0} ms, {fs} Hz", b.0, b.1),
                fig.band(b, Some(fs)),
            );
        }
    }
    let q = |e: &SiteError| Some(e.qrsd_error_ms);
    for fs in FS_HZ {
        row(&format!("all widths, {fs} Hz"), fig.all(Some(fs), q));
    }
    row("all widths, all", fig.all(None, q));
    println!();
    println!("Other errors (ms), all sites / per rate:");
    println!();
    println!("| error | n | median | mean | SD | max abs |");
    println!("|---|---|---|---|---|---|");
    let ste = |e: &SiteError| e.stim_to_end_error_ms;
    let sto = |e: &SiteError| e.stim_to_onset_error_ms;
    let span = |e: &SiteError| e.lead_span_error_ms;
    row("stimulus-to-QRS-end, all", fig.all(None, ste));
    for fs in FS_HZ {
        row(
            &format!("stimulus-to-QRS-end, {fs} Hz"),
            fig.all(Some(fs), ste),
        );
    }
    row("stimulus-to-QRS-onset, all", fig.all(None, sto));
    row(
        "site QRSd vs true lead span (per-lead threshold truth)",
        fig.all(None, span),
    );
    let base: Vec<f64> = fig
        .baseline_errors
        .iter()
        .map(|e| e.qrsd_error_ms)
        .collect();
    row("baseline (LBBB 130–200 ms) QRSd", ErrorStats::of(&base));
    println!();
    let rejected: Vec<String> = fig
        .site_beats_rejected
        .iter()
        .map(|(r, n)| format!("{} {n}", r.as_str()))
        .collect();
    let mut noise = fig.site_noise_uv.clone();
    noise.sort_by(f64::total_cmp);
    println!(
        "site beats seen {}, rejected: {}; close-call warnings {} of {} procedures; site noise \
         estimate median {:.1} µV, max {:.1} µV",
        fig.site_beats_seen,
        if rejected.is_empty() {
            "none".to_string()
        } else {
            rejected.join(", ")
        },
        fig.close_calls,
        fig.procedures,
        noise.get(noise.len() / 2).copied().unwrap_or(f64::NAN),
        noise.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "wall time {wall:.1} s ({:.0} ms per procedure)",
        1000.0 * wall / fig.procedures.max(1) as f64
    );
}
