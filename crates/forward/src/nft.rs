//! The nftables rules of the forwarding mode, rendered as `nft` script (pure) and
//! applied by the `nft` command in one transaction.
//!
//! # Flow affinity without conntrack
//! With direct server return the watcher sees only the client's half of each flow.
//! Conntrack then never sees a SYN-ACK, so TCP's state machine declares the client's
//! ACKs invalid and detaches them from their entry: a conntrack mark would be lost on
//! the second packet of every flow. The watcher instead learns flows in nftables
//! sets of its own, one per backend, keyed by the 5-tuple:
//! - `learn` (postrouting): a packet leaving through backend `b`'s tunnel that carries
//!   no mark of ours is the first of a new flow (or of a flow older than the
//!   watcher): its 5-tuple is added to `flows_b`.
//! - `steer` (prerouting, before routing): a packet to a VIP whose 5-tuple is in
//!   `flows_b` refreshes its timeout and gets `b`'s mark, which a `fwmark` rule turns
//!   into a lookup in `b`'s table ([`crate::plan`]). A TCP SYN (without ACK) first
//!   removes its 5-tuple from every set: it opens a new connection, which goes where
//!   new flows go, even when a client reuses the ports of an older connection whose
//!   pin has not expired (clients behind NAT do, and Linux picks connect ports
//!   pseudo-randomly; without this, a drained backend would keep receiving such
//!   connections).
//!
//! The tunnel costs 50 bytes of each client packet. The segments that cross it are
//! sized by the MSS the *backend* advertises in its SYN-ACK, which goes straight to
//! the client and never passes the watcher; so the clamp is on the backend
//! ([`backend_script`]): SYN-ACKs from a VIP advertise at most `mss`.
//!
//! The sets survive a restart of the watcher (the script adds what is missing and
//! flushes only the chains and the VIP set), so established flows keep their backend
//! across `systemctl restart`.
//!
//! # Why the `nft` command, not netlink from Rust
//! The ruleset is written once at start-up and on reload, never on the failover path
//! (a move only replaces routes, through rtnetlink). `nft -f` is nftables' own front
//! end: it compiles the script and commits it in one kernel transaction. The Rust
//! netlink crates for nftables either wrap libnftnl (C) or cover a fraction of the
//! expressions used here (dynamic sets with timeouts, concatenations).

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::process::Stdio;
use std::time::Duration;

use hopwatch_bgp::Prefix;
use tokio::io::AsyncWriteExt;

use crate::Error;
use crate::layout::{Layout, NFT_TABLE};

/// The flow key: client, VIP, protocol, ports.
const KEY_TYPE: &str = "ipv4_addr . ipv4_addr . inet_proto . inet_service . inet_service";
const KEY: &str = "ip saddr . ip daddr . meta l4proto . th sport . th dport";

/// Adds each base chain `(name, hook, priority)` to table `t` (accepting by
/// default) and empties it: a ruleset applied again replaces its rules.
fn base_chains(o: &mut String, t: &str, chains: &[(&str, &str, &str)]) {
    for (chain, hook, priority) in chains {
        let _ = writeln!(
            o,
            "add chain {t} {chain} {{ type filter hook {hook} priority {priority}; policy accept; }}"
        );
        let _ = writeln!(o, "flush chain {t} {chain}");
    }
}

