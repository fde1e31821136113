//! The wire shapes readers rely on, as golden lines: the integration tests and
//! benchmarks read hopwatch's output through these types, so the few facts about
//! the JSON itself that a reader in another language depends on (`docs/events.md`)
//! are checked here, once, rather than by string lookups in every test: the names
//! and units of the fields, `null` against absent, and where `instance` appears.

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use hopwatch_events::bgp::{Action, AsPath, Attributes, Origin, RouteUpdate};
use hopwatch_events::route_server::Programmed;
use hopwatch_events::watcher::{ApiError, Move};
use hopwatch_events::{Event, Line, now_us, to_sorted_json};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// `line` prints as `golden` and parses back to itself.
fn golden(line: &Line, golden: &str) {
    assert_eq!(line.to_json(), golden);
    assert_eq!(line.to_string(), golden, "Display is the printed line");
    assert_eq!(&Line::parse(golden).unwrap(), line);
}

#[test]
fn ts_us_is_microseconds_since_the_epoch() {
    let before = now_us();
    let line = Line::now(Event::RoutesReleased(Default::default()));
    let after = now_us();
    assert!((before..=after).contains(&line.ts_us), "{line}");
    // 2020-09-13 in µs: a value in ms or s would be far below.
    assert!(line.ts_us > 1_600_000_000_000_000, "{line}");
    assert_eq!(
        line.to_json(),
        format!(r#"{{"event":"routes_released","ts_us":{}}}"#, line.ts_us)
    );
}

#[test]
fn an_announcement_carries_its_next_hop_and_attributes_a_withdrawal_neither() {
    let announce = RouteUpdate {
        peer: ip("127.10.0.7"),
        action: Action::Announce,
        prefix: "100.64.0.1/32".into(),
        next_hop: Some(ip("127.10.0.5")),
        attributes: Some(Attributes {
            as_path: AsPath::Asns(vec![65001]),
            origin: Some(Origin::Igp),
            med: Some(5),
            communities: vec!["65001:7".into()],
            ..Attributes::default()
        }),
    };
    golden(
        &Line::at(1, Event::Update(announce)),
        r#"{"action":"announce","as_path":[65001],"communities":["65001:7"],"event":"update","med":5,"next_hop":"127.10.0.5","origin":"igp","peer":"127.10.0.7","prefix":"100.64.0.1/32","ts_us":1}"#,
    );
    let withdraw = RouteUpdate {
        peer: ip("127.10.0.7"),
        action: Action::Withdraw,
        prefix: "100.64.0.1/32".into(),
        next_hop: None,
        attributes: None,
    };
    golden(
        &Line::at(2, Event::Update(withdraw)),
        r#"{"action":"withdraw","event":"update","peer":"127.10.0.7","prefix":"100.64.0.1/32","ts_us":2}"#,
    );
}

#[test]
fn a_removed_route_has_null_next_hops_and_only_route_server_lines_name_an_instance() {
    let programmed = |next_hops| Programmed {
        prefix: "100.64.0.1/32".into(),
        next_hops,
        received_us: Some(1),
        cause: None,
        latency_us: Some(2),
        queued_ms: 0,
        error: None,
    };
    golden(
        &Line::at(3, Event::Programmed(programmed(None))),
        r#"{"cause":null,"error":null,"event":"programmed","latency_us":2,"next_hops":null,"prefix":"100.64.0.1/32","queued_ms":0,"received_us":1,"ts_us":3}"#,
    );
    golden(
        &Line::at(
            3,
            Event::Programmed(programmed(Some(vec![ip("10.0.0.4"), ip("10.0.0.5")]))),
        ),
        r#"{"cause":null,"error":null,"event":"programmed","latency_us":2,"next_hops":["10.0.0.4","10.0.0.5"],"prefix":"100.64.0.1/32","queued_ms":0,"received_us":1,"ts_us":3}"#,
    );
    let mut started = Line::at(4, Event::InstanceStarted(Default::default()));
    started.instance = Some(ip("127.10.1.4"));
    golden(
        &started,
        r#"{"event":"instance_started","instance":"127.10.1.4","ts_us":4}"#,
    );
}

#[test]
fn a_move_no_report_caused_prints_detected_us_null() {
    let drain = Move {
        vip: "100.64.0.1/32".into(),
        from: Some("ws1".into()),
        to: Some("ws2".into()),
        next_hop: Some(ip("10.10.0.5")),
        reason: "drain".into(),
        detected_us: None,
    };
    golden(
        &Line::at(5, Event::Move(drain)),
        r#"{"detected_us":null,"event":"move","from":"ws1","next_hop":"10.10.0.5","reason":"drain","to":"ws2","ts_us":5,"vip":"100.64.0.1/32"}"#,
    );
}

#[test]
fn an_api_error_is_one_error_string() {
    let e = ApiError {
        error: "no such path: /nope".into(),
    };
    assert_eq!(to_sorted_json(&e), r#"{"error":"no such path: /nope"}"#);
    assert!(serde_json::from_str::<ApiError>(r#"{"error":5}"#).is_err());
}
