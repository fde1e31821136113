//! In the forwarding mode, only the watchers may put a
//! packet into a backend's service, and a watcher takes no VXLAN at all.
//!
//! The seed's namespace lab (nothing linked to the host): ws1 runs `hopwatch
//! backend --vip 100.64.0.1/32 --watcher 10.10.0.7`; lt1 (10.10.0.6) is the
//! attacker, and watch1 (10.10.0.7) the watcher. A UDP sink on port 9999 in ws1
//! (on every address: the VIP and ws1's own) records which forged packets reach a
//! service, and with which source. Every forged packet is a VXLAN datagram whose
//! inner packet claims a source address of the sender's choosing
//! ([`support::vxlan`]).
//!
//! - The backend: VXLAN from the watcher to the VIP arrives (the control: without
//!   it the other cases would prove nothing); from lt1 it does not, over IPv4 nor
//!   over IPv6 to ws1's automatic link-local address (the kernel listens on
//!   `[::]:4789` too); and an inner packet to the backend's own address does not
//!   either, even from the watcher (the tunnel carries the VIPs only).
//! - `hopwatch backend` without `--watcher` is refused unless
//!   `--accept-vxlan-from-anyone` says so.
//! - The watcher: `hopwatch run` with `[forward]` in watch1, ws1 its one backend.
//!   A plain packet from lt1 to the VIP through the watcher reaches ws1 (the
//!   control); a VXLAN datagram from lt1 to the watcher, carrying a packet to the
//!   VIP with a forged source, must not be decapsulated and sent on with the
//!   watcher's own address (which ws1's allow-list trusts), nor one with a
//!   broadcast MAC reach the watcher's own addresses.
//! - Leftovers: what a killed backend or an earlier forwarding watcher left is
//!   adopted or removed; `hopwatch cleanup` removes the rest.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use hopwatch_events::Event;
use serde_json::Value;
use support::hopwatch::Hopwatch;
use support::lab::{LT1, NetLab, VIP, VIP_ADDR, WATCH1, WS1};
use support::proc;
use support::vxlan::{self, BROADCAST, Inner, Sink};
use support::wait::SESSION_TIMEOUT;

/// The sink's port on ws1 (and watch1).
const PORT: u16 = 9999;
/// The VXLAN port (`hopwatch backend`'s and `[forward]`'s default).
const VXLAN: u16 = 4789;
/// The backend's MAC (`hopwatch backend`'s `hwfwd`).
const BACKEND_MAC: vxlan::Mac = [0x02, 0x68, 0x77, 0x00, 0x00, 0x01];
/// How long a sink listens: every packet is sent well inside it.
const WINDOW: Duration = Duration::from_secs(3);

fn preflight(test: &str) -> bool {
    if std::env::var("HOPWATCH_INTEROP").as_deref() == Ok("skip") {
        say(&format!(
            "namespace test {test} skipped: HOPWATCH_INTEROP=skip"
        ));
        return false;
    }
    assert!(
        nix::unistd::geteuid().is_root(),
        "{test} needs root (network namespaces); run as root, or set \
         HOPWATCH_INTEROP=skip to skip it explicitly"
    );
    assert!(
        std::path::Path::new("/usr/sbin/nft").exists(),
        "{test} needs nft: `./test` installs Debian's nftables"
    );
    true
}

fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn ip4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn v4(addr: &str, port: u16) -> SocketAddr {
    SocketAddr::new(addr.parse().unwrap(), port)
}

/// `hopwatch backend` in `ns` with `args`; waits for its `backend_ready` line.
fn backend(lab: &NetLab, ns: &str, label: &str, args: &[&str]) -> Hopwatch {
    let mut argv = vec!["backend".to_string(), "--vip".into(), VIP.into()];
    argv.extend(args.iter().map(|s| s.to_string()));
    let hw = Hopwatch::start_in(ns, lab.dir(), label, &argv, proc::DAEMON_LIFETIME_S);
    hw.wait_for("backend_ready", SESSION_TIMEOUT, |l| {
        matches!(l.event, Event::BackendReady(_))
    });
    hw
}

