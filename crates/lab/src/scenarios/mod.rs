//! The scenarios: each is one [`Scenario`] value (its name, where it runs, what it
//! injects, what it must show, its help line) that the command line, `--help`, the
//! trials, the analysis, the table and the report all read. Adding a scenario is
//! writing its value and its steps in the file of its family and naming it in
//! [`ALL`]; nothing else changes.
//!
//! One file per family: [`backend`] (ws1's web server killed, hung, drained,
//! flapping), [`network`] (ws1 cut off at the network level, namespace lab only),
//! [`restart`] (a watcher or a route server instance restarted under load),
//! [`pair`] (the primary watcher killed or frozen, the standby disagreeing).

mod backend;
mod network;
mod pair;
mod restart;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use hopwatch_load::Event;

use crate::lab::Lab;
use crate::topology::Watcher;
use crate::trial::Marker;

/// Every scenario, in the order they run.
pub const ALL: &[&Scenario] = &[
    &backend::KILL,
    &backend::KILL_CLOSE,
    &backend::HANG,
    &network::BLACKHOLE,
    &network::DROP,
    &backend::DRAIN,
    &backend::FLAP,
    &restart::WATCHER,
    &restart::ROUTE_SERVER,
    &pair::WATCHER_KILL,
    &pair::WATCHER_FREEZE,
    &pair::WATCHER_KILL_THEN_BACKEND,
    &pair::WATCHER_CUT,
    &pair::DISAGREE,
];

/// A failure (or a planned change) the lab injects, and what it must show.
pub struct Scenario {
    /// The name on the command line, in the table and in the report.
    pub name: &'static str,
    /// Its line in `hopwatch lab --help`: what it does.
    pub help: &'static str,
    /// Where it can run.
    pub place: Place,
    /// What the web servers do with their connections during its trials.
    pub backends: Backends,
    /// How the VIP leaves ws1, which says what the analysis times.
    pub moves: Move,
    /// The watcher whose verdict and move the analysis times (the standby's when
    /// the primary is dead).
    pub decider: Watcher,
    /// What a trial must show to pass.
    pub expect: Expect,
    /// Its steps, on a lab at its steady state with the load running: inject,
    /// wait (bounded) for the effect, heal, wait for the return to ws1.
    pub run: for<'a> fn(&'a mut Lab) -> StepsFuture<'a>,
}

/// A scenario's steps, running.
pub type StepsFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<Steps>> + 'a>>;

/// Where a scenario can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// On loopback and in the namespace lab.
    Anywhere,
    /// Only in the namespace lab (`--netns`): it injects its failure in the network.
    Netns,
}

/// What the backends (`hopwatch web --connection`) do with a connection after an
/// answer: the watcher's crash detection must work with both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backends {
    /// HTTP/1.1 keep-alive.
    KeepAlive,
    /// `Connection: close` after every answer.
    Close,
}

impl Backends {
    /// `hopwatch web --connection`'s value.
    pub fn arg(self) -> &'static str {
        match self {
            Backends::KeepAlive => "keep-alive",
            Backends::Close => "close",
        }
    }
}

/// How the VIP leaves ws1 in a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// It stays (a restart under load): only failed requests count.
    Stays,
    /// The watcher detects ws1's failure and moves it: failover and failback are
    /// timed, and the watcher's health verdict as `detect`.
    Detected,
    /// The watcher is told to move it (a drain): failover and failback are timed;
    /// ws1 goes down only later, when it is stopped, so there is no `detect`.
    Decided,
}

/// What a trial must show to pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expect {
    /// A failover and a failback, both measured. With `timed_median_ms`, when the
    /// issue's targets apply (hopwatch's route server programming at once), the
    /// scenario's failover median must also be under it; with another route server
    /// or the cloud profile the figures are reported, not judged.
    FailsOverAndBack {
        /// The failover median's target, ms.
        timed_median_ms: Option<f64>,
    },
    /// No request fails (and, when the VIP moves, the move is measured).
    NoFailedRequests,
    /// No failback sooner than the hold after ws1's latest `up`.
    NoFailbackBeforeHold,
    /// No request fails, and neither watcher moves the VIP: the route stays on ws1
    /// (no move back and forth).
    Steady,
    /// No request fails and none is answered by ws2: the standby announces ws2 but
    /// the primary's route to ws1 stays the only one in use (no ECMP).
    NothingToWs2,
    /// The standby's route is used after the primary is cut off; the failed requests
    /// are what that costs (none in next-hop mode, whose route still points at a
    /// backend; the hold time and more in forwarding mode, whose route points at the
    /// watcher that is gone).
    TakesOver,
}

