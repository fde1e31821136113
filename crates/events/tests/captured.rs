//! Lines and API documents captured from the real binary (`hopwatch lab --scenario
//! kill,drain,route-server-restart --trials 1`, `speak` and `observe` as `hopwatch
//! demo` runs them, a watcher and a route server asked over their APIs) parse into
//! the types, as known events, and print back byte for byte: the types are the
//! output as it was before they existed.

#![allow(clippy::unwrap_used)]

use hopwatch_events::route_server::{Dataplane, InstancePeers, InstanceRib, RestartAnswer};
use hopwatch_events::watcher::{ApiError, ControlAnswer, Status};
use hopwatch_events::{Event, Line, to_sorted_json};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn captured(name: &str) -> String {
    let path = format!("{}/tests/captured/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn lines_round_trip(name: &str) -> Vec<Line> {
    let text = captured(name);
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = Line::parse(raw).unwrap_or_else(|e| panic!("{name}:{}: {e}\n{raw}", i + 1));
        assert_ne!(line.event, Event::Unknown, "{name}:{}: {raw}", i + 1);
        assert_eq!(
            line.to_json(),
            raw,
            "{name}:{} prints back differently",
            i + 1
        );
        out.push(line);
    }
    assert!(!out.is_empty(), "{name} is empty");
    out
}

fn document_round_trips<T: Serialize + DeserializeOwned>(name: &str) -> T {
    let raw = captured(name);
    let raw = raw.trim_end();
    let doc: T = serde_json::from_str(raw).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(to_sorted_json(&doc), raw, "{name} prints back differently");
    doc
}

#[test]
fn watcher_lines_round_trip() {
    let lines = lines_round_trip("watcher.jsonl");
    let moves = lines
        .iter()
        .filter(|l| matches!(&l.event, Event::Move(m) if m.reason == "failover"))
        .count();
    assert!(moves >= 1, "the kill scenario's failover is among them");
}

#[test]
fn route_server_lines_round_trip_with_their_instance() {
    let lines = lines_round_trip("route-server.jsonl");
    for l in &lines {
        if let Event::State(_) | Event::Established(_) | Event::InstanceStopped(_) = l.event {
            assert!(l.instance.is_some(), "{l:?}");
        }
        if let Event::Programmed(_) = l.event {
            assert!(l.instance.is_none(), "{l:?}");
        }
    }
}

#[test]
fn observe_and_speak_lines_round_trip() {
    let lines = lines_round_trip("observe.jsonl");
    let withdraw = lines.iter().find_map(|l| match &l.event {
        Event::Update(u) if u.action == hopwatch_events::bgp::Action::Withdraw => Some(u),
        _ => None,
    });
    let withdraw = withdraw.unwrap();
    assert!(withdraw.attributes.is_none() && withdraw.next_hop.is_none());
    let communities = lines.iter().find_map(|l| match &l.event {
        Event::Update(u) => u.attributes.as_ref().filter(|a| !a.communities.is_empty()),
        _ => None,
    });
    assert_eq!(
        communities.unwrap().communities,
        ["65001:100", "65535:65281"]
    );
    lines_round_trip("speak.jsonl");
    lines_round_trip("web.jsonl");
}

#[test]
fn watcher_api_documents_round_trip() {
    let s: Status = document_round_trips("api-status.json");
    assert_eq!(s.moves().count(), 1);
    let s: Status = document_round_trips("api-status-after-failover.json");
    assert_eq!(s.moves().next().unwrap().1.reason, "failover");
    let a: ControlAnswer = document_round_trips("api-drain.json");
    assert!(a.moved && a.vip.backends[0].drained);
    let e: ApiError = document_round_trips("api-error.json");
    assert!(e.error.starts_with("no such path"));
}

#[test]
fn route_server_api_documents_round_trip() {
    let peers: Vec<InstancePeers> = document_round_trips("api-peers.json");
    assert_eq!(peers.len(), 2);
    let rib: Vec<InstanceRib> = document_round_trips("api-rib.json");
    assert_eq!(
        rib[0].routes[0].paths[0].attributes.as_path.asns(),
        Some(&[65001][..])
    );
    let programs: Vec<Line> = document_round_trips("api-programs.json");
    assert!(
        programs
            .iter()
            .all(|l| matches!(l.event, Event::Programmed(_)))
    );
    let _: Dataplane = document_round_trips("api-dataplane.json");
    let _: RestartAnswer = document_round_trips("api-restart.json");
}

#[test]
fn an_unknown_event_is_not_an_error_and_unknown_fields_are_ignored() {
    let l = Line::parse(r#"{"event":"teleported","ts_us":5,"where":"mars"}"#).unwrap();
    assert_eq!((l.ts_us, l.event), (5, Event::Unknown));
    let l =
        Line::parse(r#"{"event":"down","peer":"10.0.0.1","reason":"x","ts_us":7,"new_field":[1]}"#)
            .unwrap();
    assert!(matches!(l.event, Event::Down(d) if d.reason == "x"));
}

#[test]
fn a_known_event_with_a_renamed_field_does_not_parse() {
    // `vip` renamed `prefix`: the change a string lookup would miss.
    let raw = r#"{"event":"move","from":"ws1","to":"ws2","next_hop":"10.0.0.5","reason":"failover","detected_us":null,"prefix":"100.64.0.1/32","ts_us":1}"#;
    assert!(Line::parse(raw).is_err());
}

#[test]
fn every_event_name_is_distinct() {
    let mut names = Event::NAMES.to_vec();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Event::NAMES.len());
}
