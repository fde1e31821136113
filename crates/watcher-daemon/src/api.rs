//! The control API: JSON over HTTP on `[api] listen`.
//!
//! | method and path | what |
//! | --- | --- |
//! | `GET /status` | VIPs, backends (health, probe latency), active next hop, sessions, recent moves |
//! | `POST /drain` `{"backend": "ws1", "vip": "100.64.0.1/32"}` | take a backend out (moves the VIP now if active) |
//! | `POST /undrain` `{"backend": "ws1"}` | put it back |
//! | `POST /force` `{"backend": "ws2"}` / `{"backend": null}` | pin the VIP to a backend / unpin |
//! | `POST /shutdown` `{"withdraw": false}` | stop as SIGTERM does: the route servers keep the VIP while the watcher restarts |
//! | `POST /shutdown` `{"withdraw": true}` | decommission: withdraw every VIP, end the sessions with Cease / Hard Reset, stop |
//! | `GET /metrics` | Prometheus text format |
//!
//! `vip` may be left out when there is one VIP. With `[api] token` set, every call
//! needs `Authorization: Bearer TOKEN` (401 otherwise); the token is never echoed,
//! and a SIGHUP that sets, changes or removes it applies at once. Requests a web
//! page could send are refused (`hopwatch_daemon::api_guard`): one with an
//! `Origin` or a `Host` that is a name (403), a POST without `Content-Type:
//! application/json` (415).
//! The handlers only pass requests to the watcher's loop, which owns all state.
//!
//! Every error is `{"error": "..."}`: 400 bad request, 401, 404 unknown VIP, backend
//! or path (`no such path: /x`), 405, 503 stopping or too many connections. Input
//! echoed in an error is clipped at 64 characters with "…". At most 64 connections
//! are open at once, each must send a complete request head within 5 s and lives at
//! most 60 s (`hopwatch_daemon::api_serve` says why).

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

/// What the API asks of the watcher.
#[derive(Debug)]
pub enum Op {
    /// The status document.
    Status,
    /// The metrics text.
    Metrics,
    /// Drain a backend.
    Drain(Target),
    /// Undrain a backend.
    Undrain(Target),
    /// Force (backend Some) or unforce (None).
    Force {
        vip: Option<String>,
        backend: Option<String>,
    },
    /// Stop the watcher: for a restart (the route servers keep the VIP), or, with
    /// `withdraw`, for good (the VIPs are withdrawn and the sessions end with a
    /// Cease that makes every route server drop them at once).
    Shutdown { withdraw: bool },
}

