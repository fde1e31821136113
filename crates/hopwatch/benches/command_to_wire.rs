//! Benchmark: from a `speak` command to its UPDATE arriving at `observe`, over
//! loopback, p50 and p99 over 1,000 next-hop moves. It runs `hopwatch demo`, which
//! starts both as separate processes, times each move against the observer's
//! receive timestamp (the same wall clock), and prints the figures.
//!
//! `cargo bench -p hopwatch --bench command_to_wire` (set HOPWATCH_BENCH_MOVES to
//! change the count).

use std::net::TcpListener;
use std::process::Command;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: only
    // measure when asked to.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let moves = std::env::var("HOPWATCH_BENCH_MOVES").unwrap_or_else(|_| "1000".into());
    // A free port on the observer's address, so that parallel runs do not collide.
    let port = TcpListener::bind("127.10.0.8:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.10.0.8");
    let status = Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(["demo", "--moves", &moves, "--port", &port.to_string()])
        .status()
        .expect("running hopwatch demo");
    assert!(status.success(), "hopwatch demo failed");
}
