//! What the other peers are sent: route-server export, each changed prefix once and
//! packed with the prefixes that share its route (a next-hop change replaces, never
//! withdraw-then-announce), nothing sent back to its source, the VNET prefixes, and
//! Azure's AS prepend.

// A panic in a test is a failed test, not a crashed daemon.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::IpAddr;
use std::time::Instant;

use hopwatch_bgp::{Asn, PathAttributes, Prefix, Update};
use hopwatch_route_server::rib::{Rib, RibConfig};
use support::*;

/// What an UPDATE does, in short: ("announce", prefix, next hop) or ("withdraw", prefix, "").
fn describe(u: &Update) -> Vec<(&'static str, Prefix, Option<IpAddr>)> {
    let mut out: Vec<_> = u
        .announced()
        .into_iter()
        .map(|(p, nh)| ("announce", p, Some(nh)))
        .collect();
    out.extend(u.withdrawn_all().into_iter().map(|p| ("withdraw", p, None)));
    out
}

#[test]
fn a_next_hop_change_is_one_replacing_update_per_peer_never_a_withdrawal() {
    let mut rib = rib3();
    let t0 = Instant::now();
    rib.receive(t0, ip(W1), &announce(&[VIP, "10.1.0.0/16"], WS1, &[65001]))
        .unwrap();
    for peer in [W2, W3] {
        let updates = rib.poll_updates(ip(peer));
        assert_eq!(
            updates.len(),
            1,
            "both prefixes share their route: one UPDATE"
        );
        assert_eq!(
            describe(&updates[0]),
            vec![
                ("announce", pfx("10.1.0.0/16"), Some(ip(WS1))),
                ("announce", pfx(VIP), Some(ip(WS1))),
            ]
        );
    }

    // The watcher moves the VIP: one UPDATE with the new next hop.
    rib.receive(t0, ip(W1), &announce(&[VIP], WS2, &[65001]))
        .unwrap();
    for peer in [W2, W3] {
        let updates = rib.poll_updates(ip(peer));
        assert_eq!(updates.len(), 1, "{peer}");
        assert_eq!(
            describe(&updates[0]),
            vec![("announce", pfx(VIP), Some(ip(WS2)))]
        );
        assert!(updates[0].withdrawn_all().is_empty());
    }
    // Nothing more until something changes.
    assert!(rib.poll_updates(ip(W2)).is_empty());
}

#[test]
fn routes_are_not_sent_back_to_the_peer_they_came_from() {
    let mut rib = rib3();
    let t0 = Instant::now();
    rib.receive(t0, ip(W1), &announce(&[VIP], WS1, &[65001]))
        .unwrap();
    assert!(rib.poll_updates(ip(W1)).is_empty());
    assert_eq!(rib.poll_updates(ip(W3)).len(), 1);
    assert!(rib.routes_for(ip(W1)).is_empty());
    assert_eq!(rib.routes_for(ip(W2)).len(), 1);

    // In an ECMP set each source gets the other path, everyone else the first.
    rib.receive(t0, ip(W2), &announce(&[VIP], WS2, &[65002]))
        .unwrap();
    let nh = |rib: &Rib, peer: &str| rib.routes_for(ip(peer)).first().map(|r| r.1);
    assert_eq!(nh(&rib, W1), Some(ip(WS2)));
    assert_eq!(nh(&rib, W2), Some(ip(WS1)));
    assert_eq!(nh(&rib, W3), Some(ip(WS1)));
    let to_w1 = rib.poll_updates(ip(W1));
    assert_eq!(
        describe(&to_w1[0]),
        vec![("announce", pfx(VIP), Some(ip(WS2)))]
    );
    // W3 already has W1's path, first in the set: nothing to send.
    assert!(rib.poll_updates(ip(W3)).is_empty());

    // When W2's path leaves, W1 has nothing left to be sent: a withdrawal.
    rib.receive(t0, ip(W2), &withdraw(&[VIP])).unwrap();
    let to_w1 = rib.poll_updates(ip(W1));
    assert_eq!(describe(&to_w1[0]), vec![("withdraw", pfx(VIP), None)]);
    assert!(rib.poll_updates(ip(W3)).is_empty());
}

