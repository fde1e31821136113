//! Two [`Speaker`]s talking over loopback in one process: simultaneous connects
//! (collision), the table and End-of-RIB for a peer that comes up late, one UPDATE
//! per move, a thousand routes packed into two messages, and IPv6 routes in
//! MP_REACH. Every wait is bounded.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hopwatch_bgp::session::SessionConfig;
use hopwatch_bgp::{Asn, Family, HoldTime, Prefix};
use hopwatch_bgp_driver::{DriverEvent, EventKind, PeerConfig, Route, Speaker};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

struct Side {
    speaker: Speaker,
    events: UnboundedReceiver<DriverEvent>,
}

async fn side(me: &str, asn: u32, other: &str, other_as: u32, port: u16, passive: bool) -> Side {
    let (tx, events) = unbounded_channel();
    let speaker = Speaker::new(tx, None);
    let mut cfg = SessionConfig::new(Asn(asn), me.parse().unwrap(), Some(Asn(other_as)));
    cfg.hold_time = HoldTime::new(9).unwrap();
    cfg.passive = passive;
    cfg.retry_base = Duration::from_millis(100);
    speaker.add_peer(PeerConfig {
        address: ip(other),
        port,
        local_address: Some(ip(me)),
        session: cfg,
        dynamic: false,
    });
    speaker.listen(SocketAddr::new(ip(me), port)).await.unwrap();
    Side { speaker, events }
}

