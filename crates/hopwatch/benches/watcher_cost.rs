//! What the watcher costs: CPU (% of one core) and memory of `hopwatch run`, on
//! loopback, in the two cases issue 3 sets targets for.
//!
//! - **example**: the example config's health settings (interval 10 ms, timeout
//!   25 ms, fall 2, rise 3, default jitter), two `hopwatch web` backends on
//!   127.60.0.4 and 127.60.0.5, `hopwatch observe` as the route server on
//!   127.60.1.4. Target: at most 1 % of one core.
//! - **vips**: the example with 1,000 VIPs on the same two backends (the same
//!   checks, so one probe stream per backend, as for one VIP). Target: at most
//!   twice the example's CPU; its RSS is printed.
//! - **example-close** (not run by default): the same with backends that answer
//!   `Connection: close`, so every probe is a new connection, opened ahead of it.
//! - **thousand**: 1,000 HTTP backends probed every 100 ms (timeout 25 ms, fall 2,
//!   rise 3), as 500 VIPs of two backends each. The backends are 1,000 listeners on
//!   127.61.x.y served by one child process (this bench re-run with `--responders`:
//!   a thousand `hopwatch web` processes would measure the machine, not the
//!   watcher). Target: at most 10 % of one core.
//!
//! Each case waits for the watcher to release its routes (first verdicts in), lets
//! it settle for 2 s, then measures over a fixed window (HOPWATCH_BENCH_SECONDS,
//! default 30): utime + stime of the watcher process from `/proc/PID/stat` (CPU time,
//! so robust to other load on the machine), on-CPU ns from each thread's
//! `schedstat`, context switches from each thread's `status`, VmRSS, and the probes
//! made in the window (the `hopwatch_probe_latency_seconds` counts of `/metrics`,
//! read outside the window). HOPWATCH_BENCH_REPEATS (default 1) repeats each case;
//! HOPWATCH_BENCH_CASES (`example,vips,thousand`) picks cases; HOPWATCH_BENCH_BIN runs
//! another `hopwatch` binary (to compare two builds on the same machine state).
//!
//! `cargo bench -p hopwatch --bench watcher_cost`. Only loopback addresses; every
//! process runs under `timeout` (a hard bound even if this bench dies) and is stopped
//! by PID; every wait is bounded. Figures only, no assertions. Without `--bench` in
//! its arguments (`cargo test --benches`) it returns at once.

