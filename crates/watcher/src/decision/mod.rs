//! The decision engine: which backend carries one VIP, and when that changes.
//!
//! **Pure: no IO, no clock, no async runtime.** Time is an argument (`now`), as in
//! the BGP core. The watcher feeds one [`Engine`] per VIP with the health
//! checker's verdicts, the operator's commands and timer expiries; each input
//! returns at most one [`Move`], which the watcher sends to every route server as
//! ONE replacing UPDATE. [`Engine::poll_timeout`] says when to call
//! [`Engine::handle_timeout`] next, so the driver holds exactly one sleep per VIP.
//!
//! ```text
//!   health(now, b, up) ─┐
//!   drain / undrain    ─┼─► Engine ──► Option<Move>  ─► one UPDATE to every route server
//!   force(now, b|None) ─┤      │
//!   handle_timeout(now)─┘      └────► poll_timeout() ─► when to call handle_timeout
//! ```
//!
//! # The rules
//! A backend is *eligible* when its last verdict is Up and it is not drained.
//! Backends are in priority order; index 0 is the primary.
//!
//! 1. **Startup.** Nothing is announced until every backend has a first verdict
//!    ([`Reason::Startup`]) or `startup_wait` has passed
//!    ([`Reason::StartupTimeout`]); then the VIP goes to the highest-priority
//!    eligible backend, and if none is eligible nothing is announced. A backend
//!    with no verdict yet is never eligible. The failback hold does not apply to
//!    this first choice.
//! 2. **Failover is immediate.** When the active backend stops being usable (Down or
//!    drained), the VIP moves at once to the highest-priority eligible backend,
//!    however briefly that one has been Up: anything healthy beats a dead next hop.
//! 3. **Failback waits** (with `preempt`). While the active backend is eligible, the
//!    VIP moves to a higher-priority eligible backend only once that backend has
//!    been continuously Up for `failback_hold`; each Down verdict restarts its hold,
//!    so a flapping primary never takes the VIP back. If several higher-priority
//!    backends are eligible, the VIP goes to the highest-priority one whose hold has
//!    expired (with A, B, C and C active, B held and A not yet: to B, later to A).
//!    Without `preempt`, the active backend keeps the VIP while it is eligible.
//! 4. **All down.** When no backend is eligible, `keep` leaves the last next hop
//!    announced (no move; [`Engine::active`] stays on the unusable backend) and
//!    `withdraw` withdraws the VIP ([`Reason::AllDown`]). Draining the last
//!    eligible backend is an all-down case too: under `keep` the VIP stays where
//!    it is (the drained backend is still serving, and there is nowhere better),
//!    under `withdraw` it is withdrawn ([`Reason::Drain`]).
//! 5. **Recovery is immediate.** When nothing usable is announced (nothing at all,
//!    or a kept unusable backend) and a backend becomes eligible, the VIP moves to
//!    it at once, without any hold ([`Reason::Recovery`]).
//! 6. **Drain and undrain.** A drained backend is never chosen by the policy;
//!    draining the active backend moves the VIP at once (rule 2); draining a
//!    standby moves nothing. Undraining makes a backend eligible again under the
//!    same rules: its failback hold counts from its last Up verdict, not from the
//!    undrain, so undraining a long-healthy primary fails back at once, and
//!    undraining one that came Up only recently fails back when its hold expires.
//!    Drain state is kept across health changes and during startup.
//! 7. **Force wins.** `force(now, Some(b))` pins the VIP to `b` at once, whatever
//!    its health or drain state, and while pinned no verdict, drain or timer moves
//!    it, even if `b` goes Down: it is a manual override and the operator owns it
//!    (the status shows the pin and `b`'s health). Forcing during startup ends the
//!    startup wait. `force(now, None)` releases the pin and the policy decides again
//!    at once from the current state ([`Reason::Unforce`]), including an immediate
//!    failback to a higher-priority backend whose hold has already expired.
//! 8. **No no-op moves.** A move's `to` never equals the active backend; a move's
//!    `from` is always the previously active backend.
//!
//! Repeated identical verdicts change nothing (a repeated Up does not restart the
//! hold). Backend indices are positions in the list given to [`Engine::new`]; an
//! index out of range is a caller bug and panics (resolve names with
//! [`Engine::index_of`] first).

mod backend;
mod moves;
mod policy;
mod status;

use std::time::Instant;

use backend::Backend;
pub use backend::{BackendInfo, Health};
pub use moves::{Move, Reason};
pub use policy::{AllDown, Policy};
pub use status::{BackendStatus, PendingFailback, Status};

/// Where the engine is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for first verdicts, at most until `deadline` (`None`: a wait too
    /// long to represent, i.e. until every verdict is in).
    Starting { deadline: Option<Instant> },
    /// Deciding on every input.
    Running,
}

/// The input that led to a decision; with the rule that applied it names the
/// [`Reason`] of a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Health { up: bool },
    Drain,
    Undrain,
    Unforce,
    Timeout,
}

/// The rule that chose a new target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// The active backend is eligible and a higher-priority one has held.
    Failback,
    /// The active backend is not usable (none, Down, drained): take the best.
    Replace,
    /// Nothing is eligible and the policy withdraws.
    AllDown,
}

