//! The WebSocket hub: one publisher (the live thread), any number of subscribers.
//!
//! Messages are numbered JSON objects `{"seq": n, "type": ..., ...}`, serialised once and shared
//! (`Arc<str>`) through a bounded `tokio::sync::broadcast` ring. Publishing never blocks. A subscriber
//! that falls more than the ring's capacity behind is told `{"seq": first_missed, "type": "gap",
//! "missed": k}` and carries on from the oldest message still held; a subscriber whose socket does not
//! take a message within `ws_send_timeout_ms` (it stopped reading) is disconnected. Neither affects the
//! publisher or the other subscribers.

use crate::metrics::Metrics;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// The publishing side, cheap to clone.
#[derive(Debug, Clone)]
pub struct Hub {
    tx: broadcast::Sender<(u64, Arc<str>)>,
    seq: Arc<AtomicU64>,
    /// Serialises number assignment and sending so that `seq` order = delivery order.
    order: Arc<Mutex<()>>,
    metrics: Arc<Metrics>,
}

impl Hub {
    /// A hub holding up to `capacity` messages per subscriber.
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(16));
        Self {
            tx,
            seq: Arc::new(AtomicU64::new(0)),
            order: Arc::new(Mutex::new(())),
            metrics,
        }
    }

    /// Publish `body` (a JSON object with a `type`); returns its sequence number. Never blocks on
    /// subscribers.
    pub fn publish(&self, mut body: Value) -> u64 {
        let _g = self.order.lock().unwrap_or_else(|e| e.into_inner());
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(m) = body.as_object_mut() {
            m.insert("seq".into(), json!(seq));
        }
        let text: Arc<str> = Arc::from(body.to_string());
        // No subscribers is fine.
        let _ = self.tx.send((seq, text));
        self.metrics.messages.fetch_add(1, Ordering::Relaxed);
        seq
    }

    /// Subscribers now.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// Last sequence number assigned.
    pub fn last_seq(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }

    /// A receiver starting at the next message.
    pub fn subscribe(&self) -> broadcast::Receiver<(u64, Arc<str>)> {
        self.tx.subscribe()
    }
}

/// Serve one WebSocket subscriber until it goes away. `hello` is sent first.
pub async fn serve_client(
    mut socket: WebSocket,
    mut rx: broadcast::Receiver<(u64, Arc<str>)>,
    hello: Value,
    send_timeout: Duration,
    metrics: Arc<Metrics>,
) {
    metrics.ws_clients.fetch_add(1, Ordering::Relaxed);
    let _guard = ClientGuard(Arc::clone(&metrics));
    if !matches!(
        send(&mut socket, send_timeout, hello.to_string()).await,
        Ok(Ok(()))
    ) {
        return;
    }
    let mut next_expected: Option<u64> = None;
    loop {
        tokio::select! {
            r = rx.recv() => {
                let (seq, text) = match r {
                    Ok(t) => t,
                    Err(broadcast::error::RecvError::Lagged(k)) => {
                        metrics.ws_gaps.fetch_add(1, Ordering::Relaxed);
                        metrics.ws_missed_messages.fetch_add(k, Ordering::Relaxed);
                        let first = next_expected.unwrap_or(0);
                        let gap = json!({"seq": first, "type": "gap", "missed": k});
                        next_expected = Some(first + k);
                        match send(&mut socket, send_timeout, gap.to_string()).await {
                            Ok(Ok(())) => continue,
                            Ok(Err(_)) => return,
                            Err(_) => {
                                metrics.ws_dropped_clients.fetch_add(1, Ordering::Relaxed);
                                return;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        let _ = socket.send(Message::Close(None)).await;
                        return;
                    }
                };
                next_expected = Some(seq + 1);
                match send(&mut socket, send_timeout, text.to_string()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return,
                    Err(_) => {
                        metrics.ws_dropped_clients.fetch_add(1, Ordering::Relaxed);
                        tracing::info!("websocket client stopped reading; disconnected");
                        return;
                    }
                }
            }
            m = socket.recv() => {
                // Clients only listen; a close or an error ends the session, pings are answered by axum.
                match m {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {}
                }
            }
        }
    }
}

async fn send(
    socket: &mut WebSocket,
    timeout: Duration,
    text: String,
) -> Result<Result<(), axum::Error>, tokio::time::error::Elapsed> {
    tokio::time::timeout(timeout, socket.send(Message::Text(Utf8Bytes::from(text)))).await
}

struct ClientGuard(Arc<Metrics>);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.ws_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn numbered_and_never_blocks() {
        let hub = Hub::new(16, Arc::new(Metrics::default()));
        let mut rx = hub.subscribe();
        for i in 0..100 {
            hub.publish(json!({"type": "x", "i": i}));
        }
        // The ring held the last 16; the receiver learns it lagged.
        match rx.try_recv() {
            Err(broadcast::error::TryRecvError::Lagged(k)) => assert_eq!(k, 84),
            other => panic!("{other:?}"),
        }
        let (seq, t) = rx.try_recv().unwrap();
        assert_eq!(seq, 85);
        assert!(t.contains("\"seq\":85"));
    }
}
