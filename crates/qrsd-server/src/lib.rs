//! The procedure service: HTTP/WebSocket API over the live pipeline.
