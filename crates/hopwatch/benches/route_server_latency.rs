//! Benchmark: from an UPDATE received by `hopwatch route-server` to the route
//! programmed in its data plane, p50 and p99 over 1,000 next-hop moves, and the time
//! to program 1,000 routes from one peer; for the proxy data plane (loopback) and the
//! kernel data plane (inside a network namespace this bench creates; root only).
//!
//! The figures come from the route server's own `programmed` events, which carry
//! both timestamps (`received_us`, and the time the data plane call returned).
//!
//! Then the proxy data plane's cost to traffic: HTTP requests per second and median
//! latency through the VIP of a running `hopwatch route-server --dataplane proxy`
//! against the same `hopwatch web` backend called directly (see [`requests`] for how,
//! and why the comparison is fair).
//!
//! `cargo bench -p hopwatch --bench route_server_latency`
//! (HOPWATCH_BENCH_MOVES changes the count; HOPWATCH_BENCH_ROUNDS and
//! HOPWATCH_BENCH_ROUND_MS the request-rate rounds, default 7 of 1000 ms;
//! HOPWATCH_BENCH_PARTS=requests runs only those).

// A benchmark: a panic is a failed run.
#![allow(clippy::unwrap_used)]

#[path = "../tests/loopback/mod.rs"]
mod loopback;

use std::io::Write;
use std::process::Command;

use hopwatch_events::Event;
use hopwatch_events::route_server::Programmed;
use loopback::events::ip_addr;
use loopback::{Proc, spawn};

const SPEAKER: &str = "127.25.0.7";
const RS: &str = "127.25.1.4";

