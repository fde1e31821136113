//! `docs/events.md` is the contract for people: it has a section for every event
//! the types define, and every example on it parses into the types (as a known
//! event, or as its API document) and is printed back byte for byte, so the page
//! cannot drift from what hopwatch prints.

#![allow(clippy::unwrap_used)]

use hopwatch_events::route_server::{Dataplane, InstancePeers, InstanceRib, RestartAnswer};
use hopwatch_events::watcher::{ApiError, ControlAnswer, ShutdownAnswer, Status};
use hopwatch_events::{Event, Line, to_sorted_json};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn page() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/events.md");
    std::fs::read_to_string(path).unwrap()
}

/// Each fenced block: its info string and its lines.
fn blocks(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        if let Some(info) = line.strip_prefix("```") {
            match current.take() {
                Some(block) => out.push(block),
                None => current = Some((info.trim().to_string(), Vec::new())),
            }
        } else if let Some((_, lines)) = &mut current {
            lines.push(line.to_string());
        }
    }
    out
}

fn round_trips<T: Serialize + DeserializeOwned>(raw: &str) {
    let doc: T = serde_json::from_str(raw).unwrap_or_else(|e| panic!("{e}: {raw}"));
    assert_eq!(to_sorted_json(&doc), raw, "printed back differently");
}

#[test]
fn every_event_has_a_section() {
    let text = page();
    for name in Event::NAMES {
        assert!(
            text.contains(&format!("\n### `{name}`\n")),
            "docs/events.md has no section \"### `{name}`\""
        );
    }
}

#[test]
fn every_event_has_an_example_that_parses_as_printed() {
    let mut seen = std::collections::BTreeSet::new();
    for (info, lines) in blocks(&page()) {
        if info != "jsonl" {
            continue;
        }
        for raw in lines {
            let line = Line::parse(&raw).unwrap_or_else(|e| panic!("{e}: {raw}"));
            assert_ne!(line.event, Event::Unknown, "{raw}");
            assert_eq!(line.to_json(), raw, "printed back differently");
            seen.insert(line.event.name());
        }
    }
    let missing: Vec<_> = Event::NAMES.iter().filter(|n| !seen.contains(*n)).collect();
    assert!(missing.is_empty(), "no example of {missing:?}");
}

#[test]
fn every_api_example_parses_as_its_document() {
    let mut count = 0;
    for (info, lines) in blocks(&page()) {
        let Some(api) = info.strip_prefix("json api=") else {
            assert!(info.is_empty() || info == "jsonl" || info == "sh", "{info}");
            continue;
        };
        let raw = lines.join("\n");
        match api {
            "error" => round_trips::<ApiError>(&raw),
            "status" => round_trips::<Status>(&raw),
            "control" => round_trips::<ControlAnswer>(&raw),
            "shutdown" => round_trips::<ShutdownAnswer>(&raw),
            "peers" => round_trips::<Vec<InstancePeers>>(&raw),
            "rib" => round_trips::<Vec<InstanceRib>>(&raw),
            "dataplane" => round_trips::<Dataplane>(&raw),
            "restart" => round_trips::<RestartAnswer>(&raw),
            other => panic!("no document type for api={other}"),
        }
        count += 1;
    }
    assert_eq!(count, 8);
}
