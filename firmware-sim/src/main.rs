//! `firmware-sim`: the simulated 12-lead ECG amplifier. See `firmware-sim --help` and README.md.

use std::fs::File;
use std::io::{self, BufRead, ErrorKind, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};

use firmware_sim::amp::{AmpOptions, Amplifier, FrameInfo, FrameKind};
use firmware_sim::commands::{self, Command};
use firmware_sim::faults::{FaultAction, FaultInjector, FaultKind};
use firmware_sim::scenario::{Scenario, Timeline};
use firmware_sim::{patched_config, truth::truth_line};
use qrsd_synth::{LeadOffWindow, Rhythm, SynthConfig};

/// Diagnostics go through a bounded queue to a thread that writes stderr, so a reader that never drains
/// stderr (a test harness with a piped stderr) can never stall the amplifier; lines are dropped instead.
static LOG: std::sync::OnceLock<mpsc::SyncSender<String>> = std::sync::OnceLock::new();
/// Lines queued and not yet written.
static LOG_PENDING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn log_line(s: String) {
    use std::sync::atomic::Ordering;
    let tx = LOG.get_or_init(|| {
        let (tx, rx) = mpsc::sync_channel::<String>(1024);
        std::thread::spawn(move || {
            let mut e = io::stderr();
            for l in rx {
                let _ = writeln!(e, "{l}");
                LOG_PENDING.fetch_sub(1, Ordering::SeqCst);
            }
        });
        tx
    });
    LOG_PENDING.fetch_add(1, Ordering::SeqCst);
    if tx.try_send(s).is_err() {
        LOG_PENDING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Wait (at most `max`) until the queued diagnostics are written.
fn log_flush(max: Duration) {
    let until = Instant::now() + max;
    while LOG_PENDING.load(std::sync::atomic::Ordering::SeqCst) > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(2));
    }
}

macro_rules! log {
    ($($t:tt)*) => { log_line(format!($($t)*)) };
}

const AFTER_HELP: &str = concat!(
    "OUTPUT:
  --pty prints the pty slave path (e.g. /dev/pts/7) as the first stdout line, and a new line with the new
  path after every re-creation (disconnect fault or `unplug`). Without --pty/--device the frames go to
  stdout. Frames: docs/protocol.md. Sample numbers in --truth and --fault-log are device sample counters
  (0 = first sample generated).

",
    "FAULT LOG (--fault-log, JSON lines): {\"fault\": garbage|bitflip|drop|stall|disconnect|unsent, \"sample\",
  \"seq\", \"t_s\", ...}; bitflip/drop/unsent lines carry \"samples\" (samples lost with that frame), stall and
  disconnect write an \"event\":\"start\" line and an \"event\":\"end\" line with \"frames\" and \"samples\"
  lost. \"unsent\" = frames the link could not take (no reader, reader too slow): a real amplifier does not
  wait.

"
);

#[derive(Debug, Parser)]
#[command(
    name = "firmware-sim",
    version,
    about = "Simulated 12-lead ECG amplifier streaming the qrsd serial protocol (docs/protocol.md).",
    after_help = format!("{AFTER_HELP}{}", commands::HELP)
)]
struct Cli {
    /// Open a pseudo-terminal pair and stream to it; print the slave path as the first stdout line.
    #[arg(long, conflicts_with = "device")]
    pty: bool,
    /// With --pty: keep a symlink at PATH pointing to the current pty slave (removed while unplugged).
    #[arg(long, value_name = "PATH", requires = "pty")]
    link: Option<PathBuf>,
    /// Write to this serial device (or file) instead of stdout.
    #[arg(long, value_name = "PATH")]
    device: Option<PathBuf>,
    /// Signal speed relative to real time (e.g. 10 = ten times faster).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// As fast as the reader takes it (pty/device: waits for the reader instead of dropping).
    #[arg(long)]
    max_speed: bool,
    /// Stop after N seconds of signal (default: end of --scenario, or never).
    #[arg(long, value_name = "N")]
    seconds: Option<f64>,
    /// Write interval in real time, ms (frames go out in bursts, like a USB adapter).
    #[arg(long, default_value_t = 20)]
    burst_ms: u64,
    /// With --pty/--device: keep the link open this long after the last frame so a reader can drain it, s.
    #[arg(long, default_value_t = 0.5)]
    linger_s: f64,

