//! hopwatch against BIRD 2 in a namespace lab: sessions in both roles, the VIP's
//! next-hop move as BIRD's table and the wire see it, BIRD's routes decoded by
//! `observe`, and 2-octet-AS sessions from either side.

mod support;

use support::bird::{self, Bird, BirdConfig};
use support::checks::{
    announce_vip_nh1, assert_established, assert_observed, move_vip_and_check_wire,
};
use support::hopwatch::{observe_args, speak_args};
use support::packed;
use support::tshark::Capture;
use support::{Hopwatch, Lab, Peer, preflight};
use support::{NH1, OBSERVE_AS, PEER_ADDR, PEER_AS, PEER_ROUTE, SPEAK_AS, VIP};

fn bird_for_speak(lab: &Lab, passive: bool, as4: bool) -> Bird {
    let cfg = BirdConfig {
        neighbor_as: SPEAK_AS,
        passive,
        as4,
        networks: vec![],
    };
    Bird::start(lab, &cfg)
}

fn speak_announcing_vip(extra: &[&str]) -> Vec<String> {
    let ann = announce_vip_nh1();
    let mut e: Vec<&str> = extra.to_vec();
    e.extend(ann.iter().map(String::as_str));
    speak_args(SPEAK_AS, PEER_AS, &e)
}

#[test]
fn speak_reaches_established_with_a_passive_bird() {
    if !preflight("speak_reaches_established_with_a_passive_bird", Peer::Bird) {
        return;
    }
    let lab = Lab::new("bird-active");
    let bird = bird_for_speak(&lab, true, true);
    let speak = Hopwatch::start(&lab, "speak", &speak_args(SPEAK_AS, PEER_AS, &[]));
    let est = assert_established(&speak, PEER_AS, true);
    assert_eq!(est.hold_time, 9, "{est:?}");
    let proto = bird.wait_established();
    assert!(
        bird::neighbor_capabilities(&proto).contains("4-octet AS numbers"),
        "{proto}"
    );
}

#[test]
fn bird_reaches_established_with_a_passive_speak() {
    if !preflight("bird_reaches_established_with_a_passive_speak", Peer::Bird) {
        return;
    }
    let lab = Lab::new("bird-passive");
    let speak = Hopwatch::start(&lab, "speak", &speak_announcing_vip(&["--passive"]));
    let bird = bird_for_speak(&lab, false, true);
    assert_established(&speak, PEER_AS, true);
    bird.wait_established();
    bird.wait_route(VIP, "via NH1", |r| r.next_hop == NH1);
}

#[test]
fn bird_moves_the_vip_with_one_update_and_no_withdraw() {
    if !preflight(
        "bird_moves_the_vip_with_one_update_and_no_withdraw",
        Peer::Bird,
    ) {
        return;
    }
    let lab = Lab::new("bird-move");
    let cap = Capture::start(&lab);
    let bird = bird_for_speak(&lab, true, true);
    let mut speak = Hopwatch::start(&lab, "speak", &speak_announcing_vip(&[]));
    assert_established(&speak, PEER_AS, true);
    move_vip_and_check_wire(&mut speak, &cap, |nh| {
        let r = bird.wait_route(VIP, &format!("via {nh}"), |r| r.next_hop == nh);
        assert_eq!(r.as_path, vec![u64::from(SPEAK_AS)], "{}", r.text);
        assert!(
            r.text.contains(&format!("via {nh} on")),
            "not a usable gateway:\n{}",
            r.text
        );
    });
}

#[test]
fn observe_decodes_the_routes_bird_announces() {
    if !preflight("observe_decodes_the_routes_bird_announces", Peer::Bird) {
        return;
    }
    let lab = Lab::new("bird-observe");
    let observe = Hopwatch::start(&lab, "observe", &observe_args(OBSERVE_AS, &[]));
    let cfg = BirdConfig {
        neighbor_as: OBSERVE_AS,
        passive: false,
        as4: true,
        networks: vec![PEER_ROUTE.into()],
    };
    let bird = Bird::start(&lab, &cfg);
    assert_established(&observe, PEER_AS, true);
    bird.wait_established();
    assert_observed(&observe, PEER_ROUTE, PEER_ADDR, &[PEER_AS]);
}

