//! What to check and how often: [`CheckSpec`] and [`Target`].
//!
//! A target is parsed from the config's `check = "http://10.10.0.4/"` string by
//! [`Target::parse`]. Hosts must be IP literals: a health checker that resolves names
//! would fail over on a DNS outage, and the next hop it steers to is an address anyway.
//! The parsed target is valid by construction (the path cannot smuggle a CR/LF into
//! the request, the port is in range), so the probes never validate again.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// One backend's health check: where, how often, and how to judge.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSpec {
    /// What to probe.
    pub target: Target,
    /// Time between probe starts (a new probe starts every interval, even while
    /// earlier ones are still in flight).
    pub interval: Duration,
    /// A probe that has not succeeded within this time is a failure.
    pub timeout: Duration,
    /// Successes in a row that make the backend `Up`.
    pub rise: u32,
    /// Failures in a row that make the backend `Down`.
    pub fall: u32,
    /// Random spread of each interval, as a fraction of it: 0.1 means each gap
    /// between probe starts is within `interval × [0.9, 1.1]`. Clamped to `[0, 0.5]`.
    /// The offsets are drawn once per process and tick, so the checkers of one
    /// watcher stay aligned (one wake-up probes them all) while different watchers
    /// are not (see the checker's `Schedule`).
    pub jitter: f32,
    /// Most probes in flight at once; a probe due while this many are in flight is
    /// skipped. At least 1.
    pub max_in_flight: usize,
    /// Hold a connection to the backend between probes and watch it, so that the
    /// kernel's close of a dead process's sockets is seen at once whatever the
    /// backend does with its connections: the keep-alive connection when the backend
    /// keeps it; otherwise (`Connection: close`, HTTP/1.0) a connection opened ahead
    /// for the next probe; for `tcp://`, the last accepted one. Its end is only ever
    /// a reason to re-probe at once, never a verdict. Off: such backends are seen
    /// dead by the next probe's refused connect, and a `tcp://` probe closes its
    /// connection at once. Costs one socket per backend; turn it off for a backend
    /// that serves one connection at a time. Default on.
    pub watch_connection: bool,
    /// The address probes connect from (`None`: the kernel's choice). On a
    /// multi-homed watcher, the address the backends expect; and wherever other
    /// clients of the backend share the kernel's default source with the watcher (a
    /// proxy on the same host, the loopback lab), an address of its own keeps the
    /// backend's TIME_WAIT connections of those clients out of the probes' 4-tuples
    /// (a SYN that lands on one of them, once the backend is dead, is refused about
    /// 10 ms late).
    pub source: Option<std::net::IpAddr>,
}

impl CheckSpec {
    /// A spec with the defaults of hopwatch's example config: interval 10 ms, timeout
    /// 25 ms, rise 3, fall 2, jitter 0.1, and [`CheckSpec::default_max_in_flight`]. A
    /// silent backend is then down within 48 ms ([`silent_failure_bound`]).
    pub fn new(target: Target) -> Self {
        let interval = Duration::from_millis(10);
        let timeout = Duration::from_millis(25);
        Self {
            target,
            interval,
            timeout,
            rise: 3,
            fall: 2,
            jitter: 0.1,
            max_in_flight: Self::default_max_in_flight(interval, timeout),
            watch_connection: true,
            source: None,
        }
    }

    /// The longest this backend can stay `Up` once it goes silent:
    /// [`silent_failure_bound`] of this spec's settings.
    pub fn silent_failure_bound(&self) -> Duration {
        silent_failure_bound(self.interval, self.timeout, self.fall, self.jitter)
    }

    /// `ceil(timeout / interval) + 1`: enough for a probe to start every interval while
    /// each waits out its full timeout, plus one for jitter.
    pub fn default_max_in_flight(interval: Duration, timeout: Duration) -> usize {
        let interval = interval.as_nanos().max(1);
        let in_flight = timeout.as_nanos().div_ceil(interval);
        usize::try_from(in_flight)
            .unwrap_or(usize::MAX)
            .saturating_add(1)
    }
}

