//! Writers read back by the readers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod common;

use common::{assert_close, ludb_dir, TempDir};
use qrsd_formats::edf::{self, EdfAnnotation};
use qrsd_formats::wfdb::{self, Annotation};
use qrsd_formats::{FormatError, Lead, Recording};

fn recording(fs_hz: f64, n: usize) -> Recording {
    let wave = |k: f64| -> Vec<f32> {
        (0..n)
            .map(|i| (1500.0 * (i as f64 * k).sin() - 200.0) as f32)
            .collect()
    };
    let mut ii = wave(0.05);
    ii[3] = f32::NAN;
    Recording {
        fs_hz,
        leads: vec![
            Lead {
                name: "II".into(),
                samples_uv: ii,
            },
            Lead {
                name: "V1".into(),
                samples_uv: wave(0.013),
            },
            Lead {
                name: "AVR".into(),
                samples_uv: vec![-32767.0 * 5.0; n],
            },
        ],
    }
}

fn expected(samples: &[f32]) -> Vec<f64> {
    samples.iter().map(|&v| f64::from(v)).collect()
}

#[test]
fn wfdb_record_round_trip() {
    let dir = TempDir::new("rt-wfdb");
    let rec = recording(360.0, 777);
    wfdb::write_record(dir.path(), "rt_1", &rec, 200.0).unwrap();
    let back = wfdb::read_record(dir.file("rt_1.hea")).unwrap();
    assert_eq!(back.fs_hz, 360.0);
    assert_eq!(back.leads.len(), 3);
    for (a, b) in rec.leads.iter().zip(&back.leads) {
        assert_eq!(a.name, b.name);
        // Gain 200 adu/mV: 5 µV steps, so at most 2.5 µV rounding error.
        assert_close(&b.samples_uv, &expected(&a.samples_uv), 2.5 + 1e-3, &a.name);
    }
    let header = wfdb::read_header(dir.file("rt_1.hea")).unwrap();
    assert_eq!(header.num_samples, Some(777));
    assert_eq!(header.signals[1].adc_gain, 200.0);
}

#[test]
fn wfdb_writer_rejects_bad_input() {
    let dir = TempDir::new("rt-wfdb-bad");
    let rec = recording(500.0, 10);
    let invalid = |r: Result<(), FormatError>| matches!(r, Err(FormatError::Invalid { .. }));
    assert!(
        invalid(wfdb::write_record(dir.path(), "x", &rec, 2000.0)),
        "AVR overflows at this gain"
    );
    assert!(invalid(wfdb::write_record(
        dir.path(),
        "bad name",
        &rec,
        200.0
    )));
    assert!(invalid(wfdb::write_record(dir.path(), "x", &rec, 0.0)));
    let mut ragged = rec.clone();
    ragged.leads[0].samples_uv.pop();
    assert!(invalid(wfdb::write_record(dir.path(), "x", &ragged, 200.0)));
}

#[test]
fn wfdb_annotations_round_trip() {
    let dir = TempDir::new("rt-ann");
    let symbols = [
        "N", "L", "R", "a", "V", "F", "J", "A", "S", "E", "j", "/", "Q", "~", "|", "s", "T", "*",
        "D", "\"", "=", "p", "B", "^", "t", "+", "u", "?", "!", "[", "]", "e", "n", "@", "x", "f",
        "(", ")", "r", "[42]",
    ];
    let anns: Vec<Annotation> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| Annotation {
            sample: (i as i64).pow(4) * 3,
            symbol: (*s).into(),
            subtype: (i % 5) as i8 - 2,
            chan: (i / 10) as u8,
            num: (i % 3) as i8,
            aux: (i % 4 == 0).then(|| format!("(AUX{i}")),
        })
        .collect();
    let path = dir.file("x.atr");
    wfdb::write_annotations(&path, &anns).unwrap();
    assert_eq!(wfdb::read_annotations(&path).unwrap(), anns);
    let bad = [Annotation {
        symbol: "??".into(),
        ..anns[0].clone()
    }];
    assert!(wfdb::write_annotations(&path, &bad).is_err());
}

#[test]
fn ludb_annotation_file_rewrites_byte_identically() {
    let original = ludb_dir().join("1.ii");
    let anns = wfdb::read_annotations(&original).unwrap();
    let dir = TempDir::new("rt-ludb");
    let copy = dir.file("1.ii");
    wfdb::write_annotations(&copy, &anns).unwrap();
    assert_eq!(
        std::fs::read(copy).unwrap(),
        std::fs::read(original).unwrap()
    );
}

#[test]
fn edf_round_trip_with_annotations() {
    let dir = TempDir::new("rt-edf");
    let rec = recording(500.0, 1000);
    let anns = vec![
        EdfAnnotation {
            onset_s: 0.25,
            duration_s: Some(0.096),
            text: "QRS".into(),
        },
        EdfAnnotation {
            onset_s: 1.5,
            duration_s: None,
            text: "Wenckebach ♥".into(),
        },
        EdfAnnotation {
            onset_s: 1.5,
            duration_s: Some(0.0),
            text: "second".into(),
        },
    ];
    let path = dir.file("r.edf");
    edf::write(&path, &rec, &anns).unwrap();
    let back = edf::read(&path).unwrap();
    assert_eq!(back.recording.fs_hz, 500.0);
    assert_eq!(back.annotations, anns);
    for (a, b) in rec.leads.iter().zip(&back.recording.leads) {
        assert_eq!(a.name, b.name);
        let range = a
            .samples_uv
            .iter()
            .filter(|v| v.is_finite())
            .fold(0f64, |m, v| m.max(f64::from(v.abs())));
        assert_close(
            &b.samples_uv,
            &expected(&a.samples_uv),
            range.ceil() / 32767.0,
            &a.name,
        );
    }
}

#[test]
fn edf_round_trip_pads_partial_record_and_fractional_rate() {
    let dir = TempDir::new("rt-edf2");
    let rec = recording(128.5, 300); // 2 s records of 257 samples → 2 records, 214 padded
    let path = dir.file("p.edf");
    edf::write(&path, &rec, &[]).unwrap();
    let back = edf::read(&path).unwrap();
    assert_eq!(back.recording.fs_hz, 128.5);
    let lead = &back.recording.leads[1].samples_uv;
    assert_eq!(lead.len(), 514);
    assert!(lead[300..].iter().all(|v| v.is_nan()));
    assert_close(
        &lead[..300],
        &expected(&rec.leads[1].samples_uv),
        0.05,
        "V1",
    );
}

#[test]
fn edf_writer_rejects_bad_input() {
    let dir = TempDir::new("rt-edf-bad");
    let path = dir.file("bad.edf");
    let mut rec = recording(500.0, 10);
    let ann = |text: &str| EdfAnnotation {
        onset_s: 0.0,
        duration_s: None,
        text: text.into(),
    };
    assert!(edf::write(&path, &rec, &[ann("a\u{14}b")]).is_err());
    assert!(edf::write(&path, &rec, &[ann("")]).is_err());
    rec.leads[0].name = "a very long lead label".into();
    assert!(edf::write(&path, &rec, &[]).is_err());
    let odd = recording(std::f64::consts::PI, 10);
    assert!(matches!(
        edf::write(&path, &odd, &[]),
        Err(FormatError::Unsupported { .. })
    ));
}
