//! What 1,000 HTTP checkers cost: CPU and memory while probing 1,000 loopback
//! backends every 100 ms for 10 s.
//!
//! The backends run in a child process (this same binary, re-run with
//! `--responders`), so the CPU figure of this process is the checkers' alone. The
//! child binds 1,000 listeners on `127.40.x.y:18080` and answers each keep-alive
//! request with `200 ok`. Every address is loopback; the child is stopped by its
//! PID when the run ends, and a bounded wait guards its start.
//!
//! CPU comes from `/proc/<pid>/stat` (user and system ticks; 100 ticks per second,
//! Linux's `USER_HZ` on every common architecture) and `/proc/<pid>/schedstat`
//! (on-CPU nanoseconds, finer). Memory is `VmRSS` and `VmHWM`. The file descriptors
//! needed are about 1,000 per process; the run stops with a message if `ulimit -n`
//! is too low. Figures only, no assertions.
//!
//! `cargo bench -p hopwatch-health --bench probe_cost` (`HOPWATCH_BENCH_BACKENDS`,
//! `HOPWATCH_BENCH_SECONDS`, `HOPWATCH_BENCH_INTERVAL_MS` and `HOPWATCH_BENCH_JITTER` override the defaults).

#![allow(clippy::unwrap_used)] // a benchmark: a panic is a failed run

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hopwatch_health::{CheckSpec, Health, Target, spawn_checker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PORT: u16 = 18080;
const USER_HZ: f64 = 100.0;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The i-th backend address: 127.40.x.y, never .0 or .255.
fn backend(i: usize) -> SocketAddr {
    let x = (i / 250) as u8;
    let y = (i % 250) as u8 + 1;
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 40, x, y)), PORT)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let backends: usize = env_or("HOPWATCH_BENCH_BACKENDS", 1000);
    if args.iter().any(|a| a == "--responders") {
        return responders(backends);
    }
    if let Some(soft) = open_files_limit()
        && soft < backends as u64 + 200
    {
        eprintln!(
            "probe_cost: `ulimit -n` is {soft}; 1,000 backends need about 1,200: run `ulimit -n 4096` first"
        );
        std::process::exit(1);
    }
    let seconds: u64 = env_or("HOPWATCH_BENCH_SECONDS", 10);
    let interval_ms: u64 = env_or("HOPWATCH_BENCH_INTERVAL_MS", 100);

    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--responders")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let child_pid = child.id();
    // Wait (bounded) for the child's "ready" line.
    let stdout = child.stdout.take().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = ready_tx.send(line);
    });
    match ready_rx.recv_timeout(Duration::from_secs(20)) {
        Ok(line) if line.trim() == "ready" => {}
        other => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("responders did not start: {other:?}");
        }
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let interval = Duration::from_millis(interval_ms);
    let measure = Duration::from_secs(seconds);
    println!(
        "probe_cost: {backends} HTTP backends on 127.40.x.y, interval {interval_ms} ms, {seconds} s per run, \
         one tokio thread; responders in a child process"
    );
    let checkers = runtime.block_on(run_checkers(backends, interval, measure, child_pid));
    checkers.print("hopwatch-health checkers");
    let (rss, hwm) = memory(None);
    let (child_rss, _) = memory(Some(child_pid));
    println!(
        "  memory after the checkers: RSS {rss} KiB (peak {hwm} KiB); responders' RSS {child_rss} KiB"
    );
    let baseline = runtime.block_on(run_baseline(backends, interval, measure, child_pid));
    baseline.print("baseline: a bare keep-alive GET loop per backend, no checker logic");
    println!(
        "  checker cost above the bare loop: {:+.1} µs CPU per probe",
        checkers.us_per_probe() - baseline.us_per_probe()
    );

    let _ = child.kill();
    let _ = child.wait();
}