/// The watcher's ruleset for `layout`.
///
/// A watcher only ever *sends* VXLAN (the backends answer clients directly), so
/// it takes none: `guard` drops every datagram to the VXLAN port, over IPv4 and
/// IPv6, before the kernel's tunnel socket can decapsulate it, and `tunnels` drops
/// anything that still comes in through one of its tunnel devices. Without them a
/// forged datagram would be decapsulated, routed to the VIP and encapsulated again
/// with the watcher's own address as its source, which every backend's allow-list
/// trusts.
pub fn watcher_script(layout: &Layout) -> String {
    let t = format!("inet {NFT_TABLE}");
    let s = &layout.settings;
    let mut o = String::new();
    let _ = writeln!(o, "add table {t}");
    base_chains(
        &mut o,
        &t,
        &[
            ("guard", "input", "filter"),
            ("tunnels", "prerouting", "raw"),
            ("steer", "prerouting", "mangle"),
            ("learn", "postrouting", "mangle"),
        ],
    );
    let _ = writeln!(o, "add rule {t} guard udp dport {} drop", s.port);
    let devices: Vec<String> = layout
        .tunnels
        .iter()
        .map(|t| format!("\"{}\"", t.device()))
        .collect();
    if !devices.is_empty() {
        let _ = writeln!(
            o,
            "add rule {t} tunnels iifname {{ {} }} drop",
            devices.join(", ")
        );
    }
    let _ = writeln!(o, "add set {t} vips {{ type ipv4_addr; flags interval; }}");
    let _ = writeln!(o, "flush set {t} vips");
    let vips: Vec<String> = layout.vips.iter().map(ToString::to_string).collect();
    if !vips.is_empty() {
        let _ = writeln!(o, "add element {t} vips {{ {} }}", vips.join(", "));
    }
    let ours = u32::from(s.mark) << 16;
    // Every set before any rule that names one.
    for tunnel in &layout.tunnels {
        let _ = writeln!(
            o,
            "add set {t} flows{} {{ type {KEY_TYPE}; flags dynamic,timeout; timeout {}s; size {}; }}",
            tunnel.index,
            s.flow_timeout.as_secs().max(1),
            s.max_flows,
        );
    }
    for tunnel in &layout.tunnels {
        let _ = writeln!(
            o,
            "add rule {t} steer ip daddr @vips tcp flags & (syn | ack) == syn delete @flows{} {{ {KEY} }}",
            tunnel.index
        );
    }
    // One client address pins at most `pin_rate` new flows a second: past it, the
    // learn chain ends before the flow's set is touched (unmetered, one address
    // with varying ports fills a backend's set of 2^20 in about a second). The
    // meter's own set is bounded too; when it is full, learning goes on unmetered.
    let (rate, burst) = s.pin_rate();
    let _ = writeln!(
        o,
        "add set {t} pinners {{ type ipv4_addr; flags dynamic,timeout; timeout 60s; size 65536; }}"
    );
    if !devices.is_empty() {
        let _ = writeln!(
            o,
            "add rule {t} learn oifname {{ {} }} meta mark and 0xffff0000 != {ours:#x} meta l4proto {{ tcp, udp }} update @pinners {{ ip saddr limit rate over {rate}/second burst {burst} packets }} accept",
            devices.join(", ")
        );
    }
    for tunnel in &layout.tunnels {
        let set = format!("flows{}", tunnel.index);
        let _ = writeln!(
            o,
            "add rule {t} steer ip daddr @vips {KEY} @{set} update @{set} {{ {KEY} }} meta mark set {:#x} accept",
            layout.mark(tunnel)
        );
        let _ = writeln!(
            o,
            "add rule {t} learn oifname \"{}\" meta mark and 0xffff0000 != {ours:#x} meta l4proto {{ tcp, udp }} add @{set} {{ {KEY} }}",
            tunnel.device()
        );
    }
    o
}

/// The backend's ruleset:
/// - `allow` (input): VXLAN to `port` only from `watchers` over IPv4 (none given:
///   from anyone), and never over IPv6. The device is in external mode, so the
///   kernel listens on `[::]:port` as well as `0.0.0.0:port`, and every host has an
///   IPv6 link-local address without any set-up: a filter on IPv4 alone would let
///   anyone on the link in. The watchers are IPv4 only.
/// - `tunnel` (prerouting, before any routing decision): what comes out of the
///   tunnel device must be IPv4 to one of `vips`. A watcher forwards nothing else;
///   anything else was forged (a packet to the backend's own address would pass
///   address-based rules there, one to another address could be forwarded).
/// - `clamp` (output): SYN-ACKs from `vips` advertise an MSS of at most `mss`.
pub fn backend_script(port: u16, watchers: &[Ipv4Addr], vips: &[Prefix], mss: u16) -> String {
    let t = format!("inet {NFT_TABLE}");
    let mut o = String::new();
    let _ = writeln!(o, "add table {t}");
    base_chains(
        &mut o,
        &t,
        &[
            ("allow", "input", "filter"),
            ("tunnel", "prerouting", "filter"),
            ("clamp", "output", "mangle"),
        ],
    );
    let vips: Vec<String> = vips
        .iter()
        .filter(|p| p.addr().is_ipv4())
        .map(ToString::to_string)
        .collect();
    let _ = writeln!(
        o,
        "add rule {t} allow meta nfproto ipv6 udp dport {port} drop"
    );
    let dev = crate::layout::BACKEND_DEVICE;
    let _ = writeln!(
        o,
        "add rule {t} tunnel iifname \"{dev}\" meta nfproto != ipv4 drop"
    );
    if vips.is_empty() {
        let _ = writeln!(o, "add rule {t} tunnel iifname \"{dev}\" drop");
    } else {
        let _ = writeln!(
            o,
            "add rule {t} tunnel iifname \"{dev}\" ip daddr != {{ {} }} drop",
            vips.join(", ")
        );
    }
    if !vips.is_empty() {
        let _ = writeln!(
            o,
            "add rule {t} clamp ip saddr {{ {} }} tcp flags & (syn | ack) == syn | ack tcp option maxseg size > {mss} tcp option maxseg size set {mss}",
            vips.join(", ")
        );
    }
    if !watchers.is_empty() {
        let list: Vec<String> = watchers.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            o,
            "add rule {t} allow udp dport {port} ip saddr != {{ {} }} drop",
            list.join(", ")
        );
    }
    o
}

