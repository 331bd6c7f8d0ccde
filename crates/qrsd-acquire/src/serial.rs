//! [`SerialSource`]: the amplifier on a serial/USB port (or a pseudo-terminal, e.g. `firmware-sim --pty`),
//! decoded with `qrsd-protocol`'s resynchronising [`Decoder`].
//!
//! # Behaviour
//! * **Open** `path` with `serialport` (8N1, raw, the configured baud rate). If `serialport` cannot open or
//!   configure the device (some pseudo-terminals refuse parts of its set-up), fall back to plain file I/O
//!   with the terminal put in raw mode through termios (`nix`), polled with a timeout.
//! * **Hello**: nothing is delivered before the device's hello; it gives the rate, channels, resolution,
//!   firmware and the hardware-pace capability ([`SourceEvent::Started`]).
//! * **Sample numbers**: session sample = device sample counter − the counter of the first sample
//!   received, so sample numbers are time and advance over every hole. A hole is a [`SourceEvent::Gap`]
//!   sent before the chunk that follows it, with reason
//!   [`GapReason::Disconnect`] if the port was lost and reopened in between,
//!   [`GapReason::Stall`] if the watchdog had fired, [`GapReason::SequenceGap`] otherwise (dropped or
//!   corrupted frames). A device restart (new session id, counters from zero) with the same stream
//!   continues the numbering with a [`GapReason::Disconnect`] gap *estimated from arrival times*; with a
//!   different rate or channel list it starts a new session ([`SourceEvent::Started`], numbering from 0).
//! * **Counters** ([`SourceStatus`](crate::SourceStatus)): CRC errors and discarded bytes from the decoder, gaps and missing
//!   frames, reconnections.
//! * **Watchdog**: no bytes for longer than [`SerialOptions::watchdog`] → state
//!   [`SourceState::Stalled`] (a [`SourceEvent::Status`] is sent).
//! * **Disconnect**: a read error, end of file or vanished device → state [`SourceState::Disconnected`];
//!   reopen the same path with exponential back-off ([`SerialOptions::backoff_min`] doubling to
//!   [`SerialOptions::backoff_max`]). A stable symlink (`firmware-sim --link`, `/dev/serial/by-id/…`)
//!   survives re-enumeration. The decoder is kept ([`Decoder::reset_link`]), so the loss across the unplug
//!   is measured exactly by the device's sample counter.
//! * **Values**: µV from the hello's resolution; a sample is NaN when its code is the invalid marker or a
//!   rail (saturation), or its channel is flagged off (per-sample channel mask, or spoiled by a detached
//!   electrode). The lead-off bits are passed on in [`Chunk::lead_off`].
//! * Live: events are sent without waiting ([`EventSender::send`]); the source never panics and never
//!   drops a frame that arrived intact (decoded frames go out in the chunk of the read that completed
//!   them).

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use qrsd_protocol::{channels_spoiled, Decoder, Event, Hello, CODE_INVALID, CODE_MAX, CODE_MIN};

use crate::{
    Chunk, EventSender, GapReason, Source, SourceError, SourceEvent, SourceState, StopFlag,
    StreamInfo,
};

/// Options of a [`SerialSource`].
#[derive(Debug, Clone, PartialEq)]
pub struct SerialOptions {
    /// Device path (`/dev/ttyUSB0`, `/dev/pts/7`, a symlink).
    pub path: PathBuf,
    /// Baud rate (ignored by USB CDC and pseudo-terminals; default 921 600, enough for 2000 Hz).
    pub baud: u32,
    /// No bytes for this long → [`SourceState::Stalled`] (default 500 ms).
    pub watchdog: Duration,
    /// First reconnection delay (default 100 ms).
    pub backoff_min: Duration,
    /// Longest reconnection delay (default 2 s).
    pub backoff_max: Duration,
    /// Read timeout (default 20 ms): how often the loop checks the watchdog and the stop flag.
    pub read_timeout: Duration,
    /// Skip `serialport` and use file I/O with termios raw mode directly (for pseudo-terminals; tests).
    pub force_file_io: bool,
}

impl SerialOptions {
    /// Defaults for `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            baud: 921_600,
            watchdog: Duration::from_millis(500),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            read_timeout: Duration::from_millis(20),
            force_file_io: false,
        }
    }
}

/// The serial amplifier source. See the module documentation.
#[derive(Debug)]
pub struct SerialSource {
    opts: SerialOptions,
    origin: DeviceOrigin,
}

