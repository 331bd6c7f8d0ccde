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
