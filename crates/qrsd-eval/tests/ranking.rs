#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The simulated-procedure ranking check (issue 17 target 4) on the first 40 of the seeded
//! procedures of `examples/ranking_check.rs` (which runs 200): simulated baseline and 3–5 BiV
//! sites per procedure → the default pipeline → the per-site measurement → the recommendation.
//!
//! The bounds are today's figures plus a margin, so that a change of the delineator or of the
//! measurement that breaks the ranking, or shifts or spreads the site error, fails here.
//! Measured on these 40 procedures (2026-12-07, default delineator of main ec7e869):
//! recommendation right 40/40, ≥ 8 ms pairs ordered 203/203, no incomplete site; site error
//! (measured − true global QRSd) median by true width 100–120 / 120–140 / 140–160 / 160–180 ms:
//! −9.8 / −11.2 / −12.0 / −12.5 ms, SD 2.0–2.6 ms, max |error| 16 ms; stimulus-to-QRS-end
//! −4 ms. The issue's site target (|median| ≤ 3 ms at every width) is NOT met today: it is in
//! the ignored test below, run it with `cargo test -p qrsd-eval --test ranking -- --ignored`.

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
        // Today −9.8 … −12.5 ms (against the QRS support); 3 ms of margin either side of the
        // range, but never past the lead-span convention (the support minus the feet) above.
        assert!(
            (-16.0..=3.0).contains(&s.median_ms),
            "{band:?}: median site error {:+.1} ms",
            s.median_ms
        );
        // Today SD ≤ 2.6 ms, max |error| ≤ 16 ms.
        assert!(s.sd_ms <= 4.5, "{band:?}: SD {:.2} ms", s.sd_ms);
        assert!(
            s.max_abs_ms <= 22.0,
            "{band:?}: max |error| {:.1}",
            s.max_abs_ms
        );
        medians.push(s.median_ms);
    }
    // Width bias: today the band medians span 2.7 ms.
    let lo = medians.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = medians.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!(hi - lo <= 6.0, "band medians {medians:?}");
    // Stimulus-to-QRS-end: today median −4 ms, max |error| 6 ms.
    let ste = fig
        .all(None, |e: &SiteError| e.stim_to_end_error_ms)
        .unwrap();
    assert!(
        ste.n + 3 >= fig.site_errors.len(),
        "stimulus-to-end missing"
    );
    assert!(
        ste.median_ms.abs() <= 7.0,
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

#[test]
#[ignore = "issue 17 target 3 not met: site medians are 9–13 ms short of the simulator's QRS support"]
fn site_error_target_of_issue_17() {
    let fig = figures();
    for band in WIDTH_BANDS_MS {
        let s = fig.band(band, None).unwrap();
        assert!(
            s.median_ms.abs() <= 3.0,
            "{band:?}: median site error {:+.1} ms",
            s.median_ms
        );
    }
}
