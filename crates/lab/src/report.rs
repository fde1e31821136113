//! The report: a terminal table per scenario, `results.json`, the raw CSV of every
//! request (`requests.csv`) and `report.html`, one self-contained page with an SVG
//! timeline per trial.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use hopwatch_load::{Record, output};
use serde::Serialize;

use super::scenarios::{Scenario, Trial};

/// Median, p90 and max of a set of figures (nearest rank).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Stats {
    /// Median.
    pub median: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Largest.
    pub max: f64,
    /// How many figures.
    pub count: usize,
}

impl Stats {
    /// `None` for no figures.
    pub fn of(mut v: Vec<f64>) -> Option<Stats> {
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let rank = |q: f64| {
            let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            v.get(i).copied().unwrap_or(0.0)
        };
        Some(Stats {
            median: rank(0.5),
            p90: rank(0.9),
            max: v.last().copied().unwrap_or(0.0),
            count: v.len(),
        })
    }
}

/// Median and max of the failed requests.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Failed {
    /// Median.
    pub median: f64,
    /// Largest.
    pub max: u64,
}

/// One scenario's trials and figures.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// What a pass means.
    pub expectation: String,
    /// Every trial passed and the figures meet the expectation.
    pub pass: bool,
    /// The trials.
    pub trials: Vec<Trial>,
    /// Event to the first success from ws2.
    pub failover_ms: Option<Stats>,
    /// ws1 back to the first success from it.
    pub failback_ms: Option<Stats>,
    /// Failed requests per trial.
    pub failed_requests: Failed,
    /// Event to the watcher's `health` down.
    pub detection_ms: Option<Stats>,
    /// Event to the watcher's `move`.
    pub decision_ms: Option<Stats>,
    /// `move` to `update_sent`.
    pub update_ms: Option<Stats>,
    /// Event to the route programmed.
    pub programmed_ms: Option<Stats>,
    /// The watcher's UPDATE to the route programmed (the route server's part).
    pub route_server_ms: Option<Stats>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// Per scenario, by name.
    pub scenarios: BTreeMap<String, ScenarioResult>,
    /// Every scenario passed.
    pub pass: bool,
    /// Requests per second asked.
    pub rate: f64,
    /// The watcher's failback hold, ms.
    pub failback_hold_ms: u64,
    /// The run's wall-clock time, s.
    pub run_time_s: f64,
    /// What ran where.
    pub setup: String,
    /// Which route server (`hopwatch`, `frr`).
    pub route_server: String,
    /// Whether the failover targets applied (hopwatch's route server, the
    /// instant profile).
    pub timed_targets: bool,
}

/// What the run was, for the report.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// Requests per second asked.
    pub rate: f64,
    /// The watcher's failback hold, ms.
    pub hold_ms: u64,
    /// The run's wall-clock time, s.
    pub run_time_s: f64,
    /// What ran where.
    pub setup: String,
    /// Which route server.
    pub route_server: String,
    /// Whether the failover targets apply.
    pub timed: bool,
}

fn stats_of(trials: &[Trial], f: impl Fn(&Trial) -> Option<f64>) -> Option<Stats> {
    Stats::of(trials.iter().filter_map(f).collect())
}

/// Groups the trials and judges each scenario.
pub fn results(order: &[Scenario], trials: Vec<Trial>, info: RunInfo) -> Results {
    let mut scenarios = BTreeMap::new();
    for sc in order {
        let ts: Vec<Trial> = trials
            .iter()
            .filter(|t| t.scenario == sc.name())
            .cloned()
            .collect();
        let failed: Vec<f64> = ts.iter().map(|t| t.failed_requests as f64).collect();
        let failed_requests = Failed {
            median: Stats::of(failed).map_or(0.0, |s| s.median),
            max: ts.iter().map(|t| t.failed_requests).max().unwrap_or(0),
        };
        let failover_ms = stats_of(&ts, |t| t.failover_ms);
        let target = match sc {
            Scenario::Kill if info.timed => Some(15.0),
            Scenario::Hang if info.timed => Some(80.0),
            _ => None,
        };
        let pass = !ts.is_empty()
            && ts.iter().all(|t| t.pass)
            && target.is_none_or(|x| failover_ms.is_some_and(|s| s.median < x));
        scenarios.insert(
            sc.name().to_string(),
            ScenarioResult {
                expectation: sc.expectation(info.timed).into(),
                pass,
                failover_ms,
                failback_ms: stats_of(&ts, |t| t.failback_ms),
                failed_requests,
                detection_ms: stats_of(&ts, |t| t.detection_ms),
                decision_ms: stats_of(&ts, |t| t.decision_ms),
                update_ms: stats_of(&ts, |t| t.update_ms),
                route_server_ms: stats_of(&ts, |t| t.route_server_ms),
                programmed_ms: stats_of(&ts, |t| t.programmed_ms),
                trials: ts,
            },
        );
    }
    let pass = scenarios.values().all(|s| s.pass);
    Results {
        scenarios,
        pass,
        rate: info.rate,
        failback_hold_ms: info.hold_ms,
        run_time_s: info.run_time_s,
        setup: info.setup,
        route_server: info.route_server,
        timed_targets: info.timed,
    }
}