#[test]
fn passed_on_routes_keep_next_hop_and_communities_and_get_65515_prepended() {
    // (prepend_local_as, AS path W2 should see)
    for (prepend, want) in [
        (true, vec![65515, 65001, 65010]),
        (false, vec![65001, 65010]),
    ] {
        let mut rib = Rib::new(RibConfig {
            prepend_local_as: prepend,
            ..RibConfig::default()
        });
        rib.add_peer(ip(W1), Asn(65001), None).unwrap();
        rib.add_peer(ip(W2), Asn(65002), None).unwrap();
        let mut update = announce_with_communities(&[VIP], WS1, &[65001, 65010], &[7]);
        update.attributes.local_pref = Some(200);
        update.attributes.med = Some(5);
        rib.receive(Instant::now(), ip(W1), &update).unwrap();
        let routes = rib.routes_for(ip(W2));
        let (prefix, next_hop, a) = &routes[0];
        assert_eq!((*prefix, *next_hop), (pfx(VIP), ip(WS1)));
        assert_eq!(a.as_path, attrs(&want).as_path, "prepend {prepend}");
        assert_eq!(a.communities, update.attributes.communities);
        assert_eq!((a.med, a.local_pref), (Some(5), None));
    }
}

#[test]
fn vnet_prefixes_go_to_every_peer_with_the_servers_as_path() {
    let mut rib = rib3();
    rib.set_local_prefixes(vec![pfx("10.10.0.0/16")], ip("10.10.1.4"));
    let want = PathAttributes {
        as_path: attrs(&[65515]).as_path,
        ..attrs(&[])
    };
    for peer in [W1, W2, W3] {
        assert_eq!(
            rib.routes_for(ip(peer)),
            vec![(pfx("10.10.0.0/16"), ip("10.10.1.4"), want.clone())]
        );
        let updates = rib.poll_updates(ip(peer));
        assert_eq!(updates.len(), 1);
        assert_eq!(
            describe(&updates[0]),
            vec![("announce", pfx("10.10.0.0/16"), Some(ip("10.10.1.4")))]
        );
    }
    // Changing the set sends only the difference.
    rib.set_local_prefixes(
        vec![pfx("10.10.0.0/16"), pfx("10.20.0.0/16")],
        ip("10.10.1.4"),
    );
    assert_eq!(rib.poll_updates(ip(W1)).len(), 1);
    rib.set_local_prefixes(vec![pfx("10.20.0.0/16")], ip("10.10.1.4"));
    let updates = rib.poll_updates(ip(W1));
    assert_eq!(
        describe(&updates[0]),
        vec![("withdraw", pfx("10.10.0.0/16"), None)]
    );
    // VNET prefixes are not in the Loc-RIB: the data plane reaches them directly.
    assert!(rib.loc_rib().is_empty());
}

#[test]
fn a_peer_that_comes_up_gets_the_table_and_then_only_changes() {
    let mut rib = Rib::new(RibConfig::default());
    rib.add_peer(ip(W1), Asn(65001), None).unwrap();
    rib.add_peer(ip(W2), Asn(65002), None).unwrap();
    rib.peer_up(ip(W1)).unwrap();
    let t0 = Instant::now();
    rib.receive(t0, ip(W1), &announce(&[VIP, "10.1.0.0/16"], WS1, &[65001]))
        .unwrap();
    // W2 is not established: it is sent nothing.
    assert!(rib.poll_updates(ip(W2)).is_empty());
    rib.peer_up(ip(W2)).unwrap();
    assert_eq!(rib.routes_for(ip(W2)).len(), 2);
    assert!(rib.poll_updates(ip(W2)).is_empty());
    assert_eq!(rib.adj_rib_out(ip(W2)).len(), 2);

    rib.receive(t0, ip(W1), &withdraw(&["10.1.0.0/16"]))
        .unwrap();
    let updates = rib.poll_updates(ip(W2));
    assert_eq!(
        describe(&updates[0]),
        vec![("withdraw", pfx("10.1.0.0/16"), None)]
    );
    // After the session drops, the next table starts from scratch.
    rib.peer_down(t0, ip(W2), false);
    assert!(rib.adj_rib_out(ip(W2)).is_empty());
}

#[test]
fn a_burst_moving_to_one_next_hop_is_one_update_with_each_prefix_once() {
    let mut rib = rib3();
    let t0 = Instant::now();
    let prefixes: Vec<String> = (0..300u32)
        .map(|i| format!("10.{}.{}.0/24", 200 + i / 256, i % 256))
        .collect();
    let list: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    rib.receive(t0, ip(W1), &announce(&list, WS1, &[65001]))
        .unwrap();
    rib.poll_updates(ip(W2));
    rib.receive(t0, ip(W1), &announce(&list, WS2, &[65001]))
        .unwrap();
    let updates = rib.poll_updates(ip(W2));
    assert_eq!(updates.len(), 1);
    let want: Vec<_> = list
        .iter()
        .map(|p| ("announce", pfx(p), Some(ip(WS2))))
        .collect();
    assert_eq!(describe(&updates[0]), want);
}

