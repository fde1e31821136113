//! How fast failures are seen: a closed backend (the kernel closes a dead process's
//! sockets) through the persistent connection, a hung one through timeouts; probes
//! keep their schedule and stay within `max_in_flight`; recovery rises back to Up.
//!
//! Timing asserts are loose (< 500 ms) so that a loaded shared machine does not make
//! them flaky; the measured figures are printed (`cargo test -- --nocapture`).

#![allow(clippy::unwrap_used)] // in tests a panic is a failed test

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{Mode, Server, reports_for, reports_until, spec, summary, went};
use hopwatch_health::{Cause, Health, Report, spawn_checker};
use tokio::sync::mpsc;

const BOUND: Duration = Duration::from_secs(5);
const LOOSE: Duration = Duration::from_millis(500);

#[tokio::test]
async fn closed_server_is_down_within_milliseconds_through_the_persistent_connection() {
    let mut server = Server::http("127.41.2.1").await;
    // A 1 s interval: a Down within 500 ms of the close can only come from the
    // persistent connection, not from a scheduled probe.
    let mut spec = spec(server.http_target(), 1000, 200);
    spec.rise = 1;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec, tx);
    reports_until(&mut rx, BOUND, went(Health::Up)).await;
    tokio::time::sleep(Duration::from_millis(20)).await;

    let closed_at = server.close().await;
    let reports = reports_until(&mut rx, BOUND, went(Health::Down)).await;

    let down = reports.last().unwrap();
    let detection = down.at.duration_since(closed_at);
    println!(
        "close to Down: {detection:?} (first failure after {:?})",
        reports[0].at.duration_since(closed_at)
    );
    // The loss is a reason to re-probe, not a verdict; the two refused re-probes
    // (a refusal is confirmed at once) make `fall = 2`.
    let causes: Vec<Cause> = reports.iter().map(|r| r.cause).collect();
    assert_eq!(
        causes,
        [Cause::ConnectionLost, Cause::Reprobe, Cause::Reprobe],
        "{}",
        summary(&reports)
    );
    assert!(
        reports[0]
            .error
            .as_deref()
            .unwrap()
            .starts_with("persistent connection lost")
    );
    assert!(!reports[0].counted, "a lost connection is never counted");
    for r in &reports[1..] {
        assert!(
            r.error.as_deref().unwrap().starts_with("connect: "),
            "{:?}",
            r.error
        );
        assert!(!r.ok && r.counted);
    }
    assert!(detection < LOOSE, "Down {detection:?} after the close");
    checker.abort();
}

#[tokio::test]
async fn hung_server_is_down_after_about_one_timeout() {
    let server = Server::http("127.41.2.2").await;
    let (interval, timeout) = (10, 50);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec(server.http_target(), interval, timeout), tx);
    reports_until(&mut rx, BOUND, went(Health::Up)).await;

    server.set_mode(Mode::Hang);
    let hung_at = Instant::now();
    let reports = reports_until(&mut rx, BOUND, went(Health::Down)).await;

    let detection = reports.last().unwrap().at.duration_since(hung_at);
    println!(
        "hang to Down: {detection:?} (at most: wait for the next probe {interval} ms + timeout {timeout} ms \
         + (fall - 1) x interval {interval} ms = {} ms)",
        2 * interval + timeout
    );
    let failures: Vec<&Report> = reports.iter().filter(|r| !r.ok).collect();
    assert_eq!(failures.len(), 2, "{}", summary(&reports));
    assert!(
        failures
            .iter()
            .all(|r| r.error.as_deref() == Some("no answer within 50ms"))
    );
    assert!(
        detection >= Duration::from_millis(timeout),
        "not before a probe timed out: {detection:?}"
    );
    assert!(detection < LOOSE, "Down {detection:?} after the hang");
    checker.abort();
}