/// How late the runtime's timers may fire: tokio's timer wheel counts whole
/// milliseconds and rounds a deadline up, once for the tick that starts a probe and
/// once for the deadline that fails it.
pub const TIMER_SLACK: Duration = Duration::from_millis(2);

/// The longest a backend that goes silent (a hung process, its packets lost) can
/// stay `Up` under these settings while the watcher runs on time:
/// `(fall + jitter) × interval + timeout +` [`TIMER_SLACK`]. The example's 10 ms,
/// 25 ms, fall 2 and jitter 0.1 give 48 ms.
///
/// Why: the silence begins after some tick `j - 1`. Ticks sit on a fixed grid, each
/// moved by at most `± jitter × interval / 2` (the offsets do not add up), so tick
/// `j + fall - 1` is at most `fall × interval + jitter × interval` later; its probe
/// fails `timeout` after it starts, and as the probes of ticks `j` to `j + fall - 2`
/// failed before it, in order, it is the `fall`-th failure in a row. A crashed
/// process is seen much sooner: its host's kernel refuses or resets at once (see
/// the checker's module doc). A watcher that did not run on time (a starved host)
/// discounts what it saw late and probes again, which this bound does not cover.
pub fn silent_failure_bound(
    interval: Duration,
    timeout: Duration,
    fall: u32,
    jitter: f32,
) -> Duration {
    let jitter = f64::from(jitter.clamp(0.0, 0.5));
    interval.mul_f64(f64::from(fall.max(1)) + jitter) + timeout + TIMER_SLACK
}

/// What a probe talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// `GET path` over HTTP/1.1; healthy when the status is `expect_status` and, if
    /// set, the body contains `body_contains`.
    Http {
        /// Where to connect.
        addr: SocketAddr,
        /// The `Host` header (`10.10.0.4`, `10.10.0.4:8080`, `[fd00::4]`).
        host: String,
        /// Path and query of the request, starting with `/`.
        path: String,
        /// The status that means healthy (200 from [`Target::parse`]).
        expect_status: u16,
        /// If set, the body must contain this text.
        body_contains: Option<String>,
    },
    /// A TCP connect; healthy when the connection is accepted.
    Tcp {
        /// Where to connect.
        addr: SocketAddr,
    },
}

/// Why a check URL was rejected. Each message names the problem and the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// Neither `http://` nor `tcp://`.
    #[error(
        "check `{url}`: unsupported scheme (expected `http://HOST[:PORT]/PATH` or `tcp://HOST:PORT`)"
    )]
    Scheme {
        /// The URL as given.
        url: String,
    },
    /// The host is a name, or not an address at all.
    #[error(
        "check `{url}`: host `{host}` is not an IP address (names are not resolved; write e.g. 10.10.0.4 or [fd00::4])"
    )]
    Host {
        /// The URL as given.
        url: String,
        /// The host part.
        host: String,
    },
    /// Port missing (tcp://), empty, not a number, or 0.
    #[error("check `{url}`: {why}")]
    Port {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// `user@host` in a check URL.
    #[error("check `{url}`: user info (`user@`) is not supported")]
    UserInfo {
        /// The URL as given.
        url: String,
    },
    /// The path has a character that cannot go into a request line.
    #[error(
        "check `{url}`: the path may only hold visible ASCII characters (no spaces, controls or non-ASCII; percent-encode them)"
    )]
    Path {
        /// The URL as given.
        url: String,
    },
    /// A `tcp://` URL with a path.
    #[error("check `{url}`: a tcp:// check has no path (write `tcp://HOST:PORT`)")]
    TcpPath {
        /// The URL as given.
        url: String,
    },
}

