//! Line commands, read from stdin while running and listed in scenario phases.
//!
//! One command per line; blank lines and lines starting with `#` are ignored. A line starting with `{` is
//! a JSON object merged into the synthesiser configuration (field names of `qrsd_synth::SynthConfig`,
//! nested objects for `pace` and `noise`), e.g. `{"rhythm":"biv","qrsd_ms":120,"pace":{"vv_offset_ms":20}}`.
//! Otherwise `KEYWORD [VALUE]`; see [`HELP`].

use serde_json::{json, Value};

use crate::faults::FaultKind;
use crate::SimError;

/// The command reference (also printed by `firmware-sim --help`).
pub const HELP: &str = "\
STDIN COMMANDS (one per line; also usable in scenario phases as \"commands\"):
  rhythm intrinsic|biv|rv   switch rhythm from the next beat (rv: RV-only pacing, LV not captured)
  qrsd MS                   QRS duration of the rhythm's main beats (60..250)
  intrinsic-qrsd MS         conducted QRSd while pacing (fusion partner)
  loc-extra MS              extra width of loss-of-capture beats
  rate BPM                  mean heart rate (30..180)
  hrv MS                    RR jitter SD
  lbbb on|off               LBBB-like intrinsic morphology
  fusion P | loc P | ectopic P   class probabilities per beat (0..1)
  pulse-width MS | pulse-amp UV | vv MS | av MS | latency MS   pacing stimulus / timing
  emg UV | wander UV | mains UV | mains-hz 50|60 | clip UV     noise and saturation
  lead-off CH on|off        flag an acquired channel (I, II, V1..V6 or 0..7) off/on
  unplug S                  disconnect for S seconds (pty: close and re-create; else stop output)
  stall S                   stop sending for S seconds (frames generated meanwhile are lost)
  garbage [N] | bitflip | drop [N]   inject one link fault now (N bytes / N frames)
  hello                     send a hello frame now
  {JSON}                    merge a JSON object into the synthesiser config
  quit                      stop (as at the end of --seconds)
";

/// A parsed command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Merge this JSON object into the synthesiser configuration.
    Set(Value),
    /// Flag channel `lead` off or on.
    LeadOff {
        /// Acquired channel index.
        lead: usize,
        /// Off (true) or back on.
        off: bool,
    },
    /// Disconnect for `seconds`.
    Unplug {
        /// Pause length, s.
        seconds: f64,
    },
    /// Stall for `seconds`.
    Stall {
        /// Stall length, s.
        seconds: f64,
    },
    /// Inject one fault of `kind` now (`count`: bytes for garbage, frames for drop).
    Inject {
        /// Fault kind (garbage, bitflip or drop).
        kind: FaultKind,
        /// Bytes (garbage) or frames (drop); ignored for bitflip.
        count: usize,
    },
    /// Send a hello now.
    Hello,
    /// Stop.
    Quit,
}

fn nested(path: &str, v: Value) -> Value {
    path.rsplit('.').fold(v, |acc, k| json!({ k: acc }))
}