#[test]
fn observe_connects_actively_to_a_passive_bird() {
    if !preflight("observe_connects_actively_to_a_passive_bird", Peer::Bird) {
        return;
    }
    let lab = Lab::new("bird-observe-active");
    let cfg = BirdConfig {
        neighbor_as: OBSERVE_AS,
        passive: true,
        as4: true,
        networks: vec![PEER_ROUTE.into()],
    };
    let bird = Bird::start(&lab, &cfg);
    let extra = ["--active", "--peer", PEER_ADDR, "--peer-as", "65000"];
    let observe = Hopwatch::start(&lab, "observe", &observe_args(OBSERVE_AS, &extra));
    assert_established(&observe, PEER_AS, true);
    bird.wait_established();
    assert_observed(&observe, PEER_ROUTE, PEER_ADDR, &[PEER_AS]);
}

#[test]
fn a_two_octet_as_speak_session_carries_the_vip_to_bird() {
    if !preflight(
        "a_two_octet_as_speak_session_carries_the_vip_to_bird",
        Peer::Bird,
    ) {
        return;
    }
    let lab = Lab::new("bird-as2");
    let bird = bird_for_speak(&lab, true, true);
    let speak = Hopwatch::start(&lab, "speak", &speak_announcing_vip(&["--two-octet-as"]));
    assert_established(&speak, PEER_AS, false);
    let proto = bird.wait_established();
    let caps = bird::neighbor_capabilities(&proto);
    assert!(
        !caps.contains("4-octet AS numbers"),
        "BIRD saw 4-octet AS from speak:\n{proto}"
    );
    let r = bird.wait_route(VIP, "via NH1", |r| r.next_hop == NH1);
    assert_eq!(r.as_path, vec![u64::from(SPEAK_AS)], "{}", r.text);
}

#[test]
fn speak_falls_back_to_two_octet_as_with_a_bird_without_as4() {
    if !preflight(
        "speak_falls_back_to_two_octet_as_with_a_bird_without_as4",
        Peer::Bird,
    ) {
        return;
    }
    let lab = Lab::new("bird-noas4");
    let bird = bird_for_speak(&lab, true, false);
    let speak = Hopwatch::start(&lab, "speak", &speak_announcing_vip(&[]));
    assert_established(&speak, PEER_AS, false);
    bird.wait_established();
    let r = bird.wait_route(VIP, "via NH1", |r| r.next_hop == NH1);
    assert_eq!(r.as_path, vec![u64::from(SPEAK_AS)], "{}", r.text);
}

/// A thousand VIPs announced, then all moved, one `speak` command each: BIRD holds
/// every one via the new next hop, and each step took two UPDATE messages, not a
/// thousand.
#[test]
fn bird_holds_a_thousand_vips_announced_and_moved_in_packed_updates() {
    let name = "bird_holds_a_thousand_vips_announced_and_moved_in_packed_updates";
    if !preflight(name, Peer::Bird) {
        return;
    }
    let lab = Lab::new("bird-packed");
    let cap = Capture::start(&lab);
    let bird = bird_for_speak(&lab, true, true);
    let mut speak = Hopwatch::start(&lab, "speak", &speak_args(SPEAK_AS, PEER_AS, &[]));
    assert_established(&speak, PEER_AS, true);
    bird.wait_established();
    packed::announce_and_move_many(&mut speak, &cap, "BIRD", || bird.routes());
    let r = bird.wait_route(&packed::many_vips()[999], "with our AS", |_| true);
    assert_eq!(r.as_path, vec![u64::from(SPEAK_AS)], "{}", r.text);
}
