//! Serving the two HTTP APIs, the watcher's control API and the route server's
//! introspection API, under limits that a hostile client cannot get round
//! (issue 10), and with every error as JSON.
//!
//! `axum::serve` gives hyper no timer, so hyper's header timeout never fires, and it
//! accepts without bound: three connections that sent nothing, half a header or a
//! line every 5 s were held for ever, and 1,100 of them took every descriptor of the
//! watcher, so its probes could not open sockets and it called healthy backends
//! down. Here an accept loop of our own hands each connection to hyper's HTTP/1
//! server, within these limits:
//!
//! | limit | value | why |
//! | --- | --- | --- |
//! | open connections | 64, or an eighth of the descriptor limit if that is less | the API's clients are `ctl` (one short connection a call), a Prometheus scrape and a script or two: a handful at a time, 64 leaves room for bursts. The probes and BGP sessions need the rest: a backend holds a keep-alive connection and up to `timeout / interval + 1` probes in flight (about 5 with the example's 10 ms / 25 ms), so 1,000 backends need about 5,000 descriptors. The limit is raised at start (`nofile`, 65,536 in the packaged units); at the old default of 1,024 the API would still take at most 64, one sixteenth |
//! | header read | 5 s | hyper starts this timer when a connection begins waiting for a request head and never resets it as bytes arrive (hyper 1.x `Conn::poll_read_head`): it cuts a client that sends nothing, half a header, or a header line every few seconds, and a keep-alive connection idle for 5 s between requests. `ctl` sends its whole request at once |
//! | connection age | 60 s, then a graceful close with 10 s to finish | what the header timeout cannot see: a body trickled a byte at a time, a client that never reads its answer |
//! | request head | 64 KiB of buffer | more gets 431 (hyper's default, about 400 KiB, is memory an attacker gets per slot) |
//!
//! Past the cap, a connection gets a 503 with a JSON error, written without waiting
//! (a new socket's send buffer is empty), and is closed at once: it never reaches
//! hyper, so a flood costs an accept and a close each. Every refusal is counted
//! (`hopwatch_api_connections_refused_total{reason="limit"}` for the watcher) and
//! logged, at most one line per 10 s with the count since the last. An accept that
//! fails because the process is out of descriptors (EMFILE, ENFILE) is counted
//! (`reason="descriptors"`) and logged the same way, and the loop backs off, 100 ms
//! doubling to 1 s, instead of spinning on a connection it cannot take.
//!
//! The cap is per process, not per client: an attacker that keeps 64 connections
//! open can still refuse `ctl` service (each of its connections lasts at most 5 s
//! without a request), but it can no longer take the descriptors the probes need,
//! which is what moved the VIP wrongly.
//!
//! Errors: a message that echoes user input clips each word at 64 characters (with
//! "…") and the whole at 512; an unknown path answers 404 `{"error": "no such path:
//! …"}`; axum's own plain or empty error answers (405, 413, 415) are rewritten as
//! `{"error": …}` by a layer. hyper's own answers to malformed requests (400, 431)
//! are written before any route runs and stay as they are.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use nix::errno::Errno;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Most open API connections, whatever the descriptor limit.
const MAX_CONNECTIONS: usize = 64;
/// The API takes at most this fraction (1/N) of the descriptor limit.
const DESCRIPTOR_SHARE: u64 = 8;
/// A complete request head, from the moment the connection waits for one.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection's whole life, after which it is closed gracefully.
const MAX_AGE: Duration = Duration::from_secs(60);
/// How long a connection past its age has to finish its request.
const AGE_GRACE: Duration = Duration::from_secs(10);
/// hyper's read buffer, which bounds a request head.
const MAX_BUF: usize = 64 * 1024;
/// At most one log line per kind of refusal in this time.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// Back-off after an accept error, doubling up to `MAX_BACKOFF`.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Echoed user input: characters per word.
pub const ECHO_MAX: usize = 64;
/// An error message: characters in all.
const MESSAGE_MAX: usize = 512;

/// The limits of one API.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most connections open at once; more are refused.
    pub max_connections: usize,
    /// A complete request head within this, or the connection is closed.
    pub header_timeout: Duration,
    /// A connection is closed (gracefully) after this.
    pub max_age: Duration,
}

impl Limits {
    /// The limits for a process allowed `nofile` descriptors (see the module doc).
    pub fn for_descriptors(nofile: u64) -> Self {
        let share = usize::try_from(nofile / DESCRIPTOR_SHARE).unwrap_or(MAX_CONNECTIONS);
        Limits {
            max_connections: share.clamp(1, MAX_CONNECTIONS),
            header_timeout: HEADER_TIMEOUT,
            max_age: MAX_AGE,
        }
    }
}

