//! HTTP checks against test backends on loopback: verdicts and what counts as healthy.

#![allow(clippy::unwrap_used)] // in tests a panic is a failed test

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Mode, Server, reports_for, reports_until, spec, went};
use hopwatch_health::{Health, Target, spawn_checker};
use tokio::sync::mpsc;

const BOUND: Duration = Duration::from_secs(5);

#[tokio::test]
async fn healthy_backend_goes_up_after_rise_probes() {
    let server = Server::http("127.41.1.1").await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(7, spec(server.http_target(), 10, 100), tx);

    let reports = reports_until(&mut rx, BOUND, went(Health::Up)).await;

    assert_eq!(
        reports.len(),
        3,
        "Up at the third success: {}",
        common::summary(&reports)
    );
    assert!(
        reports
            .iter()
            .all(|r| r.ok && r.counted && r.id == 7 && r.error.is_none())
    );
    assert_eq!(reports[0].state, Health::Unknown);
    assert_eq!(reports[1].state, Health::Unknown);
    assert_eq!(reports[2].state, Health::Up);
    assert!(reports.windows(2).all(|w| w[0].seq < w[1].seq));
    checker.abort();
}

#[tokio::test]
async fn probes_reuse_one_keep_alive_connection() {
    let server = Server::http("127.41.1.2").await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec(server.http_target(), 10, 100), tx);

    let reports = reports_until(&mut rx, BOUND, |r| r.seq >= 10).await;

    assert!(
        reports.iter().all(|r| r.ok),
        "{}",
        common::summary(&reports)
    );
    // One connection, unless a stalled machine made a probe outlast the interval
    // (the next one then needs its own connection): a few at most, not one per probe.
    let accepted = server.stats.accepted.load(Ordering::SeqCst);
    println!("11 probes over {accepted} connection(s)");
    assert!(accepted <= 3, "{accepted} connections for 11 probes");
    assert!(server.stats.requests.load(Ordering::SeqCst) >= 11);
    checker.abort();
}

#[tokio::test]
async fn wrong_status_is_a_failure() {
    let server = Server::http("127.41.1.3").await;
    server.set_mode(Mode::Status(503));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec(server.http_target(), 10, 100), tx);

    let reports = reports_until(&mut rx, BOUND, went(Health::Down)).await;

    assert_eq!(reports.len(), 2, "Down at the second failure (fall 2)");
    let more = reports_until(&mut rx, BOUND, |r| r.seq >= 10).await;
    for r in reports.iter().chain(&more) {
        assert!(!r.ok);
        assert_eq!(r.error.as_deref(), Some("status 503, expected 200"));
    }
    // A 503 comes on a good connection: it is kept and reused.
    let accepted = server.stats.accepted.load(Ordering::SeqCst);
    assert!(accepted <= 3, "{accepted} connections for 11 probes");
    checker.abort();
}

#[tokio::test]
async fn expected_status_other_than_200_is_a_success() {
    let server = Server::http("127.41.1.4").await;
    server.set_mode(Mode::Status(204));
    let mut target = server.http_target();
    if let Target::Http { expect_status, .. } = &mut target {
        *expect_status = 204;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec(target, 10, 100), tx);

    let reports = reports_until(&mut rx, BOUND, went(Health::Up)).await;

    assert!(reports.iter().all(|r| r.ok));
    checker.abort();
}

fn with_body(server: &Server, needle: &str) -> Target {
    let mut target = server.http_target();
    if let Target::Http { body_contains, .. } = &mut target {
        *body_contains = Some(needle.to_owned());
    }
    target
}

#[tokio::test]
async fn body_mismatch_is_a_failure() {
    let server = Server::http("127.41.1.5").await;
    server.set_mode(Mode::Body("down for maintenance"));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec(with_body(&server, "all good"), 10, 100), tx);

    let reports = reports_until(&mut rx, BOUND, went(Health::Down)).await;

    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|r| !r.ok));
    assert_eq!(
        reports[0].error.as_deref(),
        Some("body does not contain \"all good\"")
    );
    checker.abort();
}

#[tokio::test]
async fn body_match_is_a_success() {
    let server = Server::http("127.41.1.6").await;
    server.set_mode(Mode::Body("status: all good, thanks"));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec(with_body(&server, "all good"), 10, 100), tx);

    let reports = reports_until(&mut rx, BOUND, went(Health::Up)).await;

    assert!(reports.iter().all(|r| r.ok));
    checker.abort();
}

#[tokio::test]
async fn checker_stops_when_the_receiver_is_dropped() {
    let server = Server::http("127.41.1.7").await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec(server.http_target(), 10, 100), tx);
    reports_until(&mut rx, BOUND, |_| true).await;

    drop(rx);

    tokio::time::timeout(BOUND, checker).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_port_nobody_listens_on_goes_down() {
    // Bind to learn a free port, then close it.
    let mut server = Server::http("127.41.1.8").await;
    let target = server.http_target();
    server.close().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec(target, 10, 100), tx);

    let reports = reports_until(&mut rx, BOUND, went(Health::Down)).await;

    assert_eq!(reports.len(), 2);
    assert!(
        reports[0]
            .error
            .as_deref()
            .unwrap()
            .starts_with("connect: "),
        "{:?}",
        reports[0].error
    );
    // Fresh connections that fail never trigger re-probes: the next probes keep the interval.
    let later = reports_for(&mut rx, Duration::from_millis(100)).await;
    assert!(
        later.len() <= 20,
        "about one probe per 10 ms, got {}",
        later.len()
    );
    checker.abort();
}
