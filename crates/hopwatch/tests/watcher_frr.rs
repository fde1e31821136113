//! The watcher of issue 3 against a route server nobody here wrote: FRR (zebra and
//! bgpd, one bgpd per route server address) in the seed's namespace lab, `hopwatch
//! web` in ws1 and ws2 on port 80, and `hopwatch run` in watch1 with the example
//! config. Killing ws1's web server moves FRR's route (and the router's kernel route)
//! for the VIP to ws2 with exactly one replacing UPDATE per session on the wire;
//! bringing it back moves it back, again with one UPDATE, only after `failback_hold`.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use hopwatch_events::watcher::{Health, Move};
use hopwatch_events::{Event, Line};
use support::events::dump;
use support::frr;
use support::frr_rs::FrrRouteServer;
use support::lab::{NetLab, RS1, RS2, VIP, VIP_ADDR, WATCH1, WS1, WS2};
use support::proc;
use support::tshark::Capture;
use support::wait::{self, ROUTE_TIMEOUT, SESSION_TIMEOUT};
use support::{Hopwatch, Peer, preflight};

/// The lab's failback hold (the example's is 30 s; shortened for test time).
const HOLD: Duration = Duration::from_secs(5);
/// The watcher's AS, as the example config has it.
const WATCHER_AS: u64 = 65001;

/// `hopwatch web` as backend `name` on `addr`:80 in `ns`; `label` names its files.
fn web(lab: &NetLab, label: &str, name: &str, addr: &str, ns: &str) -> Hopwatch {
    let args: Vec<String> = ["web", "--listen", &format!("{addr}:80"), "--name", name]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let w = Hopwatch::start_in(ns, lab.dir(), label, &args, proc::DAEMON_LIFETIME_S);
    w.wait_for("listening", Duration::from_secs(10), |l| {
        matches!(l.event, Event::Listening(_))
    });
    w
}

/// The example config as written, except the failback hold.
fn watcher_config(lab: &NetLab) -> std::path::PathBuf {
    let text = support::lab::example_config(&[(
        "failback_hold",
        // The lab's one change: the example's 30 s hold would make the test wait
        // 30 s for the failback; 5 s proves the same rule.
        "failback_hold = \"5s\"     # lab: 30s in the example, shortened for test time",
    )]);
    lab.write("watcher.toml", &text)
}

fn hopwatch_check(lab: &NetLab, cfg: &Path) -> String {
    let bin = env!("CARGO_BIN_EXE_hopwatch");
    let out = proc::run_in_ok(&lab.watch1.ns, &[bin, "check", "-c", cfg.to_str().unwrap()]);
    assert!(
        out.contains(": ok"),
        "hopwatch check did not say ok:\n{out}"
    );
    out
}

fn capture(lab: &NetLab, rs: &str) -> Capture {
    Capture::start_on(
        &lab.watch1.ns,
        &lab.watch1.ifname,
        &format!("tcp port 179 and host {rs}"),
        lab.dir(),
        &format!("tshark-{rs}"),
    )
}

/// Waits until the router namespace's kernel route to the VIP goes via `nh`, as
/// zebra installed it (`proto bgp`).
fn kernel_route_via(lab: &NetLab, nh: &str) -> String {
    wait::poll(ROUTE_TIMEOUT, Duration::from_millis(50), || {
        let installed = proc::run_in_ok(&lab.vnet, &["ip", "route", "show", VIP]);
        Some(lab.route_get(VIP_ADDR)).filter(|r| {
            r.contains(&format!("via {nh} "))
                && installed.contains(&format!("via {nh} "))
                && installed.contains("proto bgp")
        })
    })
    .unwrap_or_else(|| {
        panic!(
            "the router's kernel route to the VIP never went via {nh}: {}",
            lab.route_get(VIP_ADDR)
        )
    })
}

/// The move of `l` if it is one from backend `from` to `to`, with its `ts_us`.
fn move_of(l: &Line, from: &str, to: &str) -> Option<(u64, Move)> {
    match &l.event {
        Event::Move(m) if m.from.as_deref() == Some(from) && m.to.as_deref() == Some(to) => {
            Some((l.ts_us, m.clone()))
        }
        _ => None,
    }
}

