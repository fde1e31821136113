//! Benchmark: from an UPDATE received by `hopwatch route-server` to the route
//! programmed in its data plane, p50 and p99 over 1,000 next-hop moves, and the time
//! to program 4,000 routes from one peer; for the proxy data plane (loopback) and the
//! kernel data plane (inside a network namespace this bench creates; root only).
//!
//! The figures come from the route server's own `programmed` events, which carry
//! both timestamps (`received_us`, and the time the data plane call returned).
//!
//! `cargo bench -p hopwatch --bench route_server_latency`
//! (HOPWATCH_BENCH_MOVES changes the count).

// A benchmark: a panic is a failed run.
#![allow(clippy::unwrap_used)]

#[path = "../tests/loopback/mod.rs"]
mod loopback;

use std::io::Write;
use std::process::Command;

use loopback::{Proc, spawn};

const SPEAKER: &str = "127.25.0.7";
const RS: &str = "127.25.1.4";

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
    spk.wait_for("the session", |v| v["event"] == "established");
    let mut stdin = spk.stdin.take().unwrap();

    let mut lat = Vec::with_capacity(moves);
    for i in 0..moves {
        let hop = hops[i % 2];
        writeln!(stdin, "announce route {vip} next-hop {hop}").unwrap();
        let v = rs.wait_for("programmed", |v| {
            v["event"] == "programmed" && v["prefix"] == vip.as_str() && v["next_hops"][0] == hop
        });
        if let Some(us) = v["latency_us"].as_u64() {
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

    // 4,000 routes from one peer (Azure Route Server's per-peer limit, so the VIP
    // goes first).
    writeln!(stdin, "withdraw route {vip}").unwrap();
    rs.wait_for("the VIP removed", |v| {
        v["event"] == "programmed" && v["next_hops"].is_null()
    });
    let mut first_received = u64::MAX;
    let mut last_programmed = 0;
    for i in 0..4000u32 {
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
    while done < 4000 {
        let v = rs.wait_for("a programmed route", |v| {
            v["event"] == "programmed"
                && v["prefix"]
                    .as_str()
                    .is_some_and(|p| p.starts_with(&format!("{burst_net}.")))
        });
        first_received = first_received.min(v["received_us"].as_u64().unwrap_or(u64::MAX));
        last_programmed = last_programmed.max(v["ts_us"].as_u64().unwrap_or(0));
        done += 1;
    }
    println!(
        "{plane:>6}: 4,000 routes from one peer: first UPDATE received to last route programmed {:.1} ms",
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
