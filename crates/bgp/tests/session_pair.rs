//! Two [`Session`]s talking to each other in memory, under simulated time.
//!
//! The model is quinn's `Pair` (`quinn-proto/src/tests/util.rs`): no runtime, no
//! sockets, no clock. [`Pair`] plays the driver for both ends of one TCP
//! connection: it moves what `poll_transmit` gives into the other side's
//! `receive`, answers [`Event::Connect`] and [`Event::Disconnect`], and fires
//! `handle_timeout` when the test advances time past `poll_timeout`. Every event
//! and every message written is logged with its simulated time, so a test can
//! check *when* things happened, not only that they did.
//!
//! The simulated connection is TCP-like: bytes written before a close are
//! delivered before the peer learns of the close, and what is written to a
//! connection that is gone is lost. Side `A` is the one that normally connects
//! out; the network can refuse connections ([`Net::Refused`]) or swallow them
//! ([`Net::BlackHole`]), and a side can be muted (everything it writes is lost,
//! as from a peer that hangs).
//!
//! Connection collision needs two connections, so it is tested with two pairs
//! (four sessions) stepped by hand, with [`collision::resolve`] playing the layer
//! above the sessions.
//!
//! # Layout
//! - this file: reaching Established and what was negotiated, the timers, OPEN
//!   errors.
//! - `session_pair/pair.rs`: the [`Pair`] harness and builders.
//! - `session_pair/messages.rs`: UPDATE, End-of-RIB, ROUTE-REFRESH, framing, FSM
//!   and header errors.
//! - `session_pair/lifecycle.rs`: stop, reset, lost connections, connecting and
//!   the retry backoff.
//! - `session_pair/collisions.rs`: connection collision with four sessions.

#[path = "session_pair/collisions.rs"]
mod collisions;
#[path = "session_pair/lifecycle.rs"]
mod lifecycle;
#[path = "session_pair/messages.rs"]
mod messages;
#[path = "session_pair/pair.rs"]
mod pair;

use pair::*;

// ---------------------------------------------------------------------------
// Reaching Established, and what was negotiated
// ---------------------------------------------------------------------------

#[test]
fn two_sessions_reach_established() {
    let mut pair = Pair::new(
        SessionConfig {
            hold_time: hold(90),
            families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
            ..active(65001, "10.0.0.1", 65002)
        },
        SessionConfig {
            hold_time: hold(30),
            families: vec![Family::Ipv6Unicast],
            ..passive(65002, "10.0.0.2", 65001)
        },
    );
    pair.establish();

    use State::*;
    assert_eq!(
        pair.states(A),
        [Idle, Connect, OpenSent, OpenConfirm, Established]
    );
    assert_eq!(
        pair.states(B),
        [Idle, Active, OpenSent, OpenConfirm, Established]
    );
    for x in [A, B] {
        assert_eq!(
            pair.events(x).filter(|e| **e == Event::Established).count(),
            1
        );
        assert!(pair.downs(x).is_empty());
        let n = pair.session(x).negotiated().expect("negotiated");
        assert_eq!(n.hold_time, hold(30), "the smaller proposal");
        assert_eq!(n.keepalive_interval(), Some(secs(10)), "a third of it");
        assert_eq!(n.families, [Family::Ipv6Unicast], "families both offered");
        assert!(n.carries(Family::Ipv6Unicast) && !n.carries(Family::Ipv4Unicast));
        assert!(n.codec.four_octet_as);
        assert!(n.peer_open.route_refresh());
        assert!(pair.session(x).is_established());
    }
    assert_eq!(pair.session(A).negotiated().unwrap().peer_as, Asn(65002));
    assert_eq!(pair.session(B).negotiated().unwrap().peer_as, Asn(65001));
    assert_eq!(
        pair.session(A).negotiated().unwrap().peer_open.router_id,
        id("10.0.0.2")
    );
    // The first message each side wrote was its OPEN, then one KEEPALIVE.
    for x in [A, B] {
        let sent: Vec<&str> = pair.sides[x].sent.iter().map(|(_, m)| m.name()).collect();
        assert_eq!(sent, ["OPEN", "KEEPALIVE"], "side {x}");
    }
}