/// The figures of one run.
struct Run {
    probes: u64,
    failures: u64,
    mean_latency: Duration,
    up: usize,
    wall: Duration,
    cpu: Cpu,
    responders: Cpu,
    switches: u64,
}

impl Run {
    fn us_per_probe(&self) -> f64 {
        self.cpu.on_cpu_ns / 1e3 / self.probes.max(1) as f64
    }

    fn print(&self, what: &str) {
        println!("{what}:");
        println!(
            "  probes: {} ({:.0}/s), {} failed, mean latency {:?}{}",
            self.probes,
            self.probes as f64 / self.wall.as_secs_f64(),
            self.failures,
            self.mean_latency,
            if self.up > 0 {
                format!(", {} backends Up at the end", self.up)
            } else {
                String::new()
            },
        );
        print_cpu("this process", &self.cpu, self.wall);
        print_cpu("responders (child)", &self.responders, self.wall);
        println!(
            "  {:.1} µs CPU per probe; {:.0} context switches per second",
            self.us_per_probe(),
            self.switches as f64 / self.wall.as_secs_f64()
        );
    }
}

/// Snapshot before a run: CPU of both processes, context switches, time.
fn snapshot(child_pid: u32) -> (Cpu, Cpu, u64, Instant) {
    (
        cpu(None),
        cpu(Some(child_pid)),
        context_switches(),
        Instant::now(),
    )
}

fn finish(
    before: (Cpu, Cpu, u64, Instant),
    child_pid: u32,
    probes: u64,
    failures: u64,
    latency: Duration,
    up: usize,
) -> Run {
    let after = snapshot(child_pid);
    Run {
        probes,
        failures,
        mean_latency: latency
            .checked_div(u32::try_from(probes.max(1)).unwrap_or(u32::MAX))
            .unwrap_or_default(),
        up,
        wall: after.3 - before.3,
        cpu: after.0 - before.0,
        responders: after.1 - before.1,
        switches: after.2 - before.2,
    }
}

async fn run_checkers(
    backends: usize,
    interval: Duration,
    measure: Duration,
    child_pid: u32,
) -> Run {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut handles = Vec::new();
    for i in 0..backends {
        let target = Target::parse(&format!("http://{}/", backend(i))).unwrap();
        let mut spec = CheckSpec::new(target);
        spec.interval = interval;
        spec.timeout = interval.min(Duration::from_secs(1));
        spec.jitter = env_or("HOPWATCH_BENCH_JITTER", spec.jitter);
        spec.max_in_flight = CheckSpec::default_max_in_flight(spec.interval, spec.timeout);
        handles.push(spawn_checker(i, spec, tx.clone()));
    }
    drop(tx);
    // Let every checker connect and rise before measuring.
    let deadline = tokio::time::Instant::now() + interval * 5;
    while let Ok(Some(_)) = tokio::time::timeout_at(deadline, rx.recv()).await {}

    let before = snapshot(child_pid);
    let (mut probes, mut failures, mut latency) = (0u64, 0u64, Duration::ZERO);
    let mut up = vec![false; backends];
    // One timer for the whole run, not one per report.
    let _ = tokio::time::timeout(measure, async {
        while let Some(r) = rx.recv().await {
            probes += 1;
            failures += u64::from(!r.ok);
            latency += r.latency;
            up[r.id] = r.state == Health::Up;
        }
    })
    .await;
    let run = finish(
        before,
        child_pid,
        probes,
        failures,
        latency,
        up.iter().filter(|&&u| u).count(),
    );
    for h in &handles {
        h.abort();
    }
    run
}