    /// Sampling rate, Hz.
    #[arg(long, value_parser = ["250", "500", "1000", "2000"])]
    fs: Option<String>,
    /// Samples per sample frame (1..=32).
    #[arg(long, default_value_t = 10)]
    samples_per_frame: usize,
    /// Rhythm: intrinsic, biv, or rv (RV-only pacing: the LV lead does not capture).
    #[arg(long, value_parser = ["intrinsic", "biv", "rv"])]
    rhythm: Option<String>,
    /// QRS duration of the rhythm's main beats, ms.
    #[arg(long)]
    qrsd_ms: Option<f64>,
    /// QRSd of conducted beats while pacing (fusion partner), ms.
    #[arg(long)]
    intrinsic_qrsd_ms: Option<f64>,
    /// Extra width of loss-of-capture beats, ms.
    #[arg(long)]
    loc_extra_qrsd_ms: Option<f64>,
    /// Mean heart rate, beats/min.
    #[arg(long)]
    rate_bpm: Option<f64>,
    /// RR jitter (heart-rate variability) SD, ms.
    #[arg(long)]
    hrv_ms: Option<f64>,
    /// LBBB-like intrinsic morphology (default on).
    #[arg(long, conflicts_with = "no_lbbb")]
    lbbb: bool,
    /// Narrow normal intrinsic morphology.
    #[arg(long)]
    no_lbbb: bool,
    /// Pacing pulse width, ms (0.1..2).
    #[arg(long)]
    pulse_width_ms: Option<f64>,
    /// Pacing pulse amplitude at the body surface, µV.
    #[arg(long)]
    pulse_amplitude_uv: Option<f64>,
    /// LV-RV offset, ms (positive = LV first).
    #[arg(long, allow_hyphen_values = true)]
    vv_offset_ms: Option<f64>,
    /// Sensed AV delay, ms.
    #[arg(long)]
    av_delay_ms: Option<f64>,
    /// Stimulus-to-QRS-onset latency, ms.
    #[arg(long)]
    capture_latency_ms: Option<f64>,
    /// Probability of a fusion beat while pacing.
    #[arg(long)]
    fusion: Option<f64>,
    /// Probability of loss of LV capture while pacing.
    #[arg(long)]
    loss_of_capture: Option<f64>,
    /// Probability of an ectopic (PVC) beat.
    #[arg(long)]
    ectopic: Option<f64>,
    /// EMG noise RMS, µV.
    #[arg(long)]
    emg_uv: Option<f64>,
    /// Baseline wander amplitude, µV.
    #[arg(long)]
    wander_uv: Option<f64>,
    /// Mains interference amplitude, µV.
    #[arg(long)]
    mains_uv: Option<f64>,
    /// Mains frequency, Hz.
    #[arg(long, value_parser = ["50", "60"])]
    mains_hz: Option<String>,
    /// Channel off during a window: CH:START_S:END_S (CH = I, II, V1..V6 or 0..7); repeatable.
    #[arg(long, value_name = "CH:START:END")]
    lead_off: Vec<String>,
    /// Saturation level (input range), µV.
    #[arg(long)]
    clip_uv: Option<f64>,
    /// Seed of the signal's random streams.
    #[arg(long)]
    seed: Option<u64>,
    /// No hardware pace detector: the pace flag is never set (hello says so).
    #[arg(long)]
    no_pace_flag: bool,
    /// Session id in the hello (default: random per run).
    #[arg(long)]
    session_id: Option<u32>,
    /// Scenario file (JSON timeline of phases, see README.md).
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Write per-beat truth as JSON lines to FILE.
    #[arg(long, value_name = "FILE")]
    truth: Option<PathBuf>,
    /// Ignore stdin (no line commands).
    #[arg(long)]
    no_stdin: bool,

