//! Where the lab's roles live (`docs/lab-topology.md`): their addresses,
//! ports and network namespaces, the command lines that start them, the watcher's
//! config, and the check that refuses to start when the lab's ports (loopback) or
//! namespaces (`--netns`) are taken.
//!
//! One [`Layout`] describes either lab, so that the scenarios, the join of logs and
//! the report are the same code for both: only addresses and namespaces differ. The
//! addresses themselves are [`crate::seed`]'s.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::Path;
use std::time::Duration;

use anyhow::bail;

use crate::netns::Names;
use crate::scenarios::Backends;
use crate::seed::{self, HTTP_PORT, OBSERVER_AS, ROUTE_SERVER_AS, WATCHER_API_PORT, WATCHER_AS};

/// The route server the lab runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RouteServer {
    /// `hopwatch route-server` (two instances; proxy data plane on loopback,
    /// kernel data plane in the namespace lab).
    Hopwatch,
    /// FRR's bgpd and zebra in the router namespace (`--netns` only).
    Frr,
    /// BIRD 2 in the router namespace (`--netns` only).
    Bird,
}

impl RouteServer {
    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            RouteServer::Hopwatch => "hopwatch",
            RouteServer::Frr => "frr",
            RouteServer::Bird => "bird",
        }
    }
}

/// How the VIP's traffic reaches the backend (`--mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Each move changes the VIP's route at the route servers.
    NextHop,
    /// The route points at the watchers, which forward to the backend over VXLAN.
    Forward,
    /// Both, one after the other, a table each.
    Both,
}

impl Mode {
    /// The modes to run, in order.
    pub fn each(self) -> &'static [bool] {
        match self {
            Mode::NextHop => &[false],
            Mode::Forward => &[true],
            Mode::Both => &[false, true],
        }
    }
}

/// The name of a mode in the output.
pub fn mode_name(forward: bool) -> &'static str {
    if forward { "forward" } else { "next-hop" }
}

/// The route server's timing profile (`hopwatch route-server --profile`).
pub use hopwatch_route_server::ProfileName as Profile;

/// Every address, port and namespace of one lab run.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The namespaces (`--netns`), or `None` for the loopback lab.
    pub netns: Option<Names>,
    /// Which route server runs.
    pub route_server: RouteServer,
    /// Its timing profile.
    pub profile: Profile,
    /// The route server instances.
    pub rs: [&'static str; 2],
    /// The BGP port of every speaker.
    pub bgp_port: u16,
    /// The route server's API (in the route server's namespace), when it has one.
    pub rs_api: Option<&'static str>,
    /// The VIP's address.
    pub vip: &'static str,
    /// The VIP as a prefix.
    pub vip_prefix: &'static str,
    /// The extra VIPs of `--vips` (/32 prefixes, no traffic), on the same backends
    /// with the same checks; empty for one VIP.
    pub extra_vips: Vec<String>,
    /// The port of the VIP and of the backends.
    pub http_port: u16,
    /// The primary backend (its next hop).
    pub ws1: &'static str,
    /// The secondary backend.
    pub ws2: &'static str,
    /// The watcher's BGP source.
    pub watcher: &'static str,
    /// The watcher's control API (in the watcher's namespace).
    pub watcher_api: &'static str,
    /// The standby watcher's BGP source and router ID.
    pub standby: &'static str,
    /// The standby's control API (in its namespace).
    pub standby_api: &'static str,
    /// The observer.
    pub observer: &'static str,
    /// The forwarding mode (`--mode forward`, namespace lab only): the VIP's route
    /// points at the watchers, which forward to ws1 or ws2 over VXLAN; each backend
    /// runs `hopwatch backend` (roles `fwd-ws1`, `fwd-ws2`).
    pub forward: bool,
}

