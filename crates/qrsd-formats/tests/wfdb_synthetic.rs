//! Hand-built WFDB records with known values. The format-212 byte strings were cross-checked
//! against Python wfdb's `wrsamp(fmt='212')` output.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod common;

use common::{assert_chunked_read_equals, assert_close, i16_bytes, TempDir};
use qrsd_formats::wfdb::{read_header, read_record};
use qrsd_formats::FormatError;

const NAN: f64 = f64::NAN;

#[test]
fn format_212_odd_count_negative_and_invalid() {
    let dir = TempDir::new("w212");
    // Samples 1, -1, 2047, -2048 (invalid marker), -5: five samples → 8 bytes, odd tail in 2.
    dir.write("s212.dat", [0x01, 0xF0, 0xFF, 0xFF, 0x87, 0x00, 0xFB, 0x0F]);
    let hea = dir.write(
        "s212.hea",
        "# made by hand\ns212 1 250/360 5\ns212.dat 212 100(10)/mV 12 0 1 0 0 MLII\n#tail comment\n",
    );
    let header = read_header(&hea).unwrap();
    assert_eq!(header.fs_hz, 250.0);
    assert_eq!(header.counter_freq_hz, Some(360.0));
    assert_eq!(header.comments, [" made by hand", "tail comment"]);
    let rec = read_record(&hea).unwrap();
    assert_eq!(rec.fs_hz, 250.0);
    assert_eq!(rec.leads[0].name, "MLII");
    // µV = (adc - 10) / 100 adu/mV × 1000.
    assert_close(
        &rec.leads[0].samples_uv,
        &[-90.0, -110.0, 20370.0, NAN, -150.0],
        1e-3,
        "212",
    );
}

#[test]
fn format_212_two_interleaved_signals() {
    let dir = TempDir::new("w212b");
    // Frames (100, -1), (-100, 2000), (0, -2000).
    dir.write(
        "two.dat",
        [0x64, 0xF0, 0xFF, 0x9C, 0x7F, 0xD0, 0x00, 0x80, 0x30],
    );
    let hea = dir.write(
        "two.hea",
        "two 2 360 3\ntwo.dat 212 200/mV 12 0 100 0 0 ii\ntwo.dat 212 0 12 0 -1 0 0 aVR\n",
    );
    let rec = read_record(&hea).unwrap();
    assert_eq!(rec.fs_hz, 360.0);
    assert_eq!(rec.leads[0].name, "II");
    assert_eq!(rec.leads[1].name, "AVR");
    assert_close(&rec.leads[0].samples_uv, &[500.0, -500.0, 0.0], 1e-3, "II");
    // Gain 0 means the default 200 adu/mV.
    assert_close(
        &rec.leads[1].samples_uv,
        &[-5.0, 10000.0, -10000.0],
        1e-3,
        "AVR",
    );
}

#[test]
fn format_16_units_baselines_and_invalid() {
    let dir = TempDir::new("w16");
    // Three signals × 3 frames: mV with baseline, µV, V (description with spaces).
    let frames: [i16; 9] = [1000, 5, -2, -1000, -32768, 0, 0, 32767, 1];
    dir.write("r16.dat", i16_bytes(&frames));
    let hea = dir.write(
        "r16.hea",
        "r16 3 1000 3 12:00:00 01/01/2000\n\
         r16.dat 16 1000(-100)/mV 16 0 1000 0 0 V1\n\
         r16.dat 16 2/uV 16 0 5 0 0 raw uv\n\
         r16.dat 16 1000/V 16 0 -2 0 0 Lead X y\n",
    );
    let rec = read_record(&hea).unwrap();
    assert_eq!(rec.fs_hz, 1000.0);
    let names: Vec<&str> = rec.leads.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["V1", "RAW UV", "LEAD X Y"]);
    assert_close(
        &rec.leads[0].samples_uv,
        &[1100.0, -900.0, 100.0],
        1e-3,
        "mV",
    );
    assert_close(&rec.leads[1].samples_uv, &[2.5, NAN, 16383.5], 1e-3, "uV");
    assert_close(&rec.leads[2].samples_uv, &[-2000.0, 0.0, 1000.0], 1e-3, "V");
}

