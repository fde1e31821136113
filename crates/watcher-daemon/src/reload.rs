//! SIGHUP: the config loaded again, with the sessions kept and only the VIPs that
//! changed rebuilt.

use std::time::Instant;

use hopwatch_bgp_driver::rib_out::Change;
use hopwatch_config as config;
use hopwatch_daemon::json;
use hopwatch_events::watcher as ev;
use hopwatch_events::{Event, Line};

use crate::vip::{self, VipRt};
use crate::{Watcher, ha};

impl Watcher {
    /// SIGHUP: load the config again; keep the sessions; rebuild only the VIPs that
    /// changed. A config with errors changes nothing.
    pub(crate) fn reload(&mut self) {
        let loaded = match config::load(&self.path) {
            Ok(l) => l,
            Err(errors) => {
                for e in &errors {
                    tracing::error!("reload refused: {e}");
                }
                json::print(&Line::now(Event::ReloadRefused(ev::ReloadRefused {
                    errors: errors.iter().map(ToString::to_string).collect(),
                })));
                return;
            }
        };
        let new = loaded.config;
        if crate::forward::layout(&new) != crate::forward::layout(&self.config) {
            let error = "the forwarding mode's tunnels ([forward] and the backends' \
                         addresses) change only at a restart"
                .to_string();
            tracing::error!("reload refused: {error}");
            json::print(&Line::now(Event::ReloadRefused(ev::ReloadRefused {
                errors: vec![error],
            })));
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
        self.ids.clear();
        let mut kept: u64 = 0;
        for v in 0..self.config.vips.len() {
            let cv = &self.config.vips[v];
            let prefix = cv.prefix;
            let src = vip::source(&self.config, cv);
            if let Some(pos) = old_vips
                .iter()
                .position(|o| o.prefix == prefix && o.source == src)
            {
                let rt = old_vips.remove(pos);
                // The checkers keep their ids; map them to the VIP's new position.
                for b in 0..rt.backends.len() {
                    self.ids.insert(rt.first_id + b, (v, b));
                }
                kept += 1;
                self.vips.push(rt);
            } else {
                match self.build_vip(v, now) {
                    Ok(rt) => self.vips.push(rt),
                    Err(e) => tracing::error!("reload: VIP {prefix}: {e}"),
                }
            }
        }
        for gone in &old_vips {
            if !self.config.vips.iter().any(|c| c.prefix == gone.prefix) {
                self.speaker.withdraw(gone.prefix);
            }
        }
        self.received.set_ours(self.vips.iter().map(|v| v.prefix));
        if old.prepend() != self.config.prepend() {
            // A new role: every announced VIP again, with the new AS path (the same
            // next hop: an implicit replacement, nothing withdrawn).
            let changes = self
                .vips
                .iter()
                .filter_map(|v| v.status(now).next_hop.map(|nh| (v.prefix, nh)))
                .map(|(p, nh)| Change::Announce(ha::route(&self.config, p, nh)))
                .collect();
            self.speaker.apply(changes);
        }
        self.sync_forwarding();
        json::print(&Line::now(Event::Reloaded(ev::Reloaded {
            vips_kept: kept,
            vips: self.vips.len() as u64,
            route_servers: self.config.route_servers.len() as u64,
        })));
    }
}
