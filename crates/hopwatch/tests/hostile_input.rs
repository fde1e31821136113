//! Hostile input against a running `hopwatch observe`: each class of malformed
//! message gets the NOTIFICATION RFC 4271 section 6 (or RFC 7606) requires, and the
//! process keeps serving its other peer, a `hopwatch speak` whose route survives.
//!
//! Everything runs on loopback (127.0.0.0/8), each raw peer from its own source
//! address so that the observer sees distinct peers; every child is stopped by PID.

// In a test a panic is a failed test, not a crashed daemon.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use hopwatch_bgp::message::{self, Capability, Codec, Message, Open};
use hopwatch_bgp::{Asn, HoldTime, RouterId};
use socket2::{Domain, Socket, Type};

mod loopback;
use hopwatch_events::Event;
use hopwatch_events::bgp::Action;
use loopback::events::{is_from, is_route_via};
use loopback::{free_port, read_notification, spawn};

const OBSERVER: &str = "127.20.0.8";
const SPEAKER: &str = "127.20.0.7";

/// A raw BGP peer from `source` that speaks bytes we choose.
struct RawPeer {
    stream: TcpStream,
}

impl RawPeer {
    fn connect(source: Ipv4Addr, port: u16) -> RawPeer {
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        sock.bind(&SocketAddr::from((source, 0)).into()).unwrap();
        let to: SocketAddr = format!("{OBSERVER}:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match sock.connect_timeout(&to.into(), Duration::from_secs(2)) {
                Ok(()) => break,
                Err(e) if Instant::now() > deadline => panic!("connect: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        let stream: TcpStream = sock.into();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        RawPeer { stream }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn send_msg(&mut self, m: &Message) {
        let bytes = message::encode_to_vec(m, &Codec::default());
        self.send(&bytes);
    }

    /// Reads messages until a NOTIFICATION (returns code, subcode), or `None`
    /// when none comes within the read timeout.
    fn notification(&mut self) -> Option<(u8, u8)> {
        read_notification(&mut self.stream)
    }

    fn open(asn: u32, hold: u16, id: Ipv4Addr) -> Vec<u8> {
        let open = Open {
            asn: Asn(asn),
            hold_time: HoldTime::new(9).unwrap(),
            router_id: RouterId::new(Ipv4Addr::new(1, 1, 1, 1)).unwrap(),
            capabilities: vec![Capability::FourOctetAs(Asn(asn))],
        };
        let mut b = message::encode_to_vec(&Message::Open(open), &Codec::default());
        // Patch hold time and identifier in place so that invalid values can be sent.
        b[22..24].copy_from_slice(&hold.to_be_bytes());
        b[24..28].copy_from_slice(&id.octets());
        b
    }

    /// OPEN + KEEPALIVE with valid values: the session reaches Established.
    fn establish(&mut self) {
        self.send(&Self::open(65001, 9, Ipv4Addr::new(1, 1, 1, 1)));
        self.send_msg(&Message::Keepalive);
    }
}

fn header(len: u16, kind: u8) -> Vec<u8> {
    let mut b = vec![0xff; 16];
    b.extend_from_slice(&len.to_be_bytes());
    b.push(kind);
    b
}

fn update(body: &[u8]) -> Vec<u8> {
    let mut b = header((19 + body.len()) as u16, 2);
    b.extend_from_slice(body);
    b
}

/// ORIGIN IGP, AS_PATH [65001], and a NEXT_HOP (4-octet AS session).
fn attrs(next_hop: [u8; 4]) -> Vec<u8> {
    let mut a = vec![
        0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9, 0x40, 3, 4,
    ];
    a.extend_from_slice(&next_hop);
    a
}

fn update_with(attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 0];
    body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    body.extend_from_slice(attrs);
    body.extend_from_slice(nlri);
    update(&body)
}

/// (name, bytes to send, establish the session first?, expected (code, subcode))
type Case = (&'static str, Vec<u8>, bool, (u8, u8));

#[test]
fn malformed_messages_get_the_right_notification_and_other_peers_are_unharmed() {
    let port = free_port(OBSERVER);
    let port_s = port.to_string();
    let mut obs = spawn(&[
        "observe",
        "--local-as",
        "65002",
        "--router-id",
        OBSERVER,
        "--listen",
        OBSERVER,
        "--port",
        &port_s,
        "--peer-as",
        "65001",
    ]);
    let mut spk = spawn(&[
        "speak",
        "--local-as",
        "65001",
        "--router-id",
        SPEAKER,
        "--local-address",
        SPEAKER,
        "--peer",
        OBSERVER,
        "--peer-as",
        "65002",
        "--port",
        &port_s,
        "--hold-time",
        "9",
        "--announce",
        "100.64.0.1/32 next-hop 127.20.0.4",
    ]);
    let mut spk_in = spk.stdin.take().unwrap();
    obs.wait_for("update", |l| {
        is_from(l, SPEAKER) && is_route_via(l, "127.20.0.4")
    });

    let mut long = header(5000, 2);
    long.resize(5000, 0);
    let cases: Vec<Case> = vec![
        (
            "bad marker",
            {
                let mut h = header(19, 4);
                h[3] = 0;
                h
            },
            false,
            (1, 1),
        ),
        ("length under 19", header(18, 4), false, (1, 2)),
        ("oversized message", long, true, (1, 2)),
        ("unknown type", header(19, 9), true, (1, 3)),
        (
            "KEEPALIVE with a body",
            {
                let mut h = header(20, 4);
                h.push(0);
                h
            },
            true,
            (1, 2),
        ),
        (
            "OPEN version 3",
            {
                let mut o = RawPeer::open(65001, 9, Ipv4Addr::new(1, 1, 1, 1));
                o[19] = 3;
                o
            },
            false,
            (2, 1),
        ),
        (
            "OPEN from the wrong AS",
            RawPeer::open(65099, 9, Ipv4Addr::new(1, 1, 1, 1)),
            false,
            (2, 2),
        ),
        (
            "OPEN with hold time 2",
            RawPeer::open(65001, 2, Ipv4Addr::new(1, 1, 1, 1)),
            false,
            (2, 6),
        ),
        (
            "OPEN with identifier 0.0.0.0",
            RawPeer::open(65001, 9, Ipv4Addr::UNSPECIFIED),
            false,
            (2, 3),
        ),
        (
            "attribute length past the message",
            update(&[0, 0, 0, 50, 0x40, 1, 1, 0]),
            true,
            (3, 1),
        ),
        (
            "withdrawn length past the message",
            update(&[0, 40, 0, 0]),
            true,
            (3, 1),
        ),
        (
            "NLRI prefix longer than 32",
            update_with(&attrs([10, 10, 0, 4]), &[33, 1, 2, 3, 4, 5]),
            true,
            (3, 10),
        ),
        (
            "OPEN in Established",
            RawPeer::open(65001, 9, Ipv4Addr::new(1, 1, 1, 1)),
            true,
            (5, 3),
        ),
    ];
    for (i, (name, bytes, establish, want)) in cases.into_iter().enumerate() {
        let mut peer = RawPeer::connect(Ipv4Addr::new(127, 20, 1, i as u8 + 1), port);
        if establish {
            peer.establish();
        }
        peer.send(&bytes);
        let got = peer.notification();
        assert_eq!(
            got,
            Some(want),
            "{name}: expected NOTIFICATION {want:?}, got {got:?}"
        );
    }

    // RFC 7606 treat-as-withdraw: no NOTIFICATION, the session stays up, the route
    // is not taken. Checked by sending a valid UPDATE afterwards on the same session.
    for (i, (name, bad)) in [
        (
            "missing NEXT_HOP",
            update_with(&attrs([10, 10, 0, 4])[..13], &[32, 100, 64, 0, 9]),
        ),
        (
            "NEXT_HOP 0.0.0.0",
            update_with(&attrs([0, 0, 0, 0]), &[32, 100, 64, 0, 9]),
        ),
        (
            "missing ORIGIN",
            update_with(&attrs([10, 10, 0, 4])[4..], &[32, 100, 64, 0, 9]),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let source = Ipv4Addr::new(127, 20, 2, i as u8 + 1);
        let mut peer = RawPeer::connect(source, port);
        peer.establish();
        peer.send(&bad);
        peer.send(&update_with(&attrs([10, 10, 0, 4]), &[32, 100, 64, 0, 10]));
        let src = source.to_string();
        let v = obs.wait_for("update", |l| match &l.event {
            Event::Update(u) if is_from(l, &src) && u.action == Action::Announce => Some(u.clone()),
            _ => None,
        });
        assert_eq!(
            v.prefix, "100.64.0.10/32",
            "{name}: the malformed route was taken: {v:?}"
        );
        assert!(
            obs.seen
                .iter()
                .any(|l| matches!(l.event, Event::AttributeErrors(_)) && is_from(l, &src)),
            "{name}: the error was not reported"
        );
        assert!(
            !obs.seen
                .iter()
                .any(|l| matches!(l.event, Event::NotificationSent(_)) && is_from(l, &src)),
            "{name}: treat-as-withdraw must not reset the session"
        );
    }

    // The well-behaved speaker was never disturbed and still moves its route.
    writeln!(spk_in, "announce route 100.64.0.1/32 next-hop 127.20.0.5").unwrap();
    obs.wait_for("update", |l| {
        is_from(l, SPEAKER) && is_route_via(l, "127.20.0.5")
    });
    assert!(
        !obs.seen
            .iter()
            .any(|l| matches!(l.event, Event::Down(_)) && is_from(l, SPEAKER)),
        "the good peer's session went down"
    );
}