#[test]
fn missing_nsamp_reads_whole_frames_until_eof() {
    let dir = TempDir::new("weof");
    let mut bytes = i16_bytes(&[1, 2, 3, 4, 5, 6, 7]);
    bytes.push(0xAB); // a stray byte and a half frame: ignored
    dir.write("e.dat", bytes);
    let hea = dir.write("e.hea", "e 2\ne.dat 16 1/uV\ne.dat 16 1/uV\n");
    let rec = read_record(&hea).unwrap();
    assert_eq!(rec.fs_hz, 250.0, "default sampling frequency");
    assert_close(&rec.leads[0].samples_uv, &[1.0, 3.0, 5.0], 1e-6, "sig0");
    assert_close(&rec.leads[1].samples_uv, &[2.0, 4.0, 6.0], 1e-6, "sig1");
}

#[test]
fn formats_80_24_32_offsets_and_separate_files() {
    let dir = TempDir::new("wfmt");
    dir.write("a.dat", [0u8, 128, 255, 129]); // format 80: invalid, 0, 127, 1
    let mut b = vec![0xEE; 4]; // 4-byte prefix skipped by +4
    b.extend([
        0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x80, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]);
    dir.write("b.dat", b); // format 24: -1, invalid, 16, 0
    let c: Vec<u8> = [i32::MIN, -7, 7, 70_000]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    dir.write("c.dat", c);
    let hea = dir.write(
        "m.hea",
        "m 3 100 4\na.dat 80 1/uV 8 0 0 0 0 A\nb.dat 24+4 1/uV 24 0 0 0 0 B\nc.dat 32 10/mV 32 0 0 0 0 C\n",
    );
    let rec = read_record(&hea).unwrap();
    assert_close(
        &rec.leads[0].samples_uv,
        &[NAN, 0.0, 127.0, 1.0],
        1e-6,
        "80",
    );
    assert_close(
        &rec.leads[1].samples_uv,
        &[-1.0, NAN, 16.0, 0.0],
        1e-6,
        "24",
    );
    assert_close(
        &rec.leads[2].samples_uv,
        &[NAN, -700.0, 700.0, 7_000_000.0],
        1e-3,
        "32",
    );
}

#[test]
fn skew_shifts_signal_and_pads_with_nan() {
    let dir = TempDir::new("wskew");
    dir.write("k.dat", i16_bytes(&[1, 10, 2, 20, 3, 30]));
    let hea = dir.write("k.hea", "k 2 100 3\nk.dat 16 1/uV\nk.dat 16:1 1/uV\n");
    let rec = read_record(&hea).unwrap();
    assert_close(&rec.leads[0].samples_uv, &[1.0, 2.0, 3.0], 1e-6, "unskewed");
    assert_close(&rec.leads[1].samples_uv, &[20.0, 30.0, NAN], 1e-6, "skewed");
    assert_eq!(
        rec.leads[0].name, "SIG0",
        "empty description gets a positional name"
    );
}

#[test]
fn samples_per_frame_keeps_fastest_signals() {
    let dir = TempDir::new("wspf");
    // Frame: slow sample, then 2 fast samples.
    dir.write("f.dat", i16_bytes(&[9, 1, 2, 8, 3, 4]));
    let hea = dir.write(
        "f.hea",
        "f 2 250 2\nf.dat 16 1/uV 0 0 0 0 0 slow\nf.dat 16x2 1/uV 0 0 0 0 0 fast\n",
    );
    let rec = read_record(&hea).unwrap();
    assert_eq!(rec.fs_hz, 500.0);
    assert_eq!(rec.leads.len(), 1);
    assert_eq!(rec.leads[0].name, "FAST");
    assert_close(
        &rec.leads[0].samples_uv,
        &[1.0, 2.0, 3.0, 4.0],
        1e-6,
        "fast",
    );
}

