//! `hopwatch route-server` with the proxy data plane on loopback: `speak` announces
//! the VIP to both instances, HTTP requests to the VIP reach the backend the route
//! points at, and every new connection follows a next-hop change.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod loopback;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use hopwatch_events::{Event, Line};
use loopback::events::ip_addr;
use loopback::{free_port, spawn, web};
use serde_json::Value;

const VIP: &str = "127.24.15.15";
const WS1: &str = "127.24.0.4";
const WS2: &str = "127.24.0.5";
const SPEAKER: &str = "127.24.0.7";
const RS1: &str = "127.24.1.4";
const RS2: &str = "127.24.1.5";

/// One request to the VIP on a new connection: the name of the backend that answered.
fn who(port: u16) -> Option<String> {
    let mut s = TcpStream::connect((VIP, port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let body = out.split_once("\r\n\r\n")?.1;
    let v: Value = serde_json::from_str(body).ok()?;
    v["hostname"].as_str().map(str::to_owned)
}

/// Whether `l` programs the VIP to `next_hop` alone.
fn programmed_via(l: &Line, next_hop: &str) -> bool {
    matches!(&l.event, Event::Programmed(p) if p.next_hops == Some(vec![ip_addr(next_hop)]))
}

fn until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn requests_to_the_vip_follow_the_announced_next_hop() {
    let port = free_port(VIP);
    let bgp = free_port(RS1);
    let api = format!("{RS1}:{}", free_port(RS1));
    let _ws1 = web(WS1, port, "ws1");
    let _ws2 = web(WS2, port, "ws2");
    let mut rs = spawn(&[
        "route-server",
        "--instance",
        RS1,
        "--instance",
        RS2,
        "--peer",
        &format!("{SPEAKER}:65001"),
        "--port",
        &bgp.to_string(),
        "--dataplane",
        "proxy",
        "--vip-port",
        &port.to_string(),
        "--api",
        &api,
    ]);
    let mut speak = spawn(&[
        "speak",
        "--local-as",
        "65001",
        "--router-id",
        SPEAKER,
        "--local-address",
        SPEAKER,
        "--peer",
        RS1,
        "--peer",
        RS2,
        "--peer-as",
        "65515",
        "--port",
        &bgp.to_string(),
        "--announce",
        &format!("{VIP}/32 next-hop {WS1}"),
    ]);
    rs.wait_for("the VIP programmed via ws1", |l| programmed_via(l, WS1));
    until("requests to reach ws1", || {
        who(port).as_deref() == Some("ws1")
    });

    // Both instances peered; the programming log has both timestamps.
    let out = Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(["ctl", "--api", &api, "peers"])
        .output()
        .unwrap();
    let peers = String::from_utf8_lossy(&out.stdout);
    assert_eq!(peers.matches("Established").count(), 2, "{peers}");
    let out = Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(["ctl", "--api", &api, "programs"])
        .output()
        .unwrap();
    let programs: Vec<Line> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        matches!(&programs[0].event, Event::Programmed(p)
            if p.received_us.is_some() && p.latency_us.is_some()),
        "{}",
        programs[0]
    );

    // A next-hop change: every new connection goes to ws2.
    writeln!(
        speak.stdin.as_mut().unwrap(),
        "announce route {VIP}/32 next-hop {WS2}"
    )
    .unwrap();
    rs.wait_for("the VIP programmed via ws2", |l| programmed_via(l, WS2));
    for _ in 0..20 {
        assert_eq!(who(port).as_deref(), Some("ws2"));
    }

    // Restart one instance while requests flow: the other keeps the route, so the
    // data plane never loses it and no request fails.
    let out = Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args([
            "ctl",
            "--api",
            &api,
            "restart-instance",
            RS1,
            "--after-ms",
            "500",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rs.wait_for("the instance to stop", |l| {
        matches!(l.event, Event::InstanceStopped(_))
    });
    let started = Instant::now();
    let mut served = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        assert_eq!(
            who(port).as_deref(),
            Some("ws2"),
            "a request failed during the instance restart"
        );
        served += 1;
    }
    rs.wait_for("the instance to start again", |l| {
        matches!(l.event, Event::InstanceStarted(_))
    });
    rs.wait_for("its session again", |l| {
        matches!(l.event, Event::Established(_)) && l.instance == Some(ip_addr(RS1))
    });
    assert!(served > 10, "only {served} requests during the restart");

    // A withdraw: the VIP no longer answers.
    writeln!(speak.stdin.as_mut().unwrap(), "withdraw route {VIP}/32").unwrap();
    rs.wait_for(
        "the VIP removed",
        |l| matches!(&l.event, Event::Programmed(p) if p.next_hops.is_none()),
    );
    until("the VIP to stop answering", || who(port).is_none());
}
