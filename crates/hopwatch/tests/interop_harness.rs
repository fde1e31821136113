//! The interop harness checked without `hopwatch`: ExaBGP stands in for the speaker,
//! so a failure here is the harness's (or a peer's), never hopwatch's. Each test
//! moves a next hop the way `speak` would and reads it back through the peer's CLI.

mod support;

use support::exabgp::{ExaConfig, Exabgp};
use support::wait::settle;
use support::{Lab, bird, frr, gobgp, preflight, tshark};
use support::{NH1, NH2, PEER_ADDR, PEER_AS, Peer, SPEAK_AS, SPEAKER_ADDR, VIP};

use std::time::Duration;

/// ExaBGP in the speaker namespace announcing the VIP via NH1, as `speak` would.
fn stand_in(lab: &Lab, asn4: bool) -> Exabgp {
    let cfg = ExaConfig {
        ns: lab.speaker.clone(),
        local_addr: SPEAKER_ADDR.into(),
        peer_addr: PEER_ADDR.into(),
        local_as: SPEAK_AS,
        peer_as: PEER_AS,
        passive: false,
        asn4,
        graceful_restart: None,
        routes: vec![format!("{VIP} next-hop {NH1}")],
    };
    Exabgp::start(lab, "standin", &cfg)
}

#[test]
fn frr_rib_and_capture_follow_a_stand_in_next_hop_move() {
    if !preflight(
        "frr_rib_and_capture_follow_a_stand_in_next_hop_move",
        Peer::Frr,
    ) {
        return;
    }
    let lab = Lab::new("harness-frr");
    let cap = tshark::Capture::start(&lab);
    let cfg = frr::FrrConfig {
        neighbor_as: SPEAK_AS,
        passive: true,
        graceful_restart: true,
        networks: vec![],
    };
    let frr = frr::Frr::start(&lab, &cfg);
    let exa = stand_in(&lab, true);
    frr.wait_established();
    let path = frr.wait_route(VIP, "via NH1", |p| frr::next_hop(p) == NH1);
    assert_eq!(frr::as_path(&path), vec![u64::from(SPEAK_AS)]);
    cap.wait_frame(SPEAKER_ADDR, 0, "via NH1", |f| {
        f.next_hops.iter().any(|n| n == NH1)
    });
    settle(Duration::from_millis(500));
    let mark = cap.mark(SPEAKER_ADDR);
    exa.command(&format!("announce route {VIP} next-hop {NH2}"));
    frr.wait_route(VIP, "via NH2", |p| frr::next_hop(p) == NH2);
    cap.wait_frame(SPEAKER_ADDR, mark, "via NH2", |f| {
        f.next_hops.iter().any(|n| n == NH2)
    });
    settle(Duration::from_secs(1));
    if let Err(e) = cap.check_one_replacing_update(SPEAKER_ADDR, mark, VIP, NH2) {
        panic!("{e}");
    }
    // The negative control: a withdraw before the re-announce must fail the check.
    let mark = cap.mark(SPEAKER_ADDR);
    exa.command(&format!("withdraw route {VIP} next-hop {NH2}"));
    exa.command(&format!("announce route {VIP} next-hop {NH1}"));
    frr.wait_route(VIP, "back via NH1", |p| frr::next_hop(p) == NH1);
    cap.wait_frame(SPEAKER_ADDR, mark, "back via NH1", |f| {
        f.next_hops.iter().any(|n| n == NH1)
    });
    settle(Duration::from_secs(1));
    let verdict = cap.check_one_replacing_update(SPEAKER_ADDR, mark, VIP, NH1);
    assert!(
        verdict.is_err(),
        "the capture check missed a withdraw:\n{}",
        cap.dump()
    );
    eprintln!(
        "negative control rejected as expected: {}",
        verdict.unwrap_err().lines().next().unwrap_or("")
    );
    eprintln!("neighbor: {}", frr.neighbor());
}

#[test]
fn bird_rib_follows_a_stand_in_next_hop_move() {
    if !preflight("bird_rib_follows_a_stand_in_next_hop_move", Peer::Bird) {
        return;
    }
    let lab = Lab::new("harness-bird");
    let cfg = bird::BirdConfig {
        neighbor_as: SPEAK_AS,
        passive: true,
        as4: true,
        networks: vec!["100.64.0.9/32".into()],
    };
    let bird = bird::Bird::start(&lab, &cfg);
    let exa = stand_in(&lab, false);
    let proto = bird.wait_established();
    eprintln!("{proto}");
    let r = bird.wait_route(VIP, "via NH1", |r| r.next_hop == NH1);
    assert_eq!(r.as_path, vec![u64::from(SPEAK_AS)]);
    exa.command(&format!("announce route {VIP} next-hop {NH2}"));
    bird.wait_route(VIP, "via NH2", |r| r.next_hop == NH2);
    let got = exa.wait_route("100.64.0.9/32", "from BIRD", |_| true);
    eprintln!(
        "ExaBGP got {got:?} from BIRD; received: {:?}",
        exa.received()
    );
}

#[test]
fn gobgp_rib_follows_a_stand_in_next_hop_move() {
    if !preflight("gobgp_rib_follows_a_stand_in_next_hop_move", Peer::Gobgp) {
        return;
    }
    let lab = Lab::new("harness-gobgp");
    let cfg = gobgp::GobgpConfig {
        neighbor_as: SPEAK_AS,
        passive: true,
    };
    let g = gobgp::Gobgp::start(&lab, &cfg);
    let exa = stand_in(&lab, true);
    let n = g.wait_established();
    eprintln!("{n}");
    let r = g.wait_route(VIP, "via NH1", |r| r.next_hop == NH1);
    assert_eq!(r.as_path, vec![u64::from(SPEAK_AS)]);
    exa.command(&format!("announce route {VIP} next-hop {NH2}"));
    g.wait_route(VIP, "via NH2", |r| r.next_hop == NH2);
    g.add_route("100.64.0.9/32", PEER_ADDR);
    let got = exa.wait_route("100.64.0.9/32", "from GoBGP", |_| true);
    eprintln!(
        "ExaBGP got {got:?} from GoBGP; received: {:?}",
        exa.received()
    );
}