    /// Link faults to inject: comma list of garbage,bitflip,drop,stall,disconnect (or all).
    #[arg(long, value_name = "LIST", default_value = "")]
    faults: String,
    /// Fault events per minute of signal (kinds drawn uniformly from --faults).
    #[arg(long, default_value_t = 6.0)]
    fault_rate: f64,
    /// Seed of the fault process.
    #[arg(long, default_value_t = 1)]
    fault_seed: u64,
    /// Stall length, s.
    #[arg(long, default_value_t = 2.0)]
    stall_s: f64,
    /// Pause between close and re-creation on a disconnect, s.
    #[arg(long, default_value_t = 1.0)]
    unplug_s: f64,
    /// Write every injected fault as a JSON line to FILE.
    #[arg(long, value_name = "FILE")]
    fault_log: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = run(cli);
    log_flush(Duration::from_millis(500));
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "firmware-sim: error: {e}");
            ExitCode::from(2)
        }
    }
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The synthesiser configuration from defaults, scenario `config` and command-line options.
fn build_config(cli: &Cli, scenario: Option<&Scenario>) -> Res<SynthConfig> {
    let mut cfg = SynthConfig {
        fs_hz: 1000.0,
        ..SynthConfig::default()
    };
    if let Some(c) = scenario.and_then(|s| s.config.as_ref()) {
        cfg = patched_config(&cfg, c)?;
    }
    let set = |v: &mut f64, o: Option<f64>| {
        if let Some(x) = o {
            *v = x;
        }
    };
    if let Some(fs) = &cli.fs {
        cfg.fs_hz = fs.parse()?;
    }
    if let Some(r) = &cli.rhythm {
        cfg.rhythm = match r.as_str() {
            "biv" => Rhythm::Biv,
            "rv" => Rhythm::Rv,
            _ => Rhythm::Intrinsic,
        };
    }
    set(&mut cfg.qrsd_ms, cli.qrsd_ms);
    set(&mut cfg.intrinsic_qrsd_ms, cli.intrinsic_qrsd_ms);
    set(&mut cfg.loc_extra_qrsd_ms, cli.loc_extra_qrsd_ms);
    set(&mut cfg.rate_bpm, cli.rate_bpm);
    set(&mut cfg.hrv_ms, cli.hrv_ms);
    if cli.lbbb {
        cfg.lbbb = true;
    }
    if cli.no_lbbb {
        cfg.lbbb = false;
    }
    set(&mut cfg.pace.pulse_width_ms, cli.pulse_width_ms);
    set(&mut cfg.pace.amplitude_uv, cli.pulse_amplitude_uv);
    set(&mut cfg.pace.vv_offset_ms, cli.vv_offset_ms);
    set(&mut cfg.pace.av_delay_ms, cli.av_delay_ms);
    set(&mut cfg.pace.capture_latency_ms, cli.capture_latency_ms);
    set(&mut cfg.fusion_probability, cli.fusion);
    set(&mut cfg.loss_of_capture_probability, cli.loss_of_capture);
    set(&mut cfg.ectopic_probability, cli.ectopic);
    set(&mut cfg.noise.emg_uv_rms, cli.emg_uv);
    set(&mut cfg.noise.baseline_wander_uv, cli.wander_uv);
    set(&mut cfg.noise.mains_uv, cli.mains_uv);
    if let Some(m) = &cli.mains_hz {
        cfg.noise.mains_hz = m.parse()?;
    }
    set(&mut cfg.clip_uv, cli.clip_uv);
    for w in &cli.lead_off {
        let parts: Vec<&str> = w.split(':').collect();
        let bad = || format!("--lead-off `{w}`: expected CH:START_S:END_S");
        if parts.len() != 3 {
            return Err(bad().into());
        }
        let lead = firmware_sim::channel_index(parts[0]).ok_or_else(bad)?;
        let start_s: f64 = parts[1].parse().map_err(|_| bad())?;
        let end_s: f64 = parts[2].parse().map_err(|_| bad())?;
        cfg.lead_off.push(LeadOffWindow {
            lead,
            start_s,
            end_s,
        });
    }
    if let Some(s) = cli.seed {
        cfg.seed = s;
    }
    cfg.validate()?;
    Ok(cfg)
}

/// Where frames go.
enum Target {
    Stdout,
    Device(PathBuf),
    Pty { link: Option<PathBuf> },
}

/// The output link: never tears a frame it started, drops whole frames when the reader cannot take them.
struct Sink {
    target: Target,
    out: Option<Box<dyn Write>>,
    fd_file: Option<File>,
    pending: Vec<u8>,
    wait: bool,
    wait_failed: bool,
    closed_by_reader: bool,
}

