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
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_load_sources_network_is_written_the_same_both_ways() {
        let [a, b, c] = super::netns::LOAD_SOURCES_NET;
        assert_eq!(super::netns::LOAD_SOURCES, format!("{a}.{b}.{c}.0/24"));
    }
}
