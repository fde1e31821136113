//! Messages once the session is up: UPDATE, End-of-RIB and ROUTE-REFRESH as
//! events, framing (split and coalesced reads), and the errors that close a
//! session: FSM errors (RFC 6608) and header errors.

use crate::pair::*;

// ---------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------

#[test]
fn updates_arrive_as_events_with_the_same_content() {
    let mut pair = ebgp_pair(90);
    assert!(
        !pair.with(A, |s, now| s.send_update(now, &v4_update(&[65001]))),
        "nothing can be sent before Established"
    );
    pair.establish();
    let sent = [
        v4_update(&[65001, 64512]),
        v6_update(&[65001]),
        Update::withdraw(vec![prefix("192.0.2.0/24")]),
        Update::withdraw(vec![prefix("2001:db8:1::/48")]),
    ];
    let mark = pair.mark(B);
    for u in &sent {
        assert!(pair.with(A, |s, now| s.send_update(now, u)));
        pair.drive();
    }
    assert_eq!(updates(&pair.events_since(B, mark)), sent);
    assert_eq!(pair.session(A).state(), State::Established);
    assert_eq!(pair.session(B).state(), State::Established);
}

#[test]
fn end_of_rib_arrives_as_end_of_rib_events() {
    let mut pair = ebgp_pair(90);
    pair.establish();
    let mark = pair.mark(B);
    for f in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
        assert!(pair.with(A, |s, now| s.send_update(now, &Update::end_of_rib(f))));
    }
    pair.drive();
    let got = pair.events_since(B, mark);
    assert_eq!(
        got,
        [
            Event::EndOfRib(Family::Ipv4Unicast),
            Event::EndOfRib(Family::Ipv6Unicast)
        ]
    );
}

#[test]
fn route_refresh_arrives_as_a_route_refresh_event() {
    let mut pair = ebgp_pair(90);
    pair.establish();
    let mark = pair.mark(A);
    assert!(pair.with(B, |s, _| s.send_route_refresh(Family::Ipv6Unicast)));
    assert!(pair.with(B, |s, _| s.send_route_refresh(Family::Ipv4Unicast)));
    pair.drive();
    assert_eq!(
        pair.events_since(A, mark),
        [
            Event::RouteRefresh(Family::Ipv6Unicast),
            Event::RouteRefresh(Family::Ipv4Unicast)
        ]
    );
    assert_eq!(pair.session(A).state(), State::Established);
}

#[test]
fn a_route_refresh_for_a_family_not_negotiated_is_ignored() {
    let mut pair = Pair::new(
        SessionConfig {
            families: vec![Family::Ipv4Unicast],
            ..active(65001, "10.0.0.1", 65002)
        },
        passive(65002, "10.0.0.2", 65001),
    );
    pair.establish();
    assert_eq!(
        pair.session(A).negotiated().unwrap().families,
        [Family::Ipv4Unicast]
    );
    let mark = pair.mark(A);
    // B asks for IPv6 routes, which A never offered (RFC 2918 4: ignore it).
    assert!(pair.with(B, |s, _| s.send_route_refresh(Family::Ipv6Unicast)));
    assert!(pair.with(B, |s, _| s.send_route_refresh(Family::Ipv4Unicast)));
    pair.drive();
    assert_eq!(
        pair.events_since(A, mark),
        [Event::RouteRefresh(Family::Ipv4Unicast)]
    );
    assert!(pair.session(A).is_established());
}

// ---------------------------------------------------------------------------
// Framing: split and coalesced messages
// ---------------------------------------------------------------------------

#[test]
fn messages_split_across_many_receive_calls_are_reassembled() {
    for chunk in [1, 7] {
        let mut pair = ebgp_pair(90);
        pair.sides[A].chunk = Some(chunk);
        pair.sides[B].chunk = Some(chunk);
        pair.establish();
        let sent = [v4_update(&[65001]), v6_update(&[65001, 65003])];
        let mark = pair.mark(B);
        let before = pair.sides[B].receives;
        for u in &sent {
            assert!(pair.with(A, |s, now| s.send_update(now, u)));
        }
        pair.drive();
        let bytes: usize = sent.iter().map(|u| u.wire_len(&Codec::default())).sum();
        assert_eq!(pair.sides[B].receives - before, bytes.div_ceil(chunk));
        assert_eq!(updates(&pair.events_since(B, mark)), sent, "chunk {chunk}");
        assert_eq!(pair.session(B).state(), State::Established);
    }
}

#[test]
fn several_messages_in_one_receive_call_are_all_handled() {
    let mut pair = ebgp_pair(90);
    pair.establish();
    let sent = [
        v4_update(&[65001]),
        v6_update(&[65001]),
        Update::withdraw(vec![prefix("198.51.100.7/32")]),
    ];
    let mark = pair.mark(B);
    let before = pair.sides[B].receives;
    assert!(pair.with(A, |s, now| s.send_updates(now, &sent)));
    assert!(pair.with(A, |s, now| {
        s.send_update(now, &Update::end_of_rib(Family::Ipv4Unicast))
    }));
    assert!(pair.with(A, |s, _| s.send_route_refresh(Family::Ipv6Unicast)));
    pair.drive();
    assert_eq!(pair.sides[B].receives - before, 1, "one write, one read");
    let got = pair.events_since(B, mark);
    assert_eq!(updates(&got), sent);
    assert_eq!(
        got[3..],
        [
            Event::EndOfRib(Family::Ipv4Unicast),
            Event::RouteRefresh(Family::Ipv6Unicast)
        ]
    );
}

