//! Benchmark of the data planes; prints figures, asserts nothing about time.
//!
//! `cargo bench -p hopwatch-dataplane --bench dataplane` (it returns at once without
//! `--bench`, so `cargo test --all-targets` does not run it). Settings, from the
//! environment:
//! - `HOPWATCH_BENCH_ROUNDS` (default 7) rounds per case and path, each
//!   `HOPWATCH_BENCH_ROUND_MS` long (default 1000);
//! - `HOPWATCH_BENCH_CASES`: only these cases, e.g. `new:16,keep:16` (default all);
//! - `HOPWATCH_BENCH_PARTS`: `a`, `b` or `ab` (default);
//! - `HOPWATCH_BENCH_PROXY_WORKERS`: the proxy runtime's worker threads (default 1: a
//!   current-thread runtime, as in `hopwatch route-server`).
//!
//! (a) The proxy: HTTP/1.1 requests per second and median/p99 latency through the VIP
//!     against the same backend called directly, with a new connection per request
//!     and with keep-alive, at 1 and at 16 concurrent clients (closed loop: each
//!     client sends its next request when the answer to the last one is in). The
//!     backend (a small tokio responder), the proxy and the client each run on their
//!     own runtime and thread, all on loopback (127.88.0.0/16). The two paths
//!     alternate in rounds; see [`proxy_requests`] for why the comparison is fair.
//! (b) Programming latency: `program()` p50/p99 when the ECMP set of an existing VIP
//!     changes, and the time to program 4,000 distinct /32s one by one, for the proxy
//!     and for the kernel plane. The kernel plane runs only as root, inside network
//!     namespaces this benchmark creates (the bench re-executes itself there with
//!     `ip netns exec`) and deletes on exit; otherwise it says why it is skipped.

// A benchmark: a panic is a failed run.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hopwatch_dataplane::{DataPlane, KernelPlane, Prefix, ProxyConfig, ProxyPlane};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const KERNEL_CHILD_ENV: &str = "HOPWATCH_DATAPLANE_BENCH_NETNS";
const ROUTES: u32 = 4_000;
const CHANGES: usize = 1_000;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if std::env::var_os(KERNEL_CHILD_ENV).is_some() {
        current_thread().block_on(kernel_in_namespace());
        return;
    }
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let parts = std::env::var("HOPWATCH_BENCH_PARTS").unwrap_or_else(|_| "ab".into());
    if parts.contains('a') {
        proxy_requests(
            env("HOPWATCH_BENCH_ROUNDS", 7),
            Duration::from_millis(env("HOPWATCH_BENCH_ROUND_MS", 1000)),
        );
    }
    if parts.contains('b') {
        proxy_programming();
        kernel_programming();
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

// ---------------------------------------------------------------- (a) requests

const RESPONSE_KEEP_ALIVE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
const RESPONSE_CLOSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
const REQUEST_KEEP_ALIVE: &[u8] = b"GET / HTTP/1.1\r\nHost: vip\r\n\r\n";
const REQUEST_CLOSE: &[u8] = b"GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n";

/// A minimal HTTP/1.1 responder: answers each request with "ok", closing after it when
/// the request says `Connection: close`.
async fn http_backend(listener: TcpListener) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let _ = conn.set_nodelay(true);
            let mut buf = Vec::with_capacity(512);
            loop {
                let mut chunk = [0u8; 512];
                match conn.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
                while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let close = buf[..end].windows(17).any(|w| w == b"Connection: close");
                    buf.drain(..end + 4);
                    let response = if close {
                        RESPONSE_CLOSE
                    } else {
                        RESPONSE_KEEP_ALIVE
                    };
                    if conn.write_all(response).await.is_err() || close {
                        return;
                    }
                }
            }
        });
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    NewConnection,
    KeepAlive,
}

/// What the clients measured, summed over rounds.
#[derive(Default)]
struct Samples {
    latencies: Vec<Duration>,
    elapsed: Duration,
    errors: u64,
    /// CPU time of the whole process (client, proxy and backend), in clock ticks.
    cpu_ticks: u64,
    /// CPU time of the proxy's thread, in clock ticks.
    proxy_ticks: u64,
}