/// A thousand VIPs, as a watcher sends them (two UPDATEs of about 800 and 200),
/// then all moved to the other web server: every VIP is one best-set change for the
/// data plane, and the other peers get each VIP once, in one UPDATE per route.
#[test]
fn a_thousand_vips_moving_together_are_passed_on_packed() {
    let mut rib = rib3();
    let t0 = Instant::now();
    let vips: Vec<String> = (0..1000u32)
        .map(|i| format!("100.64.{}.{}/32", i / 256, i % 256))
        .collect();
    let list: Vec<&str> = vips.iter().map(String::as_str).collect();
    for part in list.chunks(800) {
        let got = rib
            .receive(t0, ip(W1), &announce(part, WS1, &[65001]))
            .unwrap();
        assert_eq!(got.changes.len(), part.len());
    }
    rib.poll_updates(ip(W2));
    let mut moved = 0;
    for part in list.chunks(800) {
        let got = rib
            .receive(t0, ip(W1), &announce(part, WS2, &[65001]))
            .unwrap();
        assert!(
            got.changes
                .iter()
                .all(|c| c.best.as_ref().unwrap().next_hops == ips(&[WS2]))
        );
        moved += got.changes.len();
    }
    assert_eq!(moved, 1000, "one change per VIP for the data plane");
    let updates = rib.poll_updates(ip(W2));
    assert_eq!(
        updates.len(),
        1,
        "one route, one UPDATE (the driver cuts it to fit)"
    );
    let got: Vec<Prefix> = updates[0].announced().into_iter().map(|(p, _)| p).collect();
    let mut want: Vec<Prefix> = list.iter().map(|p| pfx(p)).collect();
    want.sort();
    assert_eq!(got, want);
    assert!(updates[0].withdrawn_all().is_empty());
    assert_eq!(rib.table_updates(ip(W3)).len(), 1);
}

#[test]
fn a_mixed_burst_is_withdrawals_first_then_one_update_per_route() {
    let mut rib = rib3();
    let t0 = Instant::now();
    let mut long_path = announce(&["10.3.0.0/16"], WS1, &[65001, 65010]);
    rib.receive(
        t0,
        ip(W1),
        &announce(&["10.1.0.0/16", "10.2.0.0/16"], WS1, &[65001]),
    )
    .unwrap();
    rib.poll_updates(ip(W2));
    // One UPDATE from W1 that withdraws one prefix and announces three: two share
    // a route, the third has a longer AS path.
    long_path.withdrawn = vec![pfx("10.1.0.0/16")];
    rib.receive(t0, ip(W1), &long_path).unwrap();
    rib.receive(
        t0,
        ip(W1),
        &announce(&["10.2.0.0/16", "10.4.0.0/16"], WS2, &[65001]),
    )
    .unwrap();
    let updates = rib.poll_updates(ip(W2));
    let got: Vec<_> = updates.iter().map(describe).collect();
    assert_eq!(
        got,
        vec![
            vec![("withdraw", pfx("10.1.0.0/16"), None)],
            vec![
                ("announce", pfx("10.2.0.0/16"), Some(ip(WS2))),
                ("announce", pfx("10.4.0.0/16"), Some(ip(WS2))),
            ],
            vec![("announce", pfx("10.3.0.0/16"), Some(ip(WS1)))],
        ]
    );
}

#[test]
fn the_table_for_a_peer_that_comes_up_is_packed() {
    let mut rib = rib3();
    let t0 = Instant::now();
    rib.receive(t0, ip(W1), &announce(&[VIP, "10.1.0.0/16"], WS1, &[65001]))
        .unwrap();
    rib.receive(t0, ip(W2), &announce(&["10.2.0.0/16"], WS2, &[65002]))
        .unwrap();
    rib.set_local_prefixes(vec![pfx("10.10.0.0/16")], ip("10.10.1.4"));
    rib.peer_down(t0, ip(W3), false);
    rib.peer_up(ip(W3)).unwrap();
    let got: Vec<_> = rib.table_updates(ip(W3)).iter().map(describe).collect();
    assert_eq!(
        got,
        vec![
            vec![
                ("announce", pfx("10.1.0.0/16"), Some(ip(WS1))),
                ("announce", pfx(VIP), Some(ip(WS1))),
            ],
            vec![("announce", pfx("10.2.0.0/16"), Some(ip(WS2)))],
            vec![("announce", pfx("10.10.0.0/16"), Some(ip("10.10.1.4")))],
        ]
    );
}

