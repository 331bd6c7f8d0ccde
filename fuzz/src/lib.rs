//! The fuzz harnesses, as plain functions: the cargo-fuzz targets call them, and `tests/replay.rs` replays
//! the corpora and crash regressions through them on stable (`cargo test --no-default-features`).
//!
//! Each harness panics only when the code under test panics or breaks one of its documented invariants.

use std::io::Write;
use std::path::PathBuf;

use qrsd_protocol::{Decoder, Event, DECODER_BUFFER_BYTES};

/// Frame decoder: the input is cut into chunks whose sizes come from the input itself; checks the
/// decoder's invariants (bounded buffer, byte accounting, sample blocks consistent).
pub fn decoder(data: &[u8]) {
    let (sizes, bytes) = match data.split_first() {
        Some((&s, rest)) => (s, rest),
        None => return,
    };
    let mut d = Decoder::new();
    let mut chunk = usize::from(sizes % 64) + 1;
    let mut rest = bytes;
    let mut samples = 0u64;
    while !rest.is_empty() {
        let n = chunk.min(rest.len());
        let (a, b) = rest.split_at(n);
        rest = b;
        d.feed(a, |ev| {
            if let Event::Samples(blk) = ev {
                assert_eq!(blk.uv.len(), blk.n_samples() * blk.n_channels);
                assert_eq!(blk.codes.len(), blk.uv.len());
                assert_eq!(blk.lead_off.len(), blk.n_samples());
                assert_eq!(blk.channels.len(), blk.n_channels);
                samples += blk.n_samples() as u64;
            }
        });
        assert!(d.buffered_bytes() <= DECODER_BUFFER_BYTES);
        chunk = chunk * 7 % 997 + 1;
    }
    let st = d.stats();
    assert_eq!(st.samples, samples);
    assert!(st.bytes_discarded + d.buffered_bytes() as u64 <= bytes.len() as u64);
}

/// A per-process scratch directory on tmpfs when available.
fn scratch() -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let d = base.join(format!("qrsd-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&d);
    d
}

fn write(path: &std::path::Path, bytes: &[u8]) {
    if let Ok(mut f) = std::fs::File::create(path) {
        let _ = f.write_all(bytes);
    }
}

/// WFDB: input = header length (2 bytes LE) + header text + signal bytes. The header is parsed from text
/// and through the file reader; the signal bytes are written as `r.dat` (the name the seed headers use)
/// and `r.atr` (annotations), then the record and annotations are read.
pub fn wfdb(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let hlen = usize::from(u16::from_le_bytes([data[0], data[1]])).min(data.len() - 2);
    let (hea, dat) = data[2..].split_at(hlen);
    let text = String::from_utf8_lossy(hea);
    let dir = scratch();
    let hea_path = dir.join("r.hea");
    let _ = qrsd_formats::wfdb::Header::parse(&text, &hea_path);
    write(&hea_path, hea);
    write(&dir.join("r.dat"), dat);
    write(&dir.join("r.atr"), dat);
    if let Ok(rec) = qrsd_formats::wfdb::read_record(&hea_path) {
        let n = rec.len_samples();
        assert!(rec.leads.iter().all(|l| l.samples_uv.len() >= n));
    }
    let _ = qrsd_formats::wfdb::read_annotations(dir.join("r.atr"));
}

/// EDF/EDF+/BDF: the input is the whole file.
pub fn edf(data: &[u8]) {
    let dir = scratch();
    let p = dir.join("f.edf");
    write(&p, data);
    if let Ok(f) = qrsd_formats::edf::read(&p) {
        let n = f.recording.len_samples();
        assert!(f.recording.leads.iter().all(|l| l.samples_uv.len() >= n));
    }
}