/// The script that removes everything of ours.
pub fn delete_script() -> String {
    format!("delete table inet {NFT_TABLE}\n")
}

/// Runs `nft -f -` with `script`, bounded in time.
pub async fn apply(script: &str) -> Result<(), Error> {
    let mut child = tokio::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::Nft(format!("cannot run nft (is nftables installed?): {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .await
            .map_err(|e| Error::Nft(format!("writing to nft: {e}")))?;
    }
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .map_err(|_| Error::Nft("nft did not finish within 10 s".into()))?
        .map_err(|e| Error::Nft(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Nft(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Settings;

    #[test]
    fn the_watcher_script_learns_and_steers_each_backends_flows() {
        let settings = Settings::new(Ipv4Addr::new(10, 10, 0, 7));
        let vip = "100.64.0.1/32".parse().expect("prefix");
        let l = Layout::new(
            settings,
            &[(
                vip,
                vec![Ipv4Addr::new(10, 10, 0, 4), Ipv4Addr::new(10, 10, 0, 5)],
            )],
        );
        let s = watcher_script(&l);
        assert!(s.contains("add element inet hopwatch_forward vips { 100.64.0.1/32 }"));
        assert!(s.contains("@flows1 update @flows1"), "{s}");
        // A new connection forgets a stale pin of its 5-tuple before any lookup.
        let forget = s
            .find("tcp flags & (syn | ack) == syn delete @flows1")
            .expect("a SYN forgets its pin");
        let lookup = s.find("@flows0 update @flows0").expect("lookup");
        assert!(forget < lookup, "{s}");
        assert!(s.contains("meta mark set 0x68770001 accept"), "{s}");
        assert!(s.contains("oifname \"hwfw0\" meta mark and 0xffff0000 != 0x68770000"));
        assert!(s.contains("timeout 900s; size 1048576;"));
        // Sets are added, never flushed: established flows survive a restart.
        assert!(!s.contains("flush set inet hopwatch_forward flows"));
    }

    #[test]
    fn the_backend_script_drops_vxlan_from_strangers_and_over_ipv6_and_not_for_a_vip() {
        let vip: Prefix = "100.64.0.1/32".parse().expect("prefix");
        let s = backend_script(4789, &[Ipv4Addr::new(10, 10, 0, 7)], &[vip], 1410);
        assert!(s.contains("udp dport 4789 ip saddr != { 10.10.0.7 } drop"));
        assert!(
            s.contains("allow meta nfproto ipv6 udp dport 4789 drop"),
            "{s}"
        );
        assert!(s.contains("tunnel iifname \"hwfwd\" ip daddr != { 100.64.0.1/32 } drop"));
        assert!(s.contains("tunnel iifname \"hwfwd\" meta nfproto != ipv4 drop"));
        assert!(s.contains("ip saddr { 100.64.0.1/32 } tcp flags & (syn | ack) == syn | ack"));
        assert!(s.contains("maxseg size set 1410"));
        // Without watchers (`--accept-vxlan-from-anyone`) IPv4 VXLAN is taken from
        // anyone, but never over IPv6, and still only for the VIPs.
        let anyone = backend_script(4789, &[], &[vip], 1410);
        assert!(!anyone.contains("ip saddr !="), "{anyone}");
        assert!(anyone.contains("ipv6 udp dport 4789 drop"), "{anyone}");
        assert!(
            anyone.contains("ip daddr != { 100.64.0.1/32 } drop"),
            "{anyone}"
        );
    }

    #[test]
    fn the_watcher_script_takes_no_vxlan_and_nothing_from_its_tunnels() {
        let settings = Settings::new(Ipv4Addr::new(10, 10, 0, 7));
        let vip = "100.64.0.1/32".parse().expect("prefix");
        let l = Layout::new(
            settings,
            &[(
                vip,
                vec![Ipv4Addr::new(10, 10, 0, 4), Ipv4Addr::new(10, 10, 0, 5)],
            )],
        );
        let s = watcher_script(&l);
        assert!(
            s.contains("add rule inet hopwatch_forward guard udp dport 4789 drop"),
            "{s}"
        );
        assert!(
            s.contains("tunnels iifname { \"hwfw0\", \"hwfw1\" } drop"),
            "{s}"
        );
        assert!(s.contains("hook input priority filter"), "{s}");
        // One address pins at most 36 new flows a second (4,096 at once) with the
        // defaults, before any flow is added to a set.
        let meter = s
            .find(
                "update @pinners { ip saddr limit rate over 36/second burst 4096 packets } accept",
            )
            .expect("the per-source meter");
        assert!(meter < s.find("add @flows0").expect("learning"), "{s}");
        assert!(s.contains("hook prerouting priority raw"), "{s}");
    }
}
