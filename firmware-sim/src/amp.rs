//! The amplifier: synthesiser → 24-bit ADC codes → protocol frames, with the device's timing rules.

use qrsd_protocol::{
    uv_to_code, ChannelInfo, Electrode, Encoder, FirmwareVersion, Hello, Lead, SamplesIn, Status,
    BATTERY_EXTERNAL, CODE_MAX, HELLO_FLAG_HW_PACE, MAX_CHANNELS, MAX_SAMPLES_PER_FRAME,
    PROTOCOL_MINOR, SAMPLE_FLAG_PACE, SAMPLE_FLAG_SATURATED,
};
use qrsd_synth::{BeatTruth, Sample, Synth, SynthConfig, N_ACQUIRED};

use crate::SimError;

/// Device options besides the signal.
#[derive(Debug, Clone)]
pub struct AmpOptions {
    /// Samples per sample frame, 1..=32.
    pub samples_per_frame: usize,
    /// Whether the device has (and sends) a hardware pace flag.
    pub hw_pace: bool,
    /// Session id of this power-up.
    pub session_id: u32,
    /// Serial number (≤ 16 ASCII bytes).
    pub serial: String,
    /// Resolution, nV per LSB.
    pub lsb_nv: u32,
}

impl Default for AmpOptions {
    fn default() -> Self {
        Self {
            samples_per_frame: 10,
            hw_pace: true,
            session_id: 1,
            serial: "SIM-0000".into(),
            lsb_nv: qrsd_protocol::DEFAULT_LSB_NV,
        }
    }
}

/// What [`Amplifier::next_frame`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A hello frame.
    Hello,
    /// A status frame.
    Status,
    /// A sample frame.
    Samples {
        /// Device sample counter of its first sample.
        first_sample: u64,
        /// Samples in it.
        n_samples: usize,
    },
}

/// One frame appended by [`Amplifier::next_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// Kind.
    pub kind: FrameKind,
    /// Sequence number.
    pub seq: u16,
}

impl FrameInfo {
    /// Samples carried (0 for hello and status).
    pub fn n_samples(&self) -> usize {
        match self.kind {
            FrameKind::Samples { n_samples, .. } => n_samples,
            _ => 0,
        }
    }
}

/// Electrode mask for the synthesiser's channel lead-off bits: both limb leads off → RA, only I → LA,
/// only II → LL, a precordial channel → its electrode, all channels → also RL.
pub fn electrodes_for_channels(channel_mask: u16) -> u16 {
    let mut e = match channel_mask & 3 {
        3 => Electrode::Ra.bit(),
        1 => Electrode::La.bit(),
        2 => Electrode::Ll.bit(),
        _ => 0,
    };
    for k in 2..N_ACQUIRED {
        if channel_mask & (1 << k) != 0 {
            e |= Electrode::ALL[4 + k - 2].bit();
        }
    }
    if channel_mask & 0xFF == 0xFF {
        e |= Electrode::Rl.bit();
    }
    e
}

/// The simulated amplifier.
#[derive(Debug)]
pub struct Amplifier {
    synth: Synth,
    enc: Encoder,
    hello: Hello,
    spf: usize,
    clip_uv: f64,
    block: Vec<Sample>,
    codes: Vec<i32>,
    flags: Vec<u8>,
    lead_off: Vec<u16>,
    hello_due: bool,
    status_due: bool,
    next_hello_sample: u64,
    next_status_sample: u64,
    electrode_mask: u16,
    channel_mask: u16,
    saturated_since_status: u16,
}