/// The device sample counter of session sample 0, shared with the running source (for comparing with
/// device-side logs such as `firmware-sim --truth`, which count device samples). Unknown until the first
/// samples arrive; reset when a device restart starts a new session.
#[derive(Debug, Clone, Default)]
pub struct DeviceOrigin(Arc<AtomicU64>);

impl DeviceOrigin {
    const UNKNOWN: u64 = u64::MAX;

    /// The device counter of session sample 0, once known.
    pub fn get(&self) -> Option<u64> {
        match self.0.load(Ordering::Acquire) {
            Self::UNKNOWN => None,
            v => Some(v),
        }
    }

    fn set(&self, v: Option<u64>) {
        self.0.store(v.unwrap_or(Self::UNKNOWN), Ordering::Release);
    }
}

impl SerialSource {
    /// A source for `opts` (validated; the port is opened when it runs, and reopened as needed).
    pub fn new(opts: SerialOptions) -> Result<Self, SourceError> {
        if opts.path.as_os_str().is_empty() {
            return Err(SourceError::Config("empty serial device path".into()));
        }
        if opts.watchdog.is_zero() || opts.read_timeout.is_zero() || opts.backoff_min.is_zero() {
            return Err(SourceError::Config(
                "watchdog, read_timeout and backoff_min must be > 0".into(),
            ));
        }
        if opts.backoff_max < opts.backoff_min {
            return Err(SourceError::Config("backoff_max < backoff_min".into()));
        }
        let origin = DeviceOrigin::default();
        origin.set(None);
        Ok(Self { opts, origin })
    }

    /// A handle on the device-counter origin of the session's sample numbers.
    pub fn device_origin(&self) -> DeviceOrigin {
        self.origin.clone()
    }
}

/// Which I/O path the port uses (reported in [`StreamInfo::description`]'s status text and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    /// `serialport`'s native TTY port.
    Serialport,
    /// Plain file I/O with termios raw mode and `poll`.
    File,
}

/// An open port.
enum Port {
    Serial(Box<dyn serialport::SerialPort>),
    File(File),
}

impl std::fmt::Debug for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Port::Serial(_) => "Port::Serial",
            Port::File(_) => "Port::File",
        })
    }
}

/// Outcome of one read.
enum ReadOutcome {
    Data(usize),
    Timeout,
    Gone(String),
}

impl Port {
    fn kind(&self) -> PortKind {
        match self {
            Port::Serial(_) => PortKind::Serialport,
            Port::File(_) => PortKind::File,
        }
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> ReadOutcome {
        match self {
            Port::Serial(p) => match p.read(buf) {
                Ok(0) => ReadOutcome::Gone("end of file".into()),
                Ok(n) => ReadOutcome::Data(n),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::TimedOut | ErrorKind::WouldBlock | ErrorKind::Interrupted
                    ) =>
                {
                    ReadOutcome::Timeout
                }
                Err(e) => ReadOutcome::Gone(e.to_string()),
            },
            Port::File(f) => file_read(f, buf, timeout),
        }
    }
}

fn file_read(f: &mut File, buf: &mut [u8], timeout: Duration) -> ReadOutcome {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let revents = {
        let mut fds = [PollFd::new(f.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) => return ReadOutcome::Timeout,
            Ok(_) => fds[0].revents().unwrap_or(PollFlags::empty()),
            Err(nix::errno::Errno::EINTR) => return ReadOutcome::Timeout,
            Err(e) => return ReadOutcome::Gone(format!("poll: {e}")),
        }
    };
    if revents.intersects(PollFlags::POLLIN) {
        match f.read(buf) {
            Ok(0) => ReadOutcome::Gone("end of file".into()),
            Ok(n) => ReadOutcome::Data(n),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                ReadOutcome::Timeout
            }
            Err(e) => ReadOutcome::Gone(e.to_string()),
        }
    } else if revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL) {
        ReadOutcome::Gone(format!("device hung up ({revents:?})"))
    } else {
        ReadOutcome::Timeout
    }
}

/// Open `path` as a raw terminal with plain file I/O.
fn open_file_raw(path: &std::path::Path) -> Result<File, String> {
    use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // A regular file or FIFO (no termios) is read as is.
    if let Ok(mut t) = tcgetattr(&f) {
        cfmakeraw(&mut t);
        tcsetattr(&f, SetArg::TCSANOW, &t)
            .map_err(|e| format!("{}: termios: {e}", path.display()))?;
    }
    Ok(f)
}

