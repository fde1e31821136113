//! The outage analysis: from the per-request [`Record`]s (and the injected
//! [`Event`]s, when there are any) to a [`Summary`] with every [`Outage`].
//!
//! Pure: no IO, no clock; every time comes from the records. That is what lets the
//! rules below be tested with tables of cases, and lets `hopwatch lab` run the same
//! analysis on a CSV written by another process.
//!
//! # The rules
//! Records are taken in schedule order (`scheduled_us`, ties kept in input order).
//! A request *succeeds* when it got a 2xx response; anything else (an error, another
//! status) is a *failure*. The *current backend* is the backend of the latest success
//! that named one; successes without a backend name never change it.
//!
//! - **Outage** ([`OutageKind::Outage`]): each maximal run of consecutive failures.
//!   - *failed requests*: the length of the run.
//!   - *before*: the current backend when the run began.
//!   - *end*: among the successes that follow the run (up to the next failure), the
//!     first one from a backend other than *before*; if there is none, the first
//!     success (the same backend came back). Successes from *before* that come first
//!     (stragglers: requests that were already on their way) are skipped, not
//!     counted as switches. No success after the run: the outage is unfinished
//!     (`end_us` and `duration_ms` are `None`).
//!   - *start*: the send time of the first failure, unless an injected event falls
//!     shortly around it: from [`AnalysisConfig::event_lookback_us`] before it to
//!     [`AnalysisConfig::event_grace_us`] after it (a request sent just before a
//!     kill fails with it). Then the start is the event's timestamp, so the duration
//!     is "from the injected failure to the first success from another backend". Of
//!     several such events the latest is taken; an event starts at most one outage,
//!     and never one that began before the previous outage ended.
//! - **Switch** ([`OutageKind::Switch`]): a success from a backend other than the
//!   current one, with no failure between: the route moved without loss (a drain, a
//!   graceful restart). *start*: an event in the lookback before the first success
//!   from the new backend, else the send time of the last success before it;
//!   *end*: the first success from the new backend; zero failed requests.
//!
//! Durations and times are send times (`sent_us`): the outage is over when a request
//! *sent* at `end_us` was served, whatever its latency.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::record::{ErrorKind, Event, Outcome, Record};

/// Knobs of the analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisConfig {
    /// How long before the first failure (or the first success from the new backend,
    /// for a switch) an injected event may be and still start the outage, µs.
    pub event_lookback_us: u64,
    /// How long after the first failure an event may be and still start the outage,
    /// µs (requests sent just before a kill fail with it).
    pub event_grace_us: u64,
    /// The rate that was asked for, requests per second, reported beside the
    /// achieved one.
    pub asked_rate: Option<f64>,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            event_lookback_us: 2_000_000,
            event_grace_us: 10_000,
            asked_rate: None,
        }
    }
}

/// Whether an [`Outage`] lost requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutageKind {
    /// A run of failed requests.
    Outage,
    /// The backend changed with no failed request.
    Switch,
}

/// One window of failures, or one switch of backend without failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outage {
    /// A run of failures, or a switch without one.
    pub kind: OutageKind,
    /// When it started, µs since the epoch (the event's timestamp, when one was
    /// attached; see the module doc).
    pub start_us: u64,
    /// The send time of the first failed request (`None` for a switch).
    pub first_failure_us: Option<u64>,
    /// The name of the injected event that started it, if any.
    pub event: Option<String>,
    /// The send time of the first success that ended it; `None`: unfinished.
    pub end_us: Option<u64>,
    /// `end_us - start_us` in milliseconds; `None`: unfinished.
    pub duration_ms: Option<f64>,
    /// How many requests failed in the window.
    pub failed_requests: u64,
    /// The failures by kind (`connect_refused`, `timeout`, `status_503`, ...).
    pub errors: BTreeMap<String, u64>,
    /// The backend that served before.
    pub before: Option<String>,
    /// The backend that served the request that ended it.
    pub after: Option<String>,
}

/// Quantiles of a set of durations, in milliseconds (nearest rank).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// How many values.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// Quantiles of `values_us` (microseconds), reported in milliseconds.
    pub fn of_us(mut values_us: Vec<u64>) -> Self {
        values_us.sort_unstable();
        let n = values_us.len();
        let rank = |per_mille: usize| -> f64 {
            // Nearest rank: the smallest value with at least p of them at or below.
            let idx = (per_mille * n).div_ceil(1000).saturating_sub(1);
            values_us.get(idx).map_or(0.0, |&v| v as f64 / 1000.0)
        };
        Self {
            count: n as u64,
            p50: rank(500),
            p90: rank(900),
            p99: rank(990),
            max: values_us.last().map_or(0.0, |&v| v as f64 / 1000.0),
        }
    }
}

