//! The seed's addresses, ports and AS numbers, written out once
//! (`docs/lab-topology.md`): the lab's [`Layout`]
//! and [`Net`], the interoperability tests and the benchmarks all read them from
//! here, so the two labs and their tests cannot drift apart.
//!
//! [`netns`] is the seed's own addressing, which exists only inside the namespace
//! lab's namespaces (the network rule: nothing in the host's namespace ever sends
//! to it); [`loopback`] is the same layout on 127.10.0.0/16, which needs no setup
//! and no privileges.
//!
//! [`Layout`]: crate::topology::Layout
//! [`Net`]: crate::netns::Net

/// The watcher's AS (the seed's `[bgp] local_as`).
pub const WATCHER_AS: u32 = 65001;
/// The observer's AS (watch2, another peer of the route server).
pub const OBSERVER_AS: u32 = 65002;
/// The route server's AS: Azure Route Server's.
pub const ROUTE_SERVER_AS: u32 = hopwatch_route_server::rib::AZURE_ROUTE_SERVER_AS.0;
/// The port of the VIP and of the backends.
pub const HTTP_PORT: u16 = 8080;
/// The watcher's control API port.
pub const WATCHER_API_PORT: u16 = 9179;
/// The most VIPs `--vips` asks for: the routes Azure Route Server takes from one
/// peer (hopwatch's route server's default `--route-limit`).
pub const MAX_VIPS: usize = hopwatch_route_server::DEFAULT_ROUTE_LIMIT;

/// Hosts of the extra VIPs' /22 (each /24's .1 to .254): room for every VIP but the
/// seed's.
const EXTRA_VIP_HOSTS: usize = 4 * 254;
const _: () = assert!(EXTRA_VIP_HOSTS >= MAX_VIPS - 1);

/// The first `count` extra VIPs of `--vips` as /32 prefixes, in the /22 whose first
/// three octets are `net` (`[a, b, c]`, `c` a multiple of 4): `a.b.c.1`, ...,
/// `a.b.c.254`, `a.b.(c+1).1`, ..., never a /24's .0 or .255, at most
/// [`MAX_VIPS`] − 1 of them.
pub fn extra_vips(net: [u8; 3], count: usize) -> Vec<String> {
    let [a, b, c] = net;
    (0..count.min(EXTRA_VIP_HOSTS))
        .map(|i| {
            // i < 1,016: the quotient is at most 3, the remainder at most 253.
            let third = c + (i / 254) as u8;
            let host = (i % 254) as u8 + 1;
            format!("{a}.{b}.{third}.{host}/32")
        })
        .collect()
}

/// The seed's addressing, inside the namespace lab only.
pub mod netns {
    /// The router's address on the bridge to every host (`vnet`).
    pub const ROUTER: &str = "10.10.0.1";
    /// The hosts' network on the bridge, as a prefix length.
    pub const HOST_PREFIX_LEN: u8 = 24;
    /// Route server instance 1, on the router's `lo`.
    pub const RS1: &str = "10.10.1.4";
    /// Route server instance 2, on the router's `lo`.
    pub const RS2: &str = "10.10.1.5";
    /// The route servers' network (for a host routed to it alone).
    pub const RS_NETWORK: &str = "10.10.1.0/24";
    /// ws1, the primary backend (the VIP's first next hop).
    pub const WS1: &str = "10.10.0.4";
    /// ws2, the secondary backend.
    pub const WS2: &str = "10.10.0.5";
    /// lt1, the load injector.
    pub const LT1: &str = "10.10.0.6";
    /// watch1, the watcher (its router id and BGP source).
    pub const WATCH1: &str = "10.10.0.7";
    /// watch2, the observer.
    pub const WATCH2: &str = "10.10.0.8";
    /// The standby watcher: a second address of watch2 (the route servers key
    /// their peers by address, and the observer holds watch2's first).
    pub const STANDBY: &str = "10.10.0.9";
    /// The VIP, as the backends carry it on `lo`.
    pub const VIP_ADDR: &str = "100.64.0.1";
    /// The VIP as a prefix.
    pub const VIP: &str = "100.64.0.1/32";
    /// The load injector's source addresses, one per trial (local to lt1): see
    /// [`crate::netns::Net`] for why each trial has its own.
    pub const LOAD_SOURCES: &str = "10.10.6.0/24";
    /// [`LOAD_SOURCES`]' first three octets: trial `n` sends from `.n+1`.
    pub const LOAD_SOURCES_NET: [u8; 3] = [10, 10, 6];
    /// The BGP port (the namespaces are the lab's own: 179 is free there).
    pub const BGP_PORT: u16 = 179;
    /// The extra VIPs of `--vips` ([`super::extra_vips`]): routes in the router
    /// namespace's table only; no backend carries them and no traffic goes to them.
    pub const EXTRA_VIPS: &str = "100.64.16.0/22";
    /// [`EXTRA_VIPS`]' first three octets.
    pub const EXTRA_VIPS_NET: [u8; 3] = [100, 64, 16];
}

