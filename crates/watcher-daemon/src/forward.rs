//! The forwarding mode in `hopwatch run` (`[forward]`): the announcements' next hop
//! is this watcher, and the engines' decisions drive the kernel's forwarding
//! ([`hopwatch_forward::Forwarder`]) instead of the route.
//!
//! The forwarder lives in a task of its own that always carries out the *latest*
//! state (a `watch` channel): netlink calls never block the main loop, and a burst
//! of decisions costs one pass. On a restart the kernel's forwarding is left as it
//! is, so traffic keeps flowing to the last chosen backend while the route servers
//! keep the VIP for the graceful restart time; decommissioning removes it.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use anyhow::Context;
use hopwatch_config::Config;
use hopwatch_daemon::json;
use hopwatch_events::watcher::Forwarded;
use hopwatch_events::{Event, Line};
use hopwatch_forward::{Forwarder, Layout, Settings, VipState};
use hopwatch_watcher::Health;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::vip::VipRt;

/// The settings of the forwarder from `[forward]`.
pub fn settings(c: &Config) -> Option<Settings> {
    let f = c.forward.as_ref()?;
    Some(Settings {
        address: f.address,
        port: f.port,
        vni: f.vni,
        mark: f.mark,
        table: f.table,
        flow_timeout: f.flow_timeout,
        max_flows: f.max_flows,
    })
}

/// The layout of `c`'s VIPs.
pub fn layout(c: &Config) -> Option<Layout> {
    let settings = settings(c)?;
    let vips: Vec<_> = c
        .vips
        .iter()
        .map(|v| {
            let backends = v
                .backends
                .iter()
                .filter_map(|b| match b.next_hop {
                    IpAddr::V4(a) => Some(a),
                    IpAddr::V6(_) => None,
                })
                .collect();
            (v.prefix, backends)
        })
        .collect();
    Some(Layout::new(settings, &vips))
}

/// The next hop every announcement carries in forwarding mode: this watcher.
pub fn next_hop(c: &Config) -> Option<IpAddr> {
    c.forward.as_ref().map(|f| IpAddr::V4(f.address))
}

/// What the forwarder should carry out for `vips` now.
pub fn states(vips: &[VipRt]) -> Vec<VipState> {
    vips.iter()
        .map(|v| {
            let status = v.engine.status();
            let v4 = |ip: IpAddr| match ip {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            };
            VipState {
                prefix: v.prefix,
                active: v
                    .engine
                    .active()
                    .and_then(|i| v.backends.get(i))
                    .and_then(|b| v4(b.next_hop)),
                backends: status
                    .backends
                    .iter()
                    .filter_map(|b| Some((v4(b.next_hop)?, b.health != Health::Down)))
                    .collect::<Vec<(Ipv4Addr, bool)>>(),
            }
        })
        .collect()
}

/// The forwarder's task and the channel that feeds it.
pub struct Forwarding {
    tx: watch::Sender<(Instant, Vec<VipState>)>,
    task: JoinHandle<Forwarder>,
}

impl Forwarding {
    /// Sets the forwarding up for `c` (before any route is announced, so the VIP's
    /// next hop never points at a watcher that does not forward yet).
    pub async fn start(c: &Config) -> anyhow::Result<Option<Forwarding>> {
        let Some(layout) = layout(c) else {
            // Next-hop mode: a forwarding mode this host ran before (its `[forward]`
            // since removed) would go on forwarding the VIP with nobody to move it.
            // Unprivileged, this finds nothing to remove and changes nothing.
            match hopwatch_forward::cleanup::watcher_leftovers().await {
                Ok(r) if !r.is_empty() => {
                    tracing::warn!(
                        "no [forward] in the config: {r} (left by an earlier forwarding mode)"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(
                    "no [forward] in the config, and what an earlier forwarding mode left \
                     could not be removed: {e} (`hopwatch cleanup` removes it by hand)"
                ),
            }
            return Ok(None);
        };
        let tunnels = layout.tunnels.len();
        let mut f = Forwarder::start(layout)
            .await
            .context("setting up the forwarding mode (needs CAP_NET_ADMIN and nft)")?;
        tracing::info!("forwarding mode: {tunnels} tunnels set up");
        let (tx, mut rx) = watch::channel((Instant::now(), Vec::new()));
        let task = tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let (decided, states) = rx.borrow_and_update().clone();
                match f.apply(&states).await {
                    Ok(0) => {}
                    Ok(changed) => json::print(&Line::now(Event::Forwarded(Forwarded {
                        changed,
                        took_us: u64::try_from(decided.elapsed().as_micros()).unwrap_or(u64::MAX),
                    }))),
                    Err(e) => tracing::error!("forwarding: {e}"),
                }
            }
            f
        });
        Ok(Some(Forwarding { tx, task }))
    }

    /// Carries out `states` (if they differ from the last).
    pub fn update(&self, states: Vec<VipState>) {
        self.tx.send_if_modified(|cur| {
            if cur.1 == states {
                return false;
            }
            *cur = (Instant::now(), states);
            true
        });
    }

    /// Stops the task; with `remove`, takes the forwarding down too.
    pub async fn stop(self, remove: bool) {
        drop(self.tx);
        match self.task.await {
            Ok(f) if remove => {
                if let Err(e) = f.remove().await {
                    tracing::error!("removing the forwarding: {e}");
                }
            }
            Ok(_) => tracing::info!("forwarding left in place for the restart"),
            Err(e) => tracing::error!("forwarding task: {e}"),
        }
    }
}
