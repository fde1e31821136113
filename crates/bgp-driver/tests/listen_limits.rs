//! A listening [`Speaker`] against connections that never send an OPEN, and
//! against an address that is not a peer, over loopback (127.33.0.0/16): past two
//! pending connections per address the rest are closed at once, the held ones are
//! closed when their OPEN is overdue, the peer can still come up afterwards, and
//! an unknown address gets Cease / Connection Rejected. Every wait is bounded.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hopwatch_bgp::message::{self, Capability, Codec, Message, Open};
use hopwatch_bgp::session::SessionConfig;
use hopwatch_bgp::{Asn, HoldTime, RouterId};
use hopwatch_bgp_driver::{ListenLimits, PeerConfig, Speaker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc::unbounded_channel;
use tokio::time::{Instant, timeout};

const SERVER: &str = "127.33.0.4";
const PEER: &str = "127.33.0.7";
const STRANGER: &str = "127.33.0.9";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

async fn server(open_timeout: Duration) -> (Speaker, SocketAddr) {
    let port = std::net::TcpListener::bind((SERVER, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (tx, _events) = unbounded_channel();
    // The receiver is dropped: events are not what this test looks at.
    let speaker = Speaker::new(tx, None);
    speaker.set_listen_limits(ListenLimits {
        per_address: 2,
        total: 8,
        open_timeout,
    });
    let mut cfg = SessionConfig::new(Asn(65515), SERVER.parse().unwrap(), Some(Asn(65001)));
    cfg.passive = true;
    speaker.add_peer(PeerConfig {
        address: ip(PEER),
        port,
        local_address: Some(ip(SERVER)),
        session: cfg,
        dynamic: false,
    });
    let addr = SocketAddr::new(ip(SERVER), port);
    speaker.listen(addr).await.unwrap();
    (speaker, addr)
}

async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(ip(source), 0)).unwrap();
    timeout(Duration::from_secs(5), sock.connect(to))
        .await
        .unwrap()
        .unwrap()
}

/// What the server sent until it closed the connection, or `None` if it is still
/// open at `deadline`.
async fn until_closed(s: &mut TcpStream, deadline: Instant) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// The (code, subcode) of each NOTIFICATION in `bytes`.
fn notifications(mut bytes: &[u8]) -> Vec<(u8, u8)> {
    let mut out = Vec::new();
    while let Ok(Some(len)) = message::frame_len(bytes) {
        if bytes.len() < len {
            break;
        }
        if let Ok(d) = message::decode(&bytes[..len], &Codec::default())
            && let Message::Notification(n) = d.message
        {
            out.push((n.code.code(), n.code.subcode()));
        }
        bytes = &bytes[len..];
    }
    out
}

fn open(asn: u32, id: &str) -> Vec<u8> {
    let open = Open {
        asn: Asn(asn),
        hold_time: HoldTime::new(9).unwrap(),
        router_id: RouterId::new(id.parse().unwrap()).unwrap(),
        capabilities: vec![Capability::FourOctetAs(Asn(asn))],
    };
    message::encode_to_vec(&Message::Open(open), &Codec::default())
}

#[tokio::test]
async fn silent_connections_past_the_limit_close_at_once_and_the_rest_when_their_open_is_overdue() {
    let (_speaker, addr) = server(Duration::from_millis(600)).await;
    let mut conns = Vec::new();
    for _ in 0..6 {
        conns.push(connect_from(PEER, addr).await);
    }
    let started = Instant::now();
    // Four of six are closed at once, each with Cease / Connection Rejected.
    let mut held = Vec::new();
    for mut c in conns {
        match until_closed(&mut c, Instant::now() + Duration::from_millis(150)).await {
            Some(got) => assert_eq!(notifications(&got), vec![(6, 5)]),
            None => held.push(c),
        }
    }
    assert_eq!(
        held.len(),
        2,
        "two pending connections per address are held"
    );
    // The two held ones close once the OPEN is overdue: the adopted one with Hold
    // Timer Expired after the server's OPEN, the colliding candidate silently.
    let mut seen = Vec::new();
    for c in &mut held {
        let got = until_closed(c, started + Duration::from_secs(5))
            .await
            .expect("closed when the OPEN was overdue");
        seen.extend(notifications(&got));
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "closed after {took:?}, for an open timeout of 600 ms"
    );
    assert_eq!(seen, vec![(4, 0)], "Hold Timer Expired on the adopted one");

    // The slots are free again: the real peer comes up.
    let mut c = connect_from(PEER, addr).await;
    c.write_all(&open(65001, PEER)).await.unwrap();
    c.write_all(&message::encode_to_vec(
        &Message::Keepalive,
        &Codec::default(),
    ))
    .await
    .unwrap();
    let mut head = [0u8; 19];
    timeout(Duration::from_secs(5), c.read_exact(&mut head))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head[18], 1, "the server's OPEN");
}

#[tokio::test]
async fn an_unconfigured_peer_is_sent_cease_connection_rejected() {
    let (_speaker, addr) = server(Duration::from_secs(10)).await;
    let mut c = connect_from(STRANGER, addr).await;
    let _ = c.write_all(&open(65009, STRANGER)).await;
    let got = until_closed(&mut c, Instant::now() + Duration::from_secs(5))
        .await
        .expect("the connection is closed");
    assert_eq!(
        notifications(&got),
        vec![(6, 5)],
        "Cease / Connection Rejected"
    );
}