// A benchmark is a test program: a panic is a failed run.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const RESPONDER_PORT: u16 = 18090;
const THOUSAND: usize = 1000;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--responders") {
        return responders(THOUSAND);
    }
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    let window = Duration::from_secs(env_num("HOPWATCH_BENCH_SECONDS", 30).max(1));
    let repeats = env_num("HOPWATCH_BENCH_REPEATS", 1).max(1);
    let cases =
        std::env::var("HOPWATCH_BENCH_CASES").unwrap_or_else(|_| "example,vips,thousand".into());
    let dir = std::env::temp_dir().join(format!("hopwatch-watcher-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "watcher_cost: `hopwatch run` on loopback, {} s window, CPU = utime+stime of the watcher process",
        window.as_secs()
    );
    for case in cases.split(',') {
        for _ in 0..repeats {
            match case.trim() {
                "example" => example(&dir, window, "keep-alive", 1),
                "vips" => example(&dir, window, "keep-alive", THOUSAND),
                "example-close" => example(&dir, window, "close", 1),
                "thousand" => thousand(&dir, window),
                other => {
                    println!("unknown case {other:?} (example, vips, example-close, thousand)")
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A child process, stopped by PID when dropped. `pid` is the process itself (not
/// the `timeout` wrapping it), for the /proc figures.
struct Proc {
    child: Child,
    pid: u32,
    events: mpsc::Receiver<String>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        // The real process first (timeout would forward SIGTERM, but kill it by PID
        // so it is gone whatever timeout does), then the wrapper.
        let _ = Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The process itself is not our child (timeout's): wait, bounded, until it is
        // gone, so that its listeners are closed before the next case binds them.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Path::new(&format!("/proc/{}/stat", self.pid)).exists() && Instant::now() < deadline {
            if std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).is_ok_and(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
            }) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Proc {
    /// Waits at most `limit` for a stdout line containing `needle`.
    fn wait_for(&self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.events.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no {needle:?} within {limit:?}");
    }
}

/// Starts `program args…` under `timeout` (a hard bound on its life).
fn spawn(lifetime: Duration, program: &str, args: &[&str]) -> Proc {
    let mut child = Command::new("timeout")
        .args(["--signal=KILL", &lifetime.as_secs().to_string(), program])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, events) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // The process timeout started: its only child.
    let wrapper = child.id();
    let deadline = Instant::now() + Duration::from_secs(5);
    let pid = loop {
        let children = std::fs::read_to_string(format!("/proc/{wrapper}/task/{wrapper}/children"))
            .unwrap_or_default();
        if let Some(pid) = children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "{program} did not start");
        std::thread::sleep(Duration::from_millis(5));
    };
    Proc { child, pid, events }
}

/// Runs `hopwatch` (HOPWATCH_BENCH_BIN overrides the binary, to compare builds).
fn hopwatch(lifetime: Duration, args: &[&str]) -> Proc {
    let bin = std::env::var("HOPWATCH_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_hopwatch").to_owned());
    spawn(lifetime, &bin, args)
}

/// A free TCP port on `ip` (bound, then released).
fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The config of a case: one route server, `vips` of backends (name, ip, port).
fn config(
    dir: &Path,
    name: &str,
    api: &str,
    rs: (&str, u16),
    vips: &[Vec<(String, String, u16)>],
    interval: &str,
) -> String {
    let mut text = format!(
        "[bgp]\nlocal_as = 65001\nrouter_id = \"127.60.0.7\"\nlocal_address = \"127.60.0.7\"\n\
         port = {}\nhold_time = 9\ngraceful_restart = 10\n\n\
         [[route_server]]\naddress = \"{}\"\npeer_as = 65515\n\n",
        rs.1, rs.0
    );
    for (v, backends) in vips.iter().enumerate() {
        text += &format!(
            "[[vip]]\nprefix = \"100.64.{}.{}/32\"\nbackends = [\n",
            v / 250,
            v % 250 + 1
        );
        for (name, ip, port) in backends {
            text += &format!(
                "  {{ name = \"{name}\", next_hop = \"{ip}\", check = \"http://{ip}:{port}/health\" }},\n"
            );
        }
        text += "]\n\n";
    }
    text += &format!(
        "[health]\ninterval = \"{interval}\"\ntimeout = \"25ms\"\nfall = 2\nrise = 3\n\n\
         [failover]\npreempt = true\nfailback_hold = \"30s\"\nall_down = \"keep\"\n\n\
         [api]\nlisten = \"{api}\"\n"
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn observe(lifetime: Duration, ip: &str, port: u16) -> Proc {
    let port = port.to_string();
    let p = hopwatch(
        lifetime,
        &[
            "observe",
            "--local-as",
            "65515",
            "--router-id",
            ip,
            "--listen",
            ip,
            "--port",
            &port,
        ],
    );
    std::thread::sleep(Duration::from_millis(200));
    p
}

/// The example config against backends that keep their connections
/// (`connection = "keep-alive"`) or close them after each answer (`"close"`, where
/// the watcher opens the next probe's connection ahead and watches it), with `n`
/// VIPs on the two backends.
fn example(dir: &Path, window: Duration, connection: &str, n: usize) {
    let lifetime = window + Duration::from_secs(120);
    let (ws1, ws2, rs, me) = ("127.60.0.4", "127.60.0.5", "127.60.1.4", "127.60.0.7");
    let (p1, p2, bgp) = (free_port(ws1), free_port(ws2), free_port(rs));
    let api = format!("{me}:{}", free_port(me));
    let mut webs = Vec::new();
    for (ip, port, name) in [(ws1, p1, "ws1"), (ws2, p2, "ws2")] {
        let listen = format!("{ip}:{port}");
        let mut argv = vec!["web", "--listen", &listen, "--name", name];
        // Only when asked: HOPWATCH_BENCH_BIN may be a build from before the option.
        if connection != "keep-alive" {
            argv.extend(["--connection", connection]);
        }
        let w = hopwatch(lifetime, &argv);
        w.wait_for("listening", Duration::from_secs(10));
        webs.push(w);
    }
    let _rs = observe(lifetime, rs, bgp);
    let pair = vec![
        ("ws1".to_owned(), ws1.to_owned(), p1),
        ("ws2".to_owned(), ws2.to_owned(), p2),
    ];
    let vips = vec![pair; n];
    let cfg = config(dir, "example.toml", &api, (rs, bgp), &vips, "10ms");
    let watcher = hopwatch(lifetime, &["run", "-c", &cfg]);
    watcher.wait_for("routes_released", Duration::from_secs(20));
    let m = measure(&watcher, &api, window);
    if n == 1 {
        m.print(&format!(
            "example config (2 backends, 10 ms, timeout 25 ms, backends {connection}), target <= 1 %"
        ));
    } else {
        m.print(&format!(
            "{n} VIPs on the example's 2 backends (the same checks: 2 probe streams), \
             target <= 2x the example's CPU"
        ));
    }
    let web_cpu: f64 = webs.iter().map(|w| ticks(w.pid)).sum();
    println!(
        "  (the two `hopwatch web` backends used {:.2} s CPU since they started)",
        web_cpu / clock_ticks()
    );
}

fn thousand(dir: &Path, window: Duration) {
    if let Some(soft) = open_files_limit()
        && soft < 2 * THOUSAND as u64 + 200
    {
        println!("thousand: `ulimit -n` is {soft}; run `ulimit -n 4096` first");
        return;
    }
    let lifetime = window + Duration::from_secs(120);
    let (rs, me) = ("127.60.1.4", "127.60.0.7");
    let bgp = free_port(rs);
    let api = format!("{me}:{}", free_port(me));
    let responders = spawn(
        lifetime,
        std::env::current_exe().unwrap().to_str().unwrap(),
        &["--responders"],
    );
    responders.wait_for("ready", Duration::from_secs(20));
    let _rs = observe(lifetime, rs, bgp);
    let vips: Vec<Vec<(String, String, u16)>> = (0..THOUSAND / 2)
        .map(|v| {
            (0..2)
                .map(|b| {
                    let i = 2 * v + b;
                    let ip = responder_ip(i).to_string();
                    (format!("b{i}"), ip, RESPONDER_PORT)
                })
                .collect()
        })
        .collect();
    let cfg = config(dir, "thousand.toml", &api, (rs, bgp), &vips, "100ms");
    let watcher = hopwatch(lifetime, &["run", "-c", &cfg]);
    watcher.wait_for("routes_released", Duration::from_secs(30));
    let m = measure(&watcher, &api, window);
    m.print("1,000 backends at 100 ms (timeout 30 ms), target <= 10 %");
    println!(
        "  (the responders used {:.2} s CPU since they started)",
        ticks(responders.pid) / clock_ticks()
    );
}

struct Measured {
    wall: Duration,
    ticks: f64,
    on_cpu_ns: f64,
    switches: u64,
    probes: f64,
    failed: f64,
    user_ticks: f64,
    rss_kb: u64,
    threads: usize,
}

impl Measured {
    fn print(&self, what: &str) {
        let secs = self.wall.as_secs_f64();
        let pct = 100.0 * self.ticks / clock_ticks() / secs;
        println!("{what}:");
        println!(
            "  CPU {pct:.2} % of one core (utime+stime {:.2} s over {secs:.1} s; on-CPU {:.2} %), \
             VmRSS {} KiB, {} threads",
            self.ticks / clock_ticks(),
            100.0 * self.on_cpu_ns / 1e9 / secs,
            self.rss_kb,
            self.threads,
        );
        println!(
            "  user {:.2} %, system {:.2} %; {:.0} probes/s ({:.0} failed), {:.1} µs CPU per probe, \
             {:.0} context switches/s ({:.2} per probe)",
            100.0 * self.user_ticks / clock_ticks() / secs,
            100.0 * (self.ticks - self.user_ticks) / clock_ticks() / secs,
            self.probes / secs,
            self.failed,
            self.on_cpu_ns / 1e3 / self.probes.max(1.0),
            self.switches as f64 / secs,
            self.switches as f64 / self.probes.max(1.0),
        );
    }
}

fn measure(watcher: &Proc, api: &str, window: Duration) -> Measured {
    std::thread::sleep(Duration::from_secs(2));
    let pid = watcher.pid;
    let (probes0, failed0) = probes(api);
    let (u0, t0, c0, s0, w0) = (
        user(pid),
        ticks(pid),
        on_cpu_ns(pid),
        switches(pid),
        Instant::now(),
    );
    std::thread::sleep(window);
    let (u1, t1, c1, s1, wall) = (
        user(pid),
        ticks(pid),
        on_cpu_ns(pid),
        switches(pid),
        w0.elapsed(),
    );
    let (probes1, failed1) = probes(api);
    Measured {
        wall,
        ticks: t1 - t0,
        on_cpu_ns: c1 - c0,
        switches: s1 - s0,
        probes: probes1 - probes0,
        failed: failed1 - failed0,
        user_ticks: u1 - u0,
        rss_kb: rss_kb(pid),
        threads: std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, Iterator::count),
    }
}

/// Probes made and failed so far: the sums of the probe latency histogram counts and
/// of the failed probe counters of `/metrics`.
fn probes(api: &str) -> (f64, f64) {
    let addr: SocketAddr = api.parse().unwrap();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let sum = |prefix: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    (
        sum("hopwatch_probe_latency_seconds_count"),
        sum("hopwatch_probes_failed_total"),
    )
}

/// utime of a process (all its threads), in clock ticks.
fn user(pid: u32) -> f64 {
    stat_field(pid, 14)
}

/// utime + stime of a process (all its threads), in clock ticks.
fn ticks(pid: u32) -> f64 {
    stat_field(pid, 14) + stat_field(pid, 15)
}

/// Field `n` (1-based, as in proc(5)) of /proc/PID/stat, as a number.
fn stat_field(pid: u32, n: usize) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command name: state is field 3, utime 14, stime 15.
    f.get(n - 3)
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.0)
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// On-CPU ns of every thread (`schedstat`'s first field).
fn on_cpu_ns(pid: u32) -> f64 {
    tasks(pid)
        .filter_map(|t| std::fs::read_to_string(t.join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .sum()
}

/// Voluntary and involuntary context switches of every thread.
fn switches(pid: u32) -> u64 {
    tasks(pid)
        .filter_map(|t| std::fs::read_to_string(t.join("status")).ok())
        .flat_map(|s| {
            s.lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

fn tasks(pid: u32) -> impl Iterator<Item = std::path::PathBuf> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
}

/// VmRSS in KiB.
fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The i-th responder address: 127.61.x.y, never .0 or .255.
fn responder_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 61, (i / 250) as u8, (i % 250) as u8 + 1)
}

/// The child of the `thousand` case: `n` listeners, each answering every keep-alive
/// request with the head `hopwatch web` sends for its health path. Plain threads and
/// blocking IO would need a thread per connection; tokio on one thread is enough.
fn responders(n: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for i in 0..n {
            let listener =
                tokio::net::TcpListener::bind(SocketAddr::from((responder_ip(i), RESPONDER_PORT)))
                    .await
                    .unwrap();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(respond(stream));
                }
            });
        }
        println!("ready");
        // Stopped by PID (and bounded by `timeout`).
        std::future::pending::<()>().await;
    });
}

async fn respond(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    loop {
        while let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..i + 4);
            let answer = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\n\
                content-length: 3\r\ndate: Tue, 25 Nov 2025 20:00:00 GMT\r\n\r\nok\n";
            if stream.write_all(answer).await.is_err() {
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
