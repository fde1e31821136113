//! The RIB of one route server instance, with Azure Route Server's policy.
//!
//! Pure like the BGP core: no IO, no clock, no runtime. Time is an argument
//! (`now: Instant`) and the only timer (graceful restart's stale routes) is
//! reported through [`Rib::poll_timeout`] and fired by [`Rib::handle_timeout`].
//!
//! ```text
//!   UPDATE ──► receive ──► Adj-RIB-In (per peer) ──► best path ──► Loc-RIB ──► RibChange ─► data plane
//!                           │ 65515 in AS_PATH: rejected                 │
//!                           │ over the route limit: Cease NOTIFICATION   └─► per peer: Adj-RIB-Out
//!   peer_down / EoR / timeout ──► stale routes (RFC 4724)                      poll_updates ─► UPDATEs
//! ```
//!
//! # Azure Route Server's behaviour, and the choices made here
//! - **Peers are configured** ([`Rib::add_peer`]): address and AS, at most
//!   [`MAX_PEERS`]; an UPDATE from anyone else is refused with Cease / Connection
//!   Rejected.
//! - **Loop rejection**: a route whose AS_PATH holds [`RibConfig::local_as`]
//!   (65515) is dropped, counted and reported ([`Received::rejected`]). It still
//!   counts toward the route limit while the peer keeps announcing it, as RFC 4486's
//!   limit is about prefixes *received*, and so the rejected table stays bounded.
//! - **Route limit** ([`RibConfig::route_limit`], 1,000 by default, per peer: Azure
//!   Route Server's published limit, whatever the profile): an
//!   UPDATE that would take the peer past it is not applied at all and `receive`
//!   returns the Cease / Maximum Number of Prefixes Reached NOTIFICATION (data: AFI,
//!   SAFI, limit; RFC 4486 4). The caller sends it, closes the session and calls
//!   [`Rib::peer_down`] without graceful restart.
//! - **Best path**: the shortest AS path ([`AsPath::path_len`]) wins; every path of
//!   that length (one per peer) joins the ECMP set, sorted by peer address. No
//!   further tie-breaks (ORIGIN, MED, router id...) are applied: Azure Route Server
//!   programs equal-length paths as ECMP, and hopwatch's use (one VIP, a few
//!   speakers) never needs them.
//! - **Passing routes on** (route-server behaviour, `rib/export.rs`): each peer gets,
//!   per prefix, the first path of the best set that it did not announce itself,
//!   next hop untouched, attributes kept (communities, MED, unknown transitive
//!   ones) except LOCAL_PREF, which is never sent to an external peer. A route
//!   whose UPDATE would exceed 4,096 octets once prepended is withheld from the
//!   other peers rather than sent to reset their sessions.
//!   Azure Route Server prepends its own AS (65515) to what it passes on, which is
//!   exactly why it rejects paths that contain 65515: they are its own routes
//!   coming back. hopwatch does the same by default
//!   ([`RibConfig::prepend_local_as`]); turn it off for a transparent route server
//!   in the RFC 7947 sense (then the 65515 loop check catches only real loops).
//! - **VNET prefixes** ([`Rib::set_local_prefixes`]) are announced to every peer
//!   with AS path `[local_as]`, as the cloud announces the VNET's address space.
//!   They are not in the Loc-RIB (the data plane reaches them without a route),
//!   and toward peers they shadow a learned route for the same prefix.
//! - **Graceful restart** (`rib/restart.rs`): RFC 4724's receiving-speaker
//!   procedures, with stale routes kept for the negotiated restart time.
//!
//! [`AsPath::path_len`]: hopwatch_bgp::message::AsPath::path_len

mod best;
mod error;
mod export;
mod peer;
mod receive;
mod restart;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use hopwatch_bgp::{Asn, Prefix};

pub use best::{BestPath, Path, RibChange};
pub use error::RibError;
pub use peer::{AdjRoute, PeerInfo};
pub use receive::Received;

use peer::Peer;

/// Azure Route Server accepts at most 8 BGP peers.
pub const MAX_PEERS: usize = 8;
/// The default number of routes one peer may announce: Azure Route Server's
/// published limit ("Number of routes each BGP peer can advertise to Azure Route
/// Server: 1,000"; one more and the session is dropped; 10,000 routes in all, from
/// at most 8 peers; 4,000 is Azure's limit on VMs in the VNET, not on routes).
/// This is an Azure stand-in, so the default is
/// Azure's under every profile; a lab that wants more says so (`--route-limit`).
pub const DEFAULT_ROUTE_LIMIT: usize = 1_000;
/// Azure Route Server's AS number, fixed in the cloud.
pub const AZURE_ROUTE_SERVER_AS: Asn = Asn(65515);