async fn wait_for(side: &mut Side, what: &str, pred: impl Fn(&EventKind) -> bool) -> DriverEvent {
    let fut = async {
        loop {
            let e = side.events.recv().await.expect("events channel closed");
            if pred(&e.kind) {
                return e;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn established(k: &EventKind) -> bool {
    matches!(k, EventKind::Established { .. })
}

#[tokio::test]
async fn simultaneous_connects_settle_on_one_session_that_stays_up() {
    let port = free_port("127.30.0.1");
    let mut a = side("127.30.0.1", 65001, "127.30.0.2", 65002, port, false).await;
    let mut b = side("127.30.0.2", 65002, "127.30.0.1", 65001, port, false).await;
    wait_for(&mut a, "A established", established).await;
    wait_for(&mut b, "B established", established).await;
    // No session may go down after both are up: the collision loser, if any, was
    // closed before Established.
    tokio::time::sleep(Duration::from_millis(500)).await;
    while let Ok(e) = a.events.try_recv() {
        assert!(
            !matches!(e.kind, EventKind::Down(_)),
            "A went down after Established: {e:?}"
        );
    }
    a.speaker.announce(Route::new(
        "100.64.0.1/32".parse().unwrap(),
        ip("10.10.0.4"),
    ));
    let got = wait_for(&mut b, "the route", |k| {
        matches!(k, EventKind::UpdateReceived { .. })
    })
    .await;
    let EventKind::UpdateReceived { update, .. } = got.kind else {
        unreachable!()
    };
    assert_eq!(
        update.announced(),
        vec![("100.64.0.1/32".parse().unwrap(), ip("10.10.0.4"))]
    );
}

#[tokio::test]
async fn a_late_peer_gets_the_table_then_end_of_rib_and_each_move_is_one_update() {
    let port = free_port("127.30.1.2");
    let speaker = side("127.30.1.1", 65001, "127.30.1.2", 65515, port, false).await;
    speaker.speaker.announce(Route::new(
        "100.64.0.1/32".parse().unwrap(),
        ip("10.10.0.4"),
    ));
    speaker.speaker.announce(Route::new(
        "2001:db8::1/128".parse().unwrap(),
        ip("2001:db8::4"),
    ));
    let mut rs = side("127.30.1.2", 65515, "127.30.1.1", 65001, port, true).await;

    let mut routes = Vec::new();
    let mut eor = Vec::new();
    while eor.len() < 2 {
        let e = wait_for(&mut rs, "table and End-of-RIB", |k| {
            matches!(
                k,
                EventKind::UpdateReceived { .. } | EventKind::EndOfRibReceived(_)
            )
        })
        .await;
        match e.kind {
            EventKind::UpdateReceived { update, .. } => {
                assert!(eor.is_empty(), "a route came after End-of-RIB");
                routes.extend(update.announced());
            }
            EventKind::EndOfRibReceived(f) => eor.push(f),
            _ => unreachable!(),
        }
    }
    routes.sort();
    assert_eq!(
        routes,
        vec![
            ("100.64.0.1/32".parse().unwrap(), ip("10.10.0.4")),
            ("2001:db8::1/128".parse().unwrap(), ip("2001:db8::4")),
        ]
    );
    eor.sort();
    assert_eq!(eor, vec![Family::Ipv4Unicast, Family::Ipv6Unicast]);

    // A move: exactly one UPDATE, which announces the new next hop and withdraws nothing.
    speaker.speaker.announce(Route::new(
        "100.64.0.1/32".parse().unwrap(),
        ip("10.10.0.5"),
    ));
    let e = wait_for(&mut rs, "the move", |k| {
        matches!(k, EventKind::UpdateReceived { .. })
    })
    .await;
    let EventKind::UpdateReceived { update, .. } = e.kind else {
        unreachable!()
    };
    assert!(
        update.withdrawn_all().is_empty(),
        "a move withdrew: {update:?}"
    );
    assert_eq!(
        update.announced(),
        vec![("100.64.0.1/32".parse().unwrap(), ip("10.10.0.5"))]
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !std::iter::from_fn(|| rs.events.try_recv().ok())
            .any(|e| matches!(e.kind, EventKind::UpdateReceived { .. })),
        "the move took more than one UPDATE"
    );
}

#[tokio::test]
async fn shutdown_sends_a_cease_with_the_operators_message() {
    let port = free_port("127.30.2.2");
    let mut a = side("127.30.2.1", 65001, "127.30.2.2", 65002, port, false).await;
    let mut b = side("127.30.2.2", 65002, "127.30.2.1", 65001, port, true).await;
    wait_for(&mut a, "A established", established).await;
    wait_for(&mut b, "B established", established).await;
    a.speaker
        .shutdown(
            hopwatch_bgp::session::shutdown_notification("maintenance"),
            Duration::from_secs(2),
        )
        .await;
    let e = wait_for(&mut b, "the Cease", |k| {
        matches!(k, EventKind::NotificationReceived(_))
    })
    .await;
    let EventKind::NotificationReceived(n) = e.kind else {
        unreachable!()
    };
    assert_eq!((n.code.code(), n.code.subcode()), (6, 2));
    assert_eq!(n.shutdown_message().as_deref(), Some("maintenance"));
}

#[tokio::test]
async fn held_routes_and_end_of_rib_wait_until_released() {
    let port = free_port("127.30.3.2");
    let speaker = side("127.30.3.1", 65001, "127.30.3.2", 65515, port, false).await;
    speaker.speaker.hold_routes();
    let mut rs = side("127.30.3.2", 65515, "127.30.3.1", 65001, port, true).await;
    wait_for(&mut rs, "established", established).await;
    // Decided after the session came up, as a restarting watcher does.
    speaker.speaker.announce(Route::new(
        "100.64.0.1/32".parse().unwrap(),
        ip("10.10.0.4"),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(e) = rs.events.try_recv() {
        assert!(
            !matches!(
                e.kind,
                EventKind::UpdateReceived { .. } | EventKind::EndOfRibReceived(_)
            ),
            "sent before release: {e:?}"
        );
    }
    speaker.speaker.release_routes();
    let e = wait_for(&mut rs, "the route", |k| {
        matches!(k, EventKind::UpdateReceived { .. })
    })
    .await;
    let EventKind::UpdateReceived { update, .. } = e.kind else {
        unreachable!()
    };
    assert_eq!(
        update.announced(),
        vec![("100.64.0.1/32".parse().unwrap(), ip("10.10.0.4"))]
    );
    wait_for(&mut rs, "End-of-RIB", |k| {
        matches!(k, EventKind::EndOfRibReceived(_))
    })
    .await;
}

/// The UPDATEs `side` receives up to and including the one that satisfies `last`.
async fn updates_until(
    side: &mut Side,
    what: &str,
    last: impl Fn(&hopwatch_bgp::Update) -> bool,
) -> Vec<hopwatch_bgp::Update> {
    let mut got = Vec::new();
    loop {
        let e = wait_for(side, what, |k| {
            matches!(k, EventKind::UpdateReceived { .. })
        })
        .await;
        let EventKind::UpdateReceived { update, .. } = e.kind else {
            unreachable!()
        };
        let done = last(&update);
        got.push(update);
        if done {
            return got;
        }
    }
}

/// The `UpdateSent` events `side` reported up to the one that announces `sentinel`.
async fn sent_until(side: &mut Side, sentinel: Prefix) -> Vec<usize> {
    let mut counts = Vec::new();
    loop {
        let e = wait_for(side, "update sent", |k| {
            matches!(k, EventKind::UpdateSent { .. })
        })
        .await;
        let EventKind::UpdateSent { announce, withdraw } = e.kind else {
            unreachable!()
        };
        if announce.iter().any(|(p, _)| *p == sentinel) {
            return counts;
        }
        counts.push(announce.len() + withdraw.len());
    }
}

#[tokio::test]
async fn a_thousand_routes_go_in_two_messages_in_the_table_and_in_a_move() {
    let port = free_port("127.30.4.2");
    let mut speaker = side("127.30.4.1", 65001, "127.30.4.2", 65515, port, false).await;
    let vips: Vec<Prefix> = (0..1000u32)
        .map(|i| Prefix::new(IpAddr::from((0x6440_0000 + i).to_be_bytes()), 32).unwrap())
        .collect();
    let routes = |nh: &str| -> Vec<_> {
        vips.iter()
            .map(|p| hopwatch_bgp_driver::rib_out::Change::Announce(Route::new(*p, ip(nh))))
            .collect()
    };
    assert!(speaker.speaker.apply(routes("10.10.0.4")));
    let mut rs = side("127.30.4.2", 65515, "127.30.4.1", 65001, port, true).await;

    // The table: two UPDATEs, then End-of-RIB.
    let mut table = Vec::new();
    loop {
        let e = wait_for(&mut rs, "the table", |k| {
            matches!(
                k,
                EventKind::UpdateReceived { .. } | EventKind::EndOfRibReceived(_)
            )
        })
        .await;
        match e.kind {
            EventKind::UpdateReceived { update, .. } => table.push(update),
            EventKind::EndOfRibReceived(_) => break,
            _ => unreachable!(),
        }
    }
    assert_eq!(table.len(), 2, "the table took {} UPDATEs", table.len());
    let got: Vec<_> = table.iter().flat_map(|u| u.announced()).collect();
    assert_eq!(got.len(), 1000);
    assert!(got.iter().all(|(_, nh)| *nh == ip("10.10.0.4")));

    // The move, then one sentinel route of its own next hop: TCP keeps the order,
    // so every UPDATE of the move arrives before the sentinel's, and none may be
    // missed or extra.
    let sentinel: Prefix = "100.65.0.1/32".parse().unwrap();
    assert!(speaker.speaker.apply(routes("10.10.0.5")));
    speaker
        .speaker
        .announce(Route::new(sentinel, ip("10.10.0.6")));
    let moved = updates_until(&mut rs, "the move and the sentinel", |u| {
        u.announced().iter().any(|(p, _)| *p == sentinel)
    })
    .await;
    let moved = &moved[..moved.len() - 1];
    assert_eq!(moved.len(), 2, "the move took {} UPDATEs", moved.len());
    let got: Vec<_> = moved.iter().flat_map(|u| u.announced()).collect();
    assert_eq!(got.iter().map(|(p, _)| *p).collect::<Vec<_>>(), vips);
    assert!(got.iter().all(|(_, nh)| *nh == ip("10.10.0.5")));
    assert!(moved.iter().all(|u| u.withdrawn_all().is_empty()));

    // The sender reported one event per message, each with its message's prefixes.
    let sent = sent_until(&mut speaker, sentinel).await;
    let expected: Vec<usize> = table
        .iter()
        .chain(moved)
        .map(|u| u.announced().len())
        .collect();
    assert_eq!(sent, expected);
}

/// A watcher moves each VIP with its own call. Calls made while the peer task
/// cannot run (this test's runtime has one thread, and nothing here yields) queue
/// up, and the task sends what has queued as one batch: packed, the last next hop
/// of each VIP winning.
#[tokio::test]
async fn moves_made_one_call_each_that_queue_up_leave_packed() {
    let port = free_port("127.30.5.2");
    let speaker = side("127.30.5.1", 65001, "127.30.5.2", 65515, port, false).await;
    let mut rs = side("127.30.5.2", 65515, "127.30.5.1", 65001, port, true).await;
    wait_for(&mut rs, "End-of-RIB", |k| {
        matches!(k, EventKind::EndOfRibReceived(_))
    })
    .await;
    let vips: Vec<Prefix> = (0..1000u32)
        .map(|i| Prefix::new(IpAddr::from((0x6440_0000 + i).to_be_bytes()), 32).unwrap())
        .collect();
    for nh in ["10.10.0.4", "10.10.0.5"] {
        for p in &vips {
            assert!(speaker.speaker.announce(Route::new(*p, ip(nh))));
        }
    }
    let sentinel: Prefix = "100.65.0.1/32".parse().unwrap();
    speaker
        .speaker
        .announce(Route::new(sentinel, ip("10.10.0.6")));
    let got = updates_until(&mut rs, "the moves and the sentinel", |u| {
        u.announced().iter().any(|(p, _)| *p == sentinel)
    })
    .await;
    let moved = &got[..got.len() - 1];
    assert_eq!(moved.len(), 2, "2,000 calls took {} UPDATEs", moved.len());
    let announced: Vec<_> = moved.iter().flat_map(|u| u.announced()).collect();
    let want: Vec<_> = vips.iter().map(|p| (*p, ip("10.10.0.5"))).collect();
    assert_eq!(announced, want, "each VIP once, via its last next hop");
}
