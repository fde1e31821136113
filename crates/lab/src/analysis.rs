//! The join of a trial's requests and the children's JSON logs: the failover and
//! the failback (from the requests), where the time went (the watcher's verdict,
//! its move, its UPDATE, the route programmed: from the logs, on the one clock of
//! the machine), the timeline's markers, and whether the trial met its
//! scenario's expectation. Generic: what differs between scenarios is read from
//! their [`Scenario`] value.

use hopwatch_events::watcher::{Health, HealthChange, Move as MoveLine};
use hopwatch_events::{Event, Line};
// The injected failures, as the load analysis calls them; `Event` is a line's.
use hopwatch_load::{AnalysisConfig, Event as Injected, Record, analyze};

use crate::lab::Lab;
use crate::procs::{events, is_ip};
use crate::scenarios::{Expect, Move, Scenario, Steps};
use crate::topology::Watcher;
use crate::trial::{Marker, Trial};

/// From `from_us` to `to_us`, in ms.
pub(crate) fn ms(from_us: u64, to_us: u64) -> f64 {
    (to_us as f64 - from_us as f64) / 1000.0
}

fn marker(label: impl Into<String>, ts_us: u64, kind: &'static str) -> Marker {
    Marker::new(label, ts_us, kind)
}

impl Lab {
    /// Joins trial `n` of `sc`: its requests, its steps and the error that ended it
    /// early, if any.
    pub fn analyse(
        &self,
        sc: &Scenario,
        n: usize,
        records: Vec<Record>,
        steps: Steps,
        error: Option<String>,
    ) -> Trial {
        let events_in: Vec<Injected> = steps.event.iter().cloned().collect();
        let summary = analyze(
            &records,
            &events_in,
            &AnalysisConfig {
                asked_rate: Some(self.rate),
                // Requests in flight when the failure is injected fail with it.
                event_grace_us: 100_000,
                ..AnalysisConfig::default()
            },
        );
        let ev = steps.event.as_ref().map_or(0, |e| e.ts_us);
        let mut t = Trial {
            scenario: sc.name.into(),
            n,
            start_us: summary.first_scheduled_us.unwrap_or(0),
            end_us: summary.last_scheduled_us.unwrap_or(0),
            event: steps
                .event
                .as_ref()
                .map_or_else(String::new, |e| e.name.clone()),
            event_us: ev,
            pass: false,
            error,
            requests: summary.requests,
            failed_requests: summary.failed,
            failover_ms: None,
            failback_ms: None,
            detection_ms: None,
            decision_ms: None,
            update_ms: None,
            programmed_ms: None,
            route_server_ms: None,
            failback_after_up_ms: None,
            failback_reason: None,
            early_failback: None,
            takeover_ms: steps.takeover_ms,
            moves_seen: None,
            vips: None,
            answered_by_ws2: None,
            outages: summary.outages.clone(),
            markers: Vec::new(),
            records: Vec::new(),
            cpu: Vec::new(),
        };
        if let Some(e) = &steps.event {
            t.markers.push(marker(e.name.clone(), ev, "event"));
        }
        t.markers.extend(steps.markers);
        let wev = events(&self.log_of(sc.decider));
        let rev = self.programmed_events();
        let (vip, ws1, ws2) = (self.layout.vip_prefix, self.layout.ws1, self.layout.ws2);
        let window = |l: &&Line| l.ts_us >= ev && l.ts_us <= t.end_us.max(ev) + 2_000_000;
        // A move between the start of the load and the injected event is a false
        // move: the trial's figures would measure something else, so say so.
        if t.error.is_none()
            && ev > 0
            && let Some((mts, m)) = wev
                .iter()
                .filter(|l| l.ts_us >= t.start_us && l.ts_us < ev)
                .find_map(|l| move_of(l, vip).map(|m| (l.ts_us, m)))
        {
            let from = m.from.as_deref().unwrap_or("?");
            let why = wev
                .iter()
                .rev()
                .filter(|l| l.ts_us <= mts)
                .find_map(|l| health_of(l, from, Health::Down))
                .and_then(|h| h.error.as_deref())
                .unwrap_or("no health verdict");
            t.error = Some(format!(
                "the watcher moved the VIP {from}→{} ({}) {:.0} ms before the failure was \
                 injected ({from}: {why}): a false move; is this machine overloaded?",
                m.to.as_deref().unwrap_or("?"),
                m.reason,
                ms(mts, ev)
            ));
        }
        if sc.moves() && ev > 0 {
            // Failover: the analysis's outage (or switch) the event started, ending on
            // ws2. One that ended on ws1 (healed before the route moved: under a
            // route server whose programming takes seconds) is no failover, and the
            // trial says so rather than time it.
            let outage = summary
                .outages
                .iter()
                .find(|o| o.event.as_deref() == Some(t.event.as_str()));
            if let Some(o) = outage.filter(|o| o.after.as_deref() == Some("ws1"))
                && t.error.is_none()
            {
                t.error = Some(format!(
                    "the outage ended on ws1, where it started ({:.1} ms, {} failed): ws1 \
                     came back before the route to ws2 was in use, so this is no failover",
                    o.duration_ms.unwrap_or(0.0),
                    o.failed_requests
                ));
            }
            t.failover_ms = outage
                .filter(|o| o.after.as_deref() != Some("ws1"))
                .and_then(|o| o.duration_ms)
                .or_else(|| {
                    records
                        .iter()
                        .find(|r| {
                            r.sent_us >= ev && r.is_success() && r.backend.as_deref() == Some("ws2")
                        })
                        .map(|r| ms(ev, r.sent_us))
                });
            if let Some(back) = steps.back_us {
                t.failback_ms = records
                    .iter()
                    .find(|r| {
                        r.sent_us >= back && r.is_success() && r.backend.as_deref() == Some("ws1")
                    })
                    .map(|r| ms(back, r.sent_us));
            }
            // A drain is decided, not detected: ws1 goes down only when stopped later.
            let detect = wev
                .iter()
                .filter(window)
                .find(|l| health_of(l, "ws1", Health::Down).is_some());
            if let Some(d) = detect.filter(|_| sc.moves == Move::Detected) {
                t.detection_ms = Some(ms(ev, d.ts_us));
                t.markers
                    .push(marker("ws1 down (watcher)", d.ts_us, "detect"));
            }
            let mut update_us = None;
            let mut move_us = None;
            if let Some((mts, m)) = wev
                .iter()
                .filter(window)
                .find_map(|l| moved_to(l, vip, "ws2").map(|m| (l.ts_us, m)))
            {
                t.decision_ms = Some(ms(ev, mts));
                move_us = Some(mts);
                t.markers
                    .push(marker(format!("move ws1→ws2 ({})", m.reason), mts, "move"));
                if let Some(u) = wev.iter().find(|l| l.ts_us >= mts && is_update_to(l, ws2)) {
                    t.update_ms = Some(ms(mts, u.ts_us));
                    update_us = Some(u.ts_us);
                    t.markers.push(marker("UPDATE sent", u.ts_us, "update"));
                }
            }
            // Forwarding mode: the route stays on the watcher; the decider's own
            // forwarding routes changing is the programming.
            if self.layout.forward
                && let Some(mts) = move_us
                && let Some(f) = wev
                    .iter()
                    .find(|l| l.ts_us >= mts && matches!(l.event, Event::Forwarded(_)))
            {
                t.programmed_ms = Some(ms(ev, f.ts_us));
                t.markers
                    .push(marker("forwarding to ws2", f.ts_us, "programmed"));
            }
            if let Some(p) = rev
                .iter()
                .filter(window)
                .find(|l| is_programmed_only(l, vip, ws2))
            {
                t.programmed_ms = Some(ms(ev, p.ts_us));
                t.route_server_ms = update_us.map(|u| ms(u, p.ts_us));
                t.markers
                    .push(marker(format!("programmed {ws2}"), p.ts_us, "programmed"));
            }
            // The observer: another peer of the route server, seeing the move.
            if let Some(o) = events(&self.procs.log("observer"))
                .iter()
                .filter(window)
                .find(|l| is_route_to(l, vip, ws2))
            {
                t.markers
                    .push(marker(format!("observer got {ws2}"), o.ts_us, "programmed"));
            }
            let back = steps.back_us.unwrap_or(ev);
            if let Some((mts, m)) = wev
                .iter()
                .filter(window)
                .filter(|l| l.ts_us >= back)
                .find_map(|l| moved_to(l, vip, "ws1").map(|m| (l.ts_us, m)))
            {
                t.failback_reason = Some(m.reason.clone());
                t.markers
                    .push(marker(format!("move ws2→ws1 ({})", m.reason), mts, "move"));
            }
            if let Some(p) = rev
                .iter()
                .filter(window)
                .find(|l| l.ts_us >= back && is_programmed_only(l, vip, ws1))
            {
                t.markers
                    .push(marker(format!("programmed {ws1}"), p.ts_us, "programmed"));
            }
        }
        if sc.expect == Expect::NoFailbackBeforeHold && ev > 0 {
            // Every failback must come at least the hold after ws1's latest `up`.
            let hold_ms = self.hold.as_secs_f64() * 1000.0;
            let mut shortest: Option<f64> = None;
            for m in wev.iter().filter(window).filter(|l| is_move(l, vip, "ws1")) {
                let up = wev
                    .iter()
                    .filter(|l| l.ts_us >= ev && l.ts_us <= m.ts_us)
                    .filter(|l| health_of(l, "ws1", Health::Up).is_some())
                    .map(|l| l.ts_us)
                    .max();
                if let Some(up) = up {
                    let d = ms(up, m.ts_us);
                    shortest = Some(shortest.map_or(d, |s: f64| s.min(d)));
                }
            }
            t.failback_after_up_ms = shortest;
            // 2% of slack for the timer's granularity.
            t.early_failback = Some(shortest.is_some_and(|d| d < hold_ms * 0.98));
        }
        if sc.expect == Expect::Steady && ev > 0 {
            let end = t.end_us.max(ev) + 2_000_000;
            let moves = Watcher::BOTH
                .iter()
                .flat_map(|w| events(&self.log_of(*w)))
                .filter(|l| l.ts_us >= ev && l.ts_us <= end && move_of(l, vip).is_some())
                .count();
            // A watcher's takeover in forwarding mode changes the route to the
            // standby: that is no move of the VIP between backends.
            let homes: &[&str] = if self.layout.forward {
                &[self.layout.watcher, self.layout.standby]
            } else {
                &[self.layout.ws1]
            };
            let away = rev
                .iter()
                .filter(window)
                .filter(|l| matches!(l.event, Event::Programmed(_)))
                .filter(|l| !homes.iter().any(|h| is_programmed_only(l, vip, h)))
                .count();
            t.moves_seen = Some((moves + away) as u64);
        }
        if sc.expect == Expect::NothingToWs2 {
            t.answered_by_ws2 = Some(
                records
                    .iter()
                    .filter(|r| r.backend.as_deref() == Some("ws2"))
                    .count() as u64,
            );
        }
        // The route stays on the watcher in forwarding mode: no VIP moves.
        if sc.moves() && ev > 0 && !self.layout.forward {
            self.add_vips_move(&mut t, sc, &wev);
        }
        t.pass = t.error.is_none()
            && match sc.expect {
                Expect::FailsOverAndBack { .. } => {
                    t.failover_ms.is_some() && t.failback_ms.is_some()
                }
                Expect::NoFailedRequests => {
                    t.failed_requests == 0 && (!sc.moves() || t.failover_ms.is_some())
                }
                Expect::NoFailbackBeforeHold => {
                    t.early_failback == Some(false) && t.failback_after_up_ms.is_some()
                }
                Expect::Steady => t.failed_requests == 0 && t.moves_seen == Some(0),
                Expect::NothingToWs2 => t.failed_requests == 0 && t.answered_by_ws2 == Some(0),
                Expect::TakesOver => t.takeover_ms.is_some(),
            };
        t.markers.sort_by_key(|m| m.ts_us);
        t.records = records;
        t
    }
}

