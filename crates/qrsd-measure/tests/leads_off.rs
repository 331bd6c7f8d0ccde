#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A lead off at a beat: the beat is still measured when the lead is not one the measurement needs
//! (reported II, V1, V6, and I), with its global QRS over the other leads, and the result says so;
//! a needed lead off rejects the beat as `lead_off`.

use qrsd_measure::{
    recommend, BeatInput, BeatWaveform, Flags, Measurement, MeasurementConfig, MeasurementKind,
    MeasurementSummary, QualityCause, RejectReason, SiteCandidate, Status,
};
use qrsd_pipeline::{Beat, BeatClass, Boundary, LeadBoundary, Quality};
use std::collections::BTreeMap;

const FS: f64 = 1000.0;
const RR: u64 = 800;
/// The 12 leads in the pipeline's order (as the service names them).
const LEADS: [&str; 12] = [
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
];
/// The amplifier's channels, in the order of its lead-off bits.
const CHANNELS: [&str; 8] = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"];

/// A paced 140 ms beat at `r` over 12 leads, the leads in `off` flagged off by the amplifier
/// (derived limb leads with their I/II) and left out by the pipeline, as the live service hands it.
fn beat(r: u64, off: &[&str]) -> BeatInput {
    let onset = r - 40;
    let g = Boundary {
        onset_sample: Some(onset),
        offset_sample: Some(onset + 140),
    };
    let limb = off.iter().any(|n| *n == "I" || *n == "II");
    let excluded =
        |n: &str| off.contains(&n) || (limb && ["III", "aVR", "aVL", "aVF"].contains(&n));
    let leads = LEADS
        .iter()
        .map(|n| LeadBoundary {
            name: n.to_string(),
            bounds: if excluded(n) { Boundary::default() } else { g },
        })
        .collect();
    let b = Beat {
        r_sample: r,
        class: BeatClass::Paced,
        quality: Quality::Clean,
        pace_sample: Some(onset - 20),
        global: g,
        leads,
        leads_excluded: LEADS
            .iter()
            .filter(|n| excluded(n))
            .map(|n| n.to_string())
            .collect(),
        vcg: Default::default(),
    };
    let mut input = BeatInput::new(b, FS);
    input.noise_uv = Some(8.0);
    for (i, c) in CHANNELS.iter().enumerate() {
        if off.contains(c) {
            input.lead_off |= 1 << i;
            input.lead_off_leads.push(c.to_string());
            input.lead_quality.insert(c.to_string(), Quality::LeadOff);
        }
    }
    input
}

fn site() -> Measurement {
    Measurement::new(MeasurementConfig::site(), 0).unwrap()
}

fn r_of(i: usize) -> u64 {
    1000 + RR * i as u64
}

#[test]
fn a_precordial_electrode_off_is_left_out_and_the_site_is_measured_over_11_leads() {
    let mut m = site();
    for i in 0..10 {
        let p = m.push(beat(r_of(i), &["V3"])).unwrap();
        assert_eq!(p.reason, None, "beat {i} rejected");
    }
    assert_eq!(m.status(), Status::Complete);
    let r = m.result();
    assert_eq!(r.qrsd_ms, Some(140.0));
    assert_eq!(r.beats_used, 10);
    assert_eq!(r.beats_rejected.total, 0);
    assert!(!r.flags.lead_off, "no beat was rejected for lead-off");
    assert_eq!(r.global_leads, Some(11));
    assert_eq!(r.leads_excluded.len(), 1);
    let e = &r.leads_excluded[0];
    assert_eq!(
        (e.lead.as_str(), e.reason, e.cause, e.beats),
        ("V3", RejectReason::LeadOff, QualityCause::ElectrodeOff, 10)
    );
    assert_eq!(
        r.global_leads_text.as_deref(),
        Some("V3 electrode off: global QRS over 11 leads")
    );
    for b in r.beats.iter().filter(|b| b.used) {
        assert_eq!(b.leads_excluded, vec!["V3".to_string()]);
        assert_eq!(b.global_leads, Some(11));
    }
    // Reported leads are all there.
    for l in ["II", "V1", "V6"] {
        assert_eq!(r.leads[l].n, 10, "{l}");
    }
    // The JSON names it too.
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["leads_excluded"][0]["lead"], "V3");
    assert_eq!(j["leads_excluded"][0]["reason"], "lead_off");
    assert_eq!(j["leads_excluded"][0]["cause"], "electrode_off");
    assert_eq!(j["global_leads"], 11);
}

