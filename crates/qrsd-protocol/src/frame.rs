//! Frame layout constants and the typed contents of hello, status and sample frames.

/// The two sync bytes that start every frame.
pub const SYNC: [u8; 2] = [0xA5, 0x5A];
/// Protocol major version carried in every frame header (byte 2). A decoder only interprets frames of
/// its own major version.
pub const PROTOCOL_VERSION: u8 = 1;
/// Protocol minor version carried in the hello payload. Minor versions only append fields to hello and
/// status payloads or add frame types; decoders ignore what they do not know.
pub const PROTOCOL_MINOR: u8 = 0;
/// Header length in bytes: sync (2), version (1), type (1), sequence (2), payload length (2), header
/// CRC-8 (1).
pub const HEADER_LEN_BYTES: usize = 9;
/// Trailer length in bytes: CRC-32 of everything after the sync word.
pub const TRAILER_LEN_BYTES: usize = 4;
/// Largest payload a valid frame may carry, bytes.
pub const MAX_PAYLOAD_BYTES: usize = 1024;
/// Largest frame, bytes.
pub const MAX_FRAME_BYTES: usize = HEADER_LEN_BYTES + MAX_PAYLOAD_BYTES + TRAILER_LEN_BYTES;
/// Most channels a stream may declare.
pub const MAX_CHANNELS: usize = 12;
/// Most samples one sample frame may carry.
pub const MAX_SAMPLES_PER_FRAME: usize = 32;
/// Largest positive 24-bit code: the positive rail (the channel is saturated).
pub const CODE_MAX: i32 = 0x7F_FFFF;
/// Most negative usable 24-bit code: the negative rail (the channel is saturated).
pub const CODE_MIN: i32 = -0x7F_FFFF;
/// Reserved 24-bit code `0x800000`: no valid value for this channel and sample (decodes to NaN µV).
pub const CODE_INVALID: i32 = -0x80_0000;
/// Default resolution of firmware-sim channels, nV per LSB (±838.8 mV full scale with 24 bits).
pub const DEFAULT_LSB_NV: u32 = 100;

/// Sample-frame payload bytes before the samples: first sample (4), sample count (1), channel count (1),
/// electrode lead-off mask (2), channel lead-off mask (2), channel saturation mask (2).
pub const SAMPLES_FIXED_BYTES: usize = 12;
/// Bytes per sample besides the channel values: flags (1) and channel lead-off mask (2).
pub const SAMPLE_META_BYTES: usize = 3;
/// Bytes per channel value (24-bit signed little-endian).
pub const CODE_BYTES: usize = 3;
/// Hello payload length in protocol 1.0 for `n` channels.
pub const fn hello_len_bytes(n_channels: usize) -> usize {
    HELLO_FIXED_BYTES + n_channels * 5
}
/// Hello payload bytes besides the channel table.
pub const HELLO_FIXED_BYTES: usize = 1 + 2 + 1 + 1 + 1 + 3 + 16 + 4 + 1;
/// Status payload length in protocol 1.0.
pub const STATUS_LEN_BYTES: usize = 2 + 2 + 2 + 1 + 1 + 4 + 4;
/// Sample payload length for `n_samples` samples of `n_channels` channels.
pub const fn samples_len_bytes(n_samples: usize, n_channels: usize) -> usize {
    SAMPLES_FIXED_BYTES + n_samples * (SAMPLE_META_BYTES + n_channels * CODE_BYTES)
}

/// Frame types (header byte 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameType {
    /// Device description: rate, channels, gains, firmware, serial number, session id.
    Hello = 0x01,
    /// Periodic device status: lead-off, saturation, battery, uptime.
    Status = 0x02,
    /// Consecutive samples of all channels.
    Samples = 0x03,
}

impl FrameType {
    /// The type for a header byte, `None` for types this decoder does not know.
    pub fn from_u8(b: u8) -> Option<Self> {
        match b {
            0x01 => Some(Self::Hello),
            0x02 => Some(Self::Status),
            0x03 => Some(Self::Samples),
            _ => None,
        }
    }
}

/// A lead as carried in the hello channel table (code = discriminant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Lead {
    /// Lead I (LA − RA).
    #[default]
    I = 0,
    /// Lead II (LL − RA).
    II = 1,
    /// Lead III (LL − LA).
    III = 2,
    /// aVR.
    AVR = 3,
    /// aVL.
    AVL = 4,
    /// aVF.
    AVF = 5,
    /// V1 (against Wilson's central terminal).
    V1 = 6,
    /// V2.
    V2 = 7,
    /// V3.
    V3 = 8,
    /// V4.
    V4 = 9,
    /// V5.
    V5 = 10,
    /// V6.
    V6 = 11,
}

