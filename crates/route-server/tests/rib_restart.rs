//! Sessions going down and graceful restart (RFC 4724) under simulated time: stale
//! routes kept, renewed, swept by End-of-RIB or by the restart time.

// A panic in a test is a failed test, not a crashed daemon.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Instant;

use hopwatch_bgp::{Asn, Family, Update};
use hopwatch_route_server::rib::{Rib, RibConfig};
use support::*;

const V6: &str = "2001:db8:1::/48";

/// W1 announces the VIP via WS1 and an IPv6 prefix; W2 the VIP via WS2 with a
/// longer path (the backup).
fn loaded() -> (Rib, Instant) {
    let mut rib = rib3();
    let t0 = Instant::now();
    rib.receive(t0, ip(W1), &announce(&[VIP], WS1, &[65001]))
        .unwrap();
    rib.receive(t0, ip(W1), &announce(&[V6], "2001:db8::4", &[65001]))
        .unwrap();
    rib.receive(t0, ip(W2), &announce(&[VIP], WS2, &[65002, 65002]))
        .unwrap();
    (rib, t0)
}

#[test]
fn a_drop_without_graceful_restart_removes_the_routes_at_once() {
    for graceful in [false, true] {
        let (mut rib, t0) = loaded();
        // graceful = true but no restart time negotiated: the same.
        rib.set_graceful_restart_time(ip(W1), None).unwrap();
        let changes = rib.peer_down(at(t0, 5), ip(W1), graceful);
        assert_eq!(changes.len(), 2, "graceful {graceful}");
        assert_eq!(best_hops(&rib, VIP), ips(&[WS2]));
        assert!(best_hops(&rib, V6).is_empty());
        assert_eq!(rib.poll_timeout(), None);
    }
}

#[test]
fn a_restart_time_of_zero_is_no_graceful_restart() {
    let (mut rib, t0) = loaded();
    rib.set_graceful_restart_time(ip(W1), Some(0)).unwrap();
    assert_eq!(rib.peer_down(t0, ip(W1), true).len(), 2);
}

#[test]
fn stale_routes_are_kept_for_the_restart_time_then_removed() {
    let (mut rib, t0) = loaded();
    let changes = rib.peer_down(at(t0, 1_000), ip(W1), true);
    assert!(changes.is_empty(), "stale routes still forward");
    assert_eq!(best_hops(&rib, VIP), ips(&[WS1]));
    assert_eq!(rib.peers()[0].stale, 2);
    assert_eq!(rib.poll_timeout(), Some(at(t0, 11_000)));

    assert!(rib.handle_timeout(at(t0, 10_999)).is_empty());
    assert_eq!(best_hops(&rib, VIP), ips(&[WS1]));

    let changes = rib.handle_timeout(at(t0, 11_000));
    assert_eq!(changes.len(), 2);
    assert_eq!(best_hops(&rib, VIP), ips(&[WS2]));
    assert_eq!(rib.peers()[0].routes, 0);
    assert_eq!(rib.poll_timeout(), None);
}

#[test]
fn end_of_rib_sweeps_the_stale_routes_of_its_family_only() {
    let (mut rib, t0) = loaded();
    rib.peer_down(at(t0, 1_000), ip(W1), true);
    rib.peer_up(ip(W1)).unwrap();
    // Stale routes survive the session coming back.
    assert_eq!(rib.peers()[0].stale, 2);

    let got = rib
        .receive(
            at(t0, 2_000),
            ip(W1),
            &Update::end_of_rib(Family::Ipv4Unicast),
        )
        .unwrap();
    assert_eq!(got.end_of_rib, Some(Family::Ipv4Unicast));
    assert_eq!(got.changes.len(), 1);
    assert_eq!(best_hops(&rib, VIP), ips(&[WS2]));
    assert_eq!(best_hops(&rib, V6), ips(&["2001:db8::4"]));

    let changes = rib.end_of_rib(at(t0, 2_000), ip(W1), Family::Ipv6Unicast);
    assert_eq!(changes.len(), 1);
    assert!(best_hops(&rib, V6).is_empty());
    assert_eq!(rib.poll_timeout(), None);
}

#[test]
fn a_re_announced_route_is_no_longer_stale_and_survives_end_of_rib() {
    let (mut rib, t0) = loaded();
    rib.peer_down(at(t0, 1_000), ip(W1), true);
    rib.peer_up(ip(W1)).unwrap();
    let got = rib
        .receive(at(t0, 1_500), ip(W1), &announce(&[VIP], WS1, &[65001]))
        .unwrap();
    assert!(got.changes.is_empty(), "same route, same best set");
    assert_eq!(rib.peers()[0].stale, 1);

    rib.receive(
        at(t0, 1_600),
        ip(W1),
        &Update::end_of_rib(Family::Ipv4Unicast),
    )
    .unwrap();
    assert_eq!(best_hops(&rib, VIP), ips(&[WS1]));
    // Only the IPv6 route is left stale, and only it goes at the deadline.
    let changes = rib.handle_timeout(at(t0, 11_000));
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].prefix, pfx(V6));
    assert_eq!(best_hops(&rib, VIP), ips(&[WS1]));
}

#[test]
fn renewing_every_stale_route_clears_the_deadline() {
    let mut rib = rib3();
    let t0 = Instant::now();
    rib.receive(t0, ip(W1), &announce(&[VIP], WS1, &[65001]))
        .unwrap();
    rib.peer_down(t0, ip(W1), true);
    assert!(rib.poll_timeout().is_some());
    rib.peer_up(ip(W1)).unwrap();
    rib.receive(at(t0, 100), ip(W1), &announce(&[VIP], WS2, &[65001]))
        .unwrap();
    assert_eq!(rib.poll_timeout(), None);
    assert_eq!(best_hops(&rib, VIP), ips(&[WS2]));
}

#[test]
fn end_of_rib_after_the_deadline_removes_every_stale_route() {
    let (mut rib, t0) = loaded();
    rib.peer_down(t0, ip(W1), true);
    let changes = rib.end_of_rib(at(t0, 10_000), ip(W1), Family::Ipv4Unicast);
    assert_eq!(changes.len(), 2);
}

#[test]
fn each_peer_has_its_own_restart_time() {
    let mut rib = Rib::new(RibConfig::default());
    rib.add_peer(ip(W1), Asn(65001), Some(10)).unwrap();
    rib.add_peer(ip(W2), Asn(65002), Some(3)).unwrap();
    let t0 = Instant::now();
    rib.receive(t0, ip(W1), &announce(&[VIP], WS1, &[65001]))
        .unwrap();
    rib.receive(t0, ip(W2), &announce(&["10.2.0.0/16"], WS2, &[65002]))
        .unwrap();
    rib.peer_down(t0, ip(W1), true);
    rib.peer_down(t0, ip(W2), true);
    assert_eq!(rib.poll_timeout(), Some(at(t0, 3_000)));
    let changes = rib.handle_timeout(at(t0, 3_000));
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].prefix, pfx("10.2.0.0/16"));
    assert_eq!(rib.poll_timeout(), Some(at(t0, 10_000)));
}
