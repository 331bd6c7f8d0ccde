//! `qrsd record`: headless capture of a live source into a crash-safe WFDB recording.
//!
//! ```sh
//! qrsd record --source serial:/dev/ttyUSB0 --seconds 60 --out DIR   # the amplifier
//! qrsd record --source sim --rhythm biv --qrsd-ms 130 --seconds 30 --out DIR
//! qrsd record --source replay:rec.hea --speed max --seconds 10 --out DIR
//! ```
//! Prints the recording's `.hea` path on stdout (one line per record; more than one only if the stream
//! changed rate or channels), a summary on stderr. The path goes straight into `qrsd analyze`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use qrsd_acquire::{
    spawn, Recorder, RecorderOptions, RecorderThread, ReplayOptions, ReplaySource, SerialOptions,
    SerialSource, SimOptions, SimSource, Source, SourceEvent, Speed,
};
use qrsd_synth::{Rhythm, SynthConfig};

/// `qrsd record` arguments.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Source: `serial:PATH` (amplifier or `firmware-sim --pty`), `sim` (in-process simulator) or
    /// `replay:PATH` (WFDB .hea, EDF, CSV).
    #[arg(long, default_value = "sim")]
    source: String,
    /// Seconds of signal to record (gaps count as time).
    #[arg(long)]
    seconds: f64,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Record name (letters, digits, _); default qrsd_YYYYMMDD_HHMMSS (UTC).
    #[arg(long)]
    name: Option<String>,
    /// Give up after this many wall-clock seconds (default: 2 × seconds / speed + 10).
    #[arg(long)]
    timeout_s: Option<f64>,
    /// sim/replay: delivery speed, `1`, `10`, … or `max`.
    #[arg(long, default_value = "1")]
    speed: String,
    /// sim: sampling rate, Hz.
    #[arg(long, default_value_t = 1000.0)]
    fs: f64,
    /// sim: rhythm, `intrinsic`, `biv` or `rv` (RV-only pacing).
    #[arg(long, default_value = "intrinsic")]
    rhythm: String,
    /// sim: QRS duration of the rhythm's beats, ms.
    #[arg(long)]
    qrsd_ms: Option<f64>,
    /// sim: heart rate, beats/min.
    #[arg(long)]
    rate_bpm: Option<f64>,
    /// sim: seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// serial: baud rate.
    #[arg(long, default_value_t = 921_600)]
    baud: u32,
}

fn build_source(a: &RecordArgs, speed: Speed) -> Result<Box<dyn Source>> {
    let src = a.source.as_str();
    if let Some(path) = src.strip_prefix("serial:") {
        let mut o = SerialOptions::new(path);
        o.baud = a.baud;
        return Ok(Box::new(SerialSource::new(o)?));
    }
    if let Some(path) = src.strip_prefix("replay:") {
        let o = ReplayOptions {
            speed,
            seconds: Some(a.seconds),
            ..ReplayOptions::default()
        };
        let r = ReplaySource::open(path, o).with_context(|| format!("opening {path}"))?;
        return Ok(Box::new(r));
    }
    if src == "sim" {
        let rhythm = match a.rhythm.as_str() {
            "intrinsic" => Rhythm::Intrinsic,
            "biv" => Rhythm::Biv,
            "rv" => Rhythm::Rv,
            r => bail!("--rhythm {r:?}: intrinsic, biv or rv"),
        };
        let mut synth = SynthConfig {
            fs_hz: a.fs,
            rhythm,
            seed: a.seed,
            ..SynthConfig::default()
        };
        if let Some(q) = a.qrsd_ms {
            synth.qrsd_ms = q;
        }
        if let Some(r) = a.rate_bpm {
            synth.rate_bpm = r;
        }
        let o = SimOptions {
            synth,
            speed,
            seconds: Some(a.seconds),
            ..SimOptions::default()
        };
        return Ok(Box::new(SimSource::new(o)?));
    }
    bail!("--source {src:?}: expected serial:PATH, sim or replay:PATH")
}

/// Run `qrsd record`.
pub fn run(a: RecordArgs) -> Result<()> {
    if !(a.seconds.is_finite() && a.seconds > 0.0) {
        bail!("--seconds must be positive");
    }
    let speed = Speed::parse(&a.speed)?;
    let source = build_source(&a, speed)?;
    let recorder = Recorder::new(
        &a.out,
        RecorderOptions {
            record_name: a.name.clone(),
            software_version: crate::build().to_string(),
            ..RecorderOptions::default()
        },
    )
    .with_context(|| format!("output directory {}", a.out.display()))?;
    let rec = RecorderThread::spawn(recorder, 4096)?;
    let handle = spawn(source, 4096);
    let factor = speed.factor().unwrap_or(100.0);
    let timeout = Duration::from_secs_f64(
        a.timeout_s
            .unwrap_or(2.0 * a.seconds / factor + 10.0)
            .max(0.1),
    );
    let t0 = Instant::now();
    let mut target: Option<u64> = None;
    let mut covered = 0u64;
    let mut ended = false;
    let mut timed_out = false;
    loop {
        if t0.elapsed() > timeout {
            timed_out = true;
            break;
        }
        let ev = match handle.events.recv_timeout(Duration::from_millis(100)) {
            Ok(ev) => ev,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut ev = ev;
        match &mut ev {
            SourceEvent::Started(info) => {
                target.get_or_insert((a.seconds * info.fs_hz).round() as u64);
            }
            SourceEvent::Chunk(c) => {
                // Exactly N seconds: cut the chunk that crosses the target.
                if let Some(t) = target {
                    let keep = usize::try_from(t.saturating_sub(c.first_sample))
                        .unwrap_or(usize::MAX)
                        .min(c.n_frames());
                    if keep < c.n_frames() {
                        let nl = c.samples_uv.len() / c.n_frames().max(1);
                        c.samples_uv.truncate(keep * nl);
                        c.pace.truncate(keep);
                        c.lead_off.truncate(keep);
                    }
                }
                covered = c.first_sample + c.n_frames() as u64;
            }
            SourceEvent::Gap {
                at_sample,
                missing_frames,
                reason,
            } => {
                if let Some(t) = target {
                    *missing_frames = (*missing_frames).min(t.saturating_sub(*at_sample));
                }
                eprintln!(
                    "qrsd record: gap of {missing_frames} frames at sample {at_sample} ({})",
                    reason.as_str()
                );
                covered = *at_sample + *missing_frames;
            }
            SourceEvent::Ended => ended = true,
            SourceEvent::Status(_) => {}
        }
        rec.send(&ev);
        if ended || target.is_some_and(|t| covered >= t) {
            break;
        }
    }
    let status = handle.status();
    let _ = handle.stop();
    let summary = rec.finish().context("finishing the recording")?;
    if summary.segments.is_empty() {
        bail!(
            "nothing recorded from {} ({})",
            a.source,
            status.last_error.as_deref().unwrap_or("no data")
        );
    }
    for s in &summary.segments {
        println!("{}", s.hea_path.display());
    }
    let frames: u64 = summary.segments.iter().map(|s| s.frames).sum();
    let gaps: u64 = summary.segments.iter().map(|s| s.gaps).sum();
    let missing: u64 = summary.segments.iter().map(|s| s.missing_frames).sum();
    eprintln!(
        "qrsd record: {frames} frames, {gaps} gaps ({missing} frames missing), {} CRC errors, {} bytes discarded, {} reconnects, {} events dropped{}",
        status.crc_errors,
        status.bytes_discarded,
        status.reconnects,
        summary.dropped_events,
        if timed_out { "; stopped by --timeout-s" } else { "" }
    );
    Ok(())
}
