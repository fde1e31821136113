//! Best-path selection and the changes it reports.
//!
//! The rule is Azure Route Server's, and deliberately short: the shortest AS path
//! wins, and every path of that length joins the ECMP set. Each peer has at most
//! one route per prefix, so the set holds paths from different peers; it is sorted
//! by peer address, and its next hops are sorted and de-duplicated, so the same
//! routes always give the same set whatever order they arrived in.
//!
//! A [`RibChange`] is reported only when a prefix's best set really changes (a
//! next hop, a path, an attribute): marking routes stale, or a peer re-announcing
//! exactly what it had, changes nothing and reports nothing.

use std::net::IpAddr;

use hopwatch_bgp::{PathAttributes, Prefix};
use serde::Serialize;

use super::Rib;
use super::peer::AdjRoute;

/// One path of a best set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Path {
    /// The peer that announced it.
    pub peer: IpAddr,
    /// Its next hop.
    pub next_hop: IpAddr,
    /// Its attributes (see [`AdjRoute::attributes`] for what is left out).
    pub attributes: PathAttributes,
}

/// The best set of a prefix: one path, or several of equal AS path length (ECMP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BestPath {
    /// The distinct next hops of `paths`, sorted: what the data plane programs.
    pub next_hops: Vec<IpAddr>,
    /// The paths, sorted by peer address.
    pub paths: Vec<Path>,
}

impl BestPath {
    /// The best set among `candidates` (peer address, route), `None` when there are
    /// none. Candidates may come in any order.
    pub fn select<'a>(
        candidates: impl IntoIterator<Item = (IpAddr, &'a AdjRoute)>,
    ) -> Option<BestPath> {
        let mut best_len = usize::MAX;
        let mut paths: Vec<Path> = Vec::new();
        for (peer, route) in candidates {
            let len = route.path_len();
            if len > best_len {
                continue;
            }
            if len < best_len {
                best_len = len;
                paths.clear();
            }
            paths.push(Path {
                peer,
                next_hop: route.next_hop,
                attributes: PathAttributes::clone(&route.attributes),
            });
        }
        if paths.is_empty() {
            return None;
        }
        paths.sort_by_key(|p| p.peer);
        let mut next_hops: Vec<IpAddr> = paths.iter().map(|p| p.next_hop).collect();
        next_hops.sort_unstable();
        next_hops.dedup();
        Some(BestPath { next_hops, paths })
    }
}

/// A change of one prefix's best set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RibChange {
    /// The prefix.
    pub prefix: Prefix,
    /// Its new best set; `None` when the prefix is gone.
    pub best: Option<BestPath>,
}

impl Rib {
    /// Selects the best set of each prefix again, updates the Loc-RIB, marks the
    /// prefixes whose set changed for the Adj-RIBs-Out of the established peers,
    /// and returns the changes in prefix order.
    pub(super) fn reselect(
        &mut self,
        prefixes: impl IntoIterator<Item = Prefix>,
    ) -> Vec<RibChange> {
        let mut changes = Vec::new();
        for prefix in prefixes {
            let best = BestPath::select(
                self.peers
                    .iter()
                    .filter_map(|(addr, p)| p.adj_in.get(&prefix).map(|r| (*addr, r))),
            );
            if self.loc_rib.get(&prefix) == best.as_ref() {
                continue;
            }
            match &best {
                Some(b) => self.loc_rib.insert(prefix, b.clone()),
                None => self.loc_rib.remove(&prefix),
            };
            self.mark_dirty(prefix);
            changes.push(RibChange { prefix, best });
        }
        changes.sort_by_key(|c| c.prefix);
        changes
    }

    /// Notes that the route toward every established peer may have changed.
    pub(super) fn mark_dirty(&mut self, prefix: Prefix) {
        for p in self.peers.values_mut().filter(|p| p.up) {
            p.dirty.insert(prefix);
        }
    }
}
