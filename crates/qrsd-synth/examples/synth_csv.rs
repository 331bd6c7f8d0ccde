//! Writes a synthetic recording as CSV to stdout (header: `sample,I,II,III,AVR,AVL,AVF,V1..V6,pace`) and its
//! truth as JSON lines to stderr.
//!
//! `cargo run -p qrsd-synth --example synth_csv -- [CONFIG_JSON] [SECONDS]`, e.g.
//! `'{"rhythm":"biv","qrsd_ms":130,"fs_hz":1000}' 10`. Missing fields take `SynthConfig::default()`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let cfg: qrsd_synth::SynthConfig = match args.next() {
        Some(json) => serde_json::from_str(&json)?,
        None => qrsd_synth::SynthConfig::default(),
    };
    let seconds: f64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10.0);
    let rec = qrsd_synth::generate(&cfg, seconds)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    write!(out, "sample")?;
    for (name, _) in &rec.leads {
        write!(out, ",{name}")?;
    }
    writeln!(out, ",pace")?;
    for k in 0..rec.len_samples() {
        write!(out, "{k}")?;
        for (_, v) in &rec.leads {
            write!(out, ",{:.3}", v[k])?;
        }
        writeln!(out, ",{}", u8::from(rec.pace_flags[k]))?;
    }
    out.flush()?;
    let mut err = std::io::stderr().lock();
    for t in &rec.truth {
        writeln!(err, "{}", serde_json::to_string(t)?)?;
    }
    Ok(())
}