/// Whether `p`'s first next hop is `hop`.
fn first_hop_is(p: &Programmed, hop: &str) -> bool {
    p.next_hops.as_ref().and_then(|h| h.first()) == Some(&ip_addr(hop))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

/// Runs one data plane: `wrap` prefixes every command (for `ip netns exec NS`).
fn measure(plane: &str, wrap: &[&str], hops: [&str; 2], net: [&str; 2], bgp: u16, api: u16) {
    // The proxy plane listens on the VIPs: on loopback they must be 127.x addresses.
    let [vip_net, burst_net] = net;
    let vip = format!("{vip_net}.1/32");
    let moves: usize = std::env::var("HOPWATCH_BENCH_MOVES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000);
    let bin = env!("CARGO_BIN_EXE_hopwatch");
    let with = |args: &[&str]| -> Vec<String> {
        wrap.iter()
            .copied()
            .chain([bin])
            .chain(args.iter().copied())
            .map(str::to_owned)
            .collect()
    };
    let bgp_s = bgp.to_string();
    let api_s = format!("{RS}:{api}");
    let rs_args = with(&[
        "route-server",
        "--instance",
        RS,
        "--peer",
        &format!("{SPEAKER}:65001"),
        "--port",
        &bgp_s,
        "--dataplane",
        plane,
        "--vip-port",
        "18080",
        "--api",
        &api_s,
    ]);
    let mut rs = spawn_exec(&rs_args);
    let spk_args = with(&[
        "speak",
        "--local-as",
        "65001",
        "--router-id",
        SPEAKER,
        "--local-address",
        SPEAKER,
        "--peer",
        RS,
        "--peer-as",
        "65515",
        "--port",
        &bgp_s,
    ]);
    let mut spk = spawn_exec(&spk_args);
    spk.wait_for("the session", |l| matches!(l.event, Event::Established(_)));
    let mut stdin = spk.stdin.take().unwrap();

    let mut lat = Vec::with_capacity(moves);
    for i in 0..moves {
        let hop = hops[i % 2];
        writeln!(stdin, "announce route {vip} next-hop {hop}").unwrap();
        let p = rs.wait_for("programmed", |l| match &l.event {
            Event::Programmed(p) if p.prefix == vip && first_hop_is(p, hop) => Some(p.clone()),
            _ => None,
        });
        if let Some(us) = p.latency_us {
            lat.push(us as f64 / 1000.0);
        }
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "{plane:>6}: UPDATE received to route programmed over {} moves: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );

    // 1,000 routes from one peer (Azure Route Server's per-peer limit, so the VIP
    // goes first).
    writeln!(stdin, "withdraw route {vip}").unwrap();
    rs.wait_for(
        "the VIP removed",
        |l| matches!(&l.event, Event::Programmed(p) if p.next_hops.is_none()),
    );
    let mut first_received = u64::MAX;
    let mut last_programmed = 0;
    for i in 0..1000u32 {
        writeln!(
            stdin,
            "announce route {burst_net}.{}.{}/32 next-hop {}",
            i / 250,
            i % 250 + 1,
            hops[0]
        )
        .unwrap();
    }
    stdin.flush().unwrap();
    let mut done = 0;
    while done < 1000 {
        let (ts_us, p) = rs.wait_for("a programmed route", |l| match &l.event {
            Event::Programmed(p) if p.prefix.starts_with(&format!("{burst_net}.")) => {
                Some((l.ts_us, p.clone()))
            }
            _ => None,
        });
        first_received = first_received.min(p.received_us.unwrap_or(u64::MAX));
        last_programmed = last_programmed.max(ts_us);
        done += 1;
    }
    println!(
        "{plane:>6}: 1,000 routes from one peer: first UPDATE received to last route programmed {:.1} ms",
        last_programmed.saturating_sub(first_received) as f64 / 1000.0
    );
    drop(stdin);
    spk.signal("TERM");
    rs.signal("TERM");
    let _ = spk.exit_success();
    let _ = rs.exit_success();
}

fn spawn_exec(argv: &[String]) -> Proc {
    // `spawn` runs the hopwatch binary itself; for a namespace the argv starts with
    // `ip netns exec NS`, so run it through `env` with the whole argv.
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    if refs.first() == Some(&env!("CARGO_BIN_EXE_hopwatch")) {
        spawn(&refs[1..])
    } else {
        loopback::spawn_cmd(&refs)
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let port = |ip: &str| loopback::free_port(ip);
    let parts = std::env::var("HOPWATCH_BENCH_PARTS").unwrap_or_default();
    if parts.is_empty() || parts.contains("requests") {
        requests::proxy_vs_direct(port(requests::WEB), port(RS));
    }
    if parts == "requests" {
        return;
    }
    measure(
        "proxy",
        &[],
        ["127.25.0.4", "127.25.0.5"],
        ["127.25.15", "127.26"],
        port(RS),
        port(RS),
    );
    measure(
        "none",
        &[],
        ["127.25.0.4", "127.25.0.5"],
        ["127.25.15", "127.26"],
        port(RS),
        port(RS),
    );

    // The kernel plane, inside a namespace of our own (never the host's table).
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    if !root {
        println!("kernel: skipped (needs root to make a network namespace)");
        return;
    }
    let ns = format!("hwrsb{}", std::process::id());
    let sh = |cmd: &str| {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "failed: {cmd}");
    };
    sh(&format!("ip netns add {ns}"));
    let cleanup = Cleanup(ns.clone());
    sh(&format!("ip -n {ns} link set lo up"));
    // Both veth ends stay inside the namespace: the gateways sit on a connected subnet.
    sh(&format!("ip -n {ns} link add hwa type veth peer name hwb"));
    sh(&format!("ip -n {ns} addr add 10.99.0.1/24 dev hwa"));
    sh(&format!(
        "ip -n {ns} link set hwa up && ip -n {ns} link set hwb up"
    ));
    measure(
        "kernel",
        &["ip", "netns", "exec", &ns],
        ["10.99.0.4", "10.99.0.5"],
        ["100.64.0", "100.65"],
        1179,
        9180,
    );
    drop(cleanup);
}

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Requests through the proxy data plane's VIP against the same backend called
/// directly.
mod requests {
    use std::io::Write;
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use hopwatch_events::Event;

    use super::loopback::{spawn, web};
    use super::{RS, SPEAKER, first_hop_is};

    /// The backend (`hopwatch web`) and the VIP the route server proxies to it.
    pub const WEB: &str = "127.25.0.4";
    const VIP: &str = "127.25.16.1";

    const REQUEST_CLOSE: &[u8] = b"GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n";
    const REQUEST_KEEP_ALIVE: &[u8] = b"GET / HTTP/1.1\r\nHost: vip\r\n\r\n";

    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        NewConnection,
        KeepAlive,
    }

    /// One round of one path.
    #[derive(Default)]
    struct Round {
        latencies: Vec<Duration>,
        elapsed: Duration,
        errors: u64,
    }

    impl Round {
        fn rate(&self) -> f64 {
            self.latencies.len() as f64 / self.elapsed.as_secs_f64()
        }

        fn p50_us(&mut self) -> f64 {
            self.latencies.sort_unstable();
            self.latencies
                .get(self.latencies.len() / 2)
                .map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
        }
    }

    /// The median of `values`, and the smallest and largest.
    fn median_spread(mut values: Vec<f64>) -> (f64, f64, f64) {
        values.sort_by(f64::total_cmp);
        let Some((&min, &max)) = values.first().zip(values.last()) else {
            return (f64::NAN, f64::NAN, f64::NAN);
        };
        (values[values.len() / 2], min, max)
    }

    /// utime + stime of process `pid`, in clock ticks (USER_HZ, 100 per second).
    fn cpu_ticks(pid: u32) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let Some(rest) = stat.rfind(')').and_then(|i| stat.get(i + 2..)) else {
            return 0;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        field(11).unwrap_or(0) + field(12).unwrap_or(0)
    }

    /// Reads one HTTP/1.1 response with a Content-Length from `conn`, keeping what
    /// follows it in `buf`; false on error or EOF.
    async fn read_response(conn: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if let Some(length) = length
                    && buf.len() >= end + 4 + length
                {
                    buf.drain(..end + 4 + length);
                    return head.starts_with("http/1.1 200");
                }
            }
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// One closed-loop client: the next request goes when the last answer is in.
    async fn client(target: SocketAddr, mode: Mode, deadline: Instant) -> Round {
        let mut round = Round::default();
        let mut kept: Option<TcpStream> = None;
        let mut buf = Vec::with_capacity(1024);
        while Instant::now() < deadline {
            let t0 = Instant::now();
            let ok = async {
                if mode == Mode::NewConnection || kept.is_none() {
                    let conn = TcpStream::connect(target).await.ok()?;
                    conn.set_nodelay(true).ok()?;
                    kept = Some(conn);
                    buf.clear();
                }
                let conn = kept.as_mut()?;
                let request = match mode {
                    Mode::NewConnection => REQUEST_CLOSE,
                    Mode::KeepAlive => REQUEST_KEEP_ALIVE,
                };
                conn.write_all(request).await.ok()?;
                read_response(conn, &mut buf).await.then_some(())
            }
            .await
            .is_some();
            if mode == Mode::NewConnection {
                kept = None;
            }
            if ok {
                round.latencies.push(t0.elapsed());
            } else {
                round.errors += 1;
                kept = None;
            }
        }
        round
    }

    async fn run(target: SocketAddr, mode: Mode, concurrency: usize, length: Duration) -> Round {
        let start = Instant::now();
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| tokio::spawn(client(target, mode, start + length)))
            .collect();
        let mut all = Round::default();
        for task in tasks {
            let r = task.await.unwrap();
            all.latencies.extend(r.latencies);
            all.errors += r.errors;
        }
        all.elapsed = start.elapsed();
        all
    }

    /// Starts `hopwatch web`, `hopwatch route-server --dataplane proxy` and a speaker
    /// announcing the VIP with the backend as next hop, then measures.
    ///
    /// Fairness, on a small machine where the proxy takes CPU from the client and the
    /// backend, and where other work may run at the same time:
    /// - both paths use the same client (this process: one current-thread runtime,
    ///   `concurrency` tasks, the same requests) and the same backend process;
    /// - they alternate in rounds, ABBA (direct first on even rounds), so that a slow
    ///   spell of the machine lands on both;
    /// - each round gives one VIP/direct ratio of rates and one difference of median
    ///   latencies; the figures are the median over rounds, with the smallest and
    ///   largest, so that one disturbed round does not move them.
    pub fn proxy_vs_direct(port: u16, bgp: u16) {
        let env = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(default)
        };
        let rounds = env("HOPWATCH_BENCH_ROUNDS", 7);
        let length = Duration::from_millis(env("HOPWATCH_BENCH_ROUND_MS", 1000));
        let port_s = port.to_string();
        let bgp_s = bgp.to_string();
        let api = format!("{RS}:{}", super::loopback::free_port(RS));
        let _web = web(WEB, port, "ws1");
        let mut rs = spawn(&[
            "route-server",
            "--instance",
            RS,
            "--peer",
            &format!("{SPEAKER}:65001"),
            "--port",
            &bgp_s,
            "--dataplane",
            "proxy",
            "--vip-port",
            &port_s,
            "--api",
            &api,
        ]);
        let mut spk = spawn(&[
            "speak",
            "--local-as",
            "65001",
            "--router-id",
            SPEAKER,
            "--local-address",
            SPEAKER,
            "--peer",
            RS,
            "--peer-as",
            "65515",
            "--port",
            &bgp_s,
        ]);
        spk.wait_for("the session", |l| matches!(l.event, Event::Established(_)));
        let mut stdin = spk.stdin.take().unwrap();
        writeln!(stdin, "announce route {VIP}/32 next-hop {WEB}").unwrap();
        rs.wait_for(
            "the VIP programmed",
            |l| matches!(&l.event, Event::Programmed(p) if first_hop_is(p, WEB)),
        );

        let direct: SocketAddr = format!("{WEB}:{port}").parse().unwrap();
        let vip: SocketAddr = format!("{VIP}:{port}").parse().unwrap();
        let rs_pid = rs.child.id();
        println!(
            "requests: HTTP/1.1 GET to `hopwatch web` {direct}, directly and through the VIP \
             {vip} of `hopwatch route-server --dataplane proxy`; {rounds} rounds of {} ms \
             per path, alternating (ABBA); closed-loop clients in one current-thread runtime",
            length.as_millis()
        );
        println!(
            "    {:<15} {:>4} {:>9} {:>9} {:>6} {:>10} {:>10} {:>6}   \
             [ratio min, max] [added p50 min, max] proxy CPU/request",
            "mode", "conc", "direct/s", "vip/s", "ratio", "p50 direct", "p50 vip", "errors",
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for (mode, name) in [
            (Mode::NewConnection, "new connection"),
            (Mode::KeepAlive, "keep-alive"),
        ] {
            for concurrency in [1, 16] {
                let (mut rates, mut p50s) = ([vec![], vec![]], [vec![], vec![]]);
                let (mut ratios, mut added) = (vec![], vec![]);
                let (mut errors, mut proxy_ticks, mut proxied) = (0, 0, 0);
                for r in 0..rounds {
                    let mut this: [Round; 2] = Default::default();
                    let order = if r % 2 == 0 { [0, 1] } else { [1, 0] };
                    for path in order {
                        let target = [direct, vip][path];
                        let ticks = cpu_ticks(rs_pid);
                        this[path] = runtime.block_on(run(target, mode, concurrency, length));
                        if path == 1 {
                            proxy_ticks += cpu_ticks(rs_pid) - ticks;
                            proxied += this[path].latencies.len();
                        }
                    }
                    for (path, round) in this.iter_mut().enumerate() {
                        rates[path].push(round.rate());
                        p50s[path].push(round.p50_us());
                        errors += round.errors;
                    }
                    ratios.push(this[1].rate() / this[0].rate());
                    added.push(p50s[1][p50s[1].len() - 1] - p50s[0][p50s[0].len() - 1]);
                }
                let (ratio, rmin, rmax) = median_spread(ratios);
                let (_, amin, amax) = median_spread(added);
                let median = |v: &Vec<f64>| median_spread(v.clone()).0;
                println!(
                    "    {name:<15} {concurrency:>4} {:>9.0} {:>9.0} {ratio:>6.2} {:>7.1} µs {:>7.1} µs {errors:>6}   [{rmin:.2}, {rmax:.2}] [{amin:+.1}, {amax:+.1}] µs {:.1} µs",
                    median(&rates[0]),
                    median(&rates[1]),
                    median(&p50s[0]),
                    median(&p50s[1]),
                    proxy_ticks as f64 * 1e4 / proxied.max(1) as f64,
                );
            }
        }
        drop(stdin);
        spk.signal("TERM");
        rs.signal("TERM");
        let _ = spk.exit_success();
        let _ = rs.exit_success();
    }
}
