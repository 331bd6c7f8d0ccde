//! Hand-built EDF/EDF+/BDF files with known values.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod common;

use common::{
    assert_chunked_read_equals, assert_close, edf_header, i16_bytes, tal_bytes, EdfSignal, TempDir,
};
use qrsd_formats::edf::{self, EdfAnnotation};
use qrsd_formats::FormatError;

const NAN: f64 = f64::NAN;

/// V1 signal: mV, 12-bit digital range, so µV = ((d + 2048) × 20/4095 − 10) × 1000.
fn v1_uv(d: i16) -> f64 {
    ((f64::from(d) + 2048.0) * 20.0 / 4095.0 - 10.0) * 1000.0
}

#[test]
fn edf_plus_c_mixed_rates_units_and_annotations() {
    let dir = TempDir::new("edfc");
    let mut v1 = EdfSignal::ecg("ECG V1", "4");
    (
        v1.dimension,
        v1.phys_min,
        v1.phys_max,
        v1.dig_min,
        v1.dig_max,
    ) = ("mV", "-10", "10", "-2048", "2047");
    let mut pleth = EdfSignal::ecg("Pleth", "4");
    pleth.dimension = "%";
    let signals = [
        EdfSignal::ecg("ECG II", "4"),
        v1,
        EdfSignal::ecg("Slow", "2"),
        pleth,
        EdfSignal::annotations("20"),
    ];
    let mut bytes = edf_header("EDF+C", "2", "0.5", &signals);
    let records: [([i16; 4], [i16; 4], &[u8]); 2] = [
        (
            [10, -10, 0, 32767],
            [-2048, 2047, 0, 3000],
            b"+0\x14\x14\0+0.25\x150.04\x14QRS\x14\0",
        ),
        (
            [100, -32768, 5, 6],
            [1, 2, 3, 4],
            b"+0.5\x14\x14\0+0.75\x14Beat A\x14Beat B\x14\0",
        ),
    ];
    for (ii, v1, tals) in records {
        bytes.extend(i16_bytes(&ii));
        bytes.extend(i16_bytes(&v1));
        bytes.extend(i16_bytes(&[7, 7]));
        bytes.extend(i16_bytes(&[50, 50, 50, 50]));
        bytes.extend(tal_bytes(tals, 20));
    }
    let path = dir.write("mixed.edf", bytes);
    let f = edf::read(&path).unwrap();
    assert_eq!(f.start, "02.03.02 13.14.15");
    assert_eq!(f.patient, "MCH-0234567 F 02-MAY-1951 Haagse_Harry");
    assert!(f.recording_id.starts_with("Startdate 02-MAR-2002"));
    assert_eq!(f.recording.fs_hz, 8.0);
    let names: Vec<&str> = f.recording.leads.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        ["ECG II", "ECG V1"],
        "slow and non-voltage signals are dropped"
    );
    assert_close(
        &f.recording.leads[0].samples_uv,
        &[1.0, -1.0, 0.0, 3276.7, 10.0, -3276.8, 0.5, 0.6],
        1e-3,
        "II",
    );
    let expected_v1: Vec<f64> = [-2048, 2047, 0]
        .into_iter()
        .map(v1_uv)
        .chain([NAN]) // 3000 is outside the digital range
        .chain([1, 2, 3, 4].into_iter().map(v1_uv))
        .collect();
    assert_close(&f.recording.leads[1].samples_uv, &expected_v1, 1e-2, "V1");
    assert_eq!(
        f.annotations,
        vec![
            EdfAnnotation {
                onset_s: 0.25,
                duration_s: Some(0.04),
                text: "QRS".into()
            },
            EdfAnnotation {
                onset_s: 0.75,
                duration_s: None,
                text: "Beat A".into()
            },
            EdfAnnotation {
                onset_s: 0.75,
                duration_s: None,
                text: "Beat B".into()
            },
        ]
    );
    assert_eq!(
        qrsd_formats::open(&path).unwrap().leads[0],
        f.recording.leads[0]
    );
}

