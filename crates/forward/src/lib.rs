//! hopwatch's forwarding mode: the VIP's route points at the watchers, which stays
//! put while backends come and go, and each watcher forwards the VIP's traffic in the
//! kernel to the backend it chooses. A backend failure then costs the watcher's own
//! detection and one route replacement on the watcher (milliseconds), not a route
//! server's reprogramming (on Azure 1 to 5.6 s, and at most one change every ~30 s).
//!
//! # The data path
//! ```text
//! client ──▶ VNET route: VIP via watcher ──▶ watcher ──VXLAN (UDP 4789)──▶ backend
//!    ▲                                                                        │
//!    └──────────────── reply from the VIP, straight to the client ───────────┘
//! ```
//! - Encapsulation in UDP, because an Azure VNET drops GRE and IP-in-IP and lets the
//!   guest choose no layer-2 next hop; VXLAN because Linux has it everywhere (FOU,
//!   GENEVE and IPIP are modules some kernels lack) and Azure's own Gateway Load
//!   Balancer speaks it. One device per backend on the watcher ([`layout`]); the
//!   backend has one device that accepts every VNI ([`backend`]).
//! - Direct server return: the backend holds the VIP on `lo` and answers from it, so
//!   the client's address reaches the backend and replies do not cross the watcher.
//! - Flow affinity in nftables sets, not conntrack, which cannot track half a TCP
//!   flow ([`nft`]); which table each flow uses is pure policy ([`plan`]).
//! - Everything through netlink (rtnetlink) except the nftables ruleset, written once
//!   with `nft -f` ([`nft`] says why). No packet is copied in userspace.
//!
//! `docs/forwarding.md` has the reasoning for Azure, and what it costs.
//!
//! # Layout
//! - `layout.rs`: names and numbers (devices, VNIs, marks, tables). Pure.
//! - `plan.rs`: which route each table holds. Pure.
//! - `nft.rs`: the rulesets (pure) and `nft -f`.
//! - `kernel.rs`: the watcher's devices, rules and routes ([`Forwarder`]).
//! - `backend.rs`: the backend's device and VIPs ([`BackendSetup`]).
//! - `cleanup.rs`: removing what either role left, without its layout.
//! - `cli.rs` (feature `cli`): `hopwatch backend` and `hopwatch cleanup`.

pub mod backend;
pub mod cleanup;
#[cfg(feature = "cli")]
pub mod cli;
mod kernel;
pub mod layout;
pub mod nft;
pub mod plan;

pub use backend::{BackendSettings, BackendSetup};
pub use kernel::{Forwarder, RTPROT, describe};
pub use layout::{Layout, Settings};
pub use plan::VipState;

/// What can go wrong setting up or moving the forwarding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The kernel refused a netlink request (or the socket failed).
    #[error("netlink: {0}")]
    Netlink(String),
    /// `nft` failed.
    #[error("nftables: {0}")]
    Nft(String),
    /// A sysctl could not be written.
    #[error("sysctl {key}: {detail}")]
    Sysctl {
        /// The key, as a path under /proc/sys.
        key: String,
        /// Why.
        detail: String,
    },
}

/// Writes `value` to `/proc/sys/<key>` (unless it already holds it).
fn sysctl(key: &str, value: &str) -> Result<(), Error> {
    let path = format!("/proc/sys/{key}");
    if std::fs::read_to_string(&path).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    std::fs::write(&path, value).map_err(|e| Error::Sysctl {
        key: key.replace('/', "."),
        detail: e.to_string(),
    })
}