fn open_port(opts: &SerialOptions) -> Result<Port, String> {
    if !opts.force_file_io {
        let r = serialport::new(opts.path.to_string_lossy(), opts.baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(serialport::FlowControl::None)
            .timeout(opts.read_timeout)
            .open();
        match r {
            Ok(p) => return Ok(Port::Serial(p)),
            // Missing device: no point trying the fallback.
            Err(e) if e.kind() == serialport::ErrorKind::NoDevice => {
                return Err(format!("{}: {e}", opts.path.display()))
            }
            Err(e) if !opts.path.exists() => return Err(format!("{}: {e}", opts.path.display())),
            Err(_) => {}
        }
    }
    open_file_raw(&opts.path).map(Port::File)
}

/// Session bookkeeping.
#[derive(Debug)]
struct Session {
    info: Option<StreamInfo>,
    hello: Option<Hello>,
    /// session sample = device sample + shift.
    shift: Option<i128>,
    /// Next session sample expected.
    next: u64,
    /// A device restart with the same stream: re-shift on the next block with an estimated gap.
    restarted: bool,
    /// Arrival time of the last sample block.
    last_block_at: Option<Instant>,
    /// Events to note on the next gap.
    after_disconnect: bool,
    after_stall: bool,
    /// Count a reconnection on the first frame after reopening.
    reopened: bool,
}

fn stream_info(h: &Hello, path: &std::path::Path, kind: PortKind) -> StreamInfo {
    let serial = h.serial_str();
    StreamInfo {
        fs_hz: f64::from(h.sample_rate_hz),
        lead_names: h
            .channels()
            .iter()
            .map(|c| c.lead.name().to_ascii_uppercase())
            .collect(),
        description: format!(
            "serial:{}{}",
            path.display(),
            if kind == PortKind::File {
                " (file i/o)"
            } else {
                ""
            }
        ),
        firmware: Some(if serial.is_empty() {
            h.firmware.to_string()
        } else {
            format!("{} ({serial})", h.firmware)
        }),
        has_hw_pace: h.has_hw_pace(),
    }
}

struct Runner<'a> {
    opts: SerialOptions,
    out: &'a mut EventSender,
    stop: &'a StopFlag,
    dec: Decoder,
    s: Session,
    chunk: Chunk,
    kind: PortKind,
    state: SourceState,
    last_status: Instant,
    receiver_gone: bool,
    origin: DeviceOrigin,
}

