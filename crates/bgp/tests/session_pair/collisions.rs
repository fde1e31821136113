//! Connection collision (RFC 4271 6.8) with two connections, that is four
//! sessions, and [`collision::resolve`] playing the layer above them.

use crate::pair::*;

/// The two speakers of the collision scenario, each with one session per connection.
struct Speaker {
    asn: u32,
    id: &'static str,
}

/// Both speakers connect at once: connection 1 is P -> Q (pair `c1`, P is side
/// A), connection 2 is Q -> P (pair `c2`, Q is side A). The OPENs cross, and each
/// speaker resolves the collision when its second connection reaches
/// OpenConfirm. Returns the two pairs after everything settled.
fn collide(p: &Speaker, q: &Speaker) -> (Pair, Pair) {
    let base = Instant::now();
    let cfg = |me: &Speaker, peer: &Speaker, passive: bool| SessionConfig {
        passive,
        ..SessionConfig::new(Asn(me.asn), id(me.id), Some(Asn(peer.asn)))
    };
    let mut c1 = Pair::with_base(base, cfg(p, q, false), cfg(q, p, true));
    let mut c2 = Pair::with_base(base, cfg(q, p, false), cfg(p, q, true));
    for c in [&mut c1, &mut c2] {
        let now = c.now();
        for side in &mut c.sides {
            side.session.start(now);
        }
        c.pump();
        assert_eq!(c.session(A).state(), State::OpenSent);
        assert_eq!(c.session(B).state(), State::OpenSent);
    }
    // P's OPEN reaches Q on connection 1, Q's reaches P on connection 2: each
    // speaker has one connection in OpenConfirm and one in OpenSent, no collision yet.
    c1.deliver_one(A);
    c2.deliver_one(A);
    assert_eq!(c1.session(B).state(), State::OpenConfirm);
    assert_eq!(c2.session(B).state(), State::OpenConfirm);

    // The decision each speaker takes once both its connections are in
    // OpenConfirm: `new` is the connection whose OPEN just arrived.
    let decide = |local: &Speaker, new: &Session, existing: &Session, existing_dir| {
        let remote = new
            .negotiated()
            .expect("in OpenConfirm")
            .peer_open
            .router_id;
        assert_eq!(
            existing
                .negotiated()
                .expect("in OpenConfirm")
                .peer_open
                .router_id,
            remote,
            "the same peer on both connections"
        );
        assert_eq!(existing.state(), State::OpenConfirm);
        collision::resolve(id(local.id), remote, existing.state(), existing_dir)
    };
    let cease = Notification::bare(ErrorCode::Cease(Cease::ConnectionCollisionResolution));

    // Q's OPEN reaches P on connection 1 (its KEEPALIVE stays in flight).
    c1.deliver_one(B);
    assert_eq!(c1.session(A).state(), State::OpenConfirm);
    // P: new = connection 1 (outgoing), existing = connection 2 (incoming).
    let p_close = decide(p, c1.session(A), c2.session(B), Direction::Incoming);
    // P's OPEN reaches Q on connection 2.
    c2.deliver_one(B);
    assert_eq!(c2.session(A).state(), State::OpenConfirm);
    // Q: new = connection 2 (outgoing), existing = connection 1 (incoming).
    let q_close = decide(q, c2.session(A), c1.session(B), Direction::Incoming);

    // Both speakers must close the same connection.
    let p_closes_c1 = p_close == Close::New;
    let q_closes_c1 = q_close == Close::Existing;
    assert_eq!(p_closes_c1, q_closes_c1, "P {p_close:?}, Q {q_close:?}");
    // Each speaker stops its own session on the losing connection.
    let (conn, side) = if p_closes_c1 {
        (&mut c1, A)
    } else {
        (&mut c2, B)
    };
    conn.with(side, |s, now| s.stop(now, cease.clone()));
    let (conn, side) = if q_closes_c1 {
        (&mut c1, B)
    } else {
        (&mut c2, A)
    };
    conn.with(side, |s, now| s.stop(now, cease.clone()));

    c1.drive();
    c2.drive();
    (c1, c2)
}

fn assert_survivor(survivor: &Pair, closed: &Pair) {
    let cease = Notification::bare(ErrorCode::Cease(Cease::ConnectionCollisionResolution));
    for x in [A, B] {
        assert!(survivor.session(x).is_established(), "{survivor:#?}");
        assert!(survivor.downs(x).is_empty());
        assert_eq!(closed.session(x).state(), State::Idle);
        assert_eq!(closed.notifications_sent(x), std::slice::from_ref(&cease));
        assert_eq!(closed.downs(x), [DownReason::Sent(cease.clone())]);
        assert!(!closed.events(x).any(|e| *e == Event::Established));
        assert_eq!(closed.session(x).poll_timeout(), None, "stopped for good");
    }
}

#[test]
fn collision_keeps_the_connection_opened_by_the_higher_identifier() {
    let high = Speaker {
        asn: 65001,
        id: "10.0.0.2",
    };
    let low = Speaker {
        asn: 65002,
        id: "10.0.0.1",
    };
    // The higher speaker opened connection 1: it survives.
    let (c1, c2) = collide(&high, &low);
    assert_survivor(&c1, &c2);
    // The lower speaker opened connection 1: connection 2 survives.
    let (c1, c2) = collide(&low, &high);
    assert_survivor(&c2, &c1);
}

#[test]
fn collision_with_an_established_connection_closes_the_new_one() {
    let (p, q) = (("10.0.0.1", 65001), ("10.0.0.2", 65002));
    let base = Instant::now();
    // Connection 1 (P -> Q) is Established. P has the lower identifier, so by the
    // identifier rule alone Q's connection 2 would win; Established wins first.
    let mut c1 = Pair::with_base(base, active(p.1, p.0, q.1), passive(q.1, q.0, p.1));
    c1.establish();
    let mut c2 = Pair::with_base(base, active(q.1, q.0, p.1), passive(p.1, p.0, q.1));
    let now = c2.now();
    for side in &mut c2.sides {
        side.session.start(now);
    }
    c2.pump();
    let cease = Notification::bare(ErrorCode::Cease(Cease::ConnectionCollisionResolution));

    // Q's OPEN reaches P on connection 2: P closes it.
    c2.deliver_one(A);
    let remote = c2.session(B).negotiated().unwrap().peer_open.router_id;
    let close = collision::resolve(id(p.0), remote, c1.session(A).state(), Direction::Outgoing);
    assert_eq!(close, Close::New);
    c2.with(B, |s, now| s.stop(now, cease.clone()));
    // P's OPEN reaches Q on connection 2: Q agrees, and closes it too.
    c2.deliver_one(B);
    let remote = c2.session(A).negotiated().unwrap().peer_open.router_id;
    let close = collision::resolve(id(q.0), remote, c1.session(B).state(), Direction::Incoming);
    assert_eq!(close, Close::New);
    c2.with(A, |s, now| s.stop(now, cease.clone()));
    c2.drive();

    assert!(c1.session(A).is_established() && c1.session(B).is_established());
    assert!(c1.downs(A).is_empty() && c1.downs(B).is_empty());
    for x in [A, B] {
        assert_eq!(c2.downs(x), [DownReason::Sent(cease.clone())]);
        assert!(!c2.events(x).any(|e| *e == Event::Established));
        assert_eq!(c2.session(x).state(), State::Idle);
    }
}
