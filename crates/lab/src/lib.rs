//! The lab: the whole seed scenario in one command, measured. On loopback and
//! without privileges by default, or in network namespaces with the seed's
//! addressing (`--netns`, root), with hopwatch's route server, FRR's or BIRD's.
//! `hopwatch lab` is this crate's [`run`]; the tests call it through the binary, and
//! use its pieces (the namespaces, the seed's addresses, FRR's and BIRD's command
//! lines and route server config) for their own namespace labs.
//!
//! It starts the route server (two instances), ws1, ws2, the watcher and the
//! observer as separate child processes of the `hopwatch` binary it is given, waits
//! until traffic flows through the VIP, then runs each scenario for a few trials
//! with the load injector in-process (on a thread inside lt1's namespace in the
//! namespace lab), and writes the report.
//!
//! Errors are `anyhow`'s, unlike the other libraries' typed errors: every one ends
//! the run with a message for the person who started it (what failed, with what
//! context, and where the logs are), none is matched on by a caller.
//!
//! # Layout
//! - [`args`]: the command line, and `--help` derived from the scenarios and the seed.
//! - [`seed`]: the seed's addresses, ports and AS numbers, once for both labs and the
//!   tests.
//! - [`topology`]: where each role lives in either lab, the command lines that start
//!   them, the watcher's config; refuses to start when a lab port is taken.
//! - [`netns`]: the namespace plumbing every namespace lab of the workspace uses
//!   (`ip`, the sweep of a namespace, a thread inside one) and the seed's network
//!   with its failure injection.
//! - [`frr`], [`bird`]: FRR or BIRD as the route server, and their command lines;
//!   `monitor`: the router's routing table as the namespace lab's record of when a
//!   route was programmed.
//! - `procs`: the children by PID, their logs, bounded waits, teardown.
//! - `lab`: the running lab (its route server is one [`topology::RouteServer`]
//!   kind), the steady state, the waits every scenario uses.
//! - `scenarios`: each scenario one value (name, place, injection, expectation,
//!   help), one file per family: `backend`, `network`, `restart`.
//! - `throughput`: the forwarding mode's bulk upload through the watcher and direct.
//! - `trial`: one trial under load; `analysis`: the join of its requests and logs;
//!   `vips`: every VIP's move (`--vips`), the last programmed and the UPDATEs per
//!   route server instance; `cpu`: each process's share of a core while a trial's
//!   steps ran; `idle`: the same with nothing happening, and memory, before the
//!   first trial.
//! - `report`: the table, `results.json`, `requests.csv`, `report.html` (`html`,
//!   `timeline`).
//!
//! Every child is stopped by PID (SIGTERM, SIGKILL after 2 s) and every namespace
//! deleted on success, on failure and on Ctrl-C or SIGTERM; every wait is bounded.

mod analysis;
pub mod args;
pub mod bird;
mod chaos;
mod cpu;
pub mod frr;
mod idle;
mod lab;
mod monitor;
pub mod netns;
mod procs;
mod report;
mod scenarios;
pub mod seed;
mod throughput;
pub mod topology;
mod trial;
mod vips;

use std::future::Future;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};

pub use args::LabArgs;
use lab::{Lab, RouteServerProcs};
use scenarios::Scenario;
use topology::{Layout, Profile, RouteServer, Watcher};

