//! The watcher end to end on loopback: two `hopwatch web` backends, `hopwatch
//! observe` standing in for the route server, and `hopwatch run` between them.
//! Killing the primary moves the VIP with one UPDATE; it fails back only after the
//! hold; `hopwatch ctl` drains and shows status; SIGTERM closes the session without a
//! NOTIFICATION (so any graceful restart helper keeps the VIP); `ctl shutdown
//! --withdraw` withdraws the VIP before ending the session with a Cease.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod loopback;

use std::process::Command;
use std::time::{Duration, Instant};

use hopwatch_events::bgp::Action;
use hopwatch_events::{Event, Line};
use loopback::events::{dump, is_route, is_withdraw};
use loopback::watcher_config::{Backend, Vip, WatcherConfig};
use loopback::{free_port, spawn, web};

const WS1: &str = "127.22.0.4";
const WS2: &str = "127.22.0.5";
const WATCHER: &str = "127.22.0.7";
const RS: &str = "127.22.1.4";
const VIP: &str = "100.64.0.1/32";

fn ctl(api: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(["ctl", "--api", api])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn moved_to(l: &Line, nh: &str) -> bool {
    is_route(l, VIP, nh)
}

fn is_any_withdraw(l: &Line) -> bool {
    matches!(&l.event, Event::Update(u) if u.action == Action::Withdraw)
}

#[test]
fn the_watcher_fails_over_fails_back_after_the_hold_and_obeys_ctl() {
    let (p1, p2) = (free_port(WS1), free_port(WS2));
    let bgp = free_port(RS);
    let api = format!("{WATCHER}:{}", free_port(WATCHER));
    let dir = std::env::temp_dir().join(format!("hopwatch-watcher-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("watcher.toml");
    let config = WatcherConfig {
        graceful_restart: Some(10),
        vips: vec![Vip::new(
            VIP,
            vec![Backend::web("ws1", WS1, p1), Backend::web("ws2", WS2, p2)],
        )],
        interval: Some("10ms"),
        timeout: Some("30ms"),
        fall: Some(2),
        rise: Some(3),
        failback_hold: Some("2s"),
        ..WatcherConfig::new(WATCHER, RS, bgp, &api)
    };
    std::fs::write(&cfg, config.to_toml()).unwrap();

    let mut ws1 = web(WS1, p1, "ws1");
    let _ws2 = web(WS2, p2, "ws2");
    let mut rs = spawn(&[
        "observe",
        "--local-as",
        "65515",
        "--router-id",
        RS,
        "--listen",
        RS,
        "--port",
        &bgp.to_string(),
    ]);
    let cfg_s = cfg.to_str().unwrap().to_owned();
    let mut watcher = spawn(&["run", "-c", &cfg_s]);

    // Start: the primary, after its first verdicts.
    rs.wait_for("the VIP via ws1", |v| moved_to(v, WS1));
    rs.wait_for("End-of-RIB", |l| matches!(l.event, Event::EndOfRib(_)));

    // Kill the primary: the VIP moves to ws2, replaced and never withdrawn.
    let killed = Instant::now();
    ws1.child.kill().unwrap();
    let _ = ws1.child.wait();
    rs.wait_for("the VIP via ws2", |v| moved_to(v, WS2));
    eprintln!("kill to UPDATE at the route server: {:?}", killed.elapsed());
    let mv = watcher.wait_for("the move", |l| match &l.event {
        Event::Move(m) if m.to.as_deref() == Some("ws2") => Some(m.clone()),
        _ => None,
    });
    assert_eq!(mv.reason, "failover", "{mv:?}");
    assert!(
        !rs.seen.iter().any(is_any_withdraw),
        "a withdraw reached the route server"
    );

    // Bring it back: failback only after the 2 s hold.
    let back = Instant::now();
    let _ws1b = web(WS1, p1, "ws1");
    rs.wait_for("the failback", |v| moved_to(v, WS1));
    let waited = back.elapsed();
    assert!(
        waited >= Duration::from_millis(1900),
        "failed back after {waited:?}, before the 2 s hold"
    );

    // ctl: status names both backends; drain ws1 moves the VIP at once.
    let status = ctl(&api, &["status"]);
    assert!(
        status.contains("ws1") && status.contains("ws2") && status.contains("Established"),
        "{status}"
    );
    let out = ctl(&api, &["drain", "ws1"]);
    assert!(
        out.contains("the VIP moved") && out.contains("ws2"),
        "{out}"
    );
    rs.wait_for("the drain move", |v| moved_to(v, WS2));
    let out = ctl(&api, &["undrain", "ws1"]);
    assert!(out.contains("ws1"), "{out}");
    rs.wait_for("back after undrain", |v| moved_to(v, WS1));

    // A bad request is refused with a clear error, and changes nothing.
    let bad = Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(["ctl", "--api", &api, "drain", "ws9"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("no backend \"ws9\""),
        "{bad:?}"
    );

    // SIGTERM: a planned restart. The session ends without a NOTIFICATION (RFC 4724
    // helpers keep the VIP only then), and the VIP is not withdrawn.
    let before = rs.seen.len();
    watcher.signal("TERM");
    let down = rs.wait_for("the session down", |l| match &l.event {
        Event::Down(d) => Some(d.clone()),
        _ => None,
    });
    assert_eq!(down.reason, "connection lost", "{down:?}");
    assert!(watcher.exit_success(), "the watcher did not exit cleanly");
    assert!(
        !rs.seen[before..]
            .iter()
            .any(|l| matches!(l.event, Event::NotificationReceived(_)) || is_any_withdraw(l)),
        "a NOTIFICATION or a withdraw on a planned restart:\n{}",
        dump(&rs.seen[before..])
    );
    let stopping = watcher.wait_for("stopping", |l| match &l.event {
        Event::Stopping(s) => Some(s.clone()),
        _ => None,
    });
    assert_eq!(stopping.mode, "restart", "{stopping:?}");

    // Decommission: the VIP is withdrawn, then the session ends with a Cease
    // (Hard Reset where RFC 8538 was negotiated), and the watcher exits.
    let mut watcher = spawn(&["run", "-c", &cfg_s]);
    let from = rs.seen.len();
    rs.wait_for("the VIP again", |v| moved_to(v, WS1));
    let out = ctl(&api, &["shutdown", "--withdraw"]);
    assert!(out.contains("withdrawing"), "{out}");
    let n = rs.wait_for("the Cease", |l| match &l.event {
        Event::NotificationReceived(n) => Some(n.clone()),
        _ => None,
    });
    assert!(
        n.code == 6 && (n.subcode == 2 || n.subcode == 9),
        "Administrative Shutdown or Hard Reset: {n:?}"
    );
    let withdraw = rs.seen[from..].iter().position(|l| is_withdraw(l, VIP));
    let cease = rs.seen[from..]
        .iter()
        .position(|l| matches!(l.event, Event::NotificationReceived(_)));
    assert!(
        matches!((withdraw, cease), (Some(w), Some(c)) if w < c),
        "the withdraw comes before the Cease:\n{}",
        dump(&rs.seen[from..])
    );
    assert!(watcher.exit_success(), "the watcher did not exit cleanly");
    let _ = std::fs::remove_dir_all(&dir);
}
