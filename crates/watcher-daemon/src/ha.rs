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

use std::collections::{BTreeMap, BTreeSet, HashSet};
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

/// Why a route a route server sent for our VIP `vip` is neither ours nor our
/// pair's, if it is not: its origin AS is not ours, or, in next-hop mode, its next
/// hop is none of the VIP's backends: such a route, preferred to ours or merged
/// into ECMP with it, takes part of the VIP's traffic. In forwarding mode the pair's next hop is the other
/// watcher's own address, which this one does not know: only the origin is judged.
pub fn foreign(c: &Config, vip: Prefix, next_hop: IpAddr, path: &[Asn]) -> Option<String> {
    match path.last() {
        None => return Some("it has no AS path: no watcher originated it".into()),
        Some(&origin) if origin != c.bgp.local_as => {
            return Some(format!(
                "its origin AS {origin} is not ours ({})",
                c.bgp.local_as
            ));
        }
        Some(_) => {}
    }
    if crate::forward::next_hop(c).is_some() {
        return None;
    }
    let backends = c.vips.iter().find(|v| v.prefix == vip)?;
    if backends.backends.iter().any(|b| b.next_hop == next_hop) {
        None
    } else {
        Some(format!(
            "its next hop {next_hop} is none of the VIP's backends"
        ))
    }
}

/// A foreign route for one of our VIPs, newly received (see [`foreign`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Foreign {
    /// The route server that sent it.
    pub peer: IpAddr,
    /// Our VIP.
    pub vip: Prefix,
    /// Its next hop.
    pub next_hop: IpAddr,
    /// Its AS path.
    pub as_path: String,
    /// Why it is not ours.
    pub why: String,
}

/// What each route server last sent us for each of our VIPs.
///
/// Every lookup is by VIP, never a scan of every VIP: a route server sends a
/// watcher of 1,000 VIPs 1,000 routes at once (the pair's, at each move), and a
/// scan per route, or of all routes per event, would keep the watcher busy for
/// seconds.
#[derive(Debug, Default)]
pub struct Seen {
    /// By VIP, then route server: a VIP's routes are one range.
    routes: BTreeMap<(Prefix, IpAddr), (IpAddr, Vec<Asn>)>,
    /// Our VIPs.
    ours: HashSet<Prefix>,
}

impl Seen {
    /// The VIPs whose routes are noted (again after a reload).
    pub fn set_ours(&mut self, vips: impl IntoIterator<Item = Prefix>) {
        self.ours = vips.into_iter().collect();
    }

    /// Notes the routes of `e` for our VIPs; a session that goes down forgets its
    /// own. Returns each foreign route that is new or changed, and the VIPs whose
    /// routes changed (every VIP the route server had sent, for a session down).
    pub fn event(&mut self, e: &DriverEvent, c: &Config) -> (Vec<Foreign>, BTreeSet<Prefix>) {
        let mut found = Vec::new();
        let mut touched = BTreeSet::new();
        match &e.kind {
            EventKind::UpdateReceived { update, .. } => {
                for p in update.withdrawn_all() {
                    if self.routes.remove(&(p, e.peer)).is_some() {
                        touched.insert(p);
                    }
                }
                let path: Vec<Asn> = update
                    .attributes
                    .as_path
                    .as_ref()
                    .map(|p| p.asns().collect())
                    .unwrap_or_default();
                for (p, nh) in update.announced() {
                    if !self.ours.contains(&p) {
                        continue;
                    }
                    let new = (nh, path.clone());
                    let before = self.routes.insert((p, e.peer), new.clone());
                    if before.as_ref() == Some(&new) {
                        continue;
                    }
                    touched.insert(p);
                    if let Some(why) = foreign(c, p, nh, &path) {
                        found.push(Foreign {
                            peer: e.peer,
                            vip: p,
                            next_hop: nh,
                            as_path: AsPath::sequence(path.iter().copied()).to_string(),
                            why,
                        });
                    }
                }
            }
            EventKind::Down(_) => self.routes.retain(|&(vip, peer), _| {
                if peer == e.peer {
                    touched.insert(vip);
                }
                peer != e.peer
            }),
            _ => {}
        }
        (found, touched)
    }

    /// How many route servers send a foreign route for `vip` now.
    pub fn foreign_count(&self, c: &Config, vip: Prefix) -> usize {
        let from = (vip, IpAddr::from([0, 0, 0, 0]));
        self.routes
            .range(from..)
            .take_while(|((p, _), _)| *p == vip)
            .filter(|(_, (nh, path))| foreign(c, vip, *nh, path).is_some())
            .count()
    }

    /// `/status`'s `ha`: for every route server of the config and every VIP.
    pub fn status(&self, c: &Config, vips: &[Prefix]) -> HaStatus {
        let prepend = c.prepend();
        let ours = usize::from(prepend) + 1;
        let mut routes_seen = Vec::new();
        for rs in &c.route_servers {
            for &vip in vips {
                let seen = self.routes.get(&(vip, rs.address));
                let whose = match seen {
                    None => "none",
                    Some((nh, path)) if foreign(c, vip, *nh, path).is_some() => "foreign",
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

    fn example() -> Config {
        let text = include_str!("../../../examples/watcher.toml");
        hopwatch_config::parse(std::path::Path::new("watcher.toml"), text)
            .expect("the example parses")
            .config
    }

    #[test]
    fn a_route_for_our_vip_is_foreign_unless_our_as_originated_it_via_a_backend() {
        let c = example();
        let vip: Prefix = "100.64.0.1/32".parse().expect("prefix");
        let ip = |s: &str| s.parse::<IpAddr>().expect("address");
        let a = |v: &[u32]| v.iter().map(|&n| Asn(n)).collect::<Vec<_>>();
        // The pair's routes: our AS, via a backend, prepended or not.
        assert_eq!(foreign(&c, vip, ip("10.10.0.4"), &a(&[65515, 65001])), None);
        assert_eq!(
            foreign(&c, vip, ip("10.10.0.5"), &a(&[65515, 65001, 65001, 65001])),
            None
        );
        let stranger = foreign(&c, vip, ip("10.10.0.66"), &a(&[65515, 65001]));
        assert!(stranger.is_some_and(|w| w.contains("next hop 10.10.0.66")));
        let other_as = foreign(&c, vip, ip("10.10.0.4"), &a(&[65515, 65099]));
        assert!(other_as.is_some_and(|w| w.contains("origin AS 65099")));
        assert!(foreign(&c, vip, ip("10.10.0.4"), &[]).is_some());
    }

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
