//! The streaming, resynchronising decoder (host side).

use crate::crc::{crc32, crc8};
use crate::error::Malformed;
use crate::frame::*;

/// Capacity of the decoder's byte buffer (at least one maximal frame plus room for the next read).
pub const DECODER_BUFFER_BYTES: usize = 4096;
const QUEUE_LEN: usize = 8;
const BLOCK_VALUES: usize = MAX_SAMPLES_PER_FRAME * MAX_CHANNELS;

/// Running totals of what the decoder has seen (since [`Decoder::new`] or [`Decoder::reset`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecoderStats {
    /// Frames with a valid CRC (any type or version).
    pub frames_ok: u64,
    /// Frames whose header was valid but whose CRC-32 failed.
    pub crc_errors: u64,
    /// Bytes not part of any valid frame (garbage, CRC-failed frames, partial frames dropped by
    /// [`Decoder::reset_link`]).
    pub bytes_discarded: u64,
    /// Sequence-number discontinuities.
    pub frame_gaps: u64,
    /// Frames missing in all sequence gaps.
    pub lost_frames: u64,
    /// Sample-counter discontinuities (forward).
    pub sample_gaps: u64,
    /// Samples missing in all sample gaps.
    pub lost_samples: u64,
    /// Samples delivered in [`Event::Samples`].
    pub samples: u64,
    /// CRC-valid frames rejected as malformed, of an unsupported version or of an unknown type.
    pub rejected_frames: u64,
}

/// Decoded samples of one sample frame, borrowed from the decoder until the next call.
#[derive(Debug, Clone, Copy)]
pub struct SampleBlock<'a> {
    /// Sequence number of the frame.
    pub seq: u16,
    /// Absolute (unwrapped) device sample number of the first sample.
    pub first_sample: u64,
    /// Channels per sample.
    pub n_channels: usize,
    /// Channel table of the hello in force.
    pub channels: &'a [ChannelInfo],
    /// Sample-major values, µV (`n_samples × n_channels`); NaN for [`CODE_INVALID`].
    pub uv: &'a [f32],
    /// Sample-major raw 24-bit codes (sign-extended).
    pub codes: &'a [i32],
    /// Per-sample flags ([`SAMPLE_FLAG_PACE`], [`SAMPLE_FLAG_SATURATED`]).
    pub flags: &'a [u8],
    /// Per-sample channel lead-off masks (bit per channel).
    pub lead_off: &'a [u16],
    /// Detached electrodes during the frame ([`Electrode`] bits).
    pub electrode_lead_off: u16,
    /// Channels at a rail during the frame.
    pub channel_saturated: u16,
}

impl<'a> SampleBlock<'a> {
    /// Samples in the block.
    pub fn n_samples(&self) -> usize {
        self.flags.len()
    }
    /// The µV values of sample `i` (empty if out of range).
    pub fn sample_uv(&self, i: usize) -> &'a [f32] {
        self.uv
            .get(i * self.n_channels..(i + 1) * self.n_channels)
            .unwrap_or(&[])
    }
    /// Hardware pace flag of sample `i`.
    pub fn pace(&self, i: usize) -> bool {
        self.flags.get(i).is_some_and(|f| f & SAMPLE_FLAG_PACE != 0)
    }
    /// Absolute sample number one past the last sample.
    pub fn end_sample(&self) -> u64 {
        self.first_sample + self.n_samples() as u64
    }
}