#[test]
fn a_needed_lead_off_still_rejects_every_beat() {
    // II, V1, V6 are reported; I is read by the LV-capture criteria and takes the derived leads.
    for lead in ["II", "V1", "V6", "I"] {
        let mut m = site();
        for i in 0..12 {
            let p = m.push(beat(r_of(i), &[lead])).unwrap();
            assert_eq!(
                p.reason,
                Some(RejectReason::LeadOff),
                "{lead} off, beat {i}"
            );
        }
        m.stop();
        let r = m.result();
        assert_eq!(r.status, Status::Incomplete, "{lead}");
        assert_eq!(r.qrsd_ms, None);
        assert!(r.flags.lead_off);
        assert_eq!(r.quality_reasons.len(), 1, "{lead}");
        let q = &r.quality_reasons[0];
        assert_eq!(q.cause, QualityCause::ElectrodeOff);
        assert_eq!(
            q.text,
            format!("{lead} electrode off (amplifier lead-off signal): 12 beats not measured")
        );
        assert!(r.leads_excluded.is_empty(), "no beat was measured");
    }
    // A needed lead off together with one that is not: rejected, both named.
    let mut m = site();
    let p = m.push(beat(r_of(0), &["V1", "V3"])).unwrap();
    assert_eq!(p.reason, Some(RejectReason::LeadOff));
    assert_eq!(
        m.records()[0].cause_leads,
        vec!["V1".to_string(), "V3".to_string()]
    );
}

#[test]
fn the_reported_leads_decide_what_is_needed() {
    // With V3 reported instead of V6, V3 off rejects the beat and V6 off does not.
    let cfg = MeasurementConfig {
        report_leads: vec!["II".into(), "V1".into(), "V3".into()],
        ..MeasurementConfig::site()
    };
    assert!(cfg.needs_lead("v3") && cfg.needs_lead("I") && !cfg.needs_lead("V6"));
    let mut m = Measurement::new(cfg, 0).unwrap();
    let p = m.push(beat(r_of(0), &["V3"])).unwrap();
    assert_eq!(p.reason, Some(RejectReason::LeadOff));
    let p = m.push(beat(r_of(1), &["V6"])).unwrap();
    assert_eq!(p.reason, None);
}

#[test]
fn an_electrode_off_in_part_of_the_run_says_in_how_many_beats() {
    let mut m = site();
    for i in 0..10 {
        let off: &[&str] = if i >= 6 { &["V4"] } else { &[] };
        assert_eq!(m.push(beat(r_of(i), off)).unwrap().reason, None);
    }
    let r = m.result();
    assert_eq!(r.status, Status::Complete);
    assert_eq!(r.global_leads, Some(11), "the fewest");
    assert_eq!(r.leads_excluded[0].beats, 4);
    assert_eq!(
        r.global_leads_text.as_deref(),
        Some("V4 electrode off in 4 of 10 beats: global QRS over 11 leads in those, 12 in the others")
    );
}

#[test]
fn a_flat_lead_without_a_lead_off_signal_is_left_out_too() {
    // An amplifier without lead-off detection (or a replayed file): the quality stage labels the
    // flat lead `lead_off` and the pipeline leaves it out.
    let mut m = Measurement::new(MeasurementConfig::baseline(), 0).unwrap();
    for i in 0..10 {
        let mut b = beat(r_of(i), &[]);
        b.beat.class = BeatClass::Intrinsic;
        b.beat.pace_sample = None;
        b.beat.leads_excluded = vec!["V5".into()];
        b.lead_quality = BTreeMap::from([("V5".to_string(), Quality::LeadOff)]);
        assert_eq!(m.push(b).unwrap().reason, None);
    }
    let r = m.result();
    assert_eq!(r.status, Status::Complete);
    assert_eq!(r.leads_excluded[0].cause, QualityCause::Flat);
    assert_eq!(
        r.global_leads_text.as_deref(),
        Some("V5 flat (no signal): global QRS over 11 leads")
    );
    // A flat reported lead is needed: rejected, and named.
    let mut m = Measurement::new(MeasurementConfig::baseline(), 0).unwrap();
    let mut b = beat(r_of(0), &[]);
    b.beat.class = BeatClass::Intrinsic;
    b.beat.pace_sample = None;
    b.lead_quality = BTreeMap::from([("V6".to_string(), Quality::LeadOff)]);
    assert_eq!(m.push(b).unwrap().reason, Some(RejectReason::LeadOff));
    assert_eq!(m.records()[0].cause, Some(QualityCause::Flat));
    assert_eq!(m.records()[0].cause_leads, vec!["V6".to_string()]);
}