impl Lab {
    /// `--vips`: every VIP's move ([`crate::vips`]) into the trial, its last
    /// programming on the timeline, and a VIP left behind as the trial's failure.
    fn add_vips_move(&self, t: &mut Trial, sc: &Scenario, wev: &[Line]) {
        let v = self.vips_move(sc, t.event_us, t.end_us.max(t.event_us) + 2_000_000, wev);
        if v.vips > 1
            && let Some(ts) = v.last_programmed_us
        {
            let label = format!("all {} VIPs programmed {}", v.vips, self.layout.ws2);
            t.markers.push(marker(label, ts, "programmed"));
        }
        if t.error.is_none() {
            t.error = v.left_behind(self.layout.ws2);
        }
        t.vips = Some(v);
    }
}

/// The watcher's move of `vip`, if `l` is one.
fn move_of<'a>(l: &'a Line, vip: &str) -> Option<&'a MoveLine> {
    match &l.event {
        Event::Move(m) if m.vip == vip => Some(m),
        _ => None,
    }
}

/// The watcher's move of `vip` to backend `to`, if `l` is one.
fn moved_to<'a>(l: &'a Line, vip: &str, to: &str) -> Option<&'a MoveLine> {
    move_of(l, vip).filter(|m| m.to.as_deref() == Some(to))
}

