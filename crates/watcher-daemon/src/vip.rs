//! One VIP at run time: its decision engine, its backends' health checkers, and
//! what the API shows of them.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hopwatch_bgp::Prefix;
use hopwatch_config::{self as config, Config};
use hopwatch_events::watcher::{BackendStatus, Health, LastProbe as LastProbeDoc};
use hopwatch_events::watcher::{PendingFailback, VipStatus};
use hopwatch_health::{CheckSpec, Report, Target};
use hopwatch_watcher::{BackendInfo, Engine, Policy};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

/// The last probe of a backend, for the API.
#[derive(Debug, Clone)]
pub struct LastProbe {
    pub ok: bool,
    pub latency: Duration,
    pub error: Option<String>,
    pub at: Instant,
}

/// A backend at run time.
pub struct BackendRt {
    pub name: String,
    pub next_hop: IpAddr,
    pub check: String,
    pub last: Option<LastProbe>,
    /// Metric labels, built once.
    pub labels: super::metrics::BackendLabels,
    /// Handles to this backend's per-probe metrics, looked up once.
    pub metrics: super::metrics::BackendMetrics,
    checker: JoinHandle<()>,
}

impl Drop for BackendRt {
    fn drop(&mut self) {
        self.checker.abort();
    }
}

/// A VIP at run time.
pub struct VipRt {
    pub prefix: Prefix,
    pub engine: Engine,
    pub backends: Vec<BackendRt>,
    /// The config it was built from, to tell on reload whether it changed.
    pub source: String,
    /// The report id of backend 0; backend b reports as `first_id + b`.
    pub first_id: usize,
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

/// The probe settings of backend `b` of `vip`, defaults from `[health]`.
pub fn check_spec(c: &Config, be: &config::Backend) -> Result<CheckSpec, String> {
    let h = &c.health;
    let mut target = Target::parse(&be.check).map_err(|e| e.to_string())?;
    if let Target::Http {
        expect_status,
        body_contains,
        ..
    } = &mut target
    {
        *expect_status = be.expect_status.unwrap_or(h.expect_status);
        *body_contains = be.body.clone().or_else(|| h.body.clone());
    }
    let interval = be.interval.unwrap_or(h.interval);
    let timeout = be.timeout.unwrap_or(h.timeout);
    let mut spec = CheckSpec::new(target);
    spec.interval = interval;
    spec.timeout = timeout;
    spec.rise = be.rise.unwrap_or(h.rise);
    spec.fall = be.fall.unwrap_or(h.fall);
    spec.jitter = h.jitter;
    spec.watch_connection = be.watch_connection.unwrap_or(h.watch_connection);
    spec.source = be.source.or(h.source);
    spec.max_in_flight = CheckSpec::default_max_in_flight(interval, timeout);
    Ok(spec)
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

/// Builds the VIP's engine and starts one checker per backend. Report ids are
/// `first_id + backend index`.
pub fn build(
    c: &Config,
    v: &config::Vip,
    first_id: usize,
    tx: &UnboundedSender<Report>,
    metrics: &super::metrics::Metrics,
    now: Instant,
) -> Result<VipRt, String> {
    let mut backends = Vec::new();
    for (i, be) in v.backends.iter().enumerate() {
        let spec = check_spec(c, be).map_err(|e| format!("{}: {e}", be.name))?;
        let labels = super::metrics::BackendLabels {
            vip: v.prefix.to_string(),
            backend: be.name.clone(),
        };
        backends.push(BackendRt {
            name: be.name.clone(),
            next_hop: be.next_hop,
            check: be.check.clone(),
            last: None,
            metrics: metrics.backend(&labels),
            labels,
            checker: hopwatch_health::spawn_checker(first_id + i, spec, tx.clone()),
        });
    }
    Ok(VipRt {
        prefix: v.prefix,
        engine: Engine::new(infos(v), policy(c), now),
        backends,
        source: source(c, v),
        first_id,
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
    /// Records a probe result for the API.
    pub fn record(&mut self, b: usize, r: &Report) {
        if let Some(be) = self.backends.get_mut(b) {
            be.last = Some(LastProbe {
                ok: r.ok,
                latency: r.latency,
                error: r.error.clone(),
                at: r.at,
            });
        }
    }

    /// The backend index for a name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.engine.index_of(name)
    }

    /// The API's view of this VIP.
    pub fn status(&self, now: Instant) -> VipStatus {
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
                last_probe: rt.last.as_ref().map(|p| LastProbeDoc {
                    ok: p.ok,
                    latency_us: u64::try_from(p.latency.as_micros()).unwrap_or(u64::MAX),
                    error: p.error.clone(),
                    age_ms: millis(now.saturating_duration_since(p.at)),
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