/// What the decoder reports.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A device hello. `new_session` is true for the first hello and when the session id changed (the
    /// device restarted: sequence and sample tracking restart, no gap is reported across it).
    Hello {
        /// Sequence number.
        seq: u16,
        /// Contents.
        hello: Hello,
        /// First hello, or a different session id than the previous hello.
        new_session: bool,
    },
    /// A device status frame.
    Status {
        /// Sequence number.
        seq: u16,
        /// Contents.
        status: Status,
    },
    /// Decoded samples.
    Samples(SampleBlock<'a>),
    /// A valid sample frame arrived before any hello, so its values cannot be scaled; it was skipped
    /// (sample tracking still advances). Devices send a hello every second.
    SamplesWithoutHello {
        /// Sequence number.
        seq: u16,
        /// Absolute sample number of its first sample.
        first_sample: u64,
        /// Samples skipped.
        n_samples: usize,
    },
    /// A frame with a valid header failed its CRC-32 (its bytes are also counted in [`Event::Discarded`]).
    CrcError {
        /// Frame type byte claimed by the header.
        frame_type: u8,
        /// Sequence number claimed by the header.
        seq: u16,
        /// Whole frame length claimed by the header, bytes.
        frame_len_bytes: usize,
    },
    /// Bytes skipped while hunting for the next valid frame.
    Discarded {
        /// How many.
        bytes: usize,
    },
    /// The frame sequence number jumped: `lost_frames` frames (of any type) are missing.
    FrameGap {
        /// Sequence number expected.
        expected_seq: u16,
        /// Sequence number received.
        got_seq: u16,
        /// `got_seq − expected_seq` (mod 2¹⁶).
        lost_frames: u16,
    },
    /// The sample counter jumped forward: samples `expected_sample..got_sample` will never arrive.
    SampleGap {
        /// First missing sample.
        expected_sample: u64,
        /// First sample of the frame that arrived.
        got_sample: u64,
        /// `got_sample − expected_sample`.
        lost_samples: u64,
    },
    /// The sample counter went backwards without a new session (duplicated frame or device fault);
    /// tracking continues from `got_sample`.
    SampleCounterReset {
        /// Sample expected.
        expected_sample: u64,
        /// Sample received.
        got_sample: u64,
    },
    /// A frame with a valid CRC whose payload is not acceptable.
    Malformed {
        /// Frame type.
        frame_type: FrameType,
        /// Sequence number.
        seq: u16,
        /// Why.
        reason: Malformed,
    },
    /// A CRC-valid frame of a type this decoder does not know (a newer minor version); skipped.
    UnknownFrame {
        /// Type byte.
        frame_type: u8,
        /// Sequence number.
        seq: u16,
    },
    /// A CRC-valid frame of another major protocol version; skipped.
    UnsupportedVersion {
        /// Version byte.
        version: u8,
        /// Type byte.
        frame_type: u8,
    },
}

#[derive(Debug, Clone, Copy)]
enum Pending {
    Hello(u16, Hello, bool),
    Status(u16, Status),
    Samples,
    SamplesWithoutHello(u16, u64, usize),
    Crc(u8, u16, usize),
    Discarded(usize),
    FrameGap(u16, u16),
    SampleGap(u64, u64),
    CounterReset(u64, u64),
    Malformed(FrameType, u16, Malformed),
    Unknown(u8, u16),
    Version(u8, u8),
}

/// Fixed-capacity FIFO of pending events (at most 5 are queued per frame; drained before the next step).
#[derive(Debug, Clone, Default)]
struct EventQueue {
    items: [Option<Pending>; QUEUE_LEN],
    head: usize,
    len: usize,
}

impl EventQueue {
    fn push(&mut self, p: Pending) {
        if self.len < QUEUE_LEN {
            self.items[(self.head + self.len) % QUEUE_LEN] = Some(p);
            self.len += 1;
        }
    }

    fn pop(&mut self) -> Option<Pending> {
        if self.len == 0 {
            return None;
        }
        let p = self.items[self.head].take();
        self.head = (self.head + 1) % QUEUE_LEN;
        self.len -= 1;
        p
    }
}

enum Step {
    NeedMore,
    Progress,
}

