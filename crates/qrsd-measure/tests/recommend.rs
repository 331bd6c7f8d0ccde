#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The site recommendation.

use qrsd_measure::{
    recommend, recommend_with, Flags, LvCaptureClass, MeasurementKind, MeasurementSummary, RankBy,
    RecommendConfig, RejectionReason, Segment, SiteCandidate, SiteDecision, SiteSpec, Status, Vein,
};

fn m(id: i64, status: Status, qrsd: f64, iqr: f64) -> MeasurementSummary {
    MeasurementSummary {
        measurement_id: id,
        kind: MeasurementKind::Site,
        status,
        qrsd_ms: (status == Status::Complete).then_some(qrsd),
        iqr_ms: Some(iqr),
        sd_ms: Some(iqr * 0.75),
        stim_to_end_ms: Some(qrsd + 20.0),
        beats_used: 10,
        flags: Flags::default(),
        qrs_area_uvs: None,
        lv_capture: None,
        leads_excluded: Vec::new(),
    }
}

fn baseline(q: f64) -> Vec<MeasurementSummary> {
    vec![MeasurementSummary {
        kind: MeasurementKind::Baseline,
        ..m(1, Status::Complete, q, 3.0)
    }]
}

fn site(id: i64, label: &str, ms: Vec<MeasurementSummary>) -> SiteCandidate {
    SiteCandidate {
        site_id: id,
        label: label.into(),
        decision: None,
        measurements: ms,
    }
}

fn reject(mut s: SiteCandidate, reason: RejectionReason) -> SiteCandidate {
    s.decision = Some(SiteDecision::Reject { reason, note: None });
    s
}

#[test]
fn shortest_wins_with_delta_and_runner_up() {
    let sites = vec![
        site(10, "AL mid", vec![m(2, Status::Complete, 150.0, 4.0)]),
        site(11, "PL mid", vec![m(3, Status::Complete, 128.0, 4.0)]),
        site(12, "L basal", vec![m(4, Status::Complete, 140.0, 4.0)]),
    ];
    let r = recommend(&baseline(170.0), &sites);
    assert_eq!(r.site_id, Some(11));
    let best = r.best.as_ref().unwrap();
    assert_eq!(best.qrsd_ms, 128.0);
    assert_eq!(best.delta_qrs_ms, Some(-42.0));
    assert!((best.delta_qrs_pct.unwrap() - (-42.0 / 170.0 * 100.0)).abs() < 1e-9);
    assert_eq!(r.runner_up.as_ref().unwrap().site_id, 12);
    let order: Vec<i64> = r.ranking.iter().map(|s| s.site_id).collect();
    assert_eq!(order, [11, 12, 10]);
    assert_eq!(r.difference_ms, Some(12.0));
    assert_eq!(r.uncertainty_ms, Some(5.0), "IQR 4 < 5 ms floor");
    assert!(!r.close_call);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert!(r.summary.contains("PL mid"), "{}", r.summary);
    assert!(r.summary.contains("-42 ms"), "{}", r.summary);
}

#[test]
fn close_call_warns_by_iqr_and_by_floor() {
    // 6 ms apart, the runner-up's IQR is 8 ms: close call.
    let sites = vec![
        site(1, "A", vec![m(2, Status::Complete, 130.0, 3.0)]),
        site(2, "B", vec![m(3, Status::Complete, 136.0, 8.0)]),
    ];
    let r = recommend(&baseline(170.0), &sites);
    assert!(r.close_call);
    assert_eq!(r.uncertainty_ms, Some(8.0));
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0].contains("differ by 6 ms"),
        "{}",
        r.warnings[0]
    );
    assert!(r.warnings[0].contains("A") && r.warnings[0].contains("B"));
    // 4 ms apart with IQR 1 ms: the 5 ms floor still warns…
    let sites = vec![
        site(1, "A", vec![m(2, Status::Complete, 130.0, 1.0)]),
        site(2, "B", vec![m(3, Status::Complete, 134.0, 1.0)]),
    ];
    assert!(recommend(&baseline(170.0), &sites).close_call);
    // …unless the floor is lowered.
    let r = recommend_with(
        &baseline(170.0),
        &sites,
        &RecommendConfig {
            min_uncertainty_ms: 2.0,
            ..RecommendConfig::default()
        },
    );
    assert!(!r.close_call);
    // Equal to the uncertainty is not a close call (strictly less).
    let sites = vec![
        site(1, "A", vec![m(2, Status::Complete, 130.0, 8.0)]),
        site(2, "B", vec![m(3, Status::Complete, 138.0, 8.0)]),
    ];
    assert!(!recommend(&baseline(170.0), &sites).close_call);
}

