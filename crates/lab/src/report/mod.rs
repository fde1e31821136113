//! The report: a terminal table per scenario, `results.json`, the raw CSV of every
//! request (`requests.csv`) and `report.html`, one self-contained page
//! ([`html`]) with an SVG timeline per trial ([`timeline`]).
//!
//! What each scenario must show (its expectation, its failover target) is read
//! from its [`Scenario`] value, never written here.

mod html;
mod timeline;
mod vips;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use hopwatch_load::{Record, output};
use serde::Serialize;

use crate::scenarios::Scenario;
use crate::trial::Trial;

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
    /// Event to the last VIP's route programmed (`--vips`; trials where all were).
    pub last_vip_programmed_ms: Option<Stats>,
    /// UPDATE messages the deciding watcher sent each route server instance for
    /// the move of every VIP, by instance.
    pub updates_per_instance: BTreeMap<String, Stats>,
    /// Each process's share of a core while the steps ran, % (over the trials in
    /// which it was not restarted).
    pub cpu_percent: BTreeMap<String, Stats>,
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
    /// instant profile; or the forwarding mode, whose backend failovers never wait
    /// for a route server).
    pub timed_targets: bool,
    /// `next-hop` or `forward`.
    pub mode: String,
    /// The client address a backend saw through the VIP, and whether it was the
    /// client's own (namespace lab).
    pub client: Option<String>,
    /// The forwarding mode's bulk upload, through the watcher and direct.
    pub throughput: Option<crate::throughput::Throughput>,
    /// How many VIPs the watchers announced (`--vips`).
    pub vips: usize,
    /// Each process's CPU and memory before the first trial, with nothing happening.
    pub idle: Option<crate::idle::Idle>,
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
    /// How many VIPs the watchers announced.
    pub vips: usize,
}

fn stats_of(trials: &[Trial], f: impl Fn(&Trial) -> Option<f64>) -> Option<Stats> {
    Stats::of(trials.iter().filter_map(f).collect())
}

/// Each process's share of a core over `trials` (those in which it ran throughout).
fn cpu_percent(trials: &[Trial]) -> BTreeMap<String, Stats> {
    let mut per: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for u in trials.iter().flat_map(|t| &t.cpu) {
        per.entry(u.process.clone()).or_default().push(u.percent);
    }
    per.into_iter()
        .filter_map(|(p, v)| Some((p, Stats::of(v)?)))
        .collect()
}

/// The UPDATE messages of each trial's move, by route server instance.
fn updates_per_instance(trials: &[Trial]) -> BTreeMap<String, Stats> {
    let mut per: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for i in trials
        .iter()
        .filter_map(|t| t.vips.as_ref())
        .flat_map(|v| &v.instances)
    {
        per.entry(i.instance.clone())
            .or_default()
            .push(i.updates as f64);
    }
    per.into_iter()
        .filter_map(|(p, v)| Some((p, Stats::of(v)?)))
        .collect()
}

