//! Shared helpers of the route server's tests: addresses, prefixes and UPDATEs
//! written as short strings, so that tables of cases read like a lab notebook.

#![allow(dead_code)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hopwatch_bgp::message::{AsPath, Community, Origin};
use hopwatch_bgp::{Asn, PathAttributes, Prefix, Update};
use hopwatch_route_server::rib::{Rib, RibConfig};

/// The watchers of the seed and a third speaker.
pub const W1: &str = "10.10.0.7";
pub const W2: &str = "10.10.0.8";
pub const W3: &str = "10.10.0.9";
/// The web servers (next hops).
pub const WS1: &str = "10.10.0.4";
pub const WS2: &str = "10.10.0.5";
pub const WS3: &str = "10.10.0.6";
/// The VIP.
pub const VIP: &str = "100.64.0.1/32";

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn pfx(s: &str) -> Prefix {
    s.parse().unwrap()
}

pub fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|s| ip(s)).collect()
}

/// Attributes with ORIGIN IGP and the AS path `path`.
pub fn attrs(path: &[u32]) -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(path.iter().map(|a| Asn(*a)))),
        ..Default::default()
    }
}

/// An UPDATE announcing `prefixes` via `next_hop` with AS path `path`.
pub fn announce(prefixes: &[&str], next_hop: &str, path: &[u32]) -> Update {
    Update::announce(
        prefixes.iter().map(|p| pfx(p)).collect(),
        ip(next_hop),
        attrs(path),
    )
}

/// The same, with standard communities.
pub fn announce_with_communities(
    prefixes: &[&str],
    next_hop: &str,
    path: &[u32],
    communities: &[u32],
) -> Update {
    let mut a = attrs(path);
    a.communities = communities.iter().map(|c| Community(*c)).collect();
    Update::announce(prefixes.iter().map(|p| pfx(p)).collect(), ip(next_hop), a)
}

/// An UPDATE withdrawing `prefixes`.
pub fn withdraw(prefixes: &[&str]) -> Update {
    Update::withdraw(prefixes.iter().map(|p| pfx(p)).collect())
}

/// A RIB with Azure's policy and W1 (AS 65001), W2 (65002), W3 (65003) configured,
/// each with a 10 s graceful restart time, all established.
pub fn rib3() -> Rib {
    let mut rib = Rib::new(RibConfig::default());
    for (addr, asn) in [(W1, 65001), (W2, 65002), (W3, 65003)] {
        rib.add_peer(ip(addr), Asn(asn), Some(10)).unwrap();
        rib.peer_up(ip(addr)).unwrap();
    }
    rib
}

/// Simulated time: `t0` plus `ms` milliseconds.
pub fn at(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

/// The next hops of `prefix` in the Loc-RIB, empty when it has none.
pub fn best_hops(rib: &Rib, prefix: &str) -> Vec<IpAddr> {
    rib.loc_rib()
        .get(&pfx(prefix))
        .map(|b| b.next_hops.clone())
        .unwrap_or_default()
}