/// Open a pty pair in raw mode, non-blocking master; returns the master and the slave path.
fn open_pty() -> io::Result<(File, PathBuf)> {
    use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
    let r = nix::pty::openpty(None, None).map_err(io::Error::from)?;
    let mut t = tcgetattr(&r.slave).map_err(io::Error::from)?;
    cfmakeraw(&mut t);
    tcsetattr(&r.slave, SetArg::TCSANOW, &t).map_err(io::Error::from)?;
    let path = nix::unistd::ttyname(&r.slave).map_err(io::Error::from)?;
    set_nonblocking(&r.master)?;
    // The slave is not kept open: the host opens it; until then the kernel buffers ~18 KB, then writes
    // fail with EAGAIN and frames are dropped (counted as "unsent").
    drop(r.slave);
    Ok((File::from(r.master), path))
}

fn set_nonblocking(fd: impl AsFd) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let fl = fcntl(&fd, FcntlArg::F_GETFL).map_err(io::Error::from)?;
    let fl = OFlag::from_bits_truncate(fl) | OFlag::O_NONBLOCK;
    fcntl(&fd, FcntlArg::F_SETFL(fl)).map_err(io::Error::from)?;
    Ok(())
}

fn update_link(link: &Path, target: &Path) -> io::Result<()> {
    let tmp = link.with_extension("firmware-sim-tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, link)
}

impl Sink {
    fn open(target: Target, wait: bool) -> io::Result<Self> {
        let mut s = Sink {
            target,
            out: None,
            fd_file: None,
            pending: Vec::new(),
            wait,
            wait_failed: false,
            closed_by_reader: false,
        };
        s.connect()?;
        Ok(s)
    }

    fn is_connected(&self) -> bool {
        self.out.is_some() || self.fd_file.is_some()
    }

    fn connect(&mut self) -> io::Result<()> {
        self.pending.clear();
        match &self.target {
            Target::Stdout => self.out = Some(Box::new(io::stdout())),
            Target::Device(p) => {
                use std::os::unix::fs::OpenOptionsExt;
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(false)
                    .custom_flags(nix::fcntl::OFlag::O_NOCTTY.bits())
                    .open(p)
                    .map_err(|e| {
                        io::Error::new(e.kind(), format!("cannot open {}: {e}", p.display()))
                    })?;
                if nix::unistd::isatty(&f).unwrap_or(false) {
                    use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
                    if let Ok(mut t) = tcgetattr(&f) {
                        cfmakeraw(&mut t);
                        let _ = tcsetattr(&f, SetArg::TCSANOW, &t);
                    }
                    set_nonblocking(&f)?;
                }
                self.fd_file = Some(f);
            }
            Target::Pty { link } => {
                let (master, path) = open_pty()?;
                if let Some(l) = link {
                    update_link(l, &path).map_err(|e| {
                        io::Error::new(e.kind(), format!("cannot link {}: {e}", l.display()))
                    })?;
                }
                // Best effort: the host may have stopped reading stdout after the first line.
                let mut so = io::stdout().lock();
                let _ = writeln!(so, "{}", path.display()).and_then(|_| so.flush());
                self.fd_file = Some(master);
            }
        }
        Ok(())
    }

    /// Close the link (pty: the master is closed, so the host sees a hang-up; the link is removed).
    fn disconnect(&mut self) {
        if let Target::Pty { link: Some(l) } = &self.target {
            let _ = std::fs::remove_file(l);
        }
        match self.target {
            Target::Stdout => {}
            _ => {
                self.fd_file = None;
                self.out = None;
            }
        }
        self.pending.clear();
    }

    /// Write one burst of whole frames (`frames`: byte ranges in `bytes` with their info). Returns the
    /// frames that could not be sent at all.
    fn write_burst(
        &mut self,
        bytes: &[u8],
        frames: &[(std::ops::Range<usize>, FrameInfo)],
    ) -> Vec<FrameInfo> {
        if let Some(out) = self.out.as_mut() {
            // Blocking stdout: everything or the reader has gone.
            let r = out.write_all(bytes).and_then(|_| out.flush());
            if let Err(e) = r {
                if e.kind() == ErrorKind::BrokenPipe {
                    self.closed_by_reader = true;
                }
                return frames.iter().map(|(_, f)| *f).collect();
            }
            return Vec::new();
        }
        let Some(f) = self.fd_file.as_mut() else {
            return frames.iter().map(|(_, f)| *f).collect();
        };
        let deadline = Instant::now() + Duration::from_secs(1);
        // Finish a frame started in the previous burst first.
        let pending = std::mem::take(&mut self.pending);
        let mut pending_slice: &[u8] = &pending;
        let mut written = 0usize;
        let mut stuck = false;
        let mut wait_allowed = self.wait && !self.wait_failed;
        loop {
            let (buf, is_pending) = if !pending_slice.is_empty() {
                (pending_slice, true)
            } else if written < bytes.len() {
                (&bytes[written..], false)
            } else {
                break;
            };
            match f.write(buf) {
                Ok(0) => {
                    stuck = true;
                    break;
                }
                Ok(n) => {
                    if is_pending {
                        pending_slice = &pending_slice[n..];
                    } else {
                        written += n;
                    }
                    self.wait_failed = false;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock && wait_allowed => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let ms = u16::try_from(left.as_millis()).unwrap_or(1000);
                    if ms == 0 || !poll_writable(f, ms) {
                        self.wait_failed = true;
                        wait_allowed = false;
                    }
                }
                Err(_) => {
                    // EAGAIN (buffer full: no reader or a slow one), EIO (slave closed): drop.
                    stuck = true;
                    break;
                }
            }
        }
        if !pending_slice.is_empty() {
            // Could not even finish the previous frame: keep its rest, drop this whole burst.
            self.pending = pending_slice.to_vec();
            return frames.iter().map(|(_, f)| *f).collect();
        }
        let mut unsent = Vec::new();
        if stuck || written < bytes.len() {
            for (r, info) in frames {
                if r.start >= written {
                    unsent.push(*info);
                } else if r.end > written {
                    // Started: finish it in the next burst so the frame is never torn by us.
                    self.pending = bytes[written..r.end].to_vec();
                }
            }
        }
        unsent
    }
}

fn poll_writable(f: &File, timeout_ms: u16) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(f.as_fd(), PollFlags::POLLOUT)];
    matches!(poll(&mut fds, PollTimeout::from(timeout_ms)), Ok(n) if n > 0)
        && fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLOUT))
}

