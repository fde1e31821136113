//! `hopwatch route-server --dataplane kernel` in a two-namespace lab, with a real BGP
//! daemon as its peer: what every `route_server_*` test shares.
//!
//! The lab is [`Lab`]'s, turned round: the route server runs in the *router*
//! namespace, its instance address 10.10.1.4/32 on that namespace's `lo` (as Azure's
//! route server sits in its own subnet, so every peer session is multihop), and the
//! peer (AS 65001) runs in the *speaker* namespace at 10.10.0.7 with a route to
//! 10.10.1.0/24 via 10.10.0.1. The VIP's next hops 10.10.0.4 and 10.10.0.5 are on
//! the router's connected /24, so the kernel accepts them as gateways; nobody needs to
//! own them. The route server's kernel routes are read with `ip -j route` in the
//! router namespace, its state with `hopwatch ctl` run inside that namespace (its API
//! is the namespace's own loopback).
//!
//! [`Scenario`] is the sequence issue 4 asks of every peer: Established on both
//! sides, the VIP in the kernel via the announced next hop, a next-hop change, a
//! withdraw, and a session lost to SIGKILL. The peer-specific half is the [`RsPeer`]
//! trait. Each step's programming latency (`latency_us` of the route server's
//! `programmed` event) is printed to stderr, past the harness's capture.

use std::io::Write as _;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use hopwatch_events::bgp::SessionState;
use hopwatch_events::route_server::{InstancePeers, InstanceRib, PeerStatus, Programmed};
use hopwatch_events::{Event, Line};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::events::{ip_addr, is_from};
use super::hopwatch::Hopwatch;
use super::netns::{Lab, PEER_ADDR, SPEAKER_ADDR, ip};
use super::proc;
use super::wait::{self, ROUTE_TIMEOUT, SESSION_TIMEOUT};
use super::{NH1, NH2, VIP};

/// The route server instance's address (on the router namespace's `lo`): the
/// seed's first instance.
pub const RS_ADDR: &str = hopwatch_lab::seed::netns::RS1;
/// The route server's AS (Azure Route Server's).
pub const RS_AS: u32 = hopwatch_lab::seed::ROUTE_SERVER_AS;
/// The peer's AS: the seed's watcher's.
pub const RS_PEER_AS: u32 = hopwatch_lab::seed::WATCHER_AS;
/// The route server's API, inside the router namespace.
pub const RS_API: &str = "127.0.0.1:9180";
/// The VIP's address (for `ip route get`).
pub const VIP_ADDR: &str = hopwatch_lab::seed::netns::VIP_ADDR;

/// A [`Lab`] set up for the route server: 10.10.1.4/32 on the router's `lo`, and a
/// route to it from the peer's namespace.
pub fn rs_lab(test: &str) -> Lab {
    let lab = Lab::new(test);
    let must = |args: &[&str]| {
        if let Err(e) = ip(args) {
            panic!("lab setup failed: {e}");
        }
    };
    must(&[
        "-n",
        &lab.router,
        "addr",
        "add",
        &format!("{RS_ADDR}/32"),
        "dev",
        "lo",
    ]);
    must(&[
        "-n",
        &lab.speaker,
        "route",
        "add",
        hopwatch_lab::seed::netns::RS_NETWORK,
        "via",
        PEER_ADDR,
    ]);
    lab
}

/// Writes one line straight to stderr, past the test harness's capture.
pub fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The kernel's route for the VIP in the router namespace.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelRoute {
    /// Its gateways (one, or several for multipath).
    pub gateways: Vec<String>,
    /// `rtm_protocol`, as `ip -j` prints it.
    pub protocol: String,
    /// The whole `ip -j route show` object.
    pub json: Value,
}

/// A running `hopwatch route-server` in the lab's router namespace.
pub struct RouteServer {
    /// The process and its JSON events.
    pub hw: Hopwatch,
    ns: String,
}

