//! Hostile input against `hopwatch speak` and `hopwatch route-server` (issue 10):
//! an undecodable or endless command line, a command whose UPDATE cannot fit a BGP
//! message, a next hop that cannot be a unicast next hop, an unconfigured peer, and
//! silent connections from a configured peer's address.
//!
//! Everything runs on loopback (127.32.0.0/16), each raw peer from its own source
//! address; every wait is bounded and every child is stopped by PID.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod loopback;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hopwatch_bgp::message::{self, Capability, Codec, Message, Open};
use hopwatch_bgp::{Asn, HoldTime, RouterId};
use hopwatch_events::bgp::Action;
use hopwatch_events::{Event, Line};
use loopback::events::{ip_addr, is_route_via};
use loopback::{Proc, free_port, read_notification, spawn, spawn_with};
use socket2::{Domain, Socket, Type};

/// Lines of a child's stderr, read by a thread as they come.
struct Stderr(mpsc::Receiver<String>, Vec<String>);

impl Stderr {
    fn of(p: &mut Proc) -> Stderr {
        let err = p.child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Stderr(rx, Vec::new())
    }

    /// Waits (at most 10 s) for a line containing every one of `needles`.
    fn wait_for(&mut self, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.0.recv_timeout(left) {
                Ok(line) => {
                    self.1.push(line.clone());
                    if needles.iter().all(|n| line.contains(n)) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no stderr line with {needles:?} within 10 s; saw {:#?}",
            self.1
        )
    }
}

fn observe(addr: &str, port: &str) -> Proc {
    spawn(&[
        "observe",
        "--local-as",
        "65002",
        "--router-id",
        addr,
        "--listen",
        addr,
        "--port",
        port,
    ])
}

fn speak(addr: &str, obs: &str, port: &str, extra: &[&str]) -> (Proc, Stderr) {
    let mut args = vec![
        "speak",
        "--local-as",
        "65001",
        "--router-id",
        addr,
        "--local-address",
        addr,
        "--peer",
        obs,
        "--peer-as",
        "65002",
        "--port",
        port,
    ];
    args.extend_from_slice(extra);
    let mut p = spawn_with(&args, Stdio::piped());
    let err = Stderr::of(&mut p);
    (p, err)
}

fn announced(l: &Line, prefix: &str) -> bool {
    matches!(&l.event, Event::Update(u) if u.action == Action::Announce && u.prefix == prefix)
}

fn is_session_loss(l: &Line) -> bool {
    matches!(
        l.event,
        Event::Down(_) | Event::NotificationReceived(_) | Event::NotificationSent(_)
    )
}

#[test]
fn an_undecodable_line_is_reported_by_number_and_reading_goes_on() {
    const OBS: &str = "127.32.0.8";
    const SPK: &str = "127.32.0.7";
    let port = free_port(OBS).to_string();
    let mut obs = observe(OBS, &port);
    let dir = std::env::temp_dir().join(format!("hopwatch-hostile-speak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pipe = dir.join("commands");
    let (mut spk, mut err) = speak(SPK, OBS, &port, &["--command-pipe", pipe.to_str().unwrap()]);
    let mut stdin = spk.stdin.take().unwrap();

    // Line 1 valid, line 2 not UTF-8, line 3 valid: line 3 must still be read.
    stdin
        .write_all(b"announce route 100.64.0.1/32 next-hop 127.32.0.4\n")
        .unwrap();
    stdin.write_all(b"\xc3\x28 bad\n").unwrap();
    stdin
        .write_all(b"announce route 100.64.0.2/32 next-hop 127.32.0.4\n")
        .unwrap();
    stdin.flush().unwrap();
    obs.wait_for("the route after the bad line", |v| {
        announced(v, "100.64.0.2/32")
    });
    err.wait_for(&["stdin", "line 2", "UTF-8"]);

    // The same on the named pipe: one writer's bad line does not drop its next one.
    let mut fifo = std::fs::OpenOptions::new().write(true).open(&pipe).unwrap();
    fifo.write_all(b"\xff\xfe\n").unwrap();
    fifo.write_all(b"announce route 100.64.0.3/32 next-hop 127.32.0.4\n")
        .unwrap();
    drop(fifo);
    obs.wait_for("the pipe's route after its bad line", |v| {
        announced(v, "100.64.0.3/32")
    });
    err.wait_for(&["command-pipe", "line 1", "UTF-8"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_line_over_64_kib_is_refused_and_later_commands_still_work() {
    const OBS: &str = "127.32.1.8";
    const SPK: &str = "127.32.1.7";
    let port = free_port(OBS).to_string();
    let mut obs = observe(OBS, &port);
    let (mut spk, mut err) = speak(SPK, OBS, &port, &[]);
    let mut stdin = spk.stdin.take().unwrap();

    // 100 KB on one line: refused as a whole (not read as a command), then normal.
    let mut long = b"announce route 100.64.0.4/32 next-hop 127.32.1.4 med 1".to_vec();
    long.extend(std::iter::repeat_n(b' ', 100_000));
    long.push(b'\n');
    stdin.write_all(&long).unwrap();
    stdin
        .write_all(b"announce route 100.64.0.5/32 next-hop 127.32.1.4\n")
        .unwrap();
    stdin.flush().unwrap();
    obs.wait_for("the route after the long line", |v| {
        announced(v, "100.64.0.5/32")
    });
    err.wait_for(&["stdin", "line 1", "longer than"]);
    assert!(
        !obs.seen.iter().any(|v| announced(v, "100.64.0.4/32")),
        "the over-long line was obeyed"
    );
}

#[test]
fn an_announce_too_big_for_one_update_is_refused_and_the_session_stays_up() {
    const OBS: &str = "127.32.2.8";
    const SPK: &str = "127.32.2.7";
    let port = free_port(OBS).to_string();
    let mut obs = observe(OBS, &port);
    let (mut spk, mut err) = speak(
        SPK,
        OBS,
        &port,
        &["--announce", "100.64.0.1/32 next-hop 127.32.2.4"],
    );
    obs.wait_for("the first route", |l| announced(l, "100.64.0.1/32"));
    let mut stdin = spk.stdin.take().unwrap();

    // 2,000 communities (8,000 octets) and 3,000 ASes: neither fits 4,096 octets.
    let communities: Vec<String> = (0..2000).map(|i| format!("1:{i}")).collect();
    writeln!(
        stdin,
        "announce route 100.64.0.1/32 next-hop 127.32.2.5 community [{}]",
        communities.join(" ")
    )
    .unwrap();
    let path: Vec<String> = (0..3000).map(|i| (64512 + i % 1000).to_string()).collect();
    writeln!(
        stdin,
        "announce route 100.64.0.1/32 next-hop 127.32.2.5 as-path [{}]",
        path.join(" ")
    )
    .unwrap();
    stdin.flush().unwrap();
    err.wait_for(&["line 1", "4096"]);
    err.wait_for(&["line 2", "4096"]);
    let bad = obs.try_wait_for(Duration::from_millis(1500), |l| {
        is_session_loss(l) || is_route_via(l, "127.32.2.5")
    });
    assert!(
        bad.is_none(),
        "the refused command reached the peer: {bad:?}"
    );

    // The session is the same one, and the route is what it was: the next command moves it.
    writeln!(
        stdin,
        "announce route 100.64.0.1/32 next-hop 127.32.2.6 community [1:1]"
    )
    .unwrap();
    stdin.flush().unwrap();
    let v = obs.wait_for("the next move", |l| match &l.event {
        Event::Update(u)
            if announced(l, "100.64.0.1/32") && u.next_hop == Some(ip_addr("127.32.2.6")) =>
        {
            Some(u.clone())
        }
        _ => None,
    });
    assert_eq!(
        v.attributes.map(|a| a.communities).unwrap_or_default(),
        ["1:1"]
    );
    assert!(
        !obs.seen.iter().any(is_session_loss),
        "the session went down:\n{}",
        loopback::events::dump(&obs.seen)
    );
}

#[test]
fn a_next_hop_that_cannot_be_unicast_is_refused() {
    const OBS: &str = "127.32.5.8";
    const SPK: &str = "127.32.5.7";
    let port = free_port(OBS).to_string();
    let mut obs = observe(OBS, &port);
    // On the command line: speak refuses to start.
    let (mut bad, mut err) = speak(
        SPK,
        OBS,
        &port,
        &["--announce", "100.64.0.1/32 next-hop 255.255.255.255"],
    );
    err.wait_for(&["255.255.255.255"]);
    assert!(
        !bad.exit_success(),
        "speak started with a broadcast next hop"
    );

    // As commands: each refused with an error, nothing sent.
    let (mut spk, mut err) = speak(
        SPK,
        OBS,
        &port,
        &["--announce", "100.64.0.1/32 next-hop 127.32.5.4"],
    );
    obs.wait_for("the first route", |l| announced(l, "100.64.0.1/32"));
    let mut stdin = spk.stdin.take().unwrap();
    for nh in ["255.255.255.255", "224.0.0.5", "240.0.0.1", "0.0.0.0"] {
        writeln!(stdin, "announce route 100.64.0.1/32 next-hop {nh}").unwrap();
        stdin.flush().unwrap();
        err.wait_for(&[nh, "unicast"]);
    }
    let sent = obs.try_wait_for(Duration::from_millis(500), |l| {
        matches!(l.event, Event::Update(_))
    });
    assert!(sent.is_none(), "a refused next hop was sent: {sent:?}");
}

/// A raw TCP connection to `to` from `source`, reads bounded by `timeout`.
fn raw_connect(source: &str, to: SocketAddr, timeout: Duration) -> TcpStream {
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let source: Ipv4Addr = source.parse().unwrap();
    sock.bind(&SocketAddr::from((source, 0)).into()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match sock.connect_timeout(&to.into(), Duration::from_secs(2)) {
            Ok(()) => break,
            Err(e) if Instant::now() > deadline => panic!("connect to {to}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let stream: TcpStream = sock.into();
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream
}

fn open_from(asn: u32, id: &str) -> Vec<u8> {
    let open = Open {
        asn: Asn(asn),
        hold_time: HoldTime::new(9).unwrap(),
        router_id: RouterId::new(id.parse().unwrap()).unwrap(),
        capabilities: vec![Capability::FourOctetAs(Asn(asn))],
    };
    message::encode_to_vec(&Message::Open(open), &Codec::default())
}

/// Whether the server has closed `stream` (EOF or reset); what it sends is read and
/// dropped. `false` when it is still open after one read timeout.
fn closed(stream: &mut TcpStream) -> bool {
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

fn route_server(rs: &str, peer: &str) -> (Proc, u16) {
    let bgp = free_port(rs);
    let api = format!("{rs}:{}", free_port(rs));
    let peer = format!("{peer}:65001");
    let bgp_s = bgp.to_string();
    let mut p = spawn(&[
        "route-server",
        "--instance",
        rs,
        "--peer",
        &peer,
        "--port",
        &bgp_s,
        "--dataplane",
        "none",
        "--api",
        &api,
    ]);
    p.wait_for("started", |l| matches!(l.event, Event::Started(_)));
    (p, bgp)
}

#[test]
fn an_unconfigured_peer_gets_cease_connection_rejected() {
    const RS: &str = "127.32.3.4";
    let (_rs, port) = route_server(RS, "127.32.3.7");
    let to: SocketAddr = format!("{RS}:{port}").parse().unwrap();
    let mut s = raw_connect("127.32.3.9", to, Duration::from_secs(5));
    // Our OPEN may cross the server's NOTIFICATION; either way 6/5 must arrive.
    let _ = s.write_all(&open_from(65009, "127.32.3.9"));
    assert_eq!(
        read_notification(&mut s),
        Some((6, 5)),
        "an unconfigured peer gets Cease / Connection Rejected (RFC 4486)"
    );
    assert!(closed(&mut s), "the connection is closed after the Cease");
}

#[test]
fn silent_connections_beyond_the_limit_are_closed_at_once_and_the_rest_time_out() {
    const RS: &str = "127.32.4.4";
    const PEER: &str = "127.32.4.7";
    let (_rs, port) = route_server(RS, PEER);
    let to: SocketAddr = format!("{RS}:{port}").parse().unwrap();
    // Twelve connections from the configured peer's address that never send an OPEN.
    let mut conns: Vec<TcpStream> = (0..12)
        .map(|_| raw_connect(PEER, to, Duration::from_millis(100)))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut open: Vec<usize> = (0..conns.len()).collect();
    while Instant::now() < deadline && open.len() > 2 {
        open.retain(|&i| !closed(&mut conns[i]));
    }
    assert_eq!(
        open.len(),
        2,
        "at most 2 pending connections per peer address are held, the rest closed at once"
    );
    // The two held ones are closed when no OPEN came in time (10 s), not after 4 minutes.
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline && !open.is_empty() {
        open.retain(|&i| !closed(&mut conns[i]));
    }
    assert!(
        open.is_empty(),
        "connections without an OPEN are still held after 15 s"
    );
    // And the real peer is not locked out: a new connection from it is accepted
    // and answered with the server's OPEN.
    let mut s = raw_connect(PEER, to, Duration::from_secs(5));
    let mut head = [0u8; 19];
    s.read_exact(&mut head).unwrap();
    assert_eq!(head[18], 1, "the server's OPEN");
}