impl Runner<'_> {
    fn set_state(&mut self, st: SourceState, err: Option<String>) {
        if self.state == st && err.is_none() {
            return;
        }
        self.state = st;
        self.out.update_status(|s| {
            s.state = st;
            if err.is_some() {
                s.last_error = err;
            }
        });
        self.send_status();
    }

    fn send_status(&mut self) {
        let stats = self.dec.stats();
        self.out.update_status(|s| {
            s.crc_errors = stats.crc_errors;
            s.bytes_discarded = stats.bytes_discarded;
        });
        let st = self.out.status();
        self.last_status = Instant::now();
        if !self.out.send(SourceEvent::Status(st)) {
            self.receiver_gone = true;
        }
    }

    fn send(&mut self, ev: SourceEvent) {
        if !self.out.send(ev) {
            self.receiver_gone = true;
        }
    }

    fn flush_chunk(&mut self) {
        if self.chunk.pace.is_empty() {
            return;
        }
        let n = self.chunk.n_frames() as u64;
        let mut c = std::mem::take(&mut self.chunk);
        c.received_at = Some(SystemTime::now());
        let lo = c.lead_off.last().copied().unwrap_or(0);
        self.send(SourceEvent::Chunk(c));
        self.out.update_status(|s| {
            s.frames += n;
            s.lead_off = lo;
        });
    }

    fn gap(&mut self, at: u64, n: u64) {
        if n == 0 {
            return;
        }
        self.flush_chunk();
        let reason = if self.s.after_disconnect {
            GapReason::Disconnect
        } else if self.s.after_stall {
            GapReason::Stall
        } else {
            GapReason::SequenceGap
        };
        self.out.update_status(|s| {
            s.gaps += 1;
            s.missing_frames += n;
        });
        self.send(SourceEvent::Gap {
            at_sample: at,
            missing_frames: n,
            reason,
        });
    }

    fn on_hello(&mut self, hello: Hello, new_session: bool) {
        let info = stream_info(&hello, &self.opts.path, self.kind);
        let first = self.s.info.is_none();
        if first || (new_session && self.s.info.as_ref() != Some(&info)) {
            // A new session: numbering from 0.
            self.flush_chunk();
            self.s.shift = None;
            self.s.next = 0;
            self.origin.set(None);
            self.s.restarted = false;
            self.s.info = Some(info.clone());
            self.send(SourceEvent::Started(info));
        } else if new_session {
            // Same stream, device restarted: continue the numbering (gap estimated on the next block).
            self.s.restarted = true;
        }
        self.s.hello = Some(hello);
    }

    /// Handle one decoded sample block (copied out of the decoder by the caller).
    fn on_block(
        &mut self,
        first: u64,
        uv: &[f32],
        codes: &[i32],
        flags: &[u8],
        lead_off: &[u16],
        electrode: u16,
    ) {
        let Some(hello) = self.s.hello else { return };
        let nch = usize::from(hello.n_channels).max(1);
        let n = flags.len();
        if n == 0 || uv.len() < n * nch {
            return;
        }
        let now = Instant::now();
        if self.s.reopened {
            self.s.reopened = false;
            self.out.update_status(|s| s.reconnects += 1);
        }
        let spoiled = channels_spoiled(electrode, hello.channels());
        let shift = match (self.s.shift, self.s.restarted) {
            (Some(sh), false) => sh,
            (prev, _) => {
                // First block of the session, or of a restarted device.
                let est = if prev.is_some() {
                    let dt = self
                        .s
                        .last_block_at
                        .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
                    let fs = f64::from(hello.sample_rate_hz);
                    ((dt * fs).round() as u64).saturating_sub(n as u64)
                } else {
                    0
                };
                self.s.restarted = false;
                if prev.is_some() {
                    self.s.after_disconnect = true;
                }
                let sh = i128::from(self.s.next) + i128::from(est) - i128::from(first);
                self.s.shift = Some(sh);
                if prev.is_none() {
                    self.origin.set(u64::try_from(-sh).ok());
                }
                sh
            }
        };
        let sess = i128::from(first) + shift;
        let next = i128::from(self.s.next);
        let skip = if sess > next {
            let at = self.s.next;
            let missing = u64::try_from(sess - next).unwrap_or(0);
            self.gap(at, missing);
            self.s.next += missing;
            0
        } else {
            // Overlap (duplicated frame): the first (next − sess) samples were delivered already.
            usize::try_from(next - sess).unwrap_or(usize::MAX).min(n)
        };
        self.s.after_disconnect = false;
        self.s.after_stall = false;
        self.s.last_block_at = Some(now);
        if skip == n {
            return;
        }
        if self.chunk.pace.is_empty() {
            self.chunk.first_sample = self.s.next;
        }
        for i in skip..n {
            let lo = lead_off.get(i).copied().unwrap_or(0) | spoiled;
            for c in 0..nch {
                let code = codes.get(i * nch + c).copied().unwrap_or(CODE_INVALID);
                let bad = code == CODE_INVALID
                    || code >= CODE_MAX
                    || code <= CODE_MIN
                    || (c < 16 && lo & (1 << c) != 0);
                self.chunk
                    .samples_uv
                    .push(if bad { f32::NAN } else { uv[i * nch + c] });
            }
            self.chunk
                .pace
                .push(flags[i] & qrsd_protocol::SAMPLE_FLAG_PACE != 0);
            self.chunk.lead_off.push(lo);
        }
        self.s.next += (n - skip) as u64;
    }

    fn on_counter_reset(&mut self, got: u64) {
        // The device counter jumped back without a restart: continue the numbering from here.
        self.s.shift = Some(i128::from(self.s.next) - i128::from(got));
    }

    /// Feed bytes to the decoder and handle every event.
    fn feed(&mut self, mut bytes: &[u8]) {
        // Block copies (the decoder's block borrows it).
        let mut uv = Vec::new();
        let mut codes = Vec::new();
        let mut flags = Vec::new();
        let mut lead_off = Vec::new();
        let mut stuck = 0;
        loop {
            let taken = self.dec.push(bytes);
            bytes = &bytes[taken..];
            loop {
                enum Got {
                    Hello(Hello, bool),
                    Block(u64, u16),
                    Reset(u64),
                    Other,
                }
                let got = match self.dec.next_event() {
                    None => break,
                    Some(Event::Hello {
                        hello, new_session, ..
                    }) => Got::Hello(hello, new_session),
                    Some(Event::Samples(b)) => {
                        uv.clear();
                        uv.extend_from_slice(b.uv);
                        codes.clear();
                        codes.extend_from_slice(b.codes);
                        flags.clear();
                        flags.extend_from_slice(b.flags);
                        lead_off.clear();
                        lead_off.extend_from_slice(b.lead_off);
                        Got::Block(b.first_sample, b.electrode_lead_off)
                    }
                    Some(Event::SampleCounterReset { got_sample, .. }) => Got::Reset(got_sample),
                    Some(_) => Got::Other,
                };
                match got {
                    Got::Hello(h, ns) => self.on_hello(h, ns),
                    Got::Block(first, el) => {
                        self.on_block(first, &uv, &codes, &flags, &lead_off, el)
                    }
                    Got::Reset(g) => self.on_counter_reset(g),
                    Got::Other => {}
                }
            }
            if bytes.is_empty() {
                break;
            }
            if taken == 0 {
                // Cannot happen (the decoder has room once drained); never spin.
                stuck += 1;
                if stuck > 2 {
                    break;
                }
            }
        }
        // Counters first, so that whoever sees the chunk sees the counts that came with it.
        let stats = self.dec.stats();
        self.out.update_status(|s| {
            s.crc_errors = stats.crc_errors;
            s.bytes_discarded = stats.bytes_discarded;
        });
        self.flush_chunk();
    }

    /// Sleep `d` in small steps; false if stopped.
    fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.stop.is_stopped() {
                return false;
            }
            std::thread::sleep((end - Instant::now()).min(Duration::from_millis(20)));
        }
        !self.stop.is_stopped()
    }

    fn run(&mut self) {
        let mut port: Option<Port> = None;
        let mut backoff = self.opts.backoff_min;
        let mut ever_open = false;
        let mut buf = vec![0u8; 4096];
        let mut last_data = Instant::now();
        self.set_state(SourceState::Connecting, None);
        while !self.stop.is_stopped() && !self.receiver_gone {
            let Some(p) = port.as_mut() else {
                match open_port(&self.opts) {
                    Ok(p) => {
                        self.kind = p.kind();
                        self.out.update_status(|s| s.last_error = None);
                        if ever_open {
                            self.dec.reset_link();
                            self.s.reopened = true;
                        }
                        ever_open = true;
                        port = Some(p);
                        backoff = self.opts.backoff_min;
                        last_data = Instant::now();
                    }
                    Err(e) => {
                        let st = if ever_open {
                            SourceState::Disconnected
                        } else {
                            SourceState::Connecting
                        };
                        self.set_state(st, Some(e));
                        if !self.sleep(backoff) {
                            break;
                        }
                        backoff = (backoff * 2).min(self.opts.backoff_max);
                    }
                }
                continue;
            };
            match p.read(&mut buf, self.opts.read_timeout) {
                ReadOutcome::Data(n) => {
                    last_data = Instant::now();
                    let data = buf[..n].to_vec();
                    self.feed(&data);
                    if self.s.info.is_some() && self.s.hello.is_some() {
                        self.set_state(SourceState::Streaming, None);
                    }
                }
                ReadOutcome::Timeout => {
                    if self.state == SourceState::Streaming
                        && last_data.elapsed() > self.opts.watchdog
                    {
                        self.s.after_stall = true;
                        self.set_state(SourceState::Stalled, None);
                    }
                }
                ReadOutcome::Gone(e) => {
                    port = None;
                    self.flush_chunk();
                    self.s.after_disconnect = true;
                    self.set_state(SourceState::Disconnected, Some(e));
                    // Pseudo-terminals report a hang-up immediately: wait before the first reopen.
                    if !self.sleep(self.opts.backoff_min) {
                        break;
                    }
                }
            }
            if self.last_status.elapsed() >= Duration::from_millis(250) {
                self.send_status();
            }
        }
        self.flush_chunk();
        self.send_status();
    }
}

impl Source for SerialSource {
    fn run(self: Box<Self>, out: &mut EventSender, stop: &StopFlag) -> Result<(), SourceError> {
        let mut r = Runner {
            opts: self.opts,
            out,
            stop,
            dec: Decoder::new(),
            s: Session {
                info: None,
                hello: None,
                shift: None,
                next: 0,
                restarted: false,
                last_block_at: None,
                after_disconnect: false,
                after_stall: false,
                reopened: false,
            },
            chunk: Chunk::default(),
            kind: PortKind::Serialport,
            state: SourceState::Ended,
            last_status: Instant::now(),
            receiver_gone: false,
            origin: self.origin,
        };
        r.run();
        Ok(())
    }
}
