//! Crash detection whatever the backend does with its connections: a backend that
//! closes after each answer (`Connection: close`, HTTP/1.0) is seen dead through the
//! connection the checker opened ahead for its next probe; a refused connect is
//! confirmed at once; a held connection's end is never a verdict by itself, and a
//! backend or middlebox that closes held connections at once cannot make the checker
//! loop.
//!
//! Intervals are long (1 s) where a test must show that detection did not wait for
//! the schedule; timing asserts are loose (< 500 ms) so that a loaded shared machine
//! does not make them flaky. The figures are printed (`-- --nocapture`).

#![allow(clippy::unwrap_used)] // in tests a panic is a failed test

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Mode, Server, reports_for, reports_until, spec, summary, time_waits, went};
use hopwatch_health::{Cause, Health, spawn_checker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;

const BOUND: Duration = Duration::from_secs(5);
const LOOSE: Duration = Duration::from_millis(500);

#[tokio::test]
async fn a_backend_that_closes_after_each_answer_is_down_within_milliseconds_of_its_death() {
    let mut server = Server::http("127.41.4.1").await;
    server.set_mode(Mode::Close);
    // A 1 s interval: a Down within 500 ms of the close can only come from the
    // connection held between probes.
    let mut spec = spec(server.http_target(), 1000, 200);
    spec.rise = 1;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec, tx);
    reports_until(&mut rx, BOUND, went(Health::Up)).await;
    // Let the connection for the next probe be opened.
    tokio::time::sleep(Duration::from_millis(50)).await;

    let closed_at = server.close().await;
    let reports = reports_until(&mut rx, BOUND, went(Health::Down)).await;

    let detection = reports.last().unwrap().at.duration_since(closed_at);
    println!("Connection: close backend, close to Down: {detection:?}");
    let causes: Vec<Cause> = reports.iter().map(|r| r.cause).collect();
    assert_eq!(
        causes,
        [Cause::ConnectionLost, Cause::Reprobe, Cause::Reprobe],
        "{}",
        summary(&reports)
    );
    assert!(!reports[0].counted, "a lost connection is not a verdict");
    assert!(detection < LOOSE, "Down {detection:?} after the close");
    checker.abort();
}

#[tokio::test]
async fn without_a_watched_connection_a_closing_backend_waits_for_the_next_probe() {
    let mut server = Server::http("127.41.4.2").await;
    server.set_mode(Mode::Close);
    let mut spec = spec(server.http_target(), 1000, 200);
    spec.rise = 1;
    spec.watch_connection = false;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec, tx);
    reports_until(&mut rx, BOUND, went(Health::Up)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let accepted = server.stats.accepted.load(Ordering::SeqCst);

    server.close().await;
    let reports = reports_until(&mut rx, BOUND, went(Health::Down)).await;

    // No connection was held, so nothing was lost: the scheduled probe found the
    // refusal, and its confirmation came at once.
    assert_eq!(accepted, 1, "one connection per probe, none held");
    let causes: Vec<Cause> = reports.iter().map(|r| r.cause).collect();
    assert_eq!(
        causes,
        [Cause::Scheduled, Cause::Reprobe],
        "{}",
        summary(&reports)
    );
    checker.abort();
}

#[tokio::test]
async fn a_refused_connect_is_confirmed_at_once_not_at_the_next_interval() {
    let mut server = Server::tcp("127.41.4.3").await;
    let target = server.tcp_target();
    server.close().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec(target, 1000, 200), tx);

    let reports = reports_until(&mut rx, BOUND, went(Health::Down)).await;

    let gap = reports[1].at.duration_since(reports[0].at);
    println!("refused, then confirmed {gap:?} later");
    assert_eq!(reports.len(), 2, "{}", summary(&reports));
    assert_eq!(reports[1].cause, Cause::Reprobe);
    assert!(reports.iter().all(|r| r.counted && !r.ok));
    assert!(gap < LOOSE, "the confirmation came {gap:?} later");
    // Down: no more re-probes, only the schedule (1 s).
    let after = reports_for(&mut rx, Duration::from_millis(600)).await;
    assert!(after.len() <= 1, "{}", summary(&after));
    checker.abort();
}

