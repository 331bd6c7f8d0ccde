//! Malformed and hostile input: every case must return `Err`, never panic, and never allocate
//! what a header merely claims.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod common;

use std::time::{Duration, Instant};

use common::{edf_header, i16_bytes, tal_bytes, EdfSignal, TempDir};
use qrsd_formats::wfdb::{read_annotations, read_header, read_record};
use qrsd_formats::{csv, edf, FormatError};

const GOOD_HEADER: &str =
    "r 2 500 4\nr.dat 16 200/mV 16 0 0 0 0 I\nr.dat 16 200/mV 16 0 0 0 0 II\n";

fn wfdb_dir(header: &str, dat: &[u8]) -> (TempDir, std::path::PathBuf) {
    let dir = TempDir::new("bad-wfdb");
    dir.write("r.dat", dat);
    let hea = dir.write("r.hea", header);
    (dir, hea)
}

#[test]
fn truncated_dat_reports_sample_counts() {
    // 4 frames of 2 signals need 16 bytes; 11 bytes hold 2 whole frames.
    let (_dir, hea) = wfdb_dir(GOOD_HEADER, &[0; 11]);
    match read_record(&hea) {
        Err(FormatError::Truncated {
            expected_samples,
            got_samples,
            path,
        }) => {
            assert_eq!((expected_samples, got_samples), (4, 2));
            assert!(path.ends_with("r.dat"));
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    let (_dir, hea) = wfdb_dir(GOOD_HEADER, &[]);
    assert!(matches!(
        read_record(&hea),
        Err(FormatError::Truncated { got_samples: 0, .. })
    ));
}

#[test]
fn header_problems() {
    let cases: [(&str, &str); 7] = [
        (
            "truncated header",
            "r 2 500 4\nr.dat 16 200/mV 16 0 0 0 0 I\n",
        ),
        (
            "nsig mismatch (extra line)",
            "r 1 500 4\nr.dat 16\nr.dat 16\n",
        ),
        ("garbage", "\u{1}\u{2}garbage !!\n%%%% 12 x\n"),
        ("bad gain", "r 1 500 4\nr.dat 16 abc/mV\n"),
        ("bad fs", "r 1 fast 4\nr.dat 16\n"),
        ("bad nsamp", "r 1 500 -4\nr.dat 16\n"),
        ("empty", ""),
    ];
    for (what, text) in cases {
        let (_dir, hea) = wfdb_dir(text, &[0; 16]);
        let err = read_record(&hea).expect_err(what);
        assert!(err.to_string().contains("r.hea"), "{what}: {err}");
    }
    let (_dir, hea) = wfdb_dir("r 1 500 4\nr.dat 16 1e999/mV\n", &[0; 8]);
    assert!(matches!(
        read_header(&hea),
        Err(FormatError::Syntax { line: 2, .. })
    ));
}

#[test]
fn binary_garbage_header_is_an_error() {
    let dir = TempDir::new("bad-bin");
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let hea = dir.write("g.hea", bytes);
    assert!(read_record(&hea).is_err());
}

#[test]
fn missing_dat_is_io_error_naming_the_dat() {
    let dir = TempDir::new("bad-missing");
    let hea = dir.write("r.hea", GOOD_HEADER);
    match read_record(&hea) {
        Err(FormatError::Io { path, .. }) => assert!(path.ends_with("r.dat")),
        other => panic!("expected Io, got {other:?}"),
    }
    assert!(matches!(
        read_record(dir.file("nope.hea")),
        Err(FormatError::Io { .. })
    ));
}

#[test]
fn absurd_sizes_hit_limits_fast() {
    let start = Instant::now();
    let (_dir, hea) = wfdb_dir("r 1 500 99999999999999\nr.dat 16\n", &[0; 4]);
    assert!(matches!(
        read_record(&hea),
        Err(FormatError::LimitExceeded { .. })
    ));
    let (_dir, hea) = wfdb_dir(
        "r 1 500 18446744073709551615\nr.dat 16x4294967295\n",
        &[0; 4],
    );
    assert!(matches!(
        read_record(&hea),
        Err(FormatError::LimitExceeded { .. })
    ));
    let (_dir, hea) = wfdb_dir("r 5000 500 10\n", &[]);
    assert!(matches!(
        read_record(&hea),
        Err(FormatError::LimitExceeded { value: 5000, .. })
    ));
    // Absurd skew is NaN padding, not an overflow or a huge read.
    let (_dir, hea) = wfdb_dir("r 1 500 2\nr.dat 16:4294967295\n", &[0; 4]);
    assert!(read_record(&hea).unwrap().leads[0]
        .samples_uv
        .iter()
        .all(|v| v.is_nan()));

    let dir = TempDir::new("bad-edf-huge");
    let mut bytes = edf_header("", "99999999", "1", &[EdfSignal::ecg("II", "99999999")]);
    bytes.extend([0; 8]);
    assert!(matches!(
        edf::read(dir.write("h.edf", bytes)),
        Err(FormatError::LimitExceeded { .. })
    ));
    let mut bytes = edf_header("", "1", "1", &[]);
    bytes[252..256].copy_from_slice(b"9999");
    assert!(matches!(
        edf::read(dir.write("ns.edf", bytes)),
        Err(FormatError::LimitExceeded { .. })
    ));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "limits must be checked before allocating"
    );
}

#[test]
fn truncated_annotation_files() {
    let dir = TempDir::new("bad-ann");
    // N at 644, then a SKIP whose interval is cut short, then an AUX cut short, then no EOF word.
    let cases: [&[u8]; 5] = [
        &[0x84, 0x06],
        &[0x84, 0x06, 0x00, 0xEC, 0x00],
        &[0x84, 0x06, 0x05, 0xFC, b'a', b'b'],
        &[0x84],
        &[],
    ];
    for (i, bytes) in cases.iter().enumerate() {
        let path = dir.write("a.atr", bytes);
        assert!(
            matches!(
                read_annotations(&path),
                Err(FormatError::UnexpectedEof { .. })
            ),
            "case {i}"
        );
    }
}

#[test]
fn edf_header_and_record_problems() {
    let dir = TempDir::new("bad-edf");
    let good = || {
        let mut b = edf_header(
            "EDF+C",
            "2",
            "1",
            &[EdfSignal::ecg("II", "2"), EdfSignal::annotations("6")],
        );
        for k in 0..2 {
            b.extend(i16_bytes(&[1, 2]));
            b.extend(tal_bytes(format!("+{k}\x14\x14\0").as_bytes(), 6));
        }
        b
    };
    assert!(edf::read(dir.write("good.edf", good())).is_ok());
    let patch = |offset: usize, text: &[u8]| {
        let mut b = good();
        b[offset..offset + text.len()].copy_from_slice(text);
        b
    };
    // Signal-header column offsets for ns = 2.
    let (phys_min, dig_min, spr) = (
        256 + 2 * (16 + 80 + 8),
        256 + 2 * (16 + 80 + 8 + 16),
        256 + 2 * (16 + 80 + 8 + 32 + 80),
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("version", patch(0, b"1")),
        ("header bytes", patch(184, b"1024    ")),
        ("record count", patch(236, b"two     ")),
        ("negative record count", patch(236, b"-5      ")),
        ("duration", patch(244, b"nan     ")),
        ("signal count", patch(252, b"x   ")),
        ("physical min = max", patch(phys_min, b"3276.7  ")),
        ("digital min > max", patch(dig_min, b"32767   ")),
        ("digital out of 16 bits", patch(dig_min, b"-99999  ")),
        ("samples per record", patch(spr, b"abc     ")),
        ("truncated records", good()[..good().len() - 3].to_vec()),
        ("short header", good()[..300].to_vec()),
        (
            "unterminated TAL",
            patch(512 + 4, b"+0\x14\x14\x14\x14\x14\x14\x14\x14\x14\x14"),
        ),
        ("bad TAL onset", patch(512 + 4, b"0\x14\x14\0")),
        ("empty file", Vec::new()),
    ];
    for (what, bytes) in cases {
        let err = edf::read(dir.write("bad.edf", bytes)).expect_err(what);
        assert!(err.to_string().contains("bad.edf"), "{what}: {err}");
    }
    match edf::read(dir.write("t.edf", &good()[..good().len() - 1])) {
        Err(FormatError::Truncated {
            expected_samples: 4,
            got_samples: 2,
            ..
        }) => {}
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn unknown_extension() {
    assert!(matches!(
        qrsd_formats::open("x.txt"),
        Err(FormatError::UnknownExtension { .. })
    ));
    assert!(matches!(
        qrsd_formats::open("noext"),
        Err(FormatError::UnknownExtension { .. })
    ));
}

/// Deterministic mutation fuzzing of valid files of every format: results may be Ok or Err, but
/// nothing may panic.
#[test]
fn mutated_files_never_panic() {
    let dir = TempDir::new("fuzz");
    let mut edf_file = edf_header(
        "EDF+D",
        "2",
        "1",
        &[EdfSignal::ecg("II", "2"), EdfSignal::annotations("10")],
    );
    for tal in [&b"+0\x14\x14\0+0.5\x150.1\x14x\x14\0"[..], b"+3\x14\x14\0"] {
        edf_file.extend(i16_bytes(&[1, -2]));
        edf_file.extend(tal_bytes(tal, 10));
    }
    let ann = {
        let p = dir.file("seed.atr");
        let anns = vec![
            qrsd_formats::wfdb::Annotation {
                sample: 5000,
                symbol: "N".into(),
                subtype: 1,
                chan: 1,
                num: 1,
                aux: Some("abc".into()),
            },
            qrsd_formats::wfdb::Annotation {
                sample: 5001,
                symbol: "(".into(),
                subtype: 0,
                chan: 1,
                num: 1,
                aux: None,
            },
        ];
        qrsd_formats::wfdb::write_annotations(&p, &anns).unwrap();
        std::fs::read(p).unwrap()
    };
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("r.hea", "r 2 250/360 3\nr.dat 212x1:0+0 200(1)/mV 12 0 0 0 0 I\nr.dat 212 200/uV 12 0 0 0 0 II\n".into()),
        ("r.dat", vec![0x64, 0xF0, 0xFF, 0x9C, 0x7F, 0xD0, 0x00, 0x80, 0x30]),
        ("x.atr", ann),
        ("x.edf", edf_file),
        ("x.csv", "time;II_mV;V1 (uV)\n0;1,5;2\n0,002;2;\n0,004;3;4\n".into()),
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (name, seed) in &seeds {
        for round in 0..400 {
            let mut bytes = seed.clone();
            for _ in 0..1 + next() % 4 {
                let len = bytes.len().max(1) as u64;
                let pos = (next() % len) as usize;
                match next() % 4 {
                    0 if !bytes.is_empty() => bytes[pos] = next() as u8,
                    1 if !bytes.is_empty() => bytes.truncate(pos),
                    2 => bytes.insert(pos.min(bytes.len()), next() as u8),
                    _ if !bytes.is_empty() => bytes[pos] ^= 1 << (next() % 8),
                    _ => {}
                }
            }
            for (other, original) in &seeds {
                dir.write(other, if other == name { &bytes } else { original });
            }
            let result = match *name {
                "r.hea" | "r.dat" => read_record(dir.file("r.hea")).map(|_| ()),
                "x.atr" => read_annotations(dir.file("x.atr")).map(|_| ()),
                "x.edf" => edf::read(dir.file("x.edf")).map(|_| ()),
                _ => csv::read(dir.file("x.csv")).map(|_| ()),
            };
            // Formatting the error must not panic either.
            if let Err(e) = result {
                let _ = format!("{name} round {round}: {e}");
            }
        }
    }
}
