//! hopwatch's data planes: what the route server does with a best path once it has
//! chosen one.
//!
//! The route server decides *which* next hops a VIP prefix has; a data plane makes
//! traffic follow that decision. Three of them sit behind one trait, [`DataPlane`]:
//!
//! | plane | needs | what `program` does |
//! | --- | --- | --- |
//! | [`ProxyPlane`] (the default) | nothing | listens on `VIP:port` for each configured port and sends each new connection to a next hop of the ECMP set (flow hash); connections to a next hop that left the set are closed |
//! | [`KernelPlane`] | `CAP_NET_ADMIN` in the current network namespace | replaces the VIP's route through netlink: a gateway, or a multipath route for an ECMP set |
//! | [`NonePlane`] | nothing | keeps the table and logs |
//!
//! # Layout
//! - `lib.rs`: the [`DataPlane`] trait, the [`AnyDataPlane`] enum that the binary
//!   holds, [`Kind`] (what `--dataplane` parses into) and [`State`] (introspection).
//! - `error.rs`: [`Error`], one variant per way programming can fail.
//! - `flow.rs`: the flow hash that spreads connections over an ECMP set.
//! - `proxy.rs`: the userspace TCP proxy ([`ProxyPlane`]).
//! - `kernel.rs`: routes through rtnetlink ([`KernelPlane`]).
//! - `none.rs`: the log-only plane ([`NonePlane`]).
//!
//! # Why a trait with `impl Future` methods and an enum, not `dyn DataPlane`
//! The set of planes is closed (three, chosen once at start-up by `--dataplane`), so
//! the binary holds an [`AnyDataPlane`] and dispatches with a `match`: no boxed future
//! per call, no `async-trait` dependency, and every plane's future is checked to be
//! `Send`. The trait still exists so that tests, benchmarks and the route server's
//! programming task can be generic over "a data plane" and so that the contract is
//! written down in one place. It is not object-safe (its methods return
//! `impl Future`); nothing needs it to be.
//!
//! # Why `&mut self`
//! Programming is serialised: the order of `program` / `remove` calls for a prefix
//! is the order the kernel or the proxy sees them, and the borrow checker enforces
//! that one task owns the plane. `describe` is a cheap synchronous snapshot; a control
//! API that wants it from another task shares the plane behind a mutex.
//!
//! # The contract
//! - `program(prefix, next_hops)` replaces whatever was programmed for `prefix`; several
//!   next hops form an ECMP set; an empty set means "known but unroutable" (the proxy
//!   keeps listening and closes new connections at once; the kernel plane removes its
//!   route).
//! - `remove(prefix)` forgets the prefix; removing an unknown prefix is not an error.
//! - `shutdown()` tears down everything the plane made (listeners, connections,
//!   kernel routes); later calls to `program` fail with [`Error::ShutDown`].

mod error;
mod flow;
mod kernel;
mod none;
mod proxy;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::str::FromStr;

pub use hopwatch_bgp::Prefix;
use serde::Serialize;

pub use error::Error;
pub use flow::pick_next_hop;
pub use kernel::{HOPWATCH_RTPROT, KernelPlane};
pub use none::NonePlane;
pub use proxy::{ProxyConfig, ProxyPlane};

/// A data plane: makes traffic for a prefix follow the next hops the route server
/// chose. See the crate docs for the contract.
pub trait DataPlane: Send {
    /// Which plane this is.
    fn kind(&self) -> Kind;

    /// Programs `prefix` with `next_hops`, replacing what was there. Several next hops
    /// form an ECMP set; an empty set leaves the prefix known but unroutable.
    fn program(
        &mut self,
        prefix: Prefix,
        next_hops: Vec<IpAddr>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Removes `prefix`; removing a prefix that is not programmed is not an error.
    fn remove(&mut self, prefix: Prefix) -> impl Future<Output = Result<(), Error>> + Send;

    /// Programs (`Some`) or removes (`None`) each route of a batch of distinct
    /// prefixes; each one's result, in the batch's order. One at a time here; the
    /// kernel plane overrides it to keep several requests in flight (a thousand VIPs
    /// moving at once are a thousand routes, and a netlink round trip each adds up).
    fn apply(
        &mut self,
        routes: Vec<(Prefix, Option<Vec<IpAddr>>)>,
    ) -> impl Future<Output = Vec<Result<(), Error>>> + Send {
        async move {
            let mut results = Vec::with_capacity(routes.len());
            for (prefix, next_hops) in routes {
                results.push(match next_hops {
                    Some(hops) => self.program(prefix, hops).await,
                    None => self.remove(prefix).await,
                });
            }
            results
        }
    }

    /// A snapshot of the programmed table, for introspection.
    fn describe(&self) -> State;

    /// Tears down everything this plane made. Idempotent.
    fn shutdown(&mut self) -> impl Future<Output = Result<(), Error>> + Send;
}

/// Which data plane; what `--dataplane proxy|kernel|none` parses into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Kind {
    /// The userspace TCP proxy.
    Proxy,
    /// Kernel routes through netlink.
    Kernel,
    /// Log only.
    None,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Proxy => "proxy",
            Kind::Kernel => "kernel",
            Kind::None => "none",
        })
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "proxy" => Ok(Kind::Proxy),
            "kernel" => Ok(Kind::Kernel),
            "none" => Ok(Kind::None),
            other => Err(format!(
                "unknown data plane {other:?} (expected proxy, kernel or none)"
            )),
        }
    }
}