fn f(s: Option<Stats>) -> String {
    s.map_or_else(
        || "-".into(),
        |s| format!("{:.1}/{:.1}/{:.1}", s.median, s.p90, s.max),
    )
}

fn m(s: Option<Stats>) -> String {
    s.map_or_else(|| "-".into(), |s| format!("{:.2}", s.median))
}

/// The terminal table.
pub fn table(order: &[Scenario], r: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<21} {:>6} {:>20} {:>20} {:>10} {:>7} {:>7} {:>7} {:>7} {:>7}  {:<4} expectation",
        "scenario",
        "trials",
        "failover ms p50/90/max",
        "failback ms p50/90/max",
        "failed p50/max",
        "detect",
        "decide",
        "update",
        "rs",
        "program",
        "pass",
    );
    for sc in order {
        let Some(s) = r.scenarios.get(sc.name()) else {
            continue;
        };
        let _ = writeln!(
            out,
            "{:<21} {:>6} {:>20} {:>20} {:>14} {:>7} {:>7} {:>7} {:>7} {:>7}  {:<4} {}",
            sc.name(),
            s.trials.len(),
            f(s.failover_ms),
            f(s.failback_ms),
            format!("{}/{}", s.failed_requests.median, s.failed_requests.max),
            m(s.detection_ms),
            m(s.decision_ms),
            m(s.update_ms),
            m(s.route_server_ms),
            m(s.programmed_ms),
            if s.pass { "PASS" } else { "FAIL" },
            s.expectation,
        );
        for t in s.trials.iter().filter(|t| t.error.is_some() || !t.pass) {
            let _ = writeln!(
                out,
                "    trial {}: {}",
                t.n,
                t.error.as_deref().unwrap_or("did not meet the expectation")
            );
        }
    }
    let _ = writeln!(
        out,
        "(detect, decide, program: ms from the injected event to the watcher's health verdict, \
         its move, the route programmed; update: ms from the move to the UPDATE; rs: ms from \
         the UPDATE to the route programmed, the route server's own part; medians)"
    );
    out
}

