//! `hopwatch route-server --dataplane kernel` with FRR (bgpd and zebra) as its peer
//! in a namespace lab: the VIP's route in the router namespace's kernel table follows
//! FRR's announcement, its next-hop change, its withdraw, and goes away when bgpd is
//! SIGKILLed. The programming latencies are printed.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use hopwatch_events::Event;
use support::route_server::{
    RouteServer, RsPeer, kill_and_expect_removal_despite_helper_only_gr, print_figures, rs_lab,
    run_scenario, say, step,
};
use support::rs_peers::{FrrPeer, Gr};
use support::{NH1, Peer, SPEAKER_ADDR, preflight};

/// The route server's only configured peer.
const PEER: &str = "10.10.0.7:65001";

#[test]
fn the_kernel_route_follows_frr_through_move_withdraw_and_session_loss() {
    if !preflight(
        "the_kernel_route_follows_frr_through_move_withdraw_and_session_loss",
        Peer::Frr,
    ) {
        return;
    }
    let lab = rs_lab("rs-frr");
    let rs = RouteServer::start(&lab, &[PEER]);
    let mut frr = FrrPeer::start(&lab, Gr::Off);
    run_scenario(&rs, &mut frr);
}

/// FRR's default ("helper" mode) sends a Graceful Restart capability with a restart
/// time and no address family: it does not preserve forwarding, so RFC 4724 wants its
/// routes removed at once when the session drops.
#[test]
fn the_kernel_route_goes_when_frr_in_its_default_helper_mode_is_killed() {
    if !preflight(
        "the_kernel_route_goes_when_frr_in_its_default_helper_mode_is_killed",
        Peer::Frr,
    ) {
        return;
    }
    let lab = rs_lab("rs-frr-helper");
    let rs = RouteServer::start(&lab, &[PEER]);
    let mut frr = FrrPeer::start(&lab, Gr::Default);
    rs.wait_established(SPEAKER_ADDR);
    frr.wait_established();
    let est = rs
        .hw
        .wait_for("established", support::wait::SESSION_TIMEOUT, |l| {
            matches!(l.event, Event::Established(_))
        });
    say(&format!(
        "[FRR default GR] route server's established event: {est}"
    ));
    let nb = frr.vtysh(&["show bgp neighbors 10.10.1.4"]);
    let gr: Vec<&str> = nb
        .lines()
        .filter(|l| l.contains("Graceful") || l.contains("GR Mode") || l.contains("Restart"))
        .collect();
    say(&format!("[FRR default GR] FRR says:\n{}", gr.join("\n")));
    let figures = [
        step(
            &rs,
            &mut frr,
            "announce via NH1",
            Some(NH1),
            &|p: &mut dyn RsPeer| p.announce(NH1),
        ),
        kill_and_expect_removal_despite_helper_only_gr(
            &rs,
            &mut frr,
            "FRR bgpd in its default helper mode",
        ),
    ];
    print_figures("FRR default GR", &figures);
}