/// JSON-lines writer that flushes every line (or does nothing without a file).
struct Lines(Option<File>);

impl Lines {
    fn create(p: Option<&PathBuf>) -> io::Result<Self> {
        Ok(Lines(p.map(File::create).transpose()?))
    }
    fn line(&mut self, s: &str) {
        if let Some(f) = self.0.as_mut() {
            let _ = writeln!(f, "{s}").and_then(|_| f.flush());
        }
    }
}

/// An ongoing outage (stall or disconnect).
struct Outage {
    kind: FaultKind,
    until_sample: u64,
    start_sample: u64,
    frames: u64,
    samples: u64,
}

struct Runner {
    amp: Amplifier,
    sink: Sink,
    faults: FaultInjector,
    truth: Lines,
    fault_log: Lines,
    scenario: Option<(Scenario, Timeline)>,
    outage: Option<Outage>,
    drop_remaining: usize,
    injections: Vec<(FaultKind, usize)>,
    stall_s: f64,
    unplug_s: f64,
    quit: bool,
}

fn kind_name(k: FrameKind) -> &'static str {
    match k {
        FrameKind::Hello => "hello",
        FrameKind::Status => "status",
        FrameKind::Samples { .. } => "samples",
    }
}

impl Runner {
    fn fs(&self) -> f64 {
        self.amp.fs_hz()
    }

    fn log_fault(&mut self, mut v: Value, human: &str) {
        let sample = v.get("sample").and_then(Value::as_u64).unwrap_or(0);
        if let Value::Object(m) = &mut v {
            m.insert("t_s".into(), json!(sample as f64 / self.fs()));
        }
        log!("firmware-sim: fault {human}");
        self.fault_log.line(&v.to_string());
    }

    fn apply(&mut self, cmd: Command) {
        match cmd {
            Command::Set(patch) => {
                match patched_config(self.amp.synth().config(), &patch)
                    .and_then(|c| Ok(self.amp.synth_mut().set_config(c)?))
                {
                    Ok(()) => log!("firmware-sim: ok {patch}"),
                    Err(e) => log!("firmware-sim: error: {e}"),
                }
            }
            Command::LeadOff { lead, off } => match self.amp.synth_mut().set_lead_off(lead, off) {
                Ok(()) => log!("firmware-sim: ok lead-off {lead} {off}"),
                Err(e) => log!("firmware-sim: error: {e}"),
            },
            Command::Unplug { seconds } => self.start_outage(FaultKind::Disconnect, seconds),
            Command::Stall { seconds } => self.start_outage(FaultKind::Stall, seconds),
            Command::Inject { kind, count } => self.injections.push((kind, count)),
            Command::Hello => self.amp.request_hello(),
            Command::Quit => self.quit = true,
        }
    }

