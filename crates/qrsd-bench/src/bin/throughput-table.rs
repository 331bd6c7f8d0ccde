//! Prints × real time figures of the pipeline and each of its stages, and the protocol decoder's
//! throughput, as a Markdown table (criterion's output is hard to read in docs).
//!
//! ```sh
//! cargo run --release -p qrsd-bench --bin throughput-table              # 60 s of signal, best of 3
//! cargo run --release -p qrsd-bench --bin throughput-table -- --seconds 20 --reps 2 --json
//! ```
//! "× real time" = seconds of signal processed per second of wall time, on one core (one thread). The
//! delineator is also given in µs per beat. Figures depend on the machine and its load: the load average
//! is printed with the table.

use qrsd_bench::{best_of, Workload, LEAD_COUNTS, RATES_HZ};
use serde_json::json;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

fn main() -> Result<(), qrsd_bench::Error> {
    let args: Vec<String> = std::env::args().collect();
    let seconds: f64 = arg(&args, "--seconds", 60.0);
    let reps: usize = arg(&args, "--reps", 3);
    let as_json = args.iter().any(|a| a == "--json");
    let load_before = load_average();

    let mut rows = Vec::new();
    let mut proto_rows = Vec::new();
    for &fs in &RATES_HZ {
        for &nl in &LEAD_COUNTS {
            let w = Workload::new(nl, fs, seconds)?;
            let s = w.seconds();
            let xrt = |d: std::time::Duration| s / d.as_secs_f64();
            let pipeline = best_of(reps, || w.run_pipeline().map(|b| b.len()).unwrap_or(0));
            let blanker = best_of(reps, || w.run_blanker().map(|b| b.len()).unwrap_or(0));
            let filters = best_of(reps, || w.run_filters().map(|b| b.len()).unwrap_or(0));
            let detector = best_of(reps, || w.run_detector().map(|b| b.len()).unwrap_or(0));
            let mut d = w.delineator();
            let n_beats = w.delineated_beats(&d).max(1);
            let delineator = best_of(reps, || w.run_delineator(&mut d));
            let beats = w.run_pipeline()?.len();
            rows.push(json!({
                "fs_hz": fs, "leads": nl, "signal_s": s, "beats": beats,
                "pipeline_xrt": xrt(pipeline),
                "blanker_xrt": xrt(blanker),
                "filters_xrt": xrt(filters),
                "detector_xrt": xrt(detector),
                "delineator_xrt": xrt(delineator),
                "delineator_us_per_beat": delineator.as_secs_f64() * 1e6 / n_beats as f64,
            }));
        }
        // Protocol: always the amplifier's 8 acquired channels.
        let w = Workload::new(1, fs, seconds)?;
        let p = w.protocol_bytes()?;
        let dt = best_of(reps, || p.decode(4096));
        let secs = dt.as_secs_f64();
        proto_rows.push(json!({
            "fs_hz": fs, "channels": 8, "bytes": p.bytes.len(), "frames": p.frames,
            "mb_per_s": p.bytes.len() as f64 / secs / 1e6,
            "frames_per_s": p.frames as f64 / secs,
            "xrt": w.seconds() / secs,
        }));
    }
    let load_after = load_average();

    if as_json {
        println!(
            "{}",
            json!({"pipeline": rows, "protocol": proto_rows, "seconds": seconds, "reps": reps,
                   "loadavg_before": load_before, "loadavg_after": load_after})
        );
        return Ok(());
    }
    println!(
        "Throughput, × real time on one core ({seconds} s BiV-paced synthetic signal, best of {reps}; \
         load average before {load_before}, after {load_after})\n"
    );
    println!("| fs (Hz) | leads | pipeline | pace blanker | band filters | detector | delineator | delineator µs/beat |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    for r in &rows {
        println!(
            "| {:.0} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} |",
            f(r, "fs_hz"),
            r["leads"],
            f(r, "pipeline_xrt"),
            f(r, "blanker_xrt"),
            f(r, "filters_xrt"),
            f(r, "detector_xrt"),
            f(r, "delineator_xrt"),
            f(r, "delineator_us_per_beat"),
        );
    }
    println!("\nProtocol decoder (8 channels × 24 bit, 10 samples/frame, 4096-byte reads)\n");
    println!("| fs (Hz) | MB/s | frames/s | × real time |");
    println!("|---:|---:|---:|---:|");
    for r in &proto_rows {
        println!(
            "| {:.0} | {:.0} | {:.0} | {:.0} |",
            f(r, "fs_hz"),
            f(r, "mb_per_s"),
            f(r, "frames_per_s"),
            f(r, "xrt")
        );
    }
    Ok(())
}
