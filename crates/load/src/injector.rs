//! The load injector: open-loop, fixed-rate HTTP `GET`s, every one recorded.
//!
//! ```text
//!            one timer loop (sleep_until the next due time, ~1 ms ticks)
//!   start ──► request i is due at start + i/rate ──► spawn request task i ──┐
//!      ▲         (all due ones, as a batch; never waits for answers)        │
//!      └────────────────────── next tick ◄──────────────────────────────────┘
//!   request task i: [pool | connect] → write GET → read response → Done ─► channel
//!   run() collects Done by index ─► Vec<Record> in schedule order
//! ```
//!
//! # Open loop, no coordinated omission
//! Request `i` is *scheduled* at `start + i / rate` and started by the timer loop as
//! soon as it is due, whether or not earlier requests have answered. If the process
//! falls behind (a busy core, a long pause), late requests go out late in one burst
//! but keep their scheduled time, so the lag is measured (`sent_us - scheduled_us`)
//! instead of silently thinning the load. Requests in flight are bounded
//! ([`InjectorConfig::max_in_flight`]): one that would exceed the bound is recorded at
//! once as [`ErrorKind::Overload`], so a hung backend costs errors, never a stalled
//! schedule or an exhausted file table.
//!
//! # One clock
//! All times in a [`Record`] are wall-clock µs since the epoch, read once at start
//! and advanced with the monotonic clock from there: they join other processes'
//! events (`docs/design.md`), yet a wall-clock step during a run cannot bend
//! the measurement.
//!
//! # Connections
//! By default each request opens a new connection (and sends `Connection: close`),
//! so each one is routed afresh: when the VIP moves, the very next request shows it.
//! The server closes first, which leaves TIME_WAIT on its side, not on our ports, so
//! thousands of requests per second for minutes do not exhaust ephemeral ports.
//! With [`InjectorConfig::keep_alive`], idle connections are kept in a pool and
//! reused (a reused connection that turns out closed is retried once on a new one,
//! as browsers do). TCP_NODELAY is set on every connection.
//!
//! # Why hand-written HTTP/1.1
//! The request is one fixed byte string built once; the response is read by
//! [`hopwatch_health::http::Reader`], the project's bounded HTTP/1.1 reader (head
//! and body size limits, never panics, fuzzed and table-tested with the health
//! checks). Against hyper's client connection this saves a handshake task and a
//! body stream per request, gives the raw `TcpStream` back for the pool and the
//! lingering close, and lets errors be classified precisely (refused, reset, closed,
//! malformed) from `io::ErrorKind`s instead of hyper's opaque error.
//!
//! # Cores
//! Everything runs as tasks on the caller's runtime. On a current-thread runtime
//! (as `hopwatch load` uses) the whole injector is one core: the timer loop and the
//! request tasks share it, which the benchmark shows is enough for 2,000 and more
//! new connections per second.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hopwatch_health::http::{HttpError, Reader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;

use crate::record::{ErrorKind, Outcome, Record};
use crate::target::Target;

/// What to send, how fast and for how long.
#[derive(Debug, Clone)]
pub struct InjectorConfig {
    /// Where.
    pub target: Target,
    /// Requests per second (more than 0).
    pub rate: f64,
    /// How long to send; the run schedules `floor(duration × rate)` requests.
    pub duration: Duration,
    /// Reuse connections (a pool) instead of a new connection per request.
    pub keep_alive: bool,
    /// Per request, from its start to the complete response.
    pub timeout: Duration,
    /// Most requests in flight; `None`: `rate × timeout × 2`, at least 64.
    pub max_in_flight: Option<usize>,
    /// The key of the JSON body that names the backend.
    pub hostname_field: String,
    /// Bind connections to this source address (port chosen by the kernel).
    pub source: Option<IpAddr>,
}

impl InjectorConfig {
    /// 2,000 requests/s for 30 s, a new connection each, 1 s timeout, `hostname`.
    pub fn new(target: Target) -> Self {
        Self {
            target,
            rate: 2000.0,
            duration: Duration::from_secs(30),
            keep_alive: false,
            timeout: Duration::from_secs(1),
            max_in_flight: None,
            hostname_field: "hostname".into(),
            source: None,
        }
    }

