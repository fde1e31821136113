//! SIGHUP: the config read again off the main loop (bounded in time), with the
//! sessions kept, the VIPs whose backends changed rebuilt, and the others keeping
//! their state under the new settings.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hopwatch_bgp_driver::rib_out::Change;
use hopwatch_config as config;
use hopwatch_daemon::json;
use hopwatch_events::watcher as ev;
use hopwatch_events::{Event, Line};
use tokio::sync::oneshot;

use crate::vip::{self, VipRt};
use crate::{Watcher, ha};

/// The longest a reload may take to read the config. The file may be a FIFO (allowed
/// on purpose: a config generated on the fly) or sit on a hung network mount; the
/// read runs on a thread of its own, and a read past this is refused.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// What loading the config gave.
pub type Loaded = Result<config::Loaded, Vec<config::ConfigError>>;

/// A config being read for a reload.
pub struct Reading {
    rx: oneshot::Receiver<Loaded>,
    deadline: tokio::time::Instant,
}

/// How a reload's read ended.
pub enum Read {
    /// The config was read (and checked); boxed: it is large, and read once a reload.
    Done(Box<Loaded>),
    /// It took longer than [`READ_TIMEOUT`].
    TimedOut,
    /// The thread that reads it could not start, or ended without an answer.
    Lost,
}

/// Starts reading the config at `path` on a thread of its own: reading never
/// stops the probes, the moves or the API (a FIFO nobody writes to, or a hung
/// mount, would otherwise freeze the watcher's loop). The thread is not a tokio blocking task: one stuck in `open` for ever
/// would hold up the runtime's shutdown; a plain thread ends with the process.
pub fn start_reading(path: PathBuf) -> Reading {
    let (tx, rx) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("config-reload".into())
        .spawn(move || {
            let _ = tx.send(config::load(&path));
        });
    if let Err(e) = spawned {
        tracing::error!("reload: cannot start a thread to read the config: {e}");
    }
    Reading {
        rx,
        deadline: tokio::time::Instant::now() + READ_TIMEOUT,
    }
}

/// Waits for the read under way, if any (for ever if none): its result, or
/// [`Read::TimedOut`] at its deadline.
pub async fn finished(reading: &mut Option<Reading>) -> Read {
    let Some(r) = reading else {
        return std::future::pending().await;
    };
    tokio::select! {
        loaded = &mut r.rx => match loaded {
            Ok(l) => Read::Done(Box::new(l)),
            Err(_) => Read::Lost,
        },
        () = tokio::time::sleep_until(r.deadline) => Read::TimedOut,
    }
}

fn refuse(errors: Vec<String>) {
    for e in &errors {
        tracing::error!("reload refused: {e}");
    }
    json::print(&Line::now(Event::ReloadRefused(ev::ReloadRefused {
        errors,
    })));
}

