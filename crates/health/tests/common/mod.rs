//! Test backends on loopback and helpers to wait for reports, every wait bounded.
//!
//! A [`Server`] listens on `127.41.x.y:0` inside the test process. In HTTP mode it
//! answers each request according to its [`Mode`]; in TCP mode it only accepts and
//! holds connections. [`Server::close`] drops the listener and every connection, as
//! the kernel does when a backend process dies.

#![allow(dead_code, clippy::unwrap_used)] // shared by several test files; a panic is a failed test

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hopwatch_health::{CheckSpec, Health, Report, Target, Transition};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

/// How an HTTP test server answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// `200 OK`, body `ok`.
    Healthy,
    /// This status, body `status`.
    Status(u16),
    /// `200 OK` with this body.
    Body(&'static str),
    /// Reads the request and never answers (the connection stays open).
    Hang,
    /// `200 OK` with `Connection: close`, then closes (as HTTP/1.0 servers and many
    /// health endpoints do).
    Close,
    /// `200 OK`, keep-alive, but a connection idle for this long is closed (a
    /// keep-alive timeout shorter than the probe interval, or a NAT's idle timeout).
    IdleTimeout(Duration),
    /// Like `Close`, and a connection that sends nothing at once is closed too: the
    /// worst case for a checker that holds a connection between probes.
    CloseIdle,
}

/// Counters a test can read.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted.
    pub accepted: AtomicUsize,
    /// Requests read.
    pub requests: AtomicUsize,
    /// Requests now held without an answer.
    pub hung_now: AtomicUsize,
    /// Most requests held without an answer at once.
    pub hung_max: AtomicUsize,
    /// The address of every peer accepted, in order.
    pub peers: Mutex<Vec<SocketAddr>>,
}

/// A backend on loopback.
pub struct Server {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
    mode: Arc<Mutex<Mode>>,
    http: bool,
    stop: Option<oneshot::Sender<oneshot::Sender<Instant>>>,
}

impl Server {
    /// An HTTP backend on `ip`, port chosen by the kernel.
    pub async fn http(ip: &str) -> Self {
        Self::start(format!("{ip}:0").parse().unwrap(), true, Arc::default()).await
    }

    /// A TCP backend that accepts and holds connections.
    pub async fn tcp(ip: &str) -> Self {
        Self::start(format!("{ip}:0").parse().unwrap(), false, Arc::default()).await
    }

    async fn start(addr: SocketAddr, http: bool, stats: Arc<Stats>) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(Mutex::new(Mode::Healthy));
        let (stop, stop_rx) = oneshot::channel();
        tokio::spawn(serve(
            listener,
            http,
            Arc::clone(&mode),
            Arc::clone(&stats),
            stop_rx,
        ));
        Self {
            addr,
            stats,
            mode,
            http,
            stop: Some(stop),
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Drops the listener and closes every connection; returns the instant just
    /// before the sockets were closed.
    pub async fn close(&mut self) -> Instant {
        let (reply, closed) = oneshot::channel();
        self.stop.take().unwrap().send(reply).unwrap();
        tokio::time::timeout(Duration::from_secs(5), closed)
            .await
            .unwrap()
            .unwrap()
    }

    /// Listens again on the same address (after [`Server::close`]).
    pub async fn reopen(&mut self) {
        let again = Self::start(self.addr, self.http, Arc::clone(&self.stats)).await;
        *again.mode.lock().unwrap() = self.mode.lock().unwrap().clone();
        *self = again;
    }

    pub fn http_target(&self) -> Target {
        Target::parse(&format!("http://{}/health", self.addr)).unwrap()
    }

    pub fn tcp_target(&self) -> Target {
        Target::parse(&format!("tcp://{}", self.addr)).unwrap()
    }
}

async fn serve(
    listener: TcpListener,
    http: bool,
    mode: Arc<Mutex<Mode>>,
    stats: Arc<Stats>,
    mut stop: oneshot::Receiver<oneshot::Sender<Instant>>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            reply = &mut stop => {
                let closing = Instant::now();
                drop(listener);
                conns.abort_all();
                // Wait until every connection task is gone, so its socket is closed.
                let _ = tokio::time::timeout(Duration::from_secs(5), async {
                    while conns.join_next().await.is_some() {}
                })
                .await;
                if let Ok(reply) = reply {
                    let _ = reply.send(closing);
                }
                return;
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                stats.accepted.fetch_add(1, Ordering::SeqCst);
                stats.peers.lock().unwrap().push(peer);
                if http {
                    conns.spawn(answer(stream, Arc::clone(&mode), Arc::clone(&stats)));
                } else {
                    conns.spawn(hold(stream));
                }
            }
        }
    }
}