impl Scenario {
    /// Whether the VIP moves away from ws1 (so a failover and a failback are timed).
    pub fn moves(&self) -> bool {
        self.moves != Move::Stays
    }

    /// Whether it needs the namespace lab.
    pub fn needs_netns(&self) -> bool {
        self.place == Place::Netns
    }

    /// The failover median's target, ms, when the targets apply (`timed`).
    pub fn target_ms(&self, timed: bool) -> Option<f64> {
        match self.expect {
            Expect::FailsOverAndBack { timed_median_ms } if timed => timed_median_ms,
            _ => None,
        }
    }

    /// What a trial must show to pass, as the table says it.
    pub fn expectation(&self, timed: bool) -> String {
        match (self.expect, self.target_ms(timed)) {
            (_, Some(ms)) => format!("failover median < {ms} ms"),
            (Expect::FailsOverAndBack { .. }, None) => "fails over and back".into(),
            (Expect::NoFailedRequests, _) => "0 failed requests".into(),
            (Expect::NoFailbackBeforeHold, _) => "no failback before the hold".into(),
            (Expect::Steady, _) => "0 failed requests, no move".into(),
            (Expect::NothingToWs2, _) => "0 failed, 0 answered by ws2".into(),
            (Expect::TakesOver, _) => "the standby takes over".into(),
        }
    }
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// The scenario named `s` (the command line's `--scenario`).
pub fn parse(s: &str) -> Result<&'static Scenario, String> {
    ALL.iter()
        .copied()
        .find(|sc| sc.name == s.trim())
        .ok_or_else(|| {
            let names: Vec<_> = ALL.iter().map(|s| s.name).collect();
            format!("unknown scenario {s:?}; one of {}", names.join(", "))
        })
}

/// The names of the scenarios that run in `place`.
pub fn names(place: Place) -> Vec<&'static str> {
    ALL.iter()
        .filter(|sc| sc.place == place)
        .map(|sc| sc.name)
        .collect()
}

/// The `--help` lines of the scenarios that run in `place`, one a line.
pub fn help_lines(place: Place) -> String {
    ALL.iter()
        .filter(|sc| sc.place == place)
        .map(|sc| format!("  {:<25} {}\n", sc.name, sc.help))
        .collect()
}

/// What a scenario's steps tell the analysis.
#[derive(Debug, Default)]
pub struct Steps {
    /// The injected event, with its wall-clock time.
    pub event: Option<Event>,
    /// When ws1 was back (restarted, resumed, undrained, relinked).
    pub back_us: Option<u64>,
    /// Timeline markers of the steps.
    pub markers: Vec<Marker>,
    /// How long after the primary's death the route servers used the standby's
    /// route, ms, when the steps saw it.
    pub takeover_ms: Option<f64>,
}

impl Steps {
    /// The injected event `name`, at `ts_us`.
    pub fn event(&mut self, name: impl Into<String>, ts_us: u64) {
        self.event = Some(Event {
            ts_us,
            name: name.into(),
        });
    }

    /// A marker on the timeline.
    pub fn mark(&mut self, label: impl Into<String>, ts_us: u64, kind: &'static str) {
        self.markers.push(Marker::new(label, ts_us, kind));
    }

    /// ws1 back at `ts_us` (`label` on the timeline): the failback is timed from it.
    pub fn back(&mut self, label: impl Into<String>, ts_us: u64) {
        self.mark(label, ts_us, "back");
        self.back_us = Some(ts_us);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_has_a_name_of_its_own_and_parses_back() {
        for sc in ALL {
            assert_eq!(parse(sc.name).map(|p| p.name), Ok(sc.name));
            assert_eq!(ALL.iter().filter(|o| o.name == sc.name).count(), 1);
        }
        assert!(parse("nonsense").is_err());
    }

    #[test]
    fn the_expectations_read_as_before() {
        let by = |n| parse(n).map(|s| s.expectation(true)).unwrap_or_default();
        assert_eq!(by("kill"), "failover median < 15 ms");
        assert_eq!(by("hang"), "failover median < 80 ms");
        assert_eq!(by("blackhole"), "fails over and back");
        assert_eq!(by("drain"), "0 failed requests");
        assert_eq!(by("flap"), "no failback before the hold");
        let untimed = parse("kill")
            .map(|s| s.expectation(false))
            .unwrap_or_default();
        assert_eq!(untimed, "fails over and back");
    }
}