/// Runs the lab: `bin` is the `hopwatch` binary every role runs as (the binary
/// passes its own path, a test `env!("CARGO_BIN_EXE_hopwatch")`), and `shutdown`
/// resolves, with its reason, when the lab must stop early (the binary's SIGTERM or
/// Ctrl-C): every child is stopped and every namespace deleted, then `run` fails.
/// `print` writes the lab's progress and table where the user reads them (the
/// binary's stdout writer, on which a reader that has gone is not an error, so
/// that `hopwatch lab | head` still tears everything down).
pub async fn run(
    args: LabArgs,
    bin: &Path,
    shutdown: impl Future<Output = &'static str>,
    print: fn(&str) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let line = |text: String| print(&format!("{text}\n"));
    let started = Instant::now();
    let order: Vec<&Scenario> = if args.scenario.is_empty() && args.chaos.is_some() {
        Vec::new()
    } else if args.scenario.is_empty() {
        scenarios::ALL
            .iter()
            .copied()
            .filter(|sc| args.netns || !sc.needs_netns())
            .collect()
    } else {
        let mut v = args.scenario.clone();
        v.dedup_by_key(|sc| sc.name);
        v
    };
    if !(args.rate.is_finite() && args.rate > 0.0) {
        bail!("--rate must be a positive number of requests per second");
    }
    if let Some(sc) = order.iter().find(|sc| sc.needs_netns() && !args.netns) {
        bail!("the {sc} scenario injects a network failure: it needs the namespace lab (--netns)");
    }
    if args.route_server != RouteServer::Hopwatch && !args.netns {
        bail!(
            "--route-server {} runs a real route server in the router namespace: add --netns",
            args.route_server.name()
        );
    }
    if args.route_server != RouteServer::Hopwatch && args.profile != Profile::Instant {
        bail!(
            "--profile azure is hopwatch's route server's: it cannot slow {} down",
            args.route_server.name()
        );
    }
    let mode = args.mode();
    if mode != topology::Mode::NextHop && !args.netns {
        bail!(
            "--mode {} forwards the VIP's traffic in the kernel (VXLAN, policy routing): it \
             needs the namespace lab (--netns)",
            if mode == topology::Mode::Both {
                "both"
            } else {
                "forward"
            }
        );
    }
    if args.vips > 1 && mode != topology::Mode::NextHop {
        bail!(
            "--vips times the VIPs' routes moving at the route servers; in the forwarding \
             mode they stay on the watcher: add --mode next-hop"
        );
    }
    let top = args.out.clone().unwrap_or_else(topology::default_out_dir);
    std::fs::create_dir_all(&top).with_context(|| format!("creating {}", top.display()))?;
    let top = top.canonicalize().unwrap_or(top);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut outcomes = Vec::new();
    for &forward in mode.each() {
        // One mode: its output in the directory itself; both: a directory each.
        let dir = if mode == topology::Mode::Both {
            top.join(topology::mode_name(forward))
        } else {
            top.clone()
        };
        if mode == topology::Mode::Both {
            line(format!("\n== {} mode ==", topology::mode_name(forward)))?;
        }
        let started = Instant::now();
        let (results, chaos) =
            run_mode(&args, forward, &order, bin, &dir, shutdown.as_mut(), print).await?;
        if !order.is_empty() {
            print("\n")?;
            print(&report::table(&order, &results))?;
        }
        let html = report::write_all(&dir, &order, &results)?;
        line(format!(
            "results: {}\nrequests: {}\nreport: {}\nrun time: {:.1} s",
            dir.join("results.json").display(),
            dir.join("requests.csv").display(),
            html.display(),
            started.elapsed().as_secs_f64()
        ))?;
        if let Some(c) = &results.client {
            line(format!("client address at the backend: {c}"))?;
        }
        if let Some(t) = &results.throughput {
            line(t.text())?;
        }
        if let Some(c) = &chaos {
            print("\n")?;
            print(&c.text())?;
            let path = dir.join("chaos.json");
            std::fs::write(&path, serde_json::to_vec_pretty(c)?)
                .with_context(|| format!("writing {}", path.display()))?;
            line(format!("chaos: {}", path.display()))?;
        }
        outcomes.push((forward, results, chaos));
    }
    if outcomes.len() > 1 && !order.is_empty() {
        print("\n")?;
        print(&report::comparison(
            &order,
            &outcomes
                .iter()
                .map(|(f, r, _)| (topology::mode_name(*f), r))
                .collect::<Vec<_>>(),
        ))?;
    }
    if outcomes.len() > 1 {
        line(format!(
            "total run time: {:.1} s",
            started.elapsed().as_secs_f64()
        ))?;
    }
    let fail = outcomes
        .iter()
        .any(|(_, r, c)| !r.pass || c.as_ref().is_some_and(|c| !c.pass));
    // The run itself succeeded: expectations are judged in the table and in
    // results.json (`pass`), not by the exit status.
    if fail {
        line("some scenarios did not meet their expectation (FAIL above)".into())?;
    }
    Ok(())
}

