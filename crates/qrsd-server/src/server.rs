//! Start and run the service.

use crate::config::{Config, SourceSpec};
use crate::live::{spawn_live, LiveConfig, LiveSink, SourceSnapshot};
use crate::metrics::Metrics;
use crate::state::{AppState, Inner};
use crate::workflow::Workflow;
use crate::Hub;
use qrsd_acquire::{
    ReplayOptions, ReplaySource, SerialOptions, SerialSource, SimControl, SimOptions, SimSource,
    Source, Speed,
};
use qrsd_pipeline::PipelineConfig;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{oneshot, Semaphore};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Invalid configuration.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The source could not be opened.
    #[error("source: {0}")]
    Source(String),
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(String),
    /// Binding or threads.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A running service (tests and the binary).
pub struct Running {
    /// The address it listens on (useful with port 0).
    pub addr: SocketAddr,
    /// Shared state (tests inspect it).
    pub state: AppState,
    shutdown_tx: Option<oneshot::Sender<()>>,
    live_stop: Arc<AtomicBool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    live: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// The simulator's control, when the source is the simulator.
    pub fn sim(&self) -> Option<SimControl> {
        self.state.sim().cloned()
    }

    /// Stop serving, stop the live thread and the source, flush the store.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown_tx.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.server).await;
        self.live_stop.store(true, Ordering::Relaxed);
        if let Some(j) = self.live.take() {
            let _ = tokio::task::spawn_blocking(move || j.join()).await;
        }
        self.state.workflow().shutdown().await;
    }

    /// Wait until the HTTP server ends (after a signal).
    pub async fn wait(mut self) -> std::io::Result<()> {
        let r = (&mut self.server)
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        self.live_stop.store(true, Ordering::Relaxed);
        if let Some(j) = self.live.take() {
            let _ = tokio::task::spawn_blocking(move || j.join()).await;
        }
        self.state.workflow().shutdown().await;
        r
    }
}

fn speed(f: f64) -> Speed {
    if f == 0.0 {
        Speed::Max
    } else if f == 1.0 {
        Speed::RealTime
    } else {
        Speed::Factor(f)
    }
}

/// Build the configured source: (source, simulator control when it is the simulator).
fn open_source(cfg: &Config) -> Result<(Box<dyn Source>, Option<SimControl>), StartError> {
    match &cfg.source.spec {
        SourceSpec::Sim => {
            let s = &cfg.source.sim;
            let synth = qrsd_synth::SynthConfig {
                fs_hz: s.fs_hz,
                rhythm: match s.rhythm.as_str() {
                    "biv" => qrsd_synth::Rhythm::Biv,
                    "rv" => qrsd_synth::Rhythm::Rv,
                    _ => qrsd_synth::Rhythm::Intrinsic,
                },
                qrsd_ms: s.qrsd_ms,
                rate_bpm: s.rate_bpm,
                seed: s.seed,
                realistic_edges: s.realistic_edges,
                ..qrsd_synth::SynthConfig::default()
            };
            let src = SimSource::new(SimOptions {
                synth,
                speed: speed(s.speed),
                ..SimOptions::default()
            })
            .map_err(|e| StartError::Source(e.to_string()))?;
            let ctl = src.control();
            Ok((Box::new(src), Some(ctl)))
        }
        SourceSpec::Replay(p) => {
            let src = ReplaySource::open(
                p,
                ReplayOptions {
                    speed: speed(cfg.source.replay_speed),
                    ..ReplayOptions::default()
                },
            )
            .map_err(|e| StartError::Source(e.to_string()))?;
            Ok((Box::new(src), None))
        }
        SourceSpec::Serial(p) => {
            // Opening never waits for the device: the source reconnects with back-off until it
            // appears (unplugged amplifier at start-up = state `connecting`, not a failure).
            let src = SerialSource::new(SerialOptions::new(p.clone()))
                .map_err(|e| StartError::Source(e.to_string()))?;
            Ok((Box::new(src), None))
        }
    }
}

fn pipeline_template(cfg: &Config) -> PipelineConfig {
    let mut pc = PipelineConfig::new(500.0, Vec::new());
    pc.filter.notch_hz = (cfg.filter.notch_hz > 0.0).then_some(cfg.filter.notch_hz);
    if !cfg.filter.highpass {
        pc.filter.highpass_hz = None;
    }
    if !cfg.filter.lowpass {
        pc.filter.lowpass_hz = None;
    }
    pc
}

/// Start everything and listen; returns once the socket is bound.
pub async fn start(mut cfg: Config) -> Result<Running, StartError> {
    cfg.resolve_token()?;
    cfg.validate()?;
    std::fs::create_dir_all(&cfg.storage.data_dir)?;
    let metrics = Arc::new(Metrics::default());
    let hub = Hub::new(cfg.server.ws_buffer_messages, Arc::clone(&metrics));
    let (source, sim) = open_source(&cfg)?;
    let pipeline = pipeline_template(&cfg);
    let snapshot = Arc::new(Mutex::new(SourceSnapshot {
        kind: cfg.source.spec.kind().into(),
        description: cfg.source.spec.to_string(),
        ..SourceSnapshot::default()
    }));
    let mut sinks: Vec<Box<dyn LiveSink>> = Vec::new();
    let recording = if cfg.storage.record {
        let (h, sink) = crate::recording::start(&cfg.storage.data_dir, &cfg.build);
        sinks.extend(sink);
        h
    } else {
        crate::recording::RecordingHandle::default()
    };
    let (workflow, sink) = Workflow::open(
        &cfg,
        &pipeline,
        hub.clone(),
        Arc::clone(&metrics),
        Arc::clone(&snapshot),
        recording,
    )?;
    sinks.push(sink);
    let live_stop = Arc::new(AtomicBool::new(false));
    let handle = qrsd_acquire::spawn(source, cfg.source.channel_capacity);
    let live = spawn_live(
        handle,
        LiveConfig {
            pipeline,
            display_rate_hz: cfg.display.rate_hz,
            display_batch_ms: cfg.display.batch_ms,
            shutdown: Arc::clone(&live_stop),
        },
        hub.clone(),
        Arc::clone(&metrics),
        Arc::clone(&snapshot),
        sinks,
    )?;
    let listener = tokio::net::TcpListener::bind(cfg.bind_addr()).await?;
    let addr = listener.local_addr()?;
    let busy = Arc::new(Semaphore::new(cfg.server.max_concurrent_requests));
    tracing::info!(%addr, source = %cfg.source.spec, data = %cfg.storage.data_dir.display(),
        token = cfg.server.token.is_some(), "qrsd serve listening");
    let state = AppState::new(Inner {
        cfg,
        hub,
        metrics,
        snapshot,
        sim,
        busy,
        started: Instant::now(),
        workflow,
    });
    let app = crate::app::router(state.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                tokio::select! {
                    _ = rx => {}
                    _ = shutdown_signal() => {}
                }
            })
            .await
    });
    Ok(Running {
        addr,
        state,
        shutdown_tx: Some(tx),
        live_stop,
        server,
        live: Some(live),
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Run until SIGINT/SIGTERM (the `qrsd serve` entry point).
pub async fn run(cfg: Config) -> Result<(), StartError> {
    let r = start(cfg).await?;
    r.wait().await?;
    Ok(())
}
