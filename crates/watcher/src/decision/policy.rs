//! The failover policy of a VIP: the `[failover]` section of the config, as the
//! decision engine reads it.
//!
//! Plain data with defaults that match the seed: preempt (the seed failed back to
//! ws1 when it answered again), a 30 s failback hold (the cloud accepts about one
//! change of a route per 30 s, so failing back sooner can only cost an outage), and
//! `keep` when everything is down (the seed "changed nothing" then). Parsing
//! durations such as `"30s"` is the config loader's job; `AllDown` deserializes
//! from `"keep"` / `"withdraw"` as written in the config.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What to announce when no backend of a VIP is eligible (none is both Up and
/// undrained).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllDown {
    /// Leave the last next hop announced: no move. A stale next hop costs nothing
    /// more than no route when every backend is down, and it spares the cloud two
    /// route changes (withdraw, then announce) when a backend comes back.
    #[default]
    Keep,
    /// Withdraw the VIP (a move to `None`), so that clients fail fast or another
    /// site's announcement of the same prefix takes over.
    Withdraw,
}

/// How the decision engine chooses and changes the active backend of one VIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `true`: the active backend is the highest-priority eligible one, and a
    /// recovered higher-priority backend takes the VIP back after
    /// [`failback_hold`](Self::failback_hold). `false`: the active backend keeps
    /// the VIP for as long as it is eligible.
    pub preempt: bool,
    /// How long a higher-priority backend must have been continuously Up before the
    /// VIP moves back to it (failback). Each Down verdict restarts it. A move away
    /// from a failed backend never waits for it. `Duration::MAX` means never fail
    /// back on health alone.
    pub failback_hold: Duration,
    /// What to announce when no backend is eligible.
    pub all_down: AllDown,
    /// The longest the engine waits at start for a first verdict on every backend
    /// before it decides from what it knows.
    pub startup_wait: Duration,
}

impl Policy {
    /// The default [`failback_hold`](Self::failback_hold): 30 s, because the cloud
    /// appeared to accept only one change of a given route per about 30 s. A
    /// failback sooner than that after a failover may be refused or delayed, and a
    /// primary that has not stayed up that long is not yet trusted.
    pub const DEFAULT_FAILBACK_HOLD: Duration = Duration::from_secs(30);

    /// The default [`startup_wait`](Self::startup_wait): 2 s, as in the config's
    /// `[failover]` defaults. First verdicts normally take `rise` (or `fall`)
    /// intervals, tens of milliseconds with the example config; and 2 s is far
    /// inside the seed's 10 s graceful-restart time, so a restarted watcher
    /// re-announces before the route servers drop the route they kept for it.
    pub const DEFAULT_STARTUP_WAIT: Duration = Duration::from_secs(2);
}

impl Default for Policy {
    /// Preempt, a 30 s failback hold, keep when all are down, wait at most 2 s at
    /// start.
    fn default() -> Self {
        Self {
            preempt: true,
            failback_hold: Self::DEFAULT_FAILBACK_HOLD,
            all_down: AllDown::Keep,
            startup_wait: Self::DEFAULT_STARTUP_WAIT,
        }
    }
}
