//! The join of a trial's requests and the children's JSON logs: the failover and
//! the failback (from the requests), where the time went (the watcher's verdict,
//! its move, its UPDATE, the route programmed: from the logs, on the one clock of
//! the machine), the timeline's markers, and whether the trial met its
//! scenario's expectation. Generic: what differs between scenarios is read from
//! their [`Scenario`] value.

use hopwatch_load::{AnalysisConfig, Event, Record, analyze};
use serde_json::Value;

use crate::lab::Lab;
use crate::procs::{events, ts};
use crate::scenarios::{Expect, Move, Scenario, Steps};
use crate::trial::{Marker, Trial};

fn ms(from_us: u64, to_us: u64) -> f64 {
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
        let events_in: Vec<Event> = steps.event.iter().cloned().collect();
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
            outages: summary.outages.clone(),
            markers: Vec::new(),
            records: Vec::new(),
        };
        if let Some(e) = &steps.event {
            t.markers.push(marker(e.name.clone(), ev, "event"));
        }
        t.markers.extend(steps.markers);
        let wev = events(&self.watcher_log());
        let rev = self.programmed_events();
        let (vip, ws1, ws2) = (self.layout.vip_prefix, self.layout.ws1, self.layout.ws2);
        let window = |v: &&Value| ts(v) >= ev && ts(v) <= t.end_us.max(ev) + 2_000_000;
        // A move between the start of the load and the injected event is a false
        // move: the trial's figures would measure something else, so say so.
        if t.error.is_none()
            && ev > 0
            && let Some(m) = wev.iter().find(|v| {
                ts(v) >= t.start_us && ts(v) < ev && v["event"] == "move" && v["vip"] == vip
            })
        {
            let from = m["from"].as_str().unwrap_or("?");
            let why = wev
                .iter()
                .rev()
                .find(|v| {
                    ts(v) <= ts(m)
                        && v["event"] == "health"
                        && v["backend"] == from
                        && v["to"] == "down"
                })
                .and_then(|v| v["error"].as_str())
                .unwrap_or("no health verdict");
            t.error = Some(format!(
                "the watcher moved the VIP {from}→{} ({}) {:.0} ms before the failure was \
                 injected ({from}: {why}): a false move; is this machine overloaded?",
                m["to"].as_str().unwrap_or("?"),
                m["reason"].as_str().unwrap_or("?"),
                ms(ts(m), ev)
            ));
        }
        if sc.moves() && ev > 0 {
            // Failover: the analysis's outage (or switch) the event started, ending on ws2.
            t.failover_ms = summary
                .outages
                .iter()
                .find(|o| o.event.as_deref() == Some(t.event.as_str()))
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
                .find(|v| v["event"] == "health" && v["backend"] == "ws1" && v["to"] == "down");
            if let Some(d) = detect.filter(|_| sc.moves == Move::Detected) {
                t.detection_ms = Some(ms(ev, ts(d)));
                t.markers
                    .push(marker("ws1 down (watcher)", ts(d), "detect"));
            }
            let mut update_us = None;
            if let Some(m) = wev.iter().filter(window).find(|v| is_move(v, vip, "ws2")) {
                let mts = ts(m);
                t.decision_ms = Some(ms(ev, mts));
                t.markers.push(marker(
                    format!("move ws1→ws2 ({})", m["reason"].as_str().unwrap_or("")),
                    mts,
                    "move",
                ));
                if let Some(u) = wev.iter().find(|v| ts(v) >= mts && is_update_to(v, ws2)) {
                    t.update_ms = Some(ms(mts, ts(u)));
                    update_us = Some(ts(u));
                    t.markers.push(marker("UPDATE sent", ts(u), "update"));
                }
            }
            if let Some(p) = rev
                .iter()
                .filter(window)
                .find(|v| is_programmed_only(v, vip, ws2))
            {
                t.programmed_ms = Some(ms(ev, ts(p)));
                t.route_server_ms = update_us.map(|u| ms(u, ts(p)));
                t.markers
                    .push(marker(format!("programmed {ws2}"), ts(p), "programmed"));
            }
            // The observer: another peer of the route server, seeing the move.
            if let Some(o) = events(&self.procs.log("observer"))
                .iter()
                .filter(window)
                .find(|v| v["event"] == "update" && v["prefix"] == vip && v["next_hop"] == ws2)
            {
                t.markers
                    .push(marker(format!("observer got {ws2}"), ts(o), "programmed"));
            }
            let back = steps.back_us.unwrap_or(ev);
            if let Some(m) = wev
                .iter()
                .filter(window)
                .find(|v| ts(v) >= back && is_move(v, vip, "ws1"))
            {
                t.failback_reason = m["reason"].as_str().map(str::to_string);
                t.markers.push(marker(
                    format!("move ws2→ws1 ({})", m["reason"].as_str().unwrap_or("")),
                    ts(m),
                    "move",
                ));
            }
            if let Some(p) = rev
                .iter()
                .filter(window)
                .find(|v| ts(v) >= back && is_programmed_only(v, vip, ws1))
            {
                t.markers
                    .push(marker(format!("programmed {ws1}"), ts(p), "programmed"));
            }
        }
        if sc.expect == Expect::NoFailbackBeforeHold && ev > 0 {
            // Every failback must come at least the hold after ws1's latest `up`.
            let hold_ms = self.hold.as_secs_f64() * 1000.0;
            let mut shortest: Option<f64> = None;
            for m in wev.iter().filter(window).filter(|v| is_move(v, vip, "ws1")) {
                let up = wev
                    .iter()
                    .filter(|v| {
                        ts(v) >= ev
                            && ts(v) <= ts(m)
                            && v["event"] == "health"
                            && v["backend"] == "ws1"
                            && v["to"] == "up"
                    })
                    .map(ts)
                    .max();
                if let Some(up) = up {
                    let d = ms(up, ts(m));
                    shortest = Some(shortest.map_or(d, |s: f64| s.min(d)));
                }
            }
            t.failback_after_up_ms = shortest;
            // 2% of slack for the timer's granularity.
            t.early_failback = Some(shortest.is_some_and(|d| d < hold_ms * 0.98));
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
            };
        t.markers.sort_by_key(|m| m.ts_us);
        t.records = records;
        t
    }
}

/// Whether `v` is the watcher moving `vip` to backend `to`.
pub fn is_move(v: &Value, vip: &str, to: &str) -> bool {
    v["event"] == "move" && v["to"] == to && v["vip"] == vip
}

/// Whether `v` is an UPDATE the watcher sent with next hop `nh`.
pub fn is_update_to(v: &Value, nh: &str) -> bool {
    v["event"] == "update_sent"
        && v["announce"]
            .as_array()
            .is_some_and(|a| a.iter().any(|r| r["next_hop"] == nh))
}

/// Whether `v` is `vip`'s route programmed to `nh` alone.
pub fn is_programmed_only(v: &Value, vip: &str, nh: &str) -> bool {
    v["event"] == "programmed"
        && v["prefix"] == vip
        && v["next_hops"]
            .as_array()
            .is_some_and(|a| a.len() == 1 && a[0] == nh)
}
