//! hopwatch against GoBGP 3 in a namespace lab: sessions in both roles, the VIP's
//! next-hop move as GoBGP's RIB and the wire see it, GoBGP's routes decoded by
//! `observe`, and a 2-octet-AS session.

mod support;

use serde_json::Value;

use support::checks::{
    announce_vip_nh1, assert_established, assert_observed, move_vip_and_check_wire,
};
use support::gobgp::{Gobgp, GobgpConfig};
use support::hopwatch::{observe_args, speak_args};
use support::packed;
use support::tshark::Capture;
use support::{Hopwatch, Lab, Peer, preflight};
use support::{NH1, OBSERVE_AS, PEER_ADDR, PEER_AS, PEER_ROUTE, SPEAK_AS, VIP};

fn gobgp_for_speak(lab: &Lab, passive: bool) -> Gobgp {
    Gobgp::start(
        lab,
        &GobgpConfig {
            neighbor_as: SPEAK_AS,
            passive,
        },
    )
}

fn speak_announcing_vip(extra: &[&str]) -> Vec<String> {
    let ann = announce_vip_nh1();
    let mut e: Vec<&str> = extra.to_vec();
    e.extend(ann.iter().map(String::as_str));
    speak_args(SPEAK_AS, PEER_AS, &e)
}

/// Whether GoBGP's neighbor JSON lists hopwatch's 4-octet AS capability.
fn remote_has_four_octet_as(neighbor: &Value) -> bool {
    neighbor["state"]["remote_cap"]
        .as_array()
        .is_some_and(|caps| {
            caps.iter().any(|c| {
                c["type_url"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("FourOctetASNCapability"))
            })
        })
}

#[test]
fn speak_reaches_established_with_a_passive_gobgp() {
    if !preflight(
        "speak_reaches_established_with_a_passive_gobgp",
        Peer::Gobgp,
    ) {
        return;
    }
    let lab = Lab::new("gobgp-active");
    let g = gobgp_for_speak(&lab, true);
    let speak = Hopwatch::start(&lab, "speak", &speak_args(SPEAK_AS, PEER_AS, &[]));
    let est = assert_established(&speak, PEER_AS, true);
    assert_eq!(est.hold_time, 9, "{est:?}");
    let n = g.wait_established();
    assert!(remote_has_four_octet_as(&n), "{n}");
}

#[test]
fn gobgp_reaches_established_with_a_passive_speak() {
    if !preflight(
        "gobgp_reaches_established_with_a_passive_speak",
        Peer::Gobgp,
    ) {
        return;
    }
    let lab = Lab::new("gobgp-passive");
    let speak = Hopwatch::start(&lab, "speak", &speak_announcing_vip(&["--passive"]));
    let g = gobgp_for_speak(&lab, false);
    assert_established(&speak, PEER_AS, true);
    g.wait_established();
    g.wait_route(VIP, "via NH1", |r| r.next_hop == NH1);
}

#[test]
fn gobgp_moves_the_vip_with_one_update_and_no_withdraw() {
    if !preflight(
        "gobgp_moves_the_vip_with_one_update_and_no_withdraw",
        Peer::Gobgp,
    ) {
        return;
    }
    let lab = Lab::new("gobgp-move");
    let cap = Capture::start(&lab);
    let g = gobgp_for_speak(&lab, true);
    let mut speak = Hopwatch::start(&lab, "speak", &speak_announcing_vip(&[]));
    assert_established(&speak, PEER_AS, true);
    move_vip_and_check_wire(&mut speak, &cap, |nh| {
        let r = g.wait_route(VIP, &format!("via {nh}"), |r| r.next_hop == nh);
        assert_eq!(r.as_path, vec![u64::from(SPEAK_AS)], "{}", r.json);
    });
}

#[test]
fn observe_decodes_the_routes_gobgp_announces() {
    if !preflight("observe_decodes_the_routes_gobgp_announces", Peer::Gobgp) {
        return;
    }
    let lab = Lab::new("gobgp-observe");
    let extra = ["--peer", PEER_ADDR, "--peer-as", "65000"];
    let observe = Hopwatch::start(&lab, "observe", &observe_args(OBSERVE_AS, &extra));
    let g = Gobgp::start(
        &lab,
        &GobgpConfig {
            neighbor_as: OBSERVE_AS,
            passive: false,
        },
    );
    g.add_route(PEER_ROUTE, PEER_ADDR);
    assert_established(&observe, PEER_AS, true);
    g.wait_established();
    assert_observed(&observe, PEER_ROUTE, PEER_ADDR, &[PEER_AS]);
}

#[test]
fn a_two_octet_as_speak_session_carries_the_vip_to_gobgp() {
    if !preflight(
        "a_two_octet_as_speak_session_carries_the_vip_to_gobgp",
        Peer::Gobgp,
    ) {
        return;
    }
    let lab = Lab::new("gobgp-as2");
    let g = gobgp_for_speak(&lab, true);
    let speak = Hopwatch::start(&lab, "speak", &speak_announcing_vip(&["--two-octet-as"]));
    assert_established(&speak, PEER_AS, false);
    let n = g.wait_established();
    assert!(
        !remote_has_four_octet_as(&n),
        "GoBGP saw 4-octet AS from speak: {n}"
    );
    let r = g.wait_route(VIP, "via NH1", |r| r.next_hop == NH1);
    assert_eq!(r.as_path, vec![u64::from(SPEAK_AS)], "{}", r.json);
}

/// A thousand VIPs announced, then all moved, one `speak` command each: GoBGP holds
/// every one via the new next hop, and each step took two UPDATE messages, not a
/// thousand.
#[test]
fn gobgp_holds_a_thousand_vips_announced_and_moved_in_packed_updates() {
    let name = "gobgp_holds_a_thousand_vips_announced_and_moved_in_packed_updates";
    if !preflight(name, Peer::Gobgp) {
        return;
    }
    let lab = Lab::new("gobgp-packed");
    let cap = Capture::start(&lab);
    let gobgp = gobgp_for_speak(&lab, true);
    let mut speak = Hopwatch::start(&lab, "speak", &speak_args(SPEAK_AS, PEER_AS, &[]));
    assert_established(&speak, PEER_AS, true);
    gobgp.wait_established();
    packed::announce_and_move_many(&mut speak, &cap, "GoBGP", || gobgp.routes());
    let r = gobgp.wait_route(&packed::many_vips()[999], "with our AS", |_| true);
    assert_eq!(r.as_path, vec![u64::from(SPEAK_AS)], "{:?}", r.json);
}