    fn start_outage(&mut self, kind: FaultKind, seconds: f64) {
        if self.outage.is_some() {
            return;
        }
        let pos = self.amp.position();
        let until = pos + (seconds * self.fs()).round() as u64;
        self.log_fault(
            json!({"fault": kind.name(), "event": "start", "sample": pos, "seq": self.amp.next_seq(),
                   "duration_s": seconds}),
            &format!("{} start at sample {pos} for {seconds} s", kind.name()),
        );
        if kind == FaultKind::Disconnect {
            self.sink.disconnect();
        }
        self.outage = Some(Outage {
            kind,
            until_sample: until,
            start_sample: pos,
            frames: 0,
            samples: 0,
        });
    }

    fn end_outage_if_due(&mut self) {
        let pos = self.amp.position();
        let Some(o) = self.outage.as_ref() else {
            return;
        };
        if pos < o.until_sample {
            return;
        }
        let (kind, start, frames, samples) = (o.kind, o.start_sample, o.frames, o.samples);
        self.outage = None;
        if kind == FaultKind::Disconnect {
            match self.sink.connect() {
                Ok(()) => self.amp.request_hello(),
                Err(e) => {
                    log!("firmware-sim: error: cannot re-create the link: {e}");
                    self.quit = true;
                }
            }
        }
        self.log_fault(
            json!({"fault": kind.name(), "event": "end", "sample": pos, "start_sample": start,
                   "frames": frames, "samples": samples}),
            &format!(
                "{} end at sample {pos}: {frames} frames, {samples} samples lost",
                kind.name()
            ),
        );
    }

    fn scenario_step(&mut self) {
        let pos = self.amp.position();
        let Some((sc, tl)) = self.scenario.as_mut() else {
            return;
        };
        match tl.at(pos) {
            None => {
                self.quit = true;
            }
            Some((i, true)) => {
                let set = sc.phases[i].set.clone();
                let label = sc.phases[i].label.clone();
                let cmds = sc.phase_commands(i);
                log!("firmware-sim: phase {i} `{label}` at sample {pos}");
                if let Some(s) = set {
                    self.apply(Command::Set(s));
                }
                for c in cmds {
                    self.apply(c);
                }
            }
            Some(_) => {}
        }
    }

    fn write_truth(&mut self) {
        let fs = self.fs();
        let beats: Vec<_> = self.amp.drain_truth().collect();
        for b in beats {
            let phase = self.scenario.as_ref().and_then(|(sc, tl)| {
                tl.phase_of(b.onset_sample)
                    .map(|i| (i, sc.phases[i].label.as_str()))
            });
            let line = truth_line(&b, fs, phase);
            self.truth.line(&line);
        }
    }

