//! `hopwatch lab`: the whole seed scenario in one command, measured: on loopback and
//! without privileges by default, or in network namespaces with the seed's
//! addressing (`--netns`, root), with hopwatch's route server or FRR's.
//!
//! It starts the route server (two instances), ws1, ws2, the watcher and the
//! observer as separate child processes, waits until traffic flows through the VIP,
//! then runs each scenario for a few trials with the load injector in-process (on a
//! thread inside lt1's namespace in the namespace lab), and writes the report.
//!
//! # Layout
//! - [`topology`]: addresses, ports, namespaces, command lines, the watcher's
//!   config; refuses to start when a lab port is taken.
//! - [`netns`]: the namespace lab's network, its failure injection, and running the
//!   lab's own traffic inside a namespace.
//! - [`frr`], [`bird`]: FRR or BIRD as the route server; [`monitor`]: the router's routing table as
//!   the namespace lab's record of when a route was programmed.
//! - [`procs`]: the children by PID, their logs, bounded waits, teardown.
//! - [`scenarios`]: the scenarios, one trial each, and the join of requests and logs.
//! - [`report`]: the table, `results.json`, `requests.csv`, `report.html`.
//!
//! Every child is stopped by PID (SIGTERM, SIGKILL after 2 s) and every namespace
//! deleted on success, on failure and on Ctrl-C or SIGTERM; every wait is bounded.

pub mod bird;
pub mod frr;
mod monitor;
pub mod netns;
mod procs;
mod report;
mod scenarios;
pub mod seed;
pub mod topology;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;

use scenarios::{Lab, Scenario};
use topology::{Layout, Profile, RouteServer};

/// `hopwatch lab`.
#[derive(Debug, Args)]
#[command(after_long_help = LAB_HELP)]
pub struct LabArgs {
    /// The scenarios to run, comma-separated: kill, hang, drain, flap,
    /// watcher-restart, route-server-restart, and with --netns blackhole and drop
    /// (default: all that apply).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub scenario: Vec<Scenario>,
    /// Trials of each scenario.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub trials: u32,
    /// Where the logs and the report go (default: ./hopwatch-lab-<timestamp>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Requests per second through the VIP during each trial (a new connection each).
    #[arg(long, default_value_t = 1000.0, value_name = "PER_SECOND")]
    pub rate: f64,
    /// The watcher's failback hold (longer than a flap, short enough for the lab).
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub hold: Duration,
    /// The namespace lab (root): the seed's addressing in network namespaces of its
    /// own, kernel routes, and the blackhole and drop scenarios.
    #[arg(long)]
    pub netns: bool,
    /// The prefix of the namespace lab's namespace names (two runs with different
    /// prefixes can coexist).
    #[arg(
        long,
        default_value = "hwlab-",
        value_name = "PREFIX",
        requires = "netns"
    )]
    pub netns_prefix: String,
    /// The route server: hopwatch's own, FRR's bgpd and zebra, or BIRD 2 (the
    /// last two with --netns only).
    #[arg(long, value_enum, default_value_t = RouteServer::Hopwatch)]
    pub route_server: RouteServer,
    /// The route server's timing: program at once, or Azure's measured delays and
    /// one change per route per 30 s (hopwatch's route server only).
    #[arg(long, value_enum, default_value_t = Profile::Instant)]
    pub profile: Profile,
}

const LAB_HELP: &str = "\
Loopback lab (docs/lab-topology.md): route server 127.10.1.4 and 127.10.1.5
(BGP port 1179, proxy data plane on the VIP 127.10.15.15:8080, API 127.10.1.4:9180),
ws1 127.10.0.4:8080, ws2 127.10.0.5:8080, watcher 127.10.0.7 (API :9179), observer
127.10.0.8. Each is a child process of this binary; their JSON lines go to
OUT/<role>.jsonl, their PIDs to OUT/pids.txt.

Scenarios (each trial starts with the VIP on ws1 and ends when it is back):
  kill                  SIGKILL ws1; restart it; wait for the failback
  hang                  SIGSTOP ws1; SIGCONT it; wait for the failback
  drain                 ctl drain ws1, then SIGTERM it: expected 0 failed requests
  flap                  ws1 down and up every ~1 s, 3 times: no failback before the hold
  watcher-restart       SIGKILL the watcher and start it again: 0 failed requests
  route-server-restart  restart instance 127.10.1.4 after 2 s: 0 failed requests

With --netns (root): the namespace lab of docs/lab-topology.md, named
PREFIX{vnet,ws1,ws2,lt1,watch1,watch2}: router and route server in vnet (10.10.1.4,
10.10.1.5, bridge 10.10.0.1/24, kernel routes), ws1 10.10.0.4, ws2 10.10.0.5 (the VIP
100.64.0.1 on their lo), load from lt1 10.10.0.6, watcher 10.10.0.7, observer 10.10.0.8.
Nothing of it links to the host's namespace. Two more scenarios:
  blackhole             ws1's link down; up again; wait for the failback
  drop                  nft rule dropping ws1's TCP port 8080; removed; failback