/// The policy of one RIB. The default is Azure Route Server's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RibConfig {
    /// The server's own AS: routes whose AS_PATH holds it are rejected as loops,
    /// and it is the AS path of the VNET prefixes. Default 65515.
    pub local_as: Asn,
    /// Routes one peer may announce (accepted and rejected together) before its
    /// session is torn down. Default 1,000. [`Rib::set_route_limit`] changes it
    /// for one peer.
    pub route_limit: usize,
    /// Whether `local_as` is prepended to the routes passed on to the other peers.
    /// Default `true`, as Azure Route Server does.
    pub prepend_local_as: bool,
}

impl Default for RibConfig {
    fn default() -> Self {
        RibConfig {
            local_as: AZURE_ROUTE_SERVER_AS,
            route_limit: DEFAULT_ROUTE_LIMIT,
            prepend_local_as: true,
        }
    }
}

/// The RIB of one route server instance: Adj-RIBs-In, Loc-RIB, Adj-RIBs-Out.
#[derive(Debug, Clone, Default)]
pub struct Rib {
    config: RibConfig,
    peers: BTreeMap<IpAddr, Peer>,
    loc_rib: BTreeMap<Prefix, BestPath>,
    local_prefixes: BTreeSet<Prefix>,
    local_next_hop: Option<IpAddr>,
}

impl Rib {
    /// An empty RIB with `config`.
    pub fn new(config: RibConfig) -> Self {
        Rib {
            config,
            ..Default::default()
        }
    }

    /// The policy in force.
    pub fn config(&self) -> &RibConfig {
        &self.config
    }

    /// Configures a peer. `graceful_restart_time` is the restart time (seconds)
    /// negotiated with it, `None` when it did not offer graceful restart; it can be
    /// updated when the session comes up ([`Rib::set_graceful_restart_time`]).
    pub fn add_peer(
        &mut self,
        addr: IpAddr,
        asn: Asn,
        graceful_restart_time: Option<u16>,
    ) -> Result<(), RibError> {
        if self.peers.contains_key(&addr) {
            return Err(RibError::DuplicatePeer(addr));
        }
        if self.peers.len() >= MAX_PEERS {
            return Err(RibError::TooManyPeers { max: MAX_PEERS });
        }
        self.peers.insert(
            addr,
            Peer::new(asn, graceful_restart_time, self.config.route_limit),
        );
        Ok(())
    }

    /// Removes a peer from the configuration; its routes go at once.
    pub fn remove_peer(&mut self, addr: IpAddr) -> Result<Vec<RibChange>, RibError> {
        let peer = self
            .peers
            .remove(&addr)
            .ok_or(RibError::UnknownPeer(addr))?;
        Ok(self.reselect(peer.adj_in.into_keys()))
    }

    /// The AS configured for `addr`, or `None` when it is not a configured peer
    /// (the listener refuses the connection).
    pub fn peer_asn(&self, addr: IpAddr) -> Option<Asn> {
        self.peers.get(&addr).map(|p| p.asn)
    }

    /// Sets the graceful restart time negotiated with a peer (`None`: not negotiated).
    pub fn set_graceful_restart_time(
        &mut self,
        addr: IpAddr,
        graceful_restart_time: Option<u16>,
    ) -> Result<(), RibError> {
        self.peer_mut(addr)?.graceful_restart_time = graceful_restart_time;
        Ok(())
    }

    /// Sets one peer's route limit. It is checked on the next UPDATE.
    pub fn set_route_limit(&mut self, addr: IpAddr, limit: usize) -> Result<(), RibError> {
        self.peer_mut(addr)?.route_limit = limit;
        Ok(())
    }

    /// Every configured peer, by address.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.peers.iter().map(|(addr, p)| p.info(*addr)).collect()
    }

    /// The Loc-RIB: the best set of every prefix that has one.
    pub fn loc_rib(&self) -> &BTreeMap<Prefix, BestPath> {
        &self.loc_rib
    }

    /// One peer's Adj-RIB-In (accepted routes, stale ones included), by prefix.
    pub fn adj_rib_in(&self, addr: IpAddr) -> Option<&BTreeMap<Prefix, AdjRoute>> {
        self.peers.get(&addr).map(|p| &p.adj_in)
    }

    /// The prefixes a peer currently announces that were rejected as loops.
    pub fn rejected(&self, addr: IpAddr) -> Option<&BTreeSet<Prefix>> {
        self.peers.get(&addr).map(|p| &p.rejected)
    }

    fn peer_mut(&mut self, addr: IpAddr) -> Result<&mut Peer, RibError> {
        self.peers.get_mut(&addr).ok_or(RibError::UnknownPeer(addr))
    }
}
