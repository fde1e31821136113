//! The routes we announce (our Adj-RIB-Out, shared by all peers), and how a route
//! becomes the UPDATE a given peer receives.
//!
//! Every change bumps a version. A peer that comes up takes a snapshot (routes and
//! version) and then ignores queued changes at or below that version: without
//! this, a change queued before the snapshot but handled after it would send an
//! older next hop after a newer one.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use hopwatch_bgp::message::{AsPath, Community, LargeCommunity, Origin, TooLong};
use hopwatch_bgp::{Asn, Codec, PathAttributes, Prefix, Update};

/// One route we announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The prefix.
    pub prefix: Prefix,
    /// Its next hop (may be another machine's address: third-party next hop).
    pub next_hop: IpAddr,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// AS path to send, before our own AS is prepended on eBGP sessions.
    pub as_path: Vec<Asn>,
    /// ORIGIN (IGP unless told otherwise).
    pub origin: Origin,
    /// Standard communities.
    pub communities: Vec<Community>,
    /// Large communities.
    pub large_communities: Vec<LargeCommunity>,
    /// LOCAL_PREF for iBGP peers.
    pub local_pref: Option<u32>,
}

impl Route {
    /// A route with defaults: ORIGIN IGP, empty AS path, no MED or communities.
    pub fn new(prefix: Prefix, next_hop: IpAddr) -> Self {
        Route {
            prefix,
            next_hop,
            med: None,
            as_path: vec![],
            origin: Origin::Igp,
            communities: vec![],
            large_communities: vec![],
            local_pref: None,
        }
    }

    /// The UPDATE that announces this route to a peer: one UPDATE, which replaces
    /// whatever the peer had for the prefix (implicit withdraw, RFC 4271 3.1).
    pub fn to_update(&self, local_as: Asn, peer_as: Asn) -> Update {
        Update::announce(
            vec![self.prefix],
            self.next_hop,
            self.attributes(local_as, peer_as),
        )
    }

    /// The path attributes this route is sent to a peer with, next hop aside: our
    /// AS prepended toward an external peer, LOCAL_PREF (100 unless set) toward an
    /// internal one. Routes with equal attributes share an UPDATE.
    pub fn attributes(&self, local_as: Asn, peer_as: Asn) -> PathAttributes {
        let ebgp = local_as != peer_as;
        let path = AsPath::sequence(self.as_path.iter().copied());
        PathAttributes {
            origin: Some(self.origin),
            as_path: Some(if ebgp { path.prepend(local_as) } else { path }),
            med: self.med,
            local_pref: if ebgp {
                None
            } else {
                Some(self.local_pref.unwrap_or(100))
            },
            communities: self.communities.clone(),
            large_communities: self.large_communities.clone(),
            ..Default::default()
        }
    }

    /// Whether every peer of a speaker with `local_as` can be sent this route in
    /// one message: toward an external peer (our AS prepended) and an internal one
    /// (LOCAL_PREF added), with 4-octet and 2-octet AS numbers (AS_TRANS plus
    /// AS4_PATH). A route that fails is one no session could carry: refuse it
    /// before it becomes current, or every session would have to refuse it again.
    ///
    /// # Errors
    /// The [`TooLong`] of the largest of those UPDATEs.
    pub fn fits(&self, local_as: Asn) -> Result<(), TooLong> {
        let external = Asn(local_as.0.wrapping_add(1));
        for peer_as in [external, local_as] {
            let update = self.to_update(local_as, peer_as);
            for four_octet_as in [true, false] {
                update.split_to_fit(&Codec { four_octet_as })?;
            }
        }
        Ok(())
    }
}

/// One change to the routes we announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Announce or replace a route.
    Announce(Route),
    /// Withdraw a prefix.
    Withdraw(Prefix),
}

impl Change {
    /// The prefix this change is about.
    pub fn prefix(&self) -> Prefix {
        match self {
            Change::Announce(r) => r.prefix,
            Change::Withdraw(p) => *p,
        }
    }
}

/// A batch of changes at one version.
#[derive(Debug, Clone)]
pub struct Changes {
    /// The version after these changes.
    pub version: u64,
    /// The changes, in order.
    pub changes: Arc<Vec<Change>>,
}

