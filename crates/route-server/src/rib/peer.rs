//! One configured peer: its Adj-RIB-In, its rejected prefixes, its graceful
//! restart state and what it has been sent (its Adj-RIB-Out).
//!
//! The attributes of an UPDATE are stored once behind an [`Arc`] and shared by all
//! the prefixes it announced: a 1,000-prefix burst costs one copy, not 1,000.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use hopwatch_bgp::{Asn, PathAttributes, Prefix};
use serde::Serialize;

use super::export::Exported;

/// A route in an Adj-RIB-In.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdjRoute {
    /// The next hop the peer gave (NEXT_HOP or MP_REACH's global address).
    pub next_hop: IpAddr,
    /// The attributes as received, without NEXT_HOP, MP_REACH, MP_UNREACH and
    /// LOCAL_PREF (which is ignored from external peers, RFC 4271 5.1.5).
    pub attributes: Arc<PathAttributes>,
    /// Kept after a graceful restart, not yet announced again (RFC 4724).
    pub stale: bool,
}

impl AdjRoute {
    /// The AS path length used by best-path selection (0 without an AS_PATH).
    pub fn path_len(&self) -> usize {
        self.attributes.as_path.as_ref().map_or(0, |p| p.path_len())
    }
}

/// What the introspection API shows of a peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerInfo {
    /// The peer's address.
    pub addr: IpAddr,
    /// Its configured AS.
    pub asn: Asn,
    /// Whether its session is established (between `peer_up` and `peer_down`).
    pub up: bool,
    /// Routes in its Adj-RIB-In, stale ones included.
    pub routes: usize,
    /// Prefixes it currently announces that were rejected (AS loop).
    pub rejected: usize,
    /// Routes rejected since it was configured.
    pub rejected_total: u64,
    /// Routes kept stale after a graceful restart.
    pub stale: usize,
    /// Routes not passed on to it because their UPDATE would exceed 4,096 octets.
    pub withheld: usize,
    /// Its route limit.
    pub route_limit: usize,
    /// The graceful restart time negotiated with it, in seconds.
    pub graceful_restart_time: Option<u16>,
}

/// A route as sent to one peer: next hop and attributes.
pub(super) type Export = (IpAddr, PathAttributes);

#[derive(Debug, Clone)]
pub(super) struct Peer {
    pub(super) asn: Asn,
    pub(super) graceful_restart_time: Option<u16>,
    pub(super) route_limit: usize,
    pub(super) up: bool,
    pub(super) adj_in: BTreeMap<Prefix, AdjRoute>,
    pub(super) rejected: BTreeSet<Prefix>,
    pub(super) rejected_total: u64,
    /// When the stale routes go if no End-of-RIB removed them first.
    pub(super) stale_until: Option<Instant>,
    /// What this peer has been sent, per prefix.
    pub(super) adj_out: BTreeMap<Prefix, Export>,
    /// Prefixes whose route toward this peer may have changed since the last
    /// `poll_updates`.
    pub(super) dirty: BTreeSet<Prefix>,
    /// Prefixes whose route is too long to send it (see `rib/export.rs`).
    pub(super) withheld: BTreeSet<Prefix>,
    /// Withheld since the last `drain_withheld`, for the log.
    pub(super) newly_withheld: BTreeSet<Prefix>,
}

impl Peer {
    pub(super) fn new(asn: Asn, graceful_restart_time: Option<u16>, route_limit: usize) -> Self {
        Peer {
            asn,
            graceful_restart_time,
            route_limit,
            up: false,
            adj_in: BTreeMap::new(),
            rejected: BTreeSet::new(),
            rejected_total: 0,
            stale_until: None,
            adj_out: BTreeMap::new(),
            dirty: BTreeSet::new(),
            withheld: BTreeSet::new(),
            newly_withheld: BTreeSet::new(),
        }
    }

    /// Records whether the route for `prefix` is withheld, and returns what the
    /// peer should have: nothing for a withheld route.
    pub(super) fn note_withheld(&mut self, prefix: Prefix, e: Option<Exported>) -> Option<Export> {
        match e {
            Some(Exported::TooLong) => {
                if self.withheld.insert(prefix) {
                    self.newly_withheld.insert(prefix);
                }
                None
            }
            Some(Exported::Route(r)) => {
                self.withheld.remove(&prefix);
                self.newly_withheld.remove(&prefix);
                Some(r)
            }
            None => {
                self.withheld.remove(&prefix);
                self.newly_withheld.remove(&prefix);
                None
            }
        }
    }

    pub(super) fn stale_count(&self) -> usize {
        self.adj_in.values().filter(|r| r.stale).count()
    }

    /// Forgets the stale deadline once no stale route is left.
    pub(super) fn refresh_stale_deadline(&mut self) {
        if self.stale_until.is_some() && !self.adj_in.values().any(|r| r.stale) {
            self.stale_until = None;
        }
    }

    pub(super) fn info(&self, addr: IpAddr) -> PeerInfo {
        PeerInfo {
            addr,
            asn: self.asn,
            up: self.up,
            routes: self.adj_in.len(),
            rejected: self.rejected.len(),
            rejected_total: self.rejected_total,
            stale: self.stale_count(),
            withheld: self.withheld.len(),
            route_limit: self.route_limit,
            graceful_restart_time: self.graceful_restart_time,
        }
    }
}
