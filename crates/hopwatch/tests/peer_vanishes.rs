//! A peer that vanishes without a NOTIFICATION must leave the other side idle. A
//! closed socket is readable at once, every time, so a BGP driver that kept the
//! dead socket after the session went down would read end-of-file in a loop and
//! spin a core until the peer came back: the route server after `kill -9` of a
//! watcher, `speak` and the watcher after `kill -9` of a route server.
//!
//! Each test runs one survivor (`hopwatch route-server`, `speak` or `run`) and its
//! peer in the two namespaces of [`rs_lab`] (nothing linked to the host), brings the
//! session up with a 3 s hold time, counts the survivor's reads for [`WINDOW`]
//! (the baseline), loses the connection one of three ways, waits for the
//! survivor's `down` line, and counts again:
//!
//! - **killed**: the peer gets SIGKILL; its kernel closes the connection (FIN).
//! - **reset**: the peer's namespace answers every TCP segment from outside with a
//!   reset (`nft ... reject with tcp reset`), as a firewall or a peer's rebooted
//!   kernel would; the survivor reads `ECONNRESET`.
//! - **half-open**: the peer's namespace drops everything in and out, as when its
//!   host is gone; nothing arrives, and the survivor's hold timer ends the session.
//!
//! A driver that keeps the dead socket fails the first two for all three survivors
//! (thousands of reads of the ended connection in 2 s). The half-open case ends
//! through the hold timer's NOTIFICATION, a path of its own that closes the
//! connection too; it is here so that it stays so.
//!
//! What is asserted is a count of syscalls, not time ([`support::syscalls`]): after
//! the loss the survivor reads an ended connection at most [`MOST_ENDED_READS`]
//! times in the window (a spinning one does it thousands of times), and makes no
//! more reads in all than twice its baseline plus [`SLACK`] (it is not polled in a
//! loop of any kind).

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write as _;
use std::time::Duration;

use hopwatch_events::{Event, Line};
use support::hopwatch::Hopwatch;
use support::netns::Lab;
use support::proc;
use support::route_server::{RS_ADDR, RS_AS, RS_PEER_AS, RouteServer, rs_lab};
use support::syscalls::{self, Reads};
use support::wait::SESSION_TIMEOUT;
use support::watcher_config::{Backend, Vip, WatcherConfig};
use support::{NH1, SPEAKER_ADDR, VIP};

/// How long each count of reads lasts.
const WINDOW: Duration = Duration::from_secs(2);
/// The most reads of an ended connection allowed after the loss: the one that saw
/// the end, and a few to spare. A driver polling the dead socket makes thousands.
const MOST_ENDED_READS: u64 = 5;
/// Reads allowed after the loss on top of twice the baseline (the survivor's own
/// reconnection attempts, a health probe more or less).
const SLACK: u64 = 100;
/// The hold time both sides propose, seconds: the half-open case waits for it.
const HOLD: u16 = 3;
/// The longest wait for the survivor to see the loss (the hold time, then margin).
const DOWN_WITHIN: Duration = Duration::from_secs(15);

/// How the connection is lost.
#[derive(Clone, Copy, Debug)]
enum Loss {
    Killed,
    Reset,
    HalfOpen,
}

/// Which `hopwatch` stays.
#[derive(Clone, Copy, Debug)]
enum Survivor {
    RouteServer,
    Speak,
    Watcher,
}

/// Root, `strace`, `nft`: a missing one fails the test, unless skipped explicitly.
fn preflight(test: &str) -> bool {
    if std::env::var("HOPWATCH_INTEROP").as_deref() == Ok("skip") {
        say(&format!(
            "namespace test {test} skipped: HOPWATCH_INTEROP=skip"
        ));
        return false;
    }
    assert!(
        nix::unistd::geteuid().is_root(),
        "{test} needs root (network namespaces, strace); run as root, or set \
         HOPWATCH_INTEROP=skip to skip it explicitly"
    );
    for bin in ["/usr/bin/strace", "/usr/sbin/nft", "/usr/sbin/ip"] {
        assert!(
            std::path::Path::new(bin).exists(),
            "{test} needs {bin}: `./test` installs it (Debian's strace, nftables, \
             iproute2)"
        );
    }
    true
}