#[test]
fn four_octet_as_numbers_are_negotiated_and_carried_in_the_open() {
    let mut pair = Pair::new(
        active(4_200_000_001, "10.0.0.1", 4_200_000_002),
        passive(4_200_000_002, "10.0.0.2", 4_200_000_001),
    );
    pair.establish();
    let n = pair.session(A).negotiated().unwrap();
    assert!(n.codec.four_octet_as);
    assert_eq!(n.peer_as, Asn(4_200_000_002));
    assert_eq!(
        n.peer_open.asn,
        Asn::TRANS,
        "the 2-octet field says AS_TRANS"
    );
    let n = pair.session(B).negotiated().unwrap();
    assert_eq!(n.peer_as, Asn(4_200_000_001));
}

#[test]
fn a_two_octet_peer_still_gets_four_octet_paths_through_as4_path() {
    let mut pair = Pair::new(
        active(65001, "10.0.0.1", 65002),
        SessionConfig {
            four_octet_as: false,
            ..passive(65002, "10.0.0.2", 65001)
        },
    );
    pair.establish();
    for x in [A, B] {
        let n = pair.session(x).negotiated().unwrap();
        assert!(!n.codec.four_octet_as, "side {x}: only one side offered it");
    }
    assert!(
        !pair
            .session(A)
            .negotiated()
            .unwrap()
            .peer_open
            .four_octet_as()
    );

    let path = [4_200_000_001];
    let update = v4_update(&path);
    // On this session the AS_PATH carries AS_TRANS and the real path rides in
    // AS4_PATH: the bytes are the 2-octet encoding, not the 4-octet one.
    let two_octet = Codec {
        four_octet_as: false,
    };
    let wire = message::encode_to_vec(&Message::Update(update.clone()), &two_octet);
    let wire4 = encoded(&Message::Update(update.clone()));
    assert_ne!(wire, wire4);
    assert!(
        wire.windows(2).any(|w| w == 23456u16.to_be_bytes()),
        "AS_TRANS"
    );
    assert!(
        wire.windows(4).any(|w| w == 4_200_000_001u32.to_be_bytes()),
        "the real AS, in AS4_PATH"
    );

    for (from, to) in [(A, B), (B, A)] {
        let mark = pair.mark(to);
        let written = pair.sides[from].written.len();
        assert!(pair.with(from, |s, now| s.send_update(now, &update)));
        pair.drive();
        assert_eq!(
            pair.sides[from].written[written..],
            wire,
            "{from} wrote 2-octet"
        );
        let got = updates(&pair.events_since(to, mark));
        assert_eq!(got, std::slice::from_ref(&update), "{from} -> {to}");
        let as_path = got[0].attributes.as_path.as_ref().unwrap();
        assert_eq!(as_path.asns().collect::<Vec<_>>(), [Asn(4_200_000_001)]);
    }
}

// ---------------------------------------------------------------------------
// Timers
// ---------------------------------------------------------------------------

#[test]
fn keepalives_keep_the_session_up() {
    let mut pair = ebgp_pair(9);
    pair.establish();
    let start = pair.offset;
    pair.advance(secs(600));

    for x in [A, B] {
        assert_eq!(pair.session(x).state(), State::Established, "side {x}");
        assert!(pair.downs(x).is_empty(), "side {x}: {:?}", pair.downs(x));
        assert_eq!(pair.states(x).last(), Some(&State::Established));
        let times = pair.keepalive_times(x);
        // One KEEPALIVE in OpenConfirm, then one every 3 s for 10 minutes.
        assert_eq!(times.len(), 1 + 200, "side {x}");
        for w in times.windows(2) {
            assert!(w[1] - w[0] <= secs(3), "side {x}: gap {:?}", w[1] - w[0]);
        }
        assert!(*times.last().unwrap() >= start + secs(597));
        assert!(pair.notifications_sent(x).is_empty());
    }
}