impl Layout {
    /// The loopback lab: no privileges, hopwatch's route server with its proxy.
    pub fn loopback(profile: Profile) -> Layout {
        Layout {
            netns: None,
            route_server: RouteServer::Hopwatch,
            profile,
            rs: [seed::loopback::RS1, seed::loopback::RS2],
            // 179 needs privileges.
            bgp_port: seed::loopback::BGP_PORT,
            rs_api: Some(seed::loopback::RS_API),
            vip: seed::loopback::VIP_ADDR,
            vip_prefix: seed::loopback::VIP,
            extra_vips: Vec::new(),
            http_port: HTTP_PORT,
            ws1: seed::loopback::WS1,
            ws2: seed::loopback::WS2,
            watcher: seed::loopback::WATCHER,
            watcher_api: seed::loopback::WATCHER_API,
            standby: seed::loopback::STANDBY,
            standby_api: seed::loopback::STANDBY_API,
            observer: seed::loopback::OBSERVER,
            forward: false,
        }
    }

    /// The namespace lab with the seed's addressing: every address below exists
    /// only inside the lab's namespaces.
    pub fn netns(names: Names, route_server: RouteServer, profile: Profile) -> Layout {
        Layout {
            netns: Some(names),
            route_server,
            profile,
            rs: [seed::netns::RS1, seed::netns::RS2],
            bgp_port: seed::netns::BGP_PORT,
            // On the router namespace's own loopback: reached with `ip netns exec`.
            rs_api: (route_server == RouteServer::Hopwatch).then_some("127.0.0.1:9180"),
            vip: seed::netns::VIP_ADDR,
            vip_prefix: seed::netns::VIP,
            extra_vips: Vec::new(),
            http_port: HTTP_PORT,
            ws1: seed::netns::WS1,
            ws2: seed::netns::WS2,
            watcher: seed::netns::WATCH1,
            // On watch1's own loopback: no token needed, nothing else reaches it.
            watcher_api: "127.0.0.1:9179",
            standby: seed::netns::STANDBY,
            // On watch2's own loopback.
            standby_api: "127.0.0.1:9179",
            observer: seed::netns::WATCH2,
            forward: false,
        }
    }

    /// `count` VIPs in all (`--vips`): the seed's and `count − 1` extra ones from the
    /// lab's own range ([`seed::extra_vips`]).
    pub fn set_vips(&mut self, count: usize) {
        let net = if self.netns.is_some() {
            seed::netns::EXTRA_VIPS_NET
        } else {
            seed::loopback::EXTRA_VIPS_NET
        };
        self.extra_vips = seed::extra_vips(net, count.saturating_sub(1));
    }

    /// Every VIP as a prefix, the seed's first.
    pub fn vips(&self) -> Vec<String> {
        std::iter::once(self.vip_prefix.to_string())
            .chain(self.extra_vips.iter().cloned())
            .collect()
    }

