//! One probe: a request over a (possibly reused) connection, and its verdict.
//!
//! A probe gets the idle connection if the checker holds one (HTTP only: the
//! keep-alive connection of the last probe, or one opened ahead for this probe when
//! the backend closes after each answer), or connects afresh. It returns the
//! connection when it may be used again, so the checker can keep it and watch it
//! while idle. A `tcp://` probe is always a fresh connect (an accepted connection is
//! the health signal); its connection is only kept as the death detector.
//!
//! Two kinds of failure make the checker re-probe at once instead of waiting for the
//! next interval, and both are decided here:
//! - [`Failure::connection_died`]: a connection we held (reused, or opened ahead for
//!   this probe) ended in EOF or a read/write error. That says only that *a
//!   connection* ended (a proxy's or NAT's idle timeout does the same), so it is not
//!   counted: the re-probe on a fresh connection decides. A fresh connection that
//!   ends never sets it, so a backend that accepts and closes at once cannot drive the
//!   checker into a loop of re-probes.
//! - [`Failure::definitive`]: the backend's host said no (RST to our SYN: connection
//!   refused; a reset on a fresh connection, or its end before any answer). It is
//!   counted, and confirmed at once
//!   by another probe, so `fall` is reached within a few round trips rather than
//!   `fall` intervals. The checker bounds these re-probes (see its module doc).
//!
//! # No TIME_WAIT left at the backend
//! HTTP probe connections are closed with a reset (`SO_LINGER` 0; HAProxy resets its
//! check connections too, against TIME_WAITs), because a backend that answers
//! `Connection: close` (or HTTP/1.0) closes first, and the side that closes first keeps
//! the connection in TIME_WAIT for 60 s: at 100 probes/s that is 6,000 of the checker's
//! 4-tuples held by the backend. Linux picks the next source port to a destination a
//! few ports after the last one, so it wraps the default 28,232 ports in about 30 s and
//! reuses 4-tuples that the backend still holds. While the backend's listener lives, a
//! SYN that meets such a TIME_WAIT starts a new connection as usual; once the process
//! is dead, the kernel answers it with an ACK instead of a reset, our SYN_SENT socket
//! resets that stale connection and sends its SYN again only after `TCP_TIMEOUT_MIN` (2
//! jiffies: 8 ms at HZ=250), and only then is the connect refused. The re-probe that
//! should confirm a crash within a round trip took about 10 ms instead (2 or 3 trials
//! of 20 in the benchmark's kill-close, p99 12-28 ms; one such connect on loopback:
//! refused after 9.9 ms with the backend's TIME_WAIT, 0.06 ms without). With the reset
//! nobody keeps the connection: the backend's socket is gone when the reset arrives
//! (its answer has been read whole by then, so nothing is lost), and so is ours. The
//! reset is sent whoever closes first, so a keep-alive connection dropped at a timeout,
//! or lost when the backend died, leaves nothing either. A `tcp://` probe's connection
//! is closed normally: the checker closes it first, so its TIME_WAIT stays on the
//! watcher's side, where it delays nothing, and a TCP service sees a plain close.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::http::{self, HttpError};
use crate::spec::Target;

/// Why a probe failed. The checker reports it as text (`Report::error`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The connection could not be made (refused, unreachable, ...).
    #[error("connect: {0}")]
    Connect(std::io::Error),
    /// Sending the request failed.
    #[error("write: {0}")]
    Write(std::io::Error),
    /// Reading the response failed or it was malformed.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The status was not the expected one.
    #[error("status {got}, expected {expected}")]
    Status {
        /// What the backend answered.
        got: u16,
        /// What the spec asks for.
        expected: u16,
    },
    /// The body does not contain the expected text.
    #[error("body does not contain {0:?}")]
    Body(String),
    /// No complete answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
    /// No answer within the timeout, but the checker itself saw the deadline this
    /// much late: its own process was not running, so the verdict is not trusted
    /// (not counted; a new probe starts at once). See the checker's "Stalls".
    #[error(
        "no answer within {timeout:?}, but the checker looked {late:?} late (stalled): not counted"
    )]
    Stalled {
        /// The probe's timeout.
        timeout: std::time::Duration,
        /// How late the checker saw its deadline.
        late: std::time::Duration,
    },
    /// The idle persistent connection was closed or reset by the backend.
    #[error("persistent connection lost: {0}")]
    ConnectionLost(String),
}

/// A target with its request bytes built once.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) addr: SocketAddr,
    /// The address probes connect from (`None`: the kernel's choice).
    pub(crate) source: Option<std::net::IpAddr>,
    pub(crate) kind: Kind,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Http {
        request: Vec<u8>,
        expect_status: u16,
        body_contains: Option<String>,
    },
    Tcp,
}

impl Prepared {
    pub(crate) fn new(target: &Target, source: Option<std::net::IpAddr>) -> Arc<Self> {
        let kind = match target {
            Target::Http {
                host,
                path,
                expect_status,
                body_contains,
                ..
            } => Kind::Http {
                request: http::request(host, path),
                expect_status: *expect_status,
                body_contains: body_contains.clone(),
            },
            Target::Tcp { .. } => Kind::Tcp,
        };
        Arc::new(Self {
            addr: target.addr(),
            source,
            kind,
        })
    }

    pub(crate) fn reuses_connections(&self) -> bool {
        matches!(self.kind, Kind::Http { .. })
    }
}