/// The watcher's verdict that `backend` is now `to`, if `l` is one.
fn health_of<'a>(l: &'a Line, backend: &str, to: Health) -> Option<&'a HealthChange> {
    match &l.event {
        Event::Health(h) if h.backend == backend && h.to == to => Some(h),
        _ => None,
    }
}

/// Whether `l` is the watcher moving `vip` to backend `to`.
pub fn is_move(l: &Line, vip: &str, to: &str) -> bool {
    moved_to(l, vip, to).is_some()
}

/// Whether `l` is an UPDATE the watcher sent with next hop `nh`.
pub fn is_update_to(l: &Line, nh: &str) -> bool {
    matches!(&l.event, Event::UpdateSent(u) if u.announce.iter().any(|r| is_ip(&r.next_hop, nh)))
}

/// Whether `l` is a received route of `prefix` via `nh` (the observer's view).
pub fn is_route_to(l: &Line, prefix: &str, nh: &str) -> bool {
    matches!(&l.event, Event::Update(u)
        if u.prefix == prefix && u.next_hop.is_some_and(|a| is_ip(&a, nh)))
}

/// Whether `l` is `vip`'s route programmed to `nh` alone.
pub fn is_programmed_only(l: &Line, vip: &str, nh: &str) -> bool {
    matches!(&l.event, Event::Programmed(p)
        if p.prefix == vip
            && matches!(p.next_hops.as_deref(), Some([only]) if is_ip(only, nh)))
}
