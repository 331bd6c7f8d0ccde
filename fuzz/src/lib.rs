//! The fuzz harnesses, as plain functions: the cargo-fuzz targets call them, and `tests/replay.rs` replays
//! the corpora and crash regressions through them on stable (`cargo test --no-default-features`).
//!
//! Each harness panics only when the code under test panics or breaks one of its documented invariants.

use std::io::Write;
use std::path::PathBuf;

use qrsd_protocol::{Decoder, Encoder, Event, DECODER_BUFFER_BYTES};

/// Frame decoder. First byte: bit 7 set = *structured* mode: the rest is a list of records
/// `type (1) | len (2, LE) | payload (len)` that are framed with valid CRCs (so the payload parsers are reached,
/// which random bytes almost never do), interleaved with raw bytes when `type` is `0xFF`; otherwise the
/// input is the byte stream itself. The stream is cut into chunks whose sizes derive from the first byte;
/// the decoder's invariants are checked (bounded buffer, byte accounting, sample blocks consistent).
pub fn decoder(data: &[u8]) {
    let (sizes, input) = match data.split_first() {
        Some((&s, rest)) => (s, rest),
        None => return,
    };
    let framed;
    let bytes: &[u8] = if sizes & 0x80 != 0 {
        framed = frames_from(input);
        &framed
    } else {
        input
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

/// Structured mode of [`decoder`]: records → validly framed stream.
fn frames_from(mut input: &[u8]) -> Vec<u8> {
    let mut enc = Encoder::new();
    let mut out = Vec::new();
    while let [t, l0, l1, rest @ ..] = input {
        let n = usize::from(u16::from_le_bytes([*l0, *l1]) & 0x07FF).min(rest.len());
        let (payload, tail) = rest.split_at(n);
        if *t == 0xFF {
            // Raw bytes between frames (garbage, torn frames).
            out.extend_from_slice(payload);
        } else {
            // Types 1..=3 are hello/status/samples; others exercise the unknown-type path. Sample payloads
            // get their first bytes' counts kept, so length checks pass or fail as the fuzzer chooses.
            let _ = enc.raw_frame(*t % 5, payload, &mut out);
        }
        input = tail;
    }
    out
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
