//! The [`Source`] trait and the events every source emits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::SystemTime;

/// What a source delivers, fixed for a session (a change of rate or channels starts a new session).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    /// Sampling rate, Hz.
    pub fs_hz: f64,
    /// Channel names in frame order, upper-case (`I`, `II`, `V1`..`V6`, or a file's own names).
    pub lead_names: Vec<String>,
    /// Human-readable source description (`sim`, `serial:/dev/ttyUSB0`, `replay:/path/x.hea`).
    pub description: String,
    /// Device firmware version, when the device reports one.
    pub firmware: Option<String>,
    /// True when [`Chunk::pace`] carries a hardware pace flag (the amplifier's or the simulator's).
    pub has_hw_pace: bool,
}

/// A run of consecutive frames.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chunk {
    /// Session sample number of the first frame.
    pub first_sample: u64,
    /// Frame-major samples, `n_frames × n_leads`, µV. NaN = sample invalid (saturated, lead off).
    pub samples_uv: Vec<f32>,
    /// Hardware pace flag per frame (all false when the source has none).
    pub pace: Vec<bool>,
    /// Lead-off bits per frame: bit `l` set when channel `l`'s electrode is off.
    pub lead_off: Vec<u16>,
    /// Wall-clock time the last frame of the chunk was received (for latency figures).
    pub received_at: Option<SystemTime>,
}

impl Chunk {
    /// Frames in this chunk.
    pub fn n_frames(&self) -> usize {
        self.pace.len()
    }
}

/// Why frames are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapReason {
    /// Sequence numbers skipped (dropped or corrupted frames).
    SequenceGap,
    /// No data for longer than the watchdog period.
    Stall,
    /// The device vanished and came back.
    Disconnect,
    /// The consumer was too slow and the channel was full.
    ConsumerOverrun,
}

impl GapReason {
    /// Stable lower-case name (API, annotations).
    pub fn as_str(self) -> &'static str {
        match self {
            GapReason::SequenceGap => "sequence_gap",
            GapReason::Stall => "stall",
            GapReason::Disconnect => "disconnect",
            GapReason::ConsumerOverrun => "consumer_overrun",
        }
    }
}

/// Connection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceState {
    /// Opening or waiting for the device's hello.
    #[default]
    Connecting,
    /// Frames are arriving.
    Streaming,
    /// Connected but no frames for longer than the watchdog period.
    Stalled,
    /// Device gone; reconnecting with back-off.
    Disconnected,
    /// The source has no more data (end of a replayed file) or was stopped.
    Ended,
}

impl SourceState {
    /// Stable lower-case name (API).
    pub fn as_str(self) -> &'static str {
        match self {
            SourceState::Connecting => "connecting",
            SourceState::Streaming => "streaming",
            SourceState::Stalled => "stalled",
            SourceState::Disconnected => "disconnected",
            SourceState::Ended => "ended",
        }
    }
}

/// Link counters, shared between the source thread and whoever asks ([`SourceHandle::status`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceStatus {
    /// Current state.
    pub state: SourceState,
    /// Frames delivered.
    pub frames: u64,
    /// Frames whose CRC failed.
    pub crc_errors: u64,
    /// Bytes skipped while resynchronising.
    pub bytes_discarded: u64,
    /// Gaps reported.
    pub gaps: u64,
    /// Frames missing in all gaps.
    pub missing_frames: u64,
    /// Frames dropped because the consumer was slow.
    pub overrun_frames: u64,
    /// Successful reconnections.
    pub reconnects: u64,
    /// Current lead-off bits (bit per channel).
    pub lead_off: u16,
    /// Last error text, if any.
    pub last_error: Option<String>,
}

/// Everything a source sends downstream.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceEvent {
    /// A session starts (first event; again after a reconnect that changed rate or channels).
    Started(StreamInfo),
    /// Consecutive frames.
    Chunk(Chunk),
    /// `missing_frames` frames starting at session sample `at_sample` will never arrive.
    Gap {
        /// First missing sample number.
        at_sample: u64,
        /// How many frames are missing.
        missing_frames: u64,
        /// Why.
        reason: GapReason,
    },
    /// Counters changed (sent at most a few times per second).
    Status(SourceStatus),
    /// No more data will come.
    Ended,
}

/// Errors that stop a source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// Configuration is invalid.
    #[error("invalid source configuration: {0}")]
    Config(String),
    /// I/O failed in a way the source cannot recover from.
    #[error("source I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A replayed file could not be read.
    #[error("replay: {0}")]
    Format(String),
    /// A replayed file could not be opened or decoded (typed: the reader's own error, naming the file).
    #[error("replay: {0}")]
    Replay(#[from] qrsd_formats::FormatError),
    /// A recording could not be written.
    #[error("recording: {0}")]
    Record(String),
}

/// Set to ask a running source to stop.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// A fresh, unset flag.
    pub fn new() -> Self {
        Self::default()
    }
    /// Ask the source to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    /// Has a stop been asked for?
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The sending side a source writes to: never blocks, counts and reports what it had to drop.
#[derive(Debug)]
pub struct EventSender {
    tx: SyncSender<SourceEvent>,
    status: Arc<Mutex<SourceStatus>>,
    /// Overrun not yet reported downstream: (first sample, frames).
    pending_overrun: Option<(u64, u64)>,
}

