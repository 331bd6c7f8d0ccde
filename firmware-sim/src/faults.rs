//! Seeded link-fault injection.
//!
//! Faults are drawn per frame in *signal time* (a Poisson process of `rate_per_min` events per minute of
//! signal, each of a kind drawn uniformly from the enabled list), so a seed gives the same faults at the
//! same sample numbers whatever the wall-clock speed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A kind of link fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// Random bytes inserted between two frames.
    Garbage,
    /// One bit flipped inside a frame (the CRC must catch it).
    Bitflip,
    /// Whole frames omitted (the sequence number still advances).
    Drop,
    /// Nothing sent for a few seconds (frames generated meanwhile are lost).
    Stall,
    /// The link closes (pty closed) and comes back after a pause.
    Disconnect,
}

impl FaultKind {
    /// All kinds.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Garbage,
        FaultKind::Bitflip,
        FaultKind::Drop,
        FaultKind::Stall,
        FaultKind::Disconnect,
    ];

    /// Parse a lower-case name (`garbage`, `bitflip`, `drop`, `stall`, `disconnect`/`unplug`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "garbage" => Some(Self::Garbage),
            "bitflip" | "bit-flip" => Some(Self::Bitflip),
            "drop" => Some(Self::Drop),
            "stall" => Some(Self::Stall),
            "disconnect" | "unplug" => Some(Self::Disconnect),
            _ => None,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Garbage => "garbage",
            Self::Bitflip => "bitflip",
            Self::Drop => "drop",
            Self::Stall => "stall",
            Self::Disconnect => "disconnect",
        }
    }

    /// Parse a comma-separated list (`garbage,bitflip,drop`, or `all`).
    pub fn parse_list(s: &str) -> Result<Vec<Self>, String> {
        if s.trim().eq_ignore_ascii_case("all") {
            return Ok(Self::ALL.to_vec());
        }
        s.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| Self::parse(p).ok_or_else(|| format!("unknown fault `{}`", p.trim())))
            .collect()
    }
}

/// What to do with the frame at hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Send it unchanged.
    None,
    /// Send `bytes` of garbage before it.
    Garbage(Vec<u8>),
    /// Flip bit `bit` of byte `byte` of the frame.
    Bitflip {
        /// Byte offset in the frame.
        byte: usize,
        /// Bit 0..8.
        bit: u8,
    },
    /// Omit this frame and the `frames - 1` after it.
    Drop {
        /// Frames to omit.
        frames: usize,
    },
    /// Stop sending for the configured stall time.
    Stall,
    /// Disconnect for the configured pause.
    Disconnect,
}

/// The per-frame fault decider.
#[derive(Debug, Clone)]
pub struct FaultInjector {
    kinds: Vec<FaultKind>,
    p_per_frame: f64,
    rng: ChaCha8Rng,
}

impl FaultInjector {
    /// `rate_per_min` fault events per minute of signal among `kinds`, for frames of `frame_s` seconds.
    pub fn new(kinds: Vec<FaultKind>, rate_per_min: f64, frame_s: f64, seed: u64) -> Self {
        let p = if kinds.is_empty() || rate_per_min.is_nan() || rate_per_min <= 0.0 {
            0.0
        } else {
            (rate_per_min / 60.0 * frame_s).min(1.0)
        };
        Self {
            kinds,
            p_per_frame: p,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Enabled kinds.
    pub fn kinds(&self) -> &[FaultKind] {
        &self.kinds
    }

    /// Decide for the next frame of `frame_len` bytes.
    pub fn decide(&mut self, frame_len: usize) -> FaultAction {
        // Always draw the same number of values per frame so the fault sequence depends only on the seed
        // and the frame count.
        let u: f64 = self.rng.gen();
        let k: usize = self.rng.gen_range(0..self.kinds.len().max(1));
        let a: u64 = self.rng.gen();
        if u >= self.p_per_frame {
            return FaultAction::None;
        }
        let Some(&kind) = self.kinds.get(k) else {
            return FaultAction::None;
        };
        self.action(kind, frame_len, a)
    }

    /// The action for a fault of `kind` injected now (commands), with fresh randomness.
    pub fn inject(&mut self, kind: FaultKind, frame_len: usize, count: usize) -> FaultAction {
        let a: u64 = self.rng.gen();
        match kind {
            FaultKind::Garbage => FaultAction::Garbage(self.garbage(count.max(1))),
            FaultKind::Drop => FaultAction::Drop {
                frames: count.max(1),
            },
            _ => self.action(kind, frame_len, a),
        }
    }

    fn garbage(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.rng.gen()).collect()
    }

    fn action(&mut self, kind: FaultKind, frame_len: usize, a: u64) -> FaultAction {
        match kind {
            FaultKind::Garbage => {
                let n = 1 + (a % 64) as usize;
                FaultAction::Garbage(self.garbage(n))
            }
            FaultKind::Bitflip => {
                let bits = (frame_len.max(1) * 8) as u64;
                let b = a % bits;
                FaultAction::Bitflip {
                    byte: (b / 8) as usize,
                    bit: (b % 8) as u8,
                }
            }
            FaultKind::Drop => FaultAction::Drop {
                frames: 1 + (a % 3) as usize,
            },
            FaultKind::Stall => FaultAction::Stall,
            FaultKind::Disconnect => FaultAction::Disconnect,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn rate_is_respected_and_seeded() {
        let mk = || FaultInjector::new(FaultKind::ALL.to_vec(), 60.0, 0.01, 7);
        let (mut a, mut b) = (mk(), mk());
        let n = 100_000; // 1000 s of 10 ms frames: ~1000 events expected
        let mut events = 0;
        for _ in 0..n {
            let x = a.decide(283);
            assert_eq!(x, b.decide(283));
            if x != FaultAction::None {
                events += 1;
            }
        }
        assert!((900..1100).contains(&events), "{events}");
        assert_eq!(
            FaultKind::parse_list("garbage, drop").unwrap(),
            vec![FaultKind::Garbage, FaultKind::Drop]
        );
        assert!(FaultKind::parse_list("nope").is_err());
    }
}
