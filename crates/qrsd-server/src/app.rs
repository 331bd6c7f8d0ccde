//! The router: routes, access control, limits, JSON errors.

use crate::error::{ApiError, ApiQuery};
use crate::state::AppState;
use crate::{api, assets, hub};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use serde::Deserialize;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// One API route: path (axum syntax, `{id}` parameters) and its methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    /// Path.
    pub path: &'static str,
    /// Methods, upper-case.
    pub methods: &'static [&'static str],
}

struct Routes {
    router: Router<AppState>,
    list: Vec<RouteInfo>,
}

impl Routes {
    fn add(
        mut self,
        path: &'static str,
        methods: &'static [&'static str],
        mr: MethodRouter<AppState>,
    ) -> Self {
        self.router = self.router.route(path, mr);
        self.list.push(RouteInfo { path, methods });
        self
    }
}

fn routes() -> Routes {
    let r = Routes {
        router: Router::new(),
        list: Vec::new(),
    };
    r.add("/healthz", &["GET"], get(healthz))
        .add("/metrics", &["GET"], get(metrics))
        .add("/api/v1/openapi.json", &["GET"], get(openapi))
        .add(
            "/api/v1/procedures",
            &["GET", "POST"],
            get(api::list_procedures).post(api::create_procedure),
        )
        .add("/api/v1/procedures/{id}", &["GET"], get(api::get_procedure))
        .add(
            "/api/v1/procedures/{id}/baseline",
            &["POST"],
            post(api::start_baseline),
        )
        .add(
            "/api/v1/procedures/{id}/sites",
            &["POST"],
            post(api::add_site),
        )
        .add(
            "/api/v1/procedures/{id}/sites/{site}/measurements",
            &["POST"],
            post(api::start_site_measurement),
        )
        .add(
            "/api/v1/procedures/{id}/sites/{site}/accept",
            &["POST"],
            post(api::accept_site),
        )
        .add(
            "/api/v1/procedures/{id}/sites/{site}/reject",
            &["POST"],
            post(api::reject_site),
        )
        .add(
            "/api/v1/procedures/{id}/recommendation",
            &["GET"],
            get(api::recommendation),
        )
        .add("/api/v1/procedures/{id}/report", &["GET"], get(api::report))
        .add(
            "/api/v1/procedures/{id}/report.html",
            &["GET"],
            get(api::report_html),
        )
        .add(
            "/api/v1/procedures/{id}/close",
            &["POST"],
            post(api::close_procedure),
        )
        .add(
            "/api/v1/measurements/{id}",
            &["GET"],
            get(api::get_measurement),
        )
        .add(
            "/api/v1/measurements/{id}/stop",
            &["POST"],
            post(api::stop_measurement),
        )
        .add("/api/v1/source", &["GET"], get(api::get_source))
        .add(
            "/api/v1/source/sim",
            &["GET", "PUT"],
            get(api::get_sim).put(api::put_sim),
        )
        .add("/api/v1/sim/truth", &["GET"], get(api::sim_truth))
        .add("/api/v1/stream", &["GET"], get(stream))
}

/// Every route the router serves (for the OpenAPI document's test and docs).
pub fn route_list() -> Vec<RouteInfo> {
    routes().list
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let max_body = state.cfg().server.max_body_bytes;
    let Routes { router, .. } = routes();
    router
        .route("/", get(assets::index))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .layer(middleware::from_fn_with_state(state.clone(), limit))
        .layer(middleware::from_fn(crate::error::json_errors))
        .layer(middleware::from_fn(access_log))
        .with_state(state)
}

async fn fallback(method: Method, uri: Uri) -> Response {
    if method == Method::GET && !uri.path().starts_with("/api/") {
        if let Some(r) = assets::file(&uri) {
            return r;
        }
    }
    ApiError::not_found(format!("no route {} {}", method, uri.path())).into_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", method, uri.path()),
    )
    .into_response()
}

/// Constant-time comparison (the token must not leak through timing).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Bearer-token check on every `/api` route when a token is configured. The WebSocket may pass it as
/// `?token=` (browsers cannot set headers on a WebSocket). `/healthz`, `/metrics` and the page's static
/// files stay open (the page asks for the token itself).
async fn auth(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = st.cfg().server.token.as_deref() else {
        return next.run(req).await;
    };
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let header_ok = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| ct_eq(t.trim().as_bytes(), token.as_bytes()));
    let query_ok = req.uri().path() == "/api/v1/stream"
        && req.uri().query().is_some_and(|q| {
            q.split('&')
                .filter_map(|kv| kv.strip_prefix("token="))
                .any(|t| ct_eq(t.as_bytes(), token.as_bytes()))
        });
    if header_ok || query_ok {
        return next.run(req).await;
    }
    let mut r = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "a bearer token is required (Authorization: Bearer <token>)",
    )
    .into_response();
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// Bound the requests in flight (503 beyond `max_concurrent_requests`). WebSocket sessions are bounded
/// separately by `max_ws_clients`.
async fn limit(State(st): State<AppState>, req: Request, next: Next) -> Response {
    match st.inner.busy.clone().try_acquire_owned() {
        Ok(permit) => {
            let r = next.run(req).await;
            drop(permit);
            r
        }
        Err(_) => {
            st.inner.metrics.http_busy.fetch_add(1, Ordering::Relaxed);
            ApiError::unavailable("busy", "too many requests in flight; retry shortly")
                .into_response()
        }
    }
}

async fn access_log(req: Request, next: Next) -> Response {
    let (m, p) = (req.method().clone(), req.uri().path().to_string());
    let t = std::time::Instant::now();
    let r = next.run(req).await;
    let s = r.status().as_u16();
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    if s >= 400 {
        tracing::info!(method = %m, path = %p, status = s, ms, "request");
    } else {
        tracing::debug!(method = %m, path = %p, status = s, ms, "request");
    }
    r
}

async fn healthz(State(st): State<AppState>) -> Response {
    let snap = st.source_snapshot();
    let body = serde_json::json!({
        "status": "ok",
        "version": st.inner.cfg.build.version,
        "commit": st.inner.cfg.build.commit,
        "source": snap.status.state.as_str(),
        "uptime_s": st.inner.started.elapsed().as_secs_f64(),
    });
    axum::Json(body).into_response()
}

async fn metrics(State(st): State<AppState>) -> Response {
    let text = st.inner.metrics.render(&st.source_counters());
    let mut r = (StatusCode::OK, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

async fn openapi() -> Response {
    axum::Json(crate::openapi::document()).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    #[allow(dead_code)]
    token: Option<String>,
}

async fn stream(
    State(st): State<AppState>,
    ApiQuery(_q): ApiQuery<StreamQuery>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => {
            return ApiError::new(e.status(), "websocket_required", e.body_text()).into_response()
        }
    };
    let cfg = &st.cfg().server;
    if st.inner.hub.subscribers() >= cfg.max_ws_clients {
        return ApiError::unavailable("too_many_clients", "too many WebSocket subscribers")
            .into_response();
    }
    let rx = st.inner.hub.subscribe();
    let hello = st.hello_message();
    let timeout = Duration::from_millis(cfg.ws_send_timeout_ms);
    let metrics = st.inner.metrics.clone();
    ws.max_message_size(64 * 1024)
        .on_upgrade(move |socket| hub::serve_client(socket, rx, hello, timeout, metrics))
}