/// A multi-parameter record (ECG beside blood pressure and pleth, as in MIMIC-style records): the
/// non-voltage signals are dropped, the ECG is read; the pressure being the fastest signal does not
/// set the rate.
#[test]
fn non_voltage_signals_beside_ecg_are_dropped() {
    let dir = TempDir::new("wmix");
    // Frames of (ABP ×2 samples, II, PLETH): ABP at twice the frame rate.
    let frames: [[i16; 4]; 3] = [[80, 81, 100, 5], [120, 121, -100, 6], [90, 91, 50, 7]];
    let flat: Vec<i16> = frames.iter().flatten().copied().collect();
    dir.write("m.dat", i16_bytes(&flat));
    let hea = dir.write(
        "m.hea",
        "m 3 125 3\nm.dat 16x2 1/mmHg 16 0 80 0 0 ABP\nm.dat 16 200/mV 16 0 100 0 0 II\nm.dat 16 1/NU 16 0 5 0 0 PLETH\n",
    );
    let rec = read_record(&hea).unwrap();
    assert_eq!(rec.fs_hz, 125.0);
    assert_eq!(rec.leads.len(), 1);
    assert_eq!(rec.leads[0].name, "II");
    assert_close(
        &rec.leads[0].samples_uv,
        &[500.0, -500.0, 250.0],
        1e-3,
        "II",
    );
}

#[test]
fn unsupported_and_non_voltage() {
    let dir = TempDir::new("wuns");
    dir.write("u.dat", [0u8; 16]);
    let hea = dir.write("u.hea", "u 1 250 2\nu.dat 310 200/mV\n");
    assert!(matches!(
        read_record(&hea),
        Err(FormatError::Unsupported { .. })
    ));
    let hea = dir.write("p.hea", "p 1 250 2\nu.dat 16 1/mmHg 0 0 0 0 0 ABP\n");
    match read_record(&hea) {
        Err(FormatError::NonVoltageUnits { signal, units, .. }) => {
            assert_eq!((signal.as_str(), units.as_str()), ("ABP", "mmHg"));
        }
        other => panic!("expected NonVoltageUnits, got {other:?}"),
    }
    let hea = dir.write("seg.hea", "seg/2 1 250 4\nu_1 2\nu_2 2\n");
    assert!(matches!(
        read_record(&hea),
        Err(FormatError::Unsupported { .. })
    ));
    let hea = dir.write("mix.hea", "mix 2 250 2\nu.dat 16\nu.dat 212\n");
    assert!(matches!(
        read_record(&hea),
        Err(FormatError::Invalid { .. })
    ));
}

