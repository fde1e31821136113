//! The route server (`hopwatch route-server`): its lines about programming the
//! data plane and restarting instances, and the documents of its introspection API
//! (`/peers`, `/rib`, `/dataplane`, `/programs`, `/restart`). Its session and route
//! lines are [`crate::bgp`]'s, with the line's `instance`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::bgp::{Attributes, SessionState};

/// What made the route server program a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgramCause {
    /// An UPDATE arrived.
    Update,
    /// End-of-RIB ended a graceful restart (stale routes dropped).
    EndOfRib,
    /// A session went down.
    SessionDown,
    /// The graceful restart timer ran out.
    StaleTimeout,
    /// An instance was restarted through the API.
    InstanceRestart,
    /// A cause this reader does not know (a newer writer).
    #[serde(other)]
    Other,
}

/// `programmed`: the data plane now carries a prefix to its best next hops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Programmed {
    /// The prefix.
    pub prefix: String,
    /// Its next hops (several: ECMP; empty: known but unroutable), `null` when
    /// removed.
    pub next_hops: Option<Vec<IpAddr>>,
    /// When what caused it happened (the UPDATE's arrival...), µs since the epoch.
    pub received_us: Option<u64>,
    /// What caused it.
    pub cause: Option<ProgramCause>,
    /// From `received_us` to programmed (this line's `ts_us`), µs.
    pub latency_us: Option<u64>,
    /// How long the programming profile held it back, ms (0 with `--profile instant`).
    pub queued_ms: u64,
    /// Why programming failed, `null` when it did not.
    pub error: Option<String>,
}

/// `instance_stopped`: an instance was stopped through the API (its sessions closed
/// with Cease, its RIB lost); the line's `instance` says which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStopped {
    /// It starts again after this long, ms.
    pub restart_in_ms: u64,
}

/// One instance's peers in `GET /peers` (an array of these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstancePeers {
    /// The instance's address.
    pub instance: IpAddr,
    /// Its peers.
    pub peers: Vec<PeerStatus>,
}

/// One peer of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStatus {
    /// The peer's address.
    pub peer: IpAddr,
    /// Its AS.
    pub asn: u32,
    /// Its session's state.
    pub state: SessionState,
    /// Routes in its Adj-RIB-In, stale ones included.
    pub routes: u64,
    /// Prefixes it announces that were rejected (AS loop).
    pub rejected: u64,
    /// Routes kept stale after a graceful restart.
    pub stale: u64,
    /// Routes not passed on to it: their UPDATE would exceed 4,096 octets.
    pub withheld: u64,
    /// Its route limit.
    pub route_limit: u64,
    /// The graceful restart time negotiated with it, seconds.
    pub graceful_restart_time: Option<u16>,
}

/// One instance's best paths in `GET /rib` (an array of these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRib {
    /// The instance's address.
    pub instance: IpAddr,
    /// Its Loc-RIB.
    pub routes: Vec<RibRoute>,
}

/// The best paths of one prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RibRoute {
    /// The prefix.
    pub prefix: String,
    /// The best next hops (several: ECMP).
    pub next_hops: Vec<IpAddr>,
    /// The best paths.
    pub paths: Vec<RibPath>,
}

/// One path of a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RibPath {
    /// The peer it came from.
    pub peer: IpAddr,
    /// Its next hop.
    pub next_hop: IpAddr,
    /// Its attributes.
    #[serde(flatten)]
    pub attributes: Attributes,
}

/// `GET /dataplane`: what the data plane has programmed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dataplane {
    /// `proxy`, `kernel` or `none`.
    pub kind: String,
    /// Each programmed prefix and its next hops.
    pub routes: BTreeMap<String, Vec<IpAddr>>,
    /// The proxy only: open connections per prefix and next hop.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub connections: BTreeMap<String, BTreeMap<IpAddr, u64>>,
}

/// The answer of `POST /restart`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartAnswer {
    /// The instance stopped.
    pub stopped: IpAddr,
    /// It starts again after this long, ms.
    pub restart_in_ms: u64,
}
