//! The loopback lab's addresses and ports (`shared/docs/lab-topology.md`), the
//! command lines of its roles, and the check that refuses to start when one of its
//! ports is taken.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::Duration;

use anyhow::bail;

/// Route server instances (BGP on [`BGP_PORT`]).
pub const RS1: &str = "127.10.1.4";
/// The second instance.
pub const RS2: &str = "127.10.1.5";
/// The BGP port (179 needs privileges).
pub const BGP_PORT: u16 = 1179;
/// The route server's introspection API.
pub const RS_API: &str = "127.10.1.4:9180";
/// The VIP, served by the route server's proxy data plane.
pub const VIP: &str = "127.10.15.15";
/// Its prefix.
pub const VIP_PREFIX: &str = "127.10.15.15/32";
/// The port of the VIP and of the backends.
pub const HTTP_PORT: u16 = 8080;
/// The primary backend.
pub const WS1: &str = "127.10.0.4";
/// The secondary backend.
pub const WS2: &str = "127.10.0.5";
/// The watcher's BGP source and API address.
pub const WATCHER: &str = "127.10.0.7";
/// The watcher's control API.
pub const WATCHER_API: &str = "127.10.0.7:9179";
/// The observer.
pub const OBSERVER: &str = "127.10.0.8";

/// Every port the lab listens on, with what it is for.
pub fn ports() -> Vec<(SocketAddr, &'static str)> {
    let p = |ip: &str, port: u16| SocketAddr::new(ip.parse().expect("a constant address"), port);
    vec![
        (p(RS1, BGP_PORT), "route server instance 1 (BGP)"),
        (p(RS2, BGP_PORT), "route server instance 2 (BGP)"),
        (p(VIP, HTTP_PORT), "the VIP (route server's proxy)"),
        (p(WS1, HTTP_PORT), "ws1"),
        (p(WS2, HTTP_PORT), "ws2"),
        (p(WATCHER, BGP_PORT), "the watcher (BGP)"),
        (p(WATCHER, 9179), "the watcher's control API"),
        (p(RS1, 9180), "the route server's API"),
        (p(OBSERVER, BGP_PORT), "the observer (BGP)"),
    ]
}

/// The lab's ports that something listens on now.
pub fn taken_ports() -> Vec<(SocketAddr, &'static str)> {
    ports()
        .into_iter()
        .filter(|(addr, _)| TcpListener::bind(addr).is_err())
        .collect()
}

/// Refuses to start when a lab port is taken, naming each.
pub fn check_ports_free() -> anyhow::Result<()> {
    let taken = taken_ports();
    if taken.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = taken.iter().map(|(a, w)| format!("{a} ({w})")).collect();
    bail!(
        "the loopback lab cannot start: {} already in use. Is another `hopwatch lab` (or one of \
         its roles: web, route-server, run, observe) running? Stop it and try again.",
        list.join(", ")
    )
}

/// `--out` defaults to this, in the current directory.
pub fn default_out_dir() -> std::path::PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    std::path::PathBuf::from(format!("hopwatch-lab-{secs}"))
}

/// The route server: two instances, the proxy data plane on the VIP.
pub fn route_server_args() -> Vec<String> {
    strings(&[
        "route-server",
        "--instance",
        RS1,
        "--instance",
        RS2,
        "--peer",
        "127.10.0.7:65001",
        "--peer",
        "127.10.0.8:65002",
        "--port",
        "1179",
        "--dataplane",
        "proxy",
        "--vip-port",
        "8080",
        "--api",
        RS_API,
    ])
}

/// A backend.
pub fn web_args(name: &str) -> Vec<String> {
    let ip = if name == "ws1" { WS1 } else { WS2 };
    strings(&[
        "web",
        "--listen",
        &format!("{ip}:{HTTP_PORT}"),
        "--name",
        name,
    ])
}

/// The watcher, with its config.
pub fn watcher_args(config: &Path) -> Vec<String> {
    vec!["run".into(), "-c".into(), config.display().to_string()]
}

/// The observer, connecting to the first instance.
pub fn observer_args() -> Vec<String> {
    strings(&[
        "observe",
        "--local-as",
        "65002",
        "--router-id",
        OBSERVER,
        "--active",
        "--peer",
        RS1,
        "--peer-as",
        "65515",
        "--listen",
        OBSERVER,
        "--port",
        "1179",
    ])
}

/// The watcher's config: both instances, the VIP on ws1 (primary) or ws2.
pub fn watcher_toml(hold: Duration) -> String {
    format!(
        r#"# written by `hopwatch lab`
[bgp]
local_as = 65001
router_id = "{WATCHER}"
local_address = "{WATCHER}"
port = {BGP_PORT}
hold_time = 9
graceful_restart = 10

[[route_server]]
address = "{RS1}"
peer_as = 65515

[[route_server]]
address = "{RS2}"
peer_as = 65515

[[vip]]
prefix = "{VIP_PREFIX}"
backends = [
  {{ name = "ws1", next_hop = "{WS1}", check = "http://{WS1}:{HTTP_PORT}/health" }},
  {{ name = "ws2", next_hop = "{WS2}", check = "http://{WS2}:{HTTP_PORT}/health" }},
]

[health]
interval = "10ms"
timeout = "30ms"
fall = 2
rise = 3

[failover]
preempt = true
failback_hold = "{}ms"
all_down = "keep"

[api]
listen = "{WATCHER_API}"
"#,
        hold.as_millis()
    )
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_string()).collect()
}
