//! hopwatch against ExaBGP 4 in a namespace lab: sessions in both roles, the VIP's
//! next-hop move as ExaBGP received it and as the wire carried it, ExaBGP's routes
//! decoded by `observe`, and 2-octet-AS sessions from either side. ExaBGP has no RIB
//! to query: the tests replay the JSON messages its API process wrote.

mod support;

use serde_json::Value;

use support::checks::{
    announce_vip_nh1, assert_established, assert_observed, move_vip_and_check_wire,
};
use support::exabgp::{self, ExaConfig, Exabgp};
use support::hopwatch::{observe_args, speak_args};
use support::packed;
use support::tshark::Capture;
use support::{Hopwatch, Lab, Peer, preflight};
use support::{NH1, OBSERVE_AS, PEER_ADDR, PEER_AS, PEER_ROUTE, SPEAK_AS, SPEAKER_ADDR, VIP};

fn exabgp_peer(
    lab: &Lab,
    neighbor_as: u32,
    passive: bool,
    asn4: bool,
    routes: Vec<String>,
) -> Exabgp {
    let cfg = ExaConfig {
        ns: lab.router.clone(),
        local_addr: PEER_ADDR.into(),
        peer_addr: SPEAKER_ADDR.into(),
        local_as: PEER_AS,
        peer_as: neighbor_as,
        passive,
        asn4,
        graceful_restart: None,
        routes,
    };
    Exabgp::start(lab, "exabgp", &cfg)
}

fn speak_announcing_vip(extra: &[&str]) -> Vec<String> {
    let ann = announce_vip_nh1();
    let mut e: Vec<&str> = extra.to_vec();
    e.extend(ann.iter().map(String::as_str));
    speak_args(SPEAK_AS, PEER_AS, &e)
}

/// The route ExaBGP announces for `observe`: next hop itself, MED 50, 65000:1.
fn peer_route() -> Vec<String> {
    vec![format!(
        "{PEER_ROUTE} next-hop {PEER_ADDR} med 50 community [65000:1]"
    )]
}

/// Whether the OPEN ExaBGP received offered the 4-octet AS capability (code 65).
fn open_offers_four_octet_as(open: &Value) -> bool {
    open["neighbor"]["open"]["capabilities"].get("65").is_some()
}

#[test]
fn speak_reaches_established_with_a_passive_exabgp() {
    if !preflight(
        "speak_reaches_established_with_a_passive_exabgp",
        Peer::Exabgp,
    ) {
        return;
    }
    let lab = Lab::new("exabgp-active");
    let exa = exabgp_peer(&lab, SPEAK_AS, true, true, vec![]);
    let speak = Hopwatch::start(&lab, "speak", &speak_args(SPEAK_AS, PEER_AS, &[]));
    let est = assert_established(&speak, PEER_AS, true);
    assert_eq!(est.hold_time, 9, "{est:?}");
    exa.wait_up();
    let open = exa.wait_open_received();
    assert!(open_offers_four_octet_as(&open), "{open}");
    assert_eq!(open["neighbor"]["open"]["asn"], SPEAK_AS, "{open}");
    assert_eq!(open["neighbor"]["open"]["hold_time"], 9, "{open}");
}

#[test]
fn exabgp_reaches_established_with_a_passive_speak() {
    if !preflight(
        "exabgp_reaches_established_with_a_passive_speak",
        Peer::Exabgp,
    ) {
        return;
    }
    let lab = Lab::new("exabgp-passive");
    let speak = Hopwatch::start(&lab, "speak", &speak_announcing_vip(&["--passive"]));
    let exa = exabgp_peer(&lab, SPEAK_AS, false, true, vec![]);
    assert_established(&speak, PEER_AS, true);
    exa.wait_up();
    exa.wait_route(VIP, "via NH1", |r| r.next_hop == NH1);
}

#[test]
fn exabgp_receives_the_vip_move_as_one_update_and_no_withdraw() {
    if !preflight(
        "exabgp_receives_the_vip_move_as_one_update_and_no_withdraw",
        Peer::Exabgp,
    ) {
        return;
    }
    let lab = Lab::new("exabgp-move");
    let cap = Capture::start(&lab);
    let exa = exabgp_peer(&lab, SPEAK_AS, true, true, vec![]);
    let mut speak = Hopwatch::start(&lab, "speak", &speak_announcing_vip(&[]));
    assert_established(&speak, PEER_AS, true);
    move_vip_and_check_wire(&mut speak, &cap, |nh| {
        let r = exa.wait_route(VIP, &format!("via {nh}"), |r| r.next_hop == nh);
        assert_eq!(r.as_path, vec![u64::from(SPEAK_AS)], "{r:?}");
    });
    assert!(
        !exabgp::withdrew(&exa.received(), VIP),
        "ExaBGP received a withdraw\n{}",
        exa.tail()
    );
}