#[test]
fn an_update_right_behind_the_open_is_decoded_with_the_codec_that_open_agreed() {
    let mut pair = Pair::new(
        active(65001, "10.0.0.1", 65002),
        SessionConfig {
            four_octet_as: false,
            ..passive(65002, "10.0.0.2", 65001)
        },
    );
    // The test speaks for B: OPEN, KEEPALIVE and a 2-octet UPDATE in one read.
    pair.sides[B].mute = true;
    pair.start();
    let two_octet = Codec {
        four_octet_as: false,
    };
    let update = v4_update(&[65002, 4_200_000_001]);
    let mut bytes = encoded(&Message::Open(pair.session(B).config().open()));
    bytes.extend(encoded(&Message::Keepalive));
    bytes.extend(message::encode_to_vec(
        &Message::Update(update.clone()),
        &two_octet,
    ));
    let before = pair.sides[A].receives;
    pair.link.as_mut().unwrap().flight[B].extend(bytes);
    pair.drive();
    assert_eq!(pair.sides[A].receives - before, 1);
    assert!(pair.session(A).is_established());
    assert!(!pair.session(A).negotiated().unwrap().codec.four_octet_as);
    assert_eq!(updates(&pair.events_since(A, 0)), [update]);
}

// ---------------------------------------------------------------------------
// FSM and header errors
// ---------------------------------------------------------------------------

#[test]
fn keepalive_before_open_is_fsm_error_5_1() {
    let mut pair = ebgp_pair(90);
    // B's own output is lost; the test speaks for B.
    pair.sides[B].mute = true;
    pair.start();
    assert_eq!(pair.session(A).state(), State::OpenSent);
    pair.link.as_mut().unwrap().flight[B].extend(encoded(&Message::Keepalive));
    pair.drive();
    let sent = pair.notifications_sent(A);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].code, ErrorCode::Fsm(FsmError::UnexpectedInOpenSent));
    assert_eq!(code(&sent[0]), (5, 1));
    assert_eq!(pair.session(A).state(), State::Idle);
    assert_eq!(pair.downs(B), [DownReason::Received(sent[0].clone())]);
}

#[test]
fn update_in_open_confirm_is_fsm_error_5_2() {
    let mut pair = ebgp_pair(90);
    pair.sides[B].mute = true;
    pair.start();
    let b_open = Message::Open(pair.session(B).config().open());
    pair.link.as_mut().unwrap().flight[B].extend(encoded(&b_open));
    pair.drive();
    assert_eq!(pair.session(A).state(), State::OpenConfirm);
    let update = Message::Update(v4_update(&[65002]));
    pair.link.as_mut().unwrap().flight[B].extend(encoded(&update));
    pair.drive();
    let sent = pair.notifications_sent(A);
    assert_eq!(sent.len(), 1);
    assert_eq!(code(&sent[0]), (5, 2));
    assert_eq!(pair.session(A).state(), State::Idle);
}

#[test]
fn open_in_established_is_fsm_error_5_3() {
    let mut pair = ebgp_pair(90);
    pair.establish();
    let b_open = Message::Open(pair.session(B).config().open());
    pair.link.as_mut().unwrap().flight[B].extend(encoded(&b_open));
    pair.drive();
    let sent = pair.notifications_sent(A);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].code,
        ErrorCode::Fsm(FsmError::UnexpectedInEstablished)
    );
    assert_eq!(code(&sent[0]), (5, 3));
    assert_eq!(pair.session(A).state(), State::Idle);
    assert_eq!(pair.downs(A), [DownReason::Sent(sent[0].clone())]);
    assert_eq!(pair.downs(B), [DownReason::Received(sent[0].clone())]);
}

#[test]
fn garbage_instead_of_a_header_is_refused_with_header_error_1_1() {
    let mut pair = ebgp_pair(90);
    pair.establish();
    pair.link.as_mut().unwrap().flight[B].extend([0u8; 19]);
    pair.drive();
    let sent = pair.notifications_sent(A);
    assert_eq!(sent.len(), 1);
    assert_eq!(code(&sent[0]), (1, 1));
    assert_eq!(pair.session(A).state(), State::Idle);
    assert_eq!(pair.downs(B), [DownReason::Received(sent[0].clone())]);
}

#[test]
fn a_length_over_4096_is_refused_with_header_error_1_2() {
    let mut pair = ebgp_pair(90);
    pair.establish();
    let mut header = message::MARKER.to_vec();
    header.extend_from_slice(&5000u16.to_be_bytes());
    header.push(message::kind::UPDATE);
    // The error is found as soon as the length field is in, one byte at a time.
    pair.sides[A].chunk = Some(1);
    pair.link.as_mut().unwrap().flight[B].extend(header);
    pair.drive();
    let sent = pair.notifications_sent(A);
    assert_eq!(sent.len(), 1);
    assert_eq!(code(&sent[0]), (1, 2));
    assert_eq!(sent[0].data, 5000u16.to_be_bytes());
    assert_eq!(pair.session(A).state(), State::Idle);
}
