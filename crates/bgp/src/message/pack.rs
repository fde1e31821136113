//! Packing routes into as few UPDATEs as the protocol allows, and fitting them to
//! a session's message size.
//!
//! One UPDATE carries one set of path attributes and every prefix that shares it
//! (RFC 4271 4.3), so a thousand routes that differ only by prefix are one
//! announcement, not a thousand. [`pack`] groups them; [`fit`] then cuts each
//! group into messages of at most 4,096 octets for one session's codec, refusing
//! only the prefixes whose attributes cannot fit a message even alone.
//!
//! Withdrawals go before announcements. With at most one change per prefix (the
//! caller's duty: a batch is a state, not a history) the order between UPDATEs
//! cannot reorder what happens to any one prefix, so the order is free to serve a
//! receiver that counts prefixes: withdrawn first, its count goes down before it
//! goes up, and a peer at its maximum-prefix limit (RFC 4486) is not pushed past
//! it by a swap of prefixes. It is also the order within one UPDATE (RFC 4271
//! 3.1) and the order [`Update::split_to_fit`] keeps.

use std::net::IpAddr;

use super::Codec;
use super::attributes::PathAttributes;
use super::fit::TooLong;
use super::update::Update;
use crate::types::{Family, Prefix};

/// The UPDATEs that withdraw `withdraw` and announce `announce`, with as few
/// UPDATEs as possible and no limit on their size ([`fit`] cuts them to a session's).
///
/// Withdrawals come first, one UPDATE per family (IPv4 in the Withdrawn Routes
/// field, IPv6 in MP_UNREACH_NLRI); then one announcement per distinct (family,
/// next hop, attributes), in the order each first appears. Every prefix keeps its
/// order within its UPDATE. A prefix should appear once in all: given twice, it is
/// sent twice, as the caller asked.
pub fn pack(
    withdraw: impl IntoIterator<Item = Prefix>,
    announce: impl IntoIterator<Item = (Prefix, IpAddr, PathAttributes)>,
) -> Vec<Update> {
    let mut withdrawals: Vec<(Family, Vec<Prefix>)> = Vec::new();
    for prefix in withdraw {
        let family = prefix.family();
        match withdrawals.iter_mut().find(|(f, _)| *f == family) {
            Some((_, prefixes)) => prefixes.push(prefix),
            None => withdrawals.push((family, vec![prefix])),
        }
    }
    let mut groups: Vec<Group> = Vec::new();
    for (prefix, next_hop, attributes) in announce {
        let family = prefix.family();
        // Scanned from the end: consecutive prefixes usually share their route.
        let found = groups
            .iter_mut()
            .rev()
            .find(|g| g.family == family && g.next_hop == next_hop && g.attributes == attributes);
        match found {
            Some(g) => g.prefixes.push(prefix),
            None => groups.push(Group {
                family,
                next_hop,
                attributes,
                prefixes: vec![prefix],
            }),
        }
    }
    withdrawals
        .into_iter()
        .map(|(_, prefixes)| Update::withdraw(prefixes))
        .chain(
            groups
                .into_iter()
                .map(|g| Update::announce(g.prefixes, g.next_hop, g.attributes)),
        )
        .collect()
}

/// Prefixes announced with one route.
struct Group {
    family: Family,
    next_hop: IpAddr,
    attributes: PathAttributes,
    prefixes: Vec<Prefix>,
}

/// UPDATEs that each fit one message, and what could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fitted {
    /// The UPDATEs, each at most [`Codec::max_message_len`]: one message each.
    pub updates: Vec<Update>,
    /// One refusal per prefix whose attributes do not fit a message even alone
    /// (or per UPDATE without prefixes that does not fit): not sent.
    pub refused: Vec<TooLong>,
}

/// `updates` as UPDATEs that each fit one message of `codec`, in order: each one
/// that fits as it is, each longer one spread over several ([`Update::split_to_fit`]).
///
/// A prefix that cannot fit even alone is taken out and refused, and the rest of
/// its UPDATE is still sent: packing prefixes together never costs a route that
/// would have fitted on its own.
pub fn fit(updates: impl IntoIterator<Item = Update>, codec: &Codec) -> Fitted {
    let mut out = Fitted::default();
    for mut update in updates {
        loop {
            match update.split_to_fit(codec) {
                Ok(parts) => {
                    out.updates.extend(parts);
                    break;
                }
                Err(e) => {
                    let prefix = e.prefix;
                    out.refused.push(e);
                    let removed = prefix.is_some_and(|p| update.remove_announced(&p));
                    if !removed || !update.has_prefixes() {
                        break;
                    }
                }
            }
        }
    }
    out
}

impl Update {
    /// Takes `prefix` out of the announced prefixes (both the classic NLRI and
    /// MP_REACH_NLRI); false when it was not announced here.
    fn remove_announced(&mut self, prefix: &Prefix) -> bool {
        let before = self.nlri.len();
        self.nlri.retain(|p| p != prefix);
        let mut removed = self.nlri.len() != before;
        if let Some(r) = &mut self.attributes.mp_reach {
            let before = r.nlri.len();
            r.nlri.retain(|p| p != prefix);
            removed |= r.nlri.len() != before;
        }
        removed
    }