impl Samples {
    /// Adds another round's samples to these.
    fn absorb(&mut self, other: Samples) {
        self.latencies.extend(other.latencies);
        self.elapsed += other.elapsed;
        self.errors += other.errors;
        self.cpu_ticks += other.cpu_ticks;
        self.proxy_ticks += other.proxy_ticks;
    }

    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// CPU time of the whole process per request.
    fn cpu_per_request(&self) -> Duration {
        let secs = self.cpu_ticks as f64 / CLOCK_TICKS_PER_SEC;
        Duration::from_secs_f64(secs / self.latencies.len().max(1) as f64)
    }

    /// CPU time of the proxy's thread per request.
    fn proxy_cpu_per_request(&self) -> Duration {
        let secs = self.proxy_ticks as f64 / CLOCK_TICKS_PER_SEC;
        Duration::from_secs_f64(secs / self.latencies.len().max(1) as f64)
    }
}

/// USER_HZ, the unit of /proc/self/stat's times: 100 on every Linux architecture
/// hopwatch runs on.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// utime + stime of this process, from /proc/self/stat.
fn cpu_ticks() -> u64 {
    stat_ticks("/proc/self/stat")
}

/// utime + stime of the process or thread whose `stat` file is `path`.
fn stat_ticks(path: &str) -> u64 {
    let stat = std::fs::read_to_string(path).unwrap();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// `concurrency` clients send requests to `target` for `length`; adds to `into`.
async fn run_clients(
    target: SocketAddr,
    mode: Mode,
    concurrency: usize,
    length: Duration,
    proxy_stat: &str,
    into: &mut Samples,
) {
    let cpu = cpu_ticks();
    let proxy_cpu = stat_ticks(proxy_stat);
    let start = Instant::now();
    let deadline = start + length;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| tokio::spawn(client(target, mode, deadline)))
        .collect();
    for task in tasks {
        let (l, e) = task.await.unwrap();
        into.latencies.extend(l);
        into.errors += e;
    }
    into.elapsed += start.elapsed();
    into.cpu_ticks += cpu_ticks() - cpu;
    into.proxy_ticks += stat_ticks(proxy_stat) - proxy_cpu;
}