/// Everything the analysis says about one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Requests scheduled (records).
    pub requests: u64,
    /// Requests actually sent (all but those refused by the in-flight limit).
    pub sent: u64,
    /// Successes (2xx).
    pub ok: u64,
    /// Failures (errors and other statuses).
    pub failed: u64,
    /// Failures by kind (`connect_refused`, `timeout`, `status_503`, ...).
    pub errors: BTreeMap<String, u64>,
    /// Successes per backend name.
    pub backends: BTreeMap<String, u64>,
    /// Successes whose body did not name a backend.
    pub ok_without_backend: u64,
    /// The first scheduled time, µs since the epoch.
    pub first_scheduled_us: Option<u64>,
    /// The last scheduled time, µs since the epoch.
    pub last_scheduled_us: Option<u64>,
    /// The rate asked for, requests per second (from [`AnalysisConfig::asked_rate`]).
    pub asked_rate: Option<f64>,
    /// Requests sent per second, between the first and the last send.
    pub achieved_rate: f64,
    /// Latency of the successful requests.
    pub latency_ms: Percentiles,
    /// `sent_us - scheduled_us` of every request: how late the injector was.
    pub schedule_lag_ms: Percentiles,
    /// Every outage and switch, in time order.
    pub outages: Vec<Outage>,
    /// Events that started no outage or switch.
    pub unmatched_events: Vec<Event>,
}

impl Summary {
    /// Requests were made and none succeeded: the target never answered well.
    /// (No request at all is no verdict: nothing was tried.)
    pub fn no_success(&self) -> bool {
        self.requests > 0 && self.ok == 0
    }
}

/// Runs the analysis. Records and events may come in any order.
pub fn analyze(records: &[Record], events: &[Event], config: &AnalysisConfig) -> Summary {
    let mut order: Vec<&Record> = records.iter().collect();
    order.sort_by_key(|r| r.scheduled_us);
    let mut events: Vec<(&Event, bool)> = events.iter().map(|e| (e, false)).collect();
    events.sort_by_key(|(e, _)| e.ts_us);

    let outages = find_outages(&order, &mut events, config);
    let mut summary = summarize(&order, config);
    summary.outages = outages;
    summary.unmatched_events = events
        .into_iter()
        .filter(|(_, used)| !used)
        .map(|(e, _)| e.clone())
        .collect();
    summary
}

/// Marks and returns the latest unused event in `(floor, ..]` and `[from, to]`.
fn take_event(
    events: &mut [(&Event, bool)],
    floor: Option<u64>,
    from: u64,
    to: u64,
) -> Option<Event> {
    let found = events.iter_mut().rev().find(|(e, used)| {
        !used && e.ts_us >= from && e.ts_us <= to && floor.is_none_or(|f| e.ts_us > f)
    })?;
    found.1 = true;
    Some(found.0.clone())
}