impl Target {
    /// Parses `http://HOST[:PORT][/PATH]` (port 80 and path `/` by default) or
    /// `tcp://HOST:PORT`. HOST is an IPv4 literal or a bracketed IPv6 literal.
    /// A fragment (`#...`) is dropped, as a client would.
    pub fn parse(url: &str) -> Result<Self, TargetError> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| TargetError::Scheme {
            url: url.to_owned(),
        })?;
        let scheme = scheme.to_ascii_lowercase();
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(TargetError::UserInfo {
                url: url.to_owned(),
            });
        }
        match scheme.as_str() {
            "http" => {
                let (ip, port) = parse_authority(url, authority, Some(80))?;
                let path = match path {
                    "" => "/".to_owned(),
                    p if p.starts_with('?') => format!("/{p}"),
                    p => p.to_owned(),
                };
                if !path.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(TargetError::Path {
                        url: url.to_owned(),
                    });
                }
                let host = if port == 80 {
                    host_literal(ip)
                } else {
                    format!("{}:{port}", host_literal(ip))
                };
                Ok(Target::Http {
                    addr: SocketAddr::new(ip, port),
                    host,
                    path,
                    expect_status: 200,
                    body_contains: None,
                })
            }
            "tcp" => {
                let (ip, port) = parse_authority(url, authority, None)?;
                if !(path.is_empty() || path == "/") {
                    return Err(TargetError::TcpPath {
                        url: url.to_owned(),
                    });
                }
                Ok(Target::Tcp {
                    addr: SocketAddr::new(ip, port),
                })
            }
            _ => Err(TargetError::Scheme {
                url: url.to_owned(),
            }),
        }
    }

    /// The address probes connect to.
    pub fn addr(&self) -> SocketAddr {
        match self {
            Target::Http { addr, .. } | Target::Tcp { addr } => *addr,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Http { addr, path, .. } => write!(f, "http://{addr}{path}"),
            Target::Tcp { addr } => write!(f, "tcp://{addr}"),
        }
    }
}

