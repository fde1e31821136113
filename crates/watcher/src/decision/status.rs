//! A snapshot of the decision engine for the control API and `hopwatch ctl status`.
//!
//! Owned data, so the API can take it across tasks; times stay [`Instant`]s, which
//! the API turns into ages or wall-clock times at its edge (the engine has no clock).

use std::net::IpAddr;
use std::time::Instant;

use super::backend::Health;

/// The state of one VIP's decision engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The backend whose next hop is announced, `None` if nothing is.
    pub active: Option<usize>,
    /// The backend the operator pinned the VIP to, if any.
    pub forced: Option<usize>,
    /// While the engine waits for first verdicts, when it stops waiting; `None` once
    /// it has decided (or if the wait is too long to represent).
    pub startup_deadline: Option<Instant>,
    /// `true` while the engine still waits for first verdicts (nothing is
    /// announced yet).
    pub starting: bool,
    /// The next failback the engine will make if nothing changes before then.
    pub pending_failback: Option<PendingFailback>,
    /// Every backend, in priority order.
    pub backends: Vec<BackendStatus>,
}

/// A failback that will happen at `at` unless a verdict or an operator changes
/// things first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingFailback {
    /// The backend the VIP will move back to.
    pub backend: usize,
    /// When its failback hold expires.
    pub at: Instant,
}

/// One backend as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendStatus {
    /// Its configured name.
    pub name: String,
    /// Its next hop.
    pub next_hop: IpAddr,
    /// Its last verdict.
    pub health: Health,
    /// Whether the operator drained it.
    pub drained: bool,
    /// When its current run of Up verdicts began, if it is Up.
    pub up_since: Option<Instant>,
    /// When its health last changed (its first verdict counts), if ever.
    pub changed_at: Option<Instant>,
}