/// Writes results.json, requests.csv and report.html into `dir`; returns the
/// report's path.
pub fn write_all(dir: &Path, order: &[Scenario], r: &Results) -> anyhow::Result<PathBuf> {
    let json = dir.join("results.json");
    std::fs::write(
        &json,
        serde_json::to_vec_pretty(r).context("encoding results")?,
    )
    .with_context(|| format!("writing {}", json.display()))?;
    let mut all: Vec<Record> = r
        .scenarios
        .values()
        .flat_map(|s| s.trials.iter().flat_map(|t| t.records.iter().cloned()))
        .collect();
    all.sort_by_key(|r| r.scheduled_us);
    let csv = dir.join("requests.csv");
    let file =
        std::fs::File::create(&csv).with_context(|| format!("creating {}", csv.display()))?;
    output::write_csv(std::io::BufWriter::new(file), &all)
        .with_context(|| format!("writing {}", csv.display()))?;
    let html = dir.join("report.html");
    std::fs::write(&html, html_page(order, r))
        .with_context(|| format!("writing {}", html.display()))?;
    Ok(html)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html_page(order: &[Scenario], r: &Results) -> String {
    let mut h = String::new();
    h.push_str(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>hopwatch lab</title><style>\
body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}\
.pass{color:#080;font-weight:bold}.fail{color:#c00;font-weight:bold}\
h3{margin-bottom:0.2em}.legend span{margin-right:1.5em}svg{background:#fcfcfc;border:1px solid #ddd}\
</style></head><body><h1>hopwatch lab</h1>",
    );
    let _ = write!(
        h,
        "<p>{} Load: {} requests/s, a new connection per request. Failback hold {} ms. Run \
         time {:.1} s. Overall: <span class=\"{}\">{}</span></p>",
        esc(&r.setup),
        r.rate,
        r.failback_hold_ms,
        r.run_time_s,
        if r.pass { "pass" } else { "fail" },
        if r.pass { "PASS" } else { "FAIL" }
    );
    h.push_str(
        "<table><tr><th>scenario</th><th>trials</th><th>failover ms p50/p90/max</th>\
         <th>failback ms p50/p90/max</th><th>failed p50/max</th><th>detect</th><th>decide</th>\
         <th>update</th><th>rs</th><th>program</th><th>expectation</th><th>result</th></tr>",
    );
    for sc in order {
        let Some(s) = r.scenarios.get(sc.name()) else {
            continue;
        };
        let _ = write!(
            h,
            "<tr><td style=\"text-align:left\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td>\
             <td class=\"{}\">{}</td></tr>",
            sc.name(),
            s.trials.len(),
            f(s.failover_ms),
            f(s.failback_ms),
            s.failed_requests.median,
            s.failed_requests.max,
            m(s.detection_ms),
            m(s.decision_ms),
            m(s.update_ms),
            m(s.route_server_ms),
            m(s.programmed_ms),
            esc(&s.expectation),
            if s.pass { "pass" } else { "fail" },
            if s.pass { "PASS" } else { "FAIL" },
        );
    }
    h.push_str("</table>");
    h.push_str(
        "<p class=\"legend\"><span style=\"color:#1f77b4\">● ws1</span>\
         <span style=\"color:#2ca02c\">● ws2</span><span style=\"color:#d62728\">● failed</span>\
         <span style=\"color:#000\">| injected event</span><span style=\"color:#ff7f0e\">| watcher \
         (verdict, move, UPDATE)</span><span style=\"color:#9467bd\">| route programmed</span>\
         <span style=\"color:#17becf\">| back / restarted</span></p>",
    );
    for sc in order {
        let Some(s) = r.scenarios.get(sc.name()) else {
            continue;
        };
        let _ = write!(h, "<h2>{}</h2>", sc.name());
        for t in &s.trials {
            let _ = write!(
                h,
                "<h3>trial {}: {} — failover {} ms, failback {} ms, {} failed of {} requests{}</h3>",
                t.n,
                esc(&t.event),
                t.failover_ms.map_or("-".into(), |v| format!("{v:.1}")),
                t.failback_ms.map_or("-".into(), |v| format!("{v:.1}")),
                t.failed_requests,
                t.requests,
                t.error
                    .as_ref()
                    .map_or(String::new(), |e| format!(" — error: {}", esc(e)))
            );
            h.push_str(&svg(t));
        }
    }
    h.push_str("</body></html>\n");
    h
}

/// One trial's timelines: the whole trial, and a zoom on the failover (the event to
/// a little after the first success from ws2), where single requests show.
fn svg(t: &Trial) -> String {
    let mut out = panel(t, t.start_us, t.end_us, "whole trial");
    if let Some((from, to)) = zoom(t) {
        out.push_str(&panel(t, from, to, "the failover, zoomed"));
    }
    out
}

/// The zoomed panel's span, for a trial with an event and a failover: from a little
/// before the event to a little after the failover settled, that is the first success
/// from the new backend and the watcher's and the route server's markers up to it
/// (with a little slack), none after ws1 is back (the failback's own move and route
/// are the whole-trial panel's).
fn zoom(t: &Trial) -> Option<(u64, u64)> {
    if t.event_us == 0 {
        return None;
    }
    let failover_us = (t.failover_ms? * 1000.0).max(0.0) as u64;
    let first_ok = t.event_us + failover_us;
    let back = t
        .markers
        .iter()
        .filter(|m| m.kind == "back" && m.ts_us > t.event_us)
        .map(|m| m.ts_us)
        .min()
        .unwrap_or(u64::MAX);
    let limit = (first_ok + (failover_us / 4).max(5_000))
        .min(back)
        .min(t.event_us + 1_000_000);
    let settled = t
        .markers
        .iter()
        .filter(|m| m.ts_us >= t.event_us && m.ts_us <= limit)
        .filter(|m| matches!(m.kind, "detect" | "move" | "update" | "programmed"))
        .map(|m| m.ts_us)
        .chain(std::iter::once(first_ok))
        .max()
        .unwrap_or(first_ok);
    let span = (settled - t.event_us).max(10_000);
    Some((t.event_us.saturating_sub(span / 3), settled + span / 3))
}

/// The time axis's ticks for `[lo, hi]` (ms from the event): a round step (1, 2 or 5
/// × 10ⁿ ms, at most 12 ticks), counted from 0; each with its label.
fn ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let span = hi - lo;
    if !(span > 0.0 && span.is_finite()) {
        return Vec::new();
    }
    let raw = span / 12.0;
    let p = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * p);
    // Seconds once the step is a second or more; as many decimals as the step needs.
    let (unit, scale) = if step >= 1000.0 {
        ("s", 1000.0)
    } else {
        ("ms", 1.0)
    };
    let decimals = (-(step / scale).log10().floor()).max(0.0) as usize;
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            let label = match k {
                0 => "0".to_string(),
                _ => format!(
                    "{}{:.*} {unit}",
                    if k > 0 { "+" } else { "\u{2212}" },
                    decimals,
                    (v / scale).abs()
                ),
            };
            (v, label)
        })
        .collect()
}

