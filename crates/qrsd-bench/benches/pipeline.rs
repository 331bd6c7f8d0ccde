//! Pipeline and per-stage throughput for 1, 3 and 12 leads at 500, 1000 and 2000 Hz.
//!
//! `cargo bench -p qrsd-bench --bench pipeline` (filter: `-- pipeline/12L`). Throughput is reported in
//! samples (frames) per second; divide by the sampling rate for × real time, or run the
//! `throughput-table` binary, which prints × real time directly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use qrsd_bench::{Workload, LEAD_COUNTS, RATES_HZ};
use std::hint::black_box;
use std::time::Duration;

/// Seconds of signal per benchmark input (long enough for several beats after the 2 s learning period).
const SECONDS: f64 = 10.0;

fn stages(c: &mut Criterion) {
    for &fs in &RATES_HZ {
        for &nl in &LEAD_COUNTS {
            let w = Workload::new(nl, fs, SECONDS).expect("workload");
            let id = format!("{nl}L/{fs:.0}Hz");
            let mut g = c.benchmark_group("stages");
            g.sample_size(10)
                .warm_up_time(Duration::from_millis(300))
                .measurement_time(Duration::from_secs(2))
                .throughput(Throughput::Elements(w.n as u64));
            g.bench_function(BenchmarkId::new("pipeline", &id), |b| {
                b.iter(|| black_box(w.run_pipeline().unwrap().len()))
            });
            g.bench_function(BenchmarkId::new("pace_blanker", &id), |b| {
                b.iter(|| black_box(w.run_blanker().unwrap().len()))
            });
            g.bench_function(BenchmarkId::new("band_filters", &id), |b| {
                b.iter(|| black_box(w.run_filters().unwrap().len()))
            });
            g.bench_function(BenchmarkId::new("detector", &id), |b| {
                b.iter(|| black_box(w.run_detector().unwrap().len()))
            });
            g.finish();

            let mut d = w.delineator();
            let beats = w.delineated_beats(&d) as u64;
            let mut g = c.benchmark_group("delineator_per_beat");
            g.sample_size(10)
                .warm_up_time(Duration::from_millis(300))
                .measurement_time(Duration::from_secs(1))
                .throughput(Throughput::Elements(beats.max(1)));
            g.bench_function(BenchmarkId::new("delineate", &id), |b| {
                b.iter(|| black_box(w.run_delineator(&mut d)))
            });
            g.finish();
        }
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
