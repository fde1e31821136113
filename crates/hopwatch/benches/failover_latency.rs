//! Benchmark of issue 3, section 6: from a backend failure to the UPDATE that moves
//! the VIP, on the wire, in the seed's namespace lab (`tests/support/lab.rs`, over
//! the lab crate's network):
//! `hopwatch observe` as both route server instances in the router namespace (the
//! measured one on 10.10.1.4:179), `hopwatch web` in ws1 and ws2 on port 80, and
//! `hopwatch run` in watch1 with the example config (`examples/watcher.toml`), whose
//! only change is a failback hold of 1 s so that trials are quick.
//!
//! For each failure mode (kill: SIGKILL ws1's web process; stop: SIGSTOP it; drop: an
//! nft rule in ws1's namespace dropping TCP to port 80; kill-close: SIGKILL with web
//! servers that answer `Connection: close`; kill-tcp: SIGKILL with the example's
//! checks turned into `tcp://IP:80`) it runs HOPWATCH_BENCH_TRIALS
//! trials (default 20): the wall clock just before injecting the failure, then the
//! observer's receive timestamp of the UPDATE moving the VIP to 10.10.0.5 (the same
//! host clock); then it repairs ws1 and waits for the failback. From the watcher's own
//! JSON it also reports detection (failure to the `health` down event) and decision
//! to wire (`move` to `update_sent`). Then the cost: the watcher idle for 30 s with
//! both backends healthy (CPU % of one core from /proc/PID/stat, VmRSS; the window is
//! HOPWATCH_BENCH_IDLE_SECS), and the
//! number of moves in a soak of HOPWATCH_BENCH_SOAK_SECS (default 60; the issue asks
//! for 300).
//!
//! HOPWATCH_BENCH_MODES (`kill,stop,drop,kill-close,kill-tcp`, all by default)
//! picks the modes.
//!
//! `cargo bench -p hopwatch --bench failover_latency` (root: it creates network
//! namespaces). Without `--bench` in its arguments (`cargo test --benches`) it returns
//! at once; without root it says why and exits 0 without measuring. Every wait is
//! bounded, every process runs under `timeout` and is stopped by PID, and the lab's
//! namespaces are deleted on exit, also on panic.

// A benchmark is a test program: a panic (after the lab's teardown) is a failed run.
#![allow(clippy::unwrap_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hopwatch_events::bgp::Action;
use hopwatch_events::watcher::Health;
use hopwatch_events::{Event, Line};
use hopwatch_load::now_us;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use support::Hopwatch;
use support::events::{ip_addr, is_from, is_route};
use support::lab::{NetLab, RS1, RS2, VIP, WS1, WS2};
use support::proc;

/// The health settings and everything else of the example, but a 1 s hold.
const HOLD_LINE: &str =
    "failback_hold = \"1s\"     # bench: 30s in the example; 1 s keeps trials quick";
/// How long a trial waits for the move, and for the failback.
const MOVE_TIMEOUT: Duration = Duration::from_secs(5);
const FAILBACK_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// SIGKILL ws1, whose web server keeps its connections (HTTP/1.1 keep-alive).
    Kill,
    Stop,
    Drop,
    /// SIGKILL ws1, whose web server answers `Connection: close`: no keep-alive
    /// connection to watch; the one the watcher opened ahead must reveal it.
    KillClose,
    /// SIGKILL ws1 under `check = "tcp://…"`: the last accepted connection is the
    /// one watched.
    KillTcp,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Kill => "kill",
            Mode::Stop => "stop",
            Mode::Drop => "drop",
            Mode::KillClose => "kill-close",
            Mode::KillTcp => "kill-tcp",
        }
    }

    fn kills(self) -> bool {
        matches!(self, Mode::Kill | Mode::KillClose | Mode::KillTcp)
    }

    /// `hopwatch web --connection` for its trials.
    fn connection(self) -> &'static str {
        if self == Mode::KillClose {
            "close"
        } else {
            "keep-alive"
        }
    }

    /// Its trials run with the TCP check config.
    fn tcp_check(self) -> bool {
        self == Mode::KillTcp
    }
}

/// One trial's figures, in µs.
#[derive(Debug, Default, Clone)]
struct Trial {
    to_wire: u64,
    inject: Option<u64>,
    detection: Option<u64>,
    /// When the probe whose result made ws1 down started, from the failure (µs; its
    /// `health` event's time less its latency): which tick decided.
    decider_start: Option<i64>,
    decision_to_wire: Option<u64>,
}

