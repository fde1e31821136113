//! `hopwatch route-server --dataplane kernel` with BIRD 2 as its peer in a namespace
//! lab: the VIP's route in the router namespace's kernel table follows BIRD's
//! announcement, its next-hop change (`birdc configure`), its withdraw, and goes away
//! when BIRD is SIGKILLed. The programming latencies are printed.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use hopwatch_events::Event;
use support::route_server::{
    RouteServer, RsPeer, kill_and_expect_removal_despite_helper_only_gr, print_figures, rs_lab,
    run_scenario, say, step,
};
use support::rs_peers::{BirdPeer, Gr};
use support::{NH1, Peer, SPEAKER_ADDR, preflight};

/// The route server's only configured peer.
const PEER: &str = "10.10.0.7:65001";

#[test]
fn the_kernel_route_follows_bird_through_move_withdraw_and_session_loss() {
    if !preflight(
        "the_kernel_route_follows_bird_through_move_withdraw_and_session_loss",
        Peer::Bird,
    ) {
        return;
    }
    let lab = rs_lab("rs-bird");
    let rs = RouteServer::start(&lab, &[PEER]);
    let mut bird = BirdPeer::start(&lab, Gr::Off);
    run_scenario(&rs, &mut bird);
}

/// BIRD's default (`graceful restart aware`) sends a Graceful Restart capability with
/// a restart time and no address family: it does not preserve forwarding, so RFC 4724
/// wants its routes removed at once when the session drops.
#[test]
fn the_kernel_route_goes_when_bird_in_its_default_aware_mode_is_killed() {
    if !preflight(
        "the_kernel_route_goes_when_bird_in_its_default_aware_mode_is_killed",
        Peer::Bird,
    ) {
        return;
    }
    let lab = rs_lab("rs-bird-aware");
    let rs = RouteServer::start(&lab, &[PEER]);
    let mut bird = BirdPeer::start(&lab, Gr::Default);
    rs.wait_established(SPEAKER_ADDR);
    let proto = bird.wait_established();
    let est = rs
        .hw
        .wait_for("established", support::wait::SESSION_TIMEOUT, |l| {
            matches!(l.event, Event::Established(_))
        });
    say(&format!(
        "[BIRD default GR] route server's established event: {est}"
    ));
    say(&format!("[BIRD default GR] BIRD says:\n{proto}"));
    let figures = [
        step(
            &rs,
            &mut bird,
            "announce via NH1",
            Some(NH1),
            &|p: &mut dyn RsPeer| p.announce(NH1),
        ),
        kill_and_expect_removal_despite_helper_only_gr(
            &rs,
            &mut bird,
            "BIRD in its default aware mode",
        ),
    ];
    print_figures("BIRD default GR", &figures);
}