#[test]
fn rejected_site_is_excluded_and_next_best_is_obvious() {
    let sites = vec![
        reject(
            site(1, "PL mid", vec![m(2, Status::Complete, 120.0, 3.0)]),
            RejectionReason::PhrenicStimulation,
        ),
        site(2, "L mid", vec![m(3, Status::Complete, 131.0, 3.0)]),
        site(3, "AL mid", vec![m(4, Status::Complete, 145.0, 3.0)]),
    ];
    let r = recommend(&baseline(165.0), &sites);
    assert_eq!(r.site_id, Some(2));
    assert_eq!(r.runner_up.unwrap().site_id, 3);
    assert_eq!(r.excluded.len(), 1);
    assert_eq!(r.excluded[0].site_id, 1);
    assert!(r.excluded[0].why.contains("phrenic_stimulation"));
    assert!(r.ranking.iter().all(|s| s.site_id != 1));
}

#[test]
fn latest_complete_measurement_counts() {
    let sites = vec![
        // re-measured: 150 then 128 → 128 counts
        site(
            1,
            "A",
            vec![
                m(2, Status::Complete, 150.0, 3.0),
                m(5, Status::Complete, 128.0, 3.0),
            ],
        ),
        // a later incomplete re-measurement does not erase the complete 132
        site(
            2,
            "B",
            vec![
                m(3, Status::Complete, 132.0, 3.0),
                m(6, Status::Incomplete, 0.0, 3.0),
            ],
        ),
        // only incomplete / collecting: excluded
        site(
            3,
            "C",
            vec![
                m(4, Status::Incomplete, 0.0, 0.0),
                m(7, Status::Collecting, 0.0, 0.0),
            ],
        ),
    ];
    let r = recommend(&baseline(160.0), &sites);
    assert_eq!(r.best.as_ref().unwrap().measurement_id, 5);
    assert_eq!(r.runner_up.as_ref().unwrap().measurement_id, 3);
    assert_eq!(r.excluded.len(), 1);
    assert_eq!(r.excluded[0].why, "no complete measurement");
}

#[test]
fn no_baseline_and_flags_warn() {
    let mut best = m(2, Status::Complete, 125.0, 3.0);
    best.flags.suspected_fusion = true;
    let sites = vec![site(1, "A", vec![best])];
    let r = recommend(&[], &sites);
    assert_eq!(r.site_id, Some(1));
    assert_eq!(r.best.as_ref().unwrap().delta_qrs_ms, None);
    assert_eq!(r.baseline_qrsd_ms, None);
    assert!(r.warnings.iter().any(|w| w.contains("baseline")));
    assert!(r.warnings.iter().any(|w| w.contains("suspected fusion")));
    assert!(r.runner_up.is_none());
    assert!(!r.close_call);
}

#[test]
fn nothing_to_recommend() {
    let r = recommend(&baseline(160.0), &[]);
    assert_eq!(r.site_id, None);
    assert_eq!(r.summary, "no site has been added yet");
    let r = recommend(
        &baseline(160.0),
        &[reject(
            site(1, "A", vec![m(2, Status::Complete, 120.0, 1.0)]),
            RejectionReason::Unstable,
        )],
    );
    assert_eq!(r.site_id, None);
    assert_eq!(r.baseline_qrsd_ms, Some(160.0));
}

#[test]
fn accepted_after_rejection_counts_again() {
    let mut s = site(1, "A", vec![m(2, Status::Complete, 120.0, 1.0)]);
    s.decision = Some(SiteDecision::Accept { note: None });
    assert_eq!(recommend(&baseline(160.0), &[s]).site_id, Some(1));
}

#[test]
fn recommendation_json_shape() {
    let sites = vec![
        site(1, "A", vec![m(2, Status::Complete, 130.0, 3.0)]),
        site(2, "B", vec![m(3, Status::Complete, 133.0, 3.0)]),
    ];
    let v = serde_json::to_value(recommend(&baseline(160.0), &sites)).unwrap();
    assert_eq!(v["site_id"], 1);
    assert_eq!(v["best"]["delta_qrs_ms"], -30.0);
    assert_eq!(v["runner_up"]["site_id"], 2);
    assert_eq!(v["close_call"], true);
    assert!(v["warnings"][0].is_string());
    assert!(v["ranking"].is_array());
}

