//! Applying a peer's UPDATE: withdrawals, then announcements, into its Adj-RIB-In.
//!
//! The route limit is checked before anything is applied, so an UPDATE that breaks
//! it leaves the RIB as it was: the caller then sends the NOTIFICATION and calls
//! `peer_down`, which removes the peer's routes in one step.
//!
//! An End-of-RIB marker (RFC 4724 2) is recognised here and sweeps the peer's stale
//! routes of that family, so a caller cannot forget it.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use hopwatch_bgp::notification::Cease;
use hopwatch_bgp::{ErrorCode, Family, Notification, PathAttributes, Prefix, Update};
use serde::Serialize;

use super::best::RibChange;
use super::peer::AdjRoute;
use super::{Rib, peer::Peer};

/// What one UPDATE did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Received {
    /// Best sets that changed, in prefix order.
    pub changes: Vec<RibChange>,
    /// Announced prefixes that were rejected because their AS_PATH holds the
    /// server's AS.
    pub rejected: Vec<Prefix>,
    /// The family this UPDATE marked as End-of-RIB, if it was such a marker.
    pub end_of_rib: Option<Family>,
}

impl Rib {
    /// Applies an UPDATE from `peer`.
    ///
    /// # Errors
    /// The NOTIFICATION to send, after which the caller closes the session:
    /// - Cease / Connection Rejected when `peer` is not configured;
    /// - Cease / Maximum Number of Prefixes Reached when the UPDATE would take the
    ///   peer past its route limit (nothing is applied; call [`Rib::peer_down`]).
    pub fn receive(
        &mut self,
        now: Instant,
        peer: IpAddr,
        update: &Update,
    ) -> Result<Received, Notification> {
        let local_as = self.config.local_as;
        let Some(p) = self.peers.get_mut(&peer) else {
            return Err(Notification::bare(ErrorCode::Cease(
                Cease::ConnectionRejected,
            )));
        };
        let withdrawn = update.withdrawn_all();
        let announced = update.announced();
        check_limit(p, &withdrawn, &announced)?;

        let attributes = Arc::new(stored_attributes(&update.attributes));
        let looped = attributes
            .as_path
            .as_ref()
            .is_some_and(|path| path.contains(local_as));
        let mut touched = BTreeSet::new();
        for prefix in withdrawn {
            p.adj_in.remove(&prefix);
            p.rejected.remove(&prefix);
            touched.insert(prefix);
        }
        let mut rejected = Vec::new();
        for (prefix, next_hop) in announced {
            touched.insert(prefix);
            if looped {
                // A looped announcement replaces (implicitly withdraws) what the
                // peer had for the prefix.
                p.adj_in.remove(&prefix);
                p.rejected.insert(prefix);
                p.rejected_total += 1;
                rejected.push(prefix);
            } else {
                p.rejected.remove(&prefix);
                p.adj_in.insert(
                    prefix,
                    AdjRoute {
                        next_hop,
                        attributes: Arc::clone(&attributes),
                        stale: false,
                    },
                );
            }
        }
        p.refresh_stale_deadline();

        let mut changes = self.reselect(touched);
        let end_of_rib = update.end_of_rib_family();
        if let Some(family) = end_of_rib {
            changes.extend(self.end_of_rib(now, peer, family));
        }
        Ok(Received {
            changes,
            rejected,
            end_of_rib,
        })
    }
}

/// The attributes kept with a route: the per-family next-hop fields live in the
/// route itself, and LOCAL_PREF from an external peer is ignored (RFC 4271 5.1.5).
fn stored_attributes(a: &PathAttributes) -> PathAttributes {
    PathAttributes {
        next_hop: None,
        mp_reach: None,
        mp_unreach: None,
        local_pref: None,
        ..a.clone()
    }
}

/// Errs with the Cease NOTIFICATION when applying the UPDATE would leave the peer
/// with more prefixes (accepted or rejected) than its limit.
fn check_limit(
    p: &Peer,
    withdrawn: &[Prefix],
    announced: &[(Prefix, IpAddr)],
) -> Result<(), Notification> {
    let held = |prefix: &Prefix| p.adj_in.contains_key(prefix) || p.rejected.contains(prefix);
    let mut count = p.adj_in.len() + p.rejected.len();
    let gone: BTreeSet<Prefix> = withdrawn.iter().copied().filter(held).collect();
    count -= gone.len();
    let mut added = BTreeSet::new();
    for (prefix, _) in announced {
        let still_held = held(prefix) && !gone.contains(prefix);
        if !still_held && added.insert(*prefix) {
            count += 1;
            if count > p.route_limit {
                return Err(max_prefixes(prefix.family(), p.route_limit));
            }
        }
    }
    Ok(())
}

/// Cease / Maximum Number of Prefixes Reached; data: AFI (2 octets), SAFI (1
/// octet), the limit (4 octets) (RFC 4486 4).
pub(super) fn max_prefixes(family: Family, limit: usize) -> Notification {
    let mut data = Vec::with_capacity(7);
    data.extend_from_slice(&family.afi().code().to_be_bytes());
    data.push(Family::SAFI_UNICAST);
    data.extend_from_slice(&u32::try_from(limit).unwrap_or(u32::MAX).to_be_bytes());
    Notification::new(
        ErrorCode::Cease(Cease::MaximumNumberOfPrefixesReached),
        data,
    )
}