/// Most reports whose probe intervals `[started, at)` overlap at any probe start.
fn most_in_flight(reports: &[Report]) -> usize {
    reports
        .iter()
        .filter(|r| r.cause != Cause::ConnectionLost)
        .map(|r| {
            reports
                .iter()
                .filter(|o| {
                    o.cause != Cause::ConnectionLost && o.started <= r.started && r.started < o.at
                })
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn probes_keep_starting_every_interval_while_hung_probes_are_in_flight() {
    let server = Server::http("127.41.2.3").await;
    let spec = spec(server.http_target(), 10, 300);
    let max = spec.max_in_flight;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec, tx);
    reports_until(&mut rx, BOUND, went(Health::Up)).await;

    server.set_mode(Mode::Hang);
    let hung_at = Instant::now();
    // Probes started in the first 600 ms after the hang have all timed out by 950 ms.
    let reports = reports_for(&mut rx, Duration::from_millis(950)).await;

    let window = Duration::from_millis(600);
    let started: Vec<&Report> = reports
        .iter()
        .filter(|r| r.started >= hung_at && r.started < hung_at + window)
        .collect();
    let per_second = started.len() as f64 / window.as_secs_f64();
    let in_flight = most_in_flight(&reports);
    println!(
        "while hung: {per_second:.0} probes started per second (interval 10 ms: 100), \
         most in flight {in_flight} (max {max}), server held {} at once",
        server.stats.hung_max.load(Ordering::SeqCst)
    );
    assert!(
        started
            .iter()
            .all(|r| !r.ok && r.latency >= Duration::from_millis(300))
    );
    assert!(
        per_second >= 50.0,
        "probes kept starting: {per_second:.0}/s"
    );
    assert!(in_flight > 10, "hung probes overlapped: {in_flight}");
    assert!(in_flight <= max, "{in_flight} in flight, max {max}");
    assert!(reports.iter().all(|r| r.in_flight < max));
    checker.abort();
}

#[tokio::test]
async fn in_flight_probes_never_exceed_max_in_flight() {
    let server = Server::http("127.41.2.4").await;
    server.set_mode(Mode::Hang);
    let mut spec = spec(server.http_target(), 5, 200);
    spec.max_in_flight = 3;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec, tx);

    let reports = reports_for(&mut rx, Duration::from_millis(1100)).await;

    let in_flight = most_in_flight(&reports);
    let held = server.stats.hung_max.load(Ordering::SeqCst);
    println!(
        "max_in_flight 3: {} probes in 1.1 s, most in flight {in_flight}, server held {held}",
        reports.len()
    );
    assert!(reports.iter().all(|r| !r.ok));
    assert_eq!(in_flight, 3, "{}", summary(&reports));
    // The server sees a close a moment after the checker's timeout: allow one more.
    assert!(held <= 4, "server held {held} requests at once");
    // 3 probes per 200 ms timeout, not one per 5 ms.
    assert!(reports.len() <= 20, "{} probes", reports.len());
    checker.abort();
}

#[tokio::test]
async fn backend_rises_back_to_up_after_the_server_returns() {
    let mut server = Server::http("127.41.2.5").await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec(server.http_target(), 10, 100), tx);
    reports_until(&mut rx, BOUND, went(Health::Up)).await;
    server.close().await;
    reports_until(&mut rx, BOUND, went(Health::Down)).await;

    server.reopen().await;
    let reopened_at = Instant::now();
    let reports = reports_until(&mut rx, BOUND, went(Health::Up)).await;

    let up = reports.last().unwrap();
    println!(
        "reopen to Up: {:?} (rise 3, interval 10 ms)",
        up.at.duration_since(reopened_at)
    );
    assert_eq!(up.transition.unwrap().from, Health::Down);
    let last_three: Vec<bool> = reports.iter().rev().take(3).map(|r| r.ok).collect();
    assert_eq!(last_three, [true, true, true], "{}", summary(&reports));
    checker.abort();
}