/// The IPv6 link-local address of the lab interface in `ns`, once usable (not
/// tentative), and that interface's index.
fn link_local(ns: &str) -> (std::net::Ipv6Addr, u32) {
    let found = support::wait::poll(Duration::from_secs(10), Duration::from_millis(100), || {
        let out = proc::run_in_ok(ns, &["ip", "-j", "-6", "addr", "show", "dev", "lab0"]);
        let v: Value = serde_json::from_str(&out).ok()?;
        let link = v.as_array()?.first()?;
        let index = u32::try_from(link["ifindex"].as_u64()?).ok()?;
        link["addr_info"].as_array()?.iter().find_map(|a| {
            let usable = a["scope"] == "link" && a.get("tentative").is_none();
            usable
                .then(|| a["local"].as_str()?.parse().ok())
                .flatten()
                .map(|addr| (addr, index))
        })
    });
    found.unwrap_or_else(|| panic!("no usable IPv6 link-local address on lab0 in {ns}"))
}

/// The payloads that arrived, as a set.
fn payloads(got: &[(SocketAddr, String)]) -> BTreeSet<String> {
    got.iter().map(|(_, p)| p.clone()).collect()
}

#[test]
fn a_backend_takes_vxlan_only_from_its_watchers_and_only_for_its_vips() {
    if !preflight("backend-vxlan") {
        return;
    }
    let lab = NetLab::new("backend-vxlan");
    let _backend = backend(&lab, &lab.ws1.ns, "backend", &["--watcher", WATCH1]);
    // lt1's own link-local address, to send from; ws1's, to send to.
    let (ws1_ll, _) = link_local(&lab.ws1.ns);
    let (lt1_ll, lt1_if) = link_local(&lab.lt1.ns);
    let sink = Sink::start(&lab.ws1.ns, PORT, WINDOW);

    let inner = |src: &str, dst: &str, what: &str| Inner {
        dst_mac: BACKEND_MAC,
        src: ip4(src),
        dst: ip4(dst),
        port: PORT,
        payload: what.into(),
    };
    let to_ws1 = v4(WS1, VXLAN);
    // The control: the watcher, to the VIP, from a client's address.
    let legit = vxlan::frame(7, &inner("198.51.100.7", VIP_ADDR, "watcher-to-vip"));
    vxlan::send(&lab.watch1.ns, v4(WATCH1, 0), to_ws1, legit, 3);
    // A stranger over IPv4.
    let v4_forged = vxlan::frame(7, &inner("203.0.113.1", VIP_ADDR, "stranger-v4"));
    vxlan::send(&lab.lt1.ns, v4(LT1, 0), to_ws1, v4_forged, 3);
    // A stranger over IPv6, link-local to link-local: no IPv6 set-up anywhere.
    let v6_forged = vxlan::frame(7, &inner("203.0.113.2", VIP_ADDR, "stranger-v6"));
    vxlan::send(
        &lab.lt1.ns,
        SocketAddr::V6(SocketAddrV6::new(lt1_ll, 0, 0, lt1_if)),
        SocketAddr::V6(SocketAddrV6::new(ws1_ll, VXLAN, 0, lt1_if)),
        v6_forged,
        3,
    );
    // The watcher's tunnel, to the backend's own address, claiming to be the
    // watcher: it would pass address-based rules on the backend.
    let own = vxlan::frame(7, &inner(WATCH1, WS1, "watcher-to-own-address"));
    vxlan::send(&lab.watch1.ns, v4(WATCH1, 0), to_ws1, own, 3);

    let got = sink.received();
    say(&format!("backend-vxlan: the service received {got:?}"));
    assert_eq!(
        payloads(&got),
        BTreeSet::from(["watcher-to-vip".to_string()]),
        "only the watcher's packets to the VIP may reach a service: {got:?}"
    );
    assert!(
        got.iter()
            .all(|(from, _)| from.ip().to_string() == "198.51.100.7"),
        "{got:?}"
    );
}

