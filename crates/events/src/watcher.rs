//! The watcher (`hopwatch run`): its lines about health, moves and reloads, and the
//! documents of its control API (`/status`, and the answer of `/drain`,
//! `/undrain`, `/force`, `/shutdown`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::Line;
use crate::bgp::SessionState;

/// A health verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// No verdict yet.
    Unknown,
    /// Healthy: `rise` successes in a row.
    Up,
    /// Unhealthy: `fall` failures in a row.
    Down,
}

/// `health`: a backend's verdict changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthChange {
    /// The VIP (`"100.64.0.1/32"`).
    pub vip: String,
    /// The backend's name.
    pub backend: String,
    /// The verdict before.
    pub from: Health,
    /// The verdict after.
    pub to: Health,
    /// The error of the probe that decided it, `null` when it succeeded.
    pub error: Option<String>,
    /// That probe's latency, µs.
    pub latency_us: u64,
}

/// `probe_stalled`: a probe timed out while the watcher itself was not running (short
/// of CPU), so it is not counted as a failure; at most one line a second.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeStalled {
    /// The VIP.
    pub vip: String,
    /// The backend's name.
    pub backend: String,
    /// The probe's error.
    pub error: Option<String>,
    /// The probe's latency, µs.
    pub latency_us: u64,
}

/// `move`: the watcher moved a VIP; one UPDATE to every route server follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    /// The VIP.
    pub vip: String,
    /// The backend it leaves, `null` when nothing was announced.
    pub from: Option<String>,
    /// The backend it goes to, `null` for a withdrawal.
    pub to: Option<String>,
    /// The next hop announced now, `null` for a withdrawal.
    pub next_hop: Option<IpAddr>,
    /// Why: `startup`, `startup_timeout`, `failover`, `failback`, `recovery`, `drain`, `undrain`,
    /// `force`, `unforce`, `all_down`, ... (the watcher's `Reason`).
    pub reason: String,
    /// When the health report that caused it was made, µs since the epoch; `null`
    /// for a move no report caused (drain, force, a timer).
    pub detected_us: Option<u64>,
}

/// `forwarded`: the forwarding mode's routes on this watcher changed (a move, or a
/// backend's health: where its established flows go).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forwarded {
    /// How many routes were replaced or deleted.
    pub changed: usize,
    /// From the decision to the last route in the kernel, µs.
    pub took_us: u64,
}

/// `stopping`: the watcher is stopping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopping {
    /// `restart` (the route servers keep the VIPs for the graceful restart time) or
    /// `decommission` (the VIPs are withdrawn).
    pub mode: String,
    /// What asked: `SIGTERM`, `SIGINT`, `API`.
    pub why: String,
    /// Whether graceful restart is configured.
    pub graceful_restart: bool,
}

/// `routes_received`: what one route server sent that is not one of our VIPs,
/// counted rather than printed; at most once a second, at End-of-RIB and when the
/// session goes down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutesReceived {
    /// The route server.
    pub peer: IpAddr,
    /// Routes announced that are not our VIPs.
    pub foreign_announced: u64,
    /// Routes withdrawn that are not our VIPs.
    pub foreign_withdrawn: u64,
    /// Lines about our VIPs not printed (past 100 a second).
    pub lines_suppressed: u64,
    /// When the counted window started, µs since the epoch.
    pub since_us: Option<u64>,
}

/// `foreign_vip_route`: a route server sent a route for one of our VIPs that is
/// neither ours nor our pair's; it takes part of the VIP's traffic wherever the
/// route server prefers it or joins it into ECMP with ours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignVipRoute {
    /// The route server.
    pub peer: IpAddr,
    /// The VIP.
    pub vip: String,
    /// The route's next hop.
    pub next_hop: IpAddr,
    /// Its AS path.
    pub as_path: String,
    /// Why it is not ours.
    pub reason: String,
}

/// `reload_refused`: SIGHUP found a config with errors; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadRefused {
    /// Each error, as `hopwatch check` prints it.
    pub errors: Vec<String>,
}

/// `reloaded`: SIGHUP loaded the config again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reloaded {
    /// VIPs kept as they were (their checkers and state untouched).
    pub vips_kept: u64,
    /// VIPs now.
    pub vips: u64,
    /// Route servers now.
    pub route_servers: u64,
}

/// `GET /status`: the whole watcher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// When the answer was made, µs since the epoch.
    pub ts_us: u64,
    /// Each VIP.
    pub vips: Vec<VipStatus>,
    /// Each route server session.
    pub sessions: Vec<SessionStatus>,
    /// The last 50 `move` lines, newest first, as printed.
    pub recent_moves: Vec<Line>,
    /// Routes and End-of-RIB are still held until every VIP has a verdict.
    pub routes_held: bool,
    /// This watcher's role in a pair, and whose route the route servers use
    /// (`null`, and left out, from a watcher older than `[ha]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ha: Option<HaStatus>,
}

