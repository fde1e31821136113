//! A backend as the decision engine knows it: its identity from the config and its
//! health as the health checker last judged it.

use std::net::IpAddr;
use std::time::Instant;

use serde::Serialize;

/// A backend of a VIP, as configured. The engine receives these in priority order
/// (the first is the primary) and refers to them by their index in that list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BackendInfo {
    /// The operator's name for it (`ws1`), used by the API and in logs.
    pub name: String,
    /// The next hop announced for the VIP while this backend is active.
    pub next_hop: IpAddr,
}

impl BackendInfo {
    /// A backend named `name` whose next hop is `next_hop`.
    pub fn new(name: impl Into<String>, next_hop: IpAddr) -> Self {
        Self {
            name: name.into(),
            next_hop,
        }
    }
}

/// The health of a backend: the last verdict of the health checker (after its rise
/// and fall counting), or none yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// No verdict yet: never chosen, except by [`force`](super::Engine::force).
    Unknown,
    /// The last verdict was Up.
    Up,
    /// The last verdict was Down.
    Down,
}

/// The engine's record of one backend.
#[derive(Debug, Clone)]
pub(super) struct Backend {
    pub(super) info: BackendInfo,
    pub(super) health: Health,
    pub(super) drained: bool,
    /// When the current run of Up verdicts began; `None` unless Up.
    pub(super) up_since: Option<Instant>,
    /// When the health last changed (the first verdict counts as a change).
    pub(super) changed_at: Option<Instant>,
}

impl Backend {
    pub(super) fn new(info: BackendInfo) -> Self {
        Self {
            info,
            health: Health::Unknown,
            drained: false,
            up_since: None,
            changed_at: None,
        }
    }

    /// Up and not drained: a backend the policy may choose.
    pub(super) fn eligible(&self) -> bool {
        self.health == Health::Up && !self.drained
    }

    /// Records a verdict. A repeated verdict changes nothing: in particular a
    /// repeated Up does not restart the failback hold.
    pub(super) fn set_health(&mut self, now: Instant, up: bool) {
        let health = if up { Health::Up } else { Health::Down };
        if self.health != health {
            self.health = health;
            self.changed_at = Some(now);
            self.up_since = up.then_some(now);
        }
    }
}