/// Writes one line straight to stderr, past the harness's capture.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// `speak` in the speaker namespace, announcing the VIP to the route server.
fn speak(lab: &Lab) -> Hopwatch {
    let args: Vec<String> = [
        "speak",
        "--local-as",
        &RS_PEER_AS.to_string(),
        "--router-id",
        SPEAKER_ADDR,
        "--local-address",
        SPEAKER_ADDR,
        "--peer",
        RS_ADDR,
        "--peer-as",
        &RS_AS.to_string(),
        "--hold-time",
        &HOLD.to_string(),
        "--announce",
        &format!("{VIP} next-hop {NH1}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    Hopwatch::start(lab, "speak", &args)
}

/// `hopwatch web` and `hopwatch run` in the speaker namespace: one VIP, one
/// backend (the web server beside the watcher), the route server as its peer.
fn watcher(lab: &Lab) -> (Hopwatch, Hopwatch) {
    let web_addr = format!("{SPEAKER_ADDR}:8080");
    let web = Hopwatch::start(
        lab,
        "web",
        &[
            "web".into(),
            "--listen".into(),
            web_addr,
            "--name".into(),
            "ws1".into(),
        ],
    );
    let mut cfg = WatcherConfig::new(SPEAKER_ADDR, RS_ADDR, 179, "127.0.0.1:9179");
    cfg.hold_time = Some(HOLD);
    cfg.vips = vec![Vip::new(VIP, vec![Backend::web("ws1", SPEAKER_ADDR, 8080)])];
    let path = lab.dir().join("watcher.toml");
    std::fs::write(&path, cfg.to_toml()).unwrap();
    let run = Hopwatch::start(
        lab,
        "watcher",
        &["run".into(), "-c".into(), path.to_str().unwrap().into()],
    );
    (web, run)
}

/// `nft -f FILE` in `ns`, the ruleset written to the lab folder.
fn nft(lab: &Lab, ns: &str, name: &str, ruleset: &str) {
    let path = lab.dir().join(name);
    std::fs::write(&path, ruleset).unwrap();
    proc::run_in_ok(ns, &["nft", "-f", path.to_str().unwrap()]);
}

/// Loses the connection `how`, on the side of the peer in namespace `ns`.
fn lose(lab: &Lab, ns: &str, peer: &mut Hopwatch, how: Loss) {
    match how {
        Loss::Killed => peer.kill_hard(),
        // Every TCP segment that comes in is answered with a reset: the survivor's
        // next keepalive (a second at most) or its ACK of ours gets one.
        Loss::Reset => nft(
            lab,
            ns,
            "reset.nft",
            "table inet hw19 {\n  chain in {\n    type filter hook input priority 0;\n    \
             iifname != \"lo\" meta l4proto tcp reject with tcp reset\n  }\n}\n",
        ),
        // Nothing in or out: the host is gone as far as the survivor can tell.
        Loss::HalfOpen => nft(
            lab,
            ns,
            "gone.nft",
            "table inet hw19 {\n  chain in {\n    type filter hook input priority 0;\n    \
             iifname != \"lo\" drop\n  }\n  chain out {\n    type filter hook output \
             priority 0;\n    oifname != \"lo\" drop\n  }\n}\n",
        ),
    }
}

fn is_down(l: &Line) -> bool {
    matches!(l.event, Event::Down(_))
}

/// Counts the survivor's reads before and after the loss, and checks them.
fn survives(test: &str, survivor: Survivor, how: Loss) {
    if !preflight(test) {
        return;
    }
    let lab = rs_lab(test);
    let trace = |name: &str| lab.dir().join(name);
    // The survivor, its peer (and the namespace the peer is in), and anything else
    // that must live as long as the test.
    let (survivor_hw, mut peer, peer_ns, _keep): (Hopwatch, Hopwatch, String, Vec<Hopwatch>) =
        match survivor {
            Survivor::RouteServer => {
                let rs = RouteServer::start(&lab, &[&format!("{SPEAKER_ADDR}:{RS_PEER_AS}")]);
                let spk = speak(&lab);
                rs.wait_established(SPEAKER_ADDR);
                (rs.hw, spk, lab.speaker.clone(), Vec::new())
            }
            Survivor::Speak => {
                let rs = RouteServer::start(&lab, &[&format!("{SPEAKER_ADDR}:{RS_PEER_AS}")]);
                let spk = speak(&lab);
                spk.wait_established(SESSION_TIMEOUT);
                (spk, rs.hw, lab.router.clone(), Vec::new())
            }
            Survivor::Watcher => {
                let rs = RouteServer::start(&lab, &[&format!("{SPEAKER_ADDR}:{RS_PEER_AS}")]);
                let (web, run) = watcher(&lab);
                run.wait_established(SESSION_TIMEOUT);
                (run, rs.hw, lab.router.clone(), vec![web])
            }
        };
    let pid = survivor_hw.pid();
    let before = syscalls::count_reads(pid, WINDOW, &trace("before.strace"));

    lose(&lab, &peer_ns, &mut peer, how);
    survivor_hw.wait_for("the survivor's down line", DOWN_WITHIN, is_down);
    // The survivor is past the loss: whatever it does now, it does while the peer
    // stays away.
    let after = syscalls::count_reads(pid, WINDOW, &trace("after.strace"));
    say(&format!(
        "{test}: {survivor:?} after {how:?}: reads in {WINDOW:?} before the loss {} \
         ({} of an ended connection), after it {} ({})",
        before.total, before.ended, after.total, after.ended
    ));
    check(test, before, after, &survivor_hw);
    assert!(
        proc::alive(pid),
        "{test}: the survivor exited\n{}",
        survivor_hw.dump()
    );
}

fn check(test: &str, before: Reads, after: Reads, survivor: &Hopwatch) {
    assert!(
        after.ended <= MOST_ENDED_READS,
        "{test}: the survivor read an ended connection {} times in {WINDOW:?} after the \
         loss (at most {MOST_ENDED_READS}): it polls a dead socket in a loop\n{}",
        after.ended,
        survivor.dump()
    );
    let bound = 2 * before.total + SLACK;
    assert!(
        after.total <= bound,
        "{test}: {} reads in {WINDOW:?} after the loss against {} before (at most \
         {bound}): the survivor is busier without its peer\n{}",
        after.total,
        before.total,
        survivor.dump()
    );
}

#[test]
fn the_strace_parser_counts_each_completed_read_once_and_ended_ones_apart() {
    let trace = "\
101 recvfrom(13, \"\\377\\377\", 65536, 0, NULL, NULL) = 19
101 recvfrom(13, 0x7f, 65536, 0, NULL, NULL) = -1 EAGAIN (Resource temporarily unavailable)
102 read(9,  <unfinished ...>
101 recvfrom(14, \"\", 65536, 0, NULL, NULL) = 0
102 <... read resumed>\"\\1\\0\\0\\0\\0\\0\\0\\0\", 8) = 8
101 recvfrom(14, 0x7f, 65536, 0, NULL, NULL) = -1 ECONNRESET (Connection reset by peer)
";
    assert_eq!(syscalls::parse(trace), Reads { total: 5, ended: 2 });
}

#[test]
fn the_route_server_stays_idle_when_its_peer_is_killed() {
    survives("rs-killed", Survivor::RouteServer, Loss::Killed);
}

#[test]
fn the_route_server_stays_idle_when_its_peer_resets_the_connection() {
    survives("rs-reset", Survivor::RouteServer, Loss::Reset);
}

#[test]
fn the_route_server_stays_idle_when_its_peers_host_is_gone() {
    survives("rs-half-open", Survivor::RouteServer, Loss::HalfOpen);
}

#[test]
fn speak_stays_idle_when_its_route_server_is_killed() {
    survives("speak-killed", Survivor::Speak, Loss::Killed);
}

#[test]
fn speak_stays_idle_when_its_route_server_resets_the_connection() {
    survives("speak-reset", Survivor::Speak, Loss::Reset);
}

#[test]
fn speak_stays_idle_when_its_route_servers_host_is_gone() {
    survives("speak-half-open", Survivor::Speak, Loss::HalfOpen);
}

#[test]
fn the_watcher_stays_idle_when_its_route_server_is_killed() {
    survives("watcher-killed", Survivor::Watcher, Loss::Killed);
}

#[test]
fn the_watcher_stays_idle_when_its_route_server_resets_the_connection() {
    survives("watcher-reset", Survivor::Watcher, Loss::Reset);
}

#[test]
fn the_watcher_stays_idle_when_its_route_servers_host_is_gone() {
    survives("watcher-half-open", Survivor::Watcher, Loss::HalfOpen);
}