#[test]
fn observe_decodes_the_routes_exabgp_announces() {
    if !preflight("observe_decodes_the_routes_exabgp_announces", Peer::Exabgp) {
        return;
    }
    let lab = Lab::new("exabgp-observe");
    let extra = ["--peer", PEER_ADDR, "--peer-as", "65000"];
    let observe = Hopwatch::start(&lab, "observe", &observe_args(OBSERVE_AS, &extra));
    let exa = exabgp_peer(&lab, OBSERVE_AS, false, true, peer_route());
    assert_established(&observe, PEER_AS, true);
    exa.wait_up();
    assert_observed(&observe, PEER_ROUTE, PEER_ADDR, &[PEER_AS]);
}

#[test]
fn a_two_octet_as_speak_session_carries_the_vip_to_exabgp() {
    if !preflight(
        "a_two_octet_as_speak_session_carries_the_vip_to_exabgp",
        Peer::Exabgp,
    ) {
        return;
    }
    let lab = Lab::new("exabgp-as2");
    let exa = exabgp_peer(&lab, SPEAK_AS, true, true, vec![]);
    let speak = Hopwatch::start(&lab, "speak", &speak_announcing_vip(&["--two-octet-as"]));
    assert_established(&speak, PEER_AS, false);
    let open = exa.wait_open_received();
    assert!(
        !open_offers_four_octet_as(&open),
        "speak offered 4-octet AS: {open}"
    );
    let r = exa.wait_route(VIP, "via NH1", |r| r.next_hop == NH1);
    assert_eq!(r.as_path, vec![u64::from(SPEAK_AS)], "{r:?}");
}

#[test]
fn observe_decodes_the_routes_of_an_exabgp_without_as4() {
    if !preflight(
        "observe_decodes_the_routes_of_an_exabgp_without_as4",
        Peer::Exabgp,
    ) {
        return;
    }
    let lab = Lab::new("exabgp-noas4");
    let observe = Hopwatch::start(&lab, "observe", &observe_args(OBSERVE_AS, &[]));
    let exa = exabgp_peer(&lab, OBSERVE_AS, false, false, peer_route());
    assert_established(&observe, PEER_AS, false);
    exa.wait_up();
    assert_observed(&observe, PEER_ROUTE, PEER_ADDR, &[PEER_AS]);
}

/// A thousand VIPs announced, then all moved, one `speak` command each: ExaBGP holds
/// every one via the new next hop, and each step took two UPDATE messages, not a
/// thousand, on the wire and as ExaBGP itself reports them (one JSON message per
/// UPDATE).
#[test]
fn exabgp_receives_a_thousand_vips_announced_and_moved_in_packed_updates() {
    let name = "exabgp_receives_a_thousand_vips_announced_and_moved_in_packed_updates";
    if !preflight(name, Peer::Exabgp) {
        return;
    }
    let lab = Lab::new("exabgp-packed");
    let cap = Capture::start(&lab);
    let exa = exabgp_peer(&lab, SPEAK_AS, true, true, vec![]);
    let mut speak = Hopwatch::start(&lab, "speak", &speak_args(SPEAK_AS, PEER_AS, &[]));
    assert_established(&speak, PEER_AS, true);
    exa.wait_up();
    let table = || {
        exa.routes()
            .into_iter()
            .map(|(prefix, r)| (prefix, r.next_hop))
            .collect()
    };
    packed::announce_and_move_many(&mut speak, &cap, "ExaBGP", table);
    let vips = packed::many_vips();
    let received = exa.received();
    let updates = received
        .iter()
        .filter(|m| m["type"] == "update")
        .filter(|m| {
            let nlris = &m["neighbor"]["message"]["update"]["announce"]["ipv4 unicast"];
            nlris.as_object().is_some_and(|by_nh| {
                by_nh
                    .values()
                    .flat_map(|l| l.as_array().cloned().unwrap_or_default())
                    .any(|n| {
                        n["nlri"]
                            .as_str()
                            .is_some_and(|p| vips.iter().any(|v| v == p))
                    })
            })
        })
        .count();
    assert!(
        (2..=2 * packed::MAX_UPDATES).contains(&updates),
        "ExaBGP received the two steps in {updates} UPDATEs\n{}",
        exa.tail()
    );
    assert!(
        !vips.iter().any(|v| exabgp::withdrew(&received, v)),
        "ExaBGP received a withdraw\n{}",
        exa.tail()
    );
}
