//! A SIGHUP reload keeps what the operator and the health checks decided, and
//! reading the config never stops the watcher.
//!
//! - A reload that changes `[health]` or `[failover]` keeps the decision engine of
//!   each VIP whose backends are the same, under the new settings: a drained ws1
//!   does not take the VIP back (a fresh engine would, `reason: startup`), and a
//!   force stays.
//! - With the config replaced by a FIFO and a SIGHUP, the API answers and a killed
//!   ws1 moves the VIP at once: the read runs on a thread of its own, and one that
//!   takes over 5 s is refused.
//!
//! Loopback only (127.94.0.0/16); children are stopped by PID; every wait bounded.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod loopback;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use hopwatch_events::watcher::Status;
use hopwatch_events::{Event, Line};
use loopback::events::is_route;
use loopback::watcher_config::WatcherConfig;
use loopback::web_pair::{Addrs, WebPair};

const WS1: &str = "127.94.0.4";
const WS2: &str = "127.94.0.5";
const WATCHER: &str = "127.94.0.7";
const RS: &str = "127.94.1.4";
const VIP: &str = "100.64.0.1/32";

/// The lab's addresses: 127.94.0.0/16.
const ADDRS: Addrs = Addrs {
    ws1: WS1,
    ws2: WS2,
    watcher: WATCHER,
    rs: RS,
    vip: VIP,
};

fn start(tag: &str) -> WebPair {
    WebPair::start(&format!("reload-{tag}"), ADDRS, |c| {
        c.interval = Some("20ms");
        c.timeout = Some("200ms");
        c.rise = Some(2);
        c.failback_hold = Some("60s");
    })
}

/// `GET /status`, answered within `limit` (a panic otherwise).
fn status(api: &str, limit: Duration) -> Status {
    let sa: SocketAddr = api.parse().unwrap();
    let mut s = TcpStream::connect_timeout(&sa, limit).unwrap();
    s.set_read_timeout(Some(limit)).unwrap();
    write!(
        s,
        "GET /status HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out)
        .unwrap_or_else(|e| panic!("/status not answered within {limit:?}: {e}"));
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn ctl(api: &str, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(["ctl", "--api", api])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_move(l: &Line) -> bool {
    matches!(l.event, Event::Move(_))
}

/// SIGHUP, then the `reloaded` line.
fn reload(lab: &mut WebPair, config: &WatcherConfig) {
    std::fs::write(&lab.cfg, config.to_toml()).unwrap();
    lab.watcher.signal("HUP");
    lab.watcher
        .wait_for("reloaded", |l| matches!(l.event, Event::Reloaded(_)));
}

#[test]
fn a_reload_of_the_timings_keeps_drains_forces_and_moves_nothing() {
    let mut lab = start("state");
    let api = lab.api.clone();
    ctl(&api, &["drain", "ws1"]);
    lab.watcher.wait_for("the move to ws2", is_move);
    lab.rs
        .wait_for("the VIP via ws2", |l| is_route(l, VIP, WS2));

    // Only `rise` and the failback hold change.
    let mut changed = lab.config.clone();
    changed.rise = Some(3);
    changed.failback_hold = Some("45s");
    reload(&mut lab, &changed);
    // Nothing moves for a second after the reload (a rebuilt engine went back to
    // the drained ws1 at once, with `reason: startup`).
    let moved = lab
        .watcher
        .try_wait_for(Duration::from_secs(1), |l| is_move(l).then(|| l.clone()));
    assert!(moved.is_none(), "the reload moved the VIP: {moved:?}");
    let s = status(&api, Duration::from_secs(2));
    let vip = &s.vips[0];
    assert_eq!(vip.active.as_deref(), Some("ws2"), "{vip:?}");
    assert!(
        vip.backends.iter().any(|b| b.name == "ws1" && b.drained),
        "ws1 is still drained: {vip:?}"
    );

    // A force, then another reload of the timings: the force stays.
    ctl(&api, &["force", "ws1"]);
    lab.rs
        .wait_for("the VIP via ws1", |l| is_route(l, VIP, WS1));
    changed.rise = Some(2);
    reload(&mut lab, &changed);
    let moved = lab
        .watcher
        .try_wait_for(Duration::from_secs(1), |l| is_move(l).then(|| l.clone()));
    assert!(moved.is_none(), "the reload moved the VIP: {moved:?}");
    let s = status(&api, Duration::from_secs(2));
    assert_eq!(s.vips[0].forced.as_deref(), Some("ws1"), "{:?}", s.vips[0]);
    assert_eq!(s.vips[0].active.as_deref(), Some("ws1"));
}

#[test]
fn a_config_that_cannot_be_read_stops_nothing_and_is_refused() {
    let mut lab = start("fifo");
    let api = lab.api.clone();
    // The config becomes a FIFO nobody writes to.
    std::fs::remove_file(&lab.cfg).unwrap();
    let made = Command::new("mkfifo").arg(&lab.cfg).status().unwrap();
    assert!(made.success(), "mkfifo");
    lab.watcher.signal("HUP");
    let hup = Instant::now();
    // The API answers at once, and a dead ws1 still moves the VIP.
    let s = status(&api, Duration::from_secs(2));
    assert_eq!(s.vips[0].active.as_deref(), Some("ws1"));
    drop(lab.ws1.take());
    lab.rs
        .wait_for("the VIP via ws2", |l| is_route(l, VIP, WS2));
    let moved_after = hup.elapsed();
    assert!(
        moved_after < Duration::from_secs(5),
        "the VIP moved {moved_after:?} after the SIGHUP: only once the read gave up"
    );
    // The read is refused after 5 s, saying why.
    let refused = lab
        .watcher
        .try_wait_for(Duration::from_secs(10), |l| match &l.event {
            Event::ReloadRefused(r) => Some(r.errors.join("; ")),
            _ => None,
        })
        .expect("a reload_refused line");
    assert!(refused.contains("not read within"), "{refused}");
    let s = status(&api, Duration::from_secs(2));
    assert_eq!(s.vips[0].active.as_deref(), Some("ws2"));
}
