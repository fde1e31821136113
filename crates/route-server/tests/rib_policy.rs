//! Azure Route Server's policy in the RIB: configured peers only, at most 8, the
//! 65515 loop rejection, the route limit and its NOTIFICATION, best path and ECMP.

// A panic in a test is a failed test, not a crashed daemon.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Instant;

use hopwatch_bgp::message::Community;
use hopwatch_bgp::notification::Cease;
use hopwatch_bgp::{Asn, ErrorCode, Update};
use hopwatch_route_server::rib::{MAX_PEERS, Rib, RibConfig, RibError};
use support::*;

#[test]
fn a_ninth_peer_is_refused() {
    let mut rib = Rib::new(RibConfig::default());
    for i in 0..MAX_PEERS {
        rib.add_peer(ip(&format!("10.10.0.{}", 10 + i)), Asn(65001), None)
            .unwrap();
    }
    assert_eq!(
        rib.add_peer(ip("10.10.0.99"), Asn(65009), None),
        Err(RibError::TooManyPeers { max: 8 })
    );
    assert_eq!(rib.peers().len(), 8);
}

#[test]
fn a_peer_cannot_be_configured_twice() {
    let mut rib = rib3();
    assert_eq!(
        rib.add_peer(ip(W1), Asn(65001), None),
        Err(RibError::DuplicatePeer(ip(W1)))
    );
}

#[test]
fn an_unconfigured_peer_is_refused_with_connection_rejected() {
    let mut rib = rib3();
    assert_eq!(rib.peer_asn(ip("10.10.0.66")), None);
    assert_eq!(rib.peer_asn(ip(W1)), Some(Asn(65001)));
    let err = rib
        .receive(
            Instant::now(),
            ip("10.10.0.66"),
            &announce(&[VIP], WS1, &[65066]),
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Cease(Cease::ConnectionRejected));
    assert!(rib.loc_rib().is_empty());
}

#[test]
fn a_route_whose_as_path_holds_65515_is_rejected_counted_and_reported() {
    let mut rib = rib3();
    let t0 = Instant::now();
    let got = rib
        .receive(t0, ip(W1), &announce(&[VIP], WS1, &[65001, 65515, 65010]))
        .unwrap();
    assert!(got.changes.is_empty());
    assert_eq!(got.rejected, vec![pfx(VIP)]);
    assert!(rib.loc_rib().is_empty());
    let w1 = &rib.peers()[0];
    assert_eq!((w1.routes, w1.rejected, w1.rejected_total), (0, 1, 1));

    // A looped announcement replaces the route the peer had.
    rib.receive(t0, ip(W1), &announce(&["10.1.0.0/16"], WS1, &[65001]))
        .unwrap();
    let got = rib
        .receive(t0, ip(W1), &announce(&["10.1.0.0/16"], WS1, &[65515]))
        .unwrap();
    assert_eq!(got.changes.len(), 1);
    assert_eq!(got.changes[0].best, None);
    // Withdrawing a rejected prefix forgets it.
    rib.receive(t0, ip(W1), &withdraw(&[VIP, "10.1.0.0/16"]))
        .unwrap();
    let w1 = &rib.peers()[0];
    assert_eq!((w1.routes, w1.rejected, w1.rejected_total), (0, 0, 2));
}

