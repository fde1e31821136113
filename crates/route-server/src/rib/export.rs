//! What each peer is sent: its Adj-RIB-Out, and the UPDATEs that keep it current.
//!
//! Route-server behaviour: for every prefix, a peer gets the first path of the
//! best set (sorted by peer address) that it did not announce itself, so a route is
//! never sent back to where it came from. The next hop is passed on untouched; the
//! attributes are kept (AS path, communities, MED, unknown transitive ones) with
//! the server's AS prepended when [`RibConfig::prepend_local_as`] is set, and
//! without LOCAL_PREF, which never goes to an external peer. VNET prefixes
//! ([`Rib::set_local_prefixes`]) go to every peer with AS path `[local_as]`.
//!
//! **One UPDATE per changed prefix.** The RIB records what it has sent to each
//! established peer. Every change of a best set (or of the VNET prefixes) marks the
//! prefix for every established peer, and [`Rib::poll_updates`] compares, for each
//! marked prefix, what the peer should have with what it was sent: a new route or a
//! new next hop is one announcement, which replaces the old route at the peer
//! (implicit withdraw, RFC 4271 3.1); only a route that is gone for that peer is a
//! withdrawal. A change that does not alter what a peer should have (an ECMP set
//! growing behind the path it already has) sends it nothing. This matters: the
//! cloud accepts about one change of a route per 30 s, so a withdraw followed by an
//! announce costs half a minute.
//!
//! [`RibConfig::prepend_local_as`]: super::RibConfig::prepend_local_as

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use hopwatch_bgp::message::{AsPath, Origin};
use hopwatch_bgp::{PathAttributes, Prefix, Update};

use super::Rib;
use super::peer::Export;

impl Rib {
    /// Sets the VNET prefixes announced to every peer, with `next_hop` (this
    /// instance's address). Established peers get the difference through
    /// [`Rib::poll_updates`].
    pub fn set_local_prefixes(&mut self, prefixes: Vec<Prefix>, next_hop: IpAddr) {
        let new: BTreeSet<Prefix> = prefixes.into_iter().collect();
        let mut touched: BTreeSet<Prefix> = new.union(&self.local_prefixes).copied().collect();
        if self.local_next_hop == Some(next_hop) {
            touched = new
                .symmetric_difference(&self.local_prefixes)
                .copied()
                .collect();
        }
        self.local_prefixes = new;
        self.local_next_hop = Some(next_hop);
        for prefix in touched {
            self.mark_dirty(prefix);
        }
    }

    /// The VNET prefixes and their next hop.
    pub fn local_prefixes(&self) -> (Vec<Prefix>, Option<IpAddr>) {
        (
            self.local_prefixes.iter().copied().collect(),
            self.local_next_hop,
        )
    }

    /// Every route `peer` should have now, in prefix order: the full table to send
    /// when its session comes up (after [`Rib::peer_up`]). Empty for an unknown peer.
    pub fn routes_for(&self, peer: IpAddr) -> Vec<(Prefix, IpAddr, PathAttributes)> {
        if !self.peers.contains_key(&peer) {
            return Vec::new();
        }
        self.export_table(peer)
            .into_iter()
            .map(|(prefix, (next_hop, attrs))| (prefix, next_hop, attrs))
            .collect()
    }

    /// The UPDATEs that bring an established `peer` up to date with every change
    /// since the last call: one per changed prefix, in prefix order, an
    /// announcement whenever the peer still has a route (a next-hop change
    /// replaces), a withdrawal only when it has none left. Empty for a peer that
    /// is not established.
    pub fn poll_updates(&mut self, peer: IpAddr) -> Vec<Update> {
        let dirty = match self.peers.get_mut(&peer) {
            Some(p) if p.up => std::mem::take(&mut p.dirty),
            _ => return Vec::new(),
        };
        let wanted: Vec<(Prefix, Option<Export>)> = dirty
            .into_iter()
            .map(|prefix| (prefix, self.export(peer, prefix)))
            .collect();
        let Some(p) = self.peers.get_mut(&peer) else {
            return Vec::new();
        };
        let mut updates = Vec::new();
        for (prefix, want) in wanted {
            if p.adj_out.get(&prefix) == want.as_ref() {
                continue;
            }
            match want {
                Some((next_hop, attrs)) => {
                    updates.push(Update::announce(vec![prefix], next_hop, attrs.clone()));
                    p.adj_out.insert(prefix, (next_hop, attrs));
                }
                None => {
                    updates.push(Update::withdraw(vec![prefix]));
                    p.adj_out.remove(&prefix);
                }
            }
        }
        updates
    }

    /// What `peer` has been sent, by prefix (its Adj-RIB-Out).
    pub fn adj_rib_out(&self, peer: IpAddr) -> Vec<(Prefix, IpAddr, PathAttributes)> {
        self.peers
            .get(&peer)
            .map(|p| {
                p.adj_out
                    .iter()
                    .map(|(prefix, (nh, attrs))| (*prefix, *nh, attrs.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The full table `peer` should have.
    pub(super) fn export_table(&self, peer: IpAddr) -> BTreeMap<Prefix, Export> {
        let prefixes: BTreeSet<Prefix> = self
            .loc_rib
            .keys()
            .chain(self.local_prefixes.iter())
            .copied()
            .collect();
        prefixes
            .into_iter()
            .filter_map(|prefix| self.export(peer, prefix).map(|e| (prefix, e)))
            .collect()
    }

    /// The route `peer` should have for `prefix`, if any.
    fn export(&self, peer: IpAddr, prefix: Prefix) -> Option<Export> {
        let local_as = self.config.local_as;
        if let (true, Some(next_hop)) = (self.local_prefixes.contains(&prefix), self.local_next_hop)
        {
            let attrs = PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::sequence([local_as])),
                ..Default::default()
            };
            return Some((next_hop, attrs));
        }
        let path = self
            .loc_rib
            .get(&prefix)?
            .paths
            .iter()
            .find(|p| p.peer != peer)?;
        let mut attrs = path.attributes.clone();
        attrs.local_pref = None;
        if self.config.prepend_local_as {
            attrs.as_path = Some(attrs.as_path.unwrap_or_default().prepend(local_as));
        }
        Some((path.next_hop, attrs))
    }
}