/// Streaming frame decoder: push arbitrary byte slices, pull typed [`Event`]s.
///
/// Never panics, allocates only in [`Decoder::new`], buffers at most [`DECODER_BUFFER_BYTES`].
#[derive(Debug, Clone)]
pub struct Decoder {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    queue: EventQueue,
    pending_discard: usize,
    hello: Option<Hello>,
    scale_uv: [f32; MAX_CHANNELS],
    next_seq: Option<u16>,
    next_sample: Option<u64>,
    stats: DecoderStats,
    blk_seq: u16,
    blk_first: u64,
    blk_n: usize,
    blk_ch: usize,
    blk_electrode: u16,
    blk_saturated: u16,
    blk_uv: Box<[f32]>,
    blk_codes: Box<[i32]>,
    blk_flags: [u8; MAX_SAMPLES_PER_FRAME],
    blk_lead_off: [u16; MAX_SAMPLES_PER_FRAME],
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with no hello yet.
    pub fn new() -> Self {
        Self {
            buf: vec![0u8; DECODER_BUFFER_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
            queue: EventQueue::default(),
            pending_discard: 0,
            hello: None,
            scale_uv: [0.0; MAX_CHANNELS],
            next_seq: None,
            next_sample: None,
            stats: DecoderStats::default(),
            blk_seq: 0,
            blk_first: 0,
            blk_n: 0,
            blk_ch: 0,
            blk_electrode: 0,
            blk_saturated: 0,
            blk_uv: vec![0.0; BLOCK_VALUES].into_boxed_slice(),
            blk_codes: vec![0; BLOCK_VALUES].into_boxed_slice(),
            blk_flags: [0; MAX_SAMPLES_PER_FRAME],
            blk_lead_off: [0; MAX_SAMPLES_PER_FRAME],
        }
    }

    /// Forget everything (buffer, hello, sequence tracking, statistics).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// The link was closed and reopened: drop buffered partial bytes (counted as discarded and
    /// reported), keep the hello and sequence tracking so gaps across the reconnect are reported.
    pub fn reset_link(&mut self) {
        self.pending_discard += self.end - self.start;
        self.start = 0;
        self.end = 0;
    }

    /// The hello in force, if any.
    pub fn hello(&self) -> Option<&Hello> {
        self.hello.as_ref()
    }

    /// Absolute sample number the next sample frame should start at, once known.
    pub fn expected_sample(&self) -> Option<u64> {
        self.next_sample
    }

    /// Running totals.
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }

    /// Bytes currently buffered (an incomplete frame or a possible sync start).
    pub fn buffered_bytes(&self) -> usize {
        self.end - self.start
    }

