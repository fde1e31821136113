//! The namespace lab's network (`--netns`, root, and the tests' and benchmarks'
//! namespace labs): the seed's addressing ([`crate::seed::netns`]), built from
//! network namespaces that this run creates and deletes, with no link and no route
//! to the host's namespace (`docs/lab-topology.md`).
//!
//! - `vnet`: the router and route server. A bridge 10.10.0.1/24 to every host, the
//!   route server instances 10.10.1.4/32 and 10.10.1.5/32 on its `lo`, forwarding
//!   on, ICMP redirects off. The route server programs the VIP's route here.
//! - `ws1`, `ws2` (10.10.0.4, .5): the backends, the VIP 100.64.0.1/32 on `lo`,
//!   default route via the router.
//! - `watch1` (10.10.0.7): the primary watcher; `watch2` (10.10.0.8): the observer,
//!   and (10.10.0.9) the standby watcher; both reach the route servers via the
//!   router.
//! - `lt1` (10.10.0.6): the load injector, default route via the router.
//!
//! Each host is joined to the bridge by a veth pair created directly inside the two
//! namespaces: no end ever exists in the host namespace. The lab's own traffic (the
//! load, its probes of the VIP) comes from threads that have entered lt1 with
//! `setns(2)` ([`super::in_ns`]), and its control calls run inside the target namespace
//! (`ip netns exec`), so nothing is ever sent from the host namespace.
//!
//! Established flows to the VIP keep their next hop when its route moves (conntrack
//! marks and a routing table per backend, see [`Net::flow_affinity`]), as flows
//! through the proxy data plane do on loopback, so a planned move breaks nothing.
//!
//! Failures injected at the network level: `blackhole` sets ws1's bridge port down
//! (every packet to and from ws1 vanishes), `drop` adds an nft rule in ws1's
//! namespace that drops every TCP segment to its HTTP port.

use anyhow::bail;

use super::{delete, exec_in, exists, ip, sysctl};
use crate::seed::netns::{
    HOST_PREFIX_LEN, LOAD_SOURCES, LT1, ROUTER, RS1, RS2, STANDBY, VIP_ADDR as VIP, WATCH1, WATCH2,
    WS1, WS2,
};

/// The router's bridge to every host (in the router namespace: each namespace has
/// its own interface names, so two labs never clash).
pub const BRIDGE: &str = "br0";
/// The interface of each host, inside its own namespace.
pub const HOST_IF: &str = "lab0";
/// The nft table the `drop` scenario adds in ws1's namespace.
const DROP_TABLE: &str = "hopwatch_lab";
/// The nft table the `disagree` scenario adds in the standby's namespace.
const DISAGREE_TABLE: &str = "hopwatch_lab_disagree";
/// The nft table of the router's flow affinity.
const AFFINITY_TABLE: &str = "hopwatch_lab_affinity";

/// The lab's namespace names (a prefix per run lets two runs coexist).
#[derive(Debug, Clone)]
pub struct Names {
    /// The prefix of every name.
    pub prefix: String,
    /// Router and route server.
    pub vnet: String,
    /// The primary backend.
    pub ws1: String,
    /// The secondary backend.
    pub ws2: String,
    /// The load injector.
    pub lt1: String,
    /// The watcher.
    pub watch1: String,
    /// The observer.
    pub watch2: String,
}

impl Names {
    /// The names under `prefix` (e.g. `hwlab-`).
    pub fn new(prefix: &str) -> Names {
        let n = |s: &str| format!("{prefix}{s}");
        Names {
            prefix: prefix.to_string(),
            vnet: n("vnet"),
            ws1: n("ws1"),
            ws2: n("ws2"),
            lt1: n("lt1"),
            watch1: n("watch1"),
            watch2: n("watch2"),
        }
    }

    /// Every namespace, the router first.
    pub fn all(&self) -> [&str; 6] {
        [
            &self.vnet,
            &self.ws1,
            &self.ws2,
            &self.lt1,
            &self.watch1,
            &self.watch2,
        ]
    }

    /// Each host namespace with its address and the name of its bridge port.
    fn hosts(&self) -> [(&str, &'static str, &'static str); 5] {
        [
            (&self.ws1, WS1, "p-ws1"),
            (&self.ws2, WS2, "p-ws2"),
            (&self.lt1, LT1, "p-lt1"),
            (&self.watch1, WATCH1, "p-watch1"),
            (&self.watch2, WATCH2, "p-watch2"),
        ]
    }
}

/// The lab's namespaces, deleted on drop (after every process left in them has
/// been killed by PID).
#[derive(Debug)]
pub struct Net {
    names: Names,
    created: Vec<String>,
}

