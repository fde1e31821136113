//! The lab's children: each role is the `hopwatch` binary the lab was given (or FRR,
//! BIRD, `ip monitor`) as a separate OS process, known by its PID, its stdout (JSON
//! lines) appended to `<out>/<name>.jsonl` and its stderr to `<out>/<name>.stderr`.
//! Every PID ever started is appended to `<out>/pids.txt`. Stopping is always by
//! PID: SIGTERM (after SIGCONT, so that a stopped child can act on it), then SIGKILL
//! after 2 s; on drop (a panic, an early return) every child left gets SIGKILL.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hopwatch_events::Line;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// How long a child has after SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);

/// One running child.
#[derive(Debug)]
struct Proc {
    name: String,
    pid: u32,
    child: Child,
}

/// Every child of the lab, by name.
#[derive(Debug)]
pub struct Procs {
    bin: PathBuf,
    dir: PathBuf,
    live: Vec<Proc>,
}

impl Procs {
    /// Children of `bin`, logging into `dir`.
    pub fn new(bin: PathBuf, dir: PathBuf) -> Self {
        Self {
            bin,
            dir,
            live: Vec::new(),
        }
    }

    /// The binary every role runs as.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The folder of the logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The JSON-lines log of the role `name`.
    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.jsonl"))
    }

    /// Starts the role `name` as `hopwatch ARGS`, inside namespace `ns` when one is
    /// given; its output is appended to its files.
    pub fn spawn(&mut self, name: &str, ns: Option<&str>, args: &[String]) -> anyhow::Result<u32> {
        let bin = self.bin.clone();
        self.spawn_program(name, ns, &bin, args, "jsonl")
    }

    /// Starts `program ARGS` as the role `name` (inside `ns` when given), its stdout
    /// appended to `<name>.<ext>`. In a namespace it runs through `ip netns exec`,
    /// which enters the namespace and then execs the program: the PID is the
    /// program's own, so signals reach it directly.
    pub fn spawn_program(
        &mut self,
        name: &str,
        ns: Option<&str>,
        program: &Path,
        args: &[String],
        ext: &str,
    ) -> anyhow::Result<u32> {
        if self.live.iter().any(|p| p.name == name) {
            bail!("lab: {name} is already running");
        }
        let open = |p: PathBuf| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .with_context(|| format!("opening {}", p.display()))
        };
        let out = open(self.dir.join(format!("{name}.{ext}")))?;
        let err = open(self.dir.join(format!("{name}.stderr")))?;
        let mut cmd = match ns {
            Some(ns) => {
                let mut c = Command::new(crate::netns::ip_program());
                c.args(["netns", "exec", ns]).arg(program);
                c
            }
            None => Command::new(program),
        };
        let child = cmd
            .args(args)
            // `ip -ts monitor` prints local time; the lab reads it as UTC.
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {name}: {} {args:?}", program.display()))?;
        let pid = child.id().context("a child without a PID")?;
        let mut pids = open(self.dir.join("pids.txt"))?;
        writeln!(pids, "{pid} {name}").context("writing pids.txt")?;
        self.live.push(Proc {
            name: name.to_string(),
            pid,
            child,
        });
        Ok(pid)
    }

    /// Waits (10 s at most, polling every 50 ms) until the role `name` has created
    /// `path` (a daemon's socket), failing at once, with its stderr, if it exits.
    pub async fn wait_created(
        &mut self,
        name: &str,
        path: &Path,
        what: &str,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !path.exists() {
            if self.exited(name) {
                bail!(
                    "{name} exited at start: {}",
                    std::fs::read_to_string(self.dir.join(format!("{name}.stderr")))
                        .unwrap_or_default()
                        .trim()
                );
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "{name} did not create {what} ({}) within 10 s: see {name}.stderr",
                    path.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// The PID of a running role.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.live.iter().find(|p| p.name == name).map(|p| p.pid)
    }

    /// Whether the role `name` has exited (or was never started).
    pub fn exited(&mut self, name: &str) -> bool {
        match self.live.iter_mut().find(|p| p.name == name) {
            Some(p) => !matches!(p.child.try_wait(), Ok(None)),
            None => true,
        }
    }

    /// Sends `sig` (`STOP`, `CONT`, `TERM`, ...) to the role `name`, by PID.
    pub fn signal(&self, name: &str, sig: &str) -> anyhow::Result<()> {
        let pid = self
            .pid(name)
            .with_context(|| format!("lab: {name} is not running"))?;
        send(pid, sig)
    }

    /// SIGKILL to the role `name` (directly, no helper process), and reaps it.
    pub async fn kill(&mut self, name: &str) -> anyhow::Result<()> {
        let i = self
            .live
            .iter()
            .position(|p| p.name == name)
            .with_context(|| format!("lab: {name} is not running"))?;
        let mut p = self.live.remove(i);
        p.child.start_kill().context("SIGKILL")?;
        let _ = tokio::time::timeout(TERM_GRACE, p.child.wait()).await;
        Ok(())
    }

    /// Stops the role `name`: SIGTERM, then SIGKILL after 2 s. Returns how long it
    /// took to exit.
    pub async fn stop(&mut self, name: &str) -> anyhow::Result<Duration> {
        let i = self
            .live
            .iter()
            .position(|p| p.name == name)
            .with_context(|| format!("lab: {name} is not running"))?;
        let p = self.live.remove(i);
        let t = Instant::now();
        stop_all(vec![p]).await;
        Ok(t.elapsed())
    }

    /// Stops every child (SIGCONT and SIGTERM to all at once, SIGKILL to those left
    /// after 2 s) and reaps them.
    pub async fn teardown(&mut self) {
        let all = std::mem::take(&mut self.live);
        stop_all(all).await;
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for p in &mut self.live {
            let _ = p.child.start_kill();
        }
    }
}

async fn stop_all(mut procs: Vec<Proc>) {
    for p in &procs {
        let _ = send(p.pid, "CONT");
        let _ = send(p.pid, "TERM");
    }
    let deadline = tokio::time::Instant::now() + TERM_GRACE;
    for p in &mut procs {
        if tokio::time::timeout_at(deadline, p.child.wait())
            .await
            .is_err()
        {
            let _ = p.child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(1), p.child.wait()).await;
        }
    }
}