    /// The BGP address of watcher `w` (its UPDATEs' source, the route servers' peer).
    pub fn address_of(&self, w: Watcher) -> &'static str {
        match w {
            Watcher::Primary => self.watcher,
            Watcher::Standby => self.standby,
        }
    }

    /// The namespace a role runs in (`route-server`, `ws1`, `ws2`, `watcher`,
    /// `standby`, `observer`, `load`, or an FRR daemon `frr-*`); `None` on loopback.
    pub fn ns_of(&self, role: &str) -> Option<String> {
        let n = self.netns.as_ref()?;
        Some(match role {
            "ws1" | "fwd-ws1" => n.ws1.clone(),
            "ws2" | "fwd-ws2" => n.ws2.clone(),
            "watcher" => n.watch1.clone(),
            "observer" | "standby" => n.watch2.clone(),
            "load" => n.lt1.clone(),
            // The route server, its FRR daemons, the route monitor.
            _ => n.vnet.clone(),
        })
    }

    /// `hopwatch backend` on ws1 or ws2 (forwarding mode): VXLAN from both watchers.
    pub fn backend_args(&self) -> Vec<String> {
        strings(&[
            "backend",
            "--vip",
            self.vip_prefix,
            "--watcher",
            self.watcher,
            "--watcher",
            self.standby,
        ])
    }

    /// A backend's address by name.
    pub fn backend(&self, name: &str) -> &'static str {
        if name == "ws1" { self.ws1 } else { self.ws2 }
    }

    /// The source address of trial `n`'s requests, a new one per trial so that no
    /// four-tuple of an earlier trial is reused (its TIME_WAIT socket, or in the
    /// namespace lab the router's conntrack entry, would still be there): lt1's
    /// network 127.10.6.0/24 on loopback, 10.10.6.0/24 (local to lt1) in namespaces.
    pub fn load_source(&self, n: usize) -> Option<IpAddr> {
        let host = (n % 250 + 1) as u8;
        Some(if self.netns.is_some() {
            let [a, b, c] = seed::netns::LOAD_SOURCES_NET;
            IpAddr::from([a, b, c, host])
        } else {
            let [a, b, c] = seed::loopback::LOAD_SOURCES_NET;
            IpAddr::from([a, b, c, host])
        })
    }

    /// One line that says what runs where, for the report.
    pub fn describe(&self) -> String {
        let vips = if self.extra_vips.is_empty() {
            String::new()
        } else {
            format!(
                " {} VIPs on ws1/ws2 with the same checks: the seed's and {} without traffic.",
                self.extra_vips.len() + 1,
                self.extra_vips.len()
            )
        };
        self.describe_roles() + &vips
    }

    /// What runs where.
    fn describe_roles(&self) -> String {
        match (&self.netns, self.route_server) {
            (None, _) => format!(
                "Loopback lab: route server (two instances, proxy data plane) at {}/{}, VIP \
                 {}:{}, ws1 {}, ws2 {}, primary watcher {}, standby {}.",
                self.rs[0],
                self.rs[1],
                self.vip,
                self.http_port,
                self.ws1,
                self.ws2,
                self.watcher,
                self.standby
            ),
            (Some(n), rs) => format!(
                "Namespace lab ({}*), {}: {} route server at {} and {} in the router \
                 namespace (kernel routes), VIP {}:{} on ws1 {} and ws2 {}, primary watcher \
                 {}, standby {}, load from lt1 {}.",
                n.prefix,
                if self.forward {
                    "forwarding mode (the route points at the watchers, which forward over \
                     VXLAN to the backend they choose)"
                } else {
                    "next-hop mode"
                },
                match rs {
                    RouteServer::Hopwatch => "hopwatch's",
                    RouteServer::Frr => "FRR's",
                    RouteServer::Bird => "BIRD's",
                },
                self.rs[0],
                self.rs[1],
                self.vip,
                self.http_port,
                self.ws1,
                self.ws2,
                self.watcher,
                self.standby,
                seed::netns::LT1,
            ),
        }
    }

    /// The loopback lab's listening sockets, with what each is for (empty for the
    /// namespace lab, whose sockets live in its own fresh namespaces).
    pub fn ports(&self) -> Vec<(SocketAddr, &'static str)> {
        if self.netns.is_some() {
            return Vec::new();
        }
        let p =
            |ip: &str, port: u16| SocketAddr::new(ip.parse().expect("a constant address"), port);
        let mut v = vec![
            (
                p(self.rs[0], self.bgp_port),
                "route server instance 1 (BGP)",
            ),
            (
                p(self.rs[1], self.bgp_port),
                "route server instance 2 (BGP)",
            ),
            (
                p(self.vip, self.http_port),
                "the VIP (route server's proxy)",
            ),
            (p(self.ws1, self.http_port), "ws1"),
            (p(self.ws2, self.http_port), "ws2"),
            (p(self.watcher, self.bgp_port), "the watcher (BGP)"),
            (
                p(self.watcher, WATCHER_API_PORT),
                "the watcher's control API",
            ),
            (p(self.observer, self.bgp_port), "the observer (BGP)"),
            (
                p(self.standby, WATCHER_API_PORT),
                "the standby watcher's control API",
            ),
        ];
        if let Some(api) = self.rs_api.and_then(|a| a.parse().ok()) {
            v.push((api, "the route server's API"));
        }
        v.extend(self.extra_vips.iter().filter_map(|prefix| {
            let addr = prefix.strip_suffix("/32")?;
            Some((
                p(addr, self.http_port),
                "an extra VIP (route server's proxy)",
            ))
        }));
        v
    }

    /// The lab's ports that something listens on now.
    pub fn taken_ports(&self) -> Vec<(SocketAddr, &'static str)> {
        self.ports()
            .into_iter()
            .filter(|(addr, _)| TcpListener::bind(addr).is_err())
            .collect()
    }

    /// Refuses to start when a lab port is taken, naming each.
    pub fn check_ports_free(&self) -> anyhow::Result<()> {
        let taken = self.taken_ports();
        if taken.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = taken.iter().map(|(a, w)| format!("{a} ({w})")).collect();
        bail!(
            "the loopback lab cannot start: {} already in use. Is another `hopwatch lab` (or one \
             of its roles: web, route-server, run, observe) running? Stop it and try again.",
            list.join(", ")
        )
    }

    /// `hopwatch route-server`: two instances; the proxy data plane on the VIP on
    /// loopback, kernel routes in the router namespace.
    pub fn route_server_args(&self) -> Vec<String> {
        let mut v = strings(&[
            "route-server",
            "--instance",
            self.rs[0],
            "--instance",
            self.rs[1],
            "--peer",
            &format!("{}:{WATCHER_AS}", self.watcher),
            "--peer",
            &format!("{}:{WATCHER_AS}", self.standby),
            "--peer",
            &format!("{}:{OBSERVER_AS}", self.observer),
            "--port",
            &self.bgp_port.to_string(),
            "--profile",
            self.profile.as_str(),
        ]);
        if self.netns.is_some() {
            v.extend(strings(&["--dataplane", "kernel"]));
        } else {
            v.extend(strings(&[
                "--dataplane",
                "proxy",
                "--vip-port",
                &self.http_port.to_string(),
            ]));
        }
        if let Some(api) = self.rs_api {
            v.extend(strings(&["--api", api]));
        }
        v
    }

    /// A backend (in the namespace lab it answers on its own address and the VIP),
    /// keeping its connections or closing them after each answer.
    pub fn web_args(&self, name: &str, backends: Backends) -> Vec<String> {
        let listen = if self.netns.is_some() {
            format!("0.0.0.0:{}", self.http_port)
        } else {
            format!("{}:{}", self.backend(name), self.http_port)
        };
        strings(&[
            "web",
            "--listen",
            &listen,
            "--name",
            name,
            "--connection",
            backends.arg(),
        ])
    }

    /// The observer, connecting to the first instance.
    pub fn observer_args(&self) -> Vec<String> {
        strings(&[
            "observe",
            "--local-as",
            &OBSERVER_AS.to_string(),
            "--router-id",
            self.observer,
            "--active",
            "--peer",
            self.rs[0],
            "--peer-as",
            &ROUTE_SERVER_AS.to_string(),
            "--listen",
            self.observer,
            "--port",
            &self.bgp_port.to_string(),
        ])
    }

    /// A watcher's config: both instances, the VIP on ws1 (primary) or ws2, and
    /// every extra VIP of `--vips` with the same backends and checks; the health
    /// settings of the issue's example; its role in the pair; graceful restart as
    /// `--graceful-restart` says.
    pub fn watcher_toml(
        &self,
        w: Watcher,
        hold: Duration,
        graceful_restart: Option<u16>,
    ) -> String {
        let (rs1, rs2) = (self.rs[0], self.rs[1]);
        let (addr, api) = match w {
            Watcher::Primary => (self.watcher, self.watcher_api),
            Watcher::Standby => (self.standby, self.standby_api),
        };
        let gr = graceful_restart.map_or_else(
            || "# graceful_restart: off (--graceful-restart off)".to_string(),
            |s| format!("graceful_restart = {s}"),
        );
        format!(
            r#"# written by `hopwatch lab`
[bgp]
local_as = {watcher_as}
router_id = "{w}"
local_address = "{w}"
port = {bgp}
hold_time = 9
{gr}

[[route_server]]
address = "{rs1}"
peer_as = {rs_as}

[[route_server]]
address = "{rs2}"
peer_as = {rs_as}

{vips}
[health]
interval = "10ms"
timeout = "25ms"
fall = 2
rise = 3
# Probes from the watcher's own address: on loopback every other client (the route
# server's proxy above all) connects from 127.0.0.1, and ws1's TIME_WAIT connections
# of those clients would share the probes' 4-tuples.
source = "{w}"

[failover]
preempt = true
failback_hold = "{hold}ms"
all_down = "keep"

[api]
listen = "{api}"

[ha]
role = "{role}"
{forward}"#,
            forward = if self.forward {
                format!("\n[forward]\naddress = \"{addr}\"\n")
            } else {
                String::new()
            },
            w = addr,
            vips = self.vips_toml(),
            role = w.role(),
            bgp = self.bgp_port,
            hold = hold.as_millis(),
            watcher_as = WATCHER_AS,
            rs_as = ROUTE_SERVER_AS,
        )
    }
}

