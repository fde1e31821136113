//! The `kernel` data plane: the VIP's route in the current network namespace, through
//! netlink (rtnetlink).
//!
//! - `program` sends RTM_NEWROUTE with NLM_F_CREATE | NLM_F_REPLACE to the main table:
//!   one next hop becomes `RTA_GATEWAY`, several become one `RTA_MULTIPATH` route (an
//!   ECMP set the kernel hashes flows over). Replace, not delete-then-add, so the VIP
//!   is never without a route while it moves.
//! - An empty set deletes the route: a VIP with no next hop falls back to whatever
//!   less specific route the namespace has, as it would under a BGP withdraw.
//! - `remove` and `shutdown` send RTM_DELROUTE for the prefix *with our protocol
//!   number*, which the kernel matches, so hopwatch can never delete a route it did
//!   not install (a static route or FRR's for the same prefix stays).
//! - Every route carries the protocol number [`HOPWATCH_RTPROT`], so that
//!   `ip route show proto 241` lists hopwatch's routes and
//!   [`KernelPlane::remove_stale_routes`] can clear those left by a crashed run.
//!
//! The plane touches the namespace the process runs in, and only that one: tests and
//! the namespace lab run it inside namespaces they created, never in the host's.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures_util::{StreamExt, TryStreamExt};
use hopwatch_bgp::Prefix;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::route::{RouteAttribute, RouteHeader, RouteMessage, RouteProtocol};
use rtnetlink::{Handle, RouteMessageBuilder, RouteNextHopBuilder};
use tokio::task::JoinHandle;

use crate::{DataPlane, Error, Kind, State, canonical};

/// The route protocol number (`rtm_protocol`) of every route hopwatch installs.
///
/// 241 is unassigned in iproute2's `rt_protos` and in FRR's (which takes 186 to 198:
/// 186 is bgp, 188 ospf). Name it for `ip route` with
/// `echo "241 hopwatch" > /etc/iproute2/rt_protos.d/hopwatch.conf`.
pub const HOPWATCH_RTPROT: u8 = 241;

/// ESRCH: "no such route", the answer to deleting a route that is not there.
const ESRCH: i32 = 3;

/// The kernel routing data plane.
#[derive(Debug)]
pub struct KernelPlane {
    handle: Handle,
    connection: JoinHandle<()>,
    routes: BTreeMap<Prefix, Vec<IpAddr>>,
    shut_down: bool,
}

impl KernelPlane {
    /// Opens a netlink socket in the current network namespace. Must be called inside
    /// a tokio runtime (the socket's connection task is spawned on it).
    pub fn new() -> Result<Self, Error> {
        let (connection, handle, _) = rtnetlink::new_connection().map_err(Error::Netlink)?;
        Ok(KernelPlane {
            handle,
            connection: tokio::spawn(connection),
            routes: BTreeMap::new(),
            shut_down: false,
        })
    }

    /// Deletes every route of the main table that carries [`HOPWATCH_RTPROT`] and that
    /// this plane did not install itself: the leftovers of a run that crashed. Returns
    /// how many were deleted.
    pub async fn remove_stale_routes(&mut self) -> Result<usize, Error> {
        let mut stale = Vec::new();
        for dump in [
            RouteMessageBuilder::<Ipv4Addr>::new().build(),
            RouteMessageBuilder::<Ipv6Addr>::new().build(),
        ] {
            let mut routes = self.handle.route().get(dump).execute();
            while let Some(route) = routes.try_next().await.map_err(|e| Error::ListRoutes {
                detail: e.to_string(),
            })? {
                if route.header.protocol != RouteProtocol::Other(HOPWATCH_RTPROT)
                    || route.header.table != RouteHeader::RT_TABLE_MAIN
                {
                    continue;
                }
                if let Some(prefix) = destination(&route)
                    && !self.routes.contains_key(&prefix)
                {
                    stale.push(prefix);
                }
            }
        }
        // An IPv6 ECMP route is dumped as one route per next hop.
        stale.sort_unstable();
        stale.dedup();
        for prefix in &stale {
            self.delete(*prefix).await?;
        }
        Ok(stale.len())
    }

    async fn replace(&self, prefix: Prefix, next_hops: &[IpAddr]) -> Result<(), Error> {
        let refused = |detail: String| Error::Route {
            op: "replace",
            prefix,
            detail,
        };
        let message = route_message(prefix, next_hops).map_err(refused)?;
        self.handle
            .route()
            .add(message)
            .replace()
            .execute()
            .await
            .map_err(|e| refused(e.to_string()))
    }

    /// Deletes our route for `prefix` until the kernel has none left (an IPv6 ECMP
    /// route can be several sibling routes). Bounded: a prefix has at most a few.
    async fn delete(&self, prefix: Prefix) -> Result<(), Error> {
        let refused = |detail: String| Error::Route {
            op: "delete",
            prefix,
            detail,
        };
        for _ in 0..16 {
            let message = RouteMessageBuilder::<IpAddr>::new()
                .destination_prefix(prefix.addr(), prefix.len())
                .map_err(|e| refused(e.to_string()))?
                .protocol(RouteProtocol::Other(HOPWATCH_RTPROT))
                .build();
            match self.handle.route().del(message).execute().await {
                Ok(()) => continue,
                Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == ESRCH => {
                    return Ok(());
                }
                Err(e) => return Err(refused(e.to_string())),
            }
        }
        Ok(())
    }
}