/// What a data plane has programmed, for the control API and for tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct State {
    /// Which plane.
    pub kind: Kind,
    /// Every programmed prefix and its next hops (an ECMP set when several; empty when
    /// the prefix is known but unroutable).
    pub routes: BTreeMap<Prefix, Vec<IpAddr>>,
    /// The proxy only: open connections per prefix and next hop.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub connections: BTreeMap<Prefix, BTreeMap<IpAddr, u64>>,
}

/// The data plane the binary holds: one of the three, chosen at start-up.
#[derive(Debug)]
#[non_exhaustive]
pub enum AnyDataPlane {
    /// The userspace TCP proxy.
    Proxy(ProxyPlane),
    /// Kernel routes through netlink.
    Kernel(KernelPlane),
    /// Log only.
    None(NonePlane),
}

impl AnyDataPlane {
    /// Builds the plane `kind`; `proxy` is only used by the proxy plane. The kernel
    /// plane opens its netlink socket here, so this must run inside a tokio runtime.
    pub fn new(kind: Kind, proxy: ProxyConfig) -> Result<Self, Error> {
        Ok(match kind {
            Kind::Proxy => AnyDataPlane::Proxy(ProxyPlane::new(proxy)),
            Kind::Kernel => AnyDataPlane::Kernel(KernelPlane::new()?),
            Kind::None => AnyDataPlane::None(NonePlane::new()),
        })
    }
}

impl DataPlane for AnyDataPlane {
    fn kind(&self) -> Kind {
        match self {
            AnyDataPlane::Proxy(p) => p.kind(),
            AnyDataPlane::Kernel(p) => p.kind(),
            AnyDataPlane::None(p) => p.kind(),
        }
    }

    async fn program(&mut self, prefix: Prefix, next_hops: Vec<IpAddr>) -> Result<(), Error> {
        match self {
            AnyDataPlane::Proxy(p) => p.program(prefix, next_hops).await,
            AnyDataPlane::Kernel(p) => p.program(prefix, next_hops).await,
            AnyDataPlane::None(p) => p.program(prefix, next_hops).await,
        }
    }

    async fn remove(&mut self, prefix: Prefix) -> Result<(), Error> {
        match self {
            AnyDataPlane::Proxy(p) => p.remove(prefix).await,
            AnyDataPlane::Kernel(p) => p.remove(prefix).await,
            AnyDataPlane::None(p) => p.remove(prefix).await,
        }
    }

    async fn apply(
        &mut self,
        routes: Vec<(Prefix, Option<Vec<IpAddr>>)>,
    ) -> Vec<Result<(), Error>> {
        match self {
            AnyDataPlane::Proxy(p) => p.apply(routes).await,
            AnyDataPlane::Kernel(p) => p.apply(routes).await,
            AnyDataPlane::None(p) => p.apply(routes).await,
        }
    }

    fn describe(&self) -> State {
        match self {
            AnyDataPlane::Proxy(p) => p.describe(),
            AnyDataPlane::Kernel(p) => p.describe(),
            AnyDataPlane::None(p) => p.describe(),
        }
    }

    async fn shutdown(&mut self) -> Result<(), Error> {
        match self {
            AnyDataPlane::Proxy(p) => p.shutdown().await,
            AnyDataPlane::Kernel(p) => p.shutdown().await,
            AnyDataPlane::None(p) => p.shutdown().await,
        }
    }
}

/// Sorts and de-duplicates an ECMP set so that every plane sees one canonical order.
fn canonical(mut next_hops: Vec<IpAddr>) -> Vec<IpAddr> {
    next_hops.sort_unstable();
    next_hops.dedup();
    next_hops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_parses_what_it_prints() {
        for kind in [Kind::Proxy, Kind::Kernel, Kind::None] {
            assert_eq!(kind.to_string().parse::<Kind>(), Ok(kind));
        }
        assert!("netlink".parse::<Kind>().is_err());
    }

    #[test]
    fn an_ecmp_set_is_sorted_and_deduplicated() {
        let a: IpAddr = "10.0.0.5".parse().expect("literal");
        let b: IpAddr = "10.0.0.4".parse().expect("literal");
        assert_eq!(canonical(vec![a, b, a]), vec![b, a]);
    }
}