impl Watcher {
    /// SIGHUP, once the config is read ([`start_reading`]): keep the sessions;
    /// rebuild only the VIPs whose backends changed, keep the state of those whose
    /// settings alone did. A config with errors, or one that could not be read in
    /// time, changes nothing.
    pub(crate) fn reload(&mut self, read: Read) {
        let loaded = match read {
            Read::Done(l) => match *l {
                Ok(l) => l,
                Err(errors) => {
                    refuse(errors.iter().map(ToString::to_string).collect());
                    return;
                }
            },
            Read::Lost => {
                refuse(vec![format!(
                    "{}: the thread reading it ended without an answer; nothing changed",
                    self.path.display()
                )]);
                return;
            }
            Read::TimedOut => {
                refuse(vec![format!(
                    "{}: not read within {} s (a FIFO nobody writes to, a hung mount?); \
                     nothing changed",
                    self.path.display(),
                    READ_TIMEOUT.as_secs()
                )]);
                return;
            }
        };
        let new = loaded.config;
        if crate::forward::layout(&new) != crate::forward::layout(&self.config) {
            refuse(vec![
                "the forwarding mode's tunnels ([forward] and the backends' addresses) \
                 change only at a restart"
                    .to_string(),
            ]);
            return;
        }
        let old = std::mem::replace(&mut self.config, new);
        // The API's token applies to the next request.
        if old.api.token != self.config.api.token {
            self.token.set(self.config.api.token.clone());
            tracing::info!("[api] token changed: applies to the next request");
        }
        let needs_restart = format!("{:?}", old.bgp) != format!("{:?}", self.config.bgp)
            || old.api.listen != self.config.api.listen;
        if needs_restart {
            tracing::warn!("[bgp] and [api] listen changes take effect at the next restart");
        }

        // Route servers: add the new, stop the removed.
        for rs in self.config.route_servers.clone() {
            if !old.route_servers.iter().any(|o| o.address == rs.address) {
                self.add_peer(&rs);
            }
        }
        for o in &old.route_servers {
            if !self
                .config
                .route_servers
                .iter()
                .any(|n| n.address == o.address)
            {
                self.speaker.remove_peer(o.address);
            }
        }
        // VIPs: keep the unchanged ones as they are, rebuild the others.
        let now = Instant::now();
        let mut old_vips: Vec<VipRt> = std::mem::take(&mut self.vips);
        let mut kept: u64 = 0;
        let mut retimed: u64 = 0;
        for v in 0..self.config.vips.len() {
            let cv = &self.config.vips[v];
            let prefix = cv.prefix;
            let src = vip::source(&self.config, cv);
            if let Some(pos) = old_vips
                .iter()
                .position(|o| o.prefix == prefix && o.source == src)
            {
                let rt = old_vips.remove(pos);
                kept += 1;
                self.vips.push(rt);
            } else if let Some(pos) = old_vips
                .iter()
                .position(|o| o.prefix == prefix && o.engine.has_backends(&vip::infos(cv)))
            {
                // The same backends with other settings ([health], [failover], a
                // check): the engine stays, with its drains, forces, holds and
                // verdicts, under the new policy, and its backends take the probes
                // the new config says (new ones where no probe runs it yet). Their
                // first verdicts repeat what the engine knows (a repeated verdict
                // changes nothing) or are news. Rebuilding it
                // would forget all of that and, in the forwarding mode, remove the
                // VIP's route until fresh verdicts came.
                let old = old_vips.remove(pos);
                match self.build_vip(v, now) {
                    Ok(mut rt) => {
                        rt.engine = old.engine;
                        rt.engine.set_policy(vip::policy(&self.config));
                        for (b, be) in rt.backends.iter().enumerate() {
                            let up = match rt.engine.status().backends[b].health {
                                hopwatch_watcher::Health::Up => 1,
                                hopwatch_watcher::Health::Down => 0,
                                hopwatch_watcher::Health::Unknown => -1,
                            };
                            self.metrics.backend_up.get_or_create(&be.labels).set(up);
                        }
                        retimed += 1;
                        self.vips.push(rt);
                    }
                    Err(e) => tracing::error!("reload: VIP {prefix}: {e}"),
                }
            } else {
                match self.build_vip(v, now) {
                    Ok(rt) => self.vips.push(rt),
                    Err(e) => tracing::error!("reload: VIP {prefix}: {e}"),
                }
            }
        }
        if retimed > 0 {
            tracing::info!(
                "reload: {retimed} VIP(s) keep their state (drains, forces, holds, \
                 verdicts) under the new settings"
            );
        }
        for gone in &old_vips {
            if !self.config.vips.iter().any(|c| c.prefix == gone.prefix) {
                self.speaker.withdraw(gone.prefix);
            }
        }
        // Probes no VIP names any more stop here; the others serve the VIPs at
        // their new positions.
        self.probes.assign(&self.vips);
        self.note_ours();
        if old.prepend() != self.config.prepend() {
            // A new role: every announced VIP again, with the new AS path (the same
            // next hop: an implicit replacement, nothing withdrawn).
            let changes = self
                .vips
                .iter()
                .filter_map(|v| {
                    let nh = v.status(now, &self.probes).next_hop?;
                    Some((v.prefix, nh))
                })
                .map(|(p, nh)| Change::Announce(ha::route(&self.config, p, nh)))
                .collect();
            self.speaker.apply(changes);
        }
        // A VIP that names a check already probed takes its verdict now.
        self.catch_up();
        self.sync_forwarding();
        json::print(&Line::now(Event::Reloaded(ev::Reloaded {
            vips_kept: kept,
            vips: self.vips.len() as u64,
            route_servers: self.config.route_servers.len() as u64,
        })));
    }
}
