#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Beats rejected for signal quality: the measurement names the cause and the leads concerned.

use qrsd_measure::{
    BeatInput, BeatRecord, Measurement, MeasurementConfig, QualityCause, RejectReason, Status,
};
use qrsd_pipeline::{Beat, BeatClass, Boundary, LeadBoundary, Quality};
use std::collections::BTreeMap;

const FS: f64 = 1000.0;
const RR: u64 = 800;

/// An intrinsic 120 ms beat at `r`, every lead clean, noise 8 µV.
fn beat(r: u64) -> BeatInput {
    let g = Boundary {
        onset_sample: Some(r - 40),
        offset_sample: Some(r + 80),
    };
    let b = Beat {
        r_sample: r,
        class: BeatClass::Intrinsic,
        quality: Quality::Clean,
        pace_sample: None,
        global: g,
        leads: ["II", "V1", "V6"]
            .iter()
            .map(|n| LeadBoundary {
                name: n.to_string(),
                bounds: g,
            })
            .collect(),
        leads_excluded: Vec::new(),
        vcg: Default::default(),
    };
    let mut input = BeatInput::new(b, FS);
    input.noise_uv = Some(8.0);
    input
}

fn baseline() -> Measurement {
    Measurement::new(MeasurementConfig::baseline(), 0).unwrap()
}

fn r_of(i: usize) -> u64 {
    1000 + RR * i as u64
}

fn labels(pairs: &[(&str, Quality)]) -> BTreeMap<String, Quality> {
    pairs.iter().map(|(n, q)| (n.to_string(), *q)).collect()
}

#[test]
fn an_electrode_off_names_the_channel_and_the_measurement_says_why_it_ended() {
    let mut m = baseline();
    for i in 0..6 {
        let mut b = beat(r_of(i));
        b.lead_off = 1 << 2;
        b.lead_off_leads = vec!["V1".into()];
        let p = m.push(b).unwrap();
        assert_eq!(p.reason, Some(RejectReason::LeadOff));
    }
    m.stop();
    let r = m.result();
    assert_eq!(r.status, Status::Incomplete);
    assert!(r.flags.lead_off);
    assert_eq!(r.beats_rejected.by_reason[&RejectReason::LeadOff], 6);
    assert_eq!(
        r.beats_rejected.by_cause,
        BTreeMap::from([(QualityCause::ElectrodeOff, 6)])
    );
    assert_eq!(r.quality_reasons.len(), 1);
    let q = &r.quality_reasons[0];
    assert_eq!(
        (q.reason, q.cause, q.beats),
        (RejectReason::LeadOff, QualityCause::ElectrodeOff, 6)
    );
    assert_eq!(q.leads, BTreeMap::from([("V1".to_string(), 6)]));
    assert_eq!(
        q.text,
        "V1 electrode off (amplifier lead-off signal): 6 beats not measured"
    );
    // Each beat record carries the lead's label and the cause.
    for b in &r.beats {
        assert_eq!(b.lead_quality.get("V1"), Some(&Quality::LeadOff));
        assert_eq!(b.cause, Some(QualityCause::ElectrodeOff));
        assert_eq!(b.cause_leads, vec!["V1".to_string()]);
    }
    // The plain reason of the incomplete run names it too.
    let why = r.reason.unwrap();
    assert!(why.contains("most often for lead_off (6)"), "{why}");
    assert!(why.contains("V1 electrode off"), "{why}");
}