impl Amplifier {
    /// An amplifier streaming `cfg` (validated) with `opts`.
    pub fn new(cfg: SynthConfig, opts: &AmpOptions) -> Result<Self, SimError> {
        if opts.samples_per_frame == 0 || opts.samples_per_frame > MAX_SAMPLES_PER_FRAME {
            return Err(SimError::Option(format!(
                "samples per frame {} (valid 1..=32)",
                opts.samples_per_frame
            )));
        }
        if !(cfg.fs_hz >= 1.0 && cfg.fs_hz <= 65535.0 && cfg.fs_hz.fract() == 0.0) {
            return Err(SimError::Option(format!(
                "sampling rate {} Hz is not a whole number of Hz",
                cfg.fs_hz
            )));
        }
        if opts.lsb_nv == 0 {
            return Err(SimError::Option("resolution of 0 nV/LSB".into()));
        }
        let clip_uv = cfg.clip_uv;
        let synth = Synth::new(cfg)?;
        let mut channels = [ChannelInfo::default(); MAX_CHANNELS];
        for (c, lead) in channels.iter_mut().zip(Lead::ACQUIRED) {
            *c = ChannelInfo {
                lead,
                lsb_nv: opts.lsb_nv,
            };
        }
        let v = |s: &str| s.parse::<u8>().unwrap_or(0);
        let mut hello = Hello {
            protocol_minor: PROTOCOL_MINOR,
            sample_rate_hz: synth.fs_hz() as u16,
            samples_per_frame: opts.samples_per_frame as u8,
            n_channels: N_ACQUIRED as u8,
            channels,
            firmware: FirmwareVersion {
                major: v(env!("CARGO_PKG_VERSION_MAJOR")),
                minor: v(env!("CARGO_PKG_VERSION_MINOR")),
                patch: v(env!("CARGO_PKG_VERSION_PATCH")),
            },
            serial: [0; 16],
            session_id: opts.session_id,
            flags: if opts.hw_pace { HELLO_FLAG_HW_PACE } else { 0 },
        };
        hello.set_serial(&opts.serial);
        let spf = opts.samples_per_frame;
        Ok(Self {
            synth,
            enc: Encoder::new(),
            hello,
            spf,
            clip_uv,
            block: vec![Sample::default(); spf],
            codes: vec![0; spf * N_ACQUIRED],
            flags: vec![0; spf],
            lead_off: vec![0; spf],
            hello_due: true,
            status_due: true,
            next_hello_sample: 0,
            next_status_sample: 0,
            electrode_mask: 0,
            channel_mask: 0,
            saturated_since_status: 0,
        })
    }

    /// The hello this device sends.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// The synthesiser (read-only).
    pub fn synth(&self) -> &Synth {
        &self.synth
    }

    /// The synthesiser, to change rhythm, configuration or lead-off while running.
    pub fn synth_mut(&mut self) -> &mut Synth {
        &mut self.synth
    }

    /// Sampling rate, Hz.
    pub fn fs_hz(&self) -> f64 {
        self.synth.fs_hz()
    }

    /// Samples per sample frame.
    pub fn samples_per_frame(&self) -> usize {
        self.spf
    }

    /// Device sample counter of the next sample to generate.
    pub fn position(&self) -> u64 {
        self.synth.position()
    }

    /// Sequence number of the next frame.
    pub fn next_seq(&self) -> u16 {
        self.enc.next_seq()
    }

    /// Send a hello before the next sample frame (after a reconnection).
    pub fn request_hello(&mut self) {
        self.hello_due = true;
    }