/// Sends `sig` (`STOP`, `CONT`, ...) to `pid` with kill(2), at once. A `kill`
/// process took 1-3 ms to start, more under the lab's load, and the trial's clock,
/// read just before, counted that against the watcher (a `hang` trial saw its
/// deciding probe start 23.5 ms after "SIGSTOP", past the 21 ms the schedule allows).
fn send(pid: u32, sig: &str) -> anyhow::Result<()> {
    let signal: Signal = format!("SIG{sig}")
        .parse()
        .with_context(|| format!("unknown signal {sig}"))?;
    let pid = Pid::from_raw(i32::try_from(pid).context("a PID past i32")?);
    kill(pid, signal).with_context(|| format!("kill -s {sig} {pid}"))
}

/// Every event line of a log, as the contract's types (`docs/events.md`); lines
/// that are not events (a partial last line) are skipped.
pub fn events(path: &Path) -> Vec<Line> {
    hopwatch_events::parse_lines(&std::fs::read_to_string(path).unwrap_or_default())
}

/// The event lines of a log that contain `token` (`"programmed"`, `"update"`):
/// [`events`] for a log that many VIPs make long, with the lines that cannot be
/// the event sought left unparsed.
pub fn events_with(path: &Path, token: &str) -> Vec<Line> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(token))
        .filter_map(|l| Line::parse(l).ok())
        .collect()
}

/// Whether `ip` is the address written `s` (the layout's addresses are strings).
pub fn is_ip(ip: &IpAddr, s: &str) -> bool {
    s.parse::<IpAddr>().is_ok_and(|a| a == *ip)
}

/// Waits (polling every 10 ms, at most `within`) for an event of the log with
/// `ts_us >= since_us` that `pred` accepts.
pub async fn wait_for(
    path: &Path,
    since_us: u64,
    within: Duration,
    what: &str,
    pred: impl Fn(&Line) -> bool,
) -> anyhow::Result<Line> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = events(path)
            .into_iter()
            .find(|l| l.ts_us >= since_us && pred(l))
        {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            bail!(
                "lab: no {what} in {} within {within:?}",
                path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned()
                )
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