/// Route requests a batch keeps in flight on the netlink socket. The kernel acks
/// each request into the socket's receive buffer, where an ack takes about a
/// kilobyte of buffer space; a few dozen stay well inside the default 208 KiB, where
/// a thousand at once would overflow it and lose acks.
const IN_FLIGHT: usize = 32;

/// The RTM_NEWROUTE message for `prefix` through `next_hops` (one or more).
fn route_message(prefix: Prefix, next_hops: &[IpAddr]) -> Result<RouteMessage, String> {
    let builder = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(prefix.addr(), prefix.len())
        .map_err(|e| e.to_string())?
        .protocol(RouteProtocol::Other(HOPWATCH_RTPROT));
    let builder = match next_hops {
        [one] => builder.gateway(*one).map_err(|e| e.to_string())?,
        several => {
            let family = if prefix.addr().is_ipv4() {
                AddressFamily::Inet
            } else {
                AddressFamily::Inet6
            };
            let hops = several
                .iter()
                .map(|hop| {
                    RouteNextHopBuilder::new(family)
                        .via(*hop)
                        .map(RouteNextHopBuilder::build)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            builder.multipath(hops)
        }
    };
    Ok(builder.build())
}

/// The destination prefix of a dumped route, if it is one hopwatch can name.
fn destination(route: &RouteMessage) -> Option<Prefix> {
    let len = route.header.destination_prefix_length;
    route.attributes.iter().find_map(|attr| match attr {
        RouteAttribute::Destination(addr) => {
            let ip = match addr {
                rtnetlink::packet_route::route::RouteAddress::Inet(a) => IpAddr::V4(*a),
                rtnetlink::packet_route::route::RouteAddress::Inet6(a) => IpAddr::V6(*a),
                _ => return None,
            };
            Prefix::new(ip, len).ok()
        }
        _ => None,
    })
}

impl DataPlane for KernelPlane {
    fn kind(&self) -> Kind {
        Kind::Kernel
    }

    async fn program(&mut self, prefix: Prefix, next_hops: Vec<IpAddr>) -> Result<(), Error> {
        if self.shut_down {
            return Err(Error::ShutDown);
        }
        let next_hops = canonical(next_hops);
        tracing::debug!(dataplane = "kernel", %prefix, ?next_hops, "program");
        if next_hops.is_empty() {
            self.delete(prefix).await?;
        } else {
            self.replace(prefix, &next_hops).await?;
        }
        self.routes.insert(prefix, next_hops);
        Ok(())
    }

    async fn remove(&mut self, prefix: Prefix) -> Result<(), Error> {
        if self.routes.remove(&prefix).is_some() {
            tracing::debug!(dataplane = "kernel", %prefix, "remove");
            self.delete(prefix).await?;
        }
        Ok(())
    }

    /// Up to [`IN_FLIGHT`] requests at a time on the one netlink socket, answered
    /// in the batch's order.
    async fn apply(
        &mut self,
        routes: Vec<(Prefix, Option<Vec<IpAddr>>)>,
    ) -> Vec<Result<(), Error>> {
        if self.shut_down {
            return routes.iter().map(|_| Err(Error::ShutDown)).collect();
        }
        let routes: Vec<(Prefix, Option<Vec<IpAddr>>)> = routes
            .into_iter()
            .map(|(prefix, hops)| (prefix, hops.map(canonical)))
            .collect();
        let this = &*self;
        let results: Vec<Result<(), Error>> = futures_util::stream::iter(routes.clone())
            .map(move |(prefix, hops)| async move {
                match hops {
                    Some(hops) if !hops.is_empty() => this.replace(prefix, &hops).await,
                    Some(_) => this.delete(prefix).await,
                    None if this.routes.contains_key(&prefix) => this.delete(prefix).await,
                    None => Ok(()),
                }
            })
            .buffered(IN_FLIGHT)
            .collect()
            .await;
        // As `program` and `remove` keep them: a route is ours once the kernel took
        // it; a removed one is forgotten whatever the kernel said.
        for ((prefix, hops), result) in routes.into_iter().zip(&results) {
            match hops {
                Some(hops) if result.is_ok() => {
                    self.routes.insert(prefix, hops);
                }
                Some(_) => {}
                None => {
                    self.routes.remove(&prefix);
                }
            }
        }
        results
    }

    fn describe(&self) -> State {
        State {
            kind: Kind::Kernel,
            routes: self.routes.clone(),
            connections: BTreeMap::new(),
        }
    }

    /// Deletes every route this plane installed. A route that fails to go is logged
    /// and kept in the table, and the first such error is returned once every other
    /// route has been tried.
    async fn shutdown(&mut self) -> Result<(), Error> {
        self.shut_down = true;
        let mut first_error = None;
        for prefix in self.routes.keys().copied().collect::<Vec<_>>() {
            match self.delete(prefix).await {
                Ok(()) => {
                    self.routes.remove(&prefix);
                }
                Err(e) => {
                    tracing::warn!(dataplane = "kernel", %prefix, error = %e, "route left behind");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for KernelPlane {
    fn drop(&mut self) {
        if !self.routes.values().all(Vec::is_empty) {
            tracing::warn!(
                dataplane = "kernel",
                routes = self.routes.len(),
                "dropped without shutdown: its routes stay in the kernel until remove_stale_routes"
            );
        }
        self.connection.abort();
    }
}