impl EventSender {
    /// Send an event without waiting. A chunk that does not fit is dropped and reported as a
    /// [`GapReason::ConsumerOverrun`] gap before the next event that fits. Other events that do not fit
    /// are dropped (status is also readable through [`SourceHandle::status`]). Returns false once the
    /// receiver is gone.
    pub fn send(&mut self, ev: SourceEvent) -> bool {
        if let Some((at, n)) = self.pending_overrun {
            let gap = SourceEvent::Gap {
                at_sample: at,
                missing_frames: n,
                reason: GapReason::ConsumerOverrun,
            };
            match self.tx.try_send(gap) {
                Ok(()) => self.pending_overrun = None,
                Err(TrySendError::Full(_)) => {
                    if let SourceEvent::Chunk(c) = &ev {
                        self.overrun(c);
                    }
                    return true;
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        match self.tx.try_send(ev) {
            Ok(()) => true,
            Err(TrySendError::Full(SourceEvent::Chunk(c))) => {
                self.overrun(&c);
                true
            }
            Err(TrySendError::Full(_)) => true,
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Send an event, waiting for room (polling every millisecond) until it fits, `stop` is set
    /// (returns false, event dropped) or the receiver is gone (false). For sources that are *not* live —
    /// a file replay or a simulator at maximum speed — where waiting loses nothing and dropping would.
    /// A pending overrun gap from earlier non-blocking sends is delivered first.
    pub fn send_blocking(&mut self, ev: SourceEvent, stop: &StopFlag) -> bool {
        let mut ev = Some(ev);
        loop {
            if let Some((at, n)) = self.pending_overrun {
                let gap = SourceEvent::Gap {
                    at_sample: at,
                    missing_frames: n,
                    reason: GapReason::ConsumerOverrun,
                };
                match self.tx.try_send(gap) {
                    Ok(()) => self.pending_overrun = None,
                    Err(TrySendError::Full(_)) => {}
                    Err(TrySendError::Disconnected(_)) => return false,
                }
            }
            if self.pending_overrun.is_none() {
                let Some(e) = ev.take() else { return true };
                match self.tx.try_send(e) {
                    Ok(()) => return true,
                    Err(TrySendError::Full(e)) => ev = Some(e),
                    Err(TrySendError::Disconnected(_)) => return false,
                }
            }
            if stop.is_stopped() {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    fn overrun(&mut self, c: &Chunk) {
        let n = c.n_frames() as u64;
        self.pending_overrun = Some(match self.pending_overrun {
            Some((at, m)) => (at, m + n),
            None => (c.first_sample, n),
        });
        if let Ok(mut s) = self.status.lock() {
            s.overrun_frames += n;
            s.gaps += 1;
            s.missing_frames += n;
        }
    }

    /// End of acquisition: deliver any pending overrun gap and [`SourceEvent::Ended`], waiting for room
    /// (nothing is acquired any more, so waiting costs no data).
    fn finish(&mut self) {
        if let Some((at, n)) = self.pending_overrun.take() {
            let _ = self.tx.send(SourceEvent::Gap {
                at_sample: at,
                missing_frames: n,
                reason: GapReason::ConsumerOverrun,
            });
        }
        let _ = self.tx.send(SourceEvent::Ended);
    }

    /// Update the shared counters.
    pub fn update_status(&self, f: impl FnOnce(&mut SourceStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    /// A copy of the shared counters.
    pub fn status(&self) -> SourceStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// A source of ECG frames. `run` is called once on a thread of its own and returns when the data ends,
/// when `stop` is set or when the receiver is gone.
pub trait Source: Send + 'static {
    /// Produce events until done.
    fn run(self: Box<Self>, out: &mut EventSender, stop: &StopFlag) -> Result<(), SourceError>;
}

/// A running source.
#[derive(Debug)]
pub struct SourceHandle {
    /// Events from the source, in order.
    pub events: Receiver<SourceEvent>,
    stop: StopFlag,
    status: Arc<Mutex<SourceStatus>>,
    thread: Option<JoinHandle<Result<(), SourceError>>>,
}

impl SourceHandle {
    /// Current counters.
    pub fn status(&self) -> SourceStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }
    /// A clone of the stop flag.
    pub fn stop_flag(&self) -> StopFlag {
        self.stop.clone()
    }
    /// Stop the source and wait for its thread.
    pub fn stop(mut self) -> Result<(), SourceError> {
        self.stop.stop();
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(SourceError::Config("source thread panicked".into())),
            None => Ok(()),
        }
    }
}

impl Drop for SourceHandle {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// Start `source` on its own thread with a channel of `capacity` events.
pub fn spawn(source: Box<dyn Source>, capacity: usize) -> SourceHandle {
    let (tx, rx) = mpsc::sync_channel(capacity.max(1));
    let status = Arc::new(Mutex::new(SourceStatus::default()));
    let stop = StopFlag::new();
    let mut sender = EventSender {
        tx,
        status: Arc::clone(&status),
        pending_overrun: None,
    };
    let stop2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("qrsd-source".into())
        .spawn(move || {
            let r = source.run(&mut sender, &stop2);
            sender.update_status(|s| {
                s.state = SourceState::Ended;
                if let Err(e) = &r {
                    s.last_error = Some(e.to_string());
                }
            });
            sender.finish();
            r
        })
        .ok();
    SourceHandle {
        events: rx,
        stop,
        status,
        thread,
    }
}
