//! The errors of programming a data plane: one variant per way it can fail, each
//! naming the prefix or address involved so that a log line stands on its own.

use std::io;
use std::net::SocketAddr;

use hopwatch_bgp::Prefix;

/// Why a data plane could not do what it was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The proxy serves host prefixes only (a /32 or a /128): it listens on the VIP's
    /// address, and a shorter prefix has no single address to listen on.
    #[error("the proxy data plane serves host prefixes only (/32 or /128), not {prefix}")]
    NotAHostPrefix {
        /// The prefix that was asked for.
        prefix: Prefix,
    },
    /// The proxy could not listen on a VIP's address and port.
    #[error("cannot listen on {addr} for {prefix}: {source}")]
    Listen {
        /// The VIP prefix.
        prefix: Prefix,
        /// The address and port.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The netlink socket could not be opened.
    #[error("cannot open a netlink socket: {0}")]
    Netlink(#[source] io::Error),
    /// The kernel refused a route change.
    #[error("the kernel refused to {op} the route for {prefix}: {detail}")]
    Route {
        /// What was being done: "replace" or "delete".
        op: &'static str,
        /// The prefix.
        prefix: Prefix,
        /// The kernel's or rtnetlink's message.
        detail: String,
    },
    /// The kernel's routing table could not be listed.
    #[error("cannot list the kernel's routes: {detail}")]
    ListRoutes {
        /// The kernel's or rtnetlink's message.
        detail: String,
    },
    /// `program` was called after `shutdown`.
    #[error("the data plane has been shut down")]
    ShutDown,
}