#[tokio::test]
async fn a_held_connection_closed_by_a_live_backend_is_never_a_failure() {
    let server = Server::http("127.41.4.4").await;
    // The backend (or a NAT) drops idle connections after 20 ms; probes every 100 ms.
    server.set_mode(Mode::IdleTimeout(Duration::from_millis(20)));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec(server.http_target(), 100, 200), tx);
    reports_until(&mut rx, BOUND, went(Health::Up)).await;

    let reports = reports_for(&mut rx, Duration::from_millis(1000)).await;

    let lost = reports
        .iter()
        .filter(|r| r.cause == Cause::ConnectionLost)
        .count();
    println!("{lost} held connections closed by the backend in 1 s");
    assert!(lost >= 3, "{}", summary(&reports));
    assert!(
        reports
            .iter()
            .all(|r| r.state == Health::Up && (r.ok || !r.counted)),
        "{}",
        summary(&reports)
    );
    checker.abort();
}

#[tokio::test]
async fn a_backend_that_closes_every_held_connection_cannot_make_the_checker_loop() {
    let server = Server::http("127.41.4.5").await;
    server.set_mode(Mode::CloseIdle);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec(server.http_target(), 100, 200), tx);
    reports_until(&mut rx, BOUND, went(Health::Up)).await;
    let before = server.stats.accepted.load(Ordering::SeqCst);

    let reports = reports_for(&mut rx, Duration::from_millis(1000)).await;

    // About ten ticks, each with a scheduled probe and at most four losses answered
    // by a re-probe and one more loss (ten reports, ten connections with those
    // opened ahead): a bounded number, where a loop at round-trip speed would make
    // thousands.
    let accepted = server.stats.accepted.load(Ordering::SeqCst) - before;
    println!("{} reports, {accepted} connections in 1 s", reports.len());
    assert!(reports.len() <= 150, "{}", summary(&reports));
    assert!(accepted <= 150, "{accepted} connections in 1 s");
    assert!(
        reports.iter().all(|r| r.state == Health::Up),
        "{}",
        summary(&reports)
    );
    checker.abort();
}

/// Connects from `from` (a port a probe used) to `to`, whose listener is closed:
/// refused, and how long the refusal took.
async fn refusal_from(from: std::net::SocketAddr, to: std::net::SocketAddr) -> Duration {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(from).unwrap();
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(BOUND, socket.connect(to))
        .await
        .unwrap();
    let took = started.elapsed();
    let e = result.err().unwrap();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
    took
}

#[tokio::test]
async fn a_backend_that_closes_after_each_answer_keeps_no_time_wait_of_the_checker() {
    // Such a backend closes first, so it would keep each probe's connection in
    // TIME_WAIT for 60 s; once it is dead, a SYN from a port one of them holds is
    // answered late (see "No TIME_WAIT left at the backend" in probe.rs). The
    // checker resets its connections instead: it leaves none, whether it dropped
    // them after an answer or lost them when the backend died.
    let mut server = Server::http("127.41.4.6").await;
    server.set_mode(Mode::Close);
    let mut spec = spec(server.http_target(), 20, 200);
    spec.rise = 1;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(0, spec, tx);
    reports_until(&mut rx, BOUND, went(Health::Up)).await;
    reports_for(&mut rx, Duration::from_millis(200)).await;
    // A client that closes normally, for comparison: the backend keeps its
    // connection in TIME_WAIT (and this shows the test can see one).
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    let plain_addr = plain.local_addr().unwrap();
    plain
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    plain.read_to_end(&mut answer).await.unwrap();
    drop(plain);

    server.close().await;
    reports_until(&mut rx, BOUND, went(Health::Down)).await;
    checker.abort();
    tokio::time::sleep(Duration::from_millis(50)).await;

    let peers = server.stats.peers.lock().unwrap().clone();
    let probes = peers.len() - 1;
    assert!(probes >= 5, "{probes} connections from the checker");
    assert_eq!(
        time_waits(server.addr),
        [plain_addr],
        "TIME_WAITs at the backend after {probes} connections of the checker and one plain one"
    );
    let checker_port = peers.iter().rev().find(|p| **p != plain_addr).unwrap();
    println!(
        "dead backend, connect refused: from a port the checker used in {:?}, from the \
         plain client's (held in TIME_WAIT) in {:?}",
        refusal_from(*checker_port, server.addr).await,
        refusal_from(plain_addr, server.addr).await,
    );
}
