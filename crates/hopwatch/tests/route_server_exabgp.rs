//! `hopwatch route-server --dataplane kernel` with ExaBGP as its peer in a namespace
//! lab: the VIP's route in the router namespace's kernel table follows ExaBGP's API
//! commands (announce, next-hop change, withdraw) and goes away when ExaBGP is
//! SIGKILLed; a route whose AS path holds 65515 is not installed; a peer address that
//! is not configured is refused. The programming latencies are printed.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use hopwatch_events::Event;
use hopwatch_events::bgp::AsPath;
use support::events::{ip_addr, is_from};
use support::exabgp::Exabgp;
use support::netns::ip;
use support::route_server::{RS_ADDR, RouteServer, rs_lab, run_scenario, say};
use support::rs_peers::{ExaPeer, exa_config};
use support::wait::{ROUTE_TIMEOUT, SESSION_TIMEOUT, settle};
use support::{NH1, Peer, SPEAKER_ADDR, preflight};

/// The route server's only configured peer.
const PEER: &str = "10.10.0.7:65001";
/// An address in the peer's namespace that the route server does not know.
const STRANGER: &str = "10.10.0.8";
/// A second prefix, announced with a clean AS path.
const CLEAN: &str = "100.64.0.2/32";

#[test]
fn the_kernel_route_follows_exabgp_through_move_withdraw_and_session_loss() {
    if !preflight(
        "the_kernel_route_follows_exabgp_through_move_withdraw_and_session_loss",
        Peer::Exabgp,
    ) {
        return;
    }
    let lab = rs_lab("rs-exabgp");
    let rs = RouteServer::start(&lab, &[PEER]);
    let mut exa = ExaPeer::start(&lab);
    run_scenario(&rs, &mut exa);
}

#[test]
fn a_route_through_65515_is_not_installed_and_an_unconfigured_peer_is_refused() {
    if !preflight(
        "a_route_through_65515_is_not_installed_and_an_unconfigured_peer_is_refused",
        Peer::Exabgp,
    ) {
        return;
    }
    let lab = rs_lab("rs-exabgp-policy");
    ip(&[
        "-n",
        &lab.speaker,
        "addr",
        "add",
        &format!("{STRANGER}/24"),
        "dev",
        &lab.speaker_if,
    ])
    .unwrap();
    let rs = RouteServer::start(&lab, &[PEER]);
    let good = ExaPeer::start(&lab);
    let stranger = Exabgp::start(&lab, "exabgp-stranger", &exa_config(&lab, STRANGER, 65002));
    rs.wait_established(SPEAKER_ADDR);
    good.exa.wait_up();

    // The AS path through Azure's own AS first, then a clean route: once the clean
    // one is programmed, the other has had every chance to be.
    let vip = support::VIP;
    good.exa.command(&format!(
        "announce route {vip} next-hop {NH1} as-path [65001 65515]"
    ));
    good.exa.command(&format!(
        "announce route {CLEAN} next-hop {NH1} as-path [65001]"
    ));
    let got = rs.hw.wait_for(
        "the UPDATE through 65515",
        ROUTE_TIMEOUT,
        |l| matches!(&l.event, Event::Update(u) if u.prefix == vip),
    );
    say(&format!("[ExaBGP] route server received: {got}"));
    let Event::Update(update) = &got.event else {
        unreachable!("the wait returns an update")
    };
    assert_eq!(
        update.attributes.as_ref().map(|a| &a.as_path),
        Some(&AsPath::Asns(vec![65001, 65515])),
        "{got}"
    );
    let prog = rs.hw.wait_for(
        "the clean route programmed",
        ROUTE_TIMEOUT,
        |l| matches!(&l.event, Event::Programmed(p) if p.prefix == CLEAN),
    );
    say(&format!("[ExaBGP] clean route: {prog}"));
    let clean = rs.kernel_route_for(CLEAN);
    assert!(
        clean.as_ref().is_some_and(|r| r.gateways == [NH1]),
        "{CLEAN} not in the kernel via {NH1}: {clean:?}"
    );
    settle(Duration::from_millis(300));
    assert_eq!(rs.kernel_route(), None, "{vip} through 65515 was installed");
    let programmed_vip = rs
        .hw
        .events()
        .iter()
        .filter(|l| matches!(&l.event, Event::Programmed(p) if p.prefix == vip))
        .count();
    assert_eq!(programmed_vip, 0, "{vip} was programmed\n{}", rs.hw.dump());
    let row = rs.peer_row(SPEAKER_ADDR).unwrap();
    say(&format!("[ExaBGP] ctl peers row: {row:?}"));
    assert_eq!(row.rejected, 1, "{row:?}");
    assert_eq!(row.routes, 1, "{row:?}");
    let rib = rs.rib();
    let prefixes: Vec<&str> = rib[0].routes.iter().map(|r| r.prefix.as_str()).collect();
    assert_eq!(prefixes, [CLEAN], "{rib:?}");

    // The stranger at 10.10.0.8 is refused before any OPEN, and never gets a session.
    let refused = rs
        .hw
        .wait_for("the stranger refused", SESSION_TIMEOUT, |l| {
            matches!(l.event, Event::ConnectionError(_)) && is_from(l, STRANGER)
        });
    say(&format!("[ExaBGP] stranger: {refused}"));
    assert_eq!(refused.instance, Some(ip_addr(RS_ADDR)), "{refused}");
    assert!(
        matches!(&refused.event, Event::ConnectionError(c)
            if c.error.contains("unconfigured peer refused")),
        "{refused}"
    );
    // Let it retry a few times.
    settle(Duration::from_secs(4));
    let up = stranger
        .received()
        .into_iter()
        .find(|m| m["type"] == "state" && m["neighbor"]["state"] == "up");
    assert!(up.is_none(), "the stranger got a session: {up:?}");
    let opened = stranger
        .received()
        .into_iter()
        .find(|m| m["type"] == "open" && m["neighbor"]["direction"] == "receive");
    assert!(opened.is_none(), "the stranger got an OPEN: {opened:?}");
    let peers = rs.peers();
    assert!(
        !peers
            .iter()
            .flat_map(|i| &i.peers)
            .any(|p| p.peer == ip_addr(STRANGER)),
        "the stranger is listed: {peers:?}"
    );
    let refusals = rs
        .hw
        .events()
        .iter()
        .filter(|l| matches!(l.event, Event::ConnectionError(_)) && is_from(l, STRANGER))
        .count();
    say(&format!(
        "[ExaBGP] stranger refused {refusals} times; its log:\n{}",
        stranger.tail()
    ));
    assert!(
        rs.hw
            .events()
            .iter()
            .all(|l| !is_from(l, STRANGER) || matches!(l.event, Event::ConnectionError(_))),
        "the stranger got further than a refusal\n{}",
        rs.hw.dump()
    );
}
