//! `hopwatch load`: the load injector of the lab (the seed's lt1), a thin CLI over
//! this crate (its `cli` feature, which only the binary enables): parse the
//! arguments, run the injector with a progress bar until the duration is over or
//! SIGTERM/Ctrl-C, then write the CSV and the JSON summary and print the outages on
//! stdout. When no request succeeded there is no latency to report, and the exit
//! status says so ([`NO_SUCCESS`]): a script running a failover test must not read
//! "p50 0.00 ms, exit 0" as a fast, healthy VIP.
//!
//! Here, beside the injector, the analysis and the output it is a front for, rather
//! than in a crate of its own; behind a feature because the rest of this crate has
//! no command line and no `anyhow`, and the lab links it in-process without them.
//! Errors are `anyhow`'s, as in the other roles: each ends the command with a
//! message for a person, and only the [`Verdict`] of [`NO_SUCCESS`] is read by a
//! caller (the binary's `main`, for the exit status).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use hopwatch_daemon::signals::terminated;
use hopwatch_daemon::verdict::Verdict;

use crate::{
    AnalysisConfig, Event, Injector, InjectorConfig, Target, analyze, output, progress::Progress,
};

/// The exit status when requests were made and none succeeded (1 is any other
/// error, 2 a usage error).
pub const NO_SUCCESS: u8 = 3;

/// `hopwatch load`.
#[derive(Debug, Args)]
#[command(after_long_help = LOAD_HELP)]
pub struct LoadArgs {
    /// The URL to load: http://IP[:PORT][/PATH] (an address, not a name).
    #[arg(value_name = "URL", value_parser = parse_target)]
    pub url: Target,
    /// Requests per second, each started on its schedule whether or not earlier ones
    /// answered.
    #[arg(long, default_value_t = 2000.0, value_name = "PER_SECOND")]
    pub rate: f64,
    /// How long to send (e.g. 30s, 2m, 500ms).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Reuse connections (a pool) instead of one new connection per request. New
    /// connections are the default because each one sees the current route.
    #[arg(long)]
    pub keep_alive: bool,
    /// Per request, from its start to the complete response.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Most requests in flight; more are recorded as `overload` errors, not queued
    /// (default: rate × timeout × 2, at least 64).
    #[arg(long, value_name = "N")]
    pub max_in_flight: Option<usize>,
    /// Connect from this address (e.g. 127.10.0.6, the lab's load injector).
    #[arg(long, value_name = "ADDR")]
    pub source: Option<std::net::IpAddr>,
    /// Write one CSV row per request here.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write the JSON summary (counts, latency, every outage) here.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// An injected event, NAME@TS_US (µs since the epoch); an outage starting
    /// shortly after it is timed from it. Repeat for several.
    #[arg(long = "event", value_name = "NAME@TS_US")]
    pub events: Vec<Event>,
    /// The key of the JSON answer that names the backend.
    #[arg(long, default_value = "hostname", value_name = "KEY")]
    pub hostname_field: String,
}

const LOAD_HELP: &str = "\
Open loop: request i is sent at start + i/rate even when earlier ones hang, so a
stalled backend shows as failures and latency, never as a thinner load; when the
injector itself falls behind, requests go out late but keep their scheduled time, and
the lag (sent - scheduled) is reported. Every request is recorded: scheduled and sent
time (µs since the epoch, the clock of every hopwatch event), latency, outcome
(ok, connect_refused, connect_timeout, connect_error, reset, closed, timeout,
bad_response, overload, io) and the backend that answered (the --hostname-field of
its JSON answer, as `hopwatch web` sends).

An outage is a run of failed requests (an error or a non-2xx status): it starts at the
first failure (or at an --event shortly before it) and ends with the first success
from another backend (or the same one, if no other answers). A change of backend
without failure is reported as a switch with 0 failed requests.

Output: a progress bar on stderr (only on a terminal); on stdout, counts, rate, latency
(of the successful requests; \"-\" when there is none) and one line per outage: start,
duration in ms, failed requests, before → after.

Exit status: 0 when at least one request succeeded (outages are reported, not failed
on); 3 when requests were made and none succeeded (the CSV and summary are written all
the same); 1 on any other error (a bad --csv path, ...); 2 on a usage error.

Examples:
  hopwatch web --listen 127.10.0.4:8080 --name ws1 &
  hopwatch load http://127.10.0.4:8080/ --rate 2000 --duration 10s --csv load.csv --summary load.json
  hopwatch load http://127.10.15.15:8080/ --event \"kill ws1@$(date +%s%6N)\"";

fn parse_target(s: &str) -> Result<Target, String> {
    Target::parse(s).map_err(|e| e.to_string())
}

/// Runs the injector, then writes and prints the results. `print` writes them where
/// the user reads them (the binary's stdout writer, on which a reader that has gone
/// is not an error, so that the exit status is still the verdict's).
pub async fn run(args: LoadArgs, print: fn(&str) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let config = InjectorConfig {
        target: args.url.clone(),
        rate: args.rate,
        duration: args.duration,
        keep_alive: args.keep_alive,
        timeout: args.timeout,
        max_in_flight: args.max_in_flight,
        hostname_field: args.hostname_field.clone(),
        source: args.source,
    };
    let injector = Injector::new(config).context("hopwatch load")?;
    // Create the files first: a bad path should fail before the run, not after it.
    let csv = args
        .csv
        .as_ref()
        .map(|p| std::fs::File::create(p).with_context(|| format!("creating {}", p.display())))
        .transpose()?;
    let summary_file = args
        .summary
        .as_ref()
        .map(|p| std::fs::File::create(p).with_context(|| format!("creating {}", p.display())))
        .transpose()?;

    let progress = Progress::start(injector.counters());
    let records = injector
        .run(async {
            let _ = terminated().await;
        })
        .await;
    progress.finish();

    let summary = analyze(
        &records,
        &args.events,
        &AnalysisConfig {
            asked_rate: Some(args.rate),
            ..AnalysisConfig::default()
        },
    );
    if let (Some(file), Some(path)) = (csv, &args.csv) {
        output::write_csv(std::io::BufWriter::new(file), &records)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let (Some(file), Some(path)) = (summary_file, &args.summary) {
        output::write_summary(std::io::BufWriter::new(file), &summary)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    print(&output::render(&summary))?;
    if summary.no_success() {
        return Err(Verdict {
            code: NO_SUCCESS,
            message: format!(
                "no request succeeded: {} of {} failed ({})",
                summary.failed, summary.requests, args.url.addr
            ),
        }
        .into());
    }
    Ok(())
}