/// The routes we announce, with a version that counts changes.
#[derive(Debug)]
pub struct RibOut {
    version: u64,
    routes: BTreeMap<Prefix, Route>,
    /// Whether the routes are complete enough to send with End-of-RIB. A restarting
    /// speaker (RFC 4724 4.1) holds its End-of-RIB until it has decided its routes:
    /// an early one would make a peer flush the routes it kept for us.
    ready: bool,
}

impl Default for RibOut {
    fn default() -> Self {
        RibOut {
            version: 0,
            routes: BTreeMap::new(),
            ready: true,
        }
    }
}

impl RibOut {
    /// Whether the table may be sent with End-of-RIB.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// Sets whether the table may be sent with End-of-RIB.
    pub fn set_ready(&mut self, ready: bool) {
        self.ready = ready;
    }

    /// Applies changes; returns the batch to send to the peers (only the changes
    /// that change something: announcing the same route twice sends nothing).
    pub fn apply(&mut self, changes: Vec<Change>) -> Option<Changes> {
        let mut effective = Vec::new();
        for c in changes {
            match &c {
                Change::Announce(r) => {
                    if self.routes.get(&r.prefix) == Some(r) {
                        continue;
                    }
                    self.routes.insert(r.prefix, r.clone());
                }
                Change::Withdraw(p) => {
                    if self.routes.remove(p).is_none() {
                        continue;
                    }
                }
            }
            effective.push(c);
        }
        if effective.is_empty() {
            return None;
        }
        self.version += 1;
        Some(Changes {
            version: self.version,
            changes: Arc::new(effective),
        })
    }

    /// All routes and the version they are at.
    pub fn snapshot(&self) -> (u64, Vec<Route>) {
        (self.version, self.routes.values().cloned().collect())
    }

    /// The route for a prefix.
    pub fn get(&self, prefix: &Prefix) -> Option<&Route> {
        self.routes.get(prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(nh: &str) -> Route {
        Route::new("100.64.0.1/32".parse().unwrap(), nh.parse().unwrap())
    }

    #[test]
    fn a_next_hop_change_is_one_announce_and_no_withdraw() {
        let mut rib = RibOut::default();
        rib.apply(vec![Change::Announce(route("10.10.0.4"))])
            .unwrap();
        let batch = rib
            .apply(vec![Change::Announce(route("10.10.0.5"))])
            .unwrap();
        assert_eq!(
            batch.changes.as_slice(),
            &[Change::Announce(route("10.10.0.5"))]
        );
        assert_eq!(batch.version, 2);
    }

    #[test]
    fn repeating_a_route_sends_nothing() {
        let mut rib = RibOut::default();
        rib.apply(vec![Change::Announce(route("10.10.0.4"))])
            .unwrap();
        assert!(
            rib.apply(vec![Change::Announce(route("10.10.0.4"))])
                .is_none()
        );
        assert!(
            rib.apply(vec![Change::Withdraw("100.64.0.2/32".parse().unwrap())])
                .is_none()
        );
    }

    #[test]
    fn a_route_too_long_for_one_message_does_not_fit() {
        let mut r = route("10.10.0.4");
        assert!(r.fits(Asn(65001)).is_ok());
        r.communities = (0..1010).map(Community).collect();
        assert!(r.fits(Asn(65001)).is_ok(), "1,010 communities fit");
        r.communities = (0..1100).map(Community).collect();
        let err = r.fits(Asn(65001)).unwrap_err();
        assert_eq!(err.prefix, Some(r.prefix));
        assert!(err.len > 4096, "{err}");
        r.communities.clear();
        r.as_path = (0..1100).map(|i| Asn(4_200_000_000 + i)).collect();
        assert!(
            r.fits(Asn(65001)).is_err(),
            "4-octet ASes on a 2-octet session"
        );
    }

    #[test]
    fn ebgp_prepends_our_as_and_ibgp_sends_local_pref() {
        let u = route("10.10.0.4").to_update(Asn(65001), Asn(65515));
        assert_eq!(u.attributes.as_path.unwrap().to_string(), "65001");
        assert_eq!(u.attributes.local_pref, None);
        let u = route("10.10.0.4").to_update(Asn(65001), Asn(65001));
        assert_eq!(u.attributes.as_path.unwrap().to_string(), "");
        assert_eq!(u.attributes.local_pref, Some(100));
    }
}