    /// Truth of the beats completed since the last call.
    pub fn drain_truth(&mut self) -> impl Iterator<Item = BeatTruth> + '_ {
        self.synth.drain_truth()
    }

    /// Append the next frame to `out`: a hello when due (start, every second, after
    /// [`Amplifier::request_hello`]), else a status when due (every 250 ms and when the electrode mask
    /// changed), else the next sample frame.
    pub fn next_frame(&mut self, out: &mut Vec<u8>) -> Result<FrameInfo, SimError> {
        let pos = self.position();
        let fs = self.fs_hz() as u64;
        if self.hello_due || pos >= self.next_hello_sample {
            self.hello_due = false;
            self.next_hello_sample = pos - pos % fs + fs;
            let seq = self.enc.hello(&self.hello, out)?;
            return Ok(FrameInfo {
                kind: FrameKind::Hello,
                seq,
            });
        }
        if self.status_due || pos >= self.next_status_sample {
            self.status_due = false;
            let quarter = (fs / 4).max(1);
            self.next_status_sample = pos - pos % quarter + quarter;
            let st = Status {
                electrode_lead_off: self.electrode_mask,
                channel_lead_off: self.channel_mask,
                channel_saturated: self.saturated_since_status,
                battery_percent: BATTERY_EXTERNAL,
                flags: 0,
                uptime_ms: (pos * 1000 / fs) as u32,
                next_sample: pos as u32,
            };
            self.saturated_since_status = 0;
            let seq = self.enc.status(&st, out)?;
            return Ok(FrameInfo {
                kind: FrameKind::Status,
                seq,
            });
        }
        self.synth.fill(&mut self.block);
        let lsb = self.hello.channels[0].lsb_nv;
        let rail = self.clip_uv * (1.0 - 1e-12);
        let mut saturated = 0u16;
        let mut channel_mask = 0u16;
        for (i, s) in self.block.iter().enumerate() {
            let mut f = 0u8;
            if s.pace && self.hello.has_hw_pace() {
                f |= SAMPLE_FLAG_PACE;
            }
            for (c, &uv) in s.leads.iter().enumerate() {
                let (code, clamped) = uv_to_code(uv, lsb);
                if clamped || uv.abs() >= rail || code.abs() >= CODE_MAX {
                    f |= SAMPLE_FLAG_SATURATED;
                    saturated |= 1 << c;
                }
                self.codes[i * N_ACQUIRED + c] = code;
            }
            self.flags[i] = f;
            self.lead_off[i] = u16::from(s.lead_off);
            channel_mask |= u16::from(s.lead_off);
        }
        let electrodes = electrodes_for_channels(channel_mask);
        if electrodes != self.electrode_mask {
            self.status_due = true;
        }
        self.electrode_mask = electrodes;
        self.channel_mask = channel_mask;
        self.saturated_since_status |= saturated;
        let seq = self.enc.samples(
            &SamplesIn {
                first_sample: pos as u32,
                n_channels: N_ACQUIRED,
                codes: &self.codes,
                flags: &self.flags,
                lead_off: &self.lead_off,
                electrode_lead_off: electrodes,
                channel_saturated: saturated,
            },
            out,
        )?;
        Ok(FrameInfo {
            kind: FrameKind::Samples {
                first_sample: pos,
                n_samples: self.spf,
            },
            seq,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use qrsd_protocol::{Decoder, Event};

    #[test]
    fn frames_decode_to_the_synth_signal() {
        let cfg = SynthConfig {
            fs_hz: 1000.0,
            ..SynthConfig::default()
        };
        let mut reference = Synth::new(cfg.clone()).unwrap();
        let mut amp = Amplifier::new(cfg, &AmpOptions::default()).unwrap();
        let mut bytes = Vec::new();
        let mut kinds = Vec::new();
        while amp.position() < 2000 {
            kinds.push(amp.next_frame(&mut bytes).unwrap().kind);
        }
        // Hello at 0 and 1000, status every 250 samples.
        let hellos = kinds.iter().filter(|k| **k == FrameKind::Hello).count();
        let statuses = kinds.iter().filter(|k| **k == FrameKind::Status).count();
        assert_eq!((hellos, statuses), (2, 8));
        let mut want = vec![Sample::default(); 2000];
        reference.fill(&mut want);
        let mut dec = Decoder::new();
        let mut n = 0usize;
        dec.feed(&bytes, |ev| match ev {
            Event::Samples(b) => {
                for i in 0..b.n_samples() {
                    let k = b.first_sample as usize + i;
                    for (c, v) in b.sample_uv(i).iter().enumerate() {
                        assert!((f64::from(*v) - want[k].leads[c]).abs() < 0.06);
                    }
                    assert_eq!(b.pace(i), want[k].pace);
                    n += 1;
                }
            }
            Event::Hello { .. } | Event::Status { .. } => {}
            other => panic!("unexpected {other:?}"),
        });
        assert_eq!(n, 2000);
    }

    #[test]
    fn electrode_mapping() {
        assert_eq!(electrodes_for_channels(0b11), Electrode::Ra.bit());
        assert_eq!(electrodes_for_channels(0b01), Electrode::La.bit());
        assert_eq!(electrodes_for_channels(0b10), Electrode::Ll.bit());
        assert_eq!(electrodes_for_channels(1 << 4), Electrode::V3.bit());
    }
}
