//! CSV reader behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod common;

use common::{assert_close, TempDir};
use qrsd_formats::{csv, FormatError};

const NAN: f64 = f64::NAN;

#[test]
fn seconds_with_units_in_headers() {
    let dir = TempDir::new("csv1");
    let path = dir.write(
        "a.csv",
        "\u{feff}time,II,\"V1_mV\",aVR (mV)\n0,1,0.001,1\n0.002,2,0.002,-1\n\n0.004,,0.003,0\n",
    );
    let rec = csv::read(&path).unwrap();
    assert_eq!(rec.fs_hz, 500.0);
    let names: Vec<&str> = rec.leads.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["II", "V1", "AVR"]);
    assert_close(&rec.leads[0].samples_uv, &[1.0, 2.0, NAN], 1e-6, "II");
    assert_close(&rec.leads[1].samples_uv, &[1.0, 2.0, 3.0], 1e-4, "V1");
    assert_close(
        &rec.leads[2].samples_uv,
        &[1000.0, -1000.0, 0.0],
        1e-4,
        "AVR",
    );
    assert_eq!(qrsd_formats::open(&path).unwrap().leads[1], rec.leads[1]);
}

#[test]
fn semicolons_decimal_commas_and_milliseconds() {
    let dir = TempDir::new("csv2");
    let path = dir.write(
        "b.csv",
        "time_ms;II [uV];V2\r\n0;1,5;NaN\r\n2,777;2;3\r\n5,555;-3,25;4\r\n",
    );
    let rec = csv::read(&path).unwrap();
    assert!((rec.fs_hz - 360.0).abs() < 0.1, "{}", rec.fs_hz);
    assert_close(&rec.leads[0].samples_uv, &[1.5, 2.0, -3.25], 1e-6, "II");
    assert_close(&rec.leads[1].samples_uv, &[NAN, 3.0, 4.0], 1e-6, "V2");
}

#[test]
fn sample_index_needs_a_rate() {
    let dir = TempDir::new("csv3");
    let with_comment = dir.write("c.csv", "# fs=250\nsample,II\n0,1\n1,2\n2,3\n");
    assert_eq!(csv::read(&with_comment).unwrap().fs_hz, 250.0);
    let bare = dir.write("d.csv", "sample,II\n0,1\n1,2\n");
    assert!(matches!(csv::read(&bare), Err(FormatError::Invalid { .. })));
    assert_eq!(csv::read_with_fs(&bare, 1000.0).unwrap().fs_hz, 1000.0);
    let skipping = dir.write("s.csv", "sample,II\n0,1\n2,2\n4,3\n");
    assert!(csv::read_with_fs(&skipping, 500.0).is_err());
    let timed = dir.write("e.csv", "time,II\n0,1\n0.002,2\n");
    assert!(
        csv::read_with_fs(&timed, 250.0).is_err(),
        "rate contradicts the time column"
    );
    assert!(csv::read_with_fs(&timed, 0.0).is_err());
}

#[test]
fn errors_carry_line_numbers() {
    let dir = TempDir::new("csv4");
    let cases: [(&str, &str, Option<usize>); 8] = [
        ("bad number", "time,II\n0,1\n0.002,abc\n", Some(3)),
        (
            "non-uniform",
            "time,II\n0,1\n0.002,1\n0.004,1\n0.0065,1\n",
            Some(5),
        ),
        ("decreasing", "time,II\n0,1\n-0.002,1\n", Some(3)),
        ("cell count", "time,II,V1\n0,1,2\n0.002,1\n", Some(3)),
        ("first column", "seconds,II\n0,1\n1,2\n", Some(1)),
        ("no leads", "time\n0\n1\n", Some(1)),
        ("one row", "time,II\n0,1\n", None),
        ("empty", "", None),
    ];
    for (what, text, line) in cases {
        let path = dir.write("bad.csv", text);
        let err = csv::read(&path).unwrap_err();
        match (line, &err) {
            (Some(expected), FormatError::Syntax { line, .. }) => {
                assert_eq!(*line, expected, "{what}: {err}")
            }
            (None, FormatError::Invalid { .. }) => {}
            _ => panic!("{what}: unexpected {err:?}"),
        }
        assert!(
            err.to_string().contains("bad.csv"),
            "{what}: message names the file: {err}"
        );
    }
}
