//! What the watcher prints about what the route servers send it. The watcher only
//! announces; what it receives is for people to look at, and a route server can
//! send a great deal of it: a hostile one sent 647,250 prefixes, and the watcher
//! printed 647,250 JSON lines (issue 10). So, per route server:
//!
//! - a route for one of our VIPs (another watcher's, passed on by the route server)
//!   gets its own `update` line, as does End-of-RIB, route refresh and an
//!   `attribute_errors` line: at most [`LINES_PER_WINDOW`] of these a
//!   [`WINDOW`], the rest counted as `lines_suppressed`;
//! - any other route is only counted, and the counts are printed as one
//!   `routes_received` line (`foreign_announced`, `foreign_withdrawn`,
//!   `lines_suppressed`, `since_us`) when the window is over, at End-of-RIB, and
//!   when the session goes down.
//!
//! So a route server costs at most `LINES_PER_WINDOW + 2` lines a second, whatever
//! it sends. Session events (state, established, down, ...) are printed as they
//! come: they need a new connection each, which the watcher itself paces.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use hopwatch_bgp::Prefix;
use hopwatch_bgp_driver::{DriverEvent, EventKind};
use hopwatch_events::bgp::Action;
use hopwatch_events::watcher::RoutesReceived;
use hopwatch_events::{Event, Line};

use hopwatch_daemon::json;

/// The window of the rate limit and of the summary.
pub const WINDOW: Duration = Duration::from_secs(1);

/// Lines about received routes and markers printed per route server per window,
/// beyond the summary: room for every VIP of a normal config at start.
pub const LINES_PER_WINDOW: u32 = 100;

/// What one route server sent in the current window.
#[derive(Debug, Default)]
struct Tally {
    /// When the window started (`None`: no window open).
    start: Option<(Instant, u64)>,
    /// Lines printed in this window.
    lines: u32,
    foreign_announced: u64,
    foreign_withdrawn: u64,
    suppressed: u64,
}

impl Tally {
    fn has_counts(&self) -> bool {
        self.foreign_announced + self.foreign_withdrawn + self.suppressed > 0
    }
}

/// The printer of received routes: our VIPs, and a tally per route server.
#[derive(Debug)]
pub struct Received {
    ours: HashSet<Prefix>,
    peers: BTreeMap<IpAddr, Tally>,
    /// Where lines go: `json::print`, or a test's counter.
    print: fn(&Line),
}

impl Default for Received {
    fn default() -> Self {
        Received {
            ours: HashSet::new(),
            peers: BTreeMap::new(),
            print: json::print,
        }
    }
}

impl Received {
    /// The VIPs whose received routes are printed one by one (again after a reload).
    pub fn set_ours(&mut self, vips: impl IntoIterator<Item = Prefix>) {
        self.ours = vips.into_iter().collect();
    }

    /// Prints the lines of one driver event, or counts them.
    pub fn event(&mut self, e: &DriverEvent, now: Instant) {
        let print = self.print;
        match &e.kind {
            EventKind::UpdateReceived {
                update,
                attr_errors,
            } => {
                let t = open(&mut self.peers, print, e, now);
                for p in update.withdrawn_all() {
                    if self.ours.contains(&p) {
                        emit(
                            print,
                            t,
                            json::route_line(e.ts_us, e.peer, Action::Withdraw, p, None, None),
                        );
                    } else {
                        t.foreign_withdrawn += 1;
                    }
                }
                for (p, nh) in update.announced() {
                    if self.ours.contains(&p) {
                        let attrs = Some(&update.attributes);
                        let line =
                            json::route_line(e.ts_us, e.peer, Action::Announce, p, Some(nh), attrs);
                        emit(print, t, line);
                    } else {
                        t.foreign_announced += 1;
                    }
                }
                if !attr_errors.is_empty() {
                    emit(print, t, json::attribute_errors(e, attr_errors));
                }
            }
            EventKind::EndOfRibReceived(_) | EventKind::RouteRefreshReceived(_) => {
                let t = open(&mut self.peers, print, e, now);
                // The routes before End-of-RIB are summed up before it, when the
                // budget allows (else at the end of the window).
                if t.has_counts() && t.lines < LINES_PER_WINDOW {
                    t.lines += 1;
                    summary(print, e.peer, t, e.ts_us);
                }
                for line in json::event_lines(e) {
                    emit(print, t, line);
                }
            }
            EventKind::Down(_) => {
                if let Some(t) = self.peers.get_mut(&e.peer) {
                    if t.has_counts() {
                        summary(print, e.peer, t, e.ts_us);
                    }
                    t.start = None;
                }
                json::event_lines(e).iter().for_each(print);
            }
            _ => json::event_lines(e).iter().for_each(print),
        }
    }

    /// Some route server's counts wait for their window to end.
    pub fn pending(&self) -> bool {
        self.peers.values().any(Tally::has_counts)
    }

