//! A route for our VIP that is neither ours nor our pair's is
//! reported as foreign, in `/status`, as an event and as a metric.
//!
//! A route server that another of its peers feeds a route for our VIP (a
//! misconfigured NVA, or an attacker who can peer with it) prefers that route or
//! joins it into ECMP with ours: it takes part of the VIP's traffic, and must not
//! pass for "same-preference" (ours sent back, or another watcher with our role).
//!
//! On loopback: the watcher's one route server is `speak --passive` (AS 65515),
//! which sends the watcher a route for its VIP in the watcher's own AS but via
//! 127.93.0.66, none of its backends.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod loopback;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use hopwatch_events::Event;
use hopwatch_events::watcher::Status;
use loopback::watcher_config::{Backend, Vip, WatcherConfig};
use loopback::{free_port, spawn, web};

const WS1: &str = "127.93.0.4";
const WS2: &str = "127.93.0.5";
const STRANGER: &str = "127.93.0.66";
const WATCHER: &str = "127.93.0.7";
const RS: &str = "127.93.1.4";
const VIP: &str = "100.64.0.1/32";

fn get(api: &str, path: &str) -> String {
    let sa: SocketAddr = api.parse().unwrap();
    let mut s = TcpStream::connect_timeout(&sa, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[test]
fn a_route_for_our_vip_via_a_stranger_is_reported_as_foreign() {
    let (p1, p2) = (free_port(WS1), free_port(WS2));
    let bgp = free_port(RS);
    let api = format!("{WATCHER}:{}", free_port(WATCHER));
    let dir = std::env::temp_dir().join(format!("hopwatch-foreign-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("watcher.toml");
    let config = WatcherConfig {
        vips: vec![Vip::new(
            VIP,
            vec![Backend::web("ws1", WS1, p1), Backend::web("ws2", WS2, p2)],
        )],
        ..WatcherConfig::new(WATCHER, RS, bgp, &api)
    };
    std::fs::write(&cfg, config.to_toml()).unwrap();
    let _ws1 = web(WS1, p1, "ws1");
    let _ws2 = web(WS2, p2, "ws2");
    let _rs = spawn(&[
        "speak",
        "--local-as",
        "65515",
        "--router-id",
        RS,
        "--local-address",
        RS,
        "--peer",
        WATCHER,
        "--peer-as",
        "65001",
        "--port",
        &bgp.to_string(),
        "--passive",
        "--announce",
        &format!("{VIP} next-hop {STRANGER} as-path [65001]"),
    ]);
    let mut watcher = spawn(&["run", "-c", cfg.to_str().unwrap()]);
    let f = watcher.wait_for("foreign_vip_route", |l| match &l.event {
        Event::ForeignVipRoute(f) => Some(f.clone()),
        _ => None,
    });
    assert_eq!(f.vip, VIP);
    assert_eq!(f.next_hop.to_string(), STRANGER);
    assert!(f.reason.contains("none of the VIP's backends"), "{f:?}");

    let status: Status = serde_json::from_str(&get(&api, "/status")).unwrap();
    let seen = &status.ha.expect("ha").routes_seen;
    assert!(
        seen.iter()
            .any(|r| r.vip == VIP && r.whose == "foreign" && r.next_hop == Some(f.next_hop)),
        "{seen:?}"
    );
    let metrics = get(&api, "/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l == format!("hopwatch_foreign_vip_routes{{vip=\"{VIP}\"}} 1")),
        "{metrics}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