/// Whether this process may build the namespace lab, with the reason if not.
pub fn preflight(names: &Names) -> anyhow::Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        bail!(
            "the namespace lab (--netns) creates network namespaces and needs root; run it \
             with sudo, or run `hopwatch lab` without --netns for the loopback lab"
        );
    }
    for bin in ["ip", "nft", "sysctl"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()));
        if !found {
            bail!("the namespace lab needs `{bin}` (Debian: iproute2, nftables, procps)");
        }
    }
    let taken: Vec<&str> = names.all().into_iter().filter(|ns| exists(ns)).collect();
    if !taken.is_empty() {
        bail!(
            "the namespace lab cannot start: namespace(s) {} already exist. Is another `hopwatch \
             lab --netns` running? If not, a crashed run left them: delete them with `ip netns \
             del NAME`, or choose another --netns-prefix.",
            taken.join(", ")
        );
    }
    Ok(())
}

impl Net {
    /// Builds the lab's namespaces, links and addresses. On an error, whatever was
    /// created is deleted again.
    pub fn create(names: Names) -> anyhow::Result<Net> {
        let mut net = Net {
            names,
            created: Vec::new(),
        };
        net.build()?;
        Ok(net)
    }

    fn build(&mut self) -> anyhow::Result<()> {
        let names = self.names.clone();
        for ns in names.all() {
            ip(&["netns", "add", ns])?;
            self.created.push(ns.to_string());
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        let vnet = names.vnet.as_str();
        let br = BRIDGE;
        sysctl(
            vnet,
            &[
                "net.ipv4.ip_forward=1",
                "net.ipv4.conf.all.send_redirects=0",
                "net.ipv4.conf.default.send_redirects=0",
            ],
        )?;
        ip(&[
            "-n",
            vnet,
            "link",
            "add",
            br,
            "type",
            "bridge",
            "forward_delay",
            "0",
        ])?;
        ip(&[
            "-n",
            vnet,
            "addr",
            "add",
            &format!("{ROUTER}/{HOST_PREFIX_LEN}"),
            "dev",
            br,
        ])?;
        ip(&["-n", vnet, "link", "set", br, "up"])?;
        for a in [RS1, RS2] {
            ip(&["-n", vnet, "addr", "add", &format!("{a}/32"), "dev", "lo"])?;
        }
        for (ns, addr, port) in names.hosts() {
            ip(&[
                "link", "add", HOST_IF, "netns", ns, "type", "veth", "peer", "name", port, "netns",
                vnet,
            ])?;
            ip(&["-n", vnet, "link", "set", port, "master", br])?;
            ip(&["-n", vnet, "link", "set", port, "up"])?;
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/{HOST_PREFIX_LEN}"),
                "dev",
                HOST_IF,
            ])?;
            ip(&["-n", ns, "link", "set", HOST_IF, "up"])?;
            ip(&["-n", ns, "route", "add", "default", "via", ROUTER])?;
        }
        ip(&[
            "-n",
            &names.watch2,
            "addr",
            "add",
            &format!("{STANDBY}/{HOST_PREFIX_LEN}"),
            "dev",
            HOST_IF,
        ])?;
        for ns in [&names.ws1, &names.ws2] {
            ip(&["-n", ns, "addr", "add", &format!("{VIP}/32"), "dev", "lo"])?;
            // Answers to lt1 go back through the router, as every packet does in a
            // cloud VNET, not straight across the bridge: the router sees both
            // directions of each flow, which flow affinity needs. (Answers to the
            // load's own sources take the default route, to the router as well.)
            ip(&[
                "-n",
                ns,
                "route",
                "add",
                &format!("{LT1}/32"),
                "via",
                ROUTER,
            ])?;
        }
        self.flow_affinity()?;
        // A new connection per request for minutes: each trial sends from an address
        // of its own in LOAD_SOURCES (all of it local to lt1, routed to lt1 by the
        // router), so no four-tuple of an earlier trial is reused. A reused one would
        // find the router's conntrack entry of the earlier flow still there (a SYN
        // that went unanswered stays for two minutes) and follow that flow's next
        // hop, not the current route.
        ip(&[
            "-n",
            &names.lt1,
            "route",
            "add",
            "local",
            LOAD_SOURCES,
            "dev",
            "lo",
        ])?;
        ip(&["-n", vnet, "route", "add", LOAD_SOURCES, "via", LT1])?;
        sysctl(&names.lt1, &["net.ipv4.ip_local_port_range=1024 65000"])?;
        Ok(())
    }

    /// Established flows to the VIP keep the next hop they started with when its
    /// route moves, as connections through hopwatch's proxy data plane do on
    /// loopback: a planned move (drain, failback) then breaks no connection in
    /// flight, whichever route server programs the route. conntrack remembers each
    /// new flow's next hop (`rt ip nexthop`) in its mark; the later packets of a flow
    /// the backend answered (`established`) carry the mark, and a rule per backend
    /// routes them through a table holding only that backend. A flow that was never
    /// answered follows the current route: its retransmitted SYN, or a new flow that
    /// reuses its four-tuple, is `new` again and marked anew. A flow whose backend
    /// died fails as it would anyway.
    fn flow_affinity(&self) -> anyhow::Result<()> {
        let vnet = self.names.vnet.as_str();
        let backends = [(WS1, "1"), (WS2, "2")];
        let map: Vec<String> = backends.iter().map(|(a, m)| format!("{a} : {m}")).collect();
        let ruleset = format!(
            "table ip {AFFINITY_TABLE} {{\n  chain forward {{\n    type filter hook forward \
             priority 0; policy accept;\n    ip daddr {VIP} ct state new ct mark set rt ip \
             nexthop map {{ {} }}\n  }}\n  chain prerouting {{\n    type filter hook \
             prerouting priority -150; policy accept;\n    ip daddr {VIP} ct state established \
             meta mark set ct mark\n  }}\n}}\n",
            map.join(", ")
        );
        exec_in(vnet, &["nft", "-f", "-"], Some(&ruleset))?;
        for (addr, mark) in backends {
            let table = format!("10{mark}");
            ip(&[
                "-n",
                vnet,
                "route",
                "add",
                &format!("{VIP}/32"),
                "via",
                addr,
                "dev",
                BRIDGE,
                "table",
                &table,
            ])?;
            ip(&[
                "-n", vnet, "rule", "add", "fwmark", mark, "table", &table, "priority", "100",
            ])?;
        }
        Ok(())
    }

    /// The namespaces.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// `blackhole`: ws1's bridge port down (`up = false`) or up again.
    pub fn ws1_link(&self, up: bool) -> anyhow::Result<()> {
        ip(&[
            "-n",
            &self.names.vnet,
            "link",
            "set",
            "p-ws1",
            if up { "up" } else { "down" },
        ])
        .map(|_| ())
    }

    /// `watcher-cut`: the primary watcher's bridge port down (`up = false`) or up.
    pub fn watch1_link(&self, up: bool) -> anyhow::Result<()> {
        ip(&[
            "-n",
            &self.names.vnet,
            "link",
            "set",
            "p-watch1",
            if up { "up" } else { "down" },
        ])
        .map(|_| ())
    }

    /// `drop`: an nft rule in ws1's namespace that drops every TCP segment to
    /// `port` (`on = true`), or its table removed again.
    pub fn ws1_drop(&self, port: u16, on: bool) -> anyhow::Result<()> {
        let ruleset = if on {
            format!(
                "table inet {DROP_TABLE} {{\n  chain input {{\n    type filter hook input priority \
                 0; policy accept;\n    tcp dport {port} drop\n  }}\n}}\n"
            )
        } else {
            format!("delete table inet {DROP_TABLE}\n")
        };
        exec_in(&self.names.ws1, &["nft", "-f", "-"], Some(&ruleset)).map(|_| ())
    }

    /// `disagree`: every packet from watch2 to ws1 dropped (`on`), or let through
    /// again. Only the standby there talks to ws1 (its probes leave from watch2's
    /// first address, the kernel's choice, so the rule matches the destination); the
    /// primary, in watch1, still reaches ws1.
    pub fn standby_cut_from_ws1(&self, on: bool) -> anyhow::Result<()> {
        let ruleset = if on {
            format!(
                "table inet {DISAGREE_TABLE} {{\n  chain output {{\n    type filter hook output \
                 priority 0; policy accept;\n    ip daddr {WS1} drop\n  }}\n}}\n"
            )
        } else {
            format!("delete table inet {DISAGREE_TABLE}\n")
        };
        exec_in(&self.names.watch2, &["nft", "-f", "-"], Some(&ruleset)).map(|_| ())
    }

    /// Whether the standby is cut from ws1 (for the steady state after a failed trial).
    pub fn standby_cut_present(&self) -> bool {
        exec_in(&self.names.watch2, &["nft", "list", "tables"], None)
            .is_ok_and(|t| t.contains(DISAGREE_TABLE))
    }

    /// Whether ws1 has the drop rule (for the steady state after a failed trial).
    pub fn ws1_drop_present(&self) -> bool {
        exec_in(&self.names.ws1, &["nft", "list", "tables"], None)
            .is_ok_and(|t| t.contains(DROP_TABLE))
    }

    /// Deletes every namespace, after killing (by PID) whatever still runs in it.
    pub fn teardown(&mut self) {
        for ns in self.created.iter().rev() {
            if let Err(e) = delete(ns) {
                eprintln!("hopwatch lab: {e:#}");
            }
        }
        self.created.clear();
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.teardown();
    }
}
