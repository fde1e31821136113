//! The route server's introspection API: read-only JSON views, served by axum and
//! answered by the route server's loop, which owns the state.
//!
//! | path | what |
//! | --- | --- |
//! | `GET /peers` | per instance: peers, session state, routes, rejected, stale |
//! | `GET /rib` | per instance: best paths (ECMP sets) with their attributes |
//! | `GET /dataplane` | what the data plane has programmed (and the proxy's connections) |
//! | `GET /programs` | the last 1,000 programming events: UPDATE received and route programmed, in µs |
//! | `POST /restart` `{"instance": "10.10.1.4", "after_ms": 2000}` | stop one instance (Cease to its peers, RIB lost) and start it again later; `after_ms` at most 3,600,000 (1 hour), 2,000 when left out |
//!
//! Errors are `{"error": "..."}`: 400 for a bad body or an `after_ms` over 1 hour
//! (a longer delay would stop an instance for good), 404 for an instance this route
//! server does not run or an unknown path, 405, 503 while stopping or past the cap
//! of connections. Input echoed in an error is clipped at 64 characters. The
//! connections have the watcher API's limits (`hopwatch_daemon::api_serve`).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use hopwatch_daemon::api_serve::error;

/// The longest an instance may be stopped for by `POST /restart`: a maintenance
/// rehearsal, not a way to remove an instance.
pub const MAX_RESTART_DELAY_MS: u64 = 3_600_000;

/// A view, or the one action.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    /// Stop an instance and start it again after a while (a maintenance rehearsal).
    Restart {
        /// The instance's address.
        instance: std::net::IpAddr,
        /// How long it stays down.
        after: std::time::Duration,
    },
    /// Peers and sessions.
    Peers,
    /// Best paths.
    Rib,
    /// The data plane's table.
    Dataplane,
    /// Programming events.
    Programs,
}

/// The loop's answer: JSON, or an HTTP error with a message.
pub type Reply = Result<Value, (StatusCode, String)>;

/// One request to the loop.
pub struct Request {
    pub op: Op,
    pub reply: oneshot::Sender<Reply>,
}

async fn ask(tx: &mpsc::Sender<Request>, op: Op) -> Response {
    let (reply, rx) = oneshot::channel();
    if tx.send(Request { op, reply }).await.is_err() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the route server is stopping",
        );
    }
    match rx.await {
        Ok(Ok(v)) => axum::Json(v).into_response(),
        Ok(Err((code, msg))) => error(code, &msg),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the route server is stopping",
        ),
    }
}

/// The router.
pub fn router(tx: mpsc::Sender<Request>) -> Router {
    let router = Router::new()
        .route("/peers", get(|State(tx): State<mpsc::Sender<Request>>| async move { ask(&tx, Op::Peers).await }))
        .route("/rib", get(|State(tx): State<mpsc::Sender<Request>>| async move { ask(&tx, Op::Rib).await }))
        .route("/dataplane", get(|State(tx): State<mpsc::Sender<Request>>| async move { ask(&tx, Op::Dataplane).await }))
        .route("/programs", get(|State(tx): State<mpsc::Sender<Request>>| async move { ask(&tx, Op::Programs).await }))
        .route("/restart", axum::routing::post(restart))
        .with_state(tx);
    hopwatch_daemon::api_serve::with_json_errors(router)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RestartBody {
    instance: std::net::IpAddr,
    #[serde(default = "default_after")]
    after_ms: u64,
}

fn default_after() -> u64 {
    2000
}

async fn restart(State(tx): State<mpsc::Sender<Request>>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<RestartBody>(&body) {
        Ok(b) if b.after_ms > MAX_RESTART_DELAY_MS => error(
            StatusCode::BAD_REQUEST,
            &format!(
                "after_ms {} is over {MAX_RESTART_DELAY_MS} (1 hour), the longest an instance may stay stopped",
                b.after_ms
            ),
        ),
        Ok(b) => {
            let op = Op::Restart {
                instance: b.instance,
                after: std::time::Duration::from_millis(b.after_ms),
            };
            ask(&tx, op).await
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &format!("bad JSON body: {e}")),
    }
}