#[derive(Debug, Default)]
struct Results {
    trials: Vec<Trial>,
    misses: Vec<String>,
    anomalies: Vec<String>,
}

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A long-lived command reader in a namespace (`nft -i` for rules): injecting a
/// failure is then one line written to its stdin, without the milliseconds of
/// starting `ip netns exec … nft` for each trial. Signals need no namespace: the
/// bench sends them itself, a syscall right after the trial's timestamp (through a
/// shell, 2 trials in 20 saw the shell run `kill` 15-18 ms late, and counted it).
struct Injector {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Injector {
    fn start(ns: &str, lifetime: &str, argv: &[&str], out: &Path) -> Injector {
        let mut child = proc::in_netns_for(ns, lifetime, argv)
            .stdin(Stdio::piped())
            .stdout(File::create(out).expect("the lab folder is writable"))
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {argv:?} in {ns}: {e}"));
        let stdin = child.stdin.take();
        Injector { child, stdin }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("the injector's stdin is open");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("the injector is gone ({e}) at {line:?}"));
    }
}

impl Drop for Injector {
    fn drop(&mut self) {
        // EOF ends both readers; then by PID, bounded.
        drop(self.stdin.take());
        proc::stop(&mut self.child);
    }
}

/// The lab and its long-lived processes.
struct Bench {
    lifetime: String,
    web_n: usize,
    // Processes before the lab: they are stopped before its namespaces go.
    ws1: Option<Hopwatch>,
    ws2: Option<Hopwatch>,
    watcher: Option<Hopwatch>,
    nft: Injector,
    obs: Hopwatch,
    obs2: Hopwatch,
    cfg: String,
    /// The same config with `check = "tcp://IP:80"` for both backends.
    cfg_tcp: String,
    /// What the web servers now do with their connections.
    connection: &'static str,
    /// Whether the running watcher has the TCP check config.
    tcp_check: bool,
    lab: NetLab,
}

impl Bench {
    fn web(&mut self, which: u8) -> Hopwatch {
        self.web_n += 1;
        let (h, name, addr) = if which == 1 {
            (&self.lab.ws1, "ws1", WS1)
        } else {
            (&self.lab.ws2, "ws2", WS2)
        };
        let listen = format!("{addr}:80");
        let w = Hopwatch::start_in(
            &h.ns,
            self.lab.dir(),
            &format!("{name}-{}", self.web_n),
            &args(&[
                "web",
                "--listen",
                &listen,
                "--name",
                name,
                "--connection",
                self.connection,
            ]),
            &self.lifetime,
        );
        w.wait_for("listening", Duration::from_secs(10), |l| {
            matches!(l.event, Event::Listening(_))
        });
        w
    }

    fn start_watcher(&mut self, name: &str) {
        let cfg = if self.tcp_check {
            &self.cfg_tcp
        } else {
            &self.cfg
        };
        let w = Hopwatch::start_in(
            &self.lab.watch1.ns,
            self.lab.dir(),
            name,
            &args(&["run", "-c", cfg]),
            &self.lifetime,
        );
        self.watcher = Some(w);
    }

    /// Restarts the web servers or the watcher when `mode` wants them otherwise,
    /// then waits (bounded) until the VIP is back on ws1 at the route server.
    fn prepare(&mut self, mode: Mode) {
        let mut changed = false;
        if self.connection != mode.connection() {
            self.connection = mode.connection();
            drop(self.ws2.take());
            self.ws2 = Some(self.web(2));
            drop(self.ws1.take());
            self.ws1 = Some(self.web(1));
            changed = true;
        }
        if self.tcp_check != mode.tcp_check() {
            self.tcp_check = mode.tcp_check();
            drop(self.watcher.take());
            self.start_watcher(&format!("watcher-{}", mode.name()));
            changed = true;
        }
        if changed {
            // ws1's restart may have moved the VIP away (and back after the 1 s
            // hold); a new watcher announces it again. Wait for ws1 to carry it.
            let deadline = Instant::now() + FAILBACK_TIMEOUT;
            while Instant::now() < deadline && !self.vip_on_ws1() {
                std::thread::sleep(Duration::from_millis(100));
            }
            assert!(
                self.vip_on_ws1(),
                "the VIP did not return to ws1 after preparing {mode:?}"
            );
            std::thread::sleep(Duration::from_millis(1500));
        }
    }