impl Layout {
    /// The watcher config's `[[vip]]` tables: the seed's, then the extra ones, each
    /// with the same backends and identical checks (the same URL and settings), so
    /// that the only difference between VIPs is their prefix.
    fn vips_toml(&self) -> String {
        let (ws1, ws2, port) = (self.ws1, self.ws2, self.http_port);
        let backends = format!(
            "backends = [\n  \
             {{ name = \"ws1\", next_hop = \"{ws1}\", check = \"http://{ws1}:{port}/health\" }},\n  \
             {{ name = \"ws2\", next_hop = \"{ws2}\", check = \"http://{ws2}:{port}/health\" }},\n]\n"
        );
        let block = |prefix: &str| format!("[[vip]]\nprefix = \"{prefix}\"\n{backends}");
        let mut out = block(self.vip_prefix);
        if !self.extra_vips.is_empty() {
            out.push_str(
                "\n# --vips: the extra VIPs, /32s without traffic, on the same backends with \
                 the same checks.\n",
            );
            let extra: Vec<String> = self.extra_vips.iter().map(|p| block(p)).collect();
            out.push_str(&extra.join("\n"));
        }
        out
    }
}

/// `--out` defaults to this, in the current directory.
pub fn default_out_dir() -> std::path::PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    std::path::PathBuf::from(format!("hopwatch-lab-{secs}"))
}