#[test]
fn the_example_watcher_moves_frrs_route_with_one_update_and_fails_back_after_the_hold() {
    let name = "the_example_watcher_moves_frrs_route_with_one_update_and_fails_back_after_the_hold";
    if !preflight(name, Peer::Frr) {
        return;
    }
    let lab = NetLab::new("watcher-frr");
    let rs = FrrRouteServer::start(&lab, &[RS1, RS2], WATCH1, WATCHER_AS as u32);
    let caps = [capture(&lab, RS1), capture(&lab, RS2)];
    let ws1 = web(&lab, "ws1", "ws1", WS1, &lab.ws1.ns.clone());
    let _ws2 = web(&lab, "ws2", "ws2", WS2, &lab.ws2.ns.clone());

    let cfg = watcher_config(&lab);
    let checked = hopwatch_check(&lab, &cfg);
    eprintln!("hopwatch check:\n{checked}");
    let cfg_s = cfg.to_str().unwrap().to_string();
    let watcher = Hopwatch::start_in(
        &lab.watch1.ns,
        lab.dir(),
        "watcher",
        &["run".into(), "-c".into(), cfg_s],
        proc::DAEMON_LIFETIME_S,
    );

    // Start: both route server instances learn the VIP via ws1, from AS 65001.
    for i in 0..2 {
        rs.wait_established(i);
        let path = rs.wait_route(i, VIP, "via ws1", |p| frr::next_hop(p) == WS1);
        assert_eq!(frr::as_path(&path), vec![WATCHER_AS], "{path}");
        assert_eq!(path["valid"], true, "{path}");
    }
    let route = kernel_route_via(&lab, WS1);
    eprintln!("router: ip route get {VIP_ADDR}: {route}");
    let eors = wait::poll(SESSION_TIMEOUT, Duration::from_millis(50), || {
        let n = watcher
            .events()
            .iter()
            .filter(|l| matches!(l.event, Event::EndOfRibSent(_)))
            .count();
        (n >= 2).then_some(n)
    });
    assert!(eors.is_some(), "no End-of-RIB to both\n{}", watcher.dump());
    // The capture has the startup UPDATE (tshark prints with a lag), and the initial
    // burst is over, before the line is drawn on the wire.
    for cap in &caps {
        cap.wait_frame(WATCH1, 0, "announcing the VIP via ws1", |f| {
            f.next_hops.iter().any(|n| n == WS1)
        });
    }
    wait::settle(Duration::from_millis(500));

    // Kill ws1's web server: FRR moves to ws2, one replacing UPDATE per session.
    let marks: Vec<usize> = caps.iter().map(|c| c.mark(WATCH1)).collect();
    let from = watcher.event_count();
    let killed = Instant::now();
    ws1.signal("KILL");
    for i in 0..2 {
        let path = rs.wait_route(i, VIP, "via ws2", |p| frr::next_hop(p) == WS2);
        assert_eq!(frr::as_path(&path), vec![WATCHER_AS], "{path}");
    }
    eprintln!(
        "kill to FRR's RIB via ws2 (vtysh polled): {:?}",
        killed.elapsed()
    );
    let (_, mv) = watcher.wait_for_from(from, "the failover", ROUTE_TIMEOUT, |l| {
        move_of(l, "ws1", "ws2")
    });
    assert_eq!(mv.reason, "failover", "{mv:?}");
    let route = kernel_route_via(&lab, WS2);
    eprintln!("router after the kill: {route}");
    check_one_update_per_session(&caps, &marks, WS2);
    drop(ws1);

    // Bring ws1 back: no failback before the hold, then exactly one move back.
    let marks: Vec<usize> = caps.iter().map(|c| c.mark(WATCH1)).collect();
    let from = watcher.event_count();
    let _ws1b = web(&lab, "ws1-again", "ws1", WS1, &lab.ws1.ns.clone());
    let back = Instant::now();
    let mut polls: Vec<(Duration, String)> = Vec::new();
    let deadline = back + HOLD + ROUTE_TIMEOUT;
    let moved_back = loop {
        let nh = rs
            .route(0, VIP)
            .map(|p| frr::next_hop(&p).to_string())
            .unwrap_or_default();
        polls.push((back.elapsed(), nh.clone()));
        if nh == WS1 {
            break back.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "FRR never moved back to ws1: {polls:?}\n{}",
            watcher.dump()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!("web back to FRR's RIB via ws1: {moved_back:?}");
    let decisions: Vec<Line> = watcher
        .events()
        .into_iter()
        .skip(from)
        .filter(|l| matches!(l.event, Event::Move(_) | Event::Health(_)))
        .collect();
    assert!(
        moved_back >= HOLD,
        "FRR moved back to ws1 after {moved_back:?}, before the {HOLD:?} hold: {polls:?}\n\
         the watcher's health changes and moves since ws1's restart:\n{}",
        dump(&decisions)
    );
    let up = watcher.wait_for_from(
        from,
        "ws1 up",
        ROUTE_TIMEOUT,
        |l| matches!(&l.event, Event::Health(h) if h.backend == "ws1" && h.to == Health::Up),
    );
    let (moved_us, mv) = watcher.wait_for_from(from, "the failback", ROUTE_TIMEOUT, |l| {
        move_of(l, "ws2", "ws1")
    });
    assert_eq!(mv.reason, "failback", "{mv:?}");
    let held_us = moved_us - up.ts_us;
    assert!(
        held_us >= HOLD.as_micros() as u64,
        "the watcher failed back {held_us} µs after ws1 came up, before the hold: {mv:?}"
    );
    rs.wait_route(1, VIP, "via ws1 again", |p| frr::next_hop(p) == WS1);
    let route = kernel_route_via(&lab, WS1);
    eprintln!("router after the failback: {route}");
    check_one_update_per_session(&caps, &marks, WS1);
    let moves: Vec<Line> = watcher
        .events()
        .into_iter()
        .filter(|l| matches!(l.event, Event::Move(_)))
        .collect();
    assert_eq!(
        moves.len(),
        3,
        "startup, failover, failback only:\n{}",
        dump(&moves)
    );
}

/// Each capture (one per route server session) holds exactly one UPDATE after its
/// mark: the VIP via `nh`, with Withdrawn Routes Length 0 and no withdraw.
fn check_one_update_per_session(caps: &[Capture], marks: &[usize], nh: &str) {
    for (cap, mark) in caps.iter().zip(marks) {
        cap.wait_frame(WATCH1, *mark, &format!("moving the VIP to {nh}"), |f| {
            f.next_hops.iter().any(|n| n == nh)
        });
    }
    // Anything trailing the move (a late withdraw, a duplicate) would show up by now.
    wait::settle(Duration::from_secs(1));
    for (cap, mark) in caps.iter().zip(marks) {
        if let Err(e) = cap.check_one_replacing_update(WATCH1, *mark, VIP, nh) {
            panic!("{e}");
        }
    }
}