#[test]
fn plain_edf_with_unknown_record_count() {
    let dir = TempDir::new("edfplain");
    let mut bytes = edf_header("", "-1", "1", &[EdfSignal::ecg("II", "2")]);
    bytes.extend(i16_bytes(&[1, 2, 3, 4, 5, 6]));
    let path = dir.write("plain.edf", &bytes);
    let f = edf::read(&path).unwrap();
    assert_eq!(f.recording.fs_hz, 2.0);
    assert_close(
        &f.recording.leads[0].samples_uv,
        &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        1e-4,
        "II",
    );
    assert!(f.annotations.is_empty());

    bytes.push(0); // a partial final record is an error, not padding
    let path = dir.write("partial.edf", &bytes);
    match edf::read(&path) {
        Err(FormatError::Truncated {
            expected_samples,
            got_samples,
            ..
        }) => {
            assert_eq!((expected_samples, got_samples), (8, 6));
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn edf_plus_d_gaps_become_nan_and_onsets_are_relative() {
    let dir = TempDir::new("edfd");
    let signals = [EdfSignal::ecg("II", "2"), EdfSignal::annotations("16")];
    let mut bytes = edf_header("EDF+D", "3", "1", &signals);
    let records: [(&[u8], [i16; 2]); 3] = [
        (b"+10\x14\x14\0", [1, 2]),
        (b"+13\x14\x14\0+13.5\x14mark\x14\0", [3, 4]),
        (b"+14\x14\x14\0", [5, 6]),
    ];
    for (tal, samples) in records {
        bytes.extend(i16_bytes(&samples));
        bytes.extend(tal_bytes(tal, 16));
    }
    let path = dir.write("d.edf", &bytes);
    let f = edf::read(&path).unwrap();
    assert_close(
        &f.recording.leads[0].samples_uv,
        &[0.1, 0.2, NAN, NAN, NAN, NAN, 0.3, 0.4, 0.5, 0.6],
        1e-4,
        "II",
    );
    assert_eq!(f.annotations.len(), 1);
    assert_eq!(f.annotations[0].onset_s, 3.5);

    // Overlapping records are rejected.
    let mut overlap = edf_header("EDF+D", "2", "1", &signals);
    for tal in [&b"+0\x14\x14\0"[..], b"+0.5\x14\x14\0"] {
        overlap.extend(i16_bytes(&[0, 0]));
        overlap.extend(tal_bytes(tal, 16));
    }
    let path = dir.write("overlap.edf", overlap);
    assert!(matches!(edf::read(&path), Err(FormatError::Invalid { .. })));
}

#[test]
fn bdf_24_bit_samples() {
    let dir = TempDir::new("bdf");
    let mut signal = EdfSignal::ecg("Fp1", "3");
    (
        signal.phys_min,
        signal.phys_max,
        signal.dig_min,
        signal.dig_max,
    ) = ("-8388608", "8388607", "-8388608", "8388607");
    let mut bytes = edf_header("24BIT", "1", "1", &[signal]);
    bytes[..8].copy_from_slice(b"\xFFBIOSEMI");
    bytes.extend([0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x80, 0x01, 0x00, 0x01]);
    let path = dir.write("x.bdf", bytes);
    let f = edf::read(&path).unwrap();
    assert_close(
        &f.recording.leads[0].samples_uv,
        &[-1.0, -8388608.0, 65537.0],
        1e-3,
        "bdf",
    );
    assert_eq!(qrsd_formats::open(&path).unwrap().leads.len(), 1);
}

#[test]
fn annotation_only_file_has_no_leads() {
    let dir = TempDir::new("edfann");
    let mut bytes = edf_header("EDF+C", "1", "0", &[EdfSignal::annotations("8")]);
    bytes.extend(tal_bytes(b"+0\x14\x14\0+1\x14x\x14\0", 8));
    let f = edf::read(dir.write("a.edf", bytes)).unwrap();
    assert!(f.recording.leads.is_empty());
    assert_eq!(f.recording.fs_hz, 0.0);
    assert_eq!(f.annotations.len(), 1);
}

#[test]
fn only_non_voltage_signals_is_an_error() {
    let dir = TempDir::new("edfnv");
    let mut s = EdfSignal::ecg("SpO2", "1");
    s.dimension = "%";
    let mut bytes = edf_header("", "1", "1", &[s]);
    bytes.extend(i16_bytes(&[97]));
    assert!(matches!(
        edf::read(dir.write("s.edf", bytes)),
        Err(FormatError::NonVoltageUnits { .. })
    ));
}

/// Everything read in chunks of any size (through `open_reader`, as `qrsd analyze` reads) equals
/// the whole-file read, EDF+D gaps included.
#[test]
fn chunked_reads_equal_the_whole_file_gaps_included() {
    let dir = TempDir::new("edfchunk");
    let signals = [
        EdfSignal::ecg("II", "3"),
        EdfSignal::ecg("V1", "3"),
        EdfSignal::annotations("16"),
    ];
    let mut bytes = edf_header("EDF+D", "4", "1", &signals);
    let records: [(&[u8], [i16; 3]); 4] = [
        (b"+0\x14\x14\0", [1, 2, 3]),
        (b"+1\x14\x14\0", [4, 5, 6]),
        (b"+5\x14\x14\0", [7, -32768, 9]),
        (b"+6\x14\x14\0+6.5\x14mark\x14\0", [10, 11, 12]),
    ];
    for (tal, samples) in records {
        bytes.extend(i16_bytes(&samples));
        bytes.extend(i16_bytes(&samples.map(|v| v.saturating_neg())));
        bytes.extend(tal_bytes(tal, 16));
    }
    let path = dir.write("c.edf", &bytes);
    let whole = edf::read(&path).unwrap().recording;
    assert_eq!(
        whole.len_samples(),
        21,
        "3 records, a 3 s gap of 9 samples, 1 more record"
    );
    for chunk in [1, 2, 4, 7, 100] {
        let mut r = qrsd_formats::open_reader(&path).unwrap();
        assert!(matches!(r, qrsd_formats::RecordReader::Edf(_)));
        assert_eq!(r.fs_hz(), 3.0);
        assert_eq!(r.lead_names(), ["II", "V1"]);
        assert_chunked_read_equals(&whole, chunk, |n, out| r.read(n, out));
    }
}

/// A streamed EDF+D file whose record onset lies years after the first is refused, not delivered
/// as years of NaN.
#[test]
fn streamed_edf_plus_d_with_an_absurd_gap_is_an_error() {
    let dir = TempDir::new("edfgap");
    let signals = [EdfSignal::ecg("II", "2"), EdfSignal::annotations("16")];
    let mut bytes = edf_header("EDF+D", "2", "1", &signals);
    for tal in [&b"+0\x14\x14\0"[..], b"+99999999\x14\x14\0"] {
        bytes.extend(i16_bytes(&[1, 2]));
        bytes.extend(tal_bytes(tal, 16));
    }
    let path = dir.write("gap.edf", bytes);
    let mut r = edf::EdfReader::open(&path).unwrap();
    let mut buf = vec![Vec::new()];
    assert_eq!(r.read(2, &mut buf).unwrap(), 2);
    assert!(matches!(
        r.read(2, &mut buf),
        Err(FormatError::LimitExceeded { .. })
    ));
}

/// A polysomnogram: EEG and EMG (µV, faster than the ECG) are not leads; the ECG keeps its own rate.
#[test]
fn eeg_and_emg_beside_ecg_are_not_leads() {
    let dir = TempDir::new("edfpsg");
    let signals = [
        EdfSignal::ecg("EEG Fpz-Cz", "4"),
        EdfSignal::ecg("ECG", "2"),
        EdfSignal::ecg("EMG submental", "4"),
    ];
    let mut bytes = edf_header("", "1", "1", &signals);
    bytes.extend(i16_bytes(&[1, 2, 3, 4]));
    bytes.extend(i16_bytes(&[10, -10]));
    bytes.extend(i16_bytes(&[5, 6, 7, 8]));
    let path = dir.write("psg.edf", bytes);
    let f = edf::read(&path).unwrap();
    assert_eq!(f.recording.fs_hz, 2.0);
    let names: Vec<&str> = f.recording.leads.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["ECG"]);
    assert_close(&f.recording.leads[0].samples_uv, &[1.0, -1.0], 1e-4, "ECG");
}
