//! Replays every file of `corpus/<target>/` and `regressions/<target>/` through the harnesses (stable
//! toolchain: `cargo test --no-default-features --manifest-path fuzz/Cargo.toml`).

use std::path::Path;

fn replay(target: &str, f: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for e in entries.flatten() {
            if let Ok(bytes) = std::fs::read(e.path()) {
                f(&bytes);
                n += 1;
            }
        }
    }
    eprintln!("{target}: {n} inputs replayed");
}

#[test]
fn decoder_corpus() {
    replay("decoder", qrsd_fuzz::decoder);
}

#[test]
fn wfdb_corpus() {
    replay("wfdb", qrsd_fuzz::wfdb);
}

#[test]
fn edf_corpus() {
    replay("edf", qrsd_fuzz::edf);
}

/// The seed inputs are valid files, so fuzzing starts from the readers' success paths.
#[test]
fn seeds_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let dir = std::env::temp_dir().join(format!("qrsd-fuzz-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, n_samples, n_leads) in [("ludb1_f16", 200, 12), ("f212", 50, 2), ("f80", 64, 1)] {
        let data = std::fs::read(root.join("wfdb").join(name)).unwrap();
        let hlen = usize::from(u16::from_le_bytes([data[0], data[1]]));
        std::fs::write(dir.join("r.hea"), &data[2..2 + hlen]).unwrap();
        std::fs::write(dir.join("r.dat"), &data[2 + hlen..]).unwrap();
        let rec = qrsd_formats::wfdb::read_record(dir.join("r.hea")).unwrap();
        assert_eq!((rec.len_samples(), rec.leads.len()), (n_samples, n_leads), "{name}");
    }
    let data = std::fs::read(root.join("wfdb").join("atr")).unwrap();
    let hlen = usize::from(u16::from_le_bytes([data[0], data[1]]));
    std::fs::write(dir.join("r.atr"), &data[2 + hlen..]).unwrap();
    assert_eq!(qrsd_formats::wfdb::read_annotations(dir.join("r.atr")).unwrap().len(), 5);
    std::fs::copy(root.join("edf").join("edfplus"), dir.join("f.edf")).unwrap();
    let f = qrsd_formats::edf::read(dir.join("f.edf")).unwrap();
    assert_eq!(f.recording.leads.len(), 2);
    assert_eq!(f.recording.len_samples(), 20);
    assert!(!f.annotations.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