/// Why a connection was refused or closed.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// The reason (`limit`, `descriptors`, `header`, `age`).
    pub reason: String,
}

/// The API's connection metrics. The handles are shared (reference-counted) with
/// whatever registry they are registered in; the route server registers them
/// nowhere and relies on its logs.
#[derive(Clone, Debug, Default)]
pub struct ConnMetrics {
    /// Connections open now.
    pub open: Gauge,
    /// The cap.
    pub limit: Gauge,
    /// Refused: `limit` (the cap was reached), `descriptors` (accept failed: the
    /// process is out of file descriptors).
    pub refused: Family<ReasonLabels, Counter>,
    /// Closed by a limit: `header` (no complete request head in time), `age`.
    pub closed: Family<ReasonLabels, Counter>,
}

impl ConnMetrics {
    fn counter(family: &Family<ReasonLabels, Counter>, reason: &str) -> Counter {
        family
            .get_or_create(&ReasonLabels {
                reason: reason.into(),
            })
            .clone()
    }
}

/// Serves `router` on `listener` within `limits`, in a task of its own; `name`
/// ("control API") starts each log line.
pub fn spawn(
    name: &'static str,
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: ConnMetrics,
) {
    metrics
        .limit
        .set(i64::try_from(limits.max_connections).unwrap_or(i64::MAX));
    // Every API refuses what a web page could send it (`crate::api_guard`).
    let router = match listener.local_addr() {
        Ok(listen) => crate::api_guard::refuse_browsers(router, listen),
        // Not reached for a bound listener; refuse every Host that is a name anyway.
        Err(_) => crate::api_guard::refuse_browsers(
            router,
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ),
    };
    tokio::spawn(accept_loop(name, listener, router, limits, metrics));
}

/// Counts events and says when a log line is due: the first at once, then at most
/// one per `LOG_EVERY`, with how many happened since the last.
#[derive(Default)]
struct Throttle {
    last: Option<Instant>,
    count: u64,
}

impl Throttle {
    fn due(&mut self) -> Option<u64> {
        self.count += 1;
        if self.last.is_some_and(|t| t.elapsed() < LOG_EVERY) {
            return None;
        }
        self.last = Some(Instant::now());
        Some(std::mem::take(&mut self.count))
    }
}

/// A slot taken by an open connection; given back (and the gauge lowered) on drop.
struct Slot {
    _permit: OwnedSemaphorePermit,
    open: Gauge,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// The 503 a connection past the cap gets.
fn refusal(cap: usize) -> Vec<u8> {
    let body = json!({
        "error": format!("too many API connections (at most {cap} at a time); try again")
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The process (or the system) is out of file descriptors.
fn out_of_descriptors(e: &std::io::Error) -> bool {
    e.raw_os_error()
        .is_some_and(|c| c == Errno::EMFILE as i32 || c == Errno::ENFILE as i32)
}

/// A client that went away between its connect and our accept: nothing to do.
fn client_gone(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

async fn accept_loop(
    name: &'static str,
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: ConnMetrics,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusal = refusal(limits.max_connections);
    let refused_limit = ConnMetrics::counter(&metrics.refused, "limit");
    let refused_fds = ConnMetrics::counter(&metrics.refused, "descriptors");
    // Created now, so that the metrics show 0 rather than nothing.
    let _ = ConnMetrics::counter(&metrics.closed, "header");
    let _ = ConnMetrics::counter(&metrics.closed, "age");
    let (mut refused_log, mut error_log) = (Throttle::default(), Throttle::default());
    let mut backoff = MIN_BACKOFF;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                backoff = MIN_BACKOFF;
                stream
            }
            Err(e) if client_gone(&e) => continue,
            Err(e) => {
                let fds = out_of_descriptors(&e);
                if fds {
                    refused_fds.inc();
                }
                if let Some(n) = error_log.due() {
                    tracing::warn!(
                        "{name}: cannot accept a connection ({n} times since the last line): {e}{}; \
                         trying again in {backoff:?}",
                        if fds {
                            " (out of file descriptors: raise LimitNOFILE)"
                        } else {
                            ""
                        }
                    );
                }
                // The connection stays in the backlog: without a pause this loop
                // would spin on it and starve the probes of CPU as well.
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                metrics.open.inc();
                let slot = Slot {
                    _permit: permit,
                    open: metrics.open.clone(),
                };
                tokio::spawn(connection(
                    stream,
                    router.clone(),
                    limits,
                    metrics.clone(),
                    slot,
                ));
            }
            Err(_) => {
                // Best effort and never waiting: the send buffer of a new socket is
                // empty. Dropping the stream closes it.
                let _ = stream.try_write(&refusal);
                drop(stream);
                refused_limit.inc();
                if let Some(n) = refused_log.due() {
                    tracing::warn!(
                        "{name}: {n} connection(s) refused since the last line: {} already open, \
                         the most allowed",
                        limits.max_connections
                    );
                }
            }
        }
    }
}

/// One connection, within the header timeout and the age limit.
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: Limits,
    metrics: ConnMetrics,
    _slot: Slot,
) {
    let _ = stream.set_nodelay(true);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_BUF);
    let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = tokio::time::sleep(limits.max_age) => {
            ConnMetrics::counter(&metrics.closed, "age").inc();
            conn.as_mut().graceful_shutdown();
            match tokio::time::timeout(AGE_GRACE, conn.as_mut()).await {
                Ok(r) => r,
                // Dropping the connection closes it.
                Err(_) => return,
            }
        }
    };
    match result {
        Err(e) if e.is_timeout() => {
            ConnMetrics::counter(&metrics.closed, "header").inc();
        }
        Err(e) => tracing::debug!("API connection: {e}"),
        Ok(()) => {}
    }
}