#[test]
fn hold_timer_expiry_sends_notification() {
    let mut pair = Pair::new(
        SessionConfig {
            hold_time: hold(9),
            retry_max: secs(8),
            ..active(65001, "10.0.0.1", 65002)
        },
        SessionConfig {
            hold_time: hold(9),
            ..passive(65002, "10.0.0.2", 65001)
        },
    );
    pair.establish();
    let t0 = pair.offset;
    // B hangs: whatever it writes is lost, but it still reads.
    pair.sides[B].mute = true;
    let mark = pair.mark(A);
    pair.advance(secs(9) - Duration::from_millis(1));
    assert_eq!(pair.session(A).state(), State::Established, "not yet");
    pair.advance(Duration::from_millis(1));

    let expired = Notification::bare(ErrorCode::HoldTimerExpired);
    assert_eq!(pair.notifications_sent(A), std::slice::from_ref(&expired));
    assert_eq!(code(&pair.notifications_sent(A)[0]), (4, 0));
    let since = pair.events_since(A, mark);
    assert!(since.contains(&Event::Down(DownReason::Sent(expired.clone()))));
    assert!(since.contains(&Event::Disconnect));
    assert_eq!(pair.session(A).state(), State::Idle);
    assert_eq!(pair.sides[A].events.last().unwrap().0, t0 + secs(9));
    // B read the NOTIFICATION before the connection closed.
    assert_eq!(pair.downs(B), [DownReason::Received(expired)]);

    // The peer is gone for good: A retries, waiting 1, 2, 4 s, then retry_max (8 s).
    pair.net = Net::Refused;
    pair.sides[B].mute = false;
    pair.advance(secs(60));
    let expiry = t0 + secs(9);
    let attempts: Vec<Duration> = pair
        .connect_times(A)
        .into_iter()
        .filter(|t| *t > expiry)
        .collect();
    let mut waits = vec![attempts[0] - expiry];
    waits.extend(attempts.windows(2).map(|w| w[1] - w[0]));
    assert_eq!(
        waits[..7],
        [
            secs(1),
            secs(2),
            secs(4),
            secs(8),
            secs(8),
            secs(8),
            secs(8)
        ]
    );
    assert_eq!(pair.session(A).state(), State::Active);

    // The peer comes back: the next attempt succeeds and the count starts over.
    pair.net = Net::Up;
    pair.advance(secs(8));
    assert_eq!(pair.session(A).state(), State::Established);
    assert_eq!(pair.session(B).state(), State::Established);
    let lost = pair.offset;
    pair.cut();
    pair.net = Net::Refused;
    pair.advance(secs(4));
    let after: Vec<Duration> = pair
        .connect_times(A)
        .into_iter()
        .filter(|t| *t > lost)
        .collect();
    assert_eq!(after, [lost + secs(1), lost + secs(3)], "1 s, then 2 s");
}

#[test]
fn hold_timer_expires_in_open_sent_after_four_minutes() {
    let mut pair = ebgp_pair(9);
    // B accepts the connection, then hangs: it neither reads nor writes.
    pair.sides[B].mute = true;
    pair.sides[B].deaf = true;
    pair.start();
    assert_eq!(pair.session(A).state(), State::OpenSent);
    pair.advance(secs(239));
    assert_eq!(pair.session(A).state(), State::OpenSent);
    pair.advance(secs(1));
    assert_eq!(
        pair.notifications_sent(A),
        [Notification::bare(ErrorCode::HoldTimerExpired)]
    );
    assert_eq!(pair.session(A).state(), State::Idle);
}

#[test]
fn open_confirm_sends_keepalives_while_it_waits() {
    let mut pair = ebgp_pair(9);
    // B's OPEN arrives, but its KEEPALIVE never does.
    pair.sides[B].mute = true;
    pair.start();
    let b_open = Message::Open(pair.session(B).config().open());
    pair.link.as_mut().unwrap().flight[B].extend(encoded(&b_open));
    pair.drive();
    assert_eq!(pair.session(A).state(), State::OpenConfirm);
    let t0 = pair.offset;
    pair.advance(secs(8));
    assert_eq!(pair.session(A).state(), State::OpenConfirm);
    // RFC 4271 8.2.2, OpenConfirm: KeepaliveTimer_Expires sends a KEEPALIVE.
    assert_eq!(
        pair.keepalive_times(A),
        [t0, t0 + secs(3), t0 + secs(6)],
        "one KEEPALIVE for the OPEN, then one per keepalive interval"
    );
    pair.advance(secs(1));
    assert_eq!(
        pair.notifications_sent(A),
        [Notification::bare(ErrorCode::HoldTimerExpired)]
    );
}

