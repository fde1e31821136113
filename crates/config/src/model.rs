//! The config file's shape. Field names are the file's keys; defaults are the
//! values a user of this kind of tool expects, and the doc comment of each field is
//! what `examples/watcher.toml` explains.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hopwatch_bgp::{Asn, HoldTime, Prefix, RouterId};
use serde::{Deserialize, Deserializer};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Our BGP identity.
    pub bgp: Bgp,
    /// The route servers to peer with (both Azure Route Server instances).
    #[serde(rename = "route_server", default)]
    pub route_servers: Vec<RouteServer>,
    /// The VIPs and their backends.
    #[serde(rename = "vip", default)]
    pub vips: Vec<Vip>,
    /// Health check defaults.
    #[serde(default)]
    pub health: Health,
    /// Failover policy.
    #[serde(default)]
    pub failover: Failover,
    /// The control API.
    #[serde(default)]
    pub api: Api,
    /// Apply Azure Route Server's rules (a VIP outside the VNET, a 2-octet
    /// unreserved AS, both instances peered).
    #[serde(default)]
    pub azure: bool,
    /// The VNET, for the Azure rules.
    #[serde(default)]
    pub vnet: Option<Vnet>,
    /// Where decisions are logged besides stdout and stderr.
    #[serde(default)]
    pub log: Log,
    /// This watcher's role in a primary/standby pair (none: a watcher alone).
    #[serde(default)]
    pub ha: Option<super::ha::Ha>,
    /// The forwarding mode (none: the next-hop mode, each move changes the route).
    #[serde(default)]
    pub forward: Option<super::forward::Forward>,
}

/// `[log]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// Send every decision as an RFC 5424 message over UDP to this `HOST:PORT`
    /// (an IP address), as the seed's watcher logged to its syslog server.
    #[serde(default)]
    pub syslog: Option<SocketAddr>,
    /// The syslog facility: `daemon` (default), `user`, or `local0` to `local7`.
    #[serde(default)]
    pub facility: Option<String>,
}

/// `[bgp]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bgp {
    /// Our AS.
    pub local_as: Asn,
    /// Our BGP identifier.
    pub router_id: RouterId,
    /// Proposed hold time, seconds.
    #[serde(default = "default_hold_time")]
    pub hold_time: HoldTime,
    /// Graceful restart time to advertise, seconds (none: no graceful restart).
    #[serde(default)]
    pub graceful_restart: Option<u16>,
    /// The route servers' BGP port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Address to connect from (default: chosen by the kernel).
    #[serde(default)]
    pub local_address: Option<IpAddr>,
}

fn default_hold_time() -> HoldTime {
    HoldTime::new(9).unwrap_or(HoldTime::DEFAULT)
}

fn default_port() -> u16 {
    179
}

/// `[[route_server]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteServer {
    /// Its address.
    pub address: IpAddr,
    /// Its AS (65515 for Azure Route Server).
    pub peer_as: Asn,
    /// Its port, when not `[bgp] port`.
    #[serde(default)]
    pub port: Option<u16>,
}

/// `[[vip]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vip {
    /// The VIP's prefix, usually a /32 or /128.
    pub prefix: Prefix,
    /// Backends in priority order: the first healthy one carries the VIP.
    pub backends: Vec<Backend>,
}

/// One backend of a VIP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    /// A short name for logs and the API.
    pub name: String,
    /// The next hop that sends the VIP's traffic to this backend.
    pub next_hop: IpAddr,
    /// `http://ADDR[:PORT]/PATH` or `tcp://ADDR:PORT`.
    pub check: String,
    /// Overrides `[health] interval`.
    #[serde(default, deserialize_with = "opt_duration")]
    pub interval: Option<Duration>,
    /// Overrides `[health] timeout`.
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
    /// Overrides `[health] fall`.
    #[serde(default)]
    pub fall: Option<u32>,
    /// Overrides `[health] rise`.
    #[serde(default)]
    pub rise: Option<u32>,
    /// Overrides `[health] expect_status`.
    #[serde(default)]
    pub expect_status: Option<u16>,
    /// Overrides `[health] body`.
    #[serde(default)]
    pub body: Option<String>,
    /// Overrides `[health] watch_connection`.
    #[serde(default)]
    pub watch_connection: Option<bool>,
    /// Overrides `[health] source`.
    #[serde(default)]
    pub source: Option<IpAddr>,
}

/// `[health]`: defaults for every backend.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    /// A new probe this often (at least 5 ms).
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    /// A probe without an answer this long has failed.
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    /// Consecutive failures that make a backend down.
    pub fall: u32,
    /// Consecutive successes that make it up.
    pub rise: u32,
    /// Random spread of the interval, as a fraction (0.1 = ±10 %).
    pub jitter: f32,
    /// HTTP status a healthy backend answers.
    pub expect_status: u16,
    /// Text a healthy backend's answer must contain.
    pub body: Option<String>,
    /// Hold a connection to each backend between probes and watch it, so that a
    /// crashed backend is seen within a few round trips whether or not it keeps
    /// connections open (a closed connection is only a reason to re-probe at once).
    /// One socket per backend; turn off for a backend that serves one connection at
    /// a time.
    pub watch_connection: bool,
    /// The address probes connect from (default: the kernel's choice): on a
    /// multi-homed watcher, the one the backends expect; where a proxy or other
    /// clients on the same host share the default source, one of the watcher's own
    /// (their connections' TIME_WAIT at the backend can delay a refused probe ~10 ms).
    pub source: Option<IpAddr>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            interval: Duration::from_millis(10),
            timeout: Duration::from_millis(25),
            fall: 2,
            rise: 3,
            jitter: 0.1,
            expect_status: 200,
            body: None,
            watch_connection: true,
            source: None,
        }
    }
}

/// What to do when every backend is down: the decision engine's own type, so the
/// config and the engine cannot disagree (`keep`, the seed's behaviour, or
/// `withdraw`).
pub use hopwatch_watcher::AllDown;

/// `[failover]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Failover {
    /// Move back to a higher-priority backend once it is healthy again.
    pub preempt: bool,
    /// How long a higher-priority backend must stay healthy before a failback.
    /// 30 s by default: Azure accepts about one change of a route per 30 s.
    #[serde(deserialize_with = "duration")]
    pub failback_hold: Duration,
    /// `keep` or `withdraw`.
    pub all_down: AllDown,
    /// At start, how long to wait for the first health verdicts before announcing.
    #[serde(deserialize_with = "duration")]
    pub startup_wait: Duration,
}

impl Default for Failover {
    fn default() -> Self {
        Failover {
            preempt: true,
            failback_hold: Duration::from_secs(30),
            all_down: AllDown::Keep,
            startup_wait: Duration::from_secs(2),
        }
    }
}

/// `[api]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Api {
    /// Where the control API listens.
    pub listen: SocketAddr,
    /// Bearer token the API requires (mandatory on a non-loopback address).
    pub token: Option<String>,
}

impl Default for Api {
    fn default() -> Self {
        Api {
            listen: SocketAddr::from(([127, 0, 0, 1], 9179)),
            token: None,
        }
    }
}

/// `[vnet]`, for the Azure rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vnet {
    /// The VNET's address space (10.10.0.0/16 in the seed).
    pub address_space: Vec<Prefix>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|_| format!("invalid duration {s:?}: write it like \"10ms\", \"1.5s\" or \"30s\""))
}

pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}
