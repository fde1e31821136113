//! The watcher's side of a primary/standby pair (`[ha]`, see `config::ha`): the
//! AS path of its announcements, and what the route servers tell of the route they
//! use.
//!
//! A route server sends each peer its best route for a prefix unless that route came
//! from the peer itself. So the standby, while the primary's route is in use,
//! receives the primary's route (its AS path ends with fewer copies of the origin AS
//! than the standby's own); when it receives nothing, its own route is in use (or
//! none). The primary normally receives nothing; the standby's route reaching it
//! means a route server prefers the standby's: the primary's announcement is missing
//! there. Route servers that filter routes holding the receiver's AS (sender-side
//! loop detection, an option in FRR) send nothing either way; then `whose` stays
//! `none`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hopwatch_bgp::message::AsPath;
use hopwatch_bgp::{Asn, Prefix};
use hopwatch_bgp_driver::{DriverEvent, EventKind, Route};
use hopwatch_events::watcher::{HaStatus, RouteSeen};

use hopwatch_config::Config;

/// The VIP's route to announce with next hop `nh`: our AS `prepend` more times on
/// a standby (the session adds it once more on eBGP).
pub fn route(c: &Config, prefix: Prefix, backend: IpAddr) -> Route {
    // Forwarding mode: the next hop is this watcher, whichever backend it forwards to.
    let nh = crate::forward::next_hop(c).unwrap_or(backend);
    let mut r = Route::new(prefix, nh);
    r.as_path = vec![c.bgp.local_as; usize::from(c.prepend())];
    r
}

/// The copies of the origin AS (the last) at the end of `path`: how much its
/// originator prepended, plus one.
pub fn origin_run(path: &[Asn]) -> usize {
    let Some(last) = path.last() else { return 0 };
    path.iter().rev().take_while(|a| *a == last).count()
}

/// What each route server last sent us for each of our VIPs.
#[derive(Debug, Default)]
pub struct Seen {
    routes: BTreeMap<(IpAddr, Prefix), (IpAddr, Vec<Asn>)>,
}

impl Seen {
    /// Notes the routes of `e` for `ours`; a session that goes down forgets its own.
    pub fn event(&mut self, e: &DriverEvent, ours: &[Prefix]) {
        match &e.kind {
            EventKind::UpdateReceived { update, .. } => {
                for p in update.withdrawn_all() {
                    self.routes.remove(&(e.peer, p));
                }
                let path: Vec<Asn> = update
                    .attributes
                    .as_path
                    .as_ref()
                    .map(|p| p.asns().collect())
                    .unwrap_or_default();
                for (p, nh) in update.announced() {
                    if ours.contains(&p) {
                        self.routes.insert((e.peer, p), (nh, path.clone()));
                    }
                }
            }
            EventKind::Down(_) => self.routes.retain(|(peer, _), _| *peer != e.peer),
            _ => {}
        }
    }

    /// `/status`'s `ha`: for every route server of the config and every VIP.
    pub fn status(&self, c: &Config, vips: &[Prefix]) -> HaStatus {
        let prepend = c.prepend();
        let ours = usize::from(prepend) + 1;
        let mut routes_seen = Vec::new();
        for rs in &c.route_servers {
            for &vip in vips {
                let seen = self.routes.get(&(rs.address, vip));
                let whose = match seen {
                    None => "none",
                    Some((_, path)) => match origin_run(path).cmp(&ours) {
                        std::cmp::Ordering::Less => "primary",
                        std::cmp::Ordering::Greater => "standby",
                        std::cmp::Ordering::Equal => "same-preference",
                    },
                };
                routes_seen.push(RouteSeen {
                    peer: rs.address,
                    vip: vip.to_string(),
                    next_hop: seen.map(|(nh, _)| *nh),
                    as_path: seen.map(|(_, p)| AsPath::sequence(p.iter().copied()).to_string()),
                    whose: whose.into(),
                });
            }
        }
        HaStatus {
            role: c.role().map_or("alone", |r| r.as_str()).into(),
            prepend,
            as_path: AsPath::sequence(std::iter::repeat_n(c.bgp.local_as, ours)).to_string(),
            routes_seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_run_counts_the_prepends_of_the_originator() {
        let a = |v: &[u32]| v.iter().map(|&n| Asn(n)).collect::<Vec<_>>();
        assert_eq!(origin_run(&a(&[])), 0);
        assert_eq!(origin_run(&a(&[65515, 65001])), 1);
        assert_eq!(origin_run(&a(&[65515, 65001, 65001, 65001])), 3);
        // A route server that prepends nothing (transparent).
        assert_eq!(origin_run(&a(&[65001, 65001])), 2);
        // Another AS's watcher.
        assert_eq!(origin_run(&a(&[65515, 65002])), 1);
    }
}