/// One watcher of the lab's pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watcher {
    /// `watcher` (watch1): its route is preferred.
    Primary,
    /// `standby` (on watch2): it prepends our AS twice (the default).
    Standby,
}

impl Watcher {
    /// Both, the primary first.
    pub const BOTH: [Watcher; 2] = [Watcher::Primary, Watcher::Standby];

    /// Its process's name (and log's).
    pub fn process(self) -> &'static str {
        match self {
            Watcher::Primary => "watcher",
            Watcher::Standby => "standby",
        }
    }

    /// Its `[ha] role`.
    pub fn role(self) -> &'static str {
        match self {
            Watcher::Primary => "primary",
            Watcher::Standby => "standby",
        }
    }

    /// Its config file's name in the output directory.
    pub fn config_file(self) -> &'static str {
        match self {
            Watcher::Primary => "watcher.toml",
            Watcher::Standby => "standby.toml",
        }
    }
}

/// The watcher, with its config.
pub fn watcher_args(config: &Path) -> Vec<String> {
    vec!["run".into(), "-c".into(), config.display().to_string()]
}

/// Owned strings of `a`.
pub fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vip_gets_the_same_backends_and_checks() {
        for mut layout in [
            Layout::loopback(Profile::Instant),
            Layout::netns(Names::new("t-"), RouteServer::Hopwatch, Profile::Instant),
        ] {
            let one = layout.watcher_toml(Watcher::Primary, Duration::from_secs(3), Some(10));
            assert_eq!(one.matches("[[vip]]").count(), 1);
            layout.set_vips(3);
            assert_eq!(layout.vips().len(), 3);
            assert_eq!(layout.vips()[0], layout.vip_prefix);
            let toml = layout.watcher_toml(Watcher::Standby, Duration::from_secs(3), Some(10));
            assert_eq!(toml.matches("[[vip]]").count(), 3, "{toml}");
            for prefix in layout.vips() {
                assert!(toml.contains(&format!("prefix = \"{prefix}\"")), "{toml}");
            }
            let check = format!(
                "check = \"http://{}:{}/health\"",
                layout.ws1, layout.http_port
            );
            assert_eq!(toml.matches(&check).count(), 3, "{toml}");
            // One health section for all: the settings are the same.
            assert_eq!(toml.matches("[health]").count(), 1, "{toml}");
            // The proxy listens on every extra VIP on loopback; the namespaces are
            // the lab's own.
            let extra = layout
                .ports()
                .iter()
                .filter(|(_, what)| what.contains("extra VIP"))
                .count();
            assert_eq!(extra, if layout.netns.is_some() { 0 } else { 2 });
        }
    }
}