#[test]
fn the_1001st_route_gives_the_maximum_prefixes_notification_and_changes_nothing() {
    let mut rib = rib3();
    let t0 = Instant::now();
    let prefixes: Vec<String> = (0..1_001u32)
        .map(|i| format!("10.{}.{}.0/24", 100 + i / 256, i % 256))
        .collect();
    let first: Vec<&str> = prefixes[..1_000].iter().map(String::as_str).collect();
    let got = rib
        .receive(t0, ip(W1), &announce(&first, WS1, &[65001]))
        .unwrap();
    assert_eq!(got.changes.len(), 1_000);
    // Re-announcing held prefixes and withdrawing one to make room are fine.
    rib.receive(t0, ip(W1), &announce(&first[..10], WS2, &[65001]))
        .unwrap();

    let err = rib
        .receive(t0, ip(W1), &announce(&[&prefixes[1_000]], WS1, &[65001]))
        .unwrap_err();
    assert_eq!(
        err.code,
        ErrorCode::Cease(Cease::MaximumNumberOfPrefixesReached)
    );
    // AFI 1 (IPv4), SAFI 1 (unicast), limit 1,000 (0x000003e8): Azure's.
    assert_eq!(err.data, vec![0x00, 0x01, 0x01, 0x00, 0x00, 0x03, 0xe8]);
    assert_eq!(rib.loc_rib().len(), 1_000);

    let mut swap = announce(&[&prefixes[1_000]], WS1, &[65001]);
    swap.withdrawn = vec![pfx(first[0])];
    rib.receive(t0, ip(W1), &swap).unwrap();
    assert_eq!(rib.peers()[0].routes, 1_000);
}

#[test]
fn the_route_limit_notification_names_ipv6_when_an_ipv6_prefix_breaks_it() {
    let mut rib = rib3();
    rib.set_route_limit(ip(W2), 1).unwrap();
    let t0 = Instant::now();
    rib.receive(t0, ip(W2), &announce(&[VIP], WS1, &[65002]))
        .unwrap();
    let err = rib
        .receive(
            t0,
            ip(W2),
            &announce(&["2001:db8::/64"], "2001:db8::4", &[65002]),
        )
        .unwrap_err();
    assert_eq!(err.data, vec![0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x01]);
}

