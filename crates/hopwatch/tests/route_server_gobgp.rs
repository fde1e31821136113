//! `hopwatch route-server --dataplane kernel` with GoBGP as its peer in a namespace
//! lab: the VIP's route in the router namespace's kernel table follows `gobgp global
//! rib add`, a next-hop change, `gobgp global rib del`, and goes away when gobgpd is
//! SIGKILLed. The programming latencies are printed.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use support::route_server::{RouteServer, rs_lab, run_scenario};
use support::rs_peers::GobgpPeer;
use support::{Peer, preflight};

#[test]
fn the_kernel_route_follows_gobgp_through_move_withdraw_and_session_loss() {
    if !preflight(
        "the_kernel_route_follows_gobgp_through_move_withdraw_and_session_loss",
        Peer::Gobgp,
    ) {
        return;
    }
    let lab = rs_lab("rs-gobgp");
    let rs = RouteServer::start(&lab, &["10.10.0.7:65001"]);
    let mut gobgp = GobgpPeer::start(&lab);
    run_scenario(&rs, &mut gobgp);
}