#[test]
fn a_backend_without_a_watcher_is_refused_unless_told_to_accept_anyone() {
    if !preflight("backend-anyone") {
        return;
    }
    let lab = NetLab::new("backend-anyone");
    let bin = env!("CARGO_BIN_EXE_hopwatch");
    let out = proc::run_in(&lab.ws2.ns, &[bin, "backend", "--vip", VIP]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started without --watcher: {stderr}");
    assert!(
        stderr.contains("--watcher") && stderr.contains("--accept-vxlan-from-anyone"),
        "the refusal names both ways out: {stderr}"
    );
    // Nothing was set up by the refused run.
    let links = proc::run_in_ok(&lab.ws2.ns, &["ip", "-j", "link", "show"]);
    assert!(!links.contains("hwfwd"), "{links}");

    let anyone = backend(
        &lab,
        &lab.ws2.ns,
        "backend-anyone",
        &["--accept-vxlan-from-anyone"],
    );
    let log = std::fs::read_to_string(lab.dir().join("backend-anyone.err")).unwrap_or_default();
    assert!(
        log.contains("from anyone"),
        "a backend open to everyone says so on stderr: {log}\n{}",
        anyone.dump()
    );
}

/// `hopwatch web` and `hopwatch backend` on ws1, and `hopwatch run` with
/// `[forward]` on watch1, ws1 its only backend; waits until the watcher forwards.
fn forwarding_watcher(lab: &NetLab) -> Vec<Hopwatch> {
    let web = Hopwatch::start_in(
        &lab.ws1.ns,
        lab.dir(),
        "ws1",
        &[
            "web".into(),
            "--listen".into(),
            format!("{WS1}:80"),
            "--name".into(),
            "ws1".into(),
        ],
        proc::DAEMON_LIFETIME_S,
    );
    let backend = backend(lab, &lab.ws1.ns, "backend", &["--watcher", WATCH1]);
    let cfg = format!(
        "[bgp]\nlocal_as = 65001\nrouter_id = \"{WATCH1}\"\n\n\
         [[route_server]]\naddress = \"{rs}\"\npeer_as = 65515\n\n\
         [[vip]]\nprefix = \"{VIP}\"\nbackends = [\n  \
         {{ name = \"ws1\", next_hop = \"{WS1}\", check = \"http://{WS1}/\" }},\n]\n\n\
         [api]\nlisten = \"127.0.0.1:9179\"\n\n[forward]\naddress = \"{WATCH1}\"\n",
        rs = support::lab::RS1,
    );
    let path = lab.write("watcher.toml", &cfg);
    let run = Hopwatch::start_in(
        &lab.watch1.ns,
        lab.dir(),
        "watcher",
        &["run".into(), "-c".into(), path.to_str().unwrap().into()],
        proc::DAEMON_LIFETIME_S,
    );
    run.wait_for("forwarded", SESSION_TIMEOUT, |l| {
        matches!(l.event, Event::Forwarded(_))
    });
    vec![web, backend, run]
}

/// lt1 reaches the VIP through the watcher, as a client does through the route.
fn route_vip_through_the_watcher(lab: &NetLab) {
    proc::run_in_ok(
        &lab.lt1.ns,
        &[
            "ip",
            "route",
            "add",
            &format!("{VIP_ADDR}/32"),
            "via",
            WATCH1,
        ],
    );
}

/// The VNI and MAC of the watcher's tunnel device `dev` in `ns`.
fn tunnel(ns: &str, dev: &str) -> (u32, vxlan::Mac) {
    let out = proc::run_in_ok(ns, &["ip", "-d", "-j", "link", "show", "dev", dev]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let link = &v[0];
    let vni = u32::try_from(link["linkinfo"]["info_data"]["id"].as_u64().unwrap()).unwrap();
    let mac: Vec<u8> = link["address"]
        .as_str()
        .unwrap()
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    (vni, mac.try_into().unwrap())
}

#[test]
fn a_watcher_takes_no_vxlan_and_launders_nothing() {
    if !preflight("watcher-vxlan") {
        return;
    }
    let lab = NetLab::new("watcher-vxlan");
    let _procs = forwarding_watcher(&lab);
    let (vni, mac) = tunnel(&lab.watch1.ns, "hwfw0");
    route_vip_through_the_watcher(&lab);
    let at_backend = Sink::start(&lab.ws1.ns, PORT, WINDOW);
    let at_watcher = Sink::start(&lab.watch1.ns, PORT, WINDOW);

    // The control: a client's plain packet to the VIP, forwarded to ws1.
    vxlan::send(
        &lab.lt1.ns,
        v4(LT1, 0),
        v4(VIP_ADDR, PORT),
        b"client-through-watcher".to_vec(),
        3,
    );
    // Laundering: VXLAN to the watcher, carrying a packet to the VIP from a forged
    // source, with the tunnel device's own MAC.
    let launder = vxlan::frame(
        vni,
        &Inner {
            dst_mac: mac,
            src: ip4("203.0.113.3"),
            dst: ip4(VIP_ADDR),
            port: PORT,
            payload: "laundered".into(),
        },
    );
    vxlan::send(&lab.lt1.ns, v4(LT1, 0), v4(WATCH1, VXLAN), launder, 3);
    // A broadcast frame to the watcher's own address.
    let own = vxlan::frame(
        vni,
        &Inner {
            dst_mac: BROADCAST,
            src: ip4("203.0.113.4"),
            dst: ip4(WATCH1),
            port: PORT,
            payload: "to-the-watcher".into(),
        },
    );
    vxlan::send(&lab.lt1.ns, v4(LT1, 0), v4(WATCH1, VXLAN), own, 3);

    let backend_got = at_backend.received();
    let watcher_got = at_watcher.received();
    say(&format!(
        "watcher-vxlan: ws1 received {backend_got:?}; the watcher received {watcher_got:?}"
    ));
    assert_eq!(
        payloads(&backend_got),
        BTreeSet::from(["client-through-watcher".to_string()]),
        "only the client's own packet may reach ws1: {backend_got:?}"
    );
    assert!(
        backend_got
            .iter()
            .all(|(from, _)| from.ip().to_string() == LT1),
        "{backend_got:?}"
    );
    assert!(
        watcher_got.is_empty(),
        "VXLAN reached the watcher's own addresses: {watcher_got:?}"
    );
}

/// Sends one datagram to `to` from each port of `ports` at `from`, inside `ns`:
/// a flow each (the ports are the flow's only difference).
fn flows_from(ns: &str, from: &str, ports: std::ops::Range<u16>, to: SocketAddr) {
    let ns = ns.to_string();
    let from: Ipv4Addr = from.parse().unwrap();
    std::thread::spawn(move || {
        hopwatch_lab::netns::enter(&ns).expect("entering the sender's namespace");
        for port in ports {
            if let Ok(sock) = std::net::UdpSocket::bind((from, port)) {
                let _ = sock.send_to(b"flow", to);
            }
        }
    })
    .join()
    .expect("the sender thread");
}

/// The source address of each flow pinned in the watcher's set `set`.
fn pinned_sources(ns: &str, set: &str) -> Vec<String> {
    let out = proc::run_in_ok(
        ns,
        &["nft", "-j", "list", "set", "inet", "hopwatch_forward", set],
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    let elems = v["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|o| o["set"]["elem"].as_array().cloned())
        .unwrap_or_default();
    elems
        .iter()
        .map(|e| {
            // An element with a timeout is {"elem": {"val": KEY, ...}}; the key a
            // concatenation whose first part is the client's address.
            let key = if e["elem"].is_object() {
                &e["elem"]["val"]
            } else {
                e
            };
            key["concat"][0].as_str().unwrap_or("?").to_string()
        })
        .collect()
}

#[test]
fn one_client_cannot_fill_a_backends_affinity_set() {
    if !preflight("affinity-flood") {
        return;
    }
    let lab = NetLab::new("affinity-flood");
    let _procs = forwarding_watcher(&lab);
    route_vip_through_the_watcher(&lab);
    let vip = v4(VIP_ADDR, PORT);
    // 20,000 flows from one address, as fast as it can send them.
    let flood = std::time::Instant::now();
    flows_from(&lab.lt1.ns, LT1, 20_000..40_000, vip);
    let took = flood.elapsed();
    // Another client, afterwards: ten flows, each to be pinned.
    let other = "10.10.6.200";
    flows_from(&lab.lt1.ns, other, 30_000..30_010, vip);
    std::thread::sleep(Duration::from_millis(300));
    let pinned = pinned_sources(&lab.watch1.ns, "flows0");
    let by_flooder = pinned.iter().filter(|s| *s == LT1).count();
    let by_other = pinned.iter().filter(|s| *s == other).count();
    // The defaults: 36 new pins a second per address, 4,096 at once.
    let bound = 4096 + (36.0 * (took.as_secs_f64() + 1.0)).ceil() as usize;
    say(&format!(
        "affinity-flood: 20,000 flows from one address in {took:?}: {by_flooder} pinned \
         (at most {bound}); another address afterwards: {by_other} of 10 pinned"
    ));
    assert!(
        by_flooder <= bound,
        "one address pinned {by_flooder} flows (at most {bound})"
    );
    assert_eq!(by_other, 10, "another client's flows were not pinned");
}

/// The VIP addresses on `lo` in `ns`, as `ip -j addr` shows them: (address/len,
/// label).
fn lo_vips(ns: &str) -> Vec<(String, String)> {
    let out = proc::run_in_ok(ns, &["ip", "-j", "-4", "addr", "show", "dev", "lo"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v[0]["addr_info"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|a| a["local"] == VIP_ADDR)
        .map(|a| {
            (
                format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]),
                a["label"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn has_link(ns: &str, dev: &str) -> bool {
    proc::run_in(ns, &["ip", "link", "show", "dev", dev])
        .status
        .success()
}

fn has_nft_table(ns: &str) -> bool {
    proc::run_in(ns, &["nft", "list", "table", "inet", "hopwatch_forward"])
        .status
        .success()
}

/// A backend killed before it could clean up leaves its VIP on `lo`; the next run
/// adopts it (`vips_added` names it) and removes it when it stops; `hopwatch
/// cleanup` removes the rest.
#[test]
fn a_backend_adopts_and_removes_what_a_killed_run_left() {
    if !preflight("backend-leftovers") {
        return;
    }
    let lab = NetLab::new("backend-leftovers");
    let ns = lab.ws2.ns.clone();
    // The lab puts the VIP on lo itself; this backend is to add it.
    proc::run_in_ok(
        &ns,
        &["ip", "addr", "del", &format!("{VIP_ADDR}/32"), "dev", "lo"],
    );
    let mut first = backend(&lab, &ns, "backend-1", &["--watcher", WATCH1]);
    assert_eq!(
        lo_vips(&ns),
        vec![(VIP.to_string(), "lo:hopwatch".to_string())]
    );
    first.kill_hard();
    assert_eq!(lo_vips(&ns).len(), 1, "SIGKILL leaves the VIP");

    let mut second = backend(&lab, &ns, "backend-2", &["--watcher", WATCH1]);
    let ready = second.wait_for("backend_ready", SESSION_TIMEOUT, |l| match &l.event {
        Event::BackendReady(r) => Some(r.clone()),
        _ => None,
    });
    assert_eq!(
        ready.vips_added,
        vec![VIP.to_string()],
        "the VIP is adopted"
    );
    second.signal("TERM");
    assert!(
        second
            .wait_exit(Duration::from_secs(10))
            .is_some_and(|s| s.success())
    );
    assert!(lo_vips(&ns).is_empty(), "SIGTERM removes the adopted VIP");
    assert!(!has_link(&ns, "hwfwd") && !has_nft_table(&ns));

    // Killed again, then `hopwatch cleanup` by hand.
    let mut third = backend(&lab, &ns, "backend-3", &["--watcher", WATCH1]);
    third.kill_hard();
    let bin = env!("CARGO_BIN_EXE_hopwatch");
    let said = proc::run_in_ok(&ns, &[bin, "cleanup"]);
    say(&format!("backend-leftovers: hopwatch cleanup: {said}"));
    assert!(said.contains("hwfwd") && said.contains(VIP), "{said}");
    assert!(lo_vips(&ns).is_empty());
    assert!(!has_link(&ns, "hwfwd") && !has_nft_table(&ns));
}

/// A watcher whose `[forward]` is removed leaves nothing
/// behind once it starts again without it.
#[test]
fn a_watcher_without_forward_removes_an_earlier_forwarding_mode() {
    if !preflight("watcher-leftovers") {
        return;
    }
    let lab = NetLab::new("watcher-leftovers");
    let mut procs = forwarding_watcher(&lab);
    let ns = lab.watch1.ns.clone();
    assert!(has_link(&ns, "hwfw0") && has_nft_table(&ns));
    // SIGKILL: the kernel keeps forwarding; nothing is cleaned up.
    let mut watcher = procs.pop().unwrap();
    watcher.kill_hard();
    assert!(has_link(&ns, "hwfw0"));
    let rules = proc::run_in_ok(&ns, &["ip", "rule", "show"]);
    assert!(rules.contains("fwmark"), "{rules}");

    // The same config without [forward].
    let text = std::fs::read_to_string(lab.dir().join("watcher.toml")).unwrap();
    let next_hop_mode = text.split("\n[forward]").next().unwrap().to_string();
    let path = lab.write("watcher-next-hop.toml", &next_hop_mode);
    let again = Hopwatch::start_in(
        &ns,
        lab.dir(),
        "watcher-again",
        &["run".into(), "-c".into(), path.to_str().unwrap().into()],
        proc::DAEMON_LIFETIME_S,
    );
    again.wait_for("started", SESSION_TIMEOUT, |l| {
        matches!(l.event, Event::Started(_))
    });
    assert!(!has_link(&ns, "hwfw0"), "the tunnel device is left");
    assert!(!has_nft_table(&ns), "the nftables table is left");
    let rules = proc::run_in_ok(&ns, &["ip", "rule", "show"]);
    assert!(!rules.contains("fwmark"), "a fwmark rule is left: {rules}");
    let routes = proc::run_in_ok(&ns, &["ip", "route", "show", "table", "all"]);
    assert!(!routes.contains(VIP_ADDR), "a VIP route is left: {routes}");
}