/// Holds a connection until the peer closes it.
async fn hold(mut stream: TcpStream) {
    let mut buf = [0u8; 256];
    while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// Answers requests on one connection according to the mode.
async fn answer(mut stream: TcpStream, mode: Arc<Mutex<Mode>>, stats: Arc<Stats>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        // Read one request head (within the idle timeout of the mode, if any).
        let idle = match *mode.lock().unwrap() {
            Mode::IdleTimeout(t) => Some(t),
            Mode::CloseIdle => Some(Duration::from_millis(1)),
            _ => None,
        };
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let read = stream.read(&mut chunk);
            let read = match idle {
                Some(t) => match tokio::time::timeout(t, read).await {
                    Ok(r) => r,
                    Err(_) => return,
                },
                None => read.await,
            };
            match read {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if buf.len() > 64 * 1024 {
                return;
            }
        };
        buf.drain(..end);
        stats.requests.fetch_add(1, Ordering::SeqCst);
        let mode = mode.lock().unwrap().clone();
        let close = matches!(mode, Mode::Close | Mode::CloseIdle);
        let (status, body) = match mode {
            Mode::Healthy | Mode::IdleTimeout(_) | Mode::Close | Mode::CloseIdle => (200, "ok"),
            Mode::Status(s) => (s, "status"),
            Mode::Body(b) => (200, b),
            Mode::Hang => {
                let now = stats.hung_now.fetch_add(1, Ordering::SeqCst) + 1;
                stats.hung_max.fetch_max(now, Ordering::SeqCst);
                hold(stream).await;
                stats.hung_now.fetch_sub(1, Ordering::SeqCst);
                return;
            }
        };
        let connection = if close { "Connection: close\r\n" } else { "" };
        let response = format!(
            "HTTP/1.1 {status} X\r\n{connection}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() || close {
            return;
        }
    }
}

/// The peers of the connections to `local` that this host keeps in TIME_WAIT, from
/// `/proc/net/tcp` (IPv4; this network namespace).
pub fn time_waits(local: SocketAddr) -> Vec<SocketAddr> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let addr = |hex: &str| -> Option<SocketAddr> {
        let (ip, port) = hex.split_once(':')?;
        // The address as the kernel keeps it (network order) printed as a native u32.
        let ip = u32::from_str_radix(ip, 16).ok()?.to_ne_bytes();
        let port = u16::from_str_radix(port, 16).ok()?;
        Some(SocketAddr::from((ip, port)))
    };
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // st 06 is TCP_TIME_WAIT.
            let (l, r, st) = (f.get(1)?, f.get(2)?, f.get(3)?);
            (*st == "06" && addr(l)? == local).then(|| addr(r))?
        })
        .collect()
}

/// A spec for tests: the given interval and timeout, rise 3, fall 2, no jitter.
pub fn spec(target: Target, interval_ms: u64, timeout_ms: u64) -> CheckSpec {
    let mut spec = CheckSpec::new(target);
    spec.interval = Duration::from_millis(interval_ms);
    spec.timeout = Duration::from_millis(timeout_ms);
    spec.jitter = 0.0;
    spec.max_in_flight = CheckSpec::default_max_in_flight(spec.interval, spec.timeout);
    spec
}

/// Receives reports until one matches `until`; returns all of them (the match last).
/// Panics, listing what came, if none matches within `within`.
pub async fn reports_until(
    rx: &mut mpsc::UnboundedReceiver<Report>,
    within: Duration,
    until: impl Fn(&Report) -> bool,
) -> Vec<Report> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(report)) => {
                let done = until(&report);
                seen.push(report);
                if done {
                    return seen;
                }
            }
            Ok(None) => panic!("checker stopped; reports: {}", summary(&seen)),
            Err(_) => panic!(
                "no matching report within {within:?}; reports: {}",
                summary(&seen)
            ),
        }
    }
}

/// Receives every report for `duration`.
pub async fn reports_for(
    rx: &mut mpsc::UnboundedReceiver<Report>,
    duration: Duration,
) -> Vec<Report> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + duration;
    while let Ok(Some(report)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        seen.push(report);
    }
    seen
}

/// Matches a report that moved the verdict to `to`.
pub fn went(to: Health) -> impl Fn(&Report) -> bool {
    move |r| matches!(r.transition, Some(Transition { to: t, .. }) if t == to)
}

/// One line per report, for failure messages.
pub fn summary(reports: &[Report]) -> String {
    let mut out = String::new();
    for r in reports {
        out.push_str(&format!(
            "\n  #{} {:?} ok={} counted={} state={:?} transition={:?} latency={:?} error={:?}",
            r.seq, r.cause, r.ok, r.counted, r.state, r.transition, r.latency, r.error
        ));
    }
    out
}