async fn client(target: SocketAddr, mode: Mode, deadline: Instant) -> (Vec<Duration>, u64) {
    let mut latencies = Vec::with_capacity(200_000);
    let mut errors = 0;
    let mut kept: Option<TcpStream> = None;
    let mut buf = [0u8; 256];
    while Instant::now() < deadline {
        let t0 = Instant::now();
        let ok = match mode {
            Mode::NewConnection => async {
                let mut conn = TcpStream::connect(target).await.ok()?;
                conn.set_nodelay(true).ok()?;
                conn.write_all(REQUEST_CLOSE).await.ok()?;
                let mut got = 0;
                loop {
                    match conn.read(&mut buf[got..]).await.ok()? {
                        0 => break,
                        n => got += n,
                    }
                }
                (got == RESPONSE_CLOSE.len()).then_some(())
            }
            .await
            .is_some(),
            Mode::KeepAlive => async {
                if kept.is_none() {
                    let conn = TcpStream::connect(target).await.ok()?;
                    conn.set_nodelay(true).ok()?;
                    kept = Some(conn);
                }
                let conn = kept.as_mut()?;
                conn.write_all(REQUEST_KEEP_ALIVE).await.ok()?;
                conn.read_exact(&mut buf[..RESPONSE_KEEP_ALIVE.len()])
                    .await
                    .ok()?;
                Some(())
            }
            .await
            .is_some(),
        };
        if ok {
            latencies.push(t0.elapsed());
        } else {
            errors += 1;
            kept = None;
        }
    }
    (latencies, errors)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs `future` to completion on a new thread with its own runtime, returning a
/// handle that stops it.
fn spawn_runtime<F>(
    name: &str,
    workers: usize,
    make: impl FnOnce() -> F + Send + 'static,
) -> Stopper
where
    F: Future<Output = ()> + 'static,
{
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let runtime = if workers <= 1 {
                current_thread()
            } else {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .enable_all()
                    .build()
                    .unwrap()
            };
            runtime.block_on(async move {
                tokio::select! {
                    () = make() => {}
                    _ = stop_rx => {}
                }
            });
        })
        .unwrap();
    Stopper {
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

struct Stopper {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Stopper {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One benchmark case: how the client talks to the backend, and how many clients.
struct Case {
    mode: Mode,
    concurrency: usize,
}

impl Case {
    fn name(&self) -> &'static str {
        match self.mode {
            Mode::NewConnection => "new connection",
            Mode::KeepAlive => "keep-alive",
        }
    }

    /// The short form `HOPWATCH_BENCH_CASES` filters on: `new:16`, `keep:1`.
    fn key(&self) -> String {
        let mode = match self.mode {
            Mode::NewConnection => "new",
            Mode::KeepAlive => "keep",
        };
        format!("{mode}:{}", self.concurrency)
    }
}

/// The median of `values` (NaN when empty), and the smallest and largest.
fn median_spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let Some((&min, &max)) = values.first().zip(values.last()) else {
        return (f64::NAN, f64::NAN, f64::NAN);
    };
    (values[values.len() / 2], min, max)
}

/// The proxy against the same backend called directly.
///
/// Fairness, on a machine where the proxy takes CPU from the client and the backend
/// (the proxied path has three busy threads where the direct one has two) and where
/// other work may run at the same time:
/// - both paths use the same client (one current-thread runtime, `concurrency`
///   tasks, the same requests), the same backend and the same round length;
/// - they alternate in `rounds` rounds of `round` each, in ABBA order (direct first
///   on even rounds, the VIP first on odd ones), so that a slow spell of the machine
///   lands on both;
/// - each round gives one VIP/direct ratio of rates and one difference of medians;
///   the figures are the median over rounds with the smallest and largest, so one
///   disturbed round does not move them.
fn proxy_requests(rounds: u64, round: Duration) {
    let backend_ip: IpAddr = "127.88.0.4".parse().unwrap();
    let vip: Prefix = "127.88.15.15/32".parse().unwrap();
    let probe = std::net::TcpListener::bind((backend_ip, 0)).unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let backend = SocketAddr::new(backend_ip, port);
    let through_vip = SocketAddr::new(vip.addr(), port);

    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let _backend = spawn_runtime("backend", 1, move || async move {
        let listener = TcpListener::bind(backend).await.unwrap();
        ready_tx.send(()).unwrap();
        http_backend(listener).await;
    });
    ready_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let workers = std::env::var("HOPWATCH_BENCH_PROXY_WORKERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let _proxy = spawn_runtime("proxy", workers, move || async move {
        let mut plane = ProxyPlane::new(ProxyConfig {
            ports: vec![port],
            ..ProxyConfig::default()
        });
        plane.program(vip, vec![backend_ip]).await.unwrap();
        ready_tx.send(thread_self()).unwrap();
        // Runs until the Stopper drops; the plane's tasks live on this runtime.
        std::future::pending::<()>().await;
        drop(plane);
    });
    let proxy_thread = ready_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let proxy_stat = format!("/proc/{proxy_thread}/stat");

    println!(
        "(a) proxy data plane: HTTP/1.1 GET; per case {rounds} rounds of {} ms per path, \
         direct and VIP alternating (ABBA); backend {backend}, VIP {through_vip}, proxy on \
         {workers} thread(s); client, backend and proxy share the machine's CPUs",
        round.as_millis(),
    );
    println!(
        "    {:<15} {:>4} {:>7} {:>9} {:>10} {:>10} {:>10} {:>6}",
        "mode", "conc", "path", "req/s", "p50", "p99", "cpu/req", "errors"
    );
    println!(
        "    (req/s and p50: median over rounds; p99 and cpu/req: over all rounds; \
         ratio and added median: median over rounds [min, max])"
    );
    let only = std::env::var("HOPWATCH_BENCH_CASES").ok();
    let client = current_thread();
    for mode in [Mode::NewConnection, Mode::KeepAlive] {
        for concurrency in [1, 16] {
            let case = Case { mode, concurrency };
            if only
                .as_deref()
                .is_some_and(|only| !only.split(',').any(|k| k == case.key()))
            {
                continue;
            }
            let mut direct = Samples::default();
            let mut proxied = Samples::default();
            let (mut rates, mut p50s) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
            let (mut ratios, mut added) = (Vec::new(), Vec::new());
            for r in 0..rounds {
                let mut this = [Samples::default(), Samples::default()];
                let order = if r % 2 == 0 { [0, 1] } else { [1, 0] };
                for path in order {
                    let target = [backend, through_vip][path];
                    client.block_on(run_clients(
                        target,
                        mode,
                        concurrency,
                        round,
                        &proxy_stat,
                        &mut this[path],
                    ));
                }
                for (path, run) in this.iter_mut().enumerate() {
                    run.latencies.sort_unstable();
                    rates[path].push(run.rate());
                    p50s[path].push(percentile(&run.latencies, 50.0).as_secs_f64() * 1e6);
                }
                ratios.push(this[1].rate() / this[0].rate());
                added.push(p50s[1][p50s[1].len() - 1] - p50s[0][p50s[0].len() - 1]);
                let [d, p] = this;
                direct.absorb(d);
                proxied.absorb(p);
            }
            for (path, (name, run)) in [("direct", &mut direct), ("vip", &mut proxied)]
                .into_iter()
                .enumerate()
            {
                run.latencies.sort_unstable();
                println!(
                    "    {:<15} {concurrency:>4} {name:>7} {:>9.0} {:>7.1} µs {:>10} {:>10} {:>6}",
                    case.name(),
                    median_spread(rates[path].clone()).0,
                    median_spread(p50s[path].clone()).0,
                    micros(percentile(&run.latencies, 99.0)),
                    micros(run.cpu_per_request()),
                    run.errors
                );
            }
            let (ratio, ratio_min, ratio_max) = median_spread(ratios);
            let (add, add_min, add_max) = median_spread(added);
            println!(
                "    {:<28} VIP/direct rate {ratio:.2} [{ratio_min:.2}, {ratio_max:.2}], \
                 added median {add:+.1} µs [{add_min:+.1}, {add_max:+.1}], \
                 added CPU per request {} (the proxy thread's own {})",
                "",
                signed_micros(proxied.cpu_per_request(), direct.cpu_per_request()),
                micros(proxied.proxy_cpu_per_request())
            );
        }
    }
}

