//! Graceful restart through a planned stop (RFC 8538): a speaker with graceful
//! restart that is stopped with SIGTERM sends Cease, and the route server, having
//! negotiated the N bit with it, keeps the VIP stale instead of dropping it, until
//! the speaker comes back and refreshes it. Without graceful restart the route goes.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod loopback;

use std::process::Command;
use std::time::Duration;

use hopwatch_events::route_server::InstancePeers;
use hopwatch_events::{Event, Line};
use loopback::{Proc, free_port, spawn};

const SPEAKER: &str = "127.26.0.7";
const RS: &str = "127.26.1.4";

fn peers(api: &str) -> Vec<InstancePeers> {
    let out = Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(["ctl", "--api", api, "--json", "peers"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn established(l: &Line) -> bool {
    matches!(l.event, Event::Established(_))
}

fn notification_received(l: &Line) -> bool {
    matches!(l.event, Event::NotificationReceived(_))
}

/// Whether `l` programs a route (`removed`: removes one).
fn programmed(l: &Line, removed: bool) -> bool {
    matches!(&l.event, Event::Programmed(p) if p.next_hops.is_none() == removed)
}

fn speak(bgp: u16, gr: bool) -> Proc {
    let port = bgp.to_string();
    let mut args = vec![
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
        &port,
        "--announce",
        "100.64.0.1/32 next-hop 127.26.0.4",
    ];
    if gr {
        args.extend(["--graceful-restart", "10"]);
    }
    spawn(&args)
}

#[test]
fn a_planned_stop_with_graceful_restart_keeps_the_route_and_one_without_drops_it() {
    let bgp = free_port(RS);
    let api = format!("{RS}:{}", free_port(RS));
    let mut rs = spawn(&[
        "route-server",
        "--instance",
        RS,
        "--peer",
        &format!("{SPEAKER}:65001"),
        "--port",
        &bgp.to_string(),
        "--dataplane",
        "none",
        "--api",
        &api,
    ]);

    // With graceful restart (and the N bit): SIGTERM, the route stays stale.
    let mut first = speak(bgp, true);
    let est = rs.wait_for("the session", |l| match &l.event {
        Event::Established(e) => Some(e.clone()),
        _ => None,
    });
    assert!(est.graceful_notification, "{est:?}");
    rs.wait_for("the VIP", |l| programmed(l, false));
    first.signal("TERM");
    assert!(first.exit_success());
    rs.wait_for("the Cease", notification_received);
    let removed = rs.try_wait_for(Duration::from_millis(800), |l| programmed(l, true));
    assert!(
        removed.is_none(),
        "the VIP was removed on a planned stop: {removed:?}"
    );
    let p = peers(&api);
    assert_eq!(p[0].peers[0].stale, 1, "{p:?}");

    // The speaker comes back: the route is refreshed and no longer stale.
    let mut second = speak(bgp, true);
    rs.wait_for("the session again", established);
    rs.wait_for("End-of-RIB", |l| matches!(l.event, Event::EndOfRib(_)));
    let p = peers(&api);
    assert_eq!(p[0].peers[0].stale, 0, "{p:?}");
    second.signal("TERM");
    assert!(second.exit_success());
    rs.wait_for("the second Cease", notification_received);

    // Without graceful restart: the route goes at once.
    let mut plain = speak(bgp, false);
    rs.wait_for(
        "the plain session",
        |l| matches!(&l.event, Event::Established(e) if !e.graceful_notification),
    );
    plain.signal("TERM");
    assert!(plain.exit_success());
    rs.wait_for("the VIP removed", |l| programmed(l, true));
}
