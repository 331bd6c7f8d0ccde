//! The API's JSON request bodies through the real router (create procedure, add site, baseline and site
//! measurements, accept, reject, close, stop, simulator settings): never a 5xx other than 503, every 4xx
//! with a JSON body. Harness: `qrsd_bench::api_fuzz` (replayed on stable by
//! crates/qrsd-bench/tests/api_bodies.rs, which also replays fuzz/regressions/api_json/).
//!
//! `cargo +nightly fuzz run api_json -- -max_total_time=300`
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    qrsd_bench::api_fuzz::run(data);
});
