//! `hopwatch lab --chaos DURATION`: a seeded random schedule of the scenarios under
//! one load run: backend faults, watcher faults and route server restarts, one after
//! another with quiet gaps between them, for DURATION.
//!
//! Each fault is a scenario's own steps (inject, heal, wait for the return to ws1),
//! so chaos exercises exactly what the table measures, in an order nobody chose.
//! Its window runs from the steady state before it to a second after its steps end.
//! What the report counts:
//!
//! - moves that no fault explains: a `move` line of either watcher outside every
//!   window (target 0: a move in a quiet gap is a false verdict);
//! - failed requests per fault class (`backend`, `watcher`, `route server`), and
//!   those outside every window (`none`: they have no excuse);
//! - the resident memory (VmRSS) of each hopwatch process at the start and at the
//!   end (a process a fault restarted shows its new PID): growth beyond noise over
//!   ten minutes would be a leak;
//! - the CPU of each process that ran from start to end (the same PID), as a share
//!   of one core: the route server and the observer live through every fault, so a
//!   busy loop after one shows here.
//!
//! The same `--seed` gives the same schedule (the faults and the gaps; what the
//! machine does with them varies).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hopwatch_events::{Event, now_us};
use serde::Serialize;

use crate::cpu::{self, ROLES, Usage};
use crate::lab::Lab;
use crate::procs::events;
use crate::scenarios::{self, Backends, Scenario};
use crate::topology::Watcher;
use crate::trial::stop_load;

/// One fault of the schedule.
#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    /// The scenario that made it.
    pub scenario: String,
    /// Its class: `backend`, `watcher`, `route server`.
    pub class: String,
    /// Its window, µs since the epoch.
    pub start_us: u64,
    /// The end of its window.
    pub end_us: u64,
    /// Its steps' error, if they failed (the next fault starts from the steady
    /// state again).
    pub error: Option<String>,
}

/// A process's resident memory at the start and at the end.
#[derive(Debug, Clone, Serialize)]
pub struct Rss {
    /// The lab's name of the process.
    pub process: String,
    /// Its PID and VmRSS (KiB) at the start.
    pub start: Option<(u32, u64)>,
    /// Its PID and VmRSS (KiB) at the end.
    pub end: Option<(u32, u64)>,
}

/// What a chaos run saw.
#[derive(Debug, Clone, Serialize)]
pub struct ChaosReport {
    /// The seed of the schedule.
    pub seed: u64,
    /// How long it ran, s.
    pub duration_s: f64,
    /// Requests sent.
    pub requests: u64,
    /// Failed requests per fault class; `none` for those outside every window.
    pub failed: BTreeMap<String, u64>,
    /// Moves of the VIP by either watcher.
    pub moves: u64,
    /// Moves outside every fault's window, with when and what.
    pub unexplained_moves: Vec<String>,
    /// The faults, in order.
    pub faults: Vec<Fault>,
    /// Each hopwatch process's memory.
    pub rss: Vec<Rss>,
    /// The CPU of each process that ran throughout.
    pub cpu: Vec<Usage>,
    /// No move without a fault, no failed request without a fault.
    pub pass: bool,
}

/// A fault's class, from its scenario's family.
fn class(sc: &Scenario) -> &'static str {
    match sc.name {
        "route-server-restart" => "route server",
        n if n.starts_with("watcher") || n == "disagree" => "watcher",
        _ => "backend",
    }
}

/// VmRSS of `pid`, KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn sample(lab: &Lab) -> BTreeMap<&'static str, (u32, u64)> {
    ROLES
        .iter()
        .filter_map(|p| {
            let pid = lab.procs.pid(p)?;
            Some((*p, (pid, rss_kib(pid)?)))
        })
        .collect()
}

