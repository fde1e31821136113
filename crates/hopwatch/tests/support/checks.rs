//! The assertions every peer's tests share: the established event, a next-hop move
//! seen on the wire as one replacing UPDATE, and a peer's route decoded by `observe`.
//! The peer-specific half (reading the peer's own RIB) is passed in as a closure.

use std::time::Duration;

use hopwatch_events::bgp::{Action, AsPath, Established, Table, UpdateSent};
use hopwatch_events::{Event, Line};

use super::events::ip_addr;
use super::hopwatch::Hopwatch;
use super::netns::{PEER_ADDR, SPEAKER_ADDR};
use super::tshark::Capture;
use super::wait::{self, ROUTE_TIMEOUT, SESSION_TIMEOUT};
use super::{NH1, NH2, VIP};

/// Waits for hopwatch's `established` event and checks what it says about the peer.
pub fn assert_established(hw: &Hopwatch, peer_as: u32, four_octet_as: bool) -> Established {
    let (ts_us, est) = hw.wait_for("established", SESSION_TIMEOUT, |l| match &l.event {
        Event::Established(e) => Some((l.ts_us, e.clone())),
        _ => None,
    });
    let dump = || format!("established event: {est:?}\n{}", hw.dump());
    assert_eq!(est.peer, ip_addr(PEER_ADDR), "{}", dump());
    assert_eq!(est.peer_as, peer_as, "{}", dump());
    assert_eq!(est.four_octet_as, four_octet_as, "{}", dump());
    assert!(ts_us > 1_600_000_000_000_000, "{}", dump());
    assert!(
        est.families.iter().any(|f| f == "ipv4-unicast"),
        "{}",
        dump()
    );
    est
}

/// The `update_sent` of `l` if it announces `prefix` via `next_hop`.
pub fn update_sent(l: &Line, prefix: &str, next_hop: &str) -> Option<UpdateSent> {
    match &l.event {
        Event::UpdateSent(u)
            if u.announce
                .iter()
                .any(|r| r.prefix == prefix && r.next_hop == ip_addr(next_hop)) =>
        {
            Some(u.clone())
        }
        _ => None,
    }
}

/// The `--announce` argument for the VIP via NH1.
pub fn announce_vip_nh1() -> [String; 2] {
    ["--announce".into(), format!("{VIP} next-hop {NH1}")]
}

/// Moves the VIP from NH1 to NH2 through `speak`'s stdin and checks, with the peer's
/// own view (`peer_shows(next_hop)` waits until the peer's RIB has the VIP via it):
/// the peer moved, `speak` reported one update with no withdraw, and the wire carried
/// exactly one UPDATE for the move, with Withdrawn Routes Length 0 and no MP_UNREACH.
pub fn move_vip_and_check_wire(speak: &mut Hopwatch, cap: &Capture, peer_shows: impl Fn(&str)) {
    peer_shows(NH1);
    cap.wait_frame(SPEAKER_ADDR, 0, "announcing the VIP via NH1", |f| {
        f.next_hops.iter().any(|n| n == NH1)
    });
    // Let the initial burst (UPDATE, End-of-RIB) finish before drawing the line.
    let _ = speak.try_wait_for_from(0, Duration::from_secs(5), |l| {
        matches!(l.event, Event::EndOfRibSent(_))
    });
    wait::settle(Duration::from_millis(500));
    let mark = cap.mark(SPEAKER_ADDR);
    let from = speak.event_count();
    speak.send(&format!("announce route {VIP} next-hop {NH2}"));
    let sent = speak.wait_for_from(from, "update_sent via NH2", ROUTE_TIMEOUT, |l| {
        update_sent(l, VIP, NH2)
    });
    assert!(
        sent.withdraw.is_empty(),
        "speak reported a withdraw: {sent:?}"
    );
    peer_shows(NH2);
    cap.wait_frame(SPEAKER_ADDR, mark, "announcing the VIP via NH2", |f| {
        f.next_hops.iter().any(|n| n == NH2)
    });
    // Anything trailing the move (a late withdraw, a duplicate) would show up by now.
    wait::settle(Duration::from_secs(1));
    if let Err(e) = cap.check_one_replacing_update(SPEAKER_ADDR, mark, VIP, NH2) {
        panic!("{e}");
    }
    // And speak itself reported no withdraw at any point.
    let withdrew = speak
        .events()
        .iter()
        .any(|l| matches!(&l.event, Event::UpdateSent(u) if !u.withdraw.is_empty()));
    assert!(!withdrew, "speak reported a withdraw\n{}", speak.dump());
}

/// Waits for `observe` to decode `prefix` from the peer, checks next hop, AS path, MED
/// and community, then checks the SIGUSR1 table holds it too.
pub fn assert_observed(observe: &Hopwatch, prefix: &str, next_hop: &str, as_path: &[u32]) {
    let (ts_us, ev) = observe.wait_for(
        &format!("update announcing {prefix}"),
        SESSION_TIMEOUT,
        |l| match &l.event {
            Event::Update(u) if u.action == Action::Announce && u.prefix == prefix => {
                Some((l.ts_us, u.clone()))
            }
            _ => None,
        },
    );
    let dump = || format!("update event: {ev:?}\n{}", observe.dump());
    let attributes = ev.attributes.clone().unwrap_or_default();
    assert_eq!(ev.peer, ip_addr(PEER_ADDR), "{}", dump());
    assert_eq!(ev.next_hop, Some(ip_addr(next_hop)), "{}", dump());
    assert_eq!(
        attributes.as_path,
        AsPath::Asns(as_path.to_vec()),
        "{}",
        dump()
    );
    assert_eq!(attributes.med, Some(50), "{}", dump());
    assert!(
        attributes.communities.iter().any(|c| c == "65000:1"),
        "{}",
        dump()
    );
    assert!(ts_us > 0, "{}", dump());
    let from = observe.event_count();
    observe.signal("USR1");
    let table: Table = observe.wait_for_from(from, "table after SIGUSR1", ROUTE_TIMEOUT, |l| {
        match &l.event {
            Event::Table(t) => Some(t.clone()),
            _ => None,
        }
    });
    let row = table.routes.iter().find(|r| r.prefix == prefix);
    let row = row.unwrap_or_else(|| panic!("{prefix} missing from the table: {table:?}"));
    assert_eq!(row.peer, ip_addr(PEER_ADDR), "{table:?}");
    assert_eq!(row.next_hop, ip_addr(next_hop), "{table:?}");
    assert_eq!(
        row.attributes.as_path,
        AsPath::Asns(as_path.to_vec()),
        "{table:?}"
    );
}
