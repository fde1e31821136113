//! The JSON lines hopwatch prints on stdout and the documents its control APIs
//! answer, defined once as serde types: the writers (`run`, `route-server`,
//! `speak`, `observe`, `web`) build these values, the readers (the lab, `ctl`, the
//! tests and benchmarks) parse them, so a renamed field is a compile error on both
//! sides instead of a lookup that quietly finds nothing. `docs/events.md` is the
//! same contract for people; a test checks that it names every event and that its
//! examples parse.
//!
//! # Layout
//! - [`Line`]: one line, `{"ts_us": .., "event": "<name>", ..fields}`, with an
//!   [`Event`] for what happened; [`Line::parse`] and [`Line::to_json`] (also its
//!   `Display`).
//! - [`bgp`]: session and route events of every BGP speaker, and route attributes.
//! - [`watcher`]: the watcher's events and its `/status` documents.
//! - [`route_server`]: the route server's events and its API documents.
//! - [`process`]: `started`, `listening`, `events_dropped`.
//! - [`now_us`] (in [`time`]): the one clock of every `_us` field.
//!
//! # Compatibility
//! A reader must keep working when a newer writer adds something: an event it does
//! not know parses as [`Event::Unknown`], and unknown fields are ignored. A known
//! event whose fields changed type or went missing does not parse: that is the
//! change this crate exists to catch. Fields carry their unit in their name
//! (`_us`: microseconds, `_ms`: milliseconds; times ending `_us` without a
//! duration meaning are µs since the Unix epoch).
//!
//! This crate depends on serde only; the protocol core (`hopwatch-bgp`) does not
//! depend on it, so prefixes and families are strings here, as printed.

pub mod bgp;
pub mod process;
pub mod route_server;
pub mod time;
pub mod watcher;

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

pub use time::now_us;

/// One JSON line: when, which route server instance (for `route-server`'s lines),
/// and what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// When it happened, µs since the Unix epoch. (0 in an `events_dropped` line
    /// of a writer older than this field there.)
    #[serde(default)]
    pub ts_us: u64,
    /// `route-server` only: the instance the line is about (session and route lines,
    /// `instance_stopped`, `instance_started`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<IpAddr>,
    /// What happened: `"event"` names it, its fields are the line's other fields.
    #[serde(flatten)]
    pub event: Event,
}

impl Line {
    /// A line stamped now.
    pub fn now(event: Event) -> Line {
        Line::at(now_us(), event)
    }

    /// A line stamped `ts_us`.
    pub fn at(ts_us: u64, event: Event) -> Line {
        Line {
            ts_us,
            instance: None,
            event,
        }
    }

    /// Parses one line. An event this reader does not know is
    /// `Ok(Line { event: Event::Unknown, .. })`, not an error.
    pub fn parse(line: &str) -> Result<Line, serde_json::Error> {
        serde_json::from_str(line)
    }

    /// The line as printed: compact JSON, keys in alphabetical order (the order
    /// hopwatch has always printed, so that the output stays byte for byte the same
    /// whatever the order of the fields here).
    pub fn to_json(&self) -> String {
        to_sorted_json(self)
    }
}

/// The line as printed ([`Line::to_json`]), so a failure message shows what the
/// process wrote.
impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_json())
    }
}

/// `v` as compact JSON with every object's keys in alphabetical order: what every
/// writer prints and every API answers.
pub fn to_sorted_json<T: Serialize>(v: &T) -> String {
    // serde_json's `Value` keeps objects in a BTreeMap (no `preserve_order`).
    serde_json::to_value(v)
        .map(|v| v.to_string())
        .unwrap_or_else(|e| {
            format!(
                "{{\"event\":\"unprintable\",\"error\":{:?}}}",
                e.to_string()
            )
        })
}