/// Groups the trials and judges each scenario.
pub fn results(order: &[&Scenario], trials: Vec<Trial>, info: RunInfo) -> Results {
    let mut scenarios = BTreeMap::new();
    for sc in order {
        let ts: Vec<Trial> = trials
            .iter()
            .filter(|t| t.scenario == sc.name)
            .cloned()
            .collect();
        let failed: Vec<f64> = ts.iter().map(|t| t.failed_requests as f64).collect();
        let failed_requests = Failed {
            median: Stats::of(failed).map_or(0.0, |s| s.median),
            max: ts.iter().map(|t| t.failed_requests).max().unwrap_or(0),
        };
        let failover_ms = stats_of(&ts, |t| t.failover_ms);
        let target = sc.target_ms(info.timed);
        let pass = !ts.is_empty()
            && ts.iter().all(|t| t.pass)
            && target.is_none_or(|x| failover_ms.is_some_and(|s| s.median < x));
        scenarios.insert(
            sc.name.to_string(),
            ScenarioResult {
                expectation: sc.expectation(info.timed),
                pass,
                failover_ms,
                failback_ms: stats_of(&ts, |t| t.failback_ms),
                failed_requests,
                detection_ms: stats_of(&ts, |t| t.detection_ms),
                decision_ms: stats_of(&ts, |t| t.decision_ms),
                update_ms: stats_of(&ts, |t| t.update_ms),
                route_server_ms: stats_of(&ts, |t| t.route_server_ms),
                programmed_ms: stats_of(&ts, |t| t.programmed_ms),
                last_vip_programmed_ms: stats_of(&ts, |t| {
                    t.vips.as_ref().and_then(|v| v.last_programmed_ms)
                }),
                updates_per_instance: updates_per_instance(&ts),
                cpu_percent: cpu_percent(&ts),
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
        mode: "next-hop".into(),
        client: None,
        throughput: None,
        vips: info.vips,
        idle: None,
    }
}

/// The modes side by side: each scenario's failover and failback medians and
/// failed requests, and its verdict, per mode.
pub fn comparison(order: &[&Scenario], runs: &[(&str, &Results)]) -> String {
    let mut out = String::new();
    let _ = write!(out, "{:<25}", "scenario");
    for (mode, _) in runs {
        let _ = write!(
            out,
            " {:>36}",
            format!("{mode}: failover/failback p50, failed")
        );
    }
    out.push('\n');
    for sc in order {
        let _ = write!(out, "{:<25}", sc.name);
        for (_, r) in runs {
            let cell = r.scenarios.get(sc.name).map_or_else(
                || "-".to_string(),
                |s| {
                    format!(
                        "{} / {} ms, {} {}",
                        s.failover_ms
                            .map_or("-".into(), |x| format!("{:.1}", x.median)),
                        s.failback_ms
                            .map_or("-".into(), |x| format!("{:.1}", x.median)),
                        s.failed_requests.max,
                        if s.pass { "PASS" } else { "FAIL" }
                    )
                },
            );
            let _ = write!(out, " {cell:>36}");
        }
        out.push('\n');
    }
    out
}

/// A figure's median/p90/max, or `-`.
pub(crate) fn f(s: Option<Stats>) -> String {
    s.map_or_else(
        || "-".into(),
        |s| format!("{:.1}/{:.1}/{:.1}", s.median, s.p90, s.max),
    )
}

/// A figure's median, or `-`.
pub(crate) fn m(s: Option<Stats>) -> String {
    s.map_or_else(|| "-".into(), |s| format!("{:.2}", s.median))
}

/// The terminal table.
pub fn table(order: &[&Scenario], r: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<25} {:>6} {:>20} {:>20} {:>10} {:>7} {:>7} {:>7} {:>7} {:>7}  {:<4} expectation",
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
        let Some(s) = r.scenarios.get(sc.name) else {
            continue;
        };
        let _ = writeln!(
            out,
            "{:<25} {:>6} {:>20} {:>20} {:>14} {:>7} {:>7} {:>7} {:>7} {:>7}  {:<4} {}",
            sc.name,
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
    out.push_str(&cpu_table(order, r));
    if r.vips > 1 {
        out.push_str(&vips::table(order, r));
    }
    if let Some(idle) = &r.idle {
        out.push('\n');
        out.push_str(&idle.text());
    }
    out
}

/// Each process's CPU while the steps ran, a row per scenario.
fn cpu_table(order: &[&Scenario], r: &Results) -> String {
    let mut out = String::new();
    let _ = write!(out, "\n{:<25}", "CPU, % of a core");
    for role in crate::cpu::ROLES {
        let _ = write!(out, " {role:>12}");
    }
    out.push('\n');
    for sc in order {
        let Some(s) = r.scenarios.get(sc.name) else {
            continue;
        };
        let _ = write!(out, "{:<25}", sc.name);
        for role in crate::cpu::ROLES {
            let cell = s
                .cpu_percent
                .get(role)
                .map_or_else(|| "-".into(), |x| format!("{:.1}/{:.1}", x.median, x.max));
            let _ = write!(out, " {cell:>12}");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "(user + system time of each process while a trial's steps ran, over the wall-clock \
         time: median/max of the trials; - where the steps restarted it, or it is not \
         hopwatch's)"
    );
    out
}

/// Writes results.json, requests.csv and report.html into `dir`; returns the
/// report's path.
pub fn write_all(dir: &Path, order: &[&Scenario], r: &Results) -> anyhow::Result<PathBuf> {
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
    std::fs::write(&html, html::page(order, r))
        .with_context(|| format!("writing {}", html.display()))?;
    Ok(html)
}