#[test]
fn channel_bits_without_names_still_reject() {
    // Which channel the bit is cannot be told: the beat cannot be shown to have its needed leads.
    let mut m = site();
    let mut b = beat(r_of(0), &[]);
    b.lead_off = 1 << 4;
    assert_eq!(m.push(b).unwrap().reason, Some(RejectReason::LeadOff));
}

/// A 800 ms snippet of the 8 acquired leads, V3 NaN when `v3_off` (the amplifier's invalid value).
fn snippet(r: u64, v3_off: bool) -> BeatWaveform {
    let wave = |k: usize, sign: f32| -> f32 {
        // A 140 ms biphasic QRS starting 40 ms before R.
        let t = k as f32 - 360.0;
        if (0.0..140.0).contains(&t) {
            sign * 800.0 * (std::f32::consts::PI * t / 70.0).sin()
        } else {
            0.0
        }
    };
    BeatWaveform {
        first_sample: r - 400,
        leads: CHANNELS
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
                let v: Vec<f32> = (0..801)
                    .map(|k| {
                        if v3_off && *n == "V3" {
                            f32::NAN
                        } else {
                            wave(k, sign)
                        }
                    })
                    .collect();
                (n.to_string(), v)
            })
            .collect(),
    }
}

#[test]
fn the_median_beat_leaves_out_a_lead_that_was_off() {
    for v3_off in [false, true] {
        let mut m = site();
        for i in 0..10 {
            let off: &[&str] = if v3_off && i >= 5 { &["V3"] } else { &[] };
            let mut b = beat(r_of(i), off);
            b.waveform = Some(snippet(r_of(i), !off.is_empty()));
            m.push(b);
        }
        let r = m.result();
        assert_eq!(r.status, Status::Complete);
        let mb = r.median_beat.unwrap();
        // Off in half the run: a median over 5 NaNs and 5 values, or over the 5 values alone, is no
        // V3 of the run's beats.
        assert_eq!(mb.leads.contains_key("V3"), !v3_off, "V3 off {v3_off}");
        assert_eq!(mb.leads.len(), if v3_off { 7 } else { 8 });
        // Without V3 there is no Kors VCG loop (it needs I, II, V1–V6).
        assert_eq!(r.vcg_loop.is_some(), !v3_off);
    }
}

fn summary(id: i64, kind: MeasurementKind, qrsd: f64, off: &[&str]) -> MeasurementSummary {
    MeasurementSummary {
        measurement_id: id,
        kind,
        status: Status::Complete,
        qrsd_ms: Some(qrsd),
        iqr_ms: Some(2.0),
        sd_ms: Some(1.5),
        stim_to_end_ms: None,
        beats_used: 10,
        flags: Flags::default(),
        qrs_area_uvs: None,
        lv_capture: None,
        leads_excluded: off.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn the_recommendation_warns_when_compared_measurements_used_different_leads() {
    let base = vec![summary(1, MeasurementKind::Baseline, 170.0, &[])];
    let sites = |a: &[&str], b: &[&str]| {
        vec![
            SiteCandidate {
                site_id: 1,
                label: "PL mid".into(),
                decision: None,
                measurements: vec![summary(2, MeasurementKind::Site, 130.0, a)],
            },
            SiteCandidate {
                site_id: 2,
                label: "L basal".into(),
                decision: None,
                measurements: vec![summary(3, MeasurementKind::Site, 150.0, b)],
            },
        ]
    };
    let lead_warnings = |w: &[String]| {
        w.iter()
            .filter(|s| s.contains("leads") || s.contains("without"))
            .cloned()
            .collect::<Vec<_>>()
    };
    // All over 12 leads: nothing to say.
    let rec = recommend(&base, &sites(&[], &[]));
    assert!(
        lead_warnings(&rec.warnings).is_empty(),
        "{:?}",
        rec.warnings
    );
    // The best without V3: against the runner-up and the baseline.
    let rec = recommend(&base, &sites(&["V3"], &[]));
    assert_eq!(rec.ranking[0].leads_excluded, vec!["V3".to_string()]);
    let w = lead_warnings(&rec.warnings);
    assert_eq!(
        w,
        vec![
            "PL mid (without V3) and L basal (over all leads) were measured over different leads: \
             part of their difference in QRS duration may come from that"
                .to_string(),
            "ΔQRS of PL mid compares a QRS without V3 with a baseline over all leads".to_string(),
        ]
    );
    // Both without V3 (the electrode stayed off): only the baseline differs.
    let rec = recommend(&base, &sites(&["V3"], &["V3"]));
    assert_eq!(lead_warnings(&rec.warnings).len(), 1, "{:?}", rec.warnings);
}
