//! Frame encoder (device side: firmware-sim, tests).

use crate::crc::{crc32, crc8};
use crate::error::EncodeError;
use crate::frame::*;

/// Converts a value in µV to a 24-bit code at `lsb_nv` nV per LSB: rounded, clamped to the rails
/// ([`CODE_MIN`], [`CODE_MAX`]); NaN gives [`CODE_INVALID`]. Returns the code and whether it was clamped.
pub fn uv_to_code(uv: f64, lsb_nv: u32) -> (i32, bool) {
    if uv.is_nan() || lsb_nv == 0 {
        return (CODE_INVALID, false);
    }
    let c = (uv * 1000.0 / f64::from(lsb_nv)).round();
    if c >= f64::from(CODE_MAX) {
        (CODE_MAX, true)
    } else if c <= f64::from(CODE_MIN) {
        (CODE_MIN, true)
    } else {
        (c as i32, false)
    }
}

/// One sample frame to encode: `n_samples = flags.len()` samples of `n_channels` channels.
#[derive(Debug, Clone, Copy)]
pub struct SamplesIn<'a> {
    /// Device sample counter of the first sample (wrapping u32).
    pub first_sample: u32,
    /// Channels per sample (must match the hello).
    pub n_channels: usize,
    /// Sample-major codes, `n_samples × n_channels`, each in `CODE_INVALID..=CODE_MAX`.
    pub codes: &'a [i32],
    /// Per-sample flags ([`SAMPLE_FLAG_PACE`], [`SAMPLE_FLAG_SATURATED`]).
    pub flags: &'a [u8],
    /// Per-sample channel lead-off mask (bit per channel).
    pub lead_off: &'a [u16],
    /// Detached electrodes during this frame ([`Electrode`] bits).
    pub electrode_lead_off: u16,
    /// Channels at a rail during this frame.
    pub channel_saturated: u16,
}

/// Builds frames with a wrapping sequence number that advances by one per frame of any type.
#[derive(Debug, Clone, Default)]
pub struct Encoder {
    next_seq: u16,
}

impl Encoder {
    /// An encoder whose first frame has sequence number 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sequence number the next frame will carry.
    pub fn next_seq(&self) -> u16 {
        self.next_seq
    }

    /// Set the sequence number of the next frame.
    pub fn set_next_seq(&mut self, seq: u16) {
        self.next_seq = seq;
    }

    /// Append a frame of any type byte with the given payload to `out`; returns its sequence number.
    pub fn raw_frame(
        &mut self,
        frame_type: u8,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u16, EncodeError> {
        Self::frame_with_version(PROTOCOL_VERSION, frame_type, self.next_seq, payload, out)?;
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        Ok(seq)
    }

    /// Append a frame with explicit version and sequence number (does not touch the counter): for tests
    /// of version handling.
    pub fn frame_with_version(
        version: u8,
        frame_type: u8,
        seq: u16,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(EncodeError::PayloadTooLong {
                len_bytes: payload.len(),
            });
        }
        let start = out.len();
        out.extend_from_slice(&SYNC);
        out.push(version);
        out.push(frame_type);
        out.extend_from_slice(&seq.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u16).to_le_bytes());
        let h = crc8(&out[start + 2..start + 8]);
        out.push(h);
        out.extend_from_slice(payload);
        let c = crc32(&out[start + 2..]);
        out.extend_from_slice(&c.to_le_bytes());
        Ok(())
    }

    /// Append a hello frame.
    pub fn hello(&mut self, h: &Hello, out: &mut Vec<u8>) -> Result<u16, EncodeError> {
        let n = usize::from(h.n_channels);
        if n == 0 || n > MAX_CHANNELS {
            return Err(EncodeError::ChannelCount { n_channels: n });
        }
        let mut p = [0u8; hello_len_bytes(MAX_CHANNELS)];
        let mut w = Writer::new(&mut p);
        w.u8(h.protocol_minor);
        w.u16(h.sample_rate_hz);
        w.u8(h.samples_per_frame);
        w.u8(h.n_channels);
        for c in h.channels() {
            w.u8(c.lead as u8);
            w.u32(c.lsb_nv);
        }
        w.u8(h.firmware.major);
        w.u8(h.firmware.minor);
        w.u8(h.firmware.patch);
        w.bytes(&h.serial);
        w.u32(h.session_id);
        w.u8(h.flags);
        let len = w.pos;
        self.raw_frame(FrameType::Hello as u8, &p[..len], out)
    }

    /// Append a status frame.
    pub fn status(&mut self, s: &Status, out: &mut Vec<u8>) -> Result<u16, EncodeError> {
        let mut p = [0u8; STATUS_LEN_BYTES];
        let mut w = Writer::new(&mut p);
        w.u16(s.electrode_lead_off);
        w.u16(s.channel_lead_off);
        w.u16(s.channel_saturated);
        w.u8(s.battery_percent);
        w.u8(s.flags);
        w.u32(s.uptime_ms);
        w.u32(s.next_sample);
        self.raw_frame(FrameType::Status as u8, &p, out)
    }

    /// Append a sample frame.
    pub fn samples(&mut self, s: &SamplesIn<'_>, out: &mut Vec<u8>) -> Result<u16, EncodeError> {
        let n_s = s.flags.len();
        if s.n_channels == 0 || s.n_channels > MAX_CHANNELS {
            return Err(EncodeError::ChannelCount {
                n_channels: s.n_channels,
            });
        }
        if n_s == 0 || n_s > MAX_SAMPLES_PER_FRAME {
            return Err(EncodeError::SampleCount { n_samples: n_s });
        }
        if s.codes.len() != n_s * s.n_channels || s.lead_off.len() != n_s {
            return Err(EncodeError::LengthMismatch {
                n_samples: n_s,
                n_channels: s.n_channels,
                codes: s.codes.len(),
                lead_off: s.lead_off.len(),
            });
        }
        if let Some(&c) = s
            .codes
            .iter()
            .find(|&&c| !(CODE_INVALID..=CODE_MAX).contains(&c))
        {
            return Err(EncodeError::CodeOutOfRange { code: c });
        }
        let mut p = [0u8; samples_len_bytes(MAX_SAMPLES_PER_FRAME, MAX_CHANNELS)];
        let mut w = Writer::new(&mut p);
        w.u32(s.first_sample);
        w.u8(n_s as u8);
        w.u8(s.n_channels as u8);
        w.u16(s.electrode_lead_off);
        w.u16(s.lead_off.iter().fold(0, |m, &l| m | l));
        w.u16(s.channel_saturated);
        for (i, (&f, &lo)) in s.flags.iter().zip(s.lead_off).enumerate() {
            w.u8(f);
            w.u16(lo);
            for &c in &s.codes[i * s.n_channels..(i + 1) * s.n_channels] {
                let b = c.to_le_bytes();
                w.bytes(&b[..3]);
            }
        }
        let len = w.pos;
        self.raw_frame(FrameType::Samples as u8, &p[..len], out)
    }
}

/// Little-endian writer into a fixed buffer sized by the caller for the largest payload.
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    fn bytes(&mut self, b: &[u8]) {
        // Buffers are sized for the maximum payload, so this never truncates; it would rather than panic.
        let end = (self.pos + b.len()).min(self.buf.len());
        let n = end - self.pos;
        self.buf[self.pos..end].copy_from_slice(&b[..n]);
        self.pos = end;
    }
    fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
}
