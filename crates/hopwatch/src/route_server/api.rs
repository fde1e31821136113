//! The route server's introspection API: read-only JSON views, served by axum and
//! answered by the route server's loop, which owns the state.
//!
//! | path | what |
//! | --- | --- |
//! | `GET /peers` | per instance: peers, session state, routes, rejected, stale |
//! | `GET /rib` | per instance: best paths (ECMP sets) with their attributes |
//! | `GET /dataplane` | what the data plane has programmed (and the proxy's connections) |
//! | `GET /programs` | the last 1,000 programming events: UPDATE received and route programmed, in µs |
//! | `POST /restart` `{"instance": "10.10.1.4", "after_ms": 2000}` | stop one instance (Cease to its peers, RIB lost) and start it again later |

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

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

/// One request to the loop.
pub struct Request {
    pub op: Op,
    pub reply: oneshot::Sender<Value>,
}

async fn ask(tx: &mpsc::Sender<Request>, op: Op) -> Response {
    let (reply, rx) = oneshot::channel();
    if tx.send(Request { op, reply }).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "stopping").into_response();
    }
    match rx.await {
        Ok(v) => axum::Json(v).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "stopping").into_response(),
    }
}

/// The router.
pub fn router(tx: mpsc::Sender<Request>) -> Router {
    Router::new()
        .route("/peers", get(|State(tx): State<mpsc::Sender<Request>>| async move { ask(&tx, Op::Peers).await }))
        .route("/rib", get(|State(tx): State<mpsc::Sender<Request>>| async move { ask(&tx, Op::Rib).await }))
        .route("/dataplane", get(|State(tx): State<mpsc::Sender<Request>>| async move { ask(&tx, Op::Dataplane).await }))
        .route("/programs", get(|State(tx): State<mpsc::Sender<Request>>| async move { ask(&tx, Op::Programs).await }))
        .route("/restart", axum::routing::post(restart))
        .with_state(tx)
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
        Ok(b) => {
            let op = Op::Restart {
                instance: b.instance,
                after: std::time::Duration::from_millis(b.after_ms),
            };
            ask(&tx, op).await
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"error": format!("bad JSON body: {e}")})),
        )
            .into_response(),
    }
}
