//! Real-data tests against LUDB. Reference values were computed once with Python `wfdb` 4.3.1
//! (`wfdb.rdrecord('1').p_signal`, `wfdb.rdann('1', 'ii')`) and are hard-coded here.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod common;

use common::{assert_close, ludb_dir};
use qrsd_formats::wfdb::{read_annotations, read_header, read_record};

/// Physical values in mV from Python wfdb, per lead: samples 0..5, 2500..2505, 4997..5000.
/// Lead name, samples 0..5, 2500..2505 and 4997..5000 in mV.
type Reference = (&'static str, [f64; 5], [f64; 5], [f64; 3]);

const REFERENCE_MV: [Reference; 3] = [
    (
        "I",
        [
            -0.07342657342657342,
            -0.028554778554778556,
            0.0168997668997669,
            0.055944055944055944,
            0.11771561771561771,
        ],
        [
            -0.017482517482517484,
            -0.018065268065268064,
            -0.017482517482517484,
            -0.018065268065268064,
            -0.016317016317016316,
        ],
        [
            -0.04079254079254079,
            -0.03671328671328671,
            -0.04195804195804196,
        ],
    ),
    (
        "II",
        [
            0.019071310116086235,
            0.07877280265339967,
            0.16003316749585406,
            0.23217247097844113,
            0.2885572139303483,
        ],
        [
            -0.007462686567164179,
            -0.009950248756218905,
            -0.011608623548922056,
            -0.014096185737976783,
            -0.014096185737976783,
        ],
        [
            -0.03648424543946932,
            -0.007462686567164179,
            -0.01990049751243781,
        ],
    ),
    (
        "V1",
        [
            0.11005830903790087,
            0.13702623906705538,
            0.17346938775510204,
            0.18440233236151604,
            0.14650145772594753,
        ],
        [
            -0.01020408163265306,
            -0.011661807580174927,
            -0.011661807580174927,
            -0.013848396501457727,
            -0.013848396501457727,
        ],
        [
            -0.0029154518950437317,
            -0.008017492711370262,
            -0.009475218658892129,
        ],
    ),
];

const TOL_UV: f64 = 1e-3;

fn mv_to_uv(mv: &[f64]) -> Vec<f64> {
    mv.iter().map(|v| v * 1000.0).collect()
}

#[test]
fn record_1_header() {
    let h = read_header(ludb_dir().join("1.hea")).unwrap();
    assert_eq!(h.record_name, "1");
    assert_eq!(h.fs_hz, 500.0);
    assert_eq!(h.num_samples, Some(5000));
    assert_eq!(h.signals.len(), 12);
    let i = &h.signals[0];
    assert_eq!(
        (i.format, i.adc_gain, i.baseline, i.units.as_str()),
        (16, 1716.0, 6, "mV")
    );
    assert_eq!((i.initial_value, i.checksum), (-120, Some(-32198)));
    assert_eq!(i.description, "i");
    assert_eq!(h.comments[0], "<age>: 51");
    assert_eq!(h.comments[3], "Rhythm: Sinus bradycardia.");
}

#[test]
fn record_1_samples_match_python_wfdb() {
    let rec = read_record(ludb_dir().join("1.hea")).unwrap();
    assert_eq!(rec.fs_hz, 500.0);
    assert_eq!(rec.len_samples(), 5000);
    let names: Vec<&str> = rec.leads.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    );
    for (name, head, middle, tail) in REFERENCE_MV {
        let lead = rec.leads.iter().find(|l| l.name == name).unwrap();
        let s = &lead.samples_uv;
        assert_close(&s[..5], &mv_to_uv(&head), TOL_UV, name);
        assert_close(&s[2500..2505], &mv_to_uv(&middle), TOL_UV, name);
        assert_close(&s[4997..], &mv_to_uv(&tail), TOL_UV, name);
    }
}

#[test]
fn record_1_lead_ii_annotations_match_python_wfdb() {
    let anns = read_annotations(ludb_dir().join("1.ii")).unwrap();
    assert_eq!(anns.len(), 48);
    let samples: Vec<i64> = anns.iter().take(10).map(|a| a.sample).collect();
    assert_eq!(
        samples,
        [644, 662, 682, 776, 843, 878, 1250, 1278, 1302, 1324]
    );
    let symbols: Vec<&str> = anns.iter().take(10).map(|a| a.symbol.as_str()).collect();
    assert_eq!(symbols, ["(", "N", ")", "(", "t", ")", "(", "p", ")", "("]);
    assert!(anns
        .iter()
        .all(|a| a.subtype == 0 && a.chan == 0 && a.num == 0 && a.aux.is_none()));
    let last = anns.last().unwrap();
    assert_eq!((last.sample, last.symbol.as_str()), (3996, ")"));
    let lead_i = read_annotations(ludb_dir().join("1.i")).unwrap();
    assert_eq!(lead_i.len(), 48);
    assert_eq!(
        lead_i[..3].iter().map(|a| a.sample).collect::<Vec<_>>(),
        [641, 664, 690]
    );
}

#[test]
fn open_dispatches_hea() {
    let rec = qrsd_formats::open(ludb_dir().join("1.hea")).unwrap();
    assert_eq!(rec.leads.len(), 12);
}

/// Every LUDB record and annotation file decodes (200 records × 12 leads). Decoding is checked
/// against each header's own checksum and initial value, re-deriving ADC units from µV.
#[test]
fn whole_database_decodes_and_matches_header_checksums() {
    let dir = ludb_dir();
    let mut records = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("hea") {
            continue;
        }
        let where_ = path.display().to_string();
        let header = read_header(&path).unwrap();
        let rec = read_record(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rec.fs_hz, 500.0, "{where_}");
        assert_eq!(rec.leads.len(), 12, "{where_}");
        assert_eq!(rec.len_samples(), 5000, "{where_}");
        for (lead, spec) in rec.leads.iter().zip(&header.signals) {
            let adc: Vec<i64> = lead
                .samples_uv
                .iter()
                .map(|uv| (f64::from(*uv) / 1000.0 * spec.adc_gain).round() as i64 + spec.baseline)
                .collect();
            assert_eq!(adc[0], spec.initial_value, "{where_} {}", lead.name);
            let checksum = adc.iter().fold(0i16, |acc, &v| acc.wrapping_add(v as i16));
            assert_eq!(
                Some(i64::from(checksum)),
                spec.checksum,
                "{where_} {}",
                lead.name
            );

            let ann = path.with_extension(lead.name.to_lowercase());
            let anns = read_annotations(&ann).unwrap_or_else(|e| panic!("{e}"));
            assert!(!anns.is_empty(), "{}", ann.display());
            assert!(
                anns.windows(2).all(|w| w[0].sample <= w[1].sample),
                "{}",
                ann.display()
            );
            assert!(
                anns.iter()
                    .all(|a| ["(", ")", "N", "p", "t"].contains(&a.symbol.as_str())),
                "{}",
                ann.display()
            );
        }
        records += 1;
    }
    assert_eq!(records, 200);
}
