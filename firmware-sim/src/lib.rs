//! firmware-sim: the simulated 12-lead ECG amplifier speaking the qrsd serial protocol.
//!
//! The binary (`src/main.rs`) is a thin shell around this library, which tests and other crates can reuse
//! in-process:
//! * [`amp::Amplifier`]: a [`qrsd_synth::Synth`] behind an ADC and a framer: emits hello, status and sample
//!   frames (docs/protocol.md) one at a time, with the device's timing rules.
//! * [`commands`]: the line commands accepted on stdin and in scenario files.
//! * [`scenario`]: timelines of phases with configuration overrides.
//! * [`faults`]: seeded link-fault injection (garbage, bit flips, dropped frames, stalls, disconnects).
//! * [`truth`]: the per-beat truth JSON lines.
#![deny(missing_docs)]

pub mod amp;
pub mod commands;
pub mod faults;
pub mod scenario;
pub mod truth;

/// Errors of the simulator library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The synthesiser rejected a configuration.
    #[error(transparent)]
    Synth(#[from] qrsd_synth::SynthError),
    /// A frame could not be encoded.
    #[error(transparent)]
    Encode(#[from] qrsd_protocol::EncodeError),
    /// A command line could not be understood.
    #[error("bad command `{line}`: {reason}")]
    Command {
        /// The line.
        line: String,
        /// Why.
        reason: String,
    },
    /// A scenario file is invalid.
    #[error("scenario: {0}")]
    Scenario(String),
    /// A configuration override is not valid JSON for the synthesiser config.
    #[error("config override: {0}")]
    Config(#[from] serde_json::Error),
    /// An option is out of range.
    #[error("invalid option: {0}")]
    Option(String),
}

/// Deep-merge JSON `patch` into `base` (objects recursively, everything else replaced).
pub fn merge_json(base: &mut serde_json::Value, patch: &serde_json::Value) {
    match (base, patch) {
        (serde_json::Value::Object(b), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(slot) => merge_json(slot, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// `cfg` with the JSON object `patch` merged in (field names as in [`qrsd_synth::SynthConfig`]).
pub fn patched_config(
    cfg: &qrsd_synth::SynthConfig,
    patch: &serde_json::Value,
) -> Result<qrsd_synth::SynthConfig, SimError> {
    let mut v = serde_json::to_value(cfg)?;
    merge_json(&mut v, patch);
    let out: qrsd_synth::SynthConfig = serde_json::from_value(v)?;
    out.validate()?;
    Ok(out)
}

/// Acquired channel index (0 = I, 1 = II, 2..=7 = V1..V6) for a name (`I`, `ii`, `V3`) or an index.
pub fn channel_index(name: &str) -> Option<usize> {
    if let Ok(i) = name.parse::<usize>() {
        return (i < qrsd_synth::N_ACQUIRED).then_some(i);
    }
    qrsd_synth::LEAD_NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name))
}