#[test]
fn unreadable_beats_name_their_leads_and_the_run_still_completes() {
    let mut m = baseline();
    let mut i = 0;
    let mut unreadable = 0;
    while m.status() == Status::Collecting && i < 40 {
        let mut b = beat(r_of(i));
        if i % 3 == 1 {
            // No lead readable at this beat (it still has the usual shape, so it is not `noise`).
            b.beat.quality = Quality::Unreadable;
            b.lead_quality = labels(&[
                ("II", Quality::Unreadable),
                ("V1", Quality::Unreadable),
                ("V6", Quality::Saturated),
            ]);
            unreadable += 1;
        } else if i % 3 == 2 {
            // One lead noisy: the beat is measured and its record says so.
            b.lead_quality = labels(&[("V1", Quality::Noisy)]);
        }
        m.push(b);
        i += 1;
    }
    let r = m.result();
    assert_eq!(r.status, Status::Complete, "{:?}", r.reason);
    assert_eq!(
        r.beats_rejected.by_cause,
        BTreeMap::from([(QualityCause::Unreadable, unreadable)])
    );
    let q = &r.quality_reasons[0];
    assert_eq!(
        (q.reason, q.cause),
        (RejectReason::Noise, QualityCause::Unreadable)
    );
    assert_eq!(
        q.leads,
        BTreeMap::from([
            ("II".to_string(), unreadable),
            ("V1".to_string(), unreadable),
            ("V6".to_string(), unreadable)
        ])
    );
    assert!(q.text.starts_with("II, V1, V6 unreadable"), "{}", q.text);
    let noisy_used: Vec<&BeatRecord> = r
        .beats
        .iter()
        .filter(|b| b.used && b.lead_quality.get("V1") == Some(&Quality::Noisy))
        .collect();
    assert!(!noisy_used.is_empty(), "beats with a noisy V1 are measured");
    assert!(noisy_used.iter().all(|b| b.cause.is_none()));
}

#[test]
fn a_noise_estimate_over_the_limit_names_the_noisy_lead_with_its_count() {
    let mut m = baseline();
    let limit = MeasurementConfig::baseline().max_noise_uv;
    for i in 0..4 {
        let mut b = beat(r_of(i));
        b.noise_uv = Some(limit + 20.0);
        // V1 noisy at the first two beats only.
        if i < 2 {
            b.lead_quality = labels(&[("V1", Quality::Noisy)]);
        }
        assert_eq!(m.push(b).unwrap().reason, Some(RejectReason::Noise));
    }
    let r = m.result();
    let q = &r.quality_reasons[0];
    assert_eq!((q.cause, q.beats), (QualityCause::NoiseLevel, 4));
    assert_eq!(
        q.text,
        "V1 (2) noise before the QRS above the limit: 4 beats not measured"
    );
}

#[test]
fn a_detection_classed_noise_and_a_flat_signal_are_told_apart() {
    let mut m = baseline();
    let mut b = beat(r_of(0));
    b.beat.class = BeatClass::Noise;
    b.beat.quality = Quality::Unreadable;
    b.lead_quality = labels(&[("II", Quality::Unreadable)]);
    m.push(b);
    let mut b = beat(r_of(1));
    b.beat.quality = Quality::LeadOff;
    b.lead_quality = labels(&[("II", Quality::LeadOff), ("V1", Quality::LeadOff)]);
    m.push(b);
    let r = m.result();
    let causes: Vec<(QualityCause, Vec<String>)> = r
        .beats
        .iter()
        .map(|b| (b.cause.unwrap(), b.cause_leads.clone()))
        .collect();
    assert_eq!(
        causes,
        vec![
            (QualityCause::NoiseBeat, vec!["II".to_string()]),
            (QualityCause::Flat, vec!["II".to_string(), "V1".to_string()]),
        ]
    );
    assert_eq!(r.beats[0].reason, Some(RejectReason::Noise));
    assert_eq!(r.beats[1].reason, Some(RejectReason::LeadOff));
}

#[test]
fn records_stored_before_the_quality_fields_still_read() {
    let mut m = baseline();
    m.push(beat(r_of(0)));
    let mut v = serde_json::to_value(&m.result().beats[0]).unwrap();
    let o = v.as_object_mut().unwrap();
    for k in ["quality", "lead_quality", "cause", "cause_leads"] {
        assert!(o.remove(k).is_some(), "{k} serialised");
    }
    let old: BeatRecord = serde_json::from_value(v).unwrap();
    assert_eq!(old.quality, Quality::Clean);
    assert!(old.lead_quality.is_empty() && old.cause.is_none());
}