/// `PID/task/TID` of the calling thread, for its /proc files.
fn thread_self() -> String {
    std::fs::read_link("/proc/thread-self")
        .unwrap()
        .display()
        .to_string()
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn signed_micros(a: Duration, b: Duration) -> String {
    format!("{:+.1} µs", (a.as_secs_f64() - b.as_secs_f64()) * 1e6)
}

// ---------------------------------------------------------- (b) programming

/// Times `program()` while the ECMP set of one VIP changes, then 4,000 new /32s one by
/// one, then `shutdown()`.
async fn programming<P: DataPlane>(
    plane: &mut P,
    vip: Prefix,
    hops: [IpAddr; 2],
    many: impl Fn(u32) -> Prefix,
) {
    let sets = [vec![hops[0]], vec![hops[1]], vec![hops[0], hops[1]]];
    plane.program(vip, sets[0].clone()).await.unwrap();
    let mut times = Vec::with_capacity(CHANGES);
    for i in 0..CHANGES {
        let set = sets[(i + 1) % sets.len()].clone();
        let t0 = Instant::now();
        plane.program(vip, set).await.unwrap();
        times.push(t0.elapsed());
    }
    times.sort_unstable();
    println!(
        "    change of next hop / ECMP set, {CHANGES} calls: p50 {}, p99 {}",
        micros(percentile(&times, 50.0)),
        micros(percentile(&times, 99.0))
    );

    let mut times = Vec::with_capacity(ROUTES as usize);
    let start = Instant::now();
    for i in 0..ROUTES {
        let t0 = Instant::now();
        plane.program(many(i), vec![hops[0]]).await.unwrap();
        times.push(t0.elapsed());
    }
    let total = start.elapsed();
    times.sort_unstable();
    println!(
        "    {ROUTES} new /32s one by one: {:.1} ms in all (p50 {}, p99 {})",
        total.as_secs_f64() * 1e3,
        micros(percentile(&times, 50.0)),
        micros(percentile(&times, 99.0))
    );
    let t0 = Instant::now();
    plane.shutdown().await.unwrap();
    println!(
        "    shutdown with {} prefixes: {:.1} ms",
        ROUTES + 1,
        t0.elapsed().as_secs_f64() * 1e3
    );
}

fn proxy_programming() {
    println!("(b) programming latency: proxy (each new /32 binds one listening socket)");
    current_thread().block_on(async {
        let mut plane = ProxyPlane::new(ProxyConfig {
            ports: vec![18080],
            ..ProxyConfig::default()
        });
        programming(
            &mut plane,
            "127.89.15.15/32".parse().unwrap(),
            ["127.89.0.4".parse().unwrap(), "127.89.0.5".parse().unwrap()],
            |i| {
                format!("127.90.{}.{}/32", i / 250, i % 250 + 1)
                    .parse()
                    .unwrap()
            },
        )
        .await;
    });
}

/// Runs in the router namespace the parent made: the kernel plane against its table.
async fn kernel_in_namespace() {
    let mut plane = KernelPlane::new().unwrap();
    programming(
        &mut plane,
        "100.64.0.1/32".parse().unwrap(),
        ["10.99.0.2".parse().unwrap(), "10.99.0.3".parse().unwrap()],
        |i| {
            format!("100.65.{}.{}/32", i / 250, i % 250 + 1)
                .parse()
                .unwrap()
        },
    )
    .await;
}

fn kernel_programming() {
    println!("(b) programming latency: kernel (netlink, in a namespace this bench made)");
    if !nix::unistd::geteuid().is_root() {
        println!("    skipped: creating a network namespace needs root");
        return;
    }
    let pid = std::process::id();
    let (router, peer) = (format!("hwdpb{pid}r"), format!("hwdpb{pid}p"));
    let _lab = Namespaces(vec![router.clone(), peer.clone()]);
    let (r, p) = (router.as_str(), peer.as_str());
    for args in [
        vec!["netns", "add", r],
        vec!["netns", "add", p],
        vec!["-n", r, "link", "set", "lo", "up"],
        vec![
            "-n", r, "link", "add", "r0", "type", "veth", "peer", "name", "p0", "netns", p,
        ],
        vec!["-n", r, "addr", "add", "10.99.0.1/24", "dev", "r0"],
        vec!["-n", p, "addr", "add", "10.99.0.2/24", "dev", "p0"],
        vec!["-n", p, "addr", "add", "10.99.0.3/24", "dev", "p0"],
        vec!["-n", r, "link", "set", "r0", "up"],
        vec!["-n", p, "link", "set", "p0", "up"],
    ] {
        let status = Command::new("ip").args(&args).status().unwrap();
        assert!(status.success(), "ip {}", args.join(" "));
    }
    let mut child = Command::new("ip")
        .args(["netns", "exec", r])
        .arg(std::env::current_exe().unwrap())
        .arg("--bench")
        .env(KERNEL_CHILD_ENV, "1")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the kernel bench in {r} failed: {status}");
            return;
        }
        if Instant::now() > deadline {
            // `ip netns exec` execs the bench itself, so this PID is the child.
            let _ = child.kill();
            let _ = child.wait();
            panic!("the kernel bench in {r} took longer than 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Namespaces deleted by name on drop, on success and on panic.
struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}
