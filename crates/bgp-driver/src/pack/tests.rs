//! The packer against the cases a failover produces: a thousand VIPs moving at once,
//! a burst that changes its mind, two families, a session that carries one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hopwatch_bgp::message::{self, Community, MAX_MESSAGE_LEN, Message};
use hopwatch_bgp::{Asn, Codec, Family, Prefix, Update};

use super::*;
use crate::rib_out::Route;

const LOCAL: Asn = Asn(65001);
const PEER: Asn = Asn(65515);

fn vip(i: u32) -> Prefix {
    Prefix::new(IpAddr::V4(Ipv4Addr::from(0x6440_0000 + i)), 32).unwrap()
}

fn vip6(i: u16) -> Prefix {
    Prefix::new(
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0x64, 0, 0, 0, 0, 0, i)),
        128,
    )
    .unwrap()
}

fn nh(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn announce(prefix: Prefix, next_hop: &str) -> Change {
    Change::Announce(Route::new(prefix, nh(next_hop)))
}

fn pack_all(changes: &[Change]) -> Outgoing {
    super::changes(changes, LOCAL, PEER, &Codec::default(), |_| true)
}

/// The prefixes an event says were announced, and withdrawn.
fn listed(ev: &EventKind) -> (Vec<(Prefix, IpAddr)>, Vec<Prefix>) {
    match ev {
        EventKind::UpdateSent { announce, withdraw } => (announce.clone(), withdraw.clone()),
        other => panic!("not an UpdateSent: {other:?}"),
    }
}

/// Each message encoded, decoded back, and compared with its event: the event lists
/// exactly what that one message carries.
fn assert_events_match_the_wire(out: &Outgoing) {
    let codec = Codec::default();
    for (update, ev) in &out.messages {
        let mut wire = Vec::new();
        message::encode(&Message::Update(update.clone()), &codec, &mut wire);
        assert!(wire.len() <= MAX_MESSAGE_LEN, "{} octets", wire.len());
        assert_eq!(
            message::frame_len(&wire),
            Ok(Some(wire.len())),
            "one message"
        );
        let decoded = match message::decode(&wire, &codec).unwrap().message {
            Message::Update(u) => u,
            other => panic!("not an UPDATE: {other:?}"),
        };
        let (announce, withdraw) = listed(ev);
        assert_eq!(decoded.announced(), announce);
        assert_eq!(decoded.withdrawn_all(), withdraw);
    }
}

#[test]
fn a_thousand_vips_on_one_route_are_two_full_messages_not_a_thousand() {
    let changes: Vec<Change> = (0..1000).map(|i| announce(vip(i), "10.10.0.5")).collect();
    let out = pack_all(&changes);
    assert!(out.refused.is_empty());
    assert_eq!(out.messages.len(), 2, "1,000 /32s fit in two messages");
    let counts: Vec<usize> = out.messages.iter().map(|(u, _)| u.nlri.len()).collect();
    assert!(counts[0] > 750 && counts[0] < 850, "{counts:?}");
    assert_events_match_the_wire(&out);
    let all: Vec<Prefix> = out
        .messages
        .iter()
        .flat_map(|(_, ev)| listed(ev).0)
        .map(|(p, next_hop)| {
            assert_eq!(next_hop, nh("10.10.0.5"));
            p
        })
        .collect();
    assert_eq!(all, (0..1000).map(vip).collect::<Vec<_>>());
}

#[test]
fn two_next_hops_are_two_updates_in_first_seen_order() {
    let changes = [
        announce(vip(1), "10.10.0.5"),
        announce(vip(2), "10.10.0.4"),
        announce(vip(3), "10.10.0.5"),
    ];
    let out = pack_all(&changes);
    let got: Vec<_> = out.messages.iter().map(|(_, ev)| listed(ev).0).collect();
    assert_eq!(
        got,
        vec![
            vec![(vip(1), nh("10.10.0.5")), (vip(3), nh("10.10.0.5"))],
            vec![(vip(2), nh("10.10.0.4"))],
        ]
    );
    assert_events_match_the_wire(&out);
}

#[test]
fn routes_that_differ_in_any_attribute_are_not_packed_together() {
    let mut with_med = Route::new(vip(2), nh("10.10.0.5"));
    with_med.med = Some(10);
    let mut with_community = Route::new(vip(3), nh("10.10.0.5"));
    with_community.communities = vec![Community(1)];
    let changes = [
        announce(vip(1), "10.10.0.5"),
        Change::Announce(with_med),
        Change::Announce(with_community),
    ];
    assert_eq!(pack_all(&changes).messages.len(), 3);
}

#[test]
fn a_withdraw_then_an_announce_in_one_batch_is_just_the_announce() {
    let changes = [Change::Withdraw(vip(1)), announce(vip(1), "10.10.0.5")];
    let out = pack_all(&changes);
    assert_eq!(out.messages.len(), 1);
    let (announced, withdrawn) = listed(&out.messages[0].1);
    assert_eq!(announced, vec![(vip(1), nh("10.10.0.5"))]);
    assert!(withdrawn.is_empty());
    let u = &out.messages[0].0;
    assert!(
        u.withdrawn_all().is_empty(),
        "no withdrawal on the wire: {u:?}"
    );
}

#[test]
fn an_announce_then_a_withdraw_in_one_batch_is_just_the_withdraw() {
    let changes = [announce(vip(1), "10.10.0.5"), Change::Withdraw(vip(1))];
    let out = pack_all(&changes);
    assert_eq!(out.messages.len(), 1);
    assert_eq!(listed(&out.messages[0].1), (vec![], vec![vip(1)]));
}

#[test]
fn in_a_burst_the_last_next_hop_of_each_prefix_wins() {
    let changes = [
        announce(vip(1), "10.10.0.4"),
        announce(vip(1), "10.10.0.5"),
        announce(vip(2), "10.10.0.4"),
    ];
    let out = pack_all(&changes);
    let announced: Vec<(Prefix, IpAddr)> = out
        .messages
        .iter()
        .flat_map(|(_, ev)| listed(ev).0)
        .collect();
    assert_eq!(
        announced,
        vec![(vip(1), nh("10.10.0.5")), (vip(2), nh("10.10.0.4"))],
        "A sent once, via its last next hop"
    );
    assert_events_match_the_wire(&out);
}

#[test]
fn withdrawals_go_first_in_one_update_per_family() {
    let changes = [
        announce(vip(9), "10.10.0.5"),
        Change::Withdraw(vip(1)),
        Change::Withdraw(vip6(1)),
        Change::Withdraw(vip(2)),
    ];
    let out = pack_all(&changes);
    let got: Vec<_> = out.messages.iter().map(|(_, ev)| listed(ev)).collect();
    assert_eq!(
        got,
        vec![
            (vec![], vec![vip(1), vip(2)]),
            (vec![], vec![vip6(1)]),
            (vec![(vip(9), nh("10.10.0.5"))], vec![]),
        ]
    );
    assert!(out.messages[1].0.attributes.mp_unreach.is_some());
    assert_events_match_the_wire(&out);
}

#[test]
fn ipv6_vips_are_packed_in_mp_reach() {
    let changes: Vec<Change> = (0..300)
        .map(|i| announce(vip6(i), "fd00:10::5"))
        .chain([announce(vip(1), "10.10.0.5")])
        .collect();
    let out = pack_all(&changes);
    assert_events_match_the_wire(&out);
    let families: Vec<Option<Family>> = out
        .messages
        .iter()
        .map(|(u, _)| u.attributes.mp_reach.as_ref().map(|r| r.family))
        .collect();
    // 300 /128s take 17 octets each: two messages, then the IPv4 route.
    assert_eq!(
        families,
        vec![Some(Family::Ipv6Unicast), Some(Family::Ipv6Unicast), None]
    );
    let v6: usize = out.messages[..2]
        .iter()
        .map(|(_, ev)| listed(ev).0.len())
        .sum();
    assert_eq!(v6, 300);
}

#[test]
fn a_family_the_session_does_not_carry_is_left_out() {
    let changes = [
        announce(vip6(1), "fd00:10::5"),
        Change::Withdraw(vip6(2)),
        announce(vip(1), "10.10.0.5"),
    ];
    let out = super::changes(&changes, LOCAL, PEER, &Codec::default(), |f| {
        f == Family::Ipv4Unicast
    });
    assert_eq!(out.messages.len(), 1);
    assert_eq!(
        listed(&out.messages[0].1),
        (vec![(vip(1), nh("10.10.0.5"))], vec![])
    );
}

#[test]
fn attributes_are_those_sent_to_this_peer() {
    let changes = [announce(vip(1), "10.10.0.5")];
    let ebgp = super::changes(&changes, LOCAL, PEER, &Codec::default(), |_| true);
    let ibgp = super::changes(&changes, LOCAL, LOCAL, &Codec::default(), |_| true);
    let a = &ebgp.messages[0].0.attributes;
    assert_eq!(a.as_path.as_ref().unwrap().to_string(), "65001");
    assert_eq!(a.local_pref, None);
    assert_eq!(ibgp.messages[0].0.attributes.local_pref, Some(100));
}

#[test]
fn a_route_too_long_even_alone_is_refused_and_the_others_still_go() {
    let mut long = Route::new(vip(2), nh("10.10.0.5"));
    long.communities = (0..1100).map(Community).collect();
    let changes = [
        announce(vip(1), "10.10.0.5"),
        Change::Announce(long),
        announce(vip(3), "10.10.0.5"),
    ];
    let out = pack_all(&changes);
    assert_eq!(out.refused.len(), 1);
    assert_eq!(out.refused[0].prefix, Some(vip(2)));
    assert_eq!(out.messages.len(), 1);
    assert_eq!(
        listed(&out.messages[0].1).0,
        vec![(vip(1), nh("10.10.0.5")), (vip(3), nh("10.10.0.5"))]
    );
}

#[test]
fn a_two_octet_session_is_cut_for_its_own_codec() {
    let mut r = Route::new(vip(0), nh("10.10.0.5"));
    r.as_path = (0..200).map(|i| Asn(4_200_000_000 + i)).collect();
    let changes: Vec<Change> = (0..1000)
        .map(|i| {
            Change::Announce(Route {
                prefix: vip(i),
                ..r.clone()
            })
        })
        .collect();
    let two = Codec {
        four_octet_as: false,
    };
    let out = super::changes(&changes, LOCAL, PEER, &two, |_| true);
    assert!(out.refused.is_empty());
    for (u, _) in &out.messages {
        assert!(u.wire_len(&two) <= MAX_MESSAGE_LEN);
    }
    let n: usize = out.messages.iter().map(|(u, _)| u.nlri.len()).sum();
    assert_eq!(n, 1000);
}

#[test]
fn route_server_updates_are_cut_with_one_event_per_message() {
    let prefixes: Vec<Prefix> = (0..1000).map(vip).collect();
    let update = Update::announce(
        prefixes,
        nh("10.10.0.5"),
        Route::new(vip(0), nh("10.10.0.5")).attributes(LOCAL, PEER),
    );
    let out = fit([update], &Codec::default());
    assert_eq!(out.messages.len(), 2);
    assert_events_match_the_wire(&out);
}
