//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "qrsd-formats-{tag}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.file(name);
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// LUDB's data directory; panics with instructions if it is missing (never skips silently).
pub fn ludb_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ludb/data");
    assert!(
        dir.join("1.hea").is_file(),
        "LUDB not found at {} (expected CARGO_MANIFEST_DIR/../../../shared/data/ludb/data/1.hea); \
         the real-data tests need the shared LUDB copy",
        dir.display()
    );
    dir
}

/// Asserts two sample slices agree within `tol` (NaN matches NaN).
pub fn assert_close(actual: &[f32], expected: &[f64], tol: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        if e.is_nan() {
            assert!(a.is_nan(), "{what}[{i}]: expected NaN, got {a}");
        } else {
            assert!(
                (f64::from(a) - e).abs() <= tol,
                "{what}[{i}]: got {a}, expected {e} (tol {tol})"
            );
        }
    }
}

/// One signal of a hand-built EDF header.
pub struct EdfSignal<'a> {
    pub label: &'a str,
    pub dimension: &'a str,
    pub phys_min: &'a str,
    pub phys_max: &'a str,
    pub dig_min: &'a str,
    pub dig_max: &'a str,
    pub samples_per_record: &'a str,
}

impl<'a> EdfSignal<'a> {
    pub fn ecg(label: &'a str, spr: &'a str) -> EdfSignal<'a> {
        EdfSignal {
            label,
            dimension: "uV",
            phys_min: "-3276.8",
            phys_max: "3276.7",
            dig_min: "-32768",
            dig_max: "32767",
            samples_per_record: spr,
        }
    }

    pub fn annotations(spr: &'a str) -> EdfSignal<'a> {
        EdfSignal {
            label: "EDF Annotations",
            dimension: "",
            phys_min: "-1",
            phys_max: "1",
            dig_min: "-32768",
            dig_max: "32767",
            samples_per_record: spr,
        }
    }
}

fn field(out: &mut Vec<u8>, text: &str, width: usize) {
    assert!(text.len() <= width, "{text:?} wider than {width}");
    out.extend_from_slice(text.as_bytes());
    out.resize(out.len() + width - text.len(), b' ');
}

/// Builds an EDF header (main + signal headers) byte by byte.
pub fn edf_header(
    reserved: &str,
    n_records: &str,
    duration: &str,
    signals: &[EdfSignal],
) -> Vec<u8> {
    let mut h = Vec::new();
    field(&mut h, "0", 8);
    field(&mut h, "MCH-0234567 F 02-MAY-1951 Haagse_Harry", 80);
    field(
        &mut h,
        "Startdate 02-MAR-2002 PSG-1234/2002 NN Telemetry03",
        80,
    );
    field(&mut h, "02.03.02", 8);
    field(&mut h, "13.14.15", 8);
    field(&mut h, &(256 * (signals.len() + 1)).to_string(), 8);
    field(&mut h, reserved, 44);
    field(&mut h, n_records, 8);
    field(&mut h, duration, 8);
    field(&mut h, &signals.len().to_string(), 4);
    for s in signals {
        field(&mut h, s.label, 16);
    }
    for _ in signals {
        field(&mut h, "AgAgCl electrode", 80);
    }
    for s in signals {
        field(&mut h, s.dimension, 8);
    }
    for s in signals {
        field(&mut h, s.phys_min, 8);
    }
    for s in signals {
        field(&mut h, s.phys_max, 8);
    }
    for s in signals {
        field(&mut h, s.dig_min, 8);
    }
    for s in signals {
        field(&mut h, s.dig_max, 8);
    }
    for _ in signals {
        field(&mut h, "HP:0.1Hz", 80);
    }
    for s in signals {
        field(&mut h, s.samples_per_record, 8);
    }
    for _ in signals {
        field(&mut h, "", 32);
    }
    h
}

/// Little-endian 16-bit samples as bytes.
pub fn i16_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// Annotation-signal bytes: `text` padded with zeros to `spr` 16-bit samples.
pub fn tal_bytes(text: &[u8], spr: usize) -> Vec<u8> {
    assert!(text.len() <= spr * 2);
    let mut v = text.to_vec();
    v.resize(spr * 2, 0);
    v
}

/// Reads everything through `read` (a chunked reader's `read(max, out)`) in chunks of `chunk` and
/// asserts it equals `whole` sample for sample (NaN equal to NaN), and that no chunk is too long.
pub fn assert_chunked_read_equals(
    whole: &qrsd_formats::Recording,
    chunk: usize,
    mut read: impl FnMut(usize, &mut [Vec<f32>]) -> Result<usize, qrsd_formats::FormatError>,
) {
    let n = whole.leads.len();
    let mut got: Vec<Vec<f32>> = vec![Vec::new(); n];
    let mut buf: Vec<Vec<f32>> = vec![Vec::new(); n];
    while read(chunk, &mut buf).unwrap() > 0 {
        assert!(buf
            .iter()
            .all(|b| b.len() <= chunk && b.len() == buf[0].len()));
        for (g, b) in got.iter_mut().zip(&buf) {
            g.extend_from_slice(b);
        }
    }
    for (lead, g) in whole.leads.iter().zip(&got) {
        let same = lead.samples_uv.len() == g.len()
            && lead
                .samples_uv
                .iter()
                .zip(g)
                .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
        assert!(same, "chunk {chunk}, lead {}", lead.name);
    }
}
