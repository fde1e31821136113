//! `tcp://` checks against test listeners on loopback.

#![allow(clippy::unwrap_used)] // in tests a panic is a failed test

mod common;

use std::time::Duration;

use common::{Server, reports_until, spec, summary, went};
use hopwatch_health::{Cause, Health, spawn_checker};
use tokio::sync::mpsc;

const BOUND: Duration = Duration::from_secs(5);

#[tokio::test]
async fn tcp_check_goes_up_when_the_port_accepts() {
    let server = Server::tcp("127.41.3.1").await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec(server.tcp_target(), 10, 100), tx);

    let reports = reports_until(&mut rx, BOUND, went(Health::Up)).await;

    assert_eq!(reports.len(), 3, "{}", summary(&reports));
    assert!(reports.iter().all(|r| r.ok));
    checker.abort();
}

#[tokio::test]
async fn tcp_check_is_down_at_once_when_the_server_closes() {
    let mut server = Server::tcp("127.41.3.2").await;
    let mut spec = spec(server.tcp_target(), 1000, 200);
    spec.rise = 1;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec, tx);
    reports_until(&mut rx, BOUND, went(Health::Up)).await;

    let closed_at = server.close().await;
    let reports = reports_until(&mut rx, BOUND, went(Health::Down)).await;

    let detection = reports.last().unwrap().at.duration_since(closed_at);
    println!("tcp close to Down: {detection:?}");
    let causes: Vec<Cause> = reports.iter().map(|r| r.cause).collect();
    assert_eq!(
        causes,
        [Cause::ConnectionLost, Cause::Reprobe, Cause::Reprobe],
        "{}",
        summary(&reports)
    );
    assert!(!reports[0].counted && reports[1].counted && reports[2].counted);
    assert!(detection < Duration::from_millis(500), "{detection:?}");
    checker.abort();
}

#[tokio::test]
async fn tcp_check_to_a_closed_port_goes_down() {
    let mut server = Server::tcp("127.41.3.3").await;
    let target = server.tcp_target();
    server.close().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec(target, 10, 100), tx);

    let reports = reports_until(&mut rx, BOUND, went(Health::Down)).await;

    assert_eq!(reports.len(), 2);
    assert!(
        reports
            .iter()
            .all(|r| r.error.as_deref().unwrap().starts_with("connect: "))
    );
    checker.abort();
}
