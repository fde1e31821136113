//! `hopwatch speak` and `hopwatch observe` as a user drives them, on loopback:
//! commands from stdin and from a named pipe, a bad command that changes nothing,
//! the observer's table on SIGUSR1 and on exit, and a clean Cease on SIGTERM.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod loopback;

use std::cell::Cell;
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

use hopwatch_events::Event;
use hopwatch_events::bgp::{Action, AsPath};
use loopback::events::{ip_addr, is_route, is_route_via, is_withdraw};
use loopback::{free_port, spawn, spawn_with};

const OBS: &str = "127.21.0.8";
const SPK: &str = "127.21.0.7";

#[test]
fn speak_takes_commands_from_stdin_and_pipe_and_observe_reports_them() {
    let port = free_port(OBS);
    let port = port.to_string();
    let mut obs = spawn(&[
        "observe",
        "--local-as",
        "65002",
        "--router-id",
        OBS,
        "--listen",
        OBS,
        "--port",
        &port,
    ]);
    let dir = std::env::temp_dir().join(format!("hopwatch-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pipe = dir.join("commands");
    let pipe_s = pipe.to_str().unwrap().to_owned();
    let mut spk = spawn_with(
        &[
            "speak",
            "--local-as",
            "65001",
            "--router-id",
            SPK,
            "--local-address",
            SPK,
            "--peer",
            OBS,
            "--peer-as",
            "65002",
            "--port",
            &port,
            "--command-pipe",
            &pipe_s,
            "--announce",
            "100.64.0.1/32 next-hop 127.21.0.4 med 5 community [65001:7]",
        ],
        Stdio::piped(),
    );
    let (ts_us, v) = obs.wait_for("the first route", |l| match &l.event {
        Event::Update(u) if u.action == Action::Announce => Some((l.ts_us, u.clone())),
        _ => None,
    });
    assert_eq!(v.prefix, "100.64.0.1/32");
    assert_eq!(v.next_hop, Some(ip_addr("127.21.0.4")));
    let attributes = v.attributes.unwrap();
    assert_eq!(attributes.as_path, AsPath::Asns(vec![65001]));
    assert_eq!(attributes.med, Some(5));
    assert_eq!(attributes.communities, ["65001:7"]);
    assert!(ts_us > 1_600_000_000_000_000, "ts_us is µs since the epoch");
    obs.wait_for("End-of-RIB", |l| matches!(l.event, Event::EndOfRib(_)));

    // A bad command: an error on stderr, and nothing sent.
    let mut stdin = spk.stdin.take().unwrap();
    writeln!(stdin, "announce route 100.64.0.1/32 next-hop banana").unwrap();
    let none = obs.try_wait_for(Duration::from_millis(500), |l| {
        matches!(l.event, Event::Update(_))
    });
    assert!(none.is_none(), "a bad command sent something: {none:?}");

    // A good command on stdin, then one through the named pipe.
    writeln!(stdin, "announce route 100.64.0.1/32 next-hop 127.21.0.5").unwrap();
    obs.wait_for("the stdin move", |l| is_route_via(l, "127.21.0.5"));
    let mut fifo = std::fs::OpenOptions::new().write(true).open(&pipe).unwrap();
    writeln!(fifo, "announce route 2001:db8::1/128 next-hop 2001:db8::4").unwrap();
    writeln!(fifo, "withdraw route 100.64.0.1/32").unwrap();
    drop(fifo);
    // Lines that queue up together may leave as one packed batch, whose withdrawals
    // go first: the two routes may arrive in either order.
    let (v6, gone) = (Cell::new(false), Cell::new(false));
    obs.wait_for("the IPv6 route and the withdraw", |l| {
        v6.set(v6.get() || is_route(l, "2001:db8::1/128", "2001:db8::4"));
        gone.set(gone.get() || is_withdraw(l, "100.64.0.1/32"));
        v6.get() && gone.get()
    });

    // SIGUSR1: the observer's table holds exactly what is announced now.
    obs.signal("USR1");
    let table = obs.wait_for("the table", |l| match &l.event {
        Event::Table(t) => Some(t.clone()),
        _ => None,
    });
    let routes = &table.routes;
    assert_eq!(routes.len(), 1, "{table:?}");
    assert_eq!(routes[0].prefix, "2001:db8::1/128");
    assert_eq!(routes[0].peer, ip_addr(SPK));

    // SIGTERM on the speaker: a Cease with a shutdown message, and exit 0.
    spk.signal("TERM");
    let n = obs.wait_for("the Cease", |l| match &l.event {
        Event::NotificationReceived(n) => Some(n.clone()),
        _ => None,
    });
    assert_eq!((n.code, n.subcode), (6, 2), "{n:?}");
    assert_eq!(
        n.shutdown_message.as_deref(),
        Some("hopwatch speak stopping")
    );
    assert!(spk.exit_success(), "speak did not exit cleanly");
    let mut err = String::new();
    spk.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        err.contains("banana"),
        "the bad command's error names the bad word: {err:?}"
    );

    // SIGTERM on the observer: it prints its (now empty) table on the way out.
    obs.signal("TERM");
    let table = obs.wait_for("the exit table", |l| match &l.event {
        Event::Table(t) => Some(t.clone()),
        _ => None,
    });
    assert!(table.routes.is_empty(), "{table:?}");
    assert!(obs.exit_success(), "observe did not exit cleanly");
    let _ = std::fs::remove_dir_all(&dir);
}