#[test]
fn hold_time_zero_means_no_keepalives_and_no_hold_timer() {
    for (ha, hb) in [(0, 0), (0, 90), (90, 0)] {
        let mut pair = Pair::new(
            SessionConfig {
                hold_time: hold(ha),
                ..active(65001, "10.0.0.1", 65002)
            },
            SessionConfig {
                hold_time: hold(hb),
                ..passive(65002, "10.0.0.2", 65001)
            },
        );
        pair.establish();
        for x in [A, B] {
            let n = pair.session(x).negotiated().unwrap();
            assert_eq!(n.hold_time, HoldTime::ZERO, "{ha}/{hb}");
            assert_eq!(n.keepalive_interval(), None);
            assert_eq!(pair.session(x).poll_timeout(), None, "no timer at all");
        }
        let sent = [pair.sides[A].sent.len(), pair.sides[B].sent.len()];
        pair.advance(secs(3600));
        for x in [A, B] {
            assert_eq!(pair.session(x).state(), State::Established);
            assert_eq!(pair.sides[x].sent.len(), sent[x], "nothing more sent");
            assert!(pair.downs(x).is_empty());
        }
    }
}

#[test]
fn an_empty_batch_of_updates_does_not_hold_back_keepalives() {
    let mut pair = ebgp_pair(9);
    pair.establish();
    // A driver that flushes its (empty) queue of UPDATEs every second.
    for _ in 0..30 {
        pair.with(A, |s, now| s.send_updates(now, &[]));
        pair.advance(secs(1));
    }
    assert!(pair.downs(B).is_empty(), "{:?}", pair.downs(B));
    assert!(pair.session(A).is_established() && pair.session(B).is_established());
    assert_eq!(pair.keepalive_times(A).len(), 1 + 10, "every 3 s for 30 s");
}

// ---------------------------------------------------------------------------
// OPEN errors
// ---------------------------------------------------------------------------

#[test]
fn bad_peer_as_is_refused_with_open_error_2_2() {
    let mut pair = Pair::new(
        active(65001, "10.0.0.1", 65099),
        passive(65002, "10.0.0.2", 65001),
    );
    pair.start();
    let sent = pair.notifications_sent(A);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].code, ErrorCode::Open(OpenError::BadPeerAs));
    assert_eq!(code(&sent[0]), (2, 2));
    assert_eq!(
        sent[0].data,
        65002u16.to_be_bytes(),
        "the AS the peer claimed"
    );
    assert_eq!(pair.downs(A), [DownReason::Sent(sent[0].clone())]);
    assert_eq!(pair.downs(B), [DownReason::Received(sent[0].clone())]);
    for x in [A, B] {
        assert!(!pair.events(x).any(|e| *e == Event::Established));
        assert_eq!(pair.session(x).state(), State::Idle);
    }
}

#[test]
fn a_four_octet_peer_with_the_wrong_as_is_refused_with_as_trans_in_the_data() {
    let mut pair = Pair::new(
        active(65001, "10.0.0.1", 4_200_000_009),
        passive(4_200_000_002, "10.0.0.2", 65001),
    );
    pair.start();
    let sent = pair.notifications_sent(A);
    assert_eq!(sent.len(), 1);
    assert_eq!(code(&sent[0]), (2, 2));
    assert_eq!(sent[0].data, 23456u16.to_be_bytes());
}

#[test]
fn router_id_equal_to_ours_on_ibgp_is_refused_with_open_error_2_3() {
    let mut pair = Pair::new(
        active(65001, "10.0.0.1", 65001),
        passive(65001, "10.0.0.1", 65001),
    );
    pair.start();
    let sent = pair.notifications_sent(A);
    assert!(!sent.is_empty());
    assert_eq!(sent[0].code, ErrorCode::Open(OpenError::BadBgpIdentifier));
    assert_eq!(code(&sent[0]), (2, 3));
    for x in [A, B] {
        assert!(!pair.events(x).any(|e| *e == Event::Established));
        assert_eq!(pair.session(x).state(), State::Idle);
        assert!(pair.downs(x).iter().any(|d| matches!(d,
                DownReason::Sent(n) | DownReason::Received(n) if code(n) == (2, 3))));
    }
}

#[test]
fn router_id_equal_to_ours_on_ebgp_is_accepted() {
    // RFC 6286 2.2: the identifier must be unique within an AS; an external peer
    // may have ours.
    let mut pair = Pair::new(
        active(65001, "10.0.0.1", 65002),
        passive(65002, "10.0.0.1", 65001),
    );
    pair.establish();
}