/// `s`, cut after `max` characters with "…".
pub fn clip(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((at, _)) => Cow::Owned(format!("{}…", &s[..at])),
    }
}

/// An error message fit to send back: each word (where echoed input shows) at most
/// `ECHO_MAX` characters, the whole at most `MESSAGE_MAX`.
pub fn clip_message(msg: &str) -> String {
    if msg.split(' ').all(|w| w.chars().count() <= ECHO_MAX) {
        return clip(msg, MESSAGE_MAX).into_owned();
    }
    let words: Vec<Cow<'_, str>> = msg.split(' ').map(|w| clip(w, ECHO_MAX)).collect();
    clip(&words.join(" "), MESSAGE_MAX).into_owned()
}

/// `{"error": msg}` with `code`, the message clipped.
pub fn error(code: StatusCode, msg: &str) -> Response {
    (code, axum::Json(json!({"error": clip_message(msg)}))).into_response()
}

async fn no_such_path(uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("no such path: {}", clip(uri.path(), ECHO_MAX)),
    )
}

/// Rewrites an error answer that is not JSON (axum's 405, its rejections) as
/// `{"error": …}`, keeping the status and the other headers (`Allow`).
async fn json_errors(res: Response) -> Response {
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    // axum's own messages are short; more is not read.
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let msg = match text.trim() {
        "" => status.canonical_reason().unwrap_or("error").to_lowercase(),
        t => t.to_owned(),
    };
    let body = json!({"error": clip_message(&msg)}).to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}

/// `router` with a JSON 404 for unknown paths and JSON for axum's other errors.
pub fn with_json_errors(router: Router) -> Router {
    router
        .fallback(no_such_path)
        .layer(axum::middleware::map_response(json_errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_cuts_long_input_and_keeps_short_input() {
        assert_eq!(clip("ws1", ECHO_MAX), "ws1");
        let long = "é".repeat(100_000);
        let c = clip(&long, ECHO_MAX);
        assert_eq!(c.chars().count(), ECHO_MAX + 1);
        assert!(c.ends_with('…'));
    }

    #[test]
    fn clip_message_cuts_each_long_word_and_the_whole() {
        let msg = format!(
            "VIP 100.64.0.1/32 has no backend \"{}\"",
            "x".repeat(100_000)
        );
        let c = clip_message(&msg);
        assert!(
            c.starts_with("VIP 100.64.0.1/32 has no backend \"xxx"),
            "{c}"
        );
        assert!(c.ends_with('…') && c.chars().count() < 120, "{c}");
        let many = "word ".repeat(10_000);
        assert_eq!(clip_message(&many).chars().count(), MESSAGE_MAX + 1);
    }

    #[test]
    fn the_cap_is_at_most_64_and_an_eighth_of_the_descriptors() {
        assert_eq!(Limits::for_descriptors(65_536).max_connections, 64);
        assert_eq!(Limits::for_descriptors(1024).max_connections, 64);
        assert_eq!(Limits::for_descriptors(256).max_connections, 32);
        assert_eq!(Limits::for_descriptors(3).max_connections, 1);
    }

    #[test]
    fn throttle_logs_the_first_then_counts() {
        let mut t = Throttle::default();
        assert_eq!(t.due(), Some(1));
        assert_eq!(t.due(), None);
        assert_eq!(t.due(), None);
        t.last = Some(Instant::now() - LOG_EVERY);
        assert_eq!(t.due(), Some(3));
    }
}