/// Parse one line; `Ok(None)` for blank and comment lines.
pub fn parse(line: &str) -> Result<Option<Command>, SimError> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return Ok(None);
    }
    let bad = |reason: &str| SimError::Command {
        line: t.to_string(),
        reason: reason.to_string(),
    };
    if t.starts_with('{') {
        let v: Value = serde_json::from_str(t).map_err(|e| bad(&e.to_string()))?;
        return Ok(Some(Command::Set(v)));
    }
    let mut it = t.split_whitespace();
    let kw = it.next().unwrap_or("").to_ascii_lowercase();
    let arg = it.next();
    let arg2 = it.next();
    let num = || -> Result<f64, SimError> {
        arg.ok_or_else(|| bad("missing number"))?
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| bad("not a number"))
    };
    let on_off = |a: Option<&str>| -> Result<bool, SimError> {
        match a.map(str::to_ascii_lowercase).as_deref() {
            Some("on") | Some("true") | Some("1") => Ok(true),
            Some("off") | Some("false") | Some("0") => Ok(false),
            _ => Err(bad("expected on|off")),
        }
    };
    let field = match kw.as_str() {
        "qrsd" => Some("qrsd_ms"),
        "intrinsic-qrsd" => Some("intrinsic_qrsd_ms"),
        "loc-extra" => Some("loc_extra_qrsd_ms"),
        "rate" => Some("rate_bpm"),
        "hrv" => Some("hrv_ms"),
        "fusion" => Some("fusion_probability"),
        "loc" => Some("loss_of_capture_probability"),
        "ectopic" => Some("ectopic_probability"),
        "pulse-width" => Some("pace.pulse_width_ms"),
        "pulse-amp" => Some("pace.amplitude_uv"),
        "vv" => Some("pace.vv_offset_ms"),
        "av" => Some("pace.av_delay_ms"),
        "latency" => Some("pace.capture_latency_ms"),
        "emg" => Some("noise.emg_uv_rms"),
        "wander" => Some("noise.baseline_wander_uv"),
        "mains" => Some("noise.mains_uv"),
        "mains-hz" => Some("noise.mains_hz"),
        "clip" => Some("clip_uv"),
        _ => None,
    };
    if let Some(f) = field {
        return Ok(Some(Command::Set(nested(f, json!(num()?)))));
    }
    let cmd = match kw.as_str() {
        "rhythm" => match arg.map(str::to_ascii_lowercase).as_deref() {
            Some(r @ ("intrinsic" | "biv" | "rv")) => Command::Set(json!({ "rhythm": r })),
            _ => return Err(bad("expected intrinsic|biv|rv")),
        },
        "lbbb" => Command::Set(json!({ "lbbb": on_off(arg)? })),
        "lead-off" | "leadoff" => {
            let lead = arg
                .and_then(crate::channel_index)
                .ok_or_else(|| bad("expected a channel: I, II, V1..V6 or 0..7"))?;
            Command::LeadOff {
                lead,
                off: on_off(arg2.or(Some("on")))?,
            }
        }
        "unplug" | "disconnect" => Command::Unplug {
            seconds: if arg.is_some() { num()? } else { 1.0 },
        },
        "stall" => Command::Stall {
            seconds: if arg.is_some() { num()? } else { 2.0 },
        },
        "garbage" | "bitflip" | "drop" => Command::Inject {
            kind: FaultKind::parse(&kw).ok_or_else(|| bad("unknown fault"))?,
            count: if arg.is_some() {
                num()?.max(1.0) as usize
            } else if kw == "garbage" {
                32
            } else {
                1
            },
        },
        "hello" => Command::Hello,
        "quit" | "exit" => Command::Quit,
        _ => return Err(bad("unknown command (see firmware-sim --help)")),
    };
    if let Command::Unplug { seconds } | Command::Stall { seconds } = cmd {
        if !(0.0..=3600.0).contains(&seconds) {
            return Err(bad("duration outside 0..=3600 s"));
        }
    }
    Ok(Some(cmd))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn parses_keywords_and_json() {
        assert_eq!(
            parse("qrsd 130").unwrap(),
            Some(Command::Set(json!({"qrsd_ms": 130.0})))
        );
        assert_eq!(
            parse("vv 20").unwrap(),
            Some(Command::Set(json!({"pace": {"vv_offset_ms": 20.0}})))
        );
        assert_eq!(
            parse("rhythm BIV").unwrap(),
            Some(Command::Set(json!({"rhythm": "biv"})))
        );
        assert_eq!(
            parse("lead-off V3 on").unwrap(),
            Some(Command::LeadOff { lead: 4, off: true })
        );
        assert_eq!(
            parse("unplug 2").unwrap(),
            Some(Command::Unplug { seconds: 2.0 })
        );
        assert_eq!(
            parse(r#"{"fusion_probability":0.2}"#).unwrap(),
            Some(Command::Set(json!({"fusion_probability": 0.2})))
        );
        assert_eq!(parse("  # comment").unwrap(), None);
        assert!(parse("qrsd abc").is_err());
        assert!(parse("frobnicate").is_err());
        assert!(parse("stall -1").is_err());
    }
}
