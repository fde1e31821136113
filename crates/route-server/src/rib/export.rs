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
//! **One change per prefix, packed.** The RIB records what it has sent to each
//! established peer. Every change of a best set (or of the VNET prefixes) marks the
//! prefix for every established peer, and [`Rib::poll_updates`] compares, for each
//! marked prefix, what the peer should have with what it was sent: a new route or a
//! new next hop is an announcement, which replaces the old route at the peer
//! (implicit withdraw, RFC 4271 3.1); only a route that is gone for that peer is a
//! withdrawal. A change that does not alter what a peer should have (an ECMP set
//! growing behind the path it already has) sends it nothing. This matters: the
//! cloud accepts about one change of a route per 30 s, so a withdraw followed by an
//! announce costs half a minute.
//!
//! The prefixes that changed together and share their route (next hop and every
//! attribute) go in one UPDATE ([`hopwatch_bgp::message::pack`]), withdrawals
//! first: a watcher moving a thousand VIPs from one web server to the other is
//! passed on as one UPDATE, not a thousand. The same holds for the table a peer
//! gets when it comes up ([`Rib::table_updates`]). The driver cuts each UPDATE to
//! the peer's message size when it sends it.
//!
//! **Routes too long to pass on.** A peer may send a route whose UPDATE is close
//! to 4,096 octets; with the server's AS prepended (4 more octets, 2 more again for
//! a new segment, or AS4_PATH toward a 2-octet peer) it may no longer fit one
//! message, and sent anyway it would make the receiver reset the session, with
//! every route on it. Such a route is **withheld**: that peer is not sent it (a
//! withdrawal if it had an earlier version, so it never keeps a stale next hop),
//! the prefix is counted in [`PeerInfo::withheld`] and reported once by
//! [`Rib::drain_withheld`] for the log. The source's session and the Loc-RIB (and
//! so the data plane) are untouched: the route is valid, only not re-advertisable.
//! Both AS widths are checked, so the answer does not depend on a peer's codec.
//!
//! [`RibConfig::prepend_local_as`]: super::RibConfig::prepend_local_as
//! [`PeerInfo::withheld`]: super::PeerInfo::withheld

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use hopwatch_bgp::message::{self, AsPath, MAX_MESSAGE_LEN, Origin};
use hopwatch_bgp::{Codec, PathAttributes, Prefix, Update};

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
            .filter_map(|(prefix, e)| match e {
                Exported::Route((next_hop, attrs)) => Some((prefix, next_hop, attrs)),
                Exported::TooLong => None,
            })
            .collect()
    }

    /// [`Rib::routes_for`] as the UPDATEs that send it, packed: one per distinct
    /// route, each prefix once.
    pub fn table_updates(&self, peer: IpAddr) -> Vec<Update> {
        message::pack([], self.routes_for(peer))
    }

    /// The prefixes withheld from `peer` since the last call (see the module
    /// documentation): for a log line, each reported once per time it is withheld.
    pub fn drain_withheld(&mut self, peer: IpAddr) -> Vec<Prefix> {
        self.peers
            .get_mut(&peer)
            .map(|p| std::mem::take(&mut p.newly_withheld).into_iter().collect())
            .unwrap_or_default()
    }

    /// The UPDATEs that bring an established `peer` up to date with every change
    /// since the last call: each changed prefix once, an announcement whenever the
    /// peer still has a route (a next-hop change replaces), a withdrawal only when
    /// it has none left; packed, withdrawals first, then one UPDATE per distinct
    /// route in the prefix order of its first prefix. Empty for a peer that is not
    /// established.
    pub fn poll_updates(&mut self, peer: IpAddr) -> Vec<Update> {
        let dirty = match self.peers.get_mut(&peer) {
            Some(p) if p.up => std::mem::take(&mut p.dirty),
            _ => return Vec::new(),
        };
        let wanted: Vec<(Prefix, Option<Exported>)> = dirty
            .into_iter()
            .map(|prefix| (prefix, self.export(peer, prefix)))
            .collect();
        let Some(p) = self.peers.get_mut(&peer) else {
            return Vec::new();
        };
        let mut withdraw = Vec::new();
        let mut announce = Vec::new();
        for (prefix, want) in wanted {
            let want = p.note_withheld(prefix, want);
            if p.adj_out.get(&prefix) == want.as_ref() {
                continue;
            }
            match want {
                Some((next_hop, attrs)) => {
                    announce.push((prefix, next_hop, attrs.clone()));
                    p.adj_out.insert(prefix, (next_hop, attrs));
                }
                None => {
                    withdraw.push(prefix);
                    p.adj_out.remove(&prefix);
                }
            }
        }
        message::pack(withdraw, announce)
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

    /// The full table `peer` should have, withheld routes included as such.
    pub(super) fn export_table(&self, peer: IpAddr) -> BTreeMap<Prefix, Exported> {
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

    /// The route `peer` should have for `prefix`, if any, or that it is too long.
    fn export(&self, peer: IpAddr, prefix: Prefix) -> Option<Exported> {
        let (next_hop, attrs) = self.export_route(peer, prefix)?;
        if fits(prefix, next_hop, &attrs) {
            Some(Exported::Route((next_hop, attrs)))
        } else {
            Some(Exported::TooLong)
        }
    }

    /// The route `peer` should have for `prefix`, if any, whatever its size.
    fn export_route(&self, peer: IpAddr, prefix: Prefix) -> Option<Export> {
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

/// A route for one peer, or the fact that it cannot be sent in one message.
#[derive(Debug, Clone, PartialEq, Eq)]
// Made and consumed per prefix; boxing the route would allocate for each one.
#[allow(clippy::large_enum_variant)]
pub(super) enum Exported {
    /// Send this.
    Route(Export),
    /// Its UPDATE would exceed the maximum message size: withheld.
    TooLong,
}

/// Whether the UPDATE announcing `prefix` with these attributes fits one message
/// with 4-octet and with 2-octet AS numbers. The usual route is far from the limit:
/// a cheap upper bound answers without encoding it.
fn fits(prefix: Prefix, next_hop: IpAddr, attrs: &PathAttributes) -> bool {
    // AS_PATH and AS4_PATH together: 6 octets an AS, 4 of headers per 255 ASes.
    let path: usize = attrs.as_path.as_ref().map_or(0, |p| {
        p.segments
            .iter()
            .map(|s| 4 + 4 * (s.asns.len() / 255) + 6 * s.asns.len())
            .sum()
    });
    // 192: the message header, the fixed-size attributes, an IPv6 MP_REACH and prefix.
    let bound = 192
        + path
        + 4 * attrs.communities.len()
        + 12 * attrs.large_communities.len()
        + attrs
            .unknown
            .iter()
            .map(|u| 4 + u.value.len())
            .sum::<usize>();
    if bound <= MAX_MESSAGE_LEN {
        return true;
    }
    let update = Update::announce(vec![prefix], next_hop, attrs.clone());
    [true, false]
        .into_iter()
        .all(|four_octet_as| update.wire_len(&Codec { four_octet_as }) <= MAX_MESSAGE_LEN)
}
