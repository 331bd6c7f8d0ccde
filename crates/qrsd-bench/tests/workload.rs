//! The benchmark workloads measure what they claim: beats come out, the decoder gets every sample.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use qrsd_bench::Workload;

#[test]
fn workloads_detect_delineate_and_decode() {
    for nl in [1, 3, 12] {
        let w = Workload::new(nl, 1000.0, 8.0).unwrap();
        let beats = w.run_pipeline().unwrap();
        // 70 bpm over 8 s: ~9 beats, the first ones held through the 2 s learning period.
        assert!(beats.len() >= 7, "{nl} leads: {} beats", beats.len());
        assert!(w.detections.len() >= 7);
        let mut d = w.delineator();
        assert!(w.run_delineator(&mut d) >= 6);
    }
    let w = Workload::new(1, 500.0, 3.0).unwrap();
    let p = w.protocol_bytes().unwrap();
    assert_eq!(p.decode(64), p.samples);
    assert_eq!(p.decode(4096), p.samples);
}
