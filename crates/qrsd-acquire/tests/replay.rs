//! ReplaySource: speeds, chunking, content identity, typed errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{collect, temp_dir};
use qrsd_acquire::{spawn, ReplayOptions, ReplaySource, SourceError, SourceEvent, Speed};
use qrsd_formats::{Lead, Recording};

fn test_recording(fs: f64, seconds: f64) -> Recording {
    let n = (fs * seconds) as usize;
    let leads = (0..3)
        .map(|l| Lead {
            name: ["I", "II", "V1"][l].into(),
            samples_uv: (0..n)
                .map(|t| {
                    if l == 2 && t == 7 {
                        f32::NAN
                    } else {
                        ((t * (l + 1)) % 2000) as f32 * 5.0 - 5000.0
                    }
                })
                .collect(),
        })
        .collect();
    Recording { fs_hz: fs, leads }
}

fn played(evs: &[SourceEvent]) -> Vec<Vec<f32>> {
    let mut out = vec![Vec::new(); 3];
    let mut next = 0;
    for e in evs {
        if let SourceEvent::Chunk(c) = e {
            assert_eq!(c.first_sample, next);
            next += c.n_frames() as u64;
            for f in c.samples_uv.chunks(3) {
                for l in 0..3 {
                    out[l].push(f[l]);
                }
            }
        }
    }
    out
}

fn same(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x.is_nan() && y.is_nan()) || x == y)
}

#[test]
fn wfdb_replay_at_all_speeds() {
    let dir = temp_dir("replay");
    let rec = test_recording(500.0, 4.0);
    qrsd_formats::wfdb::write_record(&dir, "r", &rec, 200.0).unwrap();
    let hea = dir.join("r.hea");
    let truth = qrsd_formats::open(&hea).unwrap();

    // Max: fast, complete, identical, Started first and Ended last.
    let src = ReplaySource::open(&hea, ReplayOptions::default()).unwrap();
    assert_eq!(src.n_frames(), 2000);
    let h = spawn(Box::new(src), 2);
    std::thread::sleep(Duration::from_millis(50));
    let evs = collect(&h);
    match &evs[0] {
        SourceEvent::Started(i) => {
            assert_eq!(i.lead_names, ["I", "II", "V1"]);
            assert_eq!(i.fs_hz, 500.0);
            assert!(i.description.starts_with("replay:"));
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(evs.last(), Some(&SourceEvent::Ended));
    let got = played(&evs);
    for (l, g) in got.iter().enumerate() {
        assert!(same(g, &truth.leads[l].samples_uv), "lead {l}");
    }
    assert!(got[2][7].is_nan());

    // 10×: 4 s in ~0.4 s.
    let t = Instant::now();
    let opts = ReplayOptions {
        speed: Speed::Factor(10.0),
        ..ReplayOptions::default()
    };
    let h = spawn(Box::new(ReplaySource::open(&hea, opts).unwrap()), 256);
    let evs = collect(&h);
    let el = t.elapsed();
    assert_eq!(played(&evs)[0].len(), 2000);
    assert!(
        el >= Duration::from_millis(395) && el < Duration::from_millis(1500),
        "{el:?}"
    );

    // 1× over a window: start 1 s, 0.5 s long → 250 frames in ~0.5 s, numbered from 0.
    let t = Instant::now();
    let opts = ReplayOptions {
        speed: Speed::RealTime,
        start_s: 1.0,
        seconds: Some(0.5),
        chunk_ms: 20.0,
    };
    let h = spawn(Box::new(ReplaySource::open(&hea, opts).unwrap()), 256);
    let evs = collect(&h);
    let el = t.elapsed();
    let got = played(&evs);
    assert!(same(&got[1], &truth.leads[1].samples_uv[500..750]));
    assert!(
        el >= Duration::from_millis(495) && el < Duration::from_millis(1500),
        "{el:?}"
    );
    let sizes: Vec<usize> = evs
        .iter()
        .filter_map(|e| match e {
            SourceEvent::Chunk(c) => Some(c.n_frames()),
            _ => None,
        })
        .collect();
    assert!(sizes.iter().all(|&s| s == 10));
}

#[test]
fn edf_and_csv_replay() {
    let dir = temp_dir("replay-edf");
    let rec = test_recording(250.0, 2.0);
    let edf = dir.join("r.edf");
    qrsd_formats::edf::write(&edf, &rec, &[]).unwrap();
    let h = spawn(
        Box::new(ReplaySource::open(&edf, ReplayOptions::default()).unwrap()),
        4,
    );
    let got = played(&collect(&h));
    assert_eq!(got[0].len(), 500);

    let csv = dir.join("r.csv");
    let mut text = String::from("time_s,I,II,V1\n");
    for t in 0..100 {
        text.push_str(&format!("{},{},{},{}\n", t as f64 / 250.0, t, -t, 2 * t));
    }
    std::fs::write(&csv, text).unwrap();
    let h = spawn(
        Box::new(ReplaySource::open(&csv, ReplayOptions::default()).unwrap()),
        4,
    );
    let got = played(&collect(&h));
    assert_eq!(got[1].len(), 100);
    assert_eq!(got[1][10], -10.0);
}

#[test]
fn unreadable_files_are_typed_errors() {
    let dir = temp_dir("replay-bad");
    let missing = dir.join("nope.hea");
    assert!(matches!(
        ReplaySource::open(&missing, ReplayOptions::default()),
        Err(SourceError::Replay(qrsd_formats::FormatError::Io { .. }))
    ));
    let garbage = dir.join("g.hea");
    std::fs::write(&garbage, b"\xff\xfe not a header\n").unwrap();
    assert!(matches!(
        ReplaySource::open(&garbage, ReplayOptions::default()),
        Err(SourceError::Replay(_))
    ));
    let unknown = dir.join("x.txt");
    std::fs::write(&unknown, b"1,2,3").unwrap();
    assert!(matches!(
        ReplaySource::open(&unknown, ReplayOptions::default()),
        Err(SourceError::Replay(
            qrsd_formats::FormatError::UnknownExtension { .. }
        ))
    ));
    let rec = test_recording(500.0, 1.0);
    qrsd_formats::wfdb::write_record(&dir, "ok", &rec, 200.0).unwrap();
    let bad_speed = ReplayOptions {
        speed: Speed::Factor(0.0),
        ..ReplayOptions::default()
    };
    assert!(matches!(
        ReplaySource::open(dir.join("ok.hea"), bad_speed),
        Err(SourceError::Config(_))
    ));
    // A truncated data file is reported, not played short silently.
    let dat = dir.join("ok.dat");
    let len = std::fs::metadata(&dat).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&dat)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    assert!(matches!(
        ReplaySource::open(dir.join("ok.hea"), ReplayOptions::default()),
        Err(SourceError::Replay(_))
    ));
}