#[test]
fn a_withheld_route_leaves_the_rest_of_its_burst_packed() {
    let mut rib = rib3();
    let t0 = Instant::now();
    let many: Vec<u32> = (0..1011).collect();
    rib.receive(
        t0,
        ip(W1),
        &announce(&["10.1.0.0/16", "10.2.0.0/16"], WS1, &[65001]),
    )
    .unwrap();
    rib.receive(
        t0,
        ip(W2),
        &announce_with_communities(&[VIP], WS2, &[65002], &many),
    )
    .unwrap();
    let updates = rib.poll_updates(ip(W3));
    let got: Vec<_> = updates.iter().map(describe).collect();
    assert_eq!(
        got,
        vec![vec![
            ("announce", pfx("10.1.0.0/16"), Some(ip(WS1))),
            ("announce", pfx("10.2.0.0/16"), Some(ip(WS1))),
        ]]
    );
    assert_eq!(rib.drain_withheld(ip(W3)), vec![pfx(VIP)]);
}

#[test]
fn a_route_too_long_to_pass_on_is_withheld_not_sent_and_never_left_stale() {
    let mut rib = rib3();
    let t0 = Instant::now();
    // 1,011 communities: the peer's UPDATE is exactly 4,096 octets; with 65515
    // prepended it would be 4,100, which the receiver would answer with 1/2.
    let many: Vec<u32> = (0..1011).collect();
    let long = announce_with_communities(&[VIP], WS1, &[65001], &many);
    assert_eq!(long.wire_len(&hopwatch_bgp::Codec::default()), 4096);
    rib.receive(t0, ip(W1), &long).unwrap();
    assert_eq!(
        best_hops(&rib, VIP),
        vec![ip(WS1)],
        "the data plane still uses it"
    );
    assert!(
        rib.poll_updates(ip(W2)).is_empty(),
        "nothing too long is sent"
    );
    assert!(rib.routes_for(ip(W3)).is_empty());
    let w2 = rib.peers().into_iter().find(|p| p.addr == ip(W2)).unwrap();
    assert_eq!(w2.withheld, 1);
    assert_eq!(rib.drain_withheld(ip(W2)), vec![pfx(VIP)]);
    assert!(rib.drain_withheld(ip(W2)).is_empty(), "reported once");

    // A shorter version passes; a long one again withdraws it, so W2 never keeps
    // the old next hop.
    rib.receive(
        t0,
        ip(W1),
        &announce_with_communities(&[VIP], WS2, &[65001], &[1]),
    )
    .unwrap();
    let updates = rib.poll_updates(ip(W2));
    assert_eq!(
        describe(&updates[0]),
        vec![("announce", pfx(VIP), Some(ip(WS2)))]
    );
    let long = announce_with_communities(&[VIP], WS1, &[65001], &many);
    rib.receive(t0, ip(W1), &long).unwrap();
    let updates = rib.poll_updates(ip(W2));
    assert_eq!(describe(&updates[0]), vec![("withdraw", pfx(VIP), None)]);
    assert_eq!(rib.drain_withheld(ip(W2)), vec![pfx(VIP)]);

    // A peer that comes up is not sent it either.
    rib.peer_down(t0, ip(W3), false);
    rib.peer_up(ip(W3)).unwrap();
    assert!(rib.routes_for(ip(W3)).is_empty());
    assert_eq!(rib.drain_withheld(ip(W3)), vec![pfx(VIP)]);
    // Without the prepend (a transparent route server) it fits and goes.
    let mut transparent = Rib::new(RibConfig {
        prepend_local_as: false,
        ..RibConfig::default()
    });
    for (addr, asn) in [(W1, 65001), (W2, 65002)] {
        transparent.add_peer(ip(addr), Asn(asn), None).unwrap();
        transparent.peer_up(ip(addr)).unwrap();
    }
    transparent.receive(t0, ip(W1), &long).unwrap();
    assert_eq!(transparent.poll_updates(ip(W2)).len(), 1);
}
