//! The assertions every peer's tests share: the established event, a next-hop move
//! seen on the wire as one replacing UPDATE, and a peer's route decoded by `observe`.
//! The peer-specific half (reading the peer's own RIB) is passed in as a closure.

use std::time::Duration;

use serde_json::Value;

use super::hopwatch::Hopwatch;
use super::netns::{PEER_ADDR, SPEAKER_ADDR};
use super::tshark::Capture;
use super::wait::{self, ROUTE_TIMEOUT, SESSION_TIMEOUT};
use super::{NH1, NH2, VIP};

/// Waits for hopwatch's `established` event and checks what it says about the peer.
pub fn assert_established(hw: &Hopwatch, peer_as: u32, four_octet_as: bool) -> Value {
    let est = hw.wait_established(SESSION_TIMEOUT);
    let dump = || format!("established event: {est}\n{}", hw.dump());
    assert_eq!(est["peer"], PEER_ADDR, "{}", dump());
    assert_eq!(est["peer_as"], peer_as, "{}", dump());
    assert_eq!(est["four_octet_as"], four_octet_as, "{}", dump());
    assert!(
        est["ts_us"]
            .as_u64()
            .is_some_and(|t| t > 1_600_000_000_000_000),
        "{}",
        dump()
    );
    let families = est["families"].as_array().cloned().unwrap_or_default();
    assert!(families.iter().any(|f| f == "ipv4-unicast"), "{}", dump());
    est
}

/// Whether `v` is an `update_sent` event announcing `prefix` via `next_hop`.
pub fn is_update_sent(v: &Value, prefix: &str, next_hop: &str) -> bool {
    v["event"] == "update_sent"
        && v["announce"].as_array().is_some_and(|a| {
            a.iter()
                .any(|r| r["prefix"] == prefix && r["next_hop"] == next_hop)
        })
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
    let _ = speak.try_wait_for_from(0, Duration::from_secs(5), |v| {
        v["event"] == "end_of_rib_sent"
    });
    wait::settle(Duration::from_millis(500));
    let mark = cap.mark(SPEAKER_ADDR);
    let from = speak.event_count();
    speak.send(&format!("announce route {VIP} next-hop {NH2}"));
    let sent = speak.wait_for_from(from, "update_sent via NH2", ROUTE_TIMEOUT, |v| {
        is_update_sent(v, VIP, NH2)
    });
    assert_eq!(
        sent["withdraw"],
        serde_json::json!([]),
        "speak reported a withdraw: {sent}"
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
    let withdrew = speak.events().into_iter().any(|v| {
        v["event"] == "update_sent" && v["withdraw"].as_array().is_some_and(|w| !w.is_empty())
    });
    assert!(!withdrew, "speak reported a withdraw\n{}", speak.dump());
}

/// Waits for `observe` to decode `prefix` from the peer, checks next hop, AS path, MED
/// and community, then checks the SIGUSR1 table holds it too.
pub fn assert_observed(observe: &Hopwatch, prefix: &str, next_hop: &str, as_path: &[u32]) {
    let ev = observe.wait_for(
        &format!("update announcing {prefix}"),
        SESSION_TIMEOUT,
        |v| v["event"] == "update" && v["action"] == "announce" && v["prefix"] == prefix,
    );
    let dump = || format!("update event: {ev}\n{}", observe.dump());
    assert_eq!(ev["peer"], PEER_ADDR, "{}", dump());
    assert_eq!(ev["next_hop"], next_hop, "{}", dump());
    assert_eq!(ev["as_path"], serde_json::json!(as_path), "{}", dump());
    assert_eq!(ev["med"], 50, "{}", dump());
    let communities = ev["communities"].as_array().cloned().unwrap_or_default();
    assert!(communities.iter().any(|c| c == "65000:1"), "{}", dump());
    assert!(ev["ts_us"].as_u64().is_some(), "{}", dump());
    let from = observe.event_count();
    observe.signal("USR1");
    let table = observe.wait_for_from(from, "table after SIGUSR1", ROUTE_TIMEOUT, |v| {
        v["event"] == "table"
    });
    let routes = table["routes"].as_array().cloned().unwrap_or_default();
    let row = routes.iter().find(|r| r["prefix"] == prefix);
    let row = row.unwrap_or_else(|| panic!("{prefix} missing from the table: {table}"));
    assert_eq!(row["peer"], PEER_ADDR, "{table}");
    assert_eq!(row["next_hop"], next_hop, "{table}");
    assert_eq!(row["as_path"], serde_json::json!(as_path), "{table}");
}