    /// Copy as much of `bytes` as fits into the internal buffer and return how many were taken. After
    /// [`Decoder::next_event`] has returned `None` at least one maximal frame's worth fits.
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = bytes.len().min(self.buf.len() - self.end);
        self.buf[self.end..self.end + n].copy_from_slice(&bytes[..n]);
        self.end += n;
        n
    }

    /// Decode `bytes` completely, calling `on_event` for every event, in stream order.
    pub fn feed(&mut self, mut bytes: &[u8], mut on_event: impl FnMut(Event<'_>)) {
        loop {
            let n = self.push(bytes);
            bytes = &bytes[n..];
            while let Some(ev) = self.next_event() {
                on_event(ev);
            }
            if bytes.is_empty() {
                break;
            }
        }
    }

    /// The next event from the bytes pushed so far, or `None` when more bytes are needed.
    pub fn next_event(&mut self) -> Option<Event<'_>> {
        loop {
            if let Some(p) = self.queue.pop() {
                return Some(self.materialize(p));
            }
            match self.step() {
                Step::Progress => {}
                Step::NeedMore => {
                    if self.pending_discard > 0 {
                        self.flush_discard();
                    } else {
                        return None;
                    }
                }
            }
        }
    }

    fn flush_discard(&mut self) {
        if self.pending_discard > 0 {
            let n = self.pending_discard;
            self.pending_discard = 0;
            self.queue.push(Pending::Discarded(n));
        }
    }

    fn discard(&mut self, n: usize) {
        self.start += n;
        self.pending_discard += n;
        self.stats.bytes_discarded += n as u64;
    }

    fn materialize(&self, p: Pending) -> Event<'_> {
        match p {
            Pending::Hello(seq, hello, new_session) => Event::Hello {
                seq,
                hello,
                new_session,
            },
            Pending::Status(seq, status) => Event::Status { seq, status },
            Pending::Samples => {
                let nv = self.blk_n * self.blk_ch;
                Event::Samples(SampleBlock {
                    seq: self.blk_seq,
                    first_sample: self.blk_first,
                    n_channels: self.blk_ch,
                    channels: self.hello.as_ref().map_or(&[], |h| h.channels()),
                    uv: &self.blk_uv[..nv],
                    codes: &self.blk_codes[..nv],
                    flags: &self.blk_flags[..self.blk_n],
                    lead_off: &self.blk_lead_off[..self.blk_n],
                    electrode_lead_off: self.blk_electrode,
                    channel_saturated: self.blk_saturated,
                })
            }
            Pending::SamplesWithoutHello(seq, first_sample, n_samples) => {
                Event::SamplesWithoutHello {
                    seq,
                    first_sample,
                    n_samples,
                }
            }
            Pending::Crc(frame_type, seq, frame_len_bytes) => Event::CrcError {
                frame_type,
                seq,
                frame_len_bytes,
            },
            Pending::Discarded(bytes) => Event::Discarded { bytes },
            Pending::FrameGap(expected_seq, got_seq) => Event::FrameGap {
                expected_seq,
                got_seq,
                lost_frames: got_seq.wrapping_sub(expected_seq),
            },
            Pending::SampleGap(expected_sample, got_sample) => Event::SampleGap {
                expected_sample,
                got_sample,
                lost_samples: got_sample.saturating_sub(expected_sample),
            },
            Pending::CounterReset(expected_sample, got_sample) => Event::SampleCounterReset {
                expected_sample,
                got_sample,
            },
            Pending::Malformed(frame_type, seq, reason) => Event::Malformed {
                frame_type,
                seq,
                reason,
            },
            Pending::Unknown(frame_type, seq) => Event::UnknownFrame { frame_type, seq },
            Pending::Version(version, frame_type) => Event::UnsupportedVersion {
                version,
                frame_type,
            },
        }
    }

    /// One parsing step over the buffered bytes.
    fn step(&mut self) -> Step {
        let data = &self.buf[self.start..self.end];
        // Hunt for the sync word.
        let pos = data.windows(2).position(|w| w == SYNC);
        match pos {
            None => {
                // Keep a trailing first sync byte: its partner may be in the next read.
                let keep = usize::from(data.last() == Some(&SYNC[0]));
                let n = data.len() - keep;
                if n > 0 {
                    self.discard(n);
                }
                return Step::NeedMore;
            }
            Some(0) => {}
            Some(i) => {
                self.discard(i);
                return Step::Progress;
            }
        }
        if data.len() < HEADER_LEN_BYTES {
            return Step::NeedMore;
        }
        let len = usize::from(u16::from_le_bytes([data[6], data[7]]));
        if crc8(&data[2..8]) != data[8] || len > MAX_PAYLOAD_BYTES {
            // Not a frame start (or a corrupted header): skip the first sync byte and hunt on.
            self.discard(1);
            return Step::Progress;
        }
        let total = HEADER_LEN_BYTES + len + TRAILER_LEN_BYTES;
        if data.len() < total {
            return Step::NeedMore;
        }
        let version = data[2];
        let frame_type = data[3];
        let seq = u16::from_le_bytes([data[4], data[5]]);
        let body_end = HEADER_LEN_BYTES + len;
        let crc = u32::from_le_bytes([
            data[body_end],
            data[body_end + 1],
            data[body_end + 2],
            data[body_end + 3],
        ]);
        if crc32(&data[2..body_end]) != crc {
            self.stats.crc_errors += 1;
            self.flush_discard();
            self.queue.push(Pending::Crc(frame_type, seq, total));
            // Resynchronise from the next byte: a valid frame may start inside this one if its length
            // or start was corrupted, so nothing after the sync byte is skipped blindly.
            self.discard(1);
            return Step::Progress;
        }
        // A valid frame.
        self.stats.frames_ok += 1;
        self.flush_discard();
        let payload_range = self.start + HEADER_LEN_BYTES..self.start + body_end;
        self.start += total;
        self.handle_frame(version, frame_type, seq, payload_range);
        Step::Progress
    }

    fn check_seq(&mut self, seq: u16) {
        if let Some(exp) = self.next_seq {
            if exp != seq {
                self.stats.frame_gaps += 1;
                self.stats.lost_frames += u64::from(seq.wrapping_sub(exp));
                self.queue.push(Pending::FrameGap(exp, seq));
            }
        }
        self.next_seq = Some(seq.wrapping_add(1));
    }

    fn handle_frame(
        &mut self,
        version: u8,
        frame_type: u8,
        seq: u16,
        payload: std::ops::Range<usize>,
    ) {
        if version != PROTOCOL_VERSION {
            self.stats.rejected_frames += 1;
            self.queue.push(Pending::Version(version, frame_type));
            return;
        }
        let Some(ft) = FrameType::from_u8(frame_type) else {
            self.check_seq(seq);
            self.stats.rejected_frames += 1;
            self.queue.push(Pending::Unknown(frame_type, seq));
            return;
        };
        match ft {
            FrameType::Hello => match parse_hello(&self.buf[payload]) {
                Ok(h) => {
                    let new_session =
                        !matches!(self.hello, Some(old) if old.session_id == h.session_id);
                    if new_session {
                        self.next_seq = None;
                        self.next_sample = None;
                    }
                    self.check_seq(seq);
                    for (s, c) in self.scale_uv.iter_mut().zip(h.channels()) {
                        *s = c.lsb_nv as f32 / 1000.0;
                    }
                    self.hello = Some(h);
                    self.queue.push(Pending::Hello(seq, h, new_session));
                }
                Err(reason) => {
                    self.check_seq(seq);
                    self.stats.rejected_frames += 1;
                    self.queue.push(Pending::Malformed(ft, seq, reason));
                }
            },
            FrameType::Status => {
                self.check_seq(seq);
                match parse_status(&self.buf[payload]) {
                    Ok(s) => self.queue.push(Pending::Status(seq, s)),
                    Err(reason) => {
                        self.stats.rejected_frames += 1;
                        self.queue.push(Pending::Malformed(ft, seq, reason));
                    }
                }
            }
            FrameType::Samples => {
                self.check_seq(seq);
                if let Err(reason) = self.parse_samples(seq, payload) {
                    self.stats.rejected_frames += 1;
                    self.queue.push(Pending::Malformed(ft, seq, reason));
                }
            }
        }
    }

    fn parse_samples(
        &mut self,
        seq: u16,
        payload: std::ops::Range<usize>,
    ) -> Result<(), Malformed> {
        let p = &self.buf[payload];
        if p.len() < SAMPLES_FIXED_BYTES {
            return Err(Malformed::TooShort {
                len_bytes: p.len(),
                min_bytes: SAMPLES_FIXED_BYTES,
            });
        }
        let first32 = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
        let n_s = p[4];
        let n_ch = p[5];
        if n_s == 0 || usize::from(n_s) > MAX_SAMPLES_PER_FRAME {
            return Err(Malformed::SampleCount { n_samples: n_s });
        }
        if n_ch == 0 || usize::from(n_ch) > MAX_CHANNELS {
            return Err(Malformed::ChannelCount { n_channels: n_ch });
        }
        let (n, ch) = (usize::from(n_s), usize::from(n_ch));
        let expected_bytes = samples_len_bytes(n, ch);
        if p.len() != expected_bytes {
            return Err(Malformed::SampleLength {
                len_bytes: p.len(),
                expected_bytes,
            });
        }
        if let Some(h) = &self.hello {
            if h.n_channels != n_ch {
                return Err(Malformed::ChannelMismatch {
                    got: n_ch,
                    hello: h.n_channels,
                });
            }
        }
        // Sample-counter tracking (u32 on the wire, unwrapped to u64).
        let first = match self.next_sample {
            None => u64::from(first32),
            Some(exp) => {
                let diff = i64::from(first32.wrapping_sub(exp as u32) as i32);
                let got = exp as i64 + diff;
                if diff > 0 {
                    let got = got as u64;
                    self.stats.sample_gaps += 1;
                    self.stats.lost_samples += got - exp;
                    self.queue.push(Pending::SampleGap(exp, got));
                    got
                } else if diff < 0 {
                    let got = if got >= 0 {
                        got as u64
                    } else {
                        u64::from(first32)
                    };
                    self.queue.push(Pending::CounterReset(exp, got));
                    got
                } else {
                    exp
                }
            }
        };
        self.next_sample = Some(first + n as u64);
        if self.hello.is_none() {
            self.queue.push(Pending::SamplesWithoutHello(seq, first, n));
            return Ok(());
        }
        self.blk_seq = seq;
        self.blk_first = first;
        self.blk_n = n;
        self.blk_ch = ch;
        self.blk_electrode = u16::from_le_bytes([p[6], p[7]]);
        self.blk_saturated = u16::from_le_bytes([p[10], p[11]]);
        let stride = SAMPLE_META_BYTES + ch * CODE_BYTES;
        for (i, rec) in p[SAMPLES_FIXED_BYTES..].chunks_exact(stride).enumerate() {
            self.blk_flags[i] = rec[0];
            self.blk_lead_off[i] = u16::from_le_bytes([rec[1], rec[2]]);
            for (c, b) in rec[SAMPLE_META_BYTES..]
                .chunks_exact(CODE_BYTES)
                .enumerate()
            {
                let code = i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8;
                let k = i * ch + c;
                self.blk_codes[k] = code;
                self.blk_uv[k] = if code == CODE_INVALID {
                    f32::NAN
                } else {
                    code as f32 * self.scale_uv[c]
                };
            }
        }
        self.stats.samples += n as u64;
        self.queue.push(Pending::Samples);
        Ok(())
    }
}