/// A timeline of `[t0, t1]`: time across, a lane per backend and one for failures;
/// one dot per lane and pixel column (so the page stays small), each run of failures
/// also a bar; markers as lines under the dots, with their labels on as many rows
/// below as they need not to overlap (each also a tooltip).
fn panel(t: &Trial, t0: u64, t1: u64, title: &str) -> String {
    const W: f64 = 1100.0;
    const LEFT: f64 = 60.0;
    const RIGHT: f64 = 20.0;
    /// The width of a character at font-size 10, roughly.
    const CHAR: f64 = 6.0;
    /// A dot's radius.
    const R: f64 = 2.2;
    let plot = W - LEFT - RIGHT;
    let t1 = t1.max(t0 + 1);
    // Times are in ms from the event (from the panel's start without one).
    let origin = if t.event_us > 0 { t.event_us } else { t0 };
    let rel = |us: u64| (us as f64 - origin as f64) / 1000.0;
    let (lo, hi) = (rel(t0), rel(t1));
    let xm = |ms: f64| LEFT + ((ms - lo) / (hi - lo)).clamp(0.0, 1.0) * plot;
    let x = |us: u64| xm(rel(us));
    let lanes = [("ws1", 40.0, "#1f77b4"), ("ws2", 80.0, "#2ca02c")];
    let fail_y = 120.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<text x=\"{LEFT}\" y=\"14\" font-size=\"11\" fill=\"#666\">{}</text>",
        esc(title)
    );
    for (name, y, _) in lanes {
        let _ = write!(
            s,
            "<text x=\"5\" y=\"{}\" font-size=\"12\">{name}</text>",
            y + 4.0
        );
    }
    let _ = write!(
        s,
        "<text x=\"5\" y=\"{}\" font-size=\"12\" fill=\"#d62728\">failed</text>",
        fail_y + 4.0
    );
    // Time axis: round steps from the event, each label kept inside the picture.
    for (v, label) in ticks(lo, hi) {
        let xx = xm(v);
        // Generous: a label must not be cut off at either end.
        let half = label.chars().count() as f64 * CHAR / 2.0;
        let anchor = if xx + half > W - 4.0 {
            "end"
        } else if xx - half < 4.0 {
            "start"
        } else {
            "middle"
        };
        let _ = write!(
            s,
            "<line x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"135\" y2=\"139\" stroke=\"#888\"/>\
             <text x=\"{xx:.1}\" y=\"148\" font-size=\"9\" fill=\"#888\" text-anchor=\"{anchor}\">{label}</text>",
        );
    }
    // Markers: the lines first, under the dots; the labels on rows below.
    let mut markers: Vec<_> = t
        .markers
        .iter()
        .filter(|m| m.ts_us >= t0 && m.ts_us <= t1)
        .collect();
    markers.sort_by_key(|m| m.ts_us);
    let mut row_end: Vec<f64> = Vec::new();
    let mut labels = String::new();
    for mk in markers {
        let colour = match mk.kind {
            "event" => "#000",
            "detect" | "move" | "update" => "#ff7f0e",
            "programmed" => "#9467bd",
            _ => "#17becf",
        };
        let mx = x(mk.ts_us);
        let r = rel(mk.ts_us);
        let _ = write!(
            s,
            "<line x1=\"{mx:.1}\" x2=\"{mx:.1}\" y1=\"20\" y2=\"135\" stroke=\"{colour}\" \
             stroke-width=\"1.2\" stroke-dasharray=\"{}\"><title>{} at {r:+.2} ms</title></line>",
            if mk.kind == "event" { "none" } else { "4,2" },
            esc(&mk.label),
        );
        let label = format!("{} ({r:+.1} ms)", mk.label);
        let width = label.chars().count() as f64 * CHAR;
        let (tx, anchor, start) = if mx + width <= W - 2.0 {
            (mx, "start", mx)
        } else if mx - width >= 2.0 {
            (mx, "end", mx - width)
        } else {
            (2.0, "start", 2.0)
        };
        let row = match row_end.iter().position(|&e| e < start - 4.0) {
            Some(row) => row,
            None => {
                row_end.push(f64::MIN);
                row_end.len() - 1
            }
        };
        if let Some(e) = row_end.get_mut(row) {
            *e = start + width;
        }
        let _ = write!(
            labels,
            "<text x=\"{tx:.1}\" y=\"{}\" font-size=\"10\" fill=\"{colour}\" text-anchor=\"{anchor}\">{}</text>",
            163.0 + row as f64 * 12.0,
            esc(&label)
        );
    }
    // The requests, in the order they were sent.
    let mut records: Vec<_> = t
        .records
        .iter()
        .filter(|r| r.sent_us >= t0 && r.sent_us <= t1)
        .collect();
    records.sort_by_key(|r| r.sent_us);
    // Each run of consecutive failures: a bar from its first dot to its last where
    // the dots touch (at least a dot wide, so a short outage shows at any scale), a
    // faint band joining them where single requests show.
    let mut run: Option<(u64, u64, usize)> = None;
    let mut runs = Vec::new();
    for r in &records {
        if r.is_success() {
            runs.extend(run.take());
        } else {
            run = Some(match run {
                Some((first, _, n)) => (first, r.sent_us, n + 1),
                None => (r.sent_us, r.sent_us, 1),
            });
        }
    }
    runs.extend(run);
    for (first, last, n) in runs {
        let (xa, xb) = (x(first), x(last));
        let tip = format!(
            "<title>{n} failed, {:+.2} to {:+.2} ms</title>",
            rel(first),
            rel(last)
        );
        if n == 1 || (xb - xa) / (n - 1) as f64 <= 2.0 * R {
            let _ = write!(
                s,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"{R}\" \
                 fill=\"#d62728\">{tip}</rect>",
                xa.round() - R,
                fail_y - R,
                xb.round() - xa.round() + 2.0 * R,
                2.0 * R
            );
        } else {
            let _ = write!(
                s,
                "<rect x=\"{xa:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"3\" fill=\"#d62728\" \
                 fill-opacity=\"0.25\">{tip}</rect>",
                fail_y - 1.5,
                xb - xa
            );
        }
    }
    let mut seen = std::collections::HashSet::new();
    for r in records {
        let px = x(r.sent_us).round() as i64;
        let (lane, y, colour) = if r.is_success() {
            match lanes
                .iter()
                .find(|(n, _, _)| r.backend.as_deref() == Some(*n))
            {
                Some((n, y, c)) => (*n, *y, *c),
                None => ("other", 100.0, "#7f7f7f"),
            }
        } else {
            ("failed", fail_y, "#d62728")
        };
        if seen.insert((px, lane)) {
            let _ = write!(
                s,
                "<circle cx=\"{px}\" cy=\"{y}\" r=\"{R}\" fill=\"{colour}\"><title>{} {:+.2} ms</title></circle>",
                if lane == "failed" {
                    r.outcome.failure_name().unwrap_or_default()
                } else {
                    lane.to_string()
                },
                rel(r.sent_us)
            );
        }
    }
    s.push_str(&labels);
    let h = 165.0 + row_end.len().max(1) as f64 * 12.0;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" \
         viewBox=\"0 0 {W} {h}\" style=\"max-width:100%;height:auto\">{s}</svg>\n"
    )
}

