//! Scenario files: a timeline of phases, each with a duration, configuration overrides and commands.
//!
//! ```json
//! {
//!   "config": {"fs_hz": 1000, "rhythm": "intrinsic", "qrsd_ms": 160},
//!   "phases": [
//!     {"label": "baseline", "duration_s": 20},
//!     {"label": "site A", "duration_s": 20, "set": {"rhythm": "biv", "qrsd_ms": 140}},
//!     {"label": "site B", "duration_s": 20, "set": {"qrsd_ms": 120, "fusion_probability": 0.1},
//!      "commands": ["unplug 1"]},
//!     {"label": "site C, LV not capturing", "duration_s": 20, "set": {"rhythm": "rv", "qrsd_ms": 175}}
//!   ],
//!   "loop": false
//! }
//! ```
//! `config` is merged over the defaults before the command-line options; each phase's `set` is merged into
//! the configuration in force when the phase starts (overrides accumulate) and its `commands` (stdin command
//! syntax) run then. Without `--seconds` the run ends with the last phase (unless `loop` is true).

use serde::Deserialize;
use serde_json::Value;

use crate::commands::{self, Command};
use crate::SimError;

/// One phase.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Name for logs and truth lines.
    #[serde(default)]
    pub label: String,
    /// Duration, seconds of signal (> 0).
    pub duration_s: f64,
    /// Configuration overrides applied at the phase start.
    #[serde(default)]
    pub set: Option<Value>,
    /// Commands run at the phase start.
    #[serde(default)]
    pub commands: Vec<String>,
}

/// A scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Initial configuration overrides.
    #[serde(default)]
    pub config: Option<Value>,
    /// The timeline.
    pub phases: Vec<Phase>,
    /// Start again from the first phase after the last.
    #[serde(default, rename = "loop")]
    pub repeat: bool,
}

impl Scenario {
    /// Parse and check a scenario (JSON text).
    pub fn parse(text: &str) -> Result<Self, SimError> {
        let s: Scenario =
            serde_json::from_str(text).map_err(|e| SimError::Scenario(e.to_string()))?;
        if s.phases.is_empty() {
            return Err(SimError::Scenario("no phases".into()));
        }
        for (i, p) in s.phases.iter().enumerate() {
            if !(p.duration_s > 0.0 && p.duration_s <= 86_400.0) {
                return Err(SimError::Scenario(format!(
                    "phase {i}: duration_s {} outside (0, 86400]",
                    p.duration_s
                )));
            }
            for c in &p.commands {
                commands::parse(c)?;
            }
        }
        Ok(s)
    }

    /// Total duration of one pass, seconds.
    pub fn duration_s(&self) -> f64 {
        self.phases.iter().map(|p| p.duration_s).sum()
    }

    /// The phase commands, parsed (checked in [`Scenario::parse`]).
    pub fn phase_commands(&self, i: usize) -> Vec<Command> {
        self.phases
            .get(i)
            .map(|p| {
                p.commands
                    .iter()
                    .filter_map(|c| commands::parse(c).ok().flatten())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Walks a scenario's timeline in samples.
#[derive(Debug, Clone)]
pub struct Timeline {
    starts: Vec<u64>,
    pass_samples: u64,
    repeat: bool,
    current: Option<usize>,
    pass: u64,
}

impl Timeline {
    /// The timeline of `s` at `fs_hz`.
    pub fn new(s: &Scenario, fs_hz: f64) -> Self {
        let mut t = 0.0;
        let mut starts = Vec::with_capacity(s.phases.len());
        for p in &s.phases {
            starts.push((t * fs_hz).round() as u64);
            t += p.duration_s;
        }
        Self {
            starts,
            pass_samples: ((t * fs_hz).round() as u64).max(1),
            repeat: s.repeat,
            current: None,
            pass: 0,
        }
    }

    /// Samples in one pass.
    pub fn pass_samples(&self) -> u64 {
        self.pass_samples
    }

    /// The phase index in force at `sample`, and whether it just started (first call in that phase).
    /// `None` after the end of a non-repeating scenario.
    pub fn at(&mut self, sample: u64) -> Option<(usize, bool)> {
        let pass = sample / self.pass_samples;
        if pass > 0 && !self.repeat {
            return None;
        }
        let within = sample % self.pass_samples;
        let i = self.starts.iter().rposition(|&s| s <= within).unwrap_or(0);
        let started = self.current != Some(i) || self.pass != pass;
        self.current = Some(i);
        self.pass = pass;
        Some((i, started))
    }

    /// Index of the phase in force at `sample` (no state change); `None` after a non-repeating end.
    pub fn phase_of(&self, sample: u64) -> Option<usize> {
        if sample >= self.pass_samples && !self.repeat {
            return None;
        }
        let within = sample % self.pass_samples;
        Some(self.starts.iter().rposition(|&s| s <= within).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn timeline_walks_phases() {
        let s = Scenario::parse(
            r#"{"phases":[{"duration_s":1},{"duration_s":2,"set":{"rhythm":"biv"},"commands":["stall 1"]}]}"#,
        )
        .unwrap();
        assert_eq!(s.duration_s(), 3.0);
        let mut t = Timeline::new(&s, 100.0);
        assert_eq!(t.at(0), Some((0, true)));
        assert_eq!(t.at(50), Some((0, false)));
        assert_eq!(t.at(100), Some((1, true)));
        assert_eq!(t.at(299), Some((1, false)));
        assert_eq!(t.at(300), None);
        assert_eq!(t.phase_of(150), Some(1));
        assert_eq!(s.phase_commands(1), vec![Command::Stall { seconds: 1.0 }]);
        assert!(Scenario::parse(r#"{"phases":[]}"#).is_err());
        assert!(Scenario::parse(r#"{"phases":[{"duration_s":1,"commands":["nope"]}]}"#).is_err());
    }
}
