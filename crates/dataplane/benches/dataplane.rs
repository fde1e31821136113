//! Benchmark of the data planes; prints figures, asserts nothing about time.
//!
//! `cargo bench -p hopwatch-dataplane --bench dataplane` (it returns at once without
//! `--bench`, so `cargo test --all-targets` does not run it). `HOPWATCH_BENCH_SECS`
//! sets the length of each proxy run (default 5); `HOPWATCH_BENCH_PROXY_WORKERS` the
//! proxy runtime's worker threads (default 1: a current-thread runtime).
//!
//! (a) The proxy: HTTP/1.1 requests per second and median/p99 latency through the VIP
//!     against the same backend called directly, with a new connection per request
//!     and with keep-alive, at 1 and at 16 concurrent clients. The backend (a small
//!     tokio responder), the proxy and the client each run on their own runtime and
//!     thread, all on loopback (127.88.0.0/16).
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
    let secs = std::env::var("HOPWATCH_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    proxy_requests(Duration::from_secs(secs));
    proxy_programming();
    kernel_programming();
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
}

impl Samples {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// CPU time of the whole process per request.
    fn cpu_per_request(&self) -> Duration {
        let secs = self.cpu_ticks as f64 / CLOCK_TICKS_PER_SEC;
        Duration::from_secs_f64(secs / self.latencies.len().max(1) as f64)
    }
}

/// USER_HZ, the unit of /proc/self/stat's times: 100 on every Linux architecture
/// hopwatch runs on.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// utime + stime of this process, from /proc/self/stat.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
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
    into: &mut Samples,
) {
    let cpu = cpu_ticks();
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

fn proxy_requests(length: Duration) {
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
        ready_tx.send(()).unwrap();
        // Runs until the Stopper drops; the plane's tasks live on this runtime.
        std::future::pending::<()>().await;
        drop(plane);
    });
    ready_rx.recv_timeout(Duration::from_secs(5)).unwrap();

    println!(
        "(a) proxy data plane: HTTP/1.1 GET, {} s per path, in 1 s rounds alternating direct \
         and VIP; backend {backend}, VIP {through_vip}, proxy on {workers} thread(s)",
        length.as_secs()
    );
    println!(
        "    {:<15} {:>4} {:>7} {:>9} {:>10} {:>10} {:>10} {:>6}",
        "mode", "conc", "path", "req/s", "p50", "p99", "cpu/req", "errors"
    );
    let client = current_thread();
    let rounds = length.as_secs().max(1);
    for mode in [Mode::NewConnection, Mode::KeepAlive] {
        for concurrency in [1, 16] {
            let mut direct = Samples::default();
            let mut proxied = Samples::default();
            for _ in 0..rounds {
                let second = Duration::from_secs(1);
                client.block_on(run_clients(backend, mode, concurrency, second, &mut direct));
                client.block_on(run_clients(
                    through_vip,
                    mode,
                    concurrency,
                    second,
                    &mut proxied,
                ));
            }
            let name = match mode {
                Mode::NewConnection => "new connection",
                Mode::KeepAlive => "keep-alive",
            };
            for (path, run) in [("direct", &mut direct), ("vip", &mut proxied)] {
                run.latencies.sort_unstable();
                println!(
                    "    {name:<15} {concurrency:>4} {path:>7} {:>9.0} {:>10} {:>10} {:>10} {:>6}",
                    run.rate(),
                    micros(percentile(&run.latencies, 50.0)),
                    micros(percentile(&run.latencies, 99.0)),
                    micros(run.cpu_per_request()),
                    run.errors
                );
            }
            println!(
                "    {:<28} VIP/direct rate {:.2}, added median {}, added CPU per request {}",
                "",
                proxied.rate() / direct.rate(),
                signed_micros(
                    percentile(&proxied.latencies, 50.0),
                    percentile(&direct.latencies, 50.0)
                ),
                signed_micros(proxied.cpu_per_request(), direct.cpu_per_request())
            );
        }
    }
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
    if !is_root() {
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

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|uids| uids.split_whitespace().nth(1))
        == Some("0")
}