/// One lab in one mode: builds it in `dir`, runs `order` (and the chaos), tears it
/// down, and judges the trials.
async fn run_mode(
    args: &LabArgs,
    forward: bool,
    order: &[&'static Scenario],
    bin: &Path,
    dir: &Path,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = &'static str>>,
    print: fn(&str) -> anyhow::Result<()>,
) -> anyhow::Result<(report::Results, Option<chaos::ChaosReport>)> {
    let line = |text: String| print(&format!("{text}\n"));
    let started = Instant::now();
    let mut layout = if args.netns {
        let names = netns::Names::new(&args.netns_prefix);
        netns::preflight(&names)?;
        Layout::netns(names, args.route_server, args.profile)
    } else {
        Layout::loopback(args.profile)
    };
    layout.forward = forward;
    layout.set_vips(usize::from(args.vips));
    layout.check_ports_free()?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // A fresh pids.txt: the PIDs of this run only.
    let _ = std::fs::remove_file(dir.join("pids.txt"));
    line(format!("hopwatch lab: output in {}", dir.display()))?;
    let gr = args.graceful_restart.0;
    for w in Watcher::BOTH {
        let path = dir.join(w.config_file());
        std::fs::write(&path, layout.watcher_toml(w, args.hold, gr))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let net = match &layout.netns {
        Some(names) => Some(netns::Net::create(names.clone())?),
        None => None,
    };
    let route_server = RouteServerProcs::new(&layout, dir)?;
    let mut lab = Lab {
        layout: layout.clone(),
        net,
        route_server,
        procs: procs::Procs::new(bin.to_path_buf(), dir.to_path_buf()),
        graceful_restart: gr,
        rate: args.rate,
        hold: args.hold,
        trials_run: 0,
        backends: scenarios::Backends::KeepAlive,
        disagreeing: false,
    };

    let body = async {
        lab.start().await?;
        line(format!(
            "lab up in {:.1} s: traffic flows through http://{}:{}/ (ws1){}",
            started.elapsed().as_secs_f64(),
            layout.vip,
            layout.http_port,
            if layout.extra_vips.is_empty() {
                String::new()
            } else {
                format!(", all {} VIPs on ws1", layout.extra_vips.len() + 1)
            }
        ))?;
        line(format!(
            "measuring each process's idle CPU for {} s",
            idle::IDLE.as_secs()
        ))?;
        let idle = match lab.measure_idle().await {
            Ok(i) => Some(i),
            Err(e) => {
                line(format!("idle CPU not measured: {e:#}"))?;
                None
            }
        };
        // Whether the path preserves the client's address (the forwarding mode's
        // direct server return must; the next-hop mode routes, so it does too).
        let client = match (&layout.netns, lab.client_seen().await) {
            (None, _) => None,
            (Some(_), Ok(seen)) => Some(if seen == seed::netns::LT1 {
                format!("{seen}, the client's own (preserved)")
            } else {
                format!(
                    "{seen}, not the client's {} (NOT preserved)",
                    seed::netns::LT1
                )
            }),
            (Some(_), Err(e)) => Some(format!("unknown ({e:#})")),
        };
        let throughput = if layout.forward {
            // Printed with the table.
            match throughput::measure(&lab).await {
                Ok(t) => Some(t),
                Err(e) => {
                    line(format!("throughput not measured: {e:#}"))?;
                    None
                }
            }
        } else {
            None
        };
        let mut trials = Vec::new();
        for sc in order {
            // A failure here shows as the next trial's failure to reach the
            // steady state, with its reason.
            if let Err(e) = lab.use_backends(sc.backends).await {
                eprintln!("hopwatch lab: {e:#}");
            }
            for n in 1..=args.trials as usize {
                let t = lab.trial(sc, n).await;
                line(format!(
                    "{:<25} trial {n}: failover {} ms, failback {} ms, {} failed of {}{}{}{}",
                    sc.name,
                    t.failover_ms.map_or("-".into(), |v| format!("{v:.1}")),
                    t.failback_ms.map_or("-".into(), |v| format!("{v:.1}")),
                    t.failed_requests,
                    t.requests,
                    t.takeover_ms.map_or(String::new(), |v| format!(
                        ", standby took over after {:.2} s",
                        v / 1000.0
                    )),
                    vips_note(&t),
                    t.error
                        .as_ref()
                        .map_or(String::new(), |e| format!(" (error: {e})"))
                ))?;
                trials.push(t);
            }
        }
        let chaos = match args.chaos {
            Some(d) => {
                let seed = args.seed.unwrap_or_else(|| fastrand::u64(..));
                line(format!(
                    "chaos: {} under load (seed {seed}; --seed {seed} repeats the schedule)",
                    humantime::format_duration(d)
                ))?;
                Some(chaos::run(&mut lab, d, seed).await?)
            }
            None => None,
        };
        anyhow::Ok((trials, chaos, client, throughput, idle))
    };
    let outcome = tokio::select! {
        r = body => r,
        why = shutdown.as_mut() => Err(anyhow::anyhow!("interrupted ({why}); stopped every child")),
    };
    lab.procs.teardown().await;
    lab.route_server.finish(dir);
    if let Some(mut net) = lab.net.take() {
        net.teardown();
    }
    let left = layout.taken_ports();
    if !left.is_empty() {
        eprintln!(
            "hopwatch lab: warning: lab ports still taken after teardown: {:?}",
            left.iter().map(|(a, _)| a.to_string()).collect::<Vec<_>>()
        );
    }
    let (trials, chaos, client, throughput, idle) =
        outcome.map_err(|e| anyhow::anyhow!("{e:#} (logs in {})", dir.display()))?;
    let mut results = report::results(
        order,
        trials,
        report::RunInfo {
            rate: args.rate,
            hold_ms: u64::try_from(args.hold.as_millis()).unwrap_or(u64::MAX),
            run_time_s: started.elapsed().as_secs_f64(),
            setup: layout.describe(),
            route_server: layout.route_server.name().into(),
            // A backend's failover in forwarding mode never waits for the route
            // server: the targets apply whatever it is and however slow.
            timed: forward
                || (layout.route_server == RouteServer::Hopwatch
                    && layout.profile == Profile::Instant),
            vips: layout.extra_vips.len() + 1,
        },
    );
    results.mode = topology::mode_name(forward).into();
    results.client = client;
    results.throughput = throughput;
    results.idle = idle;
    Ok((results, chaos))
}

/// `, 20/20 VIPs on ws2, the last after 25.3 ms` for a trial of several VIPs.
fn vips_note(t: &trial::Trial) -> String {
    match &t.vips {
        Some(v) if v.vips > 1 => format!(
            ", {}/{} VIPs on ws2{}",
            v.programmed,
            v.vips,
            v.last_programmed_ms
                .map_or(String::new(), |ms| format!(", the last after {ms:.1} ms"))
        ),
        _ => String::new(),
    }
}
