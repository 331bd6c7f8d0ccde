//! Harness for fuzzing the API's JSON request bodies through the real router (cargo-fuzz target
//! `fuzz/fuzz_targets/api_json.rs`; replayed on stable by `tests/api_bodies.rs`).
//!
//! One service is started once per process (simulator at real time, temporary data folder, no
//! recording) with a procedure and a site; each input is one request: byte 0 picks the route that takes
//! a body (create procedure, add site, baseline, site measurement, accept, reject, close, stop, sim
//! settings), byte 1 the content type, the rest is the body. The request goes through
//! [`qrsd_server::app::router`] with `tower::ServiceExt::oneshot` — the same extractors, validation,
//! limits and handlers as on a socket. Invariant: the answer is 2xx or 4xx (or 503 when busy), never
//! another 5xx, and every 4xx carries a JSON body.

use axum::body::Body;
use axum::http::{Method, Request};
use std::sync::OnceLock;
use tower::ServiceExt;

/// The started service and the ids the routes use.
pub struct Harness {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    procedure: i64,
    closable: i64,
    site: i64,
    _running: qrsd_server::Running,
}

/// Routes with a body: (method, path template; `{p}` = procedure, `{c}` = a procedure the fuzzer may
/// close, `{s}` = site, `{m}` = a measurement id).
const ROUTES: [(&str, &str); 10] = [
    ("POST", "/api/v1/procedures"),
    ("POST", "/api/v1/procedures/{p}/sites"),
    ("POST", "/api/v1/procedures/{p}/baseline"),
    ("POST", "/api/v1/procedures/{p}/sites/{s}/measurements"),
    ("POST", "/api/v1/procedures/{p}/sites/{s}/accept"),
    ("POST", "/api/v1/procedures/{p}/sites/{s}/reject"),
    ("POST", "/api/v1/procedures/{c}/close"),
    ("POST", "/api/v1/measurements/{m}/stop"),
    ("PUT", "/api/v1/source/sim"),
    ("POST", "/api/v1/procedures/{c}/sites"),
];

const CONTENT_TYPES: [Option<&str>; 4] = [
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    None,
    Some("text/plain"),
];

fn temp_dir() -> std::path::PathBuf {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("qrsd-api-fuzz-{}-{n}", std::process::id()))
}

impl Harness {
    fn new() -> Result<Self, String> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let mut cfg = qrsd_server::Config::default();
        cfg.server.port = 0;
        cfg.storage.data_dir = temp_dir();
        cfg.storage.record = false;
        let running = rt
            .block_on(qrsd_server::start(cfg))
            .map_err(|e| e.to_string())?;
        let router = qrsd_server::app::router(running.state.clone());
        let mut h = Self {
            rt,
            router,
            procedure: 0,
            closable: 0,
            site: 0,
            _running: running,
        };
        h.procedure = h.create("/api/v1/procedures", r#"{"case_id": "FUZZ"}"#)?;
        h.closable = h.create("/api/v1/procedures", r#"{"case_id": "FUZZ-CLOSE"}"#)?;
        let sites = format!("/api/v1/procedures/{}/sites", h.procedure);
        h.site = h.create(
            &sites,
            r#"{"vein": "lateral", "segment": "mid", "label": "F"}"#,
        )?;
        Ok(h)
    }

    fn create(&self, path: &str, body: &str) -> Result<i64, String> {
        let (st, v) = self.send(
            "POST",
            path,
            Some("application/json"),
            body.as_bytes().to_vec(),
        );
        let id = serde_json::from_slice::<serde_json::Value>(&v)
            .ok()
            .and_then(|j| j["id"].as_i64());
        id.ok_or_else(|| format!("{path}: {st} {}", String::from_utf8_lossy(&v)))
    }

    /// Send one request through the router; returns status and body bytes.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, Vec<u8>) {
        let mut b = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap_or(Method::POST))
            .uri(path);
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        let req = match b.body(Body::from(body)) {
            Ok(r) => r,
            Err(e) => return (0, e.to_string().into_bytes()),
        };
        let router = self.router.clone();
        self.rt.block_on(async move {
            match router.oneshot(req).await {
                Ok(resp) => {
                    let st = resp.status().as_u16();
                    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
                        .await
                        .map(|b| b.to_vec())
                        .unwrap_or_default();
                    (st, bytes)
                }
                Err(e) => (0, e.to_string().into_bytes()),
            }
        })
    }
}

/// The process-wide harness (started on first use).
pub fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| match Harness::new() {
        Ok(h) => h,
        Err(e) => panic!("api_fuzz: the service did not start: {e}"),
    })
}

/// One fuzz input; panics when the invariant breaks. Returns the status (0 for a too-short input).
pub fn run(data: &[u8]) -> u16 {
    let (Some(&r), Some(&c)) = (data.first(), data.get(1)) else {
        return 0;
    };
    let h = harness();
    let (method, tmpl) = ROUTES[usize::from(r) % ROUTES.len()];
    let path = tmpl
        .replace("{p}", &h.procedure.to_string())
        .replace("{c}", &h.closable.to_string())
        .replace("{s}", &h.site.to_string())
        .replace("{m}", &(i64::from(c >> 4) + 1).to_string());
    let ct = CONTENT_TYPES[usize::from(c) % CONTENT_TYPES.len()];
    let (st, body) = h.send(method, &path, ct, data[2..].to_vec());
    let ok = (200..300).contains(&st) || (400..500).contains(&st) || st == 503;
    assert!(
        ok,
        "{method} {path} ({ct:?}) body {:?} -> {st} {}",
        String::from_utf8_lossy(&data[2..]),
        String::from_utf8_lossy(&body)
    );
    if (400..500).contains(&st) {
        assert!(
            serde_json::from_slice::<serde_json::Value>(&body).is_ok(),
            "{method} {path}: {st} without a JSON body: {}",
            String::from_utf8_lossy(&body)
        );
    }
    st
}
