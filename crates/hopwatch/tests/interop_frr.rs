//! hopwatch against FRR 8 (zebra + bgpd) in a namespace lab: sessions in both roles,
//! the VIP's next-hop move as FRR's RIB and the wire see it, FRR's routes decoded by
//! `observe`, a 2-octet-AS session, and graceful restart across a SIGKILLed `speak`.

mod support;

use std::time::{Duration, Instant};

use hopwatch_events::Event;

use support::checks::{
    announce_vip_nh1, assert_established, assert_observed, move_vip_and_check_wire,
};
use support::frr::{self, Frr, FrrConfig};
use support::hopwatch::{observe_args, speak_args};
use support::packed;
use support::tshark::Capture;
use support::wait::SESSION_TIMEOUT;
use support::{Hopwatch, Lab, Peer, preflight};
use support::{NH1, OBSERVE_AS, PEER_ADDR, PEER_AS, PEER_ROUTE, SPEAK_AS, VIP};

fn frr_for_speak(lab: &Lab, passive: bool) -> Frr {
    let cfg = FrrConfig {
        neighbor_as: SPEAK_AS,
        passive,
        graceful_restart: false,
        networks: vec![],
    };
    Frr::start(lab, &cfg)
}

fn speak_announcing_vip(extra: &[&str]) -> Vec<String> {
    let ann = announce_vip_nh1();
    let mut e: Vec<&str> = extra.to_vec();
    e.extend(ann.iter().map(String::as_str));
    speak_args(SPEAK_AS, PEER_AS, &e)
}

#[test]
fn speak_reaches_established_with_a_passive_frr() {
    if !preflight("speak_reaches_established_with_a_passive_frr", Peer::Frr) {
        return;
    }
    let lab = Lab::new("frr-active");
    let frr = frr_for_speak(&lab, true);
    let speak = Hopwatch::start(&lab, "speak", &speak_args(SPEAK_AS, PEER_AS, &[]));
    let est = assert_established(&speak, PEER_AS, true);
    assert_eq!(est.hold_time, 9, "{est:?}");
    let n = frr.wait_established();
    assert_eq!(
        n["neighborCapabilities"]["4byteAs"], "advertisedAndReceived",
        "{n}"
    );
}

#[test]
fn frr_reaches_established_with_a_passive_speak() {
    if !preflight("frr_reaches_established_with_a_passive_speak", Peer::Frr) {
        return;
    }
    let lab = Lab::new("frr-passive");
    let speak = Hopwatch::start(&lab, "speak", &speak_announcing_vip(&["--passive"]));
    let frr = frr_for_speak(&lab, false);
    assert_established(&speak, PEER_AS, true);
    frr.wait_established();
    frr.wait_route(VIP, "via NH1", |p| frr::next_hop(p) == NH1);
}

#[test]
fn frr_moves_the_vip_with_one_update_and_no_withdraw() {
    if !preflight(
        "frr_moves_the_vip_with_one_update_and_no_withdraw",
        Peer::Frr,
    ) {
        return;
    }
    let lab = Lab::new("frr-move");
    let cap = Capture::start(&lab);
    let frr = frr_for_speak(&lab, true);
    let mut speak = Hopwatch::start(&lab, "speak", &speak_announcing_vip(&[]));
    assert_established(&speak, PEER_AS, true);
    move_vip_and_check_wire(&mut speak, &cap, |nh| {
        let path = frr.wait_route(VIP, &format!("via {nh}"), |p| frr::next_hop(p) == nh);
        assert_eq!(frr::as_path(&path), vec![u64::from(SPEAK_AS)], "{path}");
        assert_eq!(path["valid"], true, "{path}");
    });
}

#[test]
fn observe_decodes_the_routes_frr_announces() {
    if !preflight("observe_decodes_the_routes_frr_announces", Peer::Frr) {
        return;
    }
    let lab = Lab::new("frr-observe");
    let observe = Hopwatch::start(&lab, "observe", &observe_args(OBSERVE_AS, &[]));
    let cfg = FrrConfig {
        neighbor_as: OBSERVE_AS,
        passive: false,
        graceful_restart: false,
        networks: vec![PEER_ROUTE.into()],
    };
    let frr = Frr::start(&lab, &cfg);
    assert_established(&observe, PEER_AS, true);
    frr.wait_established();
    assert_observed(&observe, PEER_ROUTE, PEER_ADDR, &[PEER_AS]);
}

#[test]
fn a_two_octet_as_speak_session_carries_the_vip_to_frr() {
    if !preflight(
        "a_two_octet_as_speak_session_carries_the_vip_to_frr",
        Peer::Frr,
    ) {
        return;
    }
    let lab = Lab::new("frr-as2");
    let frr = frr_for_speak(&lab, true);
    let speak = Hopwatch::start(&lab, "speak", &speak_announcing_vip(&["--two-octet-as"]));
    assert_established(&speak, PEER_AS, false);
    let n = frr.wait_established();
    assert_eq!(
        n["neighborCapabilities"]["4byteAs"], "advertised",
        "FRR saw 4-octet AS: {n}"
    );
    let path = frr.wait_route(VIP, "via NH1", |p| frr::next_hop(p) == NH1);
    assert_eq!(frr::as_path(&path), vec![u64::from(SPEAK_AS)], "{path}");
}

