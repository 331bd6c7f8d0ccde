//! Amplifier serial framing: versioned frames, CRC, resynchronising decoder that never panics.
//!
//! The byte layout, versioning rules, CRC parameters and timing are specified in `docs/protocol.md`
//! (workspace root); this crate is its reference implementation. Device → host only.
//!
//! # Public API (summary)
//! * **Frames** ([`frame`]): every frame is `A5 5A | version | type | seq u16 | len u16 | crc8 | payload |
//!   crc32`, little-endian. Payload types: [`Hello`] (rate, [`ChannelInfo`] table with nV/LSB, firmware,
//!   serial, session id), [`Status`] (electrode/channel lead-off, saturation, battery, uptime), and sample
//!   frames (1..=32 samples × `n_channels` 24-bit codes, per-sample flags [`SAMPLE_FLAG_PACE`] /
//!   [`SAMPLE_FLAG_SATURATED`] and a per-sample channel lead-off mask).
//! * **Encoder** ([`Encoder`]): `hello(&Hello, &mut Vec<u8>)`, `status(&Status, ..)`,
//!   `samples(&SamplesIn, ..)` append one frame each and advance the wrapping sequence number;
//!   [`uv_to_code`] converts µV to a clamped 24-bit code.
//! * **Decoder** ([`Decoder`]): `push(&[u8]) -> usize` + `next_event() -> Option<Event<'_>>`, or
//!   `feed(&[u8], |ev| ..)`. [`Event`] variants: `Hello`, `Status`, `Samples(SampleBlock)` (absolute
//!   u64 `first_sample`, sample-major `uv: &[f32]`, `codes`, `flags`, `lead_off` per sample; helpers
//!   `sample_uv(i)`, `pace(i)`, `n_samples()`), `SamplesWithoutHello`, `CrcError`, `Discarded { bytes }`,
//!   `FrameGap { expected_seq, got_seq, lost_frames }`, `SampleGap { expected_sample, got_sample,
//!   lost_samples }`, `SampleCounterReset`, `Malformed`, `UnknownFrame`, `UnsupportedVersion`.
//!   [`Decoder::stats`] gives running totals ([`DecoderStats`]); [`Decoder::reset_link`] after a
//!   reconnect keeps gap tracking; [`channels_spoiled`] maps electrode lead-off to channels.
//!
//! # Guarantees
//! * The decoder never panics on any byte stream (property-tested and fuzzed: `fuzz/`), allocates only
//!   in [`Decoder::new`] and buffers at most [`DECODER_BUFFER_BYTES`].
//! * A corrupted frame costs at most that frame: after any header or CRC failure the hunt restarts one
//!   byte after the failed sync word, so the next intact frame is always found.
//! * Every lost sample is reported: sequence numbers count frames of every type, the sample counter
//!   counts samples; a device restart is recognised by a new [`Hello::session_id`].
//!
//! # Example
//! ```
//! use qrsd_protocol::{Decoder, Encoder, Event, Hello, SamplesIn, uv_to_code};
//!
//! let hello = Hello::default(); // 1000 Hz, I, II, V1..V6 at 100 nV/LSB
//! let mut enc = Encoder::new();
//! let mut bytes = Vec::new();
//! enc.hello(&hello, &mut bytes)?;
//! let codes: Vec<i32> = (0..10 * 8).map(|k| uv_to_code(k as f64 * 10.0, 100).0).collect();
//! let flags = [0u8; 10];
//! let lead_off = [0u16; 10];
//! enc.samples(&SamplesIn { first_sample: 0, n_channels: 8, codes: &codes, flags: &flags,
//!     lead_off: &lead_off, electrode_lead_off: 0, channel_saturated: 0 }, &mut bytes)?;
//!
//! let mut dec = Decoder::new();
//! let mut got = 0;
//! dec.feed(&bytes, |ev| if let Event::Samples(b) = ev {
//!     assert_eq!(b.first_sample, 0);
//!     assert_eq!(b.sample_uv(1)[0], 80.0);
//!     got += b.n_samples();
//! });
//! assert_eq!(got, 10);
//! # Ok::<(), qrsd_protocol::EncodeError>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod crc;
mod decode;
mod encode;
mod error;
pub mod frame;

pub use decode::{Decoder, DecoderStats, Event, SampleBlock, DECODER_BUFFER_BYTES};
pub use encode::{uv_to_code, Encoder, SamplesIn};
pub use error::{EncodeError, Malformed};
pub use frame::*;
