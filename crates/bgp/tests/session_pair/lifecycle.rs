//! Starting, stopping and losing sessions: manual stop and reset, lost
//! connections, refused and black-holed connects, and the retry backoff.

use crate::pair::*;

// ---------------------------------------------------------------------------
// Stopping and losing the connection
// ---------------------------------------------------------------------------

#[test]
fn manual_stop_sends_cease_and_does_not_restart() {
    let mut pair = ebgp_pair(9);
    pair.establish();
    let cease = shutdown_notification("maintenance window, back at 21:00");
    pair.with(A, |s, now| s.stop(now, cease.clone()));
    pair.drive();

    let sent = pair.notifications_sent(A);
    assert_eq!(sent, std::slice::from_ref(&cease));
    assert_eq!(
        sent[0].code,
        ErrorCode::Cease(Cease::AdministrativeShutdown)
    );
    assert_eq!(code(&sent[0]), (6, 2));
    assert_eq!(pair.downs(A), [DownReason::Sent(cease.clone())]);
    let downs = pair.downs(B);
    assert_eq!(downs, [DownReason::Received(cease.clone())]);
    let DownReason::Received(got) = &downs[0] else {
        unreachable!()
    };
    assert_eq!(
        got.shutdown_message().as_deref(),
        Some("maintenance window, back at 21:00"),
        "RFC 8203 shutdown communication"
    );

    let connects = pair.connect_times(A).len();
    pair.advance(secs(600));
    assert_eq!(pair.session(A).state(), State::Idle);
    assert_eq!(pair.session(A).poll_timeout(), None);
    assert_eq!(
        pair.connect_times(A).len(),
        connects,
        "no attempt by itself"
    );
    assert_eq!(pair.notifications_sent(A).len(), 1);
    // B, passive, went back to waiting.
    assert_eq!(pair.session(B).state(), State::Active);

    // A start brings it back.
    pair.with(A, |s, now| s.start(now));
    pair.drive();
    assert!(pair.session(A).is_established() && pair.session(B).is_established());
}

#[test]
fn an_empty_shutdown_message_sends_a_bare_cease() {
    let n = shutdown_notification("");
    assert_eq!(code(&n), (6, 2));
    assert!(n.data.is_empty());
}

#[test]
fn a_stopped_passive_side_refuses_connections() {
    let mut pair = ebgp_pair(90);
    pair.establish();
    let cease = shutdown_notification("bye");
    pair.with(B, |s, now| s.stop(now, cease.clone()));
    pair.drive();
    assert_eq!(pair.downs(A), [DownReason::Received(cease)]);
    pair.advance(secs(20));
    // A keeps trying (1, 2, 4, 8 s apart); B accepts each TCP connection and
    // closes it at once, without an OPEN.
    assert_eq!(pair.connect_times(A), [0, 1, 3, 7, 15].map(secs));
    assert_eq!(pair.session(B).state(), State::Idle);
    assert_eq!(
        pair.sides[B].sent.len(),
        2 + 1,
        "OPEN, KEEPALIVE, the Cease"
    );
    assert!(!pair.session(A).is_established());
    assert!(
        pair.downs(A)[1..]
            .iter()
            .all(|d| *d == DownReason::ConnectionLost)
    );
}

#[test]
fn losing_the_connection_reports_connection_lost_and_reconnects() {
    let mut pair = ebgp_pair(9);
    pair.establish();
    // The TCP connection breaks under both.
    pair.cut();
    for x in [A, B] {
        assert_eq!(pair.downs(x), [DownReason::ConnectionLost]);
        assert_eq!(pair.session(x).state(), State::Idle);
        assert!(pair.notifications_sent(x).is_empty());
    }
    pair.advance(secs(1));
    assert!(pair.session(A).is_established() && pair.session(B).is_established());
}

/// Every way down ends with [`Event::Disconnect`], a lost connection too: a
/// closed socket reads as end-of-file every time it is polled, so a driver that
/// kept it would spin on it until the next connection replaced it.
#[test]
fn a_lost_connection_is_dropped_by_the_driver_in_every_connected_state() {
    let dropped_after_down = |pair: &Pair, x: usize| {
        let events: Vec<&Event> = pair.events(x).collect();
        let down = events
            .iter()
            .rposition(|e| matches!(e, Event::Down(DownReason::ConnectionLost)))
            .unwrap_or_else(|| panic!("side {x}: no ConnectionLost in {events:?}"));
        events[down..].contains(&&Event::Disconnect)
    };
    for (reached, x) in [
        (State::OpenSent, A),
        (State::OpenConfirm, B),
        (State::Established, A),
    ] {
        let mut pair = ebgp_pair(9);
        for y in [A, B] {
            pair.with(y, |s, now| s.start(now));
        }
        // Connected, nothing delivered: both in OpenSent.
        pair.pump();
        if reached == State::OpenConfirm {
            // B reads A's OPEN and answers: B in OpenConfirm.
            pair.deliver_one(A);
        }
        if reached == State::Established {
            pair.drive();
        }
        assert_eq!(pair.session(x).state(), reached, "{pair:#?}");
        pair.cut();
        assert!(
            dropped_after_down(&pair, x),
            "{reached:?}: side {x} was not told to drop the dead connection: {:?}",
            pair.sides[x].events
        );
    }
}

#[test]
fn reset_sends_the_notification_and_starts_again_by_itself() {
    let mut pair = ebgp_pair(90);
    pair.establish();
    let cease = Notification::bare(ErrorCode::Cease(Cease::ConnectionCollisionResolution));
    pair.with(A, |s, now| s.reset(now, cease.clone()));
    pair.drive();
    assert_eq!(pair.notifications_sent(A), std::slice::from_ref(&cease));
    assert_eq!(pair.downs(A), [DownReason::Sent(cease.clone())]);
    assert_eq!(pair.downs(B), [DownReason::Received(cease)]);
    assert_eq!(pair.session(A).state(), State::Idle);
    // Unlike stop, the session comes back after the first retry wait.
    pair.advance(secs(1));
    assert!(pair.session(A).is_established() && pair.session(B).is_established());
}