/// `ha` in `/status`: this watcher's place in a primary/standby pair (`[ha]`), and
/// what each route server tells of the VIP's route it uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaStatus {
    /// `primary`, `standby`, or `alone` (no `[ha]`).
    pub role: String,
    /// Extra copies of our AS in the AS path we announce (0 but for a standby).
    pub prepend: u8,
    /// The AS path of our announcements on eBGP sessions, as sent.
    pub as_path: String,
    /// Per route server and VIP, the VIP's route the route server last sent us.
    pub routes_seen: Vec<RouteSeen>,
}

/// The VIP's route a route server last sent this watcher: its best route, when it
/// is not ours (a route server does not send a peer its own route back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteSeen {
    /// The route server.
    pub peer: IpAddr,
    /// The VIP.
    pub vip: String,
    /// The route's next hop, `null` when the route server sent none (or withdrew it).
    pub next_hop: Option<IpAddr>,
    /// Its AS path, `null` when none was received.
    pub as_path: Option<String>,
    /// Whose it is: `foreign` when it is neither ours nor our pair's (another
    /// origin AS, or in next-hop mode a next hop that is none of the VIP's
    /// backends: see the `foreign_vip_route` event); otherwise by the copies of its
    /// origin AS at the end of the path against ours: `primary` (fewer: a more
    /// preferred watcher's), `standby` (more), `same-preference` (as many: our own
    /// route echoed, or a watcher as preferred as us, which route servers would join
    /// into ECMP), or `none` (nothing received: the route server uses ours, or has
    /// no route).
    pub whose: String,
}

impl Status {
    /// The moves of `recent_moves`, with their timestamps, newest first.
    pub fn moves(&self) -> impl Iterator<Item = (u64, &Move)> {
        self.recent_moves.iter().filter_map(|l| match &l.event {
            crate::Event::Move(m) => Some((l.ts_us, m)),
            _ => None,
        })
    }
}

/// One VIP in `/status` and in the answer of a control operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VipStatus {
    /// The VIP.
    pub prefix: String,
    /// The backend it is on, `null` when withdrawn or not yet announced.
    pub active: Option<String>,
    /// The next hop announced, `null` when none.
    pub next_hop: Option<IpAddr>,
    /// The backend it is forced to, `null` when not forced.
    pub forced: Option<String>,
    /// Waiting for its first health verdicts.
    pub starting: bool,
    /// A failback waiting for its hold, `null` when none.
    pub pending_failback: Option<PendingFailback>,
    /// Its backends, in priority order.
    pub backends: Vec<BackendStatus>,
}

/// A failback waiting for its hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingFailback {
    /// The backend the VIP will go back to.
    pub backend: Option<String>,
    /// In how long, ms.
    pub in_ms: u64,
}

/// One backend of a VIP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendStatus {
    /// Its name.
    pub name: String,
    /// Its next hop.
    pub next_hop: IpAddr,
    /// Its check (`http://...`, `tcp://...`).
    pub check: String,
    /// The engine's view of its health.
    pub health: Health,
    /// Taken out of service by `drain`.
    pub drained: bool,
    /// How long it has been up, ms; `null` when it is not.
    pub up_for_ms: Option<u64>,
    /// Its last probe, `null` before the first.
    pub last_probe: Option<LastProbe>,
}

/// A backend's last probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastProbe {
    /// It succeeded.
    pub ok: bool,
    /// Its latency, µs.
    pub latency_us: u64,
    /// Its error, `null` when it succeeded.
    pub error: Option<String>,
    /// How long ago it ended, ms.
    pub age_ms: u64,
}

/// A route server session in `/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStatus {
    /// The route server.
    pub peer: IpAddr,
    /// The session's state.
    pub state: SessionState,
    /// Since when, µs since the epoch.
    pub since_us: u64,
}

/// The answer of `POST /drain`, `/undrain` and `/force`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlAnswer {
    /// The VIP moved (a `move` line was printed).
    pub moved: bool,
    /// The VIP after the operation.
    pub vip: VipStatus,
}

/// The answer of `POST /shutdown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShutdownAnswer {
    /// `restart` or `decommission`, as the `stopping` line's `mode`.
    pub stopping: String,
}

/// Any API's answer to a request it refused (a status that is not 2xx).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// What was wrong, at most 64 characters of the input echoed.
    pub error: String,
}
