//! `qrsd serve`: the procedure service (HTTP/WebSocket API, operator page) over a live source.
//!
//! With no arguments it serves the in-process simulator at 127.0.0.1:7474 with its data in
//! `./qrsd-data`. A TOML file (`--config`, see deploy/qrsd.toml) sets everything; the flags below
//! override it.

use anyhow::{Context, Result};
use clap::Args;
use qrsd_server::{BindAddr, Config, SourceSpec};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args)]
pub struct ServeArgs {
    /// Configuration file (TOML; see deploy/qrsd.toml).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Source: sim, serial:PATH or replay:PATH [default: sim].
    #[arg(long, value_name = "SPEC")]
    source: Option<String>,
    /// Address to listen on, ADDR or ADDR:PORT (127.0.0.1:7474, [::1]:7474) [default: 127.0.0.1];
    /// any other than loopback needs a token (QRSD_TOKEN or the config).
    #[arg(long, value_name = "ADDR[:PORT]")]
    bind: Option<BindAddr>,
    /// TCP port, over any port given with --bind or in the config [default: 7474].
    #[arg(long)]
    port: Option<u16>,
    /// Data folder: database and recordings [default: ./qrsd-data].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Simulator speed, × real time (demos and tests).
    #[arg(long)]
    sim_speed: Option<f64>,
    /// Replay speed, × real time (0 = as fast as possible).
    #[arg(long)]
    replay_speed: Option<f64>,
    /// Do not record the session to WFDB.
    #[arg(long)]
    no_record: bool,
}

/// The configuration the flags describe.
fn config(a: &ServeArgs) -> Result<Config> {
    let mut c = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(s) = &a.source {
        c.source.spec = SourceSpec::parse(s)?;
    }
    c.override_bind(a.bind, a.port);
    if let Some(d) = &a.data {
        c.storage.data_dir = d.clone();
    }
    if let Some(s) = a.sim_speed {
        c.source.sim.speed = s;
    }
    if let Some(s) = a.replay_speed {
        c.source.replay_speed = s;
    }
    if a.no_record {
        c.storage.record = false;
    }
    c.build = crate::build();
    Ok(c)
}

pub fn run(a: ServeArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cfg = config(&a)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("qrsd-http")
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let running = qrsd_server::start(cfg).await?;
        // Tests and scripts read the address from the first line on stdout.
        println!("listening on http://{}", running.addr);
        running.wait().await?;
        anyhow::Ok(())
    })
}