// ---------------------------------------------------------------------------
// Connecting
// ---------------------------------------------------------------------------

#[test]
fn a_refused_connect_goes_to_active_and_retries_with_backoff() {
    let mut pair = Pair::new(
        SessionConfig {
            retry_max: secs(8),
            ..active(65001, "10.0.0.1", 65002)
        },
        passive(65002, "10.0.0.2", 65001),
    );
    pair.net = Net::Refused;
    pair.start();
    use State::*;
    assert_eq!(pair.states(A), [Idle, Connect, Active]);
    pair.advance(secs(40));
    // Waits of 1, 2, 4, 8, 8, 8 s between attempts.
    assert_eq!(
        pair.connect_times(A),
        [0, 1, 3, 7, 15, 23, 31, 39].map(secs)
    );
    let states = pair.states(A);
    assert!(
        states[1..]
            .chunks(2)
            .all(|c| c == [Connect, Active] || c == [Connect])
    );
    assert!(pair.notifications_sent(A).is_empty());
    assert!(pair.downs(A).is_empty(), "never connected, so never down");

    pair.net = Net::Up;
    pair.advance(secs(8));
    assert!(pair.session(A).is_established());
}

#[test]
fn a_connect_that_never_completes_times_out_after_connect_retry() {
    let mut pair = Pair::new(
        SessionConfig {
            connect_retry: secs(5),
            ..active(65001, "10.0.0.1", 65002)
        },
        passive(65002, "10.0.0.2", 65001),
    );
    pair.net = Net::BlackHole;
    pair.start();
    pair.advance(secs(4));
    assert_eq!(pair.session(A).state(), State::Connect);
    pair.advance(secs(25));
    assert_eq!(pair.connect_times(A), [0, 6, 13, 22].map(secs));
    let gave_up: Vec<Duration> = pair.sides[A]
        .events
        .iter()
        .filter(|(_, e)| *e == Event::Disconnect)
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(
        gave_up,
        [5, 11, 18, 27].map(secs),
        "connect_retry after each"
    );
    use State::*;
    assert_eq!(
        pair.states(A)[..6],
        [Idle, Connect, Active, Connect, Active, Connect]
    );
}

// ---------------------------------------------------------------------------
// Stopping for a restart, and for good
// ---------------------------------------------------------------------------

fn graceful(n_bit: bool) -> Option<hopwatch_bgp::session::GracefulRestart> {
    Some(hopwatch_bgp::session::GracefulRestart {
        restart_time: 10,
        restarting: false,
        forwarding_preserved: true,
        notification: n_bit,
    })
}

/// The eBGP pair with graceful restart on both sides, with or without the N bit.
fn graceful_pair(a_n_bit: bool, b_n_bit: bool) -> Pair {
    Pair::new(
        SessionConfig {
            graceful_restart: graceful(a_n_bit),
            ..active(65001, "10.0.0.1", 65002)
        },
        SessionConfig {
            graceful_restart: graceful(b_n_bit),
            ..passive(65002, "10.0.0.2", 65001)
        },
    )
}

#[test]
fn a_stop_for_restart_closes_without_a_notification_so_any_helper_keeps_the_routes() {
    let mut pair = graceful_pair(true, true);
    pair.establish();
    pair.with(A, |s, now| s.stop_for_restart(now));
    pair.drive();

    // RFC 4724 4.2: the helper sees the TCP session end without a NOTIFICATION,
    // which is what makes it keep the routes whether or not it knows RFC 8538.
    assert!(pair.notifications_sent(A).is_empty());
    assert_eq!(pair.downs(A), [DownReason::ClosedForRestart]);
    assert_eq!(pair.downs(B), [DownReason::ConnectionLost]);
    // Stopped: no attempt by itself.
    pair.advance(secs(600));
    assert_eq!(pair.session(A).state(), State::Idle);
    assert_eq!(pair.session(A).poll_timeout(), None);
}

#[test]
fn a_stop_for_good_sends_hard_reset_to_a_peer_with_the_n_bit() {
    let mut pair = graceful_pair(true, true);
    pair.establish();
    pair.with(A, |s, now| s.stop_for_good(now, "decommissioned"));
    pair.drive();

    let sent = pair.notifications_sent(A);
    assert_eq!(sent.len(), 1);
    // RFC 8538 3: Cease / Hard Reset, its data the Administrative Shutdown it
    // stands for (code 6, subcode 2, then the RFC 9003 communication).
    assert_eq!(code(&sent[0]), (6, 9));
    let inner = shutdown_notification("decommissioned");
    assert_eq!(sent[0].data[..2], [6, 2]);
    assert_eq!(sent[0].data[2..], inner.data[..]);
    assert_eq!(pair.downs(B), [DownReason::Received(sent[0].clone())]);
}

#[test]
fn a_stop_for_good_sends_administrative_shutdown_to_a_peer_without_the_n_bit() {
    // Without RFC 8538 any NOTIFICATION ends graceful restart; Hard Reset, a subcode
    // such a peer may not know, would add nothing.
    for (a, b) in [(true, false), (false, true), (false, false)] {
        let mut pair = graceful_pair(a, b);
        pair.establish();
        pair.with(A, |s, now| s.stop_for_good(now, "decommissioned"));
        pair.drive();
        let sent = pair.notifications_sent(A);
        assert_eq!(
            sent,
            [shutdown_notification("decommissioned")],
            "N bits {a}/{b}"
        );
    }
}
