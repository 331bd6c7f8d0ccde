//! The operator page's static assets, embedded at build time from `crates/qrsd-server/ui/` (see
//! `build.rs`): every file there is served at its path (`ui/app.css` → `/app.css`), `/` serves
//! `index.html`. Drop a file into `ui/` and rebuild: no route needs adding.

use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// Shown at `/` when `ui/index.html` does not exist.
const PLACEHOLDER: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>qrsd</title></head>\
<body><h1>qrsd</h1><p>The service is running. API: <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>, \
live stream: <code>/api/v1/stream</code> (WebSocket).</p></body></html>";

/// Look up an embedded file by URL path.
pub fn get(path: &str) -> Option<(&'static [u8], &'static str)> {
    let path = if path == "/" { "/index.html" } else { path };
    ASSETS
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(_, b, m)| (*b, *m))
}

fn respond(bytes: &'static [u8], mime: &'static str) -> Response {
    let mut r = (StatusCode::OK, bytes).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// `GET /`.
pub async fn index() -> Response {
    match get("/") {
        Some((b, m)) => respond(b, m),
        None => respond(PLACEHOLDER.as_bytes(), "text/html; charset=utf-8"),
    }
}

/// Any other GET outside `/api`: an embedded file, or `None` (the caller answers 404).
pub fn file(uri: &Uri) -> Option<Response> {
    get(uri.path()).map(|(b, m)| respond(b, m))
}
