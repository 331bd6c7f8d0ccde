#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The simulated-procedure ranking check (issue 17 target 4) on the first 40 of the seeded
//! procedures of `examples/ranking_check.rs` (which runs 200): simulated baseline and 3–5 BiV
//! sites per procedure → the default pipeline → the per-site measurement → the recommendation.
//!
//! The bounds are today's figures plus a margin, so that a change of the delineator or of the
//! measurement that breaks the ranking, or shifts or spreads the site error, fails here.
//! Measured on these 40 procedures (2026-12-07, the models trained with the slow-footed synthetic
//! beats labelled at their support): recommendation right 40/40, ≥ 8 ms pairs ordered 203/203, no
//! incomplete site; site error (measured − true global QRSd) median by true width 100–120 /
//! 120–140 / 140–160 / 160–180 ms: +4.0 / 0.0 / 0.0 / −1.0 ms, SD 1.3–2.3 ms, max |error| 8 ms;
//! stimulus-to-QRS-end 0 ms (before: −9.8 / −11.2 / −12.0 / −12.5 and −4 ms). Over all 200
//! procedures the issue's site target (|median| ≤ 3 ms at every width) is met (+3.0 / 0.0 / 0.0 /
//! −1.0), on these 40 the narrowest band misses it by 1 ms: the target's own test runs all 200.

use qrsd_eval::procedures::{run_procedure, Figures, ProcedureSpec, SiteError, WIDTH_BANDS_MS};
use std::sync::OnceLock;

/// Procedures 0..40: ~160 sites, ~40 per width band, 500 and 1000 Hz alternating.
const PROCEDURES: u64 = 40;

fn figures() -> &'static Figures {
    static FIG: OnceLock<Figures> = OnceLock::new();
    FIG.get_or_init(|| {
        let mut fig = Figures::default();
        for i in 0..PROCEDURES {
            fig.add(&run_procedure(&ProcedureSpec::new(i)).unwrap());
        }
        fig
    })
}

#[test]
fn recommendation_and_pair_order_on_simulated_procedures() {
    let fig = figures();
    assert_eq!(fig.procedures, PROCEDURES as usize);
    // Target ≥ 97 %; today 100 % (200 procedures: 100 %; 99.5 % before ec7e869, a close call). Two
    // misses in 40 (95 %) are allowed: one would already be below the target's share but can
    // be a tie of the kind the close-call warning is for.
    assert!(
        fig.recommendation_right + 2 >= fig.procedures,
        "recommendation right in {}/{} procedures (wrong with close-call warning: {})",
        fig.recommendation_right,
        fig.procedures,
        fig.wrong_but_close_call
    );
    // Target ≥ 99 %; today 100 %.
    assert!(fig.pairs >= 150, "too few scored pairs: {}", fig.pairs);
    assert!(
        fig.pairs_pct() >= 99.0,
        "pairs ≥ 8 ms apart ordered right: {}/{} ({} with an unranked site)",
        fig.pairs_right,
        fig.pairs,
        fig.pairs_missing
    );
    // Today none; a few incomplete measurements would be the measurement rejecting clean beats.
    assert!(
        fig.incomplete_sites <= 3 && fig.incomplete_baselines <= 1,
        "incomplete: {} sites, {} baselines",
        fig.incomplete_sites,
        fig.incomplete_baselines
    );
    assert_eq!(
        fig.used_wrong_class, 0,
        "a site result used a non-paced beat"
    );
}

#[test]
fn site_error_per_width_band_stays_at_todays_level() {
    let fig = figures();
    let mut medians = Vec::new();
    for band in WIDTH_BANDS_MS {
        let s = fig.band(band, None).unwrap();
        assert!(s.n >= 25, "{band:?}: only {} sites", s.n);
        // Today −1 … +4 ms (against the QRS support); 3 ms of margin either side of the range.
        assert!(
            (-4.0..=7.0).contains(&s.median_ms),
            "{band:?}: median site error {:+.1} ms",
            s.median_ms
        );
        // Today SD ≤ 2.3 ms, max |error| ≤ 8 ms.
        assert!(s.sd_ms <= 4.0, "{band:?}: SD {:.2} ms", s.sd_ms);
        assert!(
            s.max_abs_ms <= 14.0,
            "{band:?}: max |error| {:.1}",
            s.max_abs_ms
        );
        medians.push(s.median_ms);
    }
    // Width bias: today the band medians span 5 ms.
    let lo = medians.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = medians.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!(hi - lo <= 7.0, "band medians {medians:?}");
    // Stimulus-to-QRS-end: today median 0 ms, max |error| 9 ms.
    let ste = fig
        .all(None, |e: &SiteError| e.stim_to_end_error_ms)
        .unwrap();
    assert!(
        ste.n + 3 >= fig.site_errors.len(),
        "stimulus-to-end missing"
    );
    assert!(
        ste.median_ms.abs() <= 3.0,
        "stimulus-to-end median {:+.1}",
        ste.median_ms
    );
}

/// The scoring itself must be able to fail: procedure 0 with its ranking reversed (the longest
/// site recommended) scores as wrong, and its ≥ 8 ms pairs as misordered.
#[test]
fn a_reversed_ranking_scores_as_wrong() {
    let mut p = run_procedure(&ProcedureSpec::new(0)).unwrap();
    assert!(p.recommendation_right());
    let (n, ok, _) = p.pairs();
    assert!(n > 0 && ok == n, "{ok}/{n}");
    p.recommendation.ranking.reverse();
    p.recommendation.site_id = p.recommendation.ranking.first().map(|r| r.site_id);
    assert!(!p.recommendation_right());
    assert_eq!(p.pairs(), (n, 0, 0));
    let mut fig = Figures::default();
    fig.add(&p);
    assert_eq!((fig.recommendation_right, fig.pairs_right), (0, 0));
}

/// Issue 17 target 3 (simulated half): |median site error| ≤ 3 ms at every true width, over the
/// 200 procedures of the example (on the first 40 alone the narrowest band reads +4 ms; ~15 s).
#[test]
fn site_error_target_of_issue_17() {
    let mut fig = Figures::default();
    for i in 0..200 {
        fig.add(&run_procedure(&ProcedureSpec::new(i)).unwrap());
    }
    for band in WIDTH_BANDS_MS {
        let s = fig.band(band, None).unwrap();
        assert!(
            s.median_ms.abs() <= 3.0,
            "{band:?}: median site error {:+.1} ms",
            s.median_ms
        );
    }
}
