//! What one request was: [`Record`], [`Outcome`], [`ErrorKind`], and the injected
//! [`Event`]s an analysis can take as the start of an outage.
//!
//! Plain data, no IO and no clock, shared by the injector (which fills it), the
//! analysis (which reads it) and the CSV file (which stores it). Times are wall-clock
//! microseconds since the Unix epoch, the one clock every hopwatch process logs in
//! (`docs/design.md`, "One clock for measurement"), so that records join the
//! other components' events into one timeline.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One request, as the injector saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// When the schedule said to send it (`start + i / rate`), µs since the epoch.
    pub scheduled_us: u64,
    /// When it was actually started (the connect, or the write on a reused
    /// connection), µs since the epoch. `sent_us - scheduled_us` is the schedule lag.
    pub sent_us: u64,
    /// From `sent_us` to the complete response; `None` when no response came.
    pub latency_us: Option<u64>,
    /// What happened.
    pub outcome: Outcome,
    /// Which backend answered: the configured field of the JSON body (`hostname`).
    pub backend: Option<String>,
}

impl Record {
    /// A response with a 2xx status. Everything else (an error or another status) is
    /// a failure for the outage analysis.
    pub fn is_success(&self) -> bool {
        self.outcome.is_success()
    }

    /// `sent_us - scheduled_us` (0 if sent early, which the injector never does).
    pub fn lag_us(&self) -> u64 {
        self.sent_us.saturating_sub(self.scheduled_us)
    }
}

/// What happened to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A complete HTTP response arrived (any status; only 2xx counts as success).
    Ok {
        /// The status code.
        status: u16,
    },
    /// No usable response.
    Error(ErrorKind),
}

impl Outcome {
    /// A response with a 2xx status.
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Ok { status } if (200..300).contains(&status))
    }

    /// A short name for counting failures: the error kind, or `status_503`.
    pub fn failure_name(self) -> Option<String> {
        match self {
            Outcome::Ok { status } if (200..300).contains(&status) => None,
            Outcome::Ok { status } => Some(format!("status_{status}")),
            Outcome::Error(kind) => Some(kind.as_str().to_string()),
        }
    }
}

/// Why a request got no usable response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The connection was refused (nothing listens: a killed backend).
    ConnectRefused,
    /// The connection was not established within the request timeout (a silent
    /// host, a blackhole, a stopped process's full accept queue).
    ConnectTimeout,
    /// Connecting failed otherwise (unreachable, no local port or file descriptor).
    ConnectError,
    /// The connection was reset (or the pipe broke) while sending or reading.
    Reset,
    /// The backend closed the connection before a complete response.
    Closed,
    /// Connected, but no complete response within the request timeout.
    Timeout,
    /// The response is not HTTP/1.x as we read it, or larger than the bounds.
    BadResponse,
    /// Not sent: the limit of requests in flight was reached (so that an overloaded
    /// injector records errors instead of stalling its schedule).
    Overload,
    /// Any other local IO error.
    Io,
}

impl ErrorKind {
    /// Every kind, for tables and parsing.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::ConnectRefused,
        ErrorKind::ConnectTimeout,
        ErrorKind::ConnectError,
        ErrorKind::Reset,
        ErrorKind::Closed,
        ErrorKind::Timeout,
        ErrorKind::BadResponse,
        ErrorKind::Overload,
        ErrorKind::Io,
    ];

    /// The name used in the CSV and the JSON summary (`connect_refused`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::ConnectError => "connect_error",
            ErrorKind::Reset => "reset",
            ErrorKind::Closed => "closed",
            ErrorKind::Timeout => "timeout",
            ErrorKind::BadResponse => "bad_response",
            ErrorKind::Overload => "overload",
            ErrorKind::Io => "io",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an [`ErrorKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown outcome {0:?}")]
pub struct UnknownOutcome(pub String);

impl FromStr for ErrorKind {
    type Err = UnknownOutcome;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownOutcome(s.to_string()))
    }
}

/// Something that happened outside the injector at a known time: a failure injected
/// by the lab (`kill`, `hang`), a decision of the watcher, a drain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When, µs since the epoch.
    pub ts_us: u64,
    /// What (free text, e.g. `kill ws1`).
    pub name: String,
}

/// Why `NAME@TS_US` is not an [`Event`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {0:?}: expected NAME@TS_US, e.g. kill@1764000000123456 (µs since the epoch)")]
pub struct BadEvent(pub String);

impl FromStr for Event {
    type Err = BadEvent;
    /// `NAME@TS_US`; the name may itself contain `@` (the last one separates).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, ts) = s.rsplit_once('@').ok_or_else(|| BadEvent(s.into()))?;
        let ts_us = ts.trim().parse().map_err(|_| BadEvent(s.into()))?;
        if name.is_empty() {
            return Err(BadEvent(s.into()));
        }
        Ok(Event {
            ts_us,
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_2xx_responses_are_successes() {
        assert!(Outcome::Ok { status: 200 }.is_success());
        assert!(Outcome::Ok { status: 204 }.is_success());
        assert!(!Outcome::Ok { status: 503 }.is_success());
        assert!(!Outcome::Error(ErrorKind::Reset).is_success());
        assert_eq!(
            Outcome::Ok { status: 503 }.failure_name().as_deref(),
            Some("status_503")
        );
        assert_eq!(Outcome::Ok { status: 200 }.failure_name(), None);
    }

    #[test]
    fn error_kinds_round_trip_through_their_names() {
        for kind in ErrorKind::ALL {
            assert_eq!(kind.as_str().parse::<ErrorKind>(), Ok(kind));
        }
        assert!("nope".parse::<ErrorKind>().is_err());
    }

    #[test]
    fn events_parse_from_name_at_timestamp() {
        assert_eq!(
            "kill ws1@1764000000123456".parse::<Event>(),
            Ok(Event {
                ts_us: 1_764_000_000_123_456,
                name: "kill ws1".into()
            })
        );
        assert_eq!("a@b@5".parse::<Event>().map(|e| e.name), Ok("a@b".into()));
        for bad in ["kill", "@5", "kill@", "kill@x", "kill@-1"] {
            assert!(bad.parse::<Event>().is_err(), "{bad}");
        }
    }
}