    /// Generate frames until the position reaches `target`, apply faults, write them as one burst.
    fn burst(&mut self, target: u64, buf: &mut Vec<u8>) -> Res<()> {
        buf.clear();
        let mut frames: Vec<(std::ops::Range<usize>, FrameInfo)> = Vec::new();
        while self.amp.position() < target && !self.quit {
            self.scenario_step();
            if self.quit {
                break;
            }
            self.end_outage_if_due();
            let start = buf.len();
            let info = self.amp.next_frame(buf)?;
            self.write_truth();
            let pos = match info.kind {
                FrameKind::Samples { first_sample, .. } => first_sample,
                _ => self.amp.position(),
            };
            let n = info.n_samples() as u64;
            let frame_len = buf.len() - start;
            // Forced fault process draw for every frame, so the seeded sequence does not depend on
            // commands or outages.
            let drawn = self.faults.decide(frame_len);
            if let Some(o) = self.outage.as_mut() {
                o.frames += 1;
                o.samples += n;
                buf.truncate(start);
                continue;
            }
            if self.drop_remaining > 0 {
                self.drop_remaining -= 1;
                buf.truncate(start);
                self.log_fault(
                    json!({"fault":"drop","sample":pos,"seq":info.seq,"frame":kind_name(info.kind),"samples":n}),
                    &format!("drop seq {} ({})", info.seq, kind_name(info.kind)),
                );
                continue;
            }
            let action = match (!self.injections.is_empty()).then(|| self.injections.remove(0)) {
                Some((k, count)) => self.faults.inject(k, frame_len, count),
                None => drawn,
            };
            match action {
                FaultAction::None => {}
                FaultAction::Garbage(g) => {
                    let len = g.len();
                    buf.splice(start..start, g);
                    self.log_fault(
                        json!({"fault":"garbage","sample":pos,"seq":info.seq,"bytes":len}),
                        &format!("garbage {len} bytes before seq {}", info.seq),
                    );
                    frames.push((start + len..buf.len(), info));
                    continue;
                }
                FaultAction::Bitflip { byte, bit } => {
                    if let Some(b) = buf.get_mut(start + byte) {
                        *b ^= 1 << bit;
                    }
                    self.log_fault(
                        json!({"fault":"bitflip","sample":pos,"seq":info.seq,"frame":kind_name(info.kind),
                               "byte":byte,"bit":bit,"samples":n}),
                        &format!("bitflip seq {} byte {byte} bit {bit}", info.seq),
                    );
                }
                FaultAction::Drop { frames: k } => {
                    buf.truncate(start);
                    self.drop_remaining = k - 1;
                    self.log_fault(
                        json!({"fault":"drop","sample":pos,"seq":info.seq,"frame":kind_name(info.kind),"samples":n}),
                        &format!("drop seq {} ({})", info.seq, kind_name(info.kind)),
                    );
                    continue;
                }
                FaultAction::Stall | FaultAction::Disconnect => {
                    buf.truncate(start);
                    // Send what was generated before the outage, then start it with this frame lost.
                    let unsent = self.sink.write_burst(buf, &frames);
                    self.log_unsent(&unsent);
                    buf.clear();
                    frames.clear();
                    let (kind, secs) = if action == FaultAction::Stall {
                        (FaultKind::Stall, self.stall_s)
                    } else {
                        (FaultKind::Disconnect, self.unplug_s)
                    };
                    self.start_outage(kind, secs);
                    if let Some(o) = self.outage.as_mut() {
                        o.frames += 1;
                        o.samples += n;
                    }
                    continue;
                }
            }
            frames.push((start..buf.len(), info));
        }
        if !buf.is_empty() {
            let unsent = self.sink.write_burst(buf, &frames);
            self.log_unsent(&unsent);
        }
        Ok(())
    }

    fn log_unsent(&mut self, unsent: &[FrameInfo]) {
        if unsent.is_empty() || !self.sink.is_connected() && self.outage.is_some() {
            return;
        }
        let samples: usize = unsent.iter().map(FrameInfo::n_samples).sum();
        let first = unsent
            .iter()
            .find_map(|f| match f.kind {
                FrameKind::Samples { first_sample, .. } => Some(first_sample),
                _ => None,
            })
            .unwrap_or(self.amp.position());
        let v = json!({"fault":"unsent","sample":first,"seq":unsent[0].seq,"frames":unsent.len(),
                       "samples":samples});
        let sample = first;
        let mut v = v;
        if let Value::Object(m) = &mut v {
            m.insert("t_s".into(), json!(sample as f64 / self.fs()));
        }
        self.fault_log.line(&v.to_string());
    }
}

