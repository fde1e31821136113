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
