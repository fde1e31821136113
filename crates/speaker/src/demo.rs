//! `hopwatch demo`: the first thing to run. It starts `observe` and `speak` as two
//! processes on loopback (127.10.0.8 and 127.10.0.7, no privileges needed), has
//! `speak` announce the VIP 100.64.0.1/32 via 127.10.0.4, moves the next hop back
//! and forth with one command each, and reports how long each command took to
//! reach the observer: the speaker's share of a failover.
//!
//! The children are this process's own executable, which must be the `hopwatch`
//! binary (`hopwatch demo` is its only caller).
//!
//! Every child is stopped by PID (SIGTERM, then kill) on every exit path, and every
//! wait is bounded.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use hopwatch_events::bgp::RouteUpdate;
use hopwatch_events::{Event, Line, now_us};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::timeout;

use crate::args::DemoArgs;

const VIP: &str = "100.64.0.1/32";
const HOPS: [&str; 2] = ["127.10.0.4", "127.10.0.5"];

/// A child process that is stopped by PID when dropped.
struct Guard(Child);

impl Guard {
    fn stop(&mut self) {
        if let Some(pid) = self.0.id() {
            // SIGTERM lets the child send its Cease; kill_on_drop is the backstop.
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(args: &[String]) -> anyhow::Result<(Guard, Lines<BufReader<ChildStdout>>)> {
    let exe = std::env::current_exe().context("finding the hopwatch binary")?;
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting a child hopwatch")?;
    let out = child.stdout.take().context("child stdout")?;
    Ok((Guard(child), BufReader::new(out).lines()))
}

async fn next_event(
    lines: &mut Lines<BufReader<ChildStdout>>,
    what: &str,
    pred: impl Fn(&Line) -> bool,
) -> anyhow::Result<Line> {
    let wait = async {
        while let Some(line) = lines.next_line().await? {
            let Ok(l) = Line::parse(&line) else {
                continue;
            };
            if pred(&l) {
                return Ok(l);
            }
        }
        bail!("the child stopped before {what}")
    };
    timeout(Duration::from_secs(15), wait)
        .await
        .with_context(|| format!("waiting for {what}"))?
}

/// The observer's route for the VIP, if `l` is one.
fn route(l: &Line) -> Option<&RouteUpdate> {
    match &l.event {
        Event::Update(r) if r.prefix == VIP => Some(r),
        _ => None,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Runs the demo, with this process's executable (the `hopwatch` binary) as both
/// children. `print` writes the report where the user reads it (the binary's stdout
/// writer, on which a reader that has gone is not an error).
pub async fn run(args: DemoArgs, print: fn(&str) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let say = |l: &dyn std::fmt::Display| print(&format!("{l}\n"));
    let port = args.port.to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let (mut observer, mut obs) = spawn(&s(&[
        "observe",
        "--local-as",
        "65002",
        "--router-id",
        "127.10.0.8",
        "--listen",
        "127.10.0.8",
        "--port",
        &port,
    ]))?;
    // Give the observer a moment to bind before the speaker connects; the speaker
    // would retry anyway, one second later.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let announce = format!("{VIP} next-hop {}", HOPS[0]);
    let (mut speaker, mut spk) = spawn(&s(&[
        "speak",
        "--local-as",
        "65001",
        "--router-id",
        "127.10.0.7",
        "--local-address",
        "127.10.0.7",
        "--peer",
        "127.10.0.8",
        "--peer-as",
        "65002",
        "--port",
        &port,
        "--hold-time",
        "9",
        "--announce",
        &announce,
    ]))?;
    let mut stdin = speaker.0.stdin.take().context("speaker stdin")?;
    // Read the speaker's events: when each UPDATE left (its write returned).
    let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    tokio::spawn(async move {
        while let Ok(Some(line)) = spk.next_line().await {
            if let Ok(l) = Line::parse(&line)
                && let Event::UpdateSent(_) = l.event
            {
                let _ = sent_tx.send(l.ts_us);
            }
        }
    });

    say(&format_args!(
        "observe listens on 127.10.0.8:{port} (AS 65002); speak connects from 127.10.0.7 (AS 65001)"
    ))?;
    let est = next_event(&mut obs, "the session to come up", |l| {
        matches!(l.event, Event::Established(_))
    })
    .await?;
    if let Event::Established(e) = &est.event {
        say(&format_args!(
            "session established: hold time {} s, families {}",
            e.hold_time,
            e.families.join(", ")
        ))?;
    }
    let first = next_event(&mut obs, "the first route", |l| route(l).is_some()).await?;
    if let Some(r) = route(&first) {
        let as_path = r.attributes.as_ref().map(|a| &a.as_path);
        say(&format_args!(
            "observe got {VIP} via {} with AS path {}",
            r.next_hop.map_or_else(|| "-".into(), |nh| nh.to_string()),
            as_path.map_or_else(|| "-".into(), |p| serde_json::json!(p).to_string()),
        ))?;
    }

    let mut lat = Vec::with_capacity(args.moves);
    let mut to_wire = Vec::with_capacity(args.moves);
    while sent_rx.try_recv().is_ok() {}
    for i in 0..args.moves {
        let hop = HOPS[(i + 1) % 2];
        let line = format!("announce route {VIP} next-hop {hop}\n");
        let t0 = now_us();
        stdin.write_all(line.as_bytes()).await?;
        stdin.flush().await?;
        let got = next_event(&mut obs, "the moved route", |l| {
            route(l).is_some_and(|r| r.next_hop.is_some_and(|nh| nh.to_string() == hop))
        })
        .await?;
        let t1 = got.ts_us;
        lat.push(t1.saturating_sub(t0) as f64 / 1000.0);
        if let Ok(Some(sent)) = timeout(Duration::from_secs(5), sent_rx.recv()).await {
            to_wire.push(sent.saturating_sub(t0) as f64 / 1000.0);
        }
        if i < 2 {
            say(&format_args!(
                "command `announce route {VIP} next-hop {hop}` reached observe in {:.3} ms (replaced, never withdrawn)",
                lat[i]
            ))?;
        }
    }
    lat.sort_by(f64::total_cmp);
    say(&format_args!(
        "{} moves, command to observe over loopback: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    ))?;
    to_wire.sort_by(f64::total_cmp);
    say(&format_args!(
        "  of which command to UPDATE written by speak: p50 {:.3} ms, p99 {:.3} ms",
        percentile(&to_wire, 0.5),
        percentile(&to_wire, 0.99)
    ))?;
    speaker.stop();
    observer.stop();
    let _ = timeout(Duration::from_secs(3), speaker.0.wait()).await;
    let _ = timeout(Duration::from_secs(3), observer.0.wait()).await;
    Ok(())
}