fn run(cli: Cli) -> Res<()> {
    let scenario = match &cli.scenario {
        Some(p) => Some(Scenario::parse(
            &std::fs::read_to_string(p).map_err(|e| format!("scenario {}: {e}", p.display()))?,
        )?),
        None => None,
    };
    let cfg = build_config(&cli, scenario.as_ref())?;
    if !(cli.speed > 0.0 && cli.speed.is_finite()) {
        return Err("--speed must be > 0".into());
    }
    if let Some(s) = cli.seconds {
        if !(s >= 0.0 && s.is_finite()) {
            return Err("--seconds must be ≥ 0".into());
        }
    }
    let kinds = FaultKind::parse_list(&cli.faults)?;
    let session_id = cli.session_id.unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ d.as_secs() as u32)
            .unwrap_or(0);
        t ^ std::process::id().rotate_left(16)
    });
    let opts = AmpOptions {
        samples_per_frame: cli.samples_per_frame,
        hw_pace: !cli.no_pace_flag,
        session_id,
        serial: format!("SIM-{:08X}", cfg.seed as u32),
        lsb_nv: qrsd_protocol::DEFAULT_LSB_NV,
    };
    let fs = cfg.fs_hz;
    let amp = Amplifier::new(cfg, &opts)?;
    let frame_s = cli.samples_per_frame as f64 / fs;
    let faults = FaultInjector::new(kinds, cli.fault_rate, frame_s, cli.fault_seed);
    let truth = Lines::create(cli.truth.as_ref())?;
    let fault_log = Lines::create(cli.fault_log.as_ref())?;
    let target = if cli.pty {
        Target::Pty {
            link: cli.link.clone(),
        }
    } else if let Some(d) = &cli.device {
        Target::Device(d.clone())
    } else {
        Target::Stdout
    };
    let is_stdout = matches!(target, Target::Stdout);
    let sink = Sink::open(target, cli.max_speed)?;
    let end_sample = match (cli.seconds, &scenario) {
        (Some(s), _) => Some((s * fs).round() as u64),
        (None, Some(sc)) if !sc.repeat => Some((sc.duration_s() * fs).round() as u64),
        _ => None,
    };
    let scenario = scenario.map(|s| {
        let t = Timeline::new(&s, fs);
        (s, t)
    });
    let mut r = Runner {
        amp,
        sink,
        faults,
        truth,
        fault_log,
        scenario,
        outage: None,
        drop_remaining: 0,
        injections: Vec::new(),
        stall_s: cli.stall_s,
        unplug_s: cli.unplug_s,
        quit: false,
    };

    let (tx, rx) = mpsc::channel::<String>();
    if !cli.no_stdin {
        std::thread::spawn(move || {
            for line in io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }

    let burst = Duration::from_millis(cli.burst_ms.max(1));
    let burst_samples = ((cli.burst_ms.max(1) as f64 / 1000.0) * fs).ceil() as u64;
    let t0 = Instant::now();
    let mut next_tick = t0;
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        while let Ok(line) = rx.try_recv() {
            match commands::parse(&line) {
                Ok(Some(c)) => r.apply(c),
                Ok(None) => {}
                Err(e) => log!("firmware-sim: error: {e}"),
            }
        }
        let mut target = if cli.max_speed {
            r.amp.position() + burst_samples.max(1)
        } else {
            (t0.elapsed().as_secs_f64() * cli.speed * fs) as u64
        };
        if let Some(e) = end_sample {
            target = target.min(e);
        }
        r.burst(target, &mut buf)?;
        // An outage ends in signal time even when no frame is due (a burst may be empty).
        r.end_outage_if_due();
        if r.quit || end_sample.is_some_and(|e| r.amp.position() >= e) {
            break;
        }
        if r.sink.closed_by_reader {
            log!("firmware-sim: the reader closed stdout; stopping");
            break;
        }
        if !cli.max_speed {
            next_tick += burst;
            let now = Instant::now();
            if next_tick > now {
                std::thread::sleep(next_tick - now);
            } else {
                next_tick = now;
            }
        }
    }
    // Anything still pending from a partially written frame, then let the reader drain.
    if !is_stdout && cli.linger_s > 0.0 {
        let until = Instant::now() + Duration::from_secs_f64(cli.linger_s.min(60.0));
        while !r.sink.pending.is_empty() && Instant::now() < until {
            r.sink.write_burst(&[], &[]);
            std::thread::sleep(Duration::from_millis(5));
        }
        let left = until.saturating_duration_since(Instant::now());
        std::thread::sleep(left);
    }
    if let Some(o) = r.outage.take() {
        let pos = r.amp.position();
        r.log_fault(
            json!({"fault": o.kind.name(), "event": "end", "sample": pos, "start_sample": o.start_sample,
                   "frames": o.frames, "samples": o.samples}),
            &format!("{} still in progress at the end", o.kind.name()),
        );
    }
    if let Target::Pty { link: Some(l) } = &r.sink.target {
        let _ = std::fs::remove_file(l);
    }
    log!(
        "firmware-sim: done, {} samples ({:.1} s of signal)",
        r.amp.position(),
        r.amp.position() as f64 / fs
    );
    Ok(())
}