--route-server frr runs FRR's bgpd (one per instance) and zebra in vnet instead; its
route-server-restart restarts the second instance (the first owns zebra's routes).
--route-server bird runs one BIRD 2 per instance, the first with a kernel protocol;
its route-server-restart restarts the second, as with FRR.
'program' is then the time the router's kernel table changed (ip monitor route), and
'rs' is the route server's own part: from the watcher's UPDATE to that change.

Output: a table (failover and failback median/p90/max, failed requests, where the time
went), OUT/results.json, OUT/requests.csv, OUT/report.html (SVG timelines). Exits 0
when the lab ran to the end (PASS/FAIL against each expectation is in the table and in
results.json), non-zero when it could not start or run, or was interrupted. Refuses
to start when a lab port (or, with --netns, a lab namespace) is taken.";

/// Runs the lab: `bin` is the `hopwatch` binary every role runs as (the binary
/// passes its own path, a test `env!("CARGO_BIN_EXE_hopwatch")`), and `shutdown`
/// resolves, with its reason, when the lab must stop early (the binary's SIGTERM or
/// Ctrl-C): every child is stopped and every namespace deleted, then `run` fails.
pub async fn run(
    args: LabArgs,
    bin: &Path,
    shutdown: impl Future<Output = &'static str>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let order: Vec<Scenario> = if args.scenario.is_empty() {
        Scenario::ALL
            .into_iter()
            .filter(|sc| args.netns || !sc.needs_netns())
            .collect()
    } else {
        let mut v = args.scenario.clone();
        v.dedup();
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
    let layout = if args.netns {
        let names = netns::Names::new(&args.netns_prefix);
        netns::preflight(&names)?;
        Layout::netns(names, args.route_server, args.profile)
    } else {
        Layout::loopback(args.profile)
    };
    layout.check_ports_free()?;
    let dir = args.out.clone().unwrap_or_else(topology::default_out_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize().unwrap_or(dir);
    // A fresh pids.txt: the PIDs of this run only.
    let _ = std::fs::remove_file(dir.join("pids.txt"));
    println!("hopwatch lab: output in {}", dir.display());
    let config = dir.join("watcher.toml");
    std::fs::write(&config, layout.watcher_toml(args.hold))
        .with_context(|| format!("writing {}", config.display()))?;
    let net = match &layout.netns {
        Some(names) => Some(netns::Net::create(names.clone())?),
        None => None,
    };
    let mut lab = Lab {
        layout: layout.clone(),
        net,
        frr: None,
        bird: None,
        procs: procs::Procs::new(bin.to_path_buf(), dir.clone()),
        config,
        rate: args.rate,
        hold: args.hold,
        trials_run: 0,
    };

    let body = async {
        lab.start().await?;
        println!(
            "lab up in {:.1} s: traffic flows through http://{}:{}/ (ws1)",
            started.elapsed().as_secs_f64(),
            layout.vip,
            layout.http_port
        );
        let mut trials = Vec::new();
        for sc in &order {
            for n in 1..=args.trials as usize {
                let t = lab.trial(*sc, n).await;
                println!(
                    "{:<21} trial {n}: failover {} ms, failback {} ms, {} failed of {}{}",
                    sc.name(),
                    t.failover_ms.map_or("-".into(), |v| format!("{v:.1}")),
                    t.failback_ms.map_or("-".into(), |v| format!("{v:.1}")),
                    t.failed_requests,
                    t.requests,
                    t.error
                        .as_ref()
                        .map_or(String::new(), |e| format!(" (error: {e})"))
                );
                trials.push(t);
            }
        }
        anyhow::Ok(trials)
    };
    let outcome = tokio::select! {
        r = body => r,
        why = shutdown => Err(anyhow::anyhow!("interrupted ({why}); stopped every child")),
    };
    lab.procs.teardown().await;
    if let Some(frr) = &lab.frr {
        frr.finish(&dir);
    }
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
    let trials = outcome.map_err(|e| anyhow::anyhow!("{e:#} (logs in {})", dir.display()))?;
    let run_time = started.elapsed().as_secs_f64();
    let results = report::results(
        &order,
        trials,
        report::RunInfo {
            rate: args.rate,
            hold_ms: u64::try_from(args.hold.as_millis()).unwrap_or(u64::MAX),
            run_time_s: run_time,
            setup: layout.describe(),
            route_server: layout.route_server.name().into(),
            timed: layout.route_server == RouteServer::Hopwatch
                && layout.profile == Profile::Instant,
        },
    );
    println!();
    print!("{}", report::table(&order, &results));
    let html = report::write_all(&dir, &order, &results)?;
    println!(
        "results: {}\nrequests: {}\nreport: {}\nrun time: {run_time:.1} s",
        dir.join("results.json").display(),
        dir.join("requests.csv").display(),
        html.display()
    );
    // The run itself succeeded: expectations are judged in the table and in
    // results.json (`pass`), not by the exit status.
    if !results.pass {
        println!("some scenarios did not meet their expectation (FAIL above)");
    }
    Ok(())
}