#[cfg(test)]
mod tests {
    // In a test a panic is a failed test.
    #![allow(clippy::unwrap_used)]

    use hopwatch_load::{ErrorKind, Outcome};

    use super::super::scenarios::Marker;
    use super::*;

    const START: u64 = 1_700_000_000_000_000;
    const EVENT: u64 = START + 300_000;

    fn marker(label: &str, after_event_us: u64, kind: &'static str) -> Marker {
        Marker {
            label: label.into(),
            ts_us: EVENT + after_event_us,
            kind,
        }
    }

    /// A kill at +300 ms of a 1 s trial at 1000 requests/s: 12 failures, ws2 from
    /// +12 ms, ws1 back at +330 ms and moved back to at +430 ms (within 1 s of the
    /// event), a lone failure at +500 ms, and the watcher's markers close together.
    fn trial() -> Trial {
        let records: Vec<Record> = (0..1000u64)
            .map(|i| {
                let sent_us = START + i * 1000 + 37;
                let after = sent_us as i64 - EVENT as i64;
                let (outcome, backend) = if (0..12_000).contains(&after) || i == 800 {
                    (Outcome::Error(ErrorKind::ConnectRefused), None)
                } else if (12_000..580_000).contains(&after) {
                    (Outcome::Ok { status: 200 }, Some("ws2".to_string()))
                } else {
                    (Outcome::Ok { status: 200 }, Some("ws1".to_string()))
                };
                Record {
                    scheduled_us: sent_us - 37,
                    sent_us,
                    latency_us: Some(200),
                    outcome,
                    backend,
                }
            })
            .collect();
        Trial {
            scenario: "kill".into(),
            n: 1,
            start_us: START,
            end_us: START + 999_000,
            event: "SIGKILL ws1".into(),
            event_us: EVENT,
            pass: true,
            error: None,
            requests: 1000,
            failed_requests: 13,
            failover_ms: Some(12.0),
            failback_ms: Some(250.0),
            detection_ms: Some(4.7),
            decision_ms: Some(4.9),
            update_ms: Some(0.2),
            programmed_ms: Some(7.2),
            route_server_ms: Some(2.1),
            failback_reason: Some("recovery".into()),
            failback_after_up_ms: None,
            early_failback: None,
            outages: Vec::new(),
            markers: vec![
                marker("SIGKILL ws1", 0, "event"),
                marker("ws1 down (watcher)", 4_700, "detect"),
                marker("move ws1→ws2 (failover)", 4_900, "move"),
                marker("UPDATE sent", 5_100, "update"),
                marker("programmed 127.10.0.5", 7_200, "programmed"),
                marker("observer got 127.10.0.5", 7_600, "programmed"),
                marker("ws1 restarted", 330_000, "back"),
                marker("move ws2→ws1 (recovery)", 430_000, "move"),
                marker("programmed 127.10.0.4", 578_000, "programmed"),
            ],
            records,
        }
    }

