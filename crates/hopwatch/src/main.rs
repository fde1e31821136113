//! `hopwatch`: one binary, the whole system; each role is a subcommand.
//!
//! # Layout
//! - `cli`: the command line (clap), with the help text users read.
//! - `out`: the one-shot commands' stdout (a closed pipe is no panic) and verdicts
//!   as exit statuses.
//! - `hopwatch run` is the `hopwatch-watcher-daemon` crate's `run` (the watcher:
//!   health checks, decisions, BGP, control API, metrics); its config is the
//!   `hopwatch-config` crate, which `check` loads and describes too.
//! - What the long-running roles share is the `hopwatch-daemon` crate: the JSON
//!   event lines on stdout (`json`), SIGTERM and Ctrl-C (`signals`), the HTTP APIs
//!   served under limits and the descriptor limit raised at start (`api_serve`,
//!   `nofile`), the stopping Cease (`cease`).
//! - `hopwatch load` is the `hopwatch-load` crate's `cli::run` (its `cli` feature:
//!   the open-loop HTTP load injector and its outage summary), called with
//!   `out::print`; its verdict (exit status 3) is `hopwatch_daemon::verdict`'s.
//! - `hopwatch route-server` is the `hopwatch-route-server-daemon` crate's `run`
//!   (the Azure Route Server stand-in: RIB, profiles, data plane, API).
//! - `hopwatch ctl` is the `hopwatch-ctl` crate's `run` (the client of the
//!   watcher's and the route server's APIs, as tables), called with `out::print`.
//! - `hopwatch web` is the `hopwatch-web` crate's `run` (the JSON backend, the
//!   seed's ws1 and ws2).
//! - `lab`: wiring only: `hopwatch lab` runs the `hopwatch-lab` crate with this
//!   binary as every role and this process's SIGTERM and Ctrl-C as its shutdown.
//! - `hopwatch speak`, `observe` and `demo` are the `hopwatch-speaker` crate's
//!   (the scriptable BGP speaker, its ExaBGP-syntax commands, the observer); their
//!   arguments are that crate's, `demo` prints through `out::print`.
//! - `check`: the other role.
//! - `hopwatch azure` is the `hopwatch-azure` crate's `run`, called from `main` with
//!   this binary's stdout writer (`out::print`); its arguments are that crate's.

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
