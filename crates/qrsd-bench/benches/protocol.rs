//! Protocol decoder throughput: bytes/s and frames/s on an 8-channel amplifier stream at 500, 1000 and
//! 2000 Hz, in 64-byte (a USB-serial read) and 4096-byte reads.
//!
//! `cargo bench -p qrsd-bench --bench protocol`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use qrsd_bench::{Workload, RATES_HZ};
use std::hint::black_box;
use std::time::Duration;

fn decoder(c: &mut Criterion) {
    for &fs in &RATES_HZ {
        let w = Workload::new(1, fs, 10.0).expect("workload");
        let p = w.protocol_bytes().expect("encode");
        for chunk in [64usize, 4096] {
            let mut g = c.benchmark_group("decoder_bytes");
            g.sample_size(20)
                .warm_up_time(Duration::from_millis(300))
                .measurement_time(Duration::from_secs(2))
                .throughput(Throughput::Bytes(p.bytes.len() as u64));
            g.bench_function(BenchmarkId::new(format!("{fs:.0}Hz"), chunk), |b| {
                b.iter(|| black_box(p.decode(chunk)))
            });
            g.finish();
        }
        let mut g = c.benchmark_group("decoder_frames");
        g.sample_size(20)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(2))
            .throughput(Throughput::Elements(p.frames as u64));
        g.bench_function(BenchmarkId::new("frames", format!("{fs:.0}Hz")), |b| {
            b.iter(|| black_box(p.decode(4096)))
        });
        g.finish();
    }
}

criterion_group!(benches, decoder);
criterion_main!(benches);