/// The decision engine of one VIP. See the [module docs](self) for the rules.
///
/// ```
/// use std::time::{Duration, Instant};
/// use hopwatch_watcher::decision::{BackendInfo, Engine, Policy, Reason};
///
/// let t0 = Instant::now();
/// let backends = vec![
///     BackendInfo::new("ws1", "10.10.0.4".parse().unwrap()),
///     BackendInfo::new("ws2", "10.10.0.5".parse().unwrap()),
/// ];
/// let mut vip = Engine::new(backends, Policy::default(), t0);
/// assert_eq!(vip.health(t0, 0, true), None); // still waiting for ws2
/// let first = vip.health(t0, 1, true).unwrap();
/// assert_eq!((first.to, first.reason), (Some(0), Reason::Startup));
///
/// let failover = vip.health(t0 + Duration::from_secs(1), 0, false).unwrap();
/// assert_eq!((failover.from, failover.to), (Some(0), Some(1)));
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    backends: Vec<Backend>,
    policy: Policy,
    phase: Phase,
    active: Option<usize>,
    forced: Option<usize>,
}

impl Engine {
    /// An engine for one VIP whose `backends` are in priority order (the first is
    /// the primary), started at `now`: nothing is announced until the first
    /// verdicts are in or `policy.startup_wait` has passed. With no backends at
    /// all, it never announces anything.
    pub fn new(backends: Vec<BackendInfo>, policy: Policy, now: Instant) -> Self {
        let phase = Phase::Starting {
            deadline: now.checked_add(policy.startup_wait),
        };
        Self {
            backends: backends.into_iter().map(Backend::new).collect(),
            policy,
            phase,
            active: None,
            forced: None,
        }
    }

    /// A health verdict on `backend` (after the health checker's rise and fall
    /// counting): `up` or down.
    ///
    /// # Panics
    /// If `backend` is not an index of the list given to [`new`](Self::new).
    #[must_use = "a move must be sent to the route servers"]
    pub fn health(&mut self, now: Instant, backend: usize, up: bool) -> Option<Move> {
        self.backends[backend].set_health(now, up);
        self.decide(now, Trigger::Health { up })
    }

    /// The operator drains `backend`: the policy no longer chooses it, and if it is
    /// active the VIP moves away at once. Draining a drained backend changes
    /// nothing.
    ///
    /// # Panics
    /// If `backend` is not an index of the list given to [`new`](Self::new).
    #[must_use = "a move must be sent to the route servers"]
    pub fn drain(&mut self, now: Instant, backend: usize) -> Option<Move> {
        self.backends[backend].drained = true;
        self.decide(now, Trigger::Drain)
    }

    /// The operator undrains `backend`: it is eligible again when Up, and its
    /// failback hold counts from its last Up verdict, not from now.
    ///
    /// # Panics
    /// If `backend` is not an index of the list given to [`new`](Self::new).
    #[must_use = "a move must be sent to the route servers"]
    pub fn undrain(&mut self, now: Instant, backend: usize) -> Option<Move> {
        self.backends[backend].drained = false;
        self.decide(now, Trigger::Undrain)
    }

    /// The operator pins the VIP to `backend` (`Some`), whatever its health or
    /// drain state, until released with `None`; then the policy decides again at
    /// once. While pinned, nothing else moves the VIP, even if the pinned backend
    /// goes Down.
    ///
    /// # Panics
    /// If `backend` is `Some` index not in the list given to [`new`](Self::new).
    #[must_use = "a move must be sent to the route servers"]
    pub fn force(&mut self, now: Instant, backend: Option<usize>) -> Option<Move> {
        match backend {
            Some(b) => {
                assert!(b < self.backends.len(), "force: no backend {b}");
                self.forced = Some(b);
                // The operator has taken over: there is nothing left to wait for.
                self.phase = Phase::Running;
                self.move_to(now, Some(b), Reason::Force)
            }
            None => {
                self.forced = None;
                self.decide(now, Trigger::Unforce)
            }
        }
    }

