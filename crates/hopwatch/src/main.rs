//! `hopwatch`: one binary, the whole system; each role is a subcommand.
//!
//! # Layout
//! The binary is CLI parsing and wiring: each subcommand is one call into the
//! library crate that holds the role, its arguments and their help.
//! - `cli`: the command line (clap): the subcommands and their one-line help, the
//!   long help of `run`, the arguments of `check`.
//! - `out`: the one-shot commands' stdout (a closed pipe is no panic), given to the
//!   libraries as their `print`, and verdicts as exit statuses
//!   (`hopwatch_daemon::verdict`).
//! - `check`: `hopwatch check`, the `hopwatch-config` crate's load and describe.
//! - `lab`: wiring only: `hopwatch lab` runs the `hopwatch-lab` crate with this
//!   binary as every role and this process's SIGTERM and Ctrl-C as its shutdown.
//!
//! The roles' crates:
//! - `hopwatch run`: `hopwatch-watcher-daemon`'s `run` (the watcher: health checks,
//!   decisions, BGP, control API, metrics); its config is `hopwatch-config`.
//! - `hopwatch route-server`: `hopwatch-route-server-daemon`'s `run` (the Azure
//!   Route Server stand-in: RIB, profiles, data plane, API).
//! - `hopwatch ctl`: `hopwatch-ctl`'s `run` (the client of the watcher's and the
//!   route server's APIs, as tables).
//! - `hopwatch speak`, `observe`, `demo`: `hopwatch-speaker` (the scriptable BGP
//!   speaker and its ExaBGP-syntax commands, the observer, the demo of the two).
//! - `hopwatch web`: `hopwatch-web`'s `run` (the JSON backend, the seed's ws1 and
//!   ws2).
//! - `hopwatch load`: `hopwatch-load`'s `cli::run` (its `cli` feature: the open-loop
//!   HTTP load injector and its outage summary; exit status 3 when no request
//!   succeeded).
//! - `hopwatch backend`: `hopwatch-forward`'s `cli::run` (its `cli` feature: a
//!   backend's side of the forwarding mode).
//! - `hopwatch azure`: `hopwatch-azure`'s `run`.
//! - What the long-running roles share is `hopwatch-daemon`: the JSON event lines
//!   on stdout (`json`), SIGTERM and Ctrl-C (`signals`), the HTTP APIs served under
//!   limits and the descriptor limit raised at start (`api_serve`, `nofile`), the
//!   stopping Cease (`cease`), the exit status of a verdict (`verdict`).

mod check;
mod cli;
mod lab;
mod out;

use clap::Parser;
use hopwatch_daemon::json;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    // Logs go to stderr; stdout carries the JSON events.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("HOPWATCH_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // One core is plenty for a speaker, and keeps the latency path free of
    // cross-thread wake-ups.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hopwatch: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            cli::Cmd::Speak(a) => hopwatch_speaker::speak::run(a).await,
            cli::Cmd::Observe(a) => hopwatch_speaker::observe::run(a).await,
            cli::Cmd::Demo(a) => hopwatch_speaker::demo::run(a, out::print).await,
            cli::Cmd::Check(a) => check::run(&a),
            cli::Cmd::Run(a) => hopwatch_watcher_daemon::run(a).await,
            cli::Cmd::Ctl(a) => hopwatch_ctl::run(a, out::print).await,
            cli::Cmd::Web(a) => hopwatch_web::run(a).await,
            cli::Cmd::Backend(a) => hopwatch_forward::cli::run(a).await,
            cli::Cmd::Cleanup(a) => hopwatch_forward::cli::cleanup(a, out::print).await,
            cli::Cmd::Load(a) => hopwatch_load::cli::run(a, out::print).await,
            cli::Cmd::RouteServer(a) => hopwatch_route_server_daemon::run(a).await,
            cli::Cmd::Lab(a) => lab::run(a).await,
            cli::Cmd::Azure(a) => hopwatch_azure::run(&a, out::print),
        }
    });
    // Reads of stdin and of a named pipe block in tokio's blocking pool and never
    // end by themselves; do not let them hold the process after a clean stop.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    json::drain(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hopwatch: {e:#}");
            match e.downcast_ref::<out::Verdict>() {
                Some(v) => std::process::ExitCode::from(v.code),
                None => std::process::ExitCode::FAILURE,
            }
        }
    }
}