/// A failed probe.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: ProbeError,
    /// A connection we held ended under this probe (EOF, reset): not a verdict; the
    /// checker re-probes at once on a fresh one.
    pub(crate) connection_died: bool,
    /// Refused, or reset on a fresh connection: counted, and confirmed at once.
    pub(crate) definitive: bool,
    /// The connection, if it is still good for another request (e.g. a 503).
    pub(crate) conn: Option<TcpStream>,
}

/// The result of one probe: on success, the connection if it may be kept.
pub(crate) type Outcome = Result<Option<TcpStream>, Failure>;

/// Whether an I/O error is the backend's host saying no: a refusal (RST to our SYN)
/// or a reset.
fn is_definitive(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionRefused, ConnectionReset};
    matches!(e.kind(), ConnectionRefused | ConnectionReset)
}

impl Failure {
    fn new(error: ProbeError) -> Self {
        Self {
            error,
            connection_died: false,
            definitive: false,
            conn: None,
        }
    }
}

/// Connects with TCP_NODELAY, as every probe connection is, from `source` when given
/// (port chosen by the kernel); `abortive` (HTTP) makes its close a reset (see "No
/// TIME_WAIT left at the backend" in the module doc).
pub(crate) async fn connect_stream(
    addr: SocketAddr,
    source: Option<std::net::IpAddr>,
    abortive: bool,
) -> std::io::Result<TcpStream> {
    let stream = match source {
        None => TcpStream::connect(addr).await?,
        Some(ip) => {
            let socket = if addr.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            socket.bind(SocketAddr::new(ip, 0))?;
            socket.connect(addr).await?
        }
    };
    // Probes are tiny and latency is the point: never wait for Nagle.
    stream.set_nodelay(true)?;
    if abortive {
        stream.set_zero_linger()?;
    }
    Ok(stream)
}

async fn connect(
    addr: SocketAddr,
    source: Option<std::net::IpAddr>,
    abortive: bool,
) -> Result<TcpStream, Failure> {
    connect_stream(addr, source, abortive)
        .await
        .map_err(|e| Failure {
            definitive: is_definitive(&e),
            ..Failure::new(ProbeError::Connect(e))
        })
}

/// Runs one probe (without its timeout, which the checker applies). `buf` is the
/// response buffer, handed back for the next probe: no allocation per probe.
pub(crate) async fn probe(
    target: &Prepared,
    idle: Option<TcpStream>,
    buf: Vec<u8>,
) -> (Outcome, Vec<u8>) {
    let Kind::Http {
        request,
        expect_status,
        body_contains,
    } = &target.kind
    else {
        return (
            connect(target.addr, target.source, false).await.map(Some),
            buf,
        );
    };
    let (mut stream, reused) = match idle {
        Some(stream) => (stream, true),
        None => match connect(target.addr, target.source, true).await {
            Ok(stream) => (stream, false),
            Err(failure) => return (Err(failure), buf),
        },
    };
    // The request is small and prepared: one `write`. TCP_NODELAY (set at connect)
    // sends it at once.
    if let Err(e) = stream.write_all(request).await {
        let failure = Failure {
            connection_died: reused,
            definitive: !reused && is_definitive(&e),
            ..Failure::new(ProbeError::Write(e))
        };
        return (Err(failure), buf);
    }
    let mut reader = http::Reader::with_buffer(&mut stream, buf);
    let response = reader.read_response(body_contains.is_some()).await;
    let buf = reader.into_buffer();
    let response = match response {
        Ok(response) => response,
        Err(e) => {
            let died = matches!(e, HttpError::Closed { .. } | HttpError::Io(_));
            // A reset, or an end before any byte of an answer: a process dying under
            // our request (its listener can outlive its connections by a moment) or
            // one that accepts and closes. Both are counted; confirming them at once
            // is bounded like any definitive failure.
            let reset = matches!(&e, HttpError::Io(io) if is_definitive(io))
                || matches!(e, HttpError::Closed { partial: false });
            let failure = Failure {
                connection_died: reused && died,
                definitive: !reused && reset,
                ..Failure::new(e.into())
            };
            return (Err(failure), buf);
        }
    };
    let conn = response.reusable.then_some(stream);
    if response.status != *expect_status {
        let failure = Failure {
            conn,
            ..Failure::new(ProbeError::Status {
                got: response.status,
                expected: *expect_status,
            })
        };
        return (Err(failure), buf);
    }
    if let Some(needle) = body_contains
        && !http::contains(&response.body, needle.as_bytes())
    {
        let failure = Failure {
            conn,
            ..Failure::new(ProbeError::Body(needle.clone()))
        };
        return (Err(failure), buf);
    }
    (Ok(conn), buf)
}

/// What happened to an idle connection.
#[derive(Debug)]
pub(crate) enum IdleEvent {
    /// EOF or an error: the backend's end is gone.
    Lost(String),
    /// Bytes nobody asked for on an HTTP connection: it can no longer be framed.
    Unsolicited,
}

/// Waits until something happens on an idle connection. Cancel-safe (it only peeks,
/// or discards bytes a `tcp://` backend may send, such as a banner).
pub(crate) async fn watch_idle(stream: &TcpStream, discard_data: bool) -> IdleEvent {
    let mut byte = [0u8; 1];
    loop {
        match stream.peek(&mut byte).await {
            Ok(0) => return IdleEvent::Lost("closed by the backend".into()),
            Ok(_) if discard_data => {
                let mut scratch = [0u8; 512];
                match stream.try_read(&mut scratch) {
                    Ok(0) => return IdleEvent::Lost("closed by the backend".into()),
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return IdleEvent::Lost(e.to_string()),
                }
            }
            Ok(_) => return IdleEvent::Unsolicited,
            Err(e) => return IdleEvent::Lost(e.to_string()),
        }
    }
}