    /// The route server's latest UPDATE for the VIP is an announce via ws1.
    fn vip_on_ws1(&self) -> bool {
        self.obs
            .events()
            .iter()
            .rev()
            .find(|l| matches!(&l.event, Event::Update(u) if u.prefix == VIP))
            .is_some_and(|l| is_route(l, VIP, WS1))
    }

    fn watcher(&self) -> &Hopwatch {
        self.watcher.as_ref().expect("the watcher runs")
    }

    /// Runs one `nft` command in ws1's namespace (setup, not timed).
    fn nft_once(&self, rule: &[&str]) {
        let mut argv = vec!["nft"];
        argv.extend_from_slice(rule);
        proc::run_in_ok(&self.lab.ws1.ns, &argv);
    }
}

fn is_update(l: &Line, nh: &str) -> bool {
    is_route(l, VIP, nh)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: only measure
    // when asked to.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        println!(
            "failover_latency: not measuring: it needs root (it creates network \
             namespaces, binds port 179 and 80 in them and adds nft rules); run \
             `cargo bench -p hopwatch --bench failover_latency` as root"
        );
        return;
    }
    let missing: Vec<&str> = [
        "/usr/sbin/ip",
        "/usr/bin/timeout",
        "/usr/bin/kill",
        "/bin/bash",
    ]
    .into_iter()
    .filter(|b| !Path::new(b).exists())
    .collect();
    let nft_ok = std::process::Command::new("nft")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !missing.is_empty() || !nft_ok {
        println!(
            "failover_latency: not measuring: missing {missing:?}{} (Debian packages \
             iproute2, coreutils, procps, bash, nftables)",
            if nft_ok { "" } else { " and nft" }
        );
        return;
    }
    let trials = env_num("HOPWATCH_BENCH_TRIALS", 20).max(1) as usize;
    let soak = Duration::from_secs(env_num("HOPWATCH_BENCH_SOAK_SECS", 60));
    // The idle window of the CPU figure (HOPWATCH_BENCH_IDLE_SECS, default 30).
    let idle = Duration::from_secs(env_num("HOPWATCH_BENCH_IDLE_SECS", 30).max(1));
    // The hard bound on every process of the run (each trial takes about 2 s).
    let lifetime = (trials as u64 * 3 * 10 + idle.as_secs() + soak.as_secs() + 180).to_string();

    let lab = NetLab::new("bench-failover");
    let cfg_text = support::lab::example_config(&[("failback_hold", HOLD_LINE)]);
    let cfg = lab.write("watcher.toml", &cfg_text);
    let tcp_text = cfg_text
        .replace(
            "check = \"http://10.10.0.4/\"",
            "check = \"tcp://10.10.0.4:80\"",
        )
        .replace(
            "check = \"http://10.10.0.5/\"",
            "check = \"tcp://10.10.0.5:80\"",
        );
    assert!(
        tcp_text.matches("tcp://").count() == 2,
        "the example's checks changed: the TCP config needs updating"
    );
    let cfg_tcp = lab.write("watcher-tcp.toml", &tcp_text);
    let check = proc::run_in_ok(
        &lab.watch1.ns,
        &[
            env!("CARGO_BIN_EXE_hopwatch"),
            "check",
            "-c",
            cfg.to_str().unwrap(),
        ],
    );
    assert!(check.contains(": ok"), "hopwatch check:\n{check}");
    let observe = |addr: &str| {
        args(&[
            "observe",
            "--local-as",
            "65515",
            "--router-id",
            addr,
            "--listen",
            addr,
            "--port",
            "179",
        ])
    };
    let obs = Hopwatch::start_in(
        &lab.vnet,
        lab.dir(),
        "observe-rs1",
        &observe(RS1),
        &lifetime,
    );
    let obs2 = Hopwatch::start_in(
        &lab.vnet,
        lab.dir(),
        "observe-rs2",
        &observe(RS2),
        &lifetime,
    );
    let nft = Injector::start(
        &lab.ws1.ns,
        &lifetime,
        &["nft", "-i"],
        &lab.dir().join("inject-nft.out"),
    );
    let mut b = Bench {
        nft,
        lifetime,
        web_n: 0,
        ws1: None,
        ws2: None,
        watcher: None,
        obs,
        obs2,
        cfg: cfg.to_str().unwrap().to_string(),
        cfg_tcp: cfg_tcp.to_str().unwrap().to_string(),
        connection: "keep-alive",
        tcp_check: false,
        lab,
    };
    b.ws1 = Some(b.web(1));
    b.ws2 = Some(b.web(2));
    // The drop mode's table and chain (the rule itself comes and goes per trial).
    b.nft_once(&["add", "table", "inet", "filter"]);
    b.nft_once(&[
        "add", "chain", "inet", "filter", "input", "{", "type", "filter", "hook", "input",
        "priority", "0", ";", "policy", "accept", ";", "}",
    ]);
    b.start_watcher("watcher");
    b.obs
        .wait_for("the VIP via ws1", Duration::from_secs(30), |v| {
            is_update(v, WS1)
        });
    b.obs2
        .wait_for("the VIP via ws1 (rs2)", Duration::from_secs(30), |v| {
            is_update(v, WS1)
        });
    std::thread::sleep(Duration::from_millis(500));

    println!(
        "failover_latency: {trials} trials per mode, example config with failback_hold \
         1 s, observe on {RS1}:179 (and {RS2}) in lab {}",
        b.lab.prefix
    );
    let mut all = Vec::new();
    // HOPWATCH_BENCH_MODES (e.g. `kill,kill-close`) picks modes; all by default.
    let only = std::env::var("HOPWATCH_BENCH_MODES").ok();
    for mode in [
        Mode::Kill,
        Mode::Stop,
        Mode::Drop,
        Mode::KillClose,
        Mode::KillTcp,
    ] {
        if only
            .as_deref()
            .is_some_and(|m| !m.split(',').any(|x| x.trim() == mode.name()))
        {
            continue;
        }
        b.prepare(mode);
        let mut r = Results::default();
        for i in 0..trials {
            trial(&mut b, mode, i, &mut r);
        }
        all.push((mode, r));
    }
    print_table(&all);

    // The cost: a fresh watcher of the example config (HTTP checks, keep-alive
    // backends, whatever mode ran last), both backends healthy.
    b.prepare(Mode::Kill);
    drop(b.watcher.take());
    let from_obs = b.obs.event_count();
    b.start_watcher("watcher-idle");
    b.obs.wait_for_from(
        from_obs,
        "the startup announce",
        Duration::from_secs(30),
        |v| is_update(v, WS1),
    );
    std::thread::sleep(Duration::from_secs(1));
    let w = b.watcher();
    let pid = w.pid();
    let after_start = w.event_count();
    let obs_after_start = b.obs.event_count();
    let soak_started = Instant::now();
    let cpu0 = cpu_ticks(pid);
    let t0 = Instant::now();
    std::thread::sleep(idle);
    let cpu1 = cpu_ticks(pid);
    let wall = t0.elapsed().as_secs_f64();
    let tck = clock_ticks();
    let (user, sys) = (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
    let pct = |ticks: u64| ticks as f64 / tck / wall * 100.0;
    let (rss, hwm) = rss_kb(pid);
    println!(
        "\nwatcher idle (example config, both backends healthy, 2 route server \
         sessions): CPU {:.2} % of one core over {wall:.1} s (user {:.2} %, system {:.2} %; \
         {} ticks at {tck} Hz), VmRSS {rss} kB (VmHWM {hwm} kB)   [target: <= 1 %]",
        pct(user + sys),
        pct(user),
        pct(sys),
        user + sys
    );
    if soak > soak_started.elapsed() {
        std::thread::sleep(soak - soak_started.elapsed());
    }
    let soaked = soak_started.elapsed();
    let moves: Vec<Line> = w
        .events()
        .into_iter()
        .skip(after_start)
        .filter(|l| matches!(l.event, Event::Move(_) | Event::Health(_)))
        .collect();
    let obs_updates: Vec<Line> = b
        .obs
        .events()
        .into_iter()
        .skip(obs_after_start)
        .filter(|l| matches!(l.event, Event::Update(_)))
        .collect();
    let n_moves = moves
        .iter()
        .filter(|l| matches!(l.event, Event::Move(_)))
        .count();
    println!(
        "soak: {:.0} s with both backends healthy (HOPWATCH_BENCH_SOAK_SECS={}; the \
         issue asks for 300 s): {n_moves} moves, {} health changes, {} UPDATEs at the \
         route server after the startup announce   [target: 0 moves]",
        soaked.as_secs_f64(),
        soak.as_secs(),
        moves.len() - n_moves,
        obs_updates.len()
    );
    for v in moves.iter().chain(&obs_updates) {
        println!("  soak event: {v}");
    }
}