/// A backend of a VIP, by name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub backend: String,
    #[serde(default)]
    pub vip: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShutdownBody {
    #[serde(default)]
    withdraw: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForceBody {
    backend: Option<String>,
    #[serde(default)]
    vip: Option<String>,
}

/// The watcher's answer: a JSON value or text, or an HTTP error with a message.
pub type Reply = Result<Answer, (StatusCode, String)>;

/// A successful answer.
#[derive(Debug)]
pub enum Answer {
    /// JSON.
    Json(Value),
    /// Prometheus text.
    Text(String),
}

/// One request to the watcher's loop.
pub struct Request {
    pub op: Op,
    pub reply: oneshot::Sender<Reply>,
}

/// `[api] token`, shared with the watcher's loop, which replaces it on a reload:
/// a token set, changed or removed by SIGHUP applies to the next request.
#[derive(Clone, Debug, Default)]
pub struct Token(Arc<RwLock<Option<String>>>);

impl Token {
    /// A token holding `t`.
    pub fn new(t: Option<String>) -> Token {
        Token(Arc::new(RwLock::new(t)))
    }

    /// Replaces the token.
    pub fn set(&self, t: Option<String>) {
        // A panic elsewhere cannot leave a half-written Option: the value is whole.
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = t;
    }

    fn get(&self) -> Option<String> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[derive(Clone)]
struct ApiState {
    tx: mpsc::Sender<Request>,
    token: Token,
}

/// The router; `tx` reaches the watcher.
pub fn router(tx: mpsc::Sender<Request>, token: Token) -> Router {
    let router = Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/drain", post(drain))
        .route("/undrain", post(undrain))
        .route("/force", post(force))
        .route("/shutdown", post(shutdown))
        .with_state(ApiState { tx, token });
    hopwatch_daemon::api_serve::with_json_errors(router)
}

fn authorized(state: &ApiState, headers: &HeaderMap) -> bool {
    let Some(want) = state.token.get() else {
        return true;
    };
    let got = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Length and every byte, without an early exit on the first mismatch.
    got.len() == want.len()
        && got
            .bytes()
            .zip(want.bytes())
            .fold(0u8, |a, (x, y)| a | (x ^ y))
            == 0
}

/// The message clipped: it may echo a name or a body the client sent.
fn error(code: StatusCode, msg: impl AsRef<str>) -> Response {
    hopwatch_daemon::api_serve::error(code, msg.as_ref())
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        axum::Json(json!({"error": "missing or wrong bearer token"})),
    )
        .into_response()
}

async fn ask(state: &ApiState, headers: &HeaderMap, op: Op) -> Response {
    if !authorized(state, headers) {
        return unauthorized();
    }
    let (reply, rx) = oneshot::channel();
    if state.tx.send(Request { op, reply }).await.is_err() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the watcher is stopping");
    }
    match rx.await {
        Ok(Ok(Answer::Json(v))) => axum::Json(v).into_response(),
        Ok(Ok(Answer::Text(t))) => {
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], t).into_response()
        }
        Ok(Err((code, msg))) => error(code, msg),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the watcher is stopping"),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("bad JSON body: {e}"))
}

async fn status(State(s): State<ApiState>, h: HeaderMap) -> Response {
    ask(&s, &h, Op::Status).await
}

async fn metrics(State(s): State<ApiState>, h: HeaderMap) -> Response {
    ask(&s, &h, Op::Metrics).await
}

async fn drain(State(s): State<ApiState>, h: HeaderMap, body: Bytes) -> Response {
    if !authorized(&s, &h) {
        return unauthorized();
    }
    match parse::<Target>(&body) {
        Ok(t) => ask(&s, &h, Op::Drain(t)).await,
        Err(msg) => error(StatusCode::BAD_REQUEST, msg),
    }
}

async fn undrain(State(s): State<ApiState>, h: HeaderMap, body: Bytes) -> Response {
    if !authorized(&s, &h) {
        return unauthorized();
    }
    match parse::<Target>(&body) {
        Ok(t) => ask(&s, &h, Op::Undrain(t)).await,
        Err(msg) => error(StatusCode::BAD_REQUEST, msg),
    }
}

async fn force(State(s): State<ApiState>, h: HeaderMap, body: Bytes) -> Response {
    if !authorized(&s, &h) {
        return unauthorized();
    }
    match parse::<ForceBody>(&body) {
        Ok(f) => {
            ask(
                &s,
                &h,
                Op::Force {
                    vip: f.vip,
                    backend: f.backend,
                },
            )
            .await
        }
        Err(msg) => error(StatusCode::BAD_REQUEST, msg),
    }
}

async fn shutdown(State(s): State<ApiState>, h: HeaderMap, body: Bytes) -> Response {
    if !authorized(&s, &h) {
        return unauthorized();
    }
    // An empty body is a plain stop, as SIGTERM.
    let parsed = if body.is_empty() {
        Ok(ShutdownBody { withdraw: false })
    } else {
        parse::<ShutdownBody>(&body)
    };
    match parsed {
        Ok(b) => {
            ask(
                &s,
                &h,
                Op::Shutdown {
                    withdraw: b.withdraw,
                },
            )
            .await
        }
        Err(msg) => error(StatusCode::BAD_REQUEST, msg),
    }
}