    /// How many requests the run schedules.
    pub fn requests(&self) -> u64 {
        (self.duration.as_secs_f64() * self.rate).floor() as u64
    }

    /// The in-flight bound in force.
    pub fn in_flight_limit(&self) -> usize {
        self.max_in_flight.unwrap_or_else(|| {
            ((self.rate * self.timeout.as_secs_f64() * 2.0).ceil() as usize).max(64)
        })
    }
}

/// Why an [`InjectorConfig`] cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The rate is not a positive finite number, or above a million per second.
    #[error("rate {0}: expected a number of requests per second above 0 and at most 1000000")]
    Rate(f64),
    /// The timeout is zero.
    #[error("the request timeout must be more than 0")]
    Timeout,
    /// The in-flight bound is zero.
    #[error("the in-flight limit must be at least 1")]
    InFlight,
    /// The source address is not of the target's family.
    #[error("source {local} and target {target} are not of the same address family")]
    Family {
        /// The source address.
        local: IpAddr,
        /// The target.
        target: SocketAddr,
    },
}

/// Live counts, updated by the injector as it goes; read them for a progress bar.
#[derive(Debug, Default)]
pub struct Counters {
    total: AtomicU64,
    started: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    in_flight: AtomicU64,
}

/// A copy of the [`Counters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Requests the run will schedule.
    pub total: u64,
    /// Requests started so far (including those refused by the in-flight limit).
    pub started: u64,
    /// Finished with a 2xx response.
    pub ok: u64,
    /// Finished otherwise.
    pub failed: u64,
    /// Started and not finished.
    pub in_flight: u64,
}

impl Counters {
    /// The counts now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            total: self.total.load(Ordering::Relaxed),
            started: self.started.load(Ordering::Relaxed),
            ok: self.ok.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
        }
    }
}

/// The wall clock at start, advanced by the monotonic clock.
#[derive(Debug, Clone, Copy)]
struct Clock {
    start: Instant,
    start_us: u64,
}

impl Clock {
    fn now() -> Self {
        Self {
            start: Instant::now(),
            start_us: crate::now_us(),
        }
    }

    fn us(&self, t: Instant) -> u64 {
        self.start_us + t.saturating_duration_since(self.start).as_micros() as u64
    }
}

/// What the request tasks share.
#[derive(Debug)]
struct Shared {
    addr: SocketAddr,
    source: Option<IpAddr>,
    request: Vec<u8>,
    keep_alive: bool,
    timeout: Duration,
    field: String,
    pool: Mutex<Vec<TcpStream>>,
    counters: Arc<Counters>,
}

impl Shared {
    fn take_idle(&self) -> Option<TcpStream> {
        self.pool.lock().ok()?.pop()
    }

    fn put_idle(&self, stream: TcpStream) {
        if let Ok(mut pool) = self.pool.lock() {
            pool.push(stream);
        }
    }
}

/// One finished request, sent back to the timer loop.
#[derive(Debug)]
struct Done {
    index: usize,
    sent_us: u64,
    latency_us: Option<u64>,
    outcome: Outcome,
    backend: Option<String>,
}

/// An open-loop HTTP load injector; see the module doc.
#[derive(Debug)]
pub struct Injector {
    shared: Arc<Shared>,
    requests: u64,
    interval_ns: f64,
    max_in_flight: u64,
}

