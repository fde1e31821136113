//! hopwatch's JSON lines as the tests read them: every line a child prints on
//! stdout is parsed into the event contract (`hopwatch-events`, `docs/events.md`),
//! and tests match on [`Event`] variants and their typed fields. A renamed field is
//! then a compile error in the test, or a line that breaks the contract and fails
//! the wait that meets it, whatever that wait looks for: never a lookup that
//! quietly finds nothing.
//!
//! Both harnesses read through this module: `support::hopwatch` (in namespaces) and
//! `loopback` (which includes this file by path).

use std::net::IpAddr;

use hopwatch_events::bgp::Action;
use hopwatch_events::{Event, Line};

/// One line of a hopwatch process's stdout.
pub enum Read {
    /// An event of the contract (one this reader does not know is `Event::Unknown`).
    Event(Line),
    /// A line naming an `event` that does not parse: a field renamed, retyped or gone.
    Broken(String),
    /// Not an event line (not JSON, or JSON without `event`).
    Other,
}

/// Reads one line of stdout.
pub fn read(line: &str) -> Read {
    match Line::parse(line) {
        Ok(l) => Read::Event(l),
        Err(e) => {
            // The contract's one untyped look: whether the line meant to be an event.
            let names_event =
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line)
                    .is_ok_and(|o| o.contains_key("event"));
            if names_event {
                Read::Broken(format!("{e}: {line}"))
            } else {
                Read::Other
            }
        }
    }
}

/// What a wait gives back for what its closure returns: a predicate (`bool`) gives
/// the matching line; a picker (`Option<T>`) gives what it picked, typically the
/// event's fields:
/// `|l| match &l.event { Event::Move(m) if m.vip == VIP => Some(m.clone()), _ => None }`.
pub trait Pick {
    /// What the wait returns.
    type Out;
    /// What `line` gives, if it is the one waited for.
    fn pick(self, line: &Line) -> Option<Self::Out>;
}

impl Pick for bool {
    type Out = Line;
    fn pick(self, line: &Line) -> Option<Line> {
        self.then(|| line.clone())
    }
}

impl<T> Pick for Option<T> {
    type Out = T;
    fn pick(self, _: &Line) -> Option<T> {
        self
    }
}

/// `s`, a test's address constant, as an address.
pub fn ip_addr(s: &str) -> IpAddr {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} is not an address: {e}"))
}

/// Whether `l` is a received route of `prefix` announced via `next_hop`.
pub fn is_route(l: &Line, prefix: &str, next_hop: &str) -> bool {
    matches!(&l.event, Event::Update(u)
        if u.action == Action::Announce && u.prefix == prefix && u.next_hop == Some(ip_addr(next_hop)))
}

/// Whether `l` is a received route (any prefix) via `next_hop`.
pub fn is_route_via(l: &Line, next_hop: &str) -> bool {
    matches!(&l.event, Event::Update(u) if u.next_hop == Some(ip_addr(next_hop)))
}

/// Whether `l` is a received withdrawal of `prefix`.
pub fn is_withdraw(l: &Line, prefix: &str) -> bool {
    matches!(&l.event, Event::Update(u) if u.action == Action::Withdraw && u.prefix == prefix)
}

/// The peer a session or route line is about (`peer`); `None` for other lines.
pub fn peer(e: &Event) -> Option<IpAddr> {
    match e {
        Event::State(x) => Some(x.peer),
        Event::Established(x) => Some(x.peer),
        Event::Update(x) => Some(x.peer),
        Event::AttributeErrors(x) => Some(x.peer),
        Event::EndOfRib(x) | Event::EndOfRibSent(x) | Event::RouteRefreshReceived(x) => {
            Some(x.peer)
        }
        Event::UpdateSent(x) => Some(x.peer),
        Event::NotificationSent(x) | Event::NotificationReceived(x) => Some(x.peer),
        Event::Down(x) => Some(x.peer),
        Event::ConnectionError(x) => Some(x.peer),
        Event::RoutesReceived(x) => Some(x.peer),
        _ => None,
    }
}

/// Whether `l` is about peer `addr`.
pub fn is_from(l: &Line, addr: &str) -> bool {
    peer(&l.event) == Some(ip_addr(addr))
}

/// `lines` as printed, one a line, for failure messages.
pub fn dump(lines: &[Line]) -> String {
    lines
        .iter()
        .map(Line::to_json)
        .collect::<Vec<_>>()
        .join("\n")
}