/// Runs the schedule for `duration` under load and reports it.
pub async fn run(lab: &mut Lab, duration: Duration, seed: u64) -> anyhow::Result<ChaosReport> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let netns = lab.net.is_some();
    // Every scenario that runs here with the backends the lab has now (keep-alive):
    // switching backends means restarting them, which is not a fault.
    let pool: Vec<&'static Scenario> = scenarios::ALL
        .iter()
        .copied()
        .filter(|sc| sc.backends == Backends::KeepAlive && (netns || !sc.needs_netns()))
        .collect();
    lab.use_backends(Backends::KeepAlive).await?;
    lab.steady().await?;
    lab.trials_run += 1;
    let first = sample(lab);
    let first_cpu = cpu::sample(lab);
    let (load, stop) = lab.start_load(duration + Duration::from_secs(600))?;
    let started = Instant::now();
    let start_us = now_us();
    let mut faults = Vec::new();
    while started.elapsed() < duration {
        // A quiet gap of 1 to 3 s: any move or failure in it has no excuse.
        tokio::time::sleep(Duration::from_millis(rng.u64(1000..=3000))).await;
        if started.elapsed() >= duration {
            break;
        }
        let sc = pool[rng.usize(..pool.len())];
        let t0 = now_us();
        let steady = lab.steady().await;
        let limit = Duration::from_secs(60) + 2 * lab.takeover_bound();
        let r = match steady {
            Ok(()) => tokio::time::timeout(limit, (sc.run)(lab))
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("took over {limit:?}")))
                .map(|_| ()),
            Err(e) => Err(e),
        };
        // Back to the steady state inside the window: a fault's aftermath is its own.
        let back = lab.steady().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let error = r.and(back).err().map(|e| format!("{e:#}"));
        if let Some(e) = &error {
            eprintln!("hopwatch lab: chaos: {}: {e}", sc.name);
        }
        faults.push(Fault {
            scenario: sc.name.into(),
            class: class(sc).into(),
            start_us: t0,
            end_us: now_us(),
            error,
        });
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let records = stop_load(load, stop).await?;
    let end_us = now_us();
    let last = sample(lab);
    let cpu = cpu::usage(&first_cpu, &cpu::sample(lab));

    let window_of = |ts: u64| {
        faults
            .iter()
            .find(|f| ts + 100_000 >= f.start_us && ts <= f.end_us)
    };
    let mut failed: BTreeMap<String, u64> = ["backend", "watcher", "route server", "none"]
        .iter()
        .map(|c| ((*c).to_string(), 0))
        .collect();
    for r in records.iter().filter(|r| !r.is_success()) {
        let class = window_of(r.sent_us).map_or("none", |f| f.class.as_str());
        *failed.entry(class.to_string()).or_default() += 1;
    }
    let vip = lab.layout.vip_prefix;
    let mut moves = 0;
    let mut unexplained_moves = Vec::new();
    for w in Watcher::BOTH {
        for l in events(&lab.log_of(w)) {
            let Event::Move(m) = &l.event else { continue };
            if m.vip != vip || l.ts_us < start_us || l.ts_us > end_us {
                continue;
            }
            moves += 1;
            if window_of(l.ts_us).is_none() {
                unexplained_moves.push(format!(
                    "{} at +{:.3} s: {} -> {} ({})",
                    w.process(),
                    (l.ts_us - start_us) as f64 / 1e6,
                    m.from.as_deref().unwrap_or("-"),
                    m.to.as_deref().unwrap_or("-"),
                    m.reason
                ));
            }
        }
    }
    let rss = ROLES
        .iter()
        .map(|p| Rss {
            process: (*p).into(),
            start: first.get(p).copied(),
            end: last.get(p).copied(),
        })
        .collect();
    let pass = unexplained_moves.is_empty() && failed.get("none").copied() == Some(0);
    Ok(ChaosReport {
        seed,
        duration_s: started.elapsed().as_secs_f64(),
        requests: records.len() as u64,
        failed,
        moves,
        unexplained_moves,
        faults,
        rss,
        cpu,
        pass,
    })
}

impl ChaosReport {
    /// The report as text, for the terminal.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "chaos (seed {}): {:.0} s, {} faults, {} requests; {}",
            self.seed,
            self.duration_s,
            self.faults.len(),
            self.requests,
            if self.pass { "PASS" } else { "FAIL" }
        );
        let mut per: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &self.faults {
            *per.entry(f.scenario.as_str()).or_default() += 1;
        }
        let list: Vec<String> = per.iter().map(|(n, c)| format!("{n} ×{c}")).collect();
        let _ = writeln!(s, "  faults: {}", list.join(", "));
        let errors = self.faults.iter().filter(|f| f.error.is_some()).count();
        if errors > 0 {
            let _ = writeln!(s, "  faults whose steps failed: {errors} (see chaos.json)");
        }
        let failed: Vec<String> = self
            .failed
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        let _ = writeln!(s, "  failed requests by fault class: {}", failed.join(", "));
        let _ = writeln!(
            s,
            "  moves: {}, unexplained by any fault: {} (target 0)",
            self.moves,
            self.unexplained_moves.len()
        );
        for m in &self.unexplained_moves {
            let _ = writeln!(s, "    {m}");
        }
        let _ = writeln!(s, "  memory (VmRSS, KiB; PID) at start -> end:");
        for r in &self.rss {
            let f = |v: Option<(u32, u64)>| v.map_or("-".into(), |(p, k)| format!("{k} ({p})"));
            let _ = writeln!(
                s,
                "    {:<13} {:>16} -> {:>16}",
                r.process,
                f(r.start),
                f(r.end)
            );
        }
        let _ = writeln!(
            s,
            "  CPU over the run, % of a core (processes that ran throughout; PID):"
        );
        for u in &self.cpu {
            let _ = writeln!(s, "    {:<13} {:>6.2} ({})", u.process, u.percent, u.pid);
        }
        s
    }
}