/// One trial: inject, measure, repair, wait for the failback.
fn trial(b: &mut Bench, mode: Mode, i: usize, r: &mut Results) {
    // A random phase against the 10 ms probe interval.
    let jitter = u64::from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
            % 10_000_000,
    );
    std::thread::sleep(Duration::from_millis(200) + Duration::from_nanos(jitter));
    let web_pid = b.ws1.as_ref().expect("ws1 runs").pid();
    let w_from = b.watcher().event_count();
    let o_from = b.obs.event_count();
    let t0 = now_us();
    match mode {
        m if m.kills() => send_signal(web_pid, Signal::SIGKILL),
        Mode::Stop => send_signal(web_pid, Signal::SIGSTOP),
        _ => b.nft.send("add rule inet filter input tcp dport 80 drop"),
    }
    // How long until the signal took effect, as /proc shows it (no such view of a
    // rule: it is in force within the nft shell's processing of one line).
    let inject = match mode {
        m if m.kills() => effect_after(t0, || !proc::alive(web_pid)),
        Mode::Stop => effect_after(t0, || proc_state(web_pid) == Some('T')),
        _ => None,
    };
    let label = format!("{} #{i}", mode.name());
    let moved = b
        .obs
        .try_wait_for_from(o_from, MOVE_TIMEOUT, |v| is_update(v, WS2));
    // Whatever happened, repair and wait for the failback before the next trial.
    let measured = match moved {
        Some(ev) => {
            let w = b.watcher();
            // The watcher's stdout reader may lag the observer's: wait (bounded) for
            // its `update_sent` to the measured route server, the last of the lines
            // printed for the move, before reading the events.
            let _ = w.try_wait_for_from(w_from, Duration::from_secs(2), |l| {
                matches!(l.event, Event::UpdateSent(_)) && is_from(l, RS1)
            });
            let ws = w.events();
            let after = || ws.iter().skip(w_from);
            let down = after().find(|l| {
                matches!(&l.event, Event::Health(h) if h.backend == "ws1" && h.to == Health::Down)
            });
            let mv = after().find_map(|l| match &l.event {
                Event::Move(m) if m.to.as_deref() == Some("ws2") => Some((l.ts_us, m)),
                _ => None,
            });
            let sent = after().find(|l| {
                is_from(l, RS1)
                    && matches!(&l.event, Event::UpdateSent(u)
                        if u.announce.iter().any(|x| x.next_hop == ip_addr(WS2)))
            });
            if let Some((_, m)) = mv.filter(|(_, m)| m.reason != "failover") {
                r.anomalies
                    .push(format!("{label}: move reason {:?}", m.reason));
            }
            Some(Trial {
                to_wire: ev.ts_us.saturating_sub(t0),
                inject,
                detection: down.map(|d| d.ts_us.saturating_sub(t0)),
                decider_start: down.and_then(|d| match &d.event {
                    Event::Health(h) => Some(
                        i64::try_from(d.ts_us).unwrap_or(i64::MAX)
                            - i64::try_from(h.latency_us + t0).unwrap_or(i64::MAX),
                    ),
                    _ => None,
                }),
                decision_to_wire: mv.zip(sent).map(|((m, _), s)| s.ts_us.saturating_sub(m)),
            })
        }
        None => {
            r.misses.push(format!(
                "{label}: no UPDATE via ws2 within {MOVE_TIMEOUT:?}; watcher events since:\n{}",
                support::events::dump(b.watcher().events().get(w_from..).unwrap_or_default())
            ));
            None
        }
    };
    let o_repair = b.obs.event_count();
    match mode {
        Mode::Drop => b.nft.send("flush chain inet filter input"),
        _ => {
            if mode == Mode::Stop {
                proc::signal(web_pid, "KILL");
            }
            drop(b.ws1.take());
            b.ws1 = Some(b.web(1));
        }
    }
    let back = b
        .obs
        .try_wait_for_from(o_repair, FAILBACK_TIMEOUT, |v| is_update(v, WS1));
    if back.is_none() {
        r.misses.push(format!(
            "{label}: no failback to ws1 within {FAILBACK_TIMEOUT:?}"
        ));
    }
    // The route server must have seen exactly the move and the failback.
    let updates: Vec<Line> = b
        .obs
        .events()
        .into_iter()
        .skip(o_from)
        .filter(|l| matches!(l.event, Event::Update(_)))
        .collect();
    let announces = |l: &Line| matches!(&l.event, Event::Update(u) if u.action == Action::Announce);
    if updates.len() != 2 || !updates.iter().all(announces) {
        r.anomalies.push(format!(
            "{label}: the route server saw {} updates:\n{}",
            updates.len(),
            support::events::dump(&updates)
        ));
    }
    if let Some(t) = measured {
        r.trials.push(t);
    }
}

