//! The procedure service: HTTP/WebSocket API over the live pipeline (`qrsd serve`).
//!
//! ```text
//! acquisition thread ─▶ live thread (std) ─▶ hub (broadcast) ─▶ WebSocket clients
//!   (qrsd-acquire)        │  pipeline, beat extras,        ▲
//!                         │  measurement state machine     │ measurement events after commit
//!                         └─▶ store thread (SQLite) ───────┘
//! HTTP (axum, tokio) ─▶ workflow ─▶ store (spawn_blocking) / live thread commands
//! ```
//! See docs/api.md for the routes and messages, `deploy/` for running it as a service.
#![deny(missing_docs)]

pub mod api;
pub mod app;
pub mod assets;
pub mod config;
pub mod error;
pub mod hub;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod recording;
pub mod report_html;
pub mod server;
pub mod state;
pub mod workflow;

pub use config::{BindAddr, Build, Config, SourceSpec, DEFAULT_PORT};
pub use hub::Hub;
pub use server::{run, start, Running, StartError};