impl Lead {
    /// All leads in code order.
    pub const ALL: [Lead; 12] = [
        Lead::I,
        Lead::II,
        Lead::III,
        Lead::AVR,
        Lead::AVL,
        Lead::AVF,
        Lead::V1,
        Lead::V2,
        Lead::V3,
        Lead::V4,
        Lead::V5,
        Lead::V6,
    ];
    /// The 8 acquired channels of a standard amplifier, in stream order.
    pub const ACQUIRED: [Lead; 8] = [
        Lead::I,
        Lead::II,
        Lead::V1,
        Lead::V2,
        Lead::V3,
        Lead::V4,
        Lead::V5,
        Lead::V6,
    ];
    /// The lead for a channel-table code.
    pub fn from_code(code: u8) -> Option<Lead> {
        Lead::ALL.get(usize::from(code)).copied()
    }
    /// Upper-case name (`I`, `II`, `III`, `AVR`, `AVL`, `AVF`, `V1`..`V6`).
    pub fn name(self) -> &'static str {
        [
            "I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6",
        ][self as usize]
    }
    /// Electrodes (bit mask, see [`Electrode`]) whose detachment spoils this lead. The right-leg drive
    /// (RL) spoils every lead; the precordial leads depend on the limb electrodes through Wilson's
    /// central terminal.
    pub fn electrodes_mask(self) -> u16 {
        use Electrode as E;
        let limb = |es: &[Electrode]| es.iter().fold(E::Rl.bit(), |m, e| m | e.bit());
        let wct = limb(&[E::Ra, E::La, E::Ll]);
        match self {
            Lead::I => limb(&[E::Ra, E::La]),
            Lead::II => limb(&[E::Ra, E::Ll]),
            Lead::III => limb(&[E::La, E::Ll]),
            Lead::AVR | Lead::AVL | Lead::AVF => wct,
            Lead::V1 => wct | E::V1.bit(),
            Lead::V2 => wct | E::V2.bit(),
            Lead::V3 => wct | E::V3.bit(),
            Lead::V4 => wct | E::V4.bit(),
            Lead::V5 => wct | E::V5.bit(),
            Lead::V6 => wct | E::V6.bit(),
        }
    }
}

/// Electrodes, bit positions in the electrode lead-off mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Electrode {
    /// Right arm.
    Ra = 0,
    /// Left arm.
    La = 1,
    /// Left leg.
    Ll = 2,
    /// Right leg (driven reference).
    Rl = 3,
    /// Chest V1.
    V1 = 4,
    /// Chest V2.
    V2 = 5,
    /// Chest V3.
    V3 = 6,
    /// Chest V4.
    V4 = 7,
    /// Chest V5.
    V5 = 8,
    /// Chest V6.
    V6 = 9,
}

impl Electrode {
    /// All electrodes in bit order.
    pub const ALL: [Electrode; 10] = [
        Electrode::Ra,
        Electrode::La,
        Electrode::Ll,
        Electrode::Rl,
        Electrode::V1,
        Electrode::V2,
        Electrode::V3,
        Electrode::V4,
        Electrode::V5,
        Electrode::V6,
    ];
    /// This electrode's bit in an electrode mask.
    pub fn bit(self) -> u16 {
        1 << (self as u8)
    }
    /// Name (`RA`, `LA`, `LL`, `RL`, `V1`..`V6`).
    pub fn name(self) -> &'static str {
        ["RA", "LA", "LL", "RL", "V1", "V2", "V3", "V4", "V5", "V6"][self as usize]
    }
}

/// Valid bits of an electrode mask.
pub const ELECTRODE_MASK_BITS: u16 = 0x03FF;

/// Channel mask (bit `c` = channel `c` of `channels`) of the channels spoiled by the detached electrodes
/// in `electrode_mask`: the host-side mapping from electrode lead-off to unusable channels.
pub fn channels_spoiled(electrode_mask: u16, channels: &[ChannelInfo]) -> u16 {
    channels
        .iter()
        .take(16)
        .enumerate()
        .filter(|(_, c)| c.lead.electrodes_mask() & electrode_mask != 0)
        .fold(0u16, |m, (i, _)| m | (1 << i))
}

/// One channel of the stream: which lead, and its resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelInfo {
    /// The lead.
    pub lead: Lead,
    /// Resolution: nanovolts per LSB of the 24-bit code (µV = code × `lsb_nv` / 1000).
    pub lsb_nv: u32,
}