impl Injector {
    /// Checks the config and builds the request.
    pub fn new(config: InjectorConfig) -> Result<Self, ConfigError> {
        if !(config.rate.is_finite() && config.rate > 0.0 && config.rate <= 1e6) {
            return Err(ConfigError::Rate(config.rate));
        }
        if config.timeout.is_zero() {
            return Err(ConfigError::Timeout);
        }
        if config.max_in_flight == Some(0) {
            return Err(ConfigError::InFlight);
        }
        if let Some(source) = config.source
            && source.is_ipv4() != config.target.addr.is_ipv4()
        {
            return Err(ConfigError::Family {
                local: source,
                target: config.target.addr,
            });
        }
        let connection = if config.keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        };
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: hopwatch-load\r\nAccept: */*\r\n{connection}\r\n",
            config.target.path, config.target.host
        )
        .into_bytes();
        let counters = Arc::new(Counters::default());
        counters.total.store(config.requests(), Ordering::Relaxed);
        Ok(Self {
            requests: config.requests(),
            interval_ns: 1e9 / config.rate,
            max_in_flight: config.in_flight_limit() as u64,
            shared: Arc::new(Shared {
                addr: config.target.addr,
                source: config.source,
                request,
                keep_alive: config.keep_alive,
                timeout: config.timeout,
                field: config.hostname_field,
                pool: Mutex::new(Vec::new()),
                counters,
            }),
        })
    }

    /// The live counts, to show progress while [`Injector::run`] goes.
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.shared.counters)
    }

    /// How many requests a full run schedules.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    fn offset(&self, i: u64) -> Duration {
        Duration::from_nanos((i as f64 * self.interval_ns) as u64)
    }

    /// Sends the requests on their schedule until the duration is over or `cancel`
    /// completes, then waits (at most the request timeout and a second) for those in
    /// flight. Returns one record per scheduled request, in schedule order; after a
    /// cancellation, only those scheduled before it.
    pub async fn run(self, cancel: impl Future<Output = ()>) -> Vec<Record> {
        let clock = Clock::now();
        let counters = Arc::clone(&self.shared.counters);
        let (tx, mut rx) = mpsc::unbounded_channel::<Done>();
        let capacity = usize::try_from(self.requests.min(1 << 24)).unwrap_or(0);
        let mut scheduled: Vec<u64> = Vec::with_capacity(capacity);
        let mut done: Vec<Option<Done>> = Vec::with_capacity(capacity);
        let mut cancel = std::pin::pin!(cancel);
        let mut i: u64 = 0;
        while i < self.requests {
            let now = Instant::now();
            while i < self.requests {
                let offset = self.offset(i);
                if clock.start + offset > now {
                    break;
                }
                let index = scheduled.len();
                scheduled.push(clock.start_us + offset.as_micros() as u64);
                counters.started.fetch_add(1, Ordering::Relaxed);
                if counters.in_flight.load(Ordering::Relaxed) >= self.max_in_flight {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    done.push(Some(Done {
                        index,
                        sent_us: clock.us(now),
                        latency_us: None,
                        outcome: Outcome::Error(ErrorKind::Overload),
                        backend: None,
                    }));
                } else {
                    done.push(None);
                    counters.in_flight.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(request(Arc::clone(&self.shared), clock, index, tx.clone()));
                }
                i += 1;
            }
            while let Ok(d) = rx.try_recv() {
                store(&mut done, d);
            }
            if i >= self.requests {
                break;
            }
            let next = clock.start + self.offset(i);
            tokio::select! {
                biased;
                () = &mut cancel => break,
                () = tokio::time::sleep_until(next.into()) => {}
            }
        }
        drop(tx);
        // Every task answers within its timeout; the extra second is for a busy core.
        let deadline = tokio::time::Instant::now() + self.shared.timeout + Duration::from_secs(1);
        while let Ok(Some(d)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            store(&mut done, d);
        }
        scheduled
            .into_iter()
            .zip(done)
            .map(|(scheduled_us, d)| match d {
                Some(d) => Record {
                    scheduled_us,
                    sent_us: d.sent_us,
                    latency_us: d.latency_us,
                    outcome: d.outcome,
                    backend: d.backend,
                },
                // Not answered even after the grace: as good as a timeout.
                None => Record {
                    scheduled_us,
                    sent_us: scheduled_us,
                    latency_us: None,
                    outcome: Outcome::Error(ErrorKind::Timeout),
                    backend: None,
                },
            })
            .collect()
    }
}

fn store(done: &mut [Option<Done>], d: Done) {
    if let Some(slot) = done.get_mut(d.index) {
        *slot = Some(d);
    }
}

/// A response as one request got it.
struct Exchanged {
    status: u16,
    backend: Option<String>,
    latency: Duration,
    /// The connection, when it is to be closed (not pooled).
    to_close: Option<TcpStream>,
}

/// One request task: times the exchange, reports it, then closes politely.
async fn request(shared: Arc<Shared>, clock: Clock, index: usize, tx: mpsc::UnboundedSender<Done>) {
    let t0 = Instant::now();
    let mut connected = false;
    let result = tokio::time::timeout(shared.timeout, exchange(&shared, t0, &mut connected)).await;
    let (outcome, backend, latency_us, to_close) = match result {
        Ok(Ok(x)) => (
            Outcome::Ok { status: x.status },
            x.backend,
            Some(x.latency.as_micros() as u64),
            x.to_close,
        ),
        Ok(Err(kind)) => (Outcome::Error(kind), None, None, None),
        Err(_) if connected => (Outcome::Error(ErrorKind::Timeout), None, None, None),
        Err(_) => (Outcome::Error(ErrorKind::ConnectTimeout), None, None, None),
    };
    let counter = if outcome.is_success() {
        &shared.counters.ok
    } else {
        &shared.counters.failed
    };
    counter.fetch_add(1, Ordering::Relaxed);
    let _ = tx.send(Done {
        index,
        sent_us: clock.us(t0),
        latency_us,
        outcome,
        backend,
    });
    drop(tx);
    // Done as far as the measurement and the in-flight bound go; a lingering close
    // below lasts at most 200 ms and only after a response.
    shared.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
    if let Some(stream) = to_close {
        linger_close(stream).await;
    }
}

/// Waits (briefly, reading at most 64 KiB) for the server's FIN after a
/// `Connection: close` response, so that the server closes first and keeps the
/// TIME_WAIT state.
async fn linger_close(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(200), async {
        for _ in 0..16 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
}

/// A request on a pooled connection if there is one (retried once on a new
/// connection if that one turns out dead), else on a new connection.
async fn exchange(
    shared: &Shared,
    t0: Instant,
    connected: &mut bool,
) -> Result<Exchanged, ErrorKind> {
    if shared.keep_alive
        && let Some(stream) = shared.take_idle()
    {
        *connected = true;
        match attempt(shared, stream, t0).await {
            Ok(x) => return Ok(x),
            Err((_, true)) => {}
            Err((kind, false)) => return Err(kind),
        }
    }
    *connected = false;
    let stream = connect(shared).await?;
    *connected = true;
    attempt(shared, stream, t0).await.map_err(|(kind, _)| kind)
}

async fn connect(shared: &Shared) -> Result<TcpStream, ErrorKind> {
    let socket = if shared.addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|_| ErrorKind::ConnectError)?;
    if let Some(source) = shared.source {
        socket
            .bind(SocketAddr::new(source, 0))
            .map_err(|_| ErrorKind::ConnectError)?;
    }
    let stream = socket
        .connect(shared.addr)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::ConnectionRefused => ErrorKind::ConnectRefused,
            std::io::ErrorKind::TimedOut => ErrorKind::ConnectTimeout,
            _ => ErrorKind::ConnectError,
        })?;
    // Small requests, latency measured: never wait for Nagle.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Writes the request and reads the response. The error says whether a retry on a
/// new connection makes sense (nothing of a response had come).
async fn attempt(
    shared: &Shared,
    mut stream: TcpStream,
    t0: Instant,
) -> Result<Exchanged, (ErrorKind, bool)> {
    stream
        .write_all(&shared.request)
        .await
        .map_err(|e| (io_kind(&e), true))?;
    let response = Reader::new(&mut stream)
        .read_response(true)
        .await
        .map_err(|e| match e {
            HttpError::Closed { partial } => (ErrorKind::Closed, !partial),
            HttpError::Io(e) => {
                let kind = io_kind(&e);
                (kind, kind == ErrorKind::Reset)
            }
            HttpError::Malformed(_) | HttpError::TooLarge(_) => (ErrorKind::BadResponse, false),
        })?;
    let latency = t0.elapsed();
    let backend = backend_of(&response.body, &shared.field);
    let to_close = if shared.keep_alive && response.reusable {
        shared.put_idle(stream);
        None
    } else {
        Some(stream)
    };
    Ok(Exchanged {
        status: response.status,
        backend,
        latency,
        to_close,
    })
}

fn io_kind(e: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionReset | K::BrokenPipe | K::ConnectionAborted => ErrorKind::Reset,
        K::UnexpectedEof => ErrorKind::Closed,
        K::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::Io,
    }
}

/// The backend name: the value of `field` in a JSON object body (a string, or a
/// number or boolean written out). Anything else (not JSON, no such key) is `None`.
pub fn backend_of(body: &[u8], field: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    match value.get(field)? {
        serde_json::Value::String(s) => Some(s.clone()),
        v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => Some(v.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_is_the_named_field_of_a_json_body() {
        #[rustfmt::skip]
        let table: &[(&[u8], &str, Option<&str>)] = &[
            (br#"{"hostname":"ws1","ip":"127.10.0.4","timestampmilli":1}"#, "hostname", Some("ws1")),
            (br#"{"server":"ws2"}"#, "server", Some("ws2")),
            (br#"{"id":7}"#, "id", Some("7")),
            (br#"{"hostname":null}"#, "hostname", None),
            (br#"{"other":"ws1"}"#, "hostname", None),
            (br#"["ws1"]"#, "hostname", None),
            (b"ws1", "hostname", None),
            (b"", "hostname", None),
            (b"{\"hostname\":\"ws1\"", "hostname", None),
        ];
        for (body, field, expected) in table {
            assert_eq!(
                backend_of(body, field).as_deref(),
                *expected,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn the_schedule_is_start_plus_i_over_rate() {
        let mut config = InjectorConfig::new(
            Target::parse("http://127.0.0.1:9/").unwrap_or_else(|e| panic!("{e}")),
        );
        config.rate = 3.0;
        config.duration = Duration::from_secs(2);
        let injector = Injector::new(config).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(injector.requests(), 6);
        assert_eq!(injector.offset(0), Duration::ZERO);
        assert_eq!(injector.offset(3).as_millis(), 1000);
        assert_eq!(injector.offset(4).as_micros(), 1_333_333);
    }

    #[test]
    fn bad_configs_are_refused() {
        let target = Target::parse("http://127.0.0.1:9/").unwrap_or_else(|e| panic!("{e}"));
        let with = |f: &dyn Fn(&mut InjectorConfig)| {
            let mut c = InjectorConfig::new(target.clone());
            f(&mut c);
            Injector::new(c).err()
        };
        assert_eq!(with(&|c| c.rate = 0.0), Some(ConfigError::Rate(0.0)));
        assert!(matches!(
            with(&|c| c.rate = f64::NAN),
            Some(ConfigError::Rate(_))
        ));
        assert_eq!(
            with(&|c| c.timeout = Duration::ZERO),
            Some(ConfigError::Timeout)
        );
        assert_eq!(
            with(&|c| c.max_in_flight = Some(0)),
            Some(ConfigError::InFlight)
        );
        assert!(matches!(
            with(&|c| c.source = Some("::1".parse().unwrap_or(IpAddr::from([0u8; 16])))),
            Some(ConfigError::Family { .. })
        ));
        assert_eq!(with(&|_| {}), None);
    }

    #[test]
    fn a_run_can_be_spawned_on_any_runtime() {
        fn assert_send<T: Send + 'static>(_: &T) {}
        let config = InjectorConfig::new(
            Target::parse("http://127.0.0.1:9/").unwrap_or_else(|e| panic!("{e}")),
        );
        let injector = Injector::new(config).unwrap_or_else(|e| panic!("{e}"));
        assert_send(&injector.run(std::future::pending::<()>()));
    }

    #[test]
    fn the_default_in_flight_limit_covers_two_timeouts_of_requests() {
        let mut c = InjectorConfig::new(
            Target::parse("http://127.0.0.1:9/").unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!(c.in_flight_limit(), 4000);
        c.rate = 1.0;
        assert_eq!(c.in_flight_limit(), 64);
        c.max_in_flight = Some(10);
        assert_eq!(c.in_flight_limit(), 10);
    }
}
