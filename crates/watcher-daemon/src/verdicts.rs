//! A probe's result taken (once, whatever the number of VIPs that share the probe)
//! and, when it changes the verdict, handed to every VIP's engine that uses it.

use std::time::{Duration, Instant};

use hopwatch_daemon::json;
use hopwatch_events::watcher as ev;
use hopwatch_events::{Event, Line};
use hopwatch_health::{Health, Report, Transition};
use hopwatch_watcher::Move;

use crate::moves::Untold;
use crate::probes::User;
use crate::{Watcher, micros, syslog, vip};

/// A stalled probe is logged at most this often: it says the watcher is short of
/// CPU, which one line a second says as well as a hundred.
const STALL_LOG_EVERY: Duration = Duration::from_secs(1);

impl Watcher {
    /// Takes one probe result: recorded on its probe; a change of verdict goes to
    /// every backend that takes the probe's verdicts, and the moves it causes leave
    /// together before anything is printed.
    pub(crate) fn on_report(&mut self, r: Report) {
        let Some(probe) = self.probes.get_mut(r.id) else {
            // A checker that a reload stopped: its last reports find nothing.
            return;
        };
        probe.record(&r);
        if r.stalled {
            self.log_stall(&r);
        }
        let Some(t) = r.transition else { return };
        let up = match t.to {
            Health::Up => true,
            Health::Down => false,
            Health::Unknown => return,
        };
        self.engines_changed = true;
        let users = self
            .probes
            .get(r.id)
            .map(|p| p.users.clone())
            .unwrap_or_default();
        let moves = self.decide(&users, r.at, up);
        // The route servers first: printing a thousand lines can wait, the UPDATE
        // cannot (see `moves`).
        let decided_us = self.send_moves(&moves, Some(r.ts_us));
        if moves.is_empty() {
            // No move, but a backend down or up again changes where its
            // established flows go in forwarding mode.
            self.sync_forwarding();
        }
        let ts_us = r.ts_us;
        self.untold.push(Untold::Health {
            users,
            report: Box::new(r),
            transition: t,
        });
        self.tell_later(moves, decided_us, Some(ts_us));
    }

    /// Each user's engine told that its backend is `up` (or down) at `at`; the
    /// moves that follow.
    fn decide(&mut self, users: &[User], at: Instant, up: bool) -> Vec<(usize, Move)> {
        users
            .iter()
            .filter_map(|&(v, b)| Some((v, self.vips.get_mut(v)?.engine.health(at, b, up)?)))
            .collect()
    }

    /// Gives every backend whose engine does not hold its probe's verdict that
    /// verdict: a VIP added or rebuilt by a reload that names a check already
    /// probed learns what the probe knows at once, not at its next change.
    pub(crate) fn catch_up(&mut self) {
        let now = Instant::now();
        let mut moves = Vec::new();
        for v in 0..self.vips.len() {
            for b in 0..self.vips[v].backends.len() {
                let Some(probe) = self.probes.get(self.vips[v].backends[b].probe) else {
                    continue;
                };
                let (up, verdict) = match probe.verdict {
                    Health::Up => (true, hopwatch_watcher::Health::Up),
                    Health::Down => (false, hopwatch_watcher::Health::Down),
                    Health::Unknown => continue,
                };
                let engine = &mut self.vips[v].engine;
                if engine.status().backends[b].health == verdict {
                    continue;
                }
                self.engines_changed = true;
                if let Some(m) = engine.health(now, b, up) {
                    moves.push((v, m));
                }
                let labels = &self.vips[v].backends[b].labels;
                self.metrics
                    .backend_up
                    .get_or_create(labels)
                    .set(i64::from(up));
            }
        }
        self.carry_out(moves, None);
    }

    /// A change of verdict: a `health` line and the metric per backend that uses
    /// the probe (the contract is per VIP), one log line for people.
    pub(crate) fn tell_health(&self, users: &[User], r: &Report, t: Transition) {
        let up = t.to == Health::Up;
        let mut lines = Vec::with_capacity(users.len());
        for &(v, b) in users {
            let Some(be) = self.vips.get(v).and_then(|vip| vip.backends.get(b)) else {
                continue;
            };
            self.metrics
                .backend_up
                .get_or_create(&be.labels)
                .set(i64::from(up));
            lines.push(Line::at(
                r.ts_us,
                Event::Health(ev::HealthChange {
                    vip: be.labels.vip.clone(),
                    backend: be.labels.backend.clone(),
                    from: vip::probe_health(t.from),
                    to: vip::probe_health(t.to),
                    error: r.error.clone(),
                    latency_us: micros(r.latency),
                }),
            ));
        }
        // Serialised on the writer thread (see `moves`).
        json::print_later(move || lines);
        let Some(text) = self.health_text(users, r, up) else {
            return;
        };
        tracing::info!("{text}");
        if let Some(s) = &self.syslog {
            let sev = if up {
                syslog::Severity::Notice
            } else {
                syslog::Severity::Warning
            };
            s.send(sev, "health", &text);
        }
    }

    /// "100.64.0.1/32 ws1 is down (connect: refused)" for a probe one VIP uses;
    /// "ws1 (http://10.10.0.4/) is down (...) for 1000 VIPs" for a shared one.
    fn health_text(&self, users: &[User], r: &Report, up: bool) -> Option<String> {
        let &(v, b) = users.first()?;
        let vip = self.vips.get(v)?;
        let be = vip.backends.get(b)?;
        let state = if up { "up" } else { "down" };
        let why = r
            .error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        Some(if users.len() == 1 {
            format!("{} {} is {state}{why}", vip.prefix, be.name)
        } else {
            format!(
                "{} ({}) is {state}{why} for {} VIPs",
                be.name,
                be.check,
                users.len()
            )
        })
    }

    /// A timeout the checker saw too late to trust (its process was not running):
    /// not a verdict, but the operator must know the watcher is starved.
    fn log_stall(&mut self, r: &Report) {
        if self
            .last_stall_log
            .is_some_and(|t| t.elapsed() < STALL_LOG_EVERY)
        {
            return;
        }
        let Some(probe) = self.probes.get(r.id) else {
            return;
        };
        let Some(be) = probe
            .users
            .first()
            .and_then(|&(v, b)| self.vips.get(v)?.backends.get(b))
        else {
            return;
        };
        self.last_stall_log = Some(Instant::now());
        json::print(&Line::at(
            r.ts_us,
            Event::ProbeStalled(ev::ProbeStalled {
                vip: be.labels.vip.clone(),
                backend: be.labels.backend.clone(),
                error: r.error.clone(),
                latency_us: micros(r.latency),
            }),
        ));
        let shared = match probe.users.len() {
            1 => String::new(),
            n => format!(", a probe {n} VIPs share"),
        };
        tracing::warn!(
            "{} {}: {}{shared} (this watcher is short of CPU; logged at most once a second)",
            be.labels.vip,
            be.labels.backend,
            r.error.as_deref().unwrap_or("")
        );
    }
}