impl RouteServer {
    /// Starts `hopwatch route-server --dataplane kernel` with instance 10.10.1.4 and
    /// `peers` (`ADDR:AS`), and waits for its `started` event.
    pub fn start(lab: &Lab, peers: &[&str]) -> RouteServer {
        let mut args: Vec<String> = [
            "route-server",
            "--instance",
            RS_ADDR,
            "--dataplane",
            "kernel",
            "--api",
            RS_API,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for p in peers {
            args.push("--peer".into());
            args.push(p.to_string());
        }
        let hw = Hopwatch::start_in(
            &lab.router,
            lab.dir(),
            "route-server",
            &args,
            proc::DAEMON_LIFETIME_S,
        );
        hw.wait_for("started", SESSION_TIMEOUT, |l| {
            matches!(l.event, Event::Started(_))
        });
        RouteServer {
            hw,
            ns: lab.router.clone(),
        }
    }

    /// `hopwatch ctl --api 127.0.0.1:9180 --json VIEW`, run in the router namespace,
    /// as the API's document `T`; `None` when it does not parse.
    fn ctl<T: DeserializeOwned>(&self, view: &str) -> Option<T> {
        let bin = env!("CARGO_BIN_EXE_hopwatch");
        let out = proc::run_in(&self.ns, &[bin, "ctl", "--api", RS_API, "--json", view]);
        serde_json::from_slice(&out.stdout).ok()
    }

    /// `ctl peers`: each instance's peers (none when `ctl` fails).
    pub fn peers(&self) -> Vec<InstancePeers> {
        self.ctl("peers").unwrap_or_default()
    }

    /// `ctl rib`: each instance's best paths (none when `ctl` fails).
    pub fn rib(&self) -> Vec<InstanceRib> {
        self.ctl("rib").unwrap_or_default()
    }

    /// The `ctl peers` row of `peer` on the (only) instance.
    pub fn peer_row(&self, peer: &str) -> Option<PeerStatus> {
        self.peers()
            .first()?
            .peers
            .iter()
            .find(|p| p.peer == ip_addr(peer))
            .cloned()
    }

    /// Waits until `ctl peers` says the session with `peer` is Established, and
    /// checks the `established` event; returns the `ctl peers` row.
    pub fn wait_established(&self, peer: &str) -> PeerStatus {
        let row = wait::poll(SESSION_TIMEOUT, Duration::from_millis(100), || {
            self.peer_row(peer)
                .filter(|r| r.state == SessionState::Established)
        })
        .unwrap_or_else(|| {
            panic!(
                "the route server never reached Established with {peer}: {:?}\n{}",
                self.peers(),
                self.hw.dump()
            )
        });
        let est = self.hw.wait_for("established", SESSION_TIMEOUT, |l| {
            matches!(l.event, Event::Established(_)) && is_from(l, peer)
        });
        let Event::Established(e) = &est.event else {
            unreachable!("the wait returns an established line")
        };
        assert_eq!(est.instance, Some(ip_addr(RS_ADDR)), "{est}");
        assert_eq!(e.peer_as, RS_PEER_AS, "{est}");
        row
    }

    /// The kernel's route for the VIP, if there is one.
    pub fn kernel_route(&self) -> Option<KernelRoute> {
        self.kernel_route_for(VIP)
    }

    /// The kernel's route for exactly `prefix` in the router namespace, if any.
    pub fn kernel_route_for(&self, prefix: &str) -> Option<KernelRoute> {
        let out = proc::run_in_ok(&self.ns, &["ip", "-j", "route", "show", prefix]);
        let v: Value = serde_json::from_str(&out).ok()?;
        let r = v.as_array()?.first()?.clone();
        let gateways = match r["nexthops"].as_array() {
            Some(hops) => hops
                .iter()
                .filter_map(|h| h["gateway"].as_str().map(str::to_owned))
                .collect(),
            None => r["gateway"]
                .as_str()
                .map(str::to_owned)
                .into_iter()
                .collect(),
        };
        Some(KernelRoute {
            gateways,
            protocol: r["protocol"].as_str().unwrap_or("").to_string(),
            json: r,
        })
    }

    /// `ip route get 100.64.0.1` in the router namespace (stdout, else stderr), trimmed.
    pub fn route_get(&self) -> String {
        let out = proc::run_in(&self.ns, &["ip", "route", "get", VIP_ADDR]);
        let text = if out.stdout.is_empty() {
            out.stderr
        } else {
            out.stdout
        };
        String::from_utf8_lossy(&text).trim().to_string()
    }

    /// Waits until the kernel routes the VIP via `next_hop` alone, with hopwatch's
    /// protocol number, and `ip route get` agrees.
    pub fn wait_kernel_via(&self, next_hop: &str, peer_tail: &dyn Fn() -> String) -> KernelRoute {
        let r = wait::poll(ROUTE_TIMEOUT, Duration::from_millis(20), || {
            self.kernel_route().filter(|r| r.gateways == [next_hop])
        })
        .unwrap_or_else(|| {
            panic!(
                "the router namespace never routed {VIP} via {next_hop}; it has {:?}\n{}\n{}",
                self.kernel_route(),
                self.hw.dump(),
                peer_tail()
            )
        });
        let proto = hopwatch_dataplane::HOPWATCH_RTPROT.to_string();
        assert_eq!(r.protocol, proto, "not hopwatch's route: {r:?}");
        let get = self.route_get();
        assert!(
            get.starts_with(&format!("{VIP_ADDR} via {next_hop} ")),
            "ip route get {VIP_ADDR}: {get}"
        );
        r
    }

    /// Waits up to `timeout` for the kernel to have no route for the VIP; whether it
    /// went.
    pub fn try_wait_kernel_gone(&self, timeout: Duration) -> bool {
        wait::poll(timeout, Duration::from_millis(20), || {
            self.kernel_route().is_none().then_some(())
        })
        .is_some()
    }

    /// Waits until the kernel has no route for the VIP any more.
    pub fn wait_kernel_gone(&self, peer_tail: &dyn Fn() -> String) {
        assert!(
            self.try_wait_kernel_gone(ROUTE_TIMEOUT),
            "the router namespace still routes {VIP}: {:?}\nctl peers: {:?}\n{}\n{}",
            self.kernel_route(),
            self.peers(),
            self.hw.dump(),
            peer_tail()
        );
    }

    /// Waits for a `programmed` event for the VIP from index `from` on, whose next
    /// hops are `next_hops` (`None`: removed); returns the line and its event.
    pub fn wait_programmed(&self, from: usize, next_hops: Option<&[&str]>) -> (Line, Programmed) {
        let want: Option<Vec<IpAddr>> = next_hops.map(|h| h.iter().map(|a| ip_addr(a)).collect());
        self.hw.wait_for_from(
            from,
            &format!("programmed {VIP} -> {want:?}"),
            ROUTE_TIMEOUT,
            |l| match &l.event {
                Event::Programmed(p) if p.prefix == VIP && p.next_hops == want => {
                    Some((l.clone(), p.clone()))
                }
                _ => None,
            },
        )
    }
}

/// A real BGP daemon as the route server's peer, in the lab's speaker namespace.
pub trait RsPeer {
    /// Its name, for the figures.
    fn name(&self) -> String;
    /// Waits until its own CLI says the session is Established; returns what it said.
    fn wait_established(&self) -> String;
    /// Announces the VIP via `next_hop` (first announce, or a next-hop change).
    fn announce(&mut self, next_hop: &str);
    /// Withdraws the VIP.
    fn withdraw(&mut self);
    /// SIGKILLs the BGP daemon (no NOTIFICATION, no graceful restart configured).
    fn kill(&mut self);
    /// Its logs, for failure messages.
    fn tail(&self) -> String;
}

/// One programming figure: the step, `latency_us` as the route server reported it,
/// and the test's own time from its action to the kernel route changing.
#[derive(Debug)]
pub struct Figure {
    /// What happened.
    pub step: &'static str,
    /// `latency_us` of the `programmed` event (UPDATE received to route programmed).
    pub latency_us: Option<u64>,
    /// From the test's action (CLI call, SIGKILL) to the kernel route seen changed.
    pub observed: Duration,
    /// For a lost session: from the route server's `down` event to `programmed`, µs.
    pub down_to_programmed_us: Option<u64>,
}

/// SIGKILLs a peer that offered the daemon's default Graceful Restart capability (a
/// restart time, no address family: it preserves no forwarding state) and checks the
/// VIP's route goes at once, as RFC 4724 section 4.2 wants for a family the
/// capability does not list; returns the figure. `label` names the peer's mode.
pub fn kill_and_expect_removal_despite_helper_only_gr(
    rs: &RouteServer,
    peer: &mut dyn RsPeer,
    label: &str,
) -> Figure {
    let est = rs
        .hw
        .wait_for("established", SESSION_TIMEOUT, |l| match &l.event {
            Event::Established(e) if is_from(l, SPEAKER_ADDR) => Some(e.clone()),
            _ => None,
        });
    let from = rs.hw.event_count();
    let t0 = Instant::now();
    peer.kill();
    // The removal takes tens of ms when it happens: 5 s is a generous bound.
    let gone = rs.try_wait_kernel_gone(Duration::from_secs(5));
    assert!(
        gone,
        "hopwatch kept the VIP's route after {label} was SIGKILLed: its OPEN had a \
         Graceful Restart capability with no address family (it preserves no forwarding \
         state), which RFC 4724 4.2 does not let a receiver retain routes for; hopwatch \
         took it as restart time {} for every family and keeps the route stale.\n\
         established event: {est:?}\nctl peers: {:?}\nkernel: {:?}\n{}\n{}",
        est.peer_restart_time
            .map_or_else(|| "none".to_string(), |t| format!("{t} s")),
        rs.peers(),
        rs.kernel_route(),
        rs.hw.dump(),
        peer.tail()
    );
    let observed = t0.elapsed();
    let (_, ev) = rs.wait_programmed(from, None);
    Figure {
        step: "SIGKILL (helper-only GR)",
        latency_us: ev.latency_us,
        observed,
        down_to_programmed_us: None,
    }
}

/// Prints the figures of one peer's run.
pub fn print_figures(peer: &str, figures: &[Figure]) {
    for f in figures {
        say(&format!(
            "route-server figure [{peer}] {:<28} latency_us={:<8} action-to-kernel={:.1} ms{}",
            f.step,
            f.latency_us
                .map_or_else(|| "-".to_string(), |l| l.to_string()),
            f.observed.as_secs_f64() * 1000.0,
            f.down_to_programmed_us
                .map_or_else(String::new, |d| format!(" down-event-to-programmed={d} us"))
        ));
    }
}

/// The whole sequence of issue 4 for one peer; returns the figures (also printed).
pub fn run_scenario(rs: &RouteServer, peer: &mut dyn RsPeer) -> Vec<Figure> {
    let name = peer.name();
    let mut figures = Vec::new();
    // 1. Established, on both sides.
    let row = rs.wait_established(SPEAKER_ADDR);
    let own = peer.wait_established();
    say(&format!(
        "[{name}] Established: route server says {row:?}; the peer says\n{}",
        own.trim()
    ));
    // 2. The VIP via NH1.
    let mut fig = |what, want, action: &dyn Fn(&mut dyn RsPeer)| {
        figures.push(step(rs, peer, what, want, action));
    };
    fig("announce via NH1", Some(NH1), &|p| p.announce(NH1));
    // 3. The next hop moves to NH2.
    fig("next hop NH1 -> NH2", Some(NH2), &|p| p.announce(NH2));
    // 4. Withdraw.
    fig("withdraw", None, &|p| p.withdraw());
    // 5. Announce again, then the session drops without graceful restart.
    fig("announce again via NH1", Some(NH1), &|p| p.announce(NH1));
    fig("SIGKILL (session lost)", None, &|p| p.kill());
    print_figures(&name, &figures);
    figures
}

/// Runs one action and waits for the kernel and the `programmed` event to follow:
/// the VIP via `want`, or (`None`) no route for it.
pub fn step(
    rs: &RouteServer,
    peer: &mut dyn RsPeer,
    what: &'static str,
    want: Option<&str>,
    action: &dyn Fn(&mut dyn RsPeer),
) -> Figure {
    let from = rs.hw.event_count();
    let t0 = Instant::now();
    action(peer);
    let tail = || peer.tail();
    match want {
        Some(nh) => {
            rs.wait_kernel_via(nh, &tail);
        }
        None => rs.wait_kernel_gone(&tail),
    }
    let observed = t0.elapsed();
    let (line, ev) = rs.wait_programmed(from, want.map(|nh| [nh]).as_ref().map(|a| &a[..]));
    assert_eq!(ev.error, None, "programming failed: {line}");
    say(&format!(
        "[{}] {what}: `ip -j route show {VIP}`: {}; `ip route get {VIP_ADDR}`: {}; event {line}",
        peer.name(),
        rs.kernel_route()
            .map_or_else(|| "none".into(), |r| r.json.to_string()),
        rs.route_get().replace('\n', " ")
    ));
    // A lost session: the route server's `down` event before the programming.
    let down_to_programmed_us = rs
        .hw
        .events()
        .iter()
        .skip(from)
        .take_while(|l| !matches!(l.event, Event::Programmed(_)))
        .find(|l| matches!(l.event, Event::Down(_)))
        .map(|d| line.ts_us.saturating_sub(d.ts_us));
    Figure {
        step: what,
        latency_us: ev.latency_us,
        observed,
        down_to_programmed_us,
    }
}
