//! The watcher config of the loopback tests, built instead of written out in each:
//! one watcher address (its router id, BGP source and API), one route server, the
//! VIPs and their backends, and the few settings a test changes. A key left `None`
//! is not written, so the watcher's default applies, as in a hand-written file.
//!
//! `loopback` includes this file by path.

use std::fmt::Write as _;

/// A `watcher.toml` for a watcher on loopback.
#[derive(Debug, Clone)]
pub struct WatcherConfig {
    /// The watcher's address: `router_id` and `local_address`.
    pub address: String,
    /// The route server's BGP port (`[bgp] port`).
    pub port: u16,
    /// `[bgp] hold_time`, seconds.
    pub hold_time: Option<u16>,
    /// `[bgp] graceful_restart`, seconds.
    pub graceful_restart: Option<u16>,
    /// The one route server's address (AS 65515).
    pub route_server: String,
    /// The VIPs.
    pub vips: Vec<Vip>,
    /// `[health] interval`, e.g. `"10ms"`.
    pub interval: Option<&'static str>,
    /// `[health] timeout`.
    pub timeout: Option<&'static str>,
    /// `[health] fall`.
    pub fall: Option<u32>,
    /// `[health] rise`.
    pub rise: Option<u32>,
    /// `[failover] failback_hold`, e.g. `"2s"`.
    pub failback_hold: Option<&'static str>,
    /// `[api] listen`.
    pub api: String,
    /// `[api] token`.
    pub token: Option<String>,
    /// `[log] syslog` (an address) and `facility`.
    pub syslog: Option<(String, &'static str)>,
}

/// A VIP and its backends, in priority order.
#[derive(Debug, Clone)]
pub struct Vip {
    /// Its prefix.
    pub prefix: String,
    /// Its backends.
    pub backends: Vec<Backend>,
}

/// A backend of a VIP.
#[derive(Debug, Clone)]
pub struct Backend {
    /// Its name.
    pub name: String,
    /// Its next hop.
    pub next_hop: String,
    /// Its check URL.
    pub check: String,
}

impl Backend {
    /// A backend named `name` at `addr`, checked with `check`.
    pub fn new(name: &str, addr: &str, check: String) -> Backend {
        Backend {
            name: name.into(),
            next_hop: addr.into(),
            check,
        }
    }

    /// A `hopwatch web` backend at `addr`, checked at `http://addr:port/health`.
    pub fn web(name: &str, addr: &str, port: u16) -> Backend {
        Backend::new(name, addr, format!("http://{addr}:{port}/health"))
    }
}

impl Vip {
    /// `prefix` on `backends`.
    pub fn new(prefix: &str, backends: Vec<Backend>) -> Vip {
        Vip {
            prefix: prefix.into(),
            backends,
        }
    }
}

impl WatcherConfig {
    /// The watcher at `address` with route server `route_server` on `port`, the API
    /// on `api`, `hold_time = 9`, no VIP yet and every other setting the default.
    pub fn new(address: &str, route_server: &str, port: u16, api: &str) -> WatcherConfig {
        WatcherConfig {
            address: address.into(),
            port,
            hold_time: Some(9),
            graceful_restart: None,
            route_server: route_server.into(),
            vips: Vec::new(),
            interval: None,
            timeout: None,
            fall: None,
            rise: None,
            failback_hold: None,
            api: api.into(),
            token: None,
            syslog: None,
        }
    }

    /// The file's text.
    pub fn to_toml(&self) -> String {
        let mut t = String::new();
        let a = &self.address;
        let _ = writeln!(t, "[bgp]");
        let _ = writeln!(t, "local_as = 65001");
        let _ = writeln!(t, "router_id = \"{a}\"\nlocal_address = \"{a}\"");
        let _ = writeln!(t, "port = {}", self.port);
        if let Some(h) = self.hold_time {
            let _ = writeln!(t, "hold_time = {h}");
        }
        if let Some(g) = self.graceful_restart {
            let _ = writeln!(t, "graceful_restart = {g}");
        }
        let _ = writeln!(
            t,
            "\n[[route_server]]\naddress = \"{}\"\npeer_as = 65515",
            self.route_server
        );
        for vip in &self.vips {
            let _ = writeln!(t, "\n[[vip]]\nprefix = \"{}\"\nbackends = [", vip.prefix);
            for b in &vip.backends {
                let _ = writeln!(
                    t,
                    "  {{ name = \"{}\", next_hop = \"{}\", check = \"{}\" }},",
                    b.name, b.next_hop, b.check
                );
            }
            let _ = writeln!(t, "]");
        }
        let health = [
            ("interval", self.interval.map(|v| format!("\"{v}\""))),
            ("timeout", self.timeout.map(|v| format!("\"{v}\""))),
            ("fall", self.fall.map(|v| v.to_string())),
            ("rise", self.rise.map(|v| v.to_string())),
        ];
        if health.iter().any(|(_, v)| v.is_some()) {
            let _ = writeln!(t, "\n[health]");
            for (key, v) in health {
                if let Some(v) = v {
                    let _ = writeln!(t, "{key} = {v}");
                }
            }
        }
        if let Some(h) = self.failback_hold {
            let _ = writeln!(t, "\n[failover]\nfailback_hold = \"{h}\"");
        }
        let _ = writeln!(t, "\n[api]\nlisten = \"{}\"", self.api);
        if let Some(token) = &self.token {
            let _ = writeln!(t, "token = \"{token}\"");
        }
        if let Some((addr, facility)) = &self.syslog {
            let _ = writeln!(t, "\n[log]\nsyslog = \"{addr}\"\nfacility = \"{facility}\"");
        }
        t
    }
}
