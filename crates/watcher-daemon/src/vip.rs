//! One VIP at run time: its decision engine, its backends and the probe each
//! takes its verdicts from, and what the API shows of them.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hopwatch_bgp::Prefix;
use hopwatch_config::{self as config, Config};
use hopwatch_events::watcher::{BackendStatus, Health, LastProbe as LastProbeDoc};
use hopwatch_events::watcher::{PendingFailback, VipStatus};
use hopwatch_watcher::{BackendInfo, Engine, Policy};

use crate::probes::Probes;

/// A backend at run time.
pub struct BackendRt {
    pub name: String,
    pub next_hop: IpAddr,
    pub check: String,
    /// The report id of the probe whose verdicts this backend takes (shared with
    /// every backend of another VIP that names the same check).
    pub probe: usize,
    /// Metric labels, built once.
    pub labels: super::metrics::BackendLabels,
}

/// A VIP at run time.
pub struct VipRt {
    pub prefix: Prefix,
    pub engine: Engine,
    pub backends: Vec<BackendRt>,
    /// The config it was built from, to tell on reload whether it changed.
    pub source: String,
}

/// The engine's policy from `[failover]`.
pub fn policy(c: &Config) -> Policy {
    Policy {
        preempt: c.failover.preempt,
        failback_hold: c.failover.failback_hold,
        all_down: c.failover.all_down,
        startup_wait: c.failover.startup_wait,
    }
}

/// The engine's view of the VIP's backends, in priority order.
pub fn infos(v: &config::Vip) -> Vec<BackendInfo> {
    v.backends
        .iter()
        .map(|b| BackendInfo::new(b.name.clone(), b.next_hop))
        .collect()
}

/// A fingerprint of everything that shapes a VIP at run time, to rebuild only what a
/// reload changed.
pub fn source(c: &Config, v: &config::Vip) -> String {
    format!("{:?}|{:?}|{:?}", v, c.health, c.failover)
}

/// Builds the VIP's engine, and finds each backend's probe: a running one with the
/// same check, or one started now.
pub fn build(
    c: &Config,
    v: &config::Vip,
    probes: &mut Probes,
    metrics: &super::metrics::Metrics,
    now: Instant,
) -> Result<VipRt, String> {
    let mut backends = Vec::new();
    for be in &v.backends {
        let spec = config::probes::check_spec(c, be).map_err(|e| format!("{}: {e}", be.name))?;
        backends.push(BackendRt {
            name: be.name.clone(),
            next_hop: be.next_hop,
            check: be.check.clone(),
            probe: probes.acquire(spec, &be.check, metrics),
            labels: super::metrics::BackendLabels {
                vip: v.prefix.to_string(),
                backend: be.name.clone(),
            },
        });
    }
    Ok(VipRt {
        prefix: v.prefix,
        engine: Engine::new(infos(v), policy(c), now),
        backends,
        source: source(c, v),
    })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The engine's view of a backend's health, as the contract prints it.
fn engine_health(h: hopwatch_watcher::Health) -> Health {
    match h {
        hopwatch_watcher::Health::Unknown => Health::Unknown,
        hopwatch_watcher::Health::Up => Health::Up,
        hopwatch_watcher::Health::Down => Health::Down,
    }
}

/// A checker's verdict, as the contract prints it.
pub fn probe_health(h: hopwatch_health::Health) -> Health {
    match h {
        hopwatch_health::Health::Unknown => Health::Unknown,
        hopwatch_health::Health::Up => Health::Up,
        hopwatch_health::Health::Down => Health::Down,
    }
}

impl VipRt {
    /// The backend index for a name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.engine.index_of(name)
    }

    /// The API's view of this VIP; the last probe of each backend from `probes`.
    pub fn status(&self, now: Instant, probes: &Probes) -> VipStatus {
        let st = self.engine.status();
        let name = |i: Option<usize>| i.and_then(|i| self.backends.get(i)).map(|b| b.name.clone());
        let backends = st
            .backends
            .iter()
            .zip(&self.backends)
            .map(|(s, rt)| BackendStatus {
                name: s.name.clone(),
                next_hop: s.next_hop,
                check: rt.check.clone(),
                health: engine_health(s.health),
                drained: s.drained,
                up_for_ms: s.up_since.map(|t| millis(now.saturating_duration_since(t))),
                last_probe: probes.get(rt.probe).and_then(|p| p.last.as_ref()).map(|p| {
                    LastProbeDoc {
                        ok: p.ok,
                        latency_us: u64::try_from(p.latency.as_micros()).unwrap_or(u64::MAX),
                        error: p.error.clone(),
                        age_ms: millis(now.saturating_duration_since(p.at)),
                    }
                }),
            })
            .collect();
        VipStatus {
            prefix: self.prefix.to_string(),
            active: name(st.active),
            next_hop: st
                .active
                .and_then(|i| self.backends.get(i))
                .map(|b| b.next_hop),
            forced: name(st.forced),
            starting: st.starting,
            pending_failback: st.pending_failback.map(|p| PendingFailback {
                backend: name(Some(p.backend)),
                in_ms: millis(p.at.saturating_duration_since(now)),
            }),
            backends,
        }
    }
}
