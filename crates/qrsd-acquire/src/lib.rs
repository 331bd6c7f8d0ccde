//! Acquisition sources (serial, in-process simulator, file replay) and crash-safe recording.
//!
//! Every source implements [`Source`] and speaks one vocabulary, [`SourceEvent`], so the one pipeline
//! downstream does not care where samples come from (the ripgrep `grep-matcher` split: the trait here,
//! the implementations in their modules).
//!
//! # Threading and back-pressure
//! A source runs on its own thread ([`spawn`]) and hands events to a bounded channel with `try_send`:
//! acquisition never waits on a slow consumer. When the channel is full the chunk is dropped, counted in
//! [`SourceStatus::overrun_frames`] and reported downstream as a [`SourceEvent::Gap`] with
//! [`GapReason::ConsumerOverrun`] as soon as there is room again, so no loss is silent.
//!
//! # Sample numbering
//! `first_sample` of a [`Chunk`] counts frames from the first frame of the session at the source's rate.
//! Missing frames (sequence gaps, stalls, unplug) advance the count: sample numbers are time, and a
//! [`SourceEvent::Gap`] precedes the chunk that follows a hole.
//!
//! # The parts
//! * [`SimSource`] ([`sim`]): the in-process amplifier simulator (embedded default of the service) over
//!   `qrsd-synth`: 8 acquired channels (I, II, V1..V6 — the host derives III, aVR, aVL, aVF with
//!   [`derive_12`]), hardware pace flag, lead-off; real time without drift, N× or max ([`Speed`]);
//!   [`SimControl`] changes it while it runs and exposes the truth of generated beats (bounded ring).
//! * [`ReplaySource`] ([`replay`]): WFDB/EDF/CSV files at 1×, N× or max, typed errors.
//! * [`SerialSource`] ([`serial`]): the amplifier protocol (`qrsd-protocol`) on a serial port or pty,
//!   with CRC/garbage counters, gap reasons, a watchdog and reconnection with back-off.
//! * [`Recorder`] / [`RecorderThread`] ([`record`]): every session as a crash-safe WFDB record (format
//!   24, gaps as invalid samples, `~` gap / `"` lead-off / `^` stimulus annotations, fsync and atomic
//!   header/annotation replacement every second). For live use the recorder runs on its own thread fed
//!   by a bounded channel that never blocks the consumer ([`RecorderThread::send`]).
//!
//! Non-live sources (replay, simulator at [`Speed::Max`]) wait for room instead of dropping
//! ([`EventSender::send_blocking`]); live ones never wait ([`EventSender::send`]).
#![deny(missing_docs)]

pub mod leads;
pub mod pace;
pub mod record;
pub mod replay;
pub mod serial;
pub mod sim;
pub mod source;

pub use leads::derive_12;
pub use pace::Speed;
pub use record::{
    RecordError, Recorder, RecorderOptions, RecorderStatus, RecorderThread, RecordingSummary,
    SegmentSummary,
};
pub use replay::{ReplayOptions, ReplaySource};
pub use serial::{DeviceOrigin, PortKind, SerialOptions, SerialSource};
pub use sim::{SimControl, SimOptions, SimSource};

pub use source::{
    spawn, Chunk, EventSender, GapReason, SourceError, SourceEvent, SourceHandle, SourceState,
    SourceStatus, StopFlag, StreamInfo,
};

/// The source trait: see [`source::Source`].
pub use source::Source;