#[test]
fn site_and_decision_json() {
    let s: SiteSpec =
        serde_json::from_str(r#"{"vein":"posterolateral","segment":"mid","label":"PL mid"}"#)
            .unwrap();
    assert_eq!(s.vein, Vein::Posterolateral);
    assert_eq!(s.segment, Segment::Mid);
    assert_eq!(s.display_label(), "PL mid");
    let s: SiteSpec =
        serde_json::from_str(r#"{"vein":"middle_cardiac","segment":"apical"}"#).unwrap();
    assert_eq!(s.display_label(), "middle_cardiac apical");
    assert!(serde_json::from_str::<SiteSpec>(r#"{"vein":"aorta","segment":"mid"}"#).is_err());
    let d: SiteDecision =
        serde_json::from_str(r#"{"decision":"reject","reason":"phrenic_stimulation"}"#).unwrap();
    assert_eq!(
        d,
        SiteDecision::Reject {
            reason: RejectionReason::PhrenicStimulation,
            note: None
        }
    );
    assert_eq!("high_threshold".parse(), Ok(RejectionReason::HighThreshold));
    assert!("nope".parse::<RejectionReason>().is_err());
    assert_eq!(Vein::ALL.len(), 6);
    assert_eq!(Segment::ALL.len(), 3);
}

fn with_area(mut s: MeasurementSummary, area: f64) -> MeasurementSummary {
    s.qrs_area_uvs = Some(area);
    s
}

#[test]
fn qrs_area_delta_and_the_area_rule() {
    let base = vec![with_area(baseline(170.0).remove(0), 120.0)];
    let sites = vec![
        // Shortest QRSd, smaller area reduction.
        site(
            1,
            "A",
            vec![with_area(m(2, Status::Complete, 128.0, 2.0), 80.0)],
        ),
        // Longer, but the largest area reduction.
        site(
            2,
            "B",
            vec![with_area(m(3, Status::Complete, 140.0, 2.0), 50.0)],
        ),
        // No area (leads missing): ranked after those with one under the area rule.
        site(3, "C", vec![m(4, Status::Complete, 120.0, 2.0)]),
    ];
    let r = recommend(&base, &sites);
    assert_eq!(r.rule, RankBy::ShortestQrsd);
    assert_eq!(r.site_id, Some(3));
    assert_eq!(r.baseline_qrs_area_uvs, Some(120.0));
    let a = r.ranking.iter().find(|s| s.site_id == 1).unwrap();
    assert_eq!(a.delta_qrs_area_uvs, Some(-40.0));
    assert!((a.delta_qrs_area_pct.unwrap() + 100.0 / 3.0).abs() < 1e-9);
    let c = r.ranking.iter().find(|s| s.site_id == 3).unwrap();
    assert_eq!(c.delta_qrs_area_uvs, None);
    let r = recommend_with(
        &base,
        &sites,
        &RecommendConfig {
            rank_by: RankBy::SmallestQrsArea,
            ..RecommendConfig::default()
        },
    );
    assert_eq!(r.rule, RankBy::SmallestQrsArea);
    let order: Vec<i64> = r.ranking.iter().map(|s| s.site_id).collect();
    assert_eq!(order, vec![2, 1, 3]);
    assert!(r.summary.contains("QRS area 50 µV·s"), "{}", r.summary);
}

#[test]
fn an_rv_only_looking_site_gets_a_warning() {
    let mut rv = m(3, Status::Complete, 150.0, 2.0);
    rv.lv_capture = Some(LvCaptureClass::Unlikely);
    let mut biv = m(2, Status::Complete, 130.0, 2.0);
    biv.lv_capture = Some(LvCaptureClass::Likely);
    let sites = vec![site(1, "AL mid", vec![biv]), site(2, "PL basal", vec![rv])];
    let r = recommend(&baseline(170.0), &sites);
    let w: Vec<&String> = r
        .warnings
        .iter()
        .filter(|w| w.contains("RV-only"))
        .collect();
    assert_eq!(w.len(), 1, "{:?}", r.warnings);
    assert!(w[0].starts_with("PL basal"), "{}", w[0]);
    assert_eq!(r.ranking[1].lv_capture, Some(LvCaptureClass::Unlikely));
}