fn find_outages(
    order: &[&Record],
    events: &mut [(&Event, bool)],
    config: &AnalysisConfig,
) -> Vec<Outage> {
    let mut outages = Vec::new();
    let mut current: Option<&str> = None;
    let mut last_success_us: Option<u64> = None;
    // Events at or before the end of the previous outage are not attached again.
    let mut floor: Option<u64> = None;
    let mut i = 0;
    while let Some(r) = order.get(i) {
        if r.is_success() {
            if let Some(b) = r.backend.as_deref() {
                if let Some(c) = current.filter(|&c| c != b) {
                    let from = r.sent_us.saturating_sub(config.event_lookback_us);
                    let event = take_event(events, floor, from, r.sent_us);
                    let start_us = event
                        .as_ref()
                        .map(|e| e.ts_us)
                        .or(last_success_us)
                        .unwrap_or(r.sent_us);
                    outages.push(Outage {
                        kind: OutageKind::Switch,
                        start_us,
                        first_failure_us: None,
                        event: event.map(|e| e.name),
                        end_us: Some(r.sent_us),
                        duration_ms: Some(ms_between(start_us, r.sent_us)),
                        failed_requests: 0,
                        errors: BTreeMap::new(),
                        before: Some(c.to_string()),
                        after: Some(b.to_string()),
                    });
                    floor = Some(r.sent_us);
                }
                current = Some(b);
            }
            last_success_us = Some(r.sent_us);
            i += 1;
            continue;
        }
        // A run of failures: order[i..j].
        let run_len = order
            .get(i..)
            .unwrap_or_default()
            .iter()
            .take_while(|r| !r.is_success())
            .count();
        let j = i + run_len;
        let mut errors = BTreeMap::new();
        for f in order.get(i..j).unwrap_or_default() {
            if let Some(name) = f.outcome.failure_name() {
                *errors.entry(name).or_insert(0) += 1;
            }
        }
        let first_failure_us = r.sent_us;
        // The successes after it, up to the next failure: order[j..k].
        let span_len = order
            .get(j..)
            .unwrap_or_default()
            .iter()
            .take_while(|r| r.is_success())
            .count();
        let span = order.get(j..j + span_len).unwrap_or_default();
        let end_offset = span
            .iter()
            .position(|s| {
                current.is_some() && s.backend.is_some() && s.backend.as_deref() != current
            })
            .or(if span.is_empty() { None } else { Some(0) });
        let end = end_offset.and_then(|o| span.get(o));

        let from = first_failure_us.saturating_sub(config.event_lookback_us);
        let to = first_failure_us.saturating_add(config.event_grace_us);
        let event = take_event(events, floor, from, to);
        let start_us = event.as_ref().map_or(first_failure_us, |e| e.ts_us);
        let end_us = end.map(|e| e.sent_us);
        outages.push(Outage {
            kind: OutageKind::Outage,
            start_us,
            first_failure_us: Some(first_failure_us),
            event: event.map(|e| e.name),
            end_us,
            duration_ms: end_us.map(|e| ms_between(start_us, e)),
            failed_requests: run_len as u64,
            errors,
            before: current.map(str::to_string),
            after: end.and_then(|e| e.backend.clone()),
        });
        match (end, end_offset) {
            (Some(e), Some(o)) => {
                if let Some(b) = e.backend.as_deref() {
                    current = Some(b);
                }
                last_success_us = Some(e.sent_us);
                floor = Some(e.sent_us);
                i = j + o + 1;
            }
            _ => {
                floor = order.get(j.saturating_sub(1)).map(|r| r.sent_us);
                i = j;
            }
        }
    }
    outages
}

fn ms_between(start_us: u64, end_us: u64) -> f64 {
    end_us.saturating_sub(start_us) as f64 / 1000.0
}

fn summarize(order: &[&Record], config: &AnalysisConfig) -> Summary {
    let mut errors = BTreeMap::new();
    let mut backends = BTreeMap::new();
    let (mut ok, mut sent, mut ok_without_backend) = (0, 0, 0);
    let mut latencies = Vec::new();
    let mut lags = Vec::with_capacity(order.len());
    let (mut first_sent, mut last_sent) = (u64::MAX, 0);
    for r in order {
        lags.push(r.lag_us());
        if r.outcome != Outcome::Error(ErrorKind::Overload) {
            sent += 1;
            first_sent = first_sent.min(r.sent_us);
            last_sent = last_sent.max(r.sent_us);
        }
        match r.outcome.failure_name() {
            None => {
                ok += 1;
                if let Some(l) = r.latency_us {
                    latencies.push(l);
                }
                match &r.backend {
                    Some(b) => *backends.entry(b.clone()).or_insert(0) += 1,
                    None => ok_without_backend += 1,
                }
            }
            Some(name) => *errors.entry(name).or_insert(0) += 1,
        }
    }
    let achieved_rate = if sent > 1 && last_sent > first_sent {
        (sent - 1) as f64 * 1e6 / (last_sent - first_sent) as f64
    } else {
        0.0
    };
    Summary {
        requests: order.len() as u64,
        sent,
        ok,
        failed: order.len() as u64 - ok,
        errors,
        backends,
        ok_without_backend,
        first_scheduled_us: order.first().map(|r| r.scheduled_us),
        last_scheduled_us: order.last().map(|r| r.scheduled_us),
        asked_rate: config.asked_rate,
        achieved_rate,
        latency_ms: Percentiles::of_us(latencies),
        schedule_lag_ms: Percentiles::of_us(lags),
        outages: Vec::new(),
        unmatched_events: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