fn host_literal(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// Splits `HOST[:PORT]` where HOST is `a.b.c.d` or `[v6]`.
fn parse_authority(
    url: &str,
    authority: &str,
    default_port: Option<u16>,
) -> Result<(IpAddr, u16), TargetError> {
    let host_error = |host: &str| TargetError::Host {
        url: url.to_owned(),
        host: host.to_owned(),
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inside, after) = v6.split_once(']').ok_or_else(|| host_error(authority))?;
        let ip: std::net::Ipv6Addr = inside.parse().map_err(|_| host_error(inside))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| host_error(authority))?),
        };
        (IpAddr::V6(ip), port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let ip: std::net::Ipv4Addr = host.parse().map_err(|_| host_error(host))?;
        (IpAddr::V4(ip), port)
    };
    let port_error = |why: String| TargetError::Port {
        url: url.to_owned(),
        why,
    };
    let port = match (port, default_port) {
        (Some(p), _) => match p.parse::<u16>() {
            Ok(0) => return Err(port_error("port 0 is not a port to connect to".into())),
            Ok(n) => n,
            Err(_) => {
                return Err(port_error(format!(
                    "invalid port `{p}` (expected 1 to 65535)"
                )));
            }
        },
        (None, Some(d)) => d,
        (None, None) => {
            return Err(port_error(
                "a tcp:// check needs a port (`tcp://HOST:PORT`)".into(),
            ));
        }
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_backend_is_down_within_fall_plus_jitter_intervals_and_a_timeout() {
        let ms = Duration::from_millis;
        // The example's settings: 2 × 10 + 0.1 × 10 + 25 + 2 ms of timers.
        assert_eq!(silent_failure_bound(ms(10), ms(25), 2, 0.1), ms(48));
        // A 30 ms timeout: 53 ms, over a 50 ms target however quiet the machine.
        assert_eq!(silent_failure_bound(ms(10), ms(30), 2, 0.1), ms(53));
        assert_eq!(silent_failure_bound(ms(100), ms(100), 1, 0.0), ms(202));
        // Jitter is clamped as the schedule clamps it.
        assert_eq!(silent_failure_bound(ms(10), ms(25), 2, 3.0), ms(52));
        let spec = CheckSpec::new(Target::parse("tcp://10.10.0.4:80").unwrap());
        assert_eq!(spec.silent_failure_bound(), ms(48));
    }

    fn http(addr: &str, host: &str, path: &str) -> Target {
        Target::Http {
            addr: addr.parse().expect("test address"),
            host: host.to_owned(),
            path: path.to_owned(),
            expect_status: 200,
            body_contains: None,
        }
    }

    #[test]
    fn check_urls_parse_to_targets() {
        let table: &[(&str, Target)] = &[
            ("http://10.10.0.4/", http("10.10.0.4:80", "10.10.0.4", "/")),
            ("http://10.10.0.4", http("10.10.0.4:80", "10.10.0.4", "/")),
            (
                "HTTP://10.10.0.4/health?full=1#x",
                http("10.10.0.4:80", "10.10.0.4", "/health?full=1"),
            ),
            (
                "http://127.0.0.1:8080/h",
                http("127.0.0.1:8080", "127.0.0.1:8080", "/h"),
            ),
            (
                "http://127.0.0.1:8080?q",
                http("127.0.0.1:8080", "127.0.0.1:8080", "/?q"),
            ),
            ("http://[fd00::4]/", http("[fd00::4]:80", "[fd00::4]", "/")),
            ("http://[::1]:81/x", http("[::1]:81", "[::1]:81", "/x")),
            (
                "tcp://10.10.0.4:443",
                Target::Tcp {
                    addr: "10.10.0.4:443".parse().expect("test address"),
                },
            ),
            (
                "tcp://[::1]:22/",
                Target::Tcp {
                    addr: "[::1]:22".parse().expect("test address"),
                },
            ),
        ];
        for (url, expected) in table {
            assert_eq!(&Target::parse(url).expect(url), expected, "{url}");
        }
    }

    #[test]
    fn bad_check_urls_are_rejected_with_a_message_naming_the_problem() {
        let table: &[(&str, &str)] = &[
            ("https://10.0.0.1/", "unsupported scheme"),
            ("10.0.0.1:80", "unsupported scheme"),
            (
                "http://ws1.example/",
                "host `ws1.example` is not an IP address",
            ),
            ("http:///", "host `` is not an IP address"),
            ("http://[fd00::4/", "is not an IP address"),
            ("http://[10.0.0.1]/", "host `10.0.0.1` is not an IP address"),
            ("http://10.0.0.1:http/", "invalid port `http`"),
            ("http://10.0.0.1:70000/", "invalid port `70000`"),
            ("http://10.0.0.1:/", "invalid port ``"),
            ("http://10.0.0.1:0/", "port 0"),
            ("tcp://10.0.0.1", "needs a port"),
            ("tcp://10.0.0.1:80/x", "has no path"),
            ("http://u@10.0.0.1/", "user info"),
            ("http://10.0.0.1/a b", "visible ASCII"),
            ("http://10.0.0.1/a\r\nX: y", "visible ASCII"),
            ("http://10.0.0.1/é", "visible ASCII"),
        ];
        for (url, needle) in table {
            let message = Target::parse(url).expect_err(url).to_string();
            assert!(
                message.contains(needle),
                "{url}: {message:?} should mention {needle:?}"
            );
            assert!(
                message.contains(url.split('\r').next().unwrap_or(url)),
                "{message:?} names the url"
            );
        }
    }

    #[test]
    fn default_max_in_flight_covers_one_timeout_of_probes() {
        let ms = Duration::from_millis;
        assert_eq!(CheckSpec::default_max_in_flight(ms(10), ms(30)), 4);
        assert_eq!(CheckSpec::default_max_in_flight(ms(10), ms(25)), 4);
        assert_eq!(CheckSpec::default_max_in_flight(ms(100), ms(50)), 2);
        assert_eq!(CheckSpec::default_max_in_flight(ms(5), ms(30)), 7);
    }
}
