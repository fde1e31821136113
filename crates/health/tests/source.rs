//! `CheckSpec::source`: every probe connection (HTTP and `tcp://`) leaves from the
//! given address, so a backend that other local clients reach from the kernel's
//! default source (a proxy beside the watcher, the loopback lab) never shares 4-tuples
//! with the probes.

#![allow(clippy::unwrap_used)] // in tests a panic is a failed test

use std::net::IpAddr;
use std::time::Duration;

use hopwatch_health::{CheckSpec, Target, spawn_checker};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

async fn sources_seen(check: &str, listener: TcpListener) -> Vec<IpAddr> {
    let mut spec = CheckSpec::new(Target::parse(check).unwrap());
    spec.interval = Duration::from_millis(50);
    spec.timeout = Duration::from_millis(500);
    spec.source = Some("127.43.0.9".parse().unwrap());
    let (tx, _rx) = mpsc::unbounded_channel();
    let checker = spawn_checker(1, spec, tx);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (conn, peer) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
            .await
            .expect("a probe connects within 5 s")
            .unwrap();
        seen.push(peer.ip());
        drop(conn);
    }
    checker.abort();
    seen
}

#[tokio::test]
async fn tcp_and_http_probes_connect_from_the_source_address() {
    let expect: IpAddr = "127.43.0.9".parse().unwrap();
    let l = TcpListener::bind("127.43.0.4:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = sources_seen(&format!("tcp://127.43.0.4:{port}"), l).await;
    assert!(
        seen.iter().all(|ip| *ip == expect),
        "tcp:// probes came from {seen:?}"
    );

    let l = TcpListener::bind("127.43.0.5:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = sources_seen(&format!("http://127.43.0.5:{port}/"), l).await;
    assert!(
        seen.iter().all(|ip| *ip == expect),
        "http:// probes came from {seen:?}"
    );
}