    /// Fires what is due at `now`: the end of the startup wait, or a failback whose
    /// hold has expired. Calling it early or late is harmless.
    #[must_use = "a move must be sent to the route servers"]
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Move> {
        self.decide(now, Trigger::Timeout)
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next: the end of the
    /// startup wait, or the earliest failback deadline; `None` if nothing is
    /// pending. It changes only with inputs, so ask again after each one.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Starting { deadline } => deadline,
            Phase::Running => self.pending_failback().map(|p| p.at),
        }
    }

    /// The backend whose next hop is announced, `None` if nothing is.
    pub fn active(&self) -> Option<usize> {
        self.active
    }

    /// The backend the VIP is pinned to by [`force`](Self::force), if any.
    pub fn forced(&self) -> Option<usize> {
        self.forced
    }

    /// The policy this engine applies.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Applies `policy` from now on (a reload of `[failover]`), keeping every
    /// verdict, drain, force and the phase. It decides nothing by itself: a
    /// failback whose new hold has already passed happens at the next
    /// [`handle_timeout`](Self::handle_timeout), which [`poll_timeout`](Self::poll_timeout)
    /// now asks for at once.
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    /// Whether this engine's backends are `infos`, in this order: an engine kept
    /// across a reload must still refer to the same backends by the same indices.
    pub fn has_backends(&self, infos: &[BackendInfo]) -> bool {
        self.backends.len() == infos.len()
            && self.backends.iter().zip(infos).all(|(b, i)| b.info == *i)
    }

    /// The configuration of `backend`, if it exists.
    pub fn backend(&self, backend: usize) -> Option<&BackendInfo> {
        self.backends.get(backend).map(|b| &b.info)
    }

    /// The number of backends.
    pub fn len(&self) -> usize {
        self.backends.len()
    }

    /// Whether the engine has no backends (and so never announces anything).
    pub fn is_empty(&self) -> bool {
        self.backends.is_empty()
    }

    /// The index of the backend named `name`: how the API resolves the names the
    /// operator types. The first one wins if names repeat.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.backends.iter().position(|b| b.info.name == name)
    }

    /// A snapshot for the control API.
    pub fn status(&self) -> Status {
        let startup_deadline = match self.phase {
            Phase::Starting { deadline } => deadline,
            Phase::Running => None,
        };
        Status {
            active: self.active,
            forced: self.forced,
            startup_deadline,
            starting: matches!(self.phase, Phase::Starting { .. }),
            pending_failback: self.pending_failback(),
            backends: self
                .backends
                .iter()
                .map(|b| BackendStatus {
                    name: b.info.name.clone(),
                    next_hop: b.info.next_hop,
                    health: b.health,
                    drained: b.drained,
                    up_since: b.up_since,
                    changed_at: b.changed_at,
                })
                .collect(),
        }
    }

    /// Applies the rules after an input at `now`.
    fn decide(&mut self, now: Instant, trigger: Trigger) -> Option<Move> {
        if let Phase::Starting { deadline } = self.phase {
            let reason = if self.backends.iter().all(|b| b.health != Health::Unknown) {
                Reason::Startup
            } else if deadline.is_some_and(|d| now >= d) {
                Reason::StartupTimeout
            } else {
                return None;
            };
            self.phase = Phase::Running;
            return self.move_to(now, self.best_eligible(), reason);
        }
        if self.forced.is_some() {
            return None;
        }
        let (to, rule) = self.choose(now)?;
        let reason = match (trigger, rule) {
            (Trigger::Drain, _) => Reason::Drain,
            (Trigger::Undrain, _) => Reason::Undrain,
            (Trigger::Unforce, _) => Reason::Unforce,
            (_, Rule::AllDown) => Reason::AllDown,
            (_, Rule::Failback) => Reason::Failback,
            (Trigger::Health { up: false }, Rule::Replace) => Reason::Failover,
            (Trigger::Health { up: true } | Trigger::Timeout, Rule::Replace) => Reason::Recovery,
        };
        self.move_to(now, to, reason)
    }

    /// The target the policy wants at `now` and the rule that chose it, or `None`
    /// to stay.
    fn choose(&self, now: Instant) -> Option<(Option<usize>, Rule)> {
        match self.active.filter(|&a| self.backends[a].eligible()) {
            Some(active) => {
                if !self.policy.preempt {
                    return None;
                }
                (0..active)
                    .find(|&i| {
                        self.backends[i].eligible() && self.held_at(i).is_some_and(|t| now >= t)
                    })
                    .map(|i| (Some(i), Rule::Failback))
            }
            None => match (self.best_eligible(), self.policy.all_down) {
                (Some(best), _) => Some((Some(best), Rule::Replace)),
                (None, AllDown::Withdraw) => Some((None, Rule::AllDown)),
                (None, AllDown::Keep) => None,
            },
        }
    }

    /// The next failback the policy will make if nothing changes: the earliest
    /// hold expiry among eligible backends of higher priority than an eligible
    /// active one.
    fn pending_failback(&self) -> Option<PendingFailback> {
        if self.phase != Phase::Running || self.forced.is_some() || !self.policy.preempt {
            return None;
        }
        let active = self.active.filter(|&a| self.backends[a].eligible())?;
        (0..active)
            .filter(|&i| self.backends[i].eligible())
            .filter_map(|i| self.held_at(i).map(|at| PendingFailback { backend: i, at }))
            .min_by_key(|p| p.at)
    }

    /// When backend `i`'s failback hold expires, if it is Up and the expiry can be
    /// represented.
    fn held_at(&self, i: usize) -> Option<Instant> {
        self.backends[i]
            .up_since
            .and_then(|t| t.checked_add(self.policy.failback_hold))
    }

    /// The highest-priority eligible backend.
    fn best_eligible(&self) -> Option<usize> {
        self.backends.iter().position(Backend::eligible)
    }

    /// Makes `to` active, returning the move unless it already is.
    fn move_to(&mut self, now: Instant, to: Option<usize>, reason: Reason) -> Option<Move> {
        if to == self.active {
            return None;
        }
        let from = std::mem::replace(&mut self.active, to);
        Some(Move {
            from,
            to,
            reason,
            at: now,
        })
    }
}