/// Chunked reading gives exactly what the whole-record read gives, whatever the chunk: format 212 with
/// an odd number of samples per frame (sample pairs straddle frames and chunks), a skewed signal, a
/// second data file, and a pressure signal that is dropped.
#[test]
fn chunked_reads_equal_the_whole_record() {
    use qrsd_formats::wfdb::WfdbReader;
    let dir = TempDir::new("wchunk");
    let n_frames = 37usize;
    // a.dat: format 212, three signals per frame (I, II skewed by 2, III).
    let samples: Vec<i32> = (0..n_frames * 3)
        .map(|i| ((i as i32 * 37) % 2000) - 1000)
        .collect();
    let mut bytes = Vec::new();
    for pair in samples.chunks(2) {
        let a = (pair[0] & 0xFFF) as u16;
        let b = pair.get(1).map_or(0, |v| (v & 0xFFF) as u16);
        bytes.push((a & 0xFF) as u8);
        bytes.push(((a >> 8) as u8) | (((b >> 8) as u8) << 4));
        if pair.len() == 2 {
            bytes.push((b & 0xFF) as u8);
        }
    }
    dir.write("a.dat", bytes);
    // b.dat: format 16, a pressure signal then V1 and V2.
    let b: Vec<i16> = (0..n_frames * 3).map(|i| (i as i16 * 11) - 300).collect();
    dir.write("b.dat", i16_bytes(&b));
    let hea = dir.write(
        "c.hea",
        format!(
            "c 6 250 {n_frames}\n\
             a.dat 212 200/mV 12 0 0 0 0 I\n\
             a.dat 212:2 200/mV 12 0 0 0 0 II\n\
             a.dat 212 200/mV 12 0 0 0 0 III\n\
             b.dat 16 1/mmHg 16 0 0 0 0 ABP\n\
             b.dat 16 100(5)/mV 16 0 0 0 0 V1\n\
             b.dat 16 100/mV 16 0 0 0 0 V2\n"
        ),
    );
    let whole = read_record(&hea).unwrap();
    assert_eq!(whole.fs_hz, 250.0);
    let names: Vec<&str> = whole.leads.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["I", "II", "III", "V1", "V2"]);
    assert_eq!(whole.len_samples(), n_frames);
    // The skewed lead ends with NaN where the file holds no later frame.
    assert!(whole.leads[1].samples_uv[n_frames - 2..]
        .iter()
        .all(|v| v.is_nan()));
    assert!(!whole.leads[1].samples_uv[n_frames - 3].is_nan());
    // 200 adu/mV: 5 µV per unit; II is read two frames ahead.
    assert_eq!(whole.leads[0].samples_uv[5], samples[15] as f32 * 5.0);
    assert_eq!(
        whole.leads[1].samples_uv[5],
        samples[3 * 7 + 1] as f32 * 5.0
    );
    assert_eq!(
        whole.leads[3].samples_uv[4],
        (b[3 * 4 + 1] as f32 - 5.0) * 10.0
    );
    for chunk in [1, 2, 3, 5, 64, 1 << 20] {
        let mut r = WfdbReader::open(&hea).unwrap();
        assert_eq!(r.fs_hz(), 250.0);
        assert_eq!(r.lead_names(), names);
        assert_eq!(r.len_samples(), n_frames as u64);
        assert_chunked_read_equals(&whole, chunk, |n, out| r.read(n, out));
    }
}

/// A data file shorter than the header says is an error when the record is opened, before any sample
/// is delivered.
#[test]
fn chunked_reader_reports_truncation_at_open() {
    use qrsd_formats::wfdb::WfdbReader;
    let dir = TempDir::new("wchunkt");
    dir.write("t.dat", i16_bytes(&[1, 2, 3]));
    let hea = dir.write("t.hea", "t 1 250 10\nt.dat 16 200/mV 16 0 0 0 0 II\n");
    assert!(matches!(
        WfdbReader::open(&hea),
        Err(FormatError::Truncated {
            expected_samples: 10,
            got_samples: 3,
            ..
        })
    ));
}

/// A polysomnography-style record: EEG and EOG are voltages too, faster than the ECG here, but not
/// leads; the ECG is read at its own rate.
#[test]
fn eeg_and_eog_beside_ecg_are_not_leads() {
    let dir = TempDir::new("weeg");
    // Frame: EEG ×2, ECG, EOG.
    let frames: [[i16; 4]; 2] = [[1, 2, 100, 3], [4, 5, -100, 6]];
    let flat: Vec<i16> = frames.iter().flatten().copied().collect();
    dir.write("p.dat", i16_bytes(&flat));
    let hea = dir.write(
        "p.hea",
        "p 3 100 2\np.dat 16x2 1/uV 16 0 0 0 0 EEG C4-A1\np.dat 16 200/mV 16 0 0 0 0 ECG\np.dat 16 1/uV 16 0 0 0 0 EOG(L)\n",
    );
    let rec = read_record(&hea).unwrap();
    assert_eq!(rec.fs_hz, 100.0);
    assert_eq!(rec.leads.len(), 1);
    assert_eq!(rec.leads[0].name, "ECG");
    assert_close(&rec.leads[0].samples_uv, &[500.0, -500.0], 1e-3, "ECG");
}
