//! The packed-UPDATE check every peer's tests share: `speak` announces a thousand
//! VIPs with one command (`announce attributes next-hop … nlri …`), then moves them
//! all to the other next hop with another. Each time the peer must hold all of them
//! via the new next hop, and the step must have taken a few UPDATE messages (two:
//! about 800 /32s fit one), not a thousand: counted on the wire by tshark and in
//! `speak`'s `update_sent` events, which must list exactly what the wire carried.
//! The peer-specific half (reading the peer's table) is passed in as a closure.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hopwatch_events::Event;

use super::events::ip_addr;
use super::hopwatch::Hopwatch;
use super::netns::SPEAKER_ADDR;
use super::tshark::{Capture, UpdateFrame};
use super::wait::{self, ROUTE_TIMEOUT};
use super::{NH1, NH2};

/// How many VIPs move together.
pub const MANY: usize = 1000;
/// The most UPDATE messages one step may take: 1,000 /32s fill two.
pub const MAX_UPDATES: usize = 3;

/// The VIPs: 100.64.16.0/32 onwards, clear of the VIP and the peer's own route.
pub fn many_vips() -> Vec<String> {
    (0..MANY)
        .map(|i| format!("100.64.{}.{}/32", 16 + i / 256, i % 256))
        .collect()
}

/// The one `speak` command that announces every VIP via `next_hop`.
pub fn announce_many(next_hop: &str) -> String {
    format!(
        "announce attributes next-hop {next_hop} nlri {}",
        many_vips().join(" ")
    )
}

/// Announces the VIPs via NH1, then moves them to NH2, one command each, and checks
/// each step: `peer_table()` (prefix → next hop, as the peer holds it) has every VIP
/// via the new next hop; tshark saw at most [`MAX_UPDATES`] UPDATE messages from
/// `speak`, withdrawing nothing, carrying every VIP; `speak` reported one
/// `update_sent` per message with those same prefixes. `speak` must be Established
/// with no route of its own, so that its End-of-RIB is its only UPDATE before.
pub fn announce_and_move_many(
    speak: &mut Hopwatch,
    cap: &Capture,
    peer: &str,
    peer_table: impl Fn() -> BTreeMap<String, String>,
) {
    // The session's End-of-RIB must be in the capture before the first mark, or it
    // would count as an UPDATE of the first step (tshark prints with some delay).
    cap.wait_frame(SPEAKER_ADDR, 0, "End-of-RIB", |f| {
        f.update_count() > 0 && f.nlri.is_empty() && f.withdrawn.is_empty()
    });
    for nh in [NH1, NH2] {
        let mark = cap.mark(SPEAKER_ADDR);
        let from = speak.event_count();
        speak.send(&announce_many(nh));
        let sent = wait_sent(speak, from, nh);
        wait_peer_holds(peer, &peer_table, nh);
        wait_wire(cap, mark, nh);
        // Anything trailing the step (a straggling UPDATE) would show up by now.
        wait::settle(Duration::from_secs(1));
        let frames: Vec<UpdateFrame> = cap.frames_from(SPEAKER_ADDR).split_off(mark);
        check_wire(cap, &frames, nh);
        let on_wire: usize = frames.iter().map(UpdateFrame::update_count).sum();
        assert_eq!(
            sent.len(),
            on_wire,
            "speak reported {} update_sent for {on_wire} UPDATE messages on the wire \
             (via {nh})\n{}",
            sent.len(),
            cap.dump()
        );
    }
}