/// The floor: per backend one task that sends the same GET every interval on one
/// connection and reads the known 40-byte answer. No timeout, no jitter, no reports.
async fn run_baseline(
    backends: usize,
    interval: Duration,
    measure: Duration,
    child_pid: u32,
) -> Run {
    let counts = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..backends {
        let counts = std::sync::Arc::clone(&counts);
        tasks.spawn(async move {
            let mut stream = TcpStream::connect(backend(i)).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let request = format!(
                "GET / HTTP/1.1\r\nHost: {}\r\nUser-Agent: hopwatch-health\r\nAccept: */*\r\n\r\n",
                backend(i)
            );
            let mut answer = [0u8; 40];
            let mut next = tokio::time::Instant::now();
            loop {
                next += interval;
                tokio::time::sleep_until(next).await;
                stream.write_all(request.as_bytes()).await.unwrap();
                stream.read_exact(&mut answer).await.unwrap();
                counts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    tokio::time::sleep(interval * 5).await;
    let before = snapshot(child_pid);
    let start = counts.load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(measure).await;
    let probes = counts.load(std::sync::atomic::Ordering::Relaxed) - start;
    let run = finish(before, child_pid, probes, 0, Duration::ZERO, 0);
    tasks.abort_all();
    run
}

/// Voluntary and involuntary context switches of this process's threads.
fn context_switches() -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(status) = std::fs::read_to_string(task.path().join("status")) {
            total += status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    total
}

fn print_cpu(what: &str, cpu: &Cpu, wall: Duration) {
    let pct = |ns: f64| 100.0 * ns / wall.as_nanos() as f64;
    println!(
        "  cpu {what}: {:.1} % of one core (user {:.2} s, sys {:.2} s; on-CPU {:.3} s)",
        pct(cpu.on_cpu_ns),
        cpu.user_ticks / USER_HZ,
        cpu.sys_ticks / USER_HZ,
        cpu.on_cpu_ns / 1e9
    );
}

#[derive(Debug, Clone, Copy)]
struct Cpu {
    user_ticks: f64,
    sys_ticks: f64,
    on_cpu_ns: f64,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, o: Cpu) -> Cpu {
        Cpu {
            user_ticks: self.user_ticks - o.user_ticks,
            sys_ticks: self.sys_ticks - o.sys_ticks,
            on_cpu_ns: self.on_cpu_ns - o.on_cpu_ns,
        }
    }
}

fn proc_path(pid: Option<u32>, file: &str) -> String {
    match pid {
        Some(pid) => format!("/proc/{pid}/{file}"),
        None => format!("/proc/self/{file}"),
    }
}

/// CPU of a whole process (all threads).
fn cpu(pid: Option<u32>) -> Cpu {
    let stat = std::fs::read_to_string(proc_path(pid, "stat")).unwrap();
    // Fields after the `(comm)`, which may hold spaces: state is field 3, utime 14, stime 15.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let user_ticks = fields[11].parse().unwrap();
    let sys_ticks = fields[12].parse().unwrap();
    // schedstat of every thread: first field is on-CPU ns.
    let mut on_cpu_ns = 0.0;
    for task in std::fs::read_dir(proc_path(pid, "task")).unwrap().flatten() {
        if let Ok(s) = std::fs::read_to_string(task.path().join("schedstat")) {
            on_cpu_ns += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
        }
    }
    Cpu {
        user_ticks,
        sys_ticks,
        on_cpu_ns,
    }
}

/// (VmRSS, VmHWM) in KiB.
fn memory(pid: Option<u32>) -> (u64, u64) {
    let status = std::fs::read_to_string(proc_path(pid, "status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The child: 1,000 listeners, each answering keep-alive requests with `200 ok`.
fn responders(backends: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for i in 0..backends {
            let listener = TcpListener::bind(backend(i)).await.unwrap();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(respond(stream));
                }
            });
        }
        println!("ready");
        // The parent kills us by PID; in case it dies first, stop on our own.
        tokio::time::sleep(Duration::from_secs(600)).await;
    });
}

async fn respond(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    loop {
        while let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..i + 4);
            if stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await
                .is_err()
            {
                return;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) if buf.len() + n <= 64 * 1024 => buf.extend_from_slice(&chunk[..n]),
            Ok(_) => return,
        }
    }
}
