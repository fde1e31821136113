//! The namespace lab's network (`--netns`, root): the seed's addressing, built from
//! network namespaces that this run creates and deletes, with no link and no route
//! to the host's namespace (`docs/lab-topology.md`).
//!
//! - `vnet`: the router and route server. A bridge 10.10.0.1/24 to every host, the
//!   route server instances 10.10.1.4/32 and 10.10.1.5/32 on its `lo`, forwarding
//!   on, ICMP redirects off. The route server programs the VIP's route here.
//! - `ws1`, `ws2` (10.10.0.4, .5): the backends, the VIP 100.64.0.1/32 on `lo`,
//!   default route via the router.
//! - `watch1` (10.10.0.7): the watcher; `watch2` (10.10.0.8): the observer; both
//!   reach the route servers via the router.
//! - `lt1` (10.10.0.6): the load injector, default route via the router.
//!
//! Each host is joined to the bridge by a veth pair created directly inside the two
//! namespaces: no end ever exists in the host namespace. The lab's own traffic (the
//! load, its probes of the VIP) comes from threads that have entered lt1 with
//! `setns(2)` ([`in_ns`]), and its control calls run inside the target namespace
//! (`ip netns exec`), so nothing is ever sent from the host namespace.
//!
//! Established flows to the VIP keep their next hop when its route moves (conntrack
//! marks and a routing table per backend, see [`Net::flow_affinity`]), as flows
//! through the proxy data plane do on loopback, so a planned move breaks nothing.
//!
//! Failures injected at the network level: `blackhole` sets ws1's bridge port down
//! (every packet to and from ws1 vanishes), `drop` adds an nft rule in ws1's
//! namespace that drops every TCP segment to its HTTP port.

use std::fs::File;
use std::future::Future;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// The router's address on the bridge.
pub const ROUTER: &str = "10.10.0.1";
/// The router's bridge to every host.
pub const BRIDGE: &str = "br0";
/// The interface of each host, inside its own namespace.
const HOST_IF: &str = "lab0";
/// The nft table the `drop` scenario adds in ws1's namespace.
const DROP_TABLE: &str = "hopwatch_lab";
/// The nft table of the router's flow affinity.
const AFFINITY_TABLE: &str = "hopwatch_lab_affinity";
/// The VIP.
const VIP: &str = "100.64.0.1";
/// The load injector's source addresses, one per trial (local to lt1).
pub const LOAD_SOURCES: &str = "10.10.6.0/24";

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
            (&self.ws1, "10.10.0.4", "p-ws1"),
            (&self.ws2, "10.10.0.5", "p-ws2"),
            (&self.lt1, "10.10.0.6", "p-lt1"),
            (&self.watch1, "10.10.0.7", "p-watch1"),
            (&self.watch2, "10.10.0.8", "p-watch2"),
        ]
    }
}

/// `ip ARGS`, its stderr in the error.
fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running ip (iproute2)")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// `ip netns exec NS ARGV`, its stdin fed with `input`.
fn exec_in(ns: &str, argv: &[&str], input: Option<&str>) -> anyhow::Result<String> {
    use std::io::Write as _;
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(argv)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {} in {ns}", argv.join(" ")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.unwrap_or("").as_bytes())
            .with_context(|| format!("feeding {}", argv.join(" ")))?;
    }
    let out = child
        .wait_with_output()
        .with_context(|| format!("waiting for {}", argv.join(" ")))?;
    if !out.status.success() {
        bail!(
            "{} in {ns}: {}",
            argv.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
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
    let taken: Vec<&str> = names
        .all()
        .into_iter()
        .filter(|ns| std::path::Path::new("/run/netns").join(ns).exists())
        .collect();
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
            &format!("{ROUTER}/24"),
            "dev",
            br,
        ])?;
        ip(&["-n", vnet, "link", "set", br, "up"])?;
        for a in ["10.10.1.4", "10.10.1.5"] {
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
                &format!("{addr}/24"),
                "dev",
                HOST_IF,
            ])?;
            ip(&["-n", ns, "link", "set", HOST_IF, "up"])?;
            ip(&["-n", ns, "route", "add", "default", "via", ROUTER])?;
        }
        for ns in [&names.ws1, &names.ws2] {
            ip(&["-n", ns, "addr", "add", "100.64.0.1/32", "dev", "lo"])?;
            // Answers to lt1 go back through the router, as every packet does in a
            // cloud VNET, not straight across the bridge: the router sees both
            // directions of each flow, which flow affinity needs. (Answers to the
            // load's own sources take the default route, to the router as well.)
            ip(&["-n", ns, "route", "add", "10.10.0.6/32", "via", ROUTER])?;
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
        ip(&["-n", vnet, "route", "add", LOAD_SOURCES, "via", "10.10.0.6"])?;
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
        let backends = [("10.10.0.4", "1"), ("10.10.0.5", "2")];
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

    /// Whether ws1 has the drop rule (for the steady state after a failed trial).
    pub fn ws1_drop_present(&self) -> bool {
        exec_in(&self.names.ws1, &["nft", "list", "tables"], None)
            .is_ok_and(|t| t.contains(DROP_TABLE))
    }

    /// Deletes every namespace, after killing (by PID) whatever still runs in it.
    pub fn teardown(&mut self) {
        for ns in self.created.iter().rev() {
            sweep(ns);
            if let Err(e) = ip(&["netns", "del", ns]) {
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

/// SIGKILL, by PID, to every process still in namespace `ns`.
fn sweep(ns: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() else {
        return;
    };
    for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        if let Ok(pid) = pid.parse::<i32>() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn sysctl(ns: &str, settings: &[&str]) -> anyhow::Result<()> {
    let mut argv = vec!["sysctl", "-q", "-w"];
    argv.extend_from_slice(settings);
    exec_in(ns, &argv, None).map(|_| ())
}

/// Moves the calling thread into namespace `ns` (`/run/netns/NS`). Only this thread
/// moves: sockets it opens afterwards live in `ns`.
pub fn enter(ns: &str) -> anyhow::Result<()> {
    let path = format!("/run/netns/{ns}");
    let f = File::open(&path).with_context(|| format!("opening {path}"))?;
    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("entering network namespace {ns}"))
}

/// Runs the future `make()` builds on a thread of its own with a single-threaded
/// runtime, inside namespace `ns` when one is given, and returns its output. The
/// thread ends with the future, so no thread of the host namespace's runtime is
/// ever moved.
pub async fn in_ns<F, Fut, T>(ns: Option<String>, name: &str, make: F) -> anyhow::Result<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let run = || -> anyhow::Result<T> {
                if let Some(ns) = &ns {
                    enter(ns)?;
                }
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("building a runtime")?;
                Ok(rt.block_on(make()))
            };
            let _ = tx.send(run());
        })
        .with_context(|| format!("starting thread {name}"))?;
    rx.await.context("the thread ended without an answer")?
}
