//! What one peer is sent for a batch of route changes: packed UPDATEs, each one
//! message, each with the event that lists exactly its prefixes.
//!
//! A batch is sent at one instant, so it is a state, not a history: only the last
//! change of each prefix counts (a withdraw then an announce is just the announce,
//! never a withdrawal on the wire). The routes that share every attribute as sent
//! to this peer (next hop, AS path with our AS prepended on eBGP, ORIGIN, MED,
//! communities, large communities, LOCAL_PREF on iBGP, family) go in one UPDATE,
//! which replaces what the peer had (implicit withdraw, RFC 4271 3.1); the
//! withdrawals of a family go in one UPDATE, before the announcements
//! ([`hopwatch_bgp::message::pack`] says why). Each is then cut to the session's
//! message size here, before the session sees it, so that each message on the wire
//! has its own [`EventKind::UpdateSent`]: the events count the messages honestly.
//!
//! The peer task sends batches in the order they were made; the batches already
//! queued when it gets to them are packed together as one (the last change of each
//! prefix winning), so a newer next hop is never overtaken by an older one.

use std::collections::HashMap;

use hopwatch_bgp::message::{self, TooLong};
use hopwatch_bgp::{Asn, Codec, Family, Prefix, Update};

use crate::event::EventKind;
use crate::rib_out::Change;

/// What a peer is sent, in order, and what it cannot be sent.
#[derive(Debug, Default)]
pub struct Outgoing {
    /// Each UPDATE fits one message, with the event to report once it is written.
    pub messages: Vec<(Update, EventKind)>,
    /// The prefixes refused because their UPDATE cannot fit a message even alone.
    pub refused: Vec<TooLong>,
}

/// The UPDATEs for one peer (`local_as` talking to `peer_as` with `codec`) that
/// carry `changes`, in the order they were made; a prefix whose family the session
/// does not carry (`carries`) is left out.
pub fn changes<'a>(
    changes: impl IntoIterator<Item = &'a Change>,
    local_as: Asn,
    peer_as: Asn,
    codec: &Codec,
    carries: impl Fn(Family) -> bool,
) -> Outgoing {
    let latest = last_per_prefix(changes);
    let mut withdraw = Vec::new();
    let mut announce = Vec::new();
    for change in latest {
        match change {
            Change::Announce(r) if carries(r.prefix.family()) => {
                announce.push((r.prefix, r.next_hop, r.attributes(local_as, peer_as)));
            }
            Change::Withdraw(p) if carries(p.family()) => withdraw.push(*p),
            _ => {}
        }
    }
    fit(message::pack(withdraw, announce), codec)
}

/// `updates` as messages that each fit `codec`, each with the event listing its
/// prefixes ([`hopwatch_bgp::message::fit`]): for UPDATEs made elsewhere, such as a
/// route server's per-peer advertisements.
pub fn fit(updates: impl IntoIterator<Item = Update>, codec: &Codec) -> Outgoing {
    let fitted = message::fit(updates, codec);
    let messages = fitted
        .updates
        .into_iter()
        .map(|u| {
            let ev = EventKind::UpdateSent {
                announce: u.announced(),
                withdraw: u.withdrawn_all(),
            };
            (u, ev)
        })
        .collect();
    Outgoing {
        messages,
        refused: fitted.refused,
    }
}

/// The last change of each prefix, in the order of those last changes.
fn last_per_prefix<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Vec<&'a Change> {
    let changes: Vec<&Change> = changes.into_iter().collect();
    let mut last: HashMap<Prefix, usize> = HashMap::with_capacity(changes.len());
    for (i, c) in changes.iter().enumerate() {
        last.insert(c.prefix(), i);
    }
    changes
        .into_iter()
        .enumerate()
        .filter(|(i, c)| last.get(&c.prefix()) == Some(i))
        .map(|(_, c)| c)
        .collect()
}

#[cfg(test)]
mod tests;