    /// Prints the summary of every window that is over.
    pub fn flush_due(&mut self, now: Instant) {
        let print = self.print;
        for (peer, t) in &mut self.peers {
            if let Some((start, _)) = t.start
                && now.duration_since(start) >= WINDOW
            {
                if t.has_counts() {
                    summary(print, *peer, t, hopwatch_events::now_us());
                }
                t.start = None;
            }
        }
    }

    /// Prints every count not yet printed (at exit).
    pub fn flush_all(&mut self) {
        let print = self.print;
        let now_us = hopwatch_events::now_us();
        for (peer, t) in &mut self.peers {
            if t.has_counts() {
                summary(print, *peer, t, now_us);
            }
        }
    }
}

/// The tally of `e`'s peer, in a window that is open at `now`: an older window
/// is summed up and a new one opened.
fn open<'a>(
    peers: &'a mut BTreeMap<IpAddr, Tally>,
    print: fn(&Line),
    e: &DriverEvent,
    now: Instant,
) -> &'a mut Tally {
    let t = peers.entry(e.peer).or_default();
    match t.start {
        Some((start, _)) if now.duration_since(start) < WINDOW => {}
        Some(_) => {
            if t.has_counts() {
                summary(print, e.peer, t, e.ts_us);
            }
            t.start = Some((now, e.ts_us));
            t.lines = 0;
        }
        None => {
            t.start = Some((now, e.ts_us));
            t.lines = 0;
        }
    }
    t
}

/// Prints `line` within the window's budget, or counts it as suppressed.
fn emit(print: fn(&Line), t: &mut Tally, line: Line) {
    if t.lines < LINES_PER_WINDOW {
        t.lines += 1;
        print(&line);
    } else {
        t.suppressed += 1;
    }
}

/// Prints the counts of `t` and zeroes them.
fn summary(print: fn(&Line), peer: IpAddr, t: &mut Tally, ts_us: u64) {
    print(&Line::at(
        ts_us,
        Event::RoutesReceived(RoutesReceived {
            peer,
            foreign_announced: t.foreign_announced,
            foreign_withdrawn: t.foreign_withdrawn,
            lines_suppressed: t.suppressed,
            since_us: t.start.map(|(_, us)| us),
        }),
    ));
    t.foreign_announced = 0;
    t.foreign_withdrawn = 0;
    t.suppressed = 0;
}

#[cfg(test)]
mod tests {
    use super::*;
    use hopwatch_bgp::Update;

    fn quiet() -> Received {
        Received {
            print: |_| {},
            ..Received::default()
        }
    }

    fn update(peer: &str, prefixes: &[&str]) -> DriverEvent {
        let mut u = Update::default();
        u.attributes.next_hop = Some(std::net::Ipv4Addr::new(192, 0, 2, 1));
        u.nlri = prefixes.iter().filter_map(|p| p.parse().ok()).collect();
        DriverEvent {
            ts_us: 1,
            peer: peer.parse().unwrap_or([0, 0, 0, 0].into()),
            kind: EventKind::UpdateReceived {
                update: u,
                attr_errors: vec![],
            },
        }
    }

    #[test]
    fn foreign_routes_are_counted_and_ours_are_not() {
        let mut r = quiet();
        r.set_ours(["100.64.0.1/32".parse().unwrap_or_else(|e| panic!("{e}"))]);
        let now = Instant::now();
        r.event(
            &update("127.0.0.2", &["198.18.0.1/32", "100.64.0.1/32"]),
            now,
        );
        let t = &r.peers[&"127.0.0.2".parse::<IpAddr>().unwrap_or([0, 0, 0, 0].into())];
        assert_eq!((t.foreign_announced, t.lines), (1, 1));
        assert!(r.pending());
        r.flush_due(now + WINDOW);
        assert!(!r.pending());
    }

    #[test]
    fn lines_past_the_budget_are_suppressed_and_counted() {
        let mut r = quiet();
        r.set_ours(["100.64.0.1/32".parse().unwrap_or_else(|e| panic!("{e}"))]);
        let now = Instant::now();
        for _ in 0..LINES_PER_WINDOW + 5 {
            r.event(&update("127.0.0.2", &["100.64.0.1/32"]), now);
        }
        let t = &r.peers[&"127.0.0.2".parse::<IpAddr>().unwrap_or([0, 0, 0, 0].into())];
        assert_eq!((t.lines, t.suppressed), (LINES_PER_WINDOW, 5));
        // The next window prints again.
        r.event(&update("127.0.0.2", &["100.64.0.1/32"]), now + WINDOW);
        let t = &r.peers[&"127.0.0.2".parse::<IpAddr>().unwrap_or([0, 0, 0, 0].into())];
        assert_eq!((t.lines, t.suppressed), (1, 0));
    }
}
