//! How fast the injector goes on one core: 2,000 and 5,000 requests per second for
//! 5 s each against a loopback responder (127.0.0.1, on its own thread), a new
//! connection per request. Prints the achieved rate, the schedule lag and latency
//! p50/p99, and the CPU time of the injector's thread (its current-thread runtime)
//! and of the whole process (injector and responder) as a percentage of the run.
//!
//! `cargo bench -p hopwatch-load --bench rate`. Returns at once without `--bench`
//! (so `cargo test --all-targets` does not run it).

#![allow(clippy::unwrap_used)] // A benchmark: a panic is a failed run.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Mode, Responder};
use hopwatch_load::{AnalysisConfig, Injector, InjectorConfig, Target, analyze};

/// utime + stime of a /proc stat file, in seconds (USER_HZ is 100 on Linux).
fn cpu_seconds(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15 (1-based).
    let ticks = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(14) + ticks(15)) / 100.0
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let responder = Responder::start("127.0.0.1:0", "bench", Mode::Json);
    for rate in [2000.0, 5000.0] {
        let mut config = InjectorConfig::new(Target::parse(&responder.url()).unwrap());
        config.rate = rate;
        config.duration = Duration::from_secs(5);
        let injector = Injector::new(config).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (thread0, process0, t0) = (
            cpu_seconds("/proc/thread-self/stat"),
            cpu_seconds("/proc/self/stat"),
            Instant::now(),
        );
        let records = rt.block_on(injector.run(std::future::pending()));
        let elapsed = t0.elapsed().as_secs_f64();
        let thread = cpu_seconds("/proc/thread-self/stat") - thread0;
        let process = cpu_seconds("/proc/self/stat") - process0;
        let s = analyze(&records, &[], &AnalysisConfig::default());
        println!(
            "rate {rate:.0}/s for 5 s, new connection each: achieved {:.1}/s, ok {} of {} ({} failed: {:?})",
            s.achieved_rate, s.ok, s.requests, s.failed, s.errors
        );
        println!(
            "  schedule lag p50 {:.3} ms p99 {:.3} ms max {:.3} ms; latency p50 {:.3} ms p99 {:.3} ms",
            s.schedule_lag_ms.p50,
            s.schedule_lag_ms.p99,
            s.schedule_lag_ms.max,
            s.latency_ms.p50,
            s.latency_ms.p99
        );
        println!(
            "  CPU: injector thread {:.0} %, whole process (with the responder) {:.0} % over {elapsed:.2} s",
            thread / elapsed * 100.0,
            process / elapsed * 100.0
        );
        // Let the responder's TIME_WAIT sockets and the last connections settle.
        drop(rt);
        std::thread::sleep(Duration::from_millis(500));
    }
    responder.stop();
}