#[test]
fn frr_keeps_the_vip_through_a_speak_restart_within_the_restart_time() {
    let name = "frr_keeps_the_vip_through_a_speak_restart_within_the_restart_time";
    if !preflight(name, Peer::Frr) {
        return;
    }
    let lab = Lab::new("frr-gr");
    let cfg = FrrConfig {
        neighbor_as: SPEAK_AS,
        passive: true,
        graceful_restart: true,
        networks: vec![],
    };
    let frr = Frr::start(&lab, &cfg);
    let args = speak_announcing_vip(&["--graceful-restart", "10"]);
    let mut first = Hopwatch::start(&lab, "speak1", &args);
    assert_established(&first, PEER_AS, true);
    let n = frr.wait_established();
    assert_eq!(
        n["neighborCapabilities"]["gracefulRestart"], "advertisedAndReceived",
        "{n}"
    );
    frr.wait_route(VIP, "fresh via NH1", |p| {
        frr::next_hop(p) == NH1 && !frr::is_stale(p)
    });
    first.kill_hard();
    let killed = Instant::now();

    // Every 100 ms: the route must be there; first it turns stale, then (after the
    // restart and End-of-RIB) fresh again, all within the 10 s restart time.
    let mut polls: Vec<(Duration, Option<bool>)> = Vec::new();
    let mut poll = || {
        let started = Instant::now();
        let p = frr.route(VIP).filter(|p| frr::next_hop(p) == NH1);
        polls.push((killed.elapsed(), p.as_ref().map(frr::is_stale)));
        std::thread::sleep(Duration::from_millis(100).saturating_sub(started.elapsed()));
        p
    };
    let mut saw_stale = false;
    while killed.elapsed() < Duration::from_secs(5) && !saw_stale {
        saw_stale = poll().is_some_and(|p| frr::is_stale(&p));
    }
    assert!(
        saw_stale,
        "FRR never marked the VIP stale after SIGKILL: {polls:?}\n{}",
        frr.tail()
    );
    let second = Hopwatch::start(&lab, "speak2", &args);
    let mut fresh = false;
    while killed.elapsed() < Duration::from_secs(10) && !fresh {
        let eor = second
            .events()
            .iter()
            .any(|l| matches!(l.event, Event::EndOfRibSent(_)));
        fresh = poll().is_some_and(|p| !frr::is_stale(&p)) && eor;
    }
    let missing: Vec<_> = polls.iter().filter(|(_, p)| p.is_none()).collect();
    assert!(
        missing.is_empty(),
        "the VIP vanished from FRR at {missing:?}; polls: {polls:?}"
    );
    assert!(
        fresh,
        "FRR did not show the VIP fresh after the restart's End-of-RIB within 10 s: {polls:?}\n{}\n{}",
        second.dump(),
        frr.vtysh(&format!("show bgp ipv4 unicast {VIP}"))
    );
    second.wait_established(SESSION_TIMEOUT);
    let n = frr.neighbor();
    assert_eq!(
        n["gracefulRestartInfo"]["endOfRibRecv"]["ipv4Unicast"], true,
        "{n}"
    );
    eprintln!("FRR polls after SIGKILL (elapsed, stale): {polls:?}");
}

#[test]
fn frr_keeps_the_vip_through_a_planned_speak_stop_with_the_n_bit() {
    let name = "frr_keeps_the_vip_through_a_planned_speak_stop_with_the_n_bit";
    if !preflight(name, Peer::Frr) {
        return;
    }
    let lab = Lab::new("frr-nbit");
    let cfg = FrrConfig {
        neighbor_as: SPEAK_AS,
        passive: true,
        graceful_restart: true,
        networks: vec![],
    };
    let frr = Frr::start(&lab, &cfg);
    let args = speak_announcing_vip(&["--graceful-restart", "10"]);
    let first = Hopwatch::start(&lab, "speak1", &args);
    assert_established(&first, PEER_AS, true);
    frr.wait_established();
    frr.wait_route(VIP, "fresh via NH1", |p| {
        frr::next_hop(p) == NH1 && !frr::is_stale(p)
    });
    // SIGTERM: speak sends Cease / Administrative Shutdown. With the RFC 8538 N bit
    // negotiated, FRR keeps the route stale instead of dropping it.
    first.signal("TERM");
    let stopped = Instant::now();
    let mut saw_stale = false;
    while stopped.elapsed() < Duration::from_secs(3) {
        match frr.route(VIP) {
            Some(p) if frr::is_stale(&p) => {
                saw_stale = true;
                break;
            }
            Some(_) => {}
            None => panic!(
                "FRR dropped the VIP on a planned stop with the N bit:\n{}",
                frr.vtysh("show bgp neighbors json")
            ),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(saw_stale, "FRR never marked the VIP stale after the Cease");
}

/// A thousand VIPs announced, then all moved, one `speak` command each: FRR holds
/// every one via the new next hop, and each step took two UPDATE messages, not a
/// thousand.
#[test]
fn frr_holds_a_thousand_vips_announced_and_moved_in_packed_updates() {
    let name = "frr_holds_a_thousand_vips_announced_and_moved_in_packed_updates";
    if !preflight(name, Peer::Frr) {
        return;
    }
    let lab = Lab::new("frr-packed");
    let cap = Capture::start(&lab);
    let frr = frr_for_speak(&lab, true);
    let mut speak = Hopwatch::start(&lab, "speak", &speak_args(SPEAK_AS, PEER_AS, &[]));
    assert_established(&speak, PEER_AS, true);
    frr.wait_established();
    packed::announce_and_move_many(&mut speak, &cap, "FRR", || frr.routes());
    let path = frr.wait_route(&packed::many_vips()[999], "valid", |p| p["valid"] == true);
    assert_eq!(frr::as_path(&path), vec![u64::from(SPEAK_AS)], "{path}");
}
