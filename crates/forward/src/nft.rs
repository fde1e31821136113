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

/// The watcher's ruleset for `layout`.
pub fn watcher_script(layout: &Layout) -> String {
    let t = format!("inet {NFT_TABLE}");
    let s = &layout.settings;
    let mut o = String::new();
    let _ = writeln!(o, "add table {t}");
    for (chain, hook) in [("steer", "prerouting"), ("learn", "postrouting")] {
        let _ = writeln!(
            o,
            "add chain {t} {chain} {{ type filter hook {hook} priority mangle; policy accept; }}"
        );
        let _ = writeln!(o, "flush chain {t} {chain}");
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

/// The backend's ruleset: VXLAN to `port` only from `watchers` (none: from anyone),
/// and SYN-ACKs from `vips` advertising an MSS of at most `mss`.
pub fn backend_script(port: u16, watchers: &[Ipv4Addr], vips: &[Prefix], mss: u16) -> String {
    let t = format!("inet {NFT_TABLE}");
    let mut o = String::new();
    let _ = writeln!(o, "add table {t}");
    let _ = writeln!(
        o,
        "add chain {t} allow {{ type filter hook input priority filter; policy accept; }}"
    );
    let _ = writeln!(o, "flush chain {t} allow");
    let _ = writeln!(
        o,
        "add chain {t} clamp {{ type filter hook output priority mangle; policy accept; }}"
    );
    let _ = writeln!(o, "flush chain {t} clamp");
    let vips: Vec<String> = vips
        .iter()
        .filter(|p| p.addr().is_ipv4())
        .map(ToString::to_string)
        .collect();
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
    fn the_backend_script_drops_vxlan_from_strangers_only_when_told_who_is_not() {
        let vip: Prefix = "100.64.0.1/32".parse().expect("prefix");
        let s = backend_script(4789, &[Ipv4Addr::new(10, 10, 0, 7)], &[vip], 1410);
        assert!(s.contains("udp dport 4789 ip saddr != { 10.10.0.7 } drop"));
        assert!(s.contains("ip saddr { 100.64.0.1/32 } tcp flags & (syn | ack) == syn | ack"));
        assert!(s.contains("maxseg size set 1410"));
        assert!(!backend_script(4789, &[], &[vip], 1410).contains("drop"));
    }
}
