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
    if t.event_us > 0 && t.failover_ms.is_some() {
        let settled = t
            .markers
            .iter()
            .filter(|m| m.ts_us >= t.event_us && m.ts_us <= t.event_us + 1_000_000)
            .filter(|m| matches!(m.kind, "detect" | "move" | "update" | "programmed"))
            .map(|m| m.ts_us)
            .chain(
                t.failover_ms
                    .map(|f| t.event_us + (f * 1000.0).max(0.0) as u64),
            )
            .max()
            .unwrap_or(t.event_us);
        let span = (settled - t.event_us).max(10_000);
        let from = t.event_us.saturating_sub(span / 3);
        let to = settled + span / 3;
        out.push_str(&panel(t, from, to, "the failover, zoomed"));
    }
    out
}

/// A timeline of `[t0, t1]`: time across, a lane per backend and one for failures;
/// one dot per lane and pixel column (so the page stays small), markers as lines
/// with their labels on rows below that do not overlap (each also a tooltip).
fn panel(t: &Trial, t0: u64, t1: u64, title: &str) -> String {
    const W: f64 = 1100.0;
    const LEFT: f64 = 60.0;
    const RIGHT: f64 = 20.0;
    const ROWS: usize = 5;
    let h = 165.0 + ROWS as f64 * 12.0;
    let plot = W - LEFT - RIGHT;
    let t1 = t1.max(t0 + 1);
    let x = |us: u64| LEFT + ((us as f64 - t0 as f64) / (t1 - t0) as f64).clamp(0.0, 1.0) * plot;
    let lanes = [("ws1", 40.0, "#1f77b4"), ("ws2", 80.0, "#2ca02c")];
    let fail_y = 120.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\">\
         <text x=\"{LEFT}\" y=\"14\" font-size=\"11\" fill=\"#666\">{}</text>",
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
    let mut seen = std::collections::HashSet::new();
    for r in t
        .records
        .iter()
        .filter(|r| r.sent_us >= t0 && r.sent_us <= t1)
    {
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
                "<circle cx=\"{px}\" cy=\"{y}\" r=\"2.2\" fill=\"{colour}\"><title>{} +{:.2} ms</title></circle>",
                if lane == "failed" {
                    r.outcome.failure_name().unwrap_or_default()
                } else {
                    lane.to_string()
                },
                (r.sent_us as f64 - t.event_us as f64) / 1000.0
            );
        }
    }
    // Time axis: ten ticks, in ms from the event.
    for i in 0..=10 {
        let us = t0 + (t1 - t0) * i / 10;
        let xx = x(us);
        let _ = write!(
            s,
            "<line x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"135\" y2=\"139\" stroke=\"#888\"/>\
             <text x=\"{xx:.1}\" y=\"148\" font-size=\"9\" fill=\"#888\" text-anchor=\"middle\">{:+.1} ms</text>",
            (us as f64 - t.event_us as f64) / 1000.0
        );
    }
    let mut row_end = [f64::MIN; ROWS];
    for mk in t.markers.iter().filter(|m| m.ts_us >= t0 && m.ts_us <= t1) {
        let colour = match mk.kind {
            "event" => "#000",
            "detect" | "move" | "update" => "#ff7f0e",
            "programmed" => "#9467bd",
            _ => "#17becf",
        };
        let mx = x(mk.ts_us);
        let rel = (mk.ts_us as f64 - t.event_us as f64) / 1000.0;
        let _ = write!(
            s,
            "<line x1=\"{mx:.1}\" x2=\"{mx:.1}\" y1=\"20\" y2=\"135\" stroke=\"{colour}\" \
             stroke-width=\"1.2\" stroke-dasharray=\"{}\"><title>{} at {rel:+.2} ms</title></line>",
            if mk.kind == "event" { "none" } else { "4,2" },
            esc(&mk.label),
        );
        let label = format!("{} ({rel:+.1} ms)", mk.label);
        let width = label.chars().count() as f64 * 5.6;
        let (start, anchor) = if mx + width > W - 2.0 {
            (mx - width, "end")
        } else {
            (mx, "start")
        };
        if let Some(row) = (0..ROWS).find(|&r| row_end[r] < start - 4.0) {
            row_end[row] = start + width;
            let _ = write!(
                s,
                "<text x=\"{mx:.1}\" y=\"{}\" font-size=\"10\" fill=\"{colour}\" text-anchor=\"{anchor}\">{}</text>",
                163.0 + row as f64 * 12.0,
                esc(&label)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}