macro_rules! events {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty) = $name:literal, )*) => {
        /// What a line says happened; `"event"` is its name.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "event")]
        pub enum Event {
            $( $(#[$doc])* #[serde(rename = $name)] $variant($ty), )*
            /// An event this reader does not know (a newer writer's): skip it.
            #[serde(other)]
            Unknown,
        }

        impl Event {
            /// The name of every event, as in `"event"`.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            /// This event's name (`"unknown"` for [`Event::Unknown`]).
            pub fn name(&self) -> &'static str {
                match self {
                    $( Event::$variant(_) => $name, )*
                    Event::Unknown => "unknown",
                }
            }
        }
    };
}

events! {
    /// A session changed state.
    State(bgp::StateChange) = "state",
    /// A session came up.
    Established(bgp::Established) = "established",
    /// One prefix of a received UPDATE.
    Update(bgp::RouteUpdate) = "update",
    /// Attribute errors handled without a NOTIFICATION.
    AttributeErrors(bgp::AttributeErrors) = "attribute_errors",
    /// The peer sent End-of-RIB.
    EndOfRib(bgp::FamilyMarker) = "end_of_rib",
    /// An UPDATE was written.
    UpdateSent(bgp::UpdateSent) = "update_sent",
    /// End-of-RIB was written.
    EndOfRibSent(bgp::FamilyMarker) = "end_of_rib_sent",
    /// The peer asked for our routes again.
    RouteRefreshReceived(bgp::FamilyMarker) = "route_refresh_received",
    /// A NOTIFICATION was written.
    NotificationSent(bgp::Notification) = "notification_sent",
    /// The peer sent a NOTIFICATION.
    NotificationReceived(bgp::Notification) = "notification_received",
    /// A session ended.
    Down(bgp::Down) = "down",
    /// A connect attempt or a connection failed.
    ConnectionError(bgp::ConnectionError) = "connection_error",
    /// `observe`'s routes.
    Table(bgp::Table) = "table",
    /// `run` or `route-server` is up.
    Started(process::Started) = "started",
    /// `web` serves.
    Listening(process::Listening) = "listening",
    /// `backend` set a backend up.
    BackendReady(process::BackendReady) = "backend_ready",
    /// Lines were dropped: stdout's reader was too slow.
    EventsDropped(process::EventsDropped) = "events_dropped",
    /// A backend's verdict changed.
    Health(watcher::HealthChange) = "health",
    /// A probe the watcher was too starved to judge.
    ProbeStalled(watcher::ProbeStalled) = "probe_stalled",
    /// The watcher moved a VIP.
    Move(watcher::Move) = "move",
    /// The forwarding mode's routes changed.
    Forwarded(watcher::Forwarded) = "forwarded",
    /// The watcher sent its held routes and End-of-RIB.
    RoutesReleased(process::Empty) = "routes_released",
    /// Foreign routes a route server sent, counted.
    RoutesReceived(watcher::RoutesReceived) = "routes_received",
    /// A route for one of our VIPs that is neither ours nor our pair's.
    ForeignVipRoute(watcher::ForeignVipRoute) = "foreign_vip_route",
    /// SIGHUP found errors; nothing changed.
    ReloadRefused(watcher::ReloadRefused) = "reload_refused",
    /// SIGHUP reloaded the config.
    Reloaded(watcher::Reloaded) = "reloaded",
    /// The watcher is stopping.
    Stopping(watcher::Stopping) = "stopping",
    /// The route server programmed its data plane.
    Programmed(route_server::Programmed) = "programmed",
    /// A route server instance was stopped.
    InstanceStopped(route_server::InstanceStopped) = "instance_stopped",
    /// A route server instance started again.
    InstanceStarted(process::Empty) = "instance_started",
}

/// Parses every line of `text` that is an event; lines that are not JSON, or not a
/// known shape, are skipped (a process's stdout may hold a partial last line).
pub fn parse_lines(text: &str) -> Vec<Line> {
    text.lines().filter_map(|l| Line::parse(l).ok()).collect()
}
