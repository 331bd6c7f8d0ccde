//! Typed errors: encoder errors and the reasons a CRC-valid frame is still rejected.

/// Why a frame could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Payload longer than [`MAX_PAYLOAD_BYTES`](crate::MAX_PAYLOAD_BYTES).
    #[error("payload of {len_bytes} bytes exceeds the 1024-byte maximum")]
    PayloadTooLong {
        /// Offending length.
        len_bytes: usize,
    },
    /// Channel count outside `1..=MAX_CHANNELS`.
    #[error("{n_channels} channels (valid: 1..=12)")]
    ChannelCount {
        /// Offending count.
        n_channels: usize,
    },
    /// Sample count outside `1..=MAX_SAMPLES_PER_FRAME`.
    #[error("{n_samples} samples per frame (valid: 1..=32)")]
    SampleCount {
        /// Offending count.
        n_samples: usize,
    },
    /// `codes` or `lead_off` do not match the sample and channel counts.
    #[error("{n_samples} samples × {n_channels} channels, but {codes} codes and {lead_off} lead-off masks")]
    LengthMismatch {
        /// Samples (from `flags`).
        n_samples: usize,
        /// Channels.
        n_channels: usize,
        /// Codes given.
        codes: usize,
        /// Lead-off masks given.
        lead_off: usize,
    },
    /// A code outside the 24-bit range.
    #[error("code {code} does not fit in 24 bits")]
    CodeOutOfRange {
        /// Offending code.
        code: i32,
    },
}

/// Why a frame with a valid CRC was not accepted (reported as [`Event::Malformed`](crate::Event)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// Payload shorter than the frame type requires.
    #[error("payload of {len_bytes} bytes is shorter than the {min_bytes} bytes required")]
    TooShort {
        /// Actual length.
        len_bytes: usize,
        /// Required length.
        min_bytes: usize,
    },
    /// Hello: channel count outside `1..=12`.
    #[error("hello declares {n_channels} channels (valid: 1..=12)")]
    ChannelCount {
        /// Declared count.
        n_channels: u8,
    },
    /// Hello: unknown lead code in the channel table.
    #[error("hello channel {channel}: unknown lead code {code}")]
    UnknownLead {
        /// Channel index.
        channel: u8,
        /// Code.
        code: u8,
    },
    /// Hello: sampling rate 0 or a resolution of 0 nV.
    #[error("hello declares a zero sampling rate or resolution")]
    ZeroRateOrResolution,
    /// Samples: sample count outside `1..=32`.
    #[error("sample frame carries {n_samples} samples (valid: 1..=32)")]
    SampleCount {
        /// Declared count.
        n_samples: u8,
    },
    /// Samples: payload length does not match the declared counts.
    #[error("sample frame of {len_bytes} bytes, {expected_bytes} expected for its counts")]
    SampleLength {
        /// Actual length.
        len_bytes: usize,
        /// Length for the declared counts.
        expected_bytes: usize,
    },
    /// Samples: channel count differs from the hello in force.
    #[error("sample frame has {got} channels, the hello declared {hello}")]
    ChannelMismatch {
        /// In the frame.
        got: u8,
        /// In the hello.
        hello: u8,
    },
}