    fn page() -> String {
        let r = results(
            &[Scenario::Kill],
            vec![trial()],
            RunInfo {
                rate: 1000.0,
                hold_ms: 3000,
                run_time_s: 1.0,
                setup: "a synthetic trial".into(),
                route_server: "hopwatch".into(),
                timed: true,
            },
        );
        let html = html_page(&[Scenario::Kill], &r);
        // To look at it: HOPWATCH_REPORT_SAMPLE=/tmp/report.html cargo test ...
        if let Ok(path) = std::env::var("HOPWATCH_REPORT_SAMPLE") {
            std::fs::write(path, &html).unwrap();
        }
        html
    }

    /// The `<svg>` elements of a page.
    fn svgs(html: &str) -> Vec<&str> {
        html.split("<svg").skip(1).collect()
    }

    #[test]
    fn ticks_are_round_steps_from_the_event() {
        let values = |lo, hi| -> Vec<f64> { ticks(lo, hi).into_iter().map(|t| t.0).collect() };
        assert_eq!(
            values(-300.4, 746.6),
            [
                -300.0, -200.0, -100.0, 0.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0
            ]
        );
        let labels: Vec<String> = ticks(-4.0, 16.0).into_iter().map(|t| t.1).collect();
        assert_eq!(
            labels,
            [
                "\u{2212}4 ms",
                "\u{2212}2 ms",
                "0",
                "+2 ms",
                "+4 ms",
                "+6 ms",
                "+8 ms",
                "+10 ms",
                "+12 ms",
                "+14 ms",
                "+16 ms"
            ]
        );
        let labels: Vec<String> = ticks(-0.3, 0.9).into_iter().map(|t| t.1).collect();
        assert_eq!(labels.first().map(String::as_str), Some("\u{2212}0.3 ms"));
        assert!(labels.contains(&"0".to_string()));
        let labels: Vec<String> = ticks(-2_000.0, 9_000.0).into_iter().map(|t| t.1).collect();
        assert_eq!(labels.last().map(String::as_str), Some("+9 s"));
        for (lo, hi) in [
            (-300.4, 746.6),
            (-6.6, 26.2),
            (-1.0, 0.5),
            (-5000.0, 60_000.0),
        ] {
            let t = ticks(lo, hi);
            assert!((5..=13).contains(&t.len()), "{lo}..{hi}: {t:?}");
            assert!(t.iter().any(|(v, _)| *v == 0.0), "{lo}..{hi}: {t:?}");
        }
        assert!(ticks(1.0, 1.0).is_empty());
    }