    /// Whether this UPDATE withdraws or announces any prefix.
    fn has_prefixes(&self) -> bool {
        !self.withdrawn.is_empty()
            || !self.nlri.is_empty()
            || self
                .attributes
                .mp_reach
                .as_ref()
                .is_some_and(|r| !r.nlri.is_empty())
            || self
                .attributes
                .mp_unreach
                .as_ref()
                .is_some_and(|u| !u.withdrawn.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::message::{AsPath, Community, MAX_MESSAGE_LEN, Origin};
    use crate::types::Asn;

    fn v4(i: u32) -> Prefix {
        Prefix::new(IpAddr::V4(Ipv4Addr::from(0x6440_0000 + i)), 32).unwrap()
    }

    fn v6(i: u16) -> Prefix {
        Prefix::new(
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0x64, 0, 0, 0, 0, 0, i)),
            128,
        )
        .unwrap()
    }

    fn attrs(communities: u32) -> PathAttributes {
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence([Asn(65001)])),
            communities: (0..communities).map(Community).collect(),
            ..Default::default()
        }
    }

    fn nh(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_sharing_a_route_share_one_update_in_first_seen_order() {
        let a = attrs(1);
        let updates = pack(
            [],
            [
                (v4(1), nh("10.0.0.1"), a.clone()),
                (v4(2), nh("10.0.0.2"), a.clone()),
                (v4(3), nh("10.0.0.1"), a.clone()),
                (v4(4), nh("10.0.0.1"), attrs(2)),
            ],
        );
        assert_eq!(
            updates,
            vec![
                Update::announce(vec![v4(1), v4(3)], nh("10.0.0.1"), a.clone()),
                Update::announce(vec![v4(2)], nh("10.0.0.2"), a),
                Update::announce(vec![v4(4)], nh("10.0.0.1"), attrs(2)),
            ]
        );
    }

    #[test]
    fn withdrawals_come_first_one_update_per_family() {
        let updates = pack(
            [v4(1), v6(1), v4(2), v6(2)],
            [(v4(3), nh("10.0.0.1"), attrs(0))],
        );
        assert_eq!(updates.len(), 3);
        assert_eq!(updates[0], Update::withdraw(vec![v4(1), v4(2)]));
        assert_eq!(updates[1], Update::withdraw(vec![v6(1), v6(2)]));
        assert_eq!(updates[1].withdrawn_all(), vec![v6(1), v6(2)]);
        assert!(updates[1].withdrawn.is_empty(), "IPv6 goes in MP_UNREACH");
        assert_eq!(updates[2].announced(), vec![(v4(3), nh("10.0.0.1"))]);
    }

    #[test]
    fn ipv4_and_ipv6_routes_are_never_in_one_update() {
        let updates = pack(
            [],
            [
                (v4(1), nh("2001:db8::1"), attrs(0)),
                (v6(1), nh("2001:db8::1"), attrs(0)),
                (v6(2), nh("2001:db8::1"), attrs(0)),
            ],
        );
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[1].announced().len(), 2);
    }

    #[test]
    fn fitting_cuts_long_updates_and_leaves_short_ones() {
        let prefixes: Vec<Prefix> = (0..2000).map(v4).collect();
        let long = Update::announce(prefixes.clone(), nh("10.0.0.1"), attrs(0));
        let short = Update::withdraw(vec![v4(5000)]);
        let f = fit([short.clone(), long], &Codec::default());
        assert!(f.refused.is_empty());
        assert_eq!(f.updates[0], short);
        assert!(f.updates.len() >= 4, "{}", f.updates.len());
        let again: Vec<Prefix> = f.updates[1..].iter().flat_map(|u| u.nlri.clone()).collect();
        assert_eq!(again, prefixes);
        for u in &f.updates {
            assert!(u.wire_len(&Codec::default()) <= MAX_MESSAGE_LEN);
        }
    }

    #[test]
    fn a_prefix_that_cannot_fit_alone_is_refused_and_the_rest_is_sent() {
        // Attributes that leave room for a /8 (2 octets of NLRI) but not a /32 (5).
        let codec = Codec::default();
        let with_raw = |len: usize| PathAttributes {
            unknown: vec![crate::message::RawAttribute {
                flags: 0xc0,
                type_code: 99,
                value: vec![7; len],
            }],
            ..attrs(0)
        };
        let room = |a: &PathAttributes| {
            MAX_MESSAGE_LEN - Update::announce(vec![], nh("10.0.0.1"), a.clone()).wire_len(&codec)
        };
        let a = with_raw(3000 + room(&with_raw(3000)) - 3);
        let short = Prefix::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 8).unwrap();
        let u = Update::announce(vec![v4(1), short, v4(2)], nh("10.0.0.1"), a);
        let f = fit([u], &codec);
        let refused: Vec<_> = f.refused.iter().map(|e| e.prefix).collect();
        assert_eq!(refused, vec![Some(v4(1)), Some(v4(2))]);
        assert_eq!(f.updates.len(), 1);
        assert_eq!(f.updates[0].nlri, vec![short]);
    }

    #[test]
    fn an_update_whose_every_prefix_is_refused_sends_nothing() {
        let u = Update::announce(vec![v4(1), v4(2)], nh("10.0.0.1"), attrs(2000));
        let f = fit([u], &Codec::default());
        assert!(f.updates.is_empty());
        assert_eq!(f.refused.len(), 2);
    }
}