/// Little-endian reader that reports a short payload instead of panicking.
struct Reader<'a> {
    p: &'a [u8],
    pos: usize,
    min_bytes: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let r = self
            .p
            .get(self.pos..self.pos + n)
            .ok_or(Malformed::TooShort {
                len_bytes: self.p.len(),
                min_bytes: self.min_bytes,
            })?;
        self.pos += n;
        Ok(r)
    }
    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Malformed> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, Malformed> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

fn parse_hello(p: &[u8]) -> Result<Hello, Malformed> {
    let mut r = Reader {
        p,
        pos: 0,
        min_bytes: HELLO_FIXED_BYTES,
    };
    let mut h = Hello {
        protocol_minor: r.u8()?,
        sample_rate_hz: r.u16()?,
        samples_per_frame: r.u8()?,
        n_channels: r.u8()?,
        ..Hello::default()
    };
    let n = usize::from(h.n_channels);
    if n == 0 || n > MAX_CHANNELS {
        return Err(Malformed::ChannelCount {
            n_channels: h.n_channels,
        });
    }
    r.min_bytes = hello_len_bytes(n);
    h.channels = [ChannelInfo::default(); MAX_CHANNELS];
    for i in 0..n {
        let code = r.u8()?;
        let lead = Lead::from_code(code).ok_or(Malformed::UnknownLead {
            channel: i as u8,
            code,
        })?;
        let lsb_nv = r.u32()?;
        if lsb_nv == 0 {
            return Err(Malformed::ZeroRateOrResolution);
        }
        h.channels[i] = ChannelInfo { lead, lsb_nv };
    }
    h.firmware = FirmwareVersion {
        major: r.u8()?,
        minor: r.u8()?,
        patch: r.u8()?,
    };
    h.serial.copy_from_slice(r.take(16)?);
    h.session_id = r.u32()?;
    h.flags = r.u8()?;
    if h.sample_rate_hz == 0 {
        return Err(Malformed::ZeroRateOrResolution);
    }
    Ok(h)
}

fn parse_status(p: &[u8]) -> Result<Status, Malformed> {
    let mut r = Reader {
        p,
        pos: 0,
        min_bytes: STATUS_LEN_BYTES,
    };
    Ok(Status {
        electrode_lead_off: r.u16()?,
        channel_lead_off: r.u16()?,
        channel_saturated: r.u16()?,
        battery_percent: r.u8()?,
        flags: r.u8()?,
        uptime_ms: r.u32()?,
        next_sample: r.u32()?,
    })
}