impl ChannelInfo {
    /// µV per LSB.
    pub fn lsb_uv(&self) -> f64 {
        f64::from(self.lsb_nv) / 1000.0
    }
}

/// Firmware version triple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FirmwareVersion {
    /// Major.
    pub major: u8,
    /// Minor.
    pub minor: u8,
    /// Patch.
    pub patch: u8,
}

impl std::fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Hello flag: the device has a hardware pace-pulse detector (the per-sample pace flag is meaningful).
pub const HELLO_FLAG_HW_PACE: u8 = 0x01;

/// The contents of a hello frame (fixed size, no heap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// Protocol minor version of the device.
    pub protocol_minor: u8,
    /// Sampling rate, Hz (500, 1000 or 2000 in protocol 1; the decoder accepts 1..=65535).
    pub sample_rate_hz: u16,
    /// Samples per sample frame the device nominally sends (frames may carry fewer).
    pub samples_per_frame: u8,
    /// Number of valid entries in `channels`.
    pub n_channels: u8,
    /// Channel table; entries past `n_channels` are unused.
    pub channels: [ChannelInfo; MAX_CHANNELS],
    /// Firmware version.
    pub firmware: FirmwareVersion,
    /// Serial number, ASCII, NUL-padded.
    pub serial: [u8; 16],
    /// Random per power-up: a hello with a different session id means the device restarted (counters
    /// restart); the same id after a reconnect means the counters continued.
    pub session_id: u32,
    /// Flags ([`HELLO_FLAG_HW_PACE`]).
    pub flags: u8,
}

impl Default for Hello {
    fn default() -> Self {
        let mut channels = [ChannelInfo::default(); MAX_CHANNELS];
        for (c, lead) in channels.iter_mut().zip(Lead::ACQUIRED) {
            *c = ChannelInfo {
                lead,
                lsb_nv: DEFAULT_LSB_NV,
            };
        }
        Self {
            protocol_minor: PROTOCOL_MINOR,
            sample_rate_hz: 1000,
            samples_per_frame: 10,
            n_channels: 8,
            channels,
            firmware: FirmwareVersion::default(),
            serial: [0; 16],
            session_id: 0,
            flags: HELLO_FLAG_HW_PACE,
        }
    }
}

impl Hello {
    /// The valid channel entries.
    pub fn channels(&self) -> &[ChannelInfo] {
        &self.channels[..usize::from(self.n_channels).min(MAX_CHANNELS)]
    }
    /// The serial number as text (up to the first NUL; non-UTF-8 bytes replaced).
    pub fn serial_str(&self) -> String {
        let end = self.serial.iter().position(|&b| b == 0).unwrap_or(16);
        String::from_utf8_lossy(&self.serial[..end]).into_owned()
    }
    /// Set the serial number from text (truncated to 16 bytes).
    pub fn set_serial(&mut self, s: &str) {
        self.serial = [0; 16];
        for (d, b) in self.serial.iter_mut().zip(s.bytes()) {
            *d = b;
        }
    }
    /// Does the device send a hardware pace flag?
    pub fn has_hw_pace(&self) -> bool {
        self.flags & HELLO_FLAG_HW_PACE != 0
    }
}

/// Status flag: the device's own sample buffer overflowed since the last status (samples were lost in
/// the device; the sample counter still advanced, so the host sees a sample gap).
pub const STATUS_FLAG_DEVICE_OVERRUN: u8 = 0x01;
/// Battery value meaning "mains / USB powered".
pub const BATTERY_EXTERNAL: u8 = 0xFF;

/// The contents of a status frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    /// Detached electrodes ([`Electrode`] bits).
    pub electrode_lead_off: u16,
    /// Channels the device flags off (bit per channel in hello order).
    pub channel_lead_off: u16,
    /// Channels at a rail in the last status period.
    pub channel_saturated: u16,
    /// Battery charge, percent 0..=100, or [`BATTERY_EXTERNAL`].
    pub battery_percent: u8,
    /// Flags ([`STATUS_FLAG_DEVICE_OVERRUN`]).
    pub flags: u8,
    /// Milliseconds since power-up (wrapping).
    pub uptime_ms: u32,
    /// Device sample counter of the next sample to be sent (wrapping).
    pub next_sample: u32,
}

/// Per-sample flag: a pacing pulse is detected by the hardware during this sample.
pub const SAMPLE_FLAG_PACE: u8 = 0x01;
/// Per-sample flag: at least one channel is at a rail in this sample.
pub const SAMPLE_FLAG_SATURATED: u8 = 0x02;