/// Waits until `speak`'s `update_sent` events after `from` announce every VIP via
/// `nh`; returns the prefix count of each of those events, checking that they
/// withdraw nothing and that none lists a VIP twice.
fn wait_sent(speak: &Hopwatch, from: usize, nh: &str) -> Vec<usize> {
    let nh_ip = ip_addr(nh);
    let got = wait::poll(ROUTE_TIMEOUT, Duration::from_millis(100), || {
        let sent: Vec<_> = speak
            .events()
            .into_iter()
            .skip(from)
            .filter_map(|l| match l.event {
                Event::UpdateSent(u) => Some(u),
                _ => None,
            })
            .collect();
        let announced: usize = sent.iter().map(|u| u.announce.len()).sum();
        (announced >= MANY).then_some(sent)
    })
    .unwrap_or_else(|| {
        panic!(
            "speak did not report {MANY} VIPs sent via {nh}\n{}",
            speak.dump()
        )
    });
    let mut seen = BTreeSet::new();
    for u in &got {
        assert!(u.withdraw.is_empty(), "speak withdrew: {u:?}");
        for a in &u.announce {
            assert_eq!(a.next_hop, nh_ip, "{u:?}");
            assert!(seen.insert(a.prefix.clone()), "{} sent twice", a.prefix);
        }
    }
    assert_eq!(seen, many_vips().into_iter().collect::<BTreeSet<_>>());
    assert!(
        got.len() <= MAX_UPDATES,
        "speak sent {MANY} VIPs via {nh} in {} UPDATEs, not at most {MAX_UPDATES}",
        got.len()
    );
    got.iter().map(|u| u.announce.len()).collect()
}

/// Waits until the peer holds every VIP via `nh`.
fn wait_peer_holds(peer: &str, peer_table: &impl Fn() -> BTreeMap<String, String>, nh: &str) {
    let vips = many_vips();
    let mut last = BTreeMap::new();
    let done = wait::poll(ROUTE_TIMEOUT, Duration::from_millis(250), || {
        last = peer_table();
        vips.iter()
            .all(|v| last.get(v).map(String::as_str) == Some(nh))
            .then_some(())
    });
    if done.is_none() {
        let via: usize = vips
            .iter()
            .filter(|v| last.get(*v).map(String::as_str) == Some(nh))
            .count();
        let missing: Vec<_> = vips
            .iter()
            .filter(|v| !last.contains_key(*v))
            .take(5)
            .collect();
        panic!(
            "{peer} holds {via} of the {MANY} VIPs via {nh} (of {} routes in all); \
             missing, first ones: {missing:?}",
            last.len()
        );
    }
}

/// Waits until tshark has seen every VIP in UPDATEs from `speak` after `mark`.
fn wait_wire(cap: &Capture, mark: usize, nh: &str) {
    let done = wait::poll(ROUTE_TIMEOUT, Duration::from_millis(200), || {
        let n: usize = cap
            .frames_from(SPEAKER_ADDR)
            .iter()
            .skip(mark)
            .map(|f| f.nlri.len())
            .sum();
        (n >= MANY).then_some(())
    });
    assert!(
        done.is_some(),
        "tshark did not see the {MANY} VIPs via {nh} on the wire\n{}",
        cap.dump()
    );
}

/// The UPDATEs of one step, as captured: few, withdrawing nothing, all via `nh`,
/// carrying every VIP once.
fn check_wire(cap: &Capture, frames: &[UpdateFrame], nh: &str) {
    let fail = |why: String| -> ! { panic!("{why}\nframes: {frames:#?}\n{}", cap.dump()) };
    let updates: usize = frames.iter().map(UpdateFrame::update_count).sum();
    if updates == 0 || updates > MAX_UPDATES {
        fail(format!(
            "{MANY} VIPs via {nh} took {updates} UPDATE messages, not 1 to {MAX_UPDATES}"
        ));
    }
    for f in frames {
        if f.withdrawn_lengths.iter().any(|l| *l != 0)
            || !f.withdrawn.is_empty()
            || !f.mp_unreach.is_empty()
        {
            fail("an UPDATE of the step withdraws routes".into());
        }
        if f.next_hops.iter().any(|n| n != nh) {
            fail(format!(
                "an UPDATE of the step has a next hop other than {nh}"
            ));
        }
    }
    let addrs: Vec<&str> = frames
        .iter()
        .flat_map(|f| f.nlri.iter().map(String::as_str))
        .collect();
    let unique: BTreeSet<&str> = addrs.iter().copied().collect();
    let want: Vec<String> = many_vips()
        .into_iter()
        .map(|p| p.trim_end_matches("/32").to_string())
        .collect();
    if addrs.len() != MANY || want.iter().any(|w| !unique.contains(w.as_str())) {
        fail(format!(
            "the step's UPDATEs carry {} prefixes ({} distinct), not the {MANY} VIPs once",
            addrs.len(),
            unique.len()
        ));
    }
}