    #[test]
    fn the_zoom_ends_with_the_failover_not_the_failback() {
        let t = trial();
        let (from, to) = zoom(&t).unwrap();
        assert!(from < EVENT && from + 10_000 > EVENT, "{from} {EVENT}");
        // The first success from ws2 at +12 ms, and a little after.
        assert!(to > EVENT + 12_000 && to < EVENT + 30_000, "{}", to - EVENT);
        // No failover, no zoom.
        let mut none = trial();
        none.failover_ms = None;
        assert!(zoom(&none).is_none());
        let html = page();
        assert_eq!(svgs(&html).len(), 2);
    }

    #[test]
    fn every_marker_label_shows_and_the_picture_fits() {
        let html = page();
        for svg in svgs(&html) {
            assert!(
                svg.contains("style=\"max-width:100%;height:auto\""),
                "{svg}"
            );
            assert!(svg.contains("viewBox=\"0 0 1100 "), "{svg}");
            // The lines are under the dots: every marker line before the first dot.
            let first_dot = svg.find("<circle").unwrap();
            let last_line = svg.rfind("stroke-dasharray").unwrap();
            assert!(last_line < first_dot);
            // Failures are bars too.
            assert!(svg.contains("<rect"), "{svg}");
            // 0, the event, is a tick.
            assert!(svg.contains(">0</text>"), "{svg}");
        }
        let whole = svgs(&html)[0];
        for m in trial().markers {
            assert!(
                whole.contains(&format!(">{} (", esc(&m.label))),
                "{} is missing from the whole-trial panel",
                m.label
            );
        }
        // The lone failure at +500 ms: a bar at least 4 px wide.
        assert!(
            whole.contains(
                "width=\"4.4\" height=\"4.4\" rx=\"2.2\" fill=\"#d62728\"><title>1 failed"
            ),
            "{whole}"
        );
        // More rows than the old five, and the picture tall enough for them.
        let ys: Vec<f64> = whole
            .split("<text x=\"")
            .skip(1)
            .filter_map(|t| Some(t.split_once('>')?.0))
            .filter(|attrs| attrs.contains("font-size=\"10\""))
            .filter_map(|attrs| attrs.split("y=\"").nth(1)?.split('"').next()?.parse().ok())
            .collect();
        let lowest = ys.iter().copied().fold(0.0, f64::max);
        let height: f64 = whole
            .split("height=\"")
            .nth(1)
            .and_then(|h| h.split('"').next()?.parse().ok())
            .unwrap();
        assert!(lowest > 163.0 + 4.0 * 12.0, "{ys:?}");
        assert!(height >= lowest + 8.0, "{height} {ys:?}");
        // A tick's label at the right end ends there.
        for svg in svgs(&html) {
            let last = svg
                .rsplit("fill=\"#888\" text-anchor=\"")
                .next()
                .and_then(|t| t.split('"').next())
                .unwrap();
            let x: f64 = svg
                .rsplit("<text x=\"")
                .find(|t| t.contains("fill=\"#888\""))
                .and_then(|t| t.split('"').next()?.parse().ok())
                .unwrap();
            assert!(x < 1060.0 || last == "end", "{x} {last}");
        }
    }
}