/// (peer, next hop, AS path)
type Announcement = (&'static str, &'static str, &'static [u32]);

#[test]
fn the_shortest_as_path_wins_whatever_the_order() {
    // (announcements in order as (peer, next hop, AS path), expected next hops)
    let cases: &[(&[Announcement], &[&str])] = &[
        (&[(W1, WS1, &[65001]), (W2, WS2, &[65002, 65020])], &[WS1]),
        (&[(W2, WS2, &[65002, 65020]), (W1, WS1, &[65001])], &[WS1]),
        (
            &[(W1, WS1, &[65001, 65001, 65001]), (W2, WS2, &[65002])],
            &[WS2],
        ),
        (
            &[
                (W1, WS1, &[65001, 65010]),
                (W2, WS2, &[65002, 65020]),
                (W3, WS3, &[65003]),
            ],
            &[WS3],
        ),
    ];
    for (steps, want) in cases {
        let mut rib = rib3();
        for (peer, nh, path) in *steps {
            rib.receive(Instant::now(), ip(peer), &announce(&[VIP], nh, path))
                .unwrap();
        }
        assert_eq!(best_hops(&rib, VIP), ips(want), "{steps:?}");
    }
}

#[test]
fn equal_paths_form_an_ecmp_set_that_breaks_up_as_paths_change() {
    let mut rib = rib3();
    let t0 = Instant::now();
    // (peer, UPDATE, next hops after it, whether a change is reported)
    let steps: Vec<(&str, Update, Vec<&str>, bool)> = vec![
        (W2, announce(&[VIP], WS2, &[65002]), vec![WS2], true),
        (W1, announce(&[VIP], WS1, &[65001]), vec![WS1, WS2], true),
        (
            W3,
            announce(&[VIP], WS3, &[65003]),
            vec![WS1, WS2, WS3],
            true,
        ),
        // The same next hop from two peers is one next hop, but a new path.
        (W3, announce(&[VIP], WS1, &[65003]), vec![WS1, WS2], true),
        // A longer path leaves the set.
        (W2, announce(&[VIP], WS2, &[65002, 65002]), vec![WS1], true),
        // Re-announcing exactly the same route changes nothing.
        (W2, announce(&[VIP], WS2, &[65002, 65002]), vec![WS1], false),
        (W1, withdraw(&[VIP]), vec![WS1], true),
        (W3, withdraw(&[VIP]), vec![WS2], true),
        (W2, withdraw(&[VIP]), vec![], true),
    ];
    for (i, (peer, update, want, reported)) in steps.into_iter().enumerate() {
        let got = rib.receive(t0, ip(peer), &update).unwrap();
        assert_eq!(best_hops(&rib, VIP), ips(&want), "step {i}");
        assert_eq!(got.changes.len(), usize::from(reported), "step {i}");
        if let Some(c) = got.changes.first() {
            assert_eq!(
                c.best.as_ref().map(|b| b.next_hops.clone()),
                (!want.is_empty()).then(|| ips(&want)),
                "step {i}"
            );
        }
    }
}

#[test]
fn ecmp_paths_are_sorted_by_peer_and_keep_as_path_and_communities() {
    let mut rib = rib3();
    let t0 = Instant::now();
    rib.receive(
        t0,
        ip(W2),
        &announce_with_communities(&[VIP], WS2, &[65002], &[0xFDE9_0002]),
    )
    .unwrap();
    rib.receive(t0, ip(W1), &announce(&[VIP], WS1, &[65001]))
        .unwrap();
    let best = &rib.loc_rib()[&pfx(VIP)];
    let peers: Vec<_> = best.paths.iter().map(|p| p.peer).collect();
    assert_eq!(peers, ips(&[W1, W2]));
    assert_eq!(
        best.paths[1].attributes.communities,
        vec![Community(0xFDE9_0002)]
    );
    assert_eq!(best.paths[1].attributes.as_path, attrs(&[65002]).as_path);
    assert_eq!(best.paths[1].attributes.next_hop, None);
}

#[test]
fn a_change_of_communities_alone_is_reported() {
    let mut rib = rib3();
    let t0 = Instant::now();
    rib.receive(t0, ip(W1), &announce(&[VIP], WS1, &[65001]))
        .unwrap();
    let got = rib
        .receive(
            t0,
            ip(W1),
            &announce_with_communities(&[VIP], WS1, &[65001], &[1]),
        )
        .unwrap();
    assert_eq!(got.changes.len(), 1);
}

#[test]
fn ipv6_routes_arrive_and_leave_through_mp_reach_and_mp_unreach() {
    let mut rib = rib3();
    let t0 = Instant::now();
    let update = announce(&["2001:db8:1::/48"], "2001:db8::4", &[65001]);
    assert!(update.attributes.mp_reach.is_some() && update.nlri.is_empty());
    let got = rib.receive(t0, ip(W1), &update).unwrap();
    assert_eq!(got.changes.len(), 1);
    assert_eq!(best_hops(&rib, "2001:db8:1::/48"), ips(&["2001:db8::4"]));
    let best = &rib.loc_rib()[&pfx("2001:db8:1::/48")];
    assert_eq!(best.paths[0].attributes.mp_reach, None);

    let got = rib
        .receive(t0, ip(W1), &withdraw(&["2001:db8:1::/48"]))
        .unwrap();
    assert_eq!(got.changes[0].best, None);
    assert!(rib.loc_rib().is_empty());
}

#[test]
fn withdrawals_apply_before_announcements_of_the_same_update() {
    let mut rib = rib3();
    let t0 = Instant::now();
    rib.receive(t0, ip(W1), &announce(&[VIP], WS1, &[65001]))
        .unwrap();
    let mut update = announce(&[VIP], WS2, &[65001]);
    update.withdrawn = vec![pfx(VIP)];
    rib.receive(t0, ip(W1), &update).unwrap();
    assert_eq!(best_hops(&rib, VIP), ips(&[WS2]));
}

#[test]
fn removing_a_peer_removes_its_routes() {
    let mut rib = rib3();
    let t0 = Instant::now();
    rib.receive(t0, ip(W1), &announce(&[VIP], WS1, &[65001]))
        .unwrap();
    let changes = rib.remove_peer(ip(W1)).unwrap();
    assert_eq!(changes.len(), 1);
    assert!(rib.loc_rib().is_empty());
    assert_eq!(rib.remove_peer(ip(W1)), Err(RibError::UnknownPeer(ip(W1))));
}