/// The loopback lab's addresses: the seed's layout on 127.10.0.0/16.
pub mod loopback {
    /// Route server instance 1.
    pub const RS1: &str = "127.10.1.4";
    /// Route server instance 2.
    pub const RS2: &str = "127.10.1.5";
    /// The route server's API.
    pub const RS_API: &str = "127.10.1.4:9180";
    /// ws1, the primary backend.
    pub const WS1: &str = "127.10.0.4";
    /// ws2, the secondary backend.
    pub const WS2: &str = "127.10.0.5";
    /// The watcher.
    pub const WATCHER: &str = "127.10.0.7";
    /// The watcher's control API.
    pub const WATCHER_API: &str = "127.10.0.7:9179";
    /// The observer.
    pub const OBSERVER: &str = "127.10.0.8";
    /// The standby watcher.
    pub const STANDBY: &str = "127.10.0.9";
    /// The standby's control API.
    pub const STANDBY_API: &str = "127.10.0.9:9179";
    /// The VIP (the route server's proxy listens on it).
    pub const VIP_ADDR: &str = "127.10.15.15";
    /// The VIP as a prefix.
    pub const VIP: &str = "127.10.15.15/32";
    /// The BGP port: 179 needs privileges.
    pub const BGP_PORT: u16 = 1179;
    /// The first three octets of the load injector's sources (lt1's network
    /// 127.10.6.0/24), one address per trial.
    pub const LOAD_SOURCES_NET: [u8; 3] = [127, 10, 6];
    /// The extra VIPs of `--vips` ([`super::extra_vips`]), apart from every other
    /// address of the lab: the route server's proxy listens on each, no traffic
    /// goes to them.
    pub const EXTRA_VIPS: &str = "127.10.16.0/22";
    /// [`EXTRA_VIPS`]' first three octets.
    pub const EXTRA_VIPS_NET: [u8; 3] = [127, 10, 16];
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn the_load_sources_network_is_written_the_same_both_ways() {
        let [a, b, c] = netns::LOAD_SOURCES_NET;
        assert_eq!(netns::LOAD_SOURCES, format!("{a}.{b}.{c}.0/24"));
    }

    /// Whether `prefix` (`A.B.C.D/32`) lies in `net` (`A.B.C.D/LEN`).
    fn within(prefix: &str, net: &str) -> bool {
        let addr: Ipv4Addr = prefix
            .trim_end_matches("/32")
            .parse()
            .unwrap_or([0; 4].into());
        let (base, len) = net.split_once('/').unwrap_or((net, "32"));
        let base: Ipv4Addr = base.parse().unwrap_or([255; 4].into());
        let mask = u32::MAX << (32 - len.parse::<u32>().unwrap_or(32));
        u32::from(addr) & mask == u32::from(base) & mask
    }

    #[test]
    fn the_extra_vips_are_distinct_host_addresses_of_their_own_network() {
        for (net, text, seed_vip, others) in [
            (
                loopback::EXTRA_VIPS_NET,
                loopback::EXTRA_VIPS,
                loopback::VIP,
                vec![
                    loopback::RS1,
                    loopback::RS2,
                    loopback::WS1,
                    loopback::WS2,
                    loopback::WATCHER,
                    loopback::OBSERVER,
                    loopback::STANDBY,
                    "127.10.6.1",
                ],
            ),
            (
                netns::EXTRA_VIPS_NET,
                netns::EXTRA_VIPS,
                netns::VIP,
                vec![netns::ROUTER, netns::RS1, netns::WS1, netns::LT1],
            ),
        ] {
            let [a, b, c] = net;
            assert_eq!(text, format!("{a}.{b}.{c}.0/22"));
            let all = extra_vips(net, MAX_VIPS - 1);
            assert_eq!(all.len(), MAX_VIPS - 1);
            assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), all.len());
            assert!(all.iter().all(|p| within(p, text)), "{all:?}");
            assert!(
                all.iter()
                    .all(|p| !p.ends_with(".0/32") && !p.ends_with(".255/32"))
            );
            assert!(!within(seed_vip, text));
            for o in others {
                assert!(!within(&format!("{o}/32"), text), "{o} in {text}");
            }
            assert_eq!(
                extra_vips(net, 2),
                [format!("{a}.{b}.{c}.1/32"), format!("{a}.{b}.{c}.2/32")]
            );
            assert_eq!(extra_vips(net, 0), Vec::<String>::new());
        }
    }
}
