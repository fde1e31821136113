//! What the decision engine outputs: a [`Move`] of the VIP's next hop, and the
//! [`Reason`] for it that the logs, the API and the metrics show.

use std::fmt;
use std::time::Instant;

use serde::Serialize;

/// A change of the VIP's announcement, to be sent to every route server as ONE
/// UPDATE: a replacing announce (implicit withdraw) when `to` is `Some`, a withdraw
/// when it is `None`. `to` never equals `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Move {
    /// The backend whose next hop was announced before, `None` if nothing was.
    pub from: Option<usize>,
    /// The backend whose next hop to announce now; `None` means withdraw the VIP.
    pub to: Option<usize>,
    /// Why the VIP moves.
    pub reason: Reason,
    /// The `now` of the input that caused the move.
    pub at: Instant,
}

/// Why a [`Move`] happened: the input that caused it, and for health inputs and
/// timers, which rule applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// The first announcement, once every backend had a first verdict.
    Startup,
    /// The first announcement, when `startup_wait` ran out before every backend had
    /// a first verdict: decided from the verdicts known then.
    StartupTimeout,
    /// The active backend went Down; the VIP moves at once to the best eligible one.
    Failover,
    /// A higher-priority backend has been Up for `failback_hold`; the VIP moves back
    /// to it (or, with a zero hold, at its Up verdict).
    Failback,
    /// Nothing usable was announced (nothing at all, or a Down backend kept by
    /// `all_down = "keep"`), and a backend came Up: the VIP moves to it at once,
    /// without any hold, because anything beats nothing.
    Recovery,
    /// The active backend went Down, no backend is eligible and the policy is
    /// `all_down = "withdraw"`: the VIP is withdrawn.
    AllDown,
    /// The operator drained the active backend: the VIP moves to the best other
    /// eligible backend (or is withdrawn, under `withdraw`, if there is none).
    Drain,
    /// The operator undrained a backend, and the policy now prefers it.
    Undrain,
    /// The operator pinned the VIP to a backend.
    Force,
    /// The operator released a pin; the policy decides again.
    Unforce,
}

impl Reason {
    /// The name used in logs, JSON and metric labels: `failover`, `all_down`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Startup => "startup",
            Self::StartupTimeout => "startup_timeout",
            Self::Failover => "failover",
            Self::Failback => "failback",
            Self::Recovery => "recovery",
            Self::AllDown => "all_down",
            Self::Drain => "drain",
            Self::Undrain => "undrain",
            Self::Force => "force",
            Self::Unforce => "unforce",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
