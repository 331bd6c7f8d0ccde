//! Counters for `/metrics` (Prometheus text exposition format 0.0.4). Lock-free atomics, written by the
//! live thread and the WebSocket tasks, read by the scrape.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Upper bounds of the latency histogram buckets, ms.
pub const LATENCY_BUCKETS_MS: [f64; 12] = [
    25.0, 50.0, 100.0, 150.0, 200.0, 250.0, 300.0, 400.0, 500.0, 750.0, 1000.0, 2500.0,
];

/// A fixed-bucket histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_MS.len()],
    count: AtomicU64,
    /// Sum in µs (integer, so it can be atomic).
    sum_us: AtomicU64,
}

impl Histogram {
    /// Record one value, ms.
    pub fn observe(&self, ms: f64) {
        if !ms.is_finite() {
            return;
        }
        for (b, le) in self.buckets.iter().zip(LATENCY_BUCKETS_MS) {
            if ms <= le {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((ms.max(0.0) * 1000.0) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (b, le) in self.buckets.iter().zip(LATENCY_BUCKETS_MS) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{}\"}} {}",
                le / 1000.0,
                b.load(Ordering::Relaxed)
            );
        }
        let c = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {c}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {c}");
    }
}

/// All service counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Frames processed by the live thread.
    pub frames: AtomicU64,
    /// Gaps seen by the live thread.
    pub gaps: AtomicU64,
    /// Frames missing in those gaps.
    pub missing_frames: AtomicU64,
    /// Beats delineated.
    pub beats: AtomicU64,
    /// WebSocket messages published.
    pub messages: AtomicU64,
    /// WebSocket clients connected now.
    pub ws_clients: AtomicI64,
    /// `gap` messages sent to lagging WebSocket clients.
    pub ws_gaps: AtomicU64,
    /// Messages lagging clients missed.
    pub ws_missed_messages: AtomicU64,
    /// WebSocket clients disconnected because they stopped reading.
    pub ws_dropped_clients: AtomicU64,
    /// Measurements completed (any final status).
    pub measurements: AtomicU64,
    /// Store writes that failed.
    pub store_errors: AtomicU64,
    /// HTTP requests refused because too many were in flight.
    pub http_busy: AtomicU64,
    /// Beat QRS offset (signal time) → `beat` message published, ms.
    pub beat_latency: Histogram,
}

/// Source counters copied in at scrape time.
#[derive(Debug, Default, Clone)]
pub struct SourceCounters {
    /// Frames delivered by the source.
    pub frames: u64,
    /// CRC errors.
    pub crc_errors: u64,
    /// Gaps reported by the source.
    pub gaps: u64,
    /// Frames missing.
    pub missing_frames: u64,
    /// Frames dropped because the live thread was slow.
    pub overrun_frames: u64,
    /// Reconnects.
    pub reconnects: u64,
    /// Bytes skipped while resynchronising.
    pub bytes_discarded: u64,
    /// 1 when streaming.
    pub streaming: bool,
}

impl Metrics {
    /// Prometheus text.
    pub fn render(&self, src: &SourceCounters) -> String {
        let mut o = String::with_capacity(4096);
        let mut counter = |name: &str, help: &str, v: u64, kind: &str| {
            let _ = writeln!(o, "# HELP {name} {help}");
            let _ = writeln!(o, "# TYPE {name} {kind}");
            let _ = writeln!(o, "{name} {v}");
        };
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            "qrsd_source_frames_total",
            "Frames delivered by the acquisition source.",
            src.frames,
            "counter",
        );
        counter(
            "qrsd_source_crc_errors_total",
            "Frames with a bad CRC.",
            src.crc_errors,
            "counter",
        );
        counter(
            "qrsd_source_gaps_total",
            "Gaps reported by the source.",
            src.gaps,
            "counter",
        );
        counter(
            "qrsd_source_missing_frames_total",
            "Frames missing in gaps.",
            src.missing_frames,
            "counter",
        );
        counter(
            "qrsd_source_overrun_frames_total",
            "Frames dropped because the live thread was slow.",
            src.overrun_frames,
            "counter",
        );
        counter(
            "qrsd_source_reconnects_total",
            "Source reconnections.",
            src.reconnects,
            "counter",
        );
        counter(
            "qrsd_source_bytes_discarded_total",
            "Bytes skipped while resynchronising.",
            src.bytes_discarded,
            "counter",
        );
        counter(
            "qrsd_source_streaming",
            "1 while frames are arriving.",
            u64::from(src.streaming),
            "gauge",
        );
        counter(
            "qrsd_live_frames_total",
            "Frames processed by the live pipeline.",
            l(&self.frames),
            "counter",
        );
        counter(
            "qrsd_live_gaps_total",
            "Gaps handled by the live pipeline.",
            l(&self.gaps),
            "counter",
        );
        counter(
            "qrsd_beats_total",
            "Beats delineated.",
            l(&self.beats),
            "counter",
        );
        counter(
            "qrsd_ws_messages_total",
            "WebSocket messages published.",
            l(&self.messages),
            "counter",
        );
        counter(
            "qrsd_ws_clients",
            "WebSocket clients connected.",
            self.ws_clients.load(Ordering::Relaxed).max(0) as u64,
            "gauge",
        );
        counter(
            "qrsd_ws_gaps_total",
            "gap messages sent to lagging WebSocket clients.",
            l(&self.ws_gaps),
            "counter",
        );
        counter(
            "qrsd_ws_missed_messages_total",
            "Messages lagging WebSocket clients missed.",
            l(&self.ws_missed_messages),
            "counter",
        );
        counter(
            "qrsd_ws_dropped_clients_total",
            "WebSocket clients disconnected for not reading.",
            l(&self.ws_dropped_clients),
            "counter",
        );
        counter(
            "qrsd_measurements_total",
            "Measurements finished.",
            l(&self.measurements),
            "counter",
        );
        counter(
            "qrsd_store_errors_total",
            "Failed store writes.",
            l(&self.store_errors),
            "counter",
        );
        counter(
            "qrsd_http_busy_total",
            "Requests refused with 503 (too many in flight).",
            l(&self.http_busy),
            "counter",
        );
        self.beat_latency.render(
            &mut o,
            "qrsd_beat_latency_seconds",
            "Beat QRS offset (signal time) to its beat message being published.",
        );
        o
    }
}