/// The nearest-rank percentile of sorted `v`.
fn pct(v: &[u64], p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn median(mut v: Vec<u64>) -> String {
    v.sort_unstable();
    if v.is_empty() {
        "-".into()
    } else {
        ms(pct(&v, 50.0))
    }
}

fn print_table(all: &[(Mode, Results)]) {
    println!(
        "\nfailure to UPDATE at the route server (ms; p99 is nearest-rank)\n\
         {:<10} {:>6} {:>8} {:>8} {:>8} {:>8} | {:>10} {:>10} {:>10}   target p99",
        "mode", "trials", "p50", "p99", "max", "min", "detect p50", "dec->wire", "signal p50"
    );
    for (mode, r) in all {
        let mut lat: Vec<u64> = r.trials.iter().map(|t| t.to_wire).collect();
        lat.sort_unstable();
        let det: Vec<u64> = r.trials.iter().filter_map(|t| t.detection).collect();
        let dtw: Vec<u64> = r.trials.iter().filter_map(|t| t.decision_to_wire).collect();
        let inj: Vec<u64> = r.trials.iter().filter_map(|t| t.inject).collect();
        let target = if mode.kills() { "<= 5" } else { "<= 50" };
        println!(
            "{:<10} {:>6} {:>8} {:>8} {:>8} {:>8} | {:>10} {:>10} {:>10}   {target}",
            mode.name(),
            lat.len(),
            ms(pct(&lat, 50.0)),
            ms(pct(&lat, 99.0)),
            ms(lat.last().copied().unwrap_or(0)),
            ms(lat.first().copied().unwrap_or(0)),
            median(det),
            median(dtw),
            median(inj),
        );
    }
    println!(
        "(detect: failure to the watcher's `health` down event; dec->wire: its `move` to \
         its `update_sent`; signal: from the timestamp to /proc showing the process dead \
         or stopped, included in the figures)"
    );
    for (mode, r) in all {
        let samples = |what: &str, f: &dyn Fn(&Trial) -> Option<f64>| {
            let v: Vec<String> = r
                .trials
                .iter()
                .map(|t| f(t).map_or("-".into(), |ms| format!("{ms:.2}")))
                .collect();
            println!("{}: {what} (ms): {v:?}", mode.name());
        };
        let to_ms = |us: u64| us as f64 / 1000.0;
        samples("all samples", &|t| Some(to_ms(t.to_wire)));
        samples("detection samples", &|t| t.detection.map(to_ms));
        samples("signal in effect", &|t| t.inject.map(to_ms));
        samples("the deciding probe started, after the failure", &|t| {
            t.decider_start.map(|us| us as f64 / 1000.0)
        });
        for m in r.misses.iter().chain(&r.anomalies) {
            println!("  {}: {m}", mode.name());
        }
    }
}

/// utime and stime of a process (all its threads), in clock ticks.
fn cpu_ticks(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command name: state is field 3, utime 14, stime 15.
    let get = |n: usize| {
        f.get(n - 3)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (get(14), get(15))
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// VmRSS and VmHWM of a process, in kB.
fn rss_kb(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let get = |key: &str| {
        s.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (get("VmRSS:"), get("VmHWM:"))
}

/// Polls (every 50 µs, at most 1 s) until `done`; the µs from `t0` it took.
fn effect_after(t0: u64, done: impl Fn() -> bool) -> Option<u64> {
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if done() {
            return Some(now_us().saturating_sub(t0));
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    None
}

/// Sends `signal` to `pid` (one of the bench's own children), now.
fn send_signal(pid: u32, signal: Signal) {
    let pid = Pid::from_raw(i32::try_from(pid).expect("a PID fits i32"));
    nix::sys::signal::kill(pid, signal).unwrap_or_else(|e| panic!("kill {pid} {signal}: {e}"));
}

/// The state letter of a process (`R`, `S`, `T`, `Z`, …) from /proc/PID/stat.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .next()?
        .chars()
        .next()
}
