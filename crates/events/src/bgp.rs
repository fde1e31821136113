//! Session and route events: what every BGP speaker of hopwatch prints (`speak`,
//! `observe`, `run`, and `route-server` with the line's `instance`), one line per
//! thing that happened to one peer, and the route attributes they and the route
//! server's `/rib` carry.
//!
//! Prefixes and address families are strings (`"100.64.0.1/32"`,
//! `"ipv4-unicast"`): this crate depends on serde only, so that the protocol core
//! need not depend on it, and a reader compares them as printed.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// A session state of RFC 4271 8.2.2, as printed (`"OpenSent"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SessionState {
    /// Not trying.
    Idle,
    /// Waiting for our TCP connection to complete.
    Connect,
    /// Waiting for the peer to connect, or for the retry timer.
    Active,
    /// OPEN sent, waiting for the peer's.
    OpenSent,
    /// OPENs exchanged, waiting for the peer's KEEPALIVE.
    OpenConfirm,
    /// Routes flow.
    Established,
}

/// `state`: a session changed state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    /// The peer.
    pub peer: IpAddr,
    /// The state before.
    pub from: SessionState,
    /// The state after.
    pub to: SessionState,
}

/// `established`: a session came up, with what both sides negotiated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Established {
    /// The peer.
    pub peer: IpAddr,
    /// The peer's AS.
    pub peer_as: u32,
    /// The negotiated hold time, seconds (0: no keepalives).
    pub hold_time: u16,
    /// Whether AS numbers travel in 4 octets (RFC 6793).
    pub four_octet_as: bool,
    /// The address families both sides carry (`"ipv4-unicast"`, `"ipv6-unicast"`).
    pub families: Vec<String>,
    /// The peer's graceful restart time, seconds; `null` without graceful restart.
    pub peer_restart_time: Option<u16>,
    /// Both sides set graceful restart's N bit (RFC 8538).
    pub graceful_notification: bool,
}

/// An announcement or a withdrawal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The route is reachable via `next_hop`.
    Announce,
    /// The route is gone.
    Withdraw,
}

/// `update`: one prefix of a received UPDATE (an UPDATE gives one line per prefix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteUpdate {
    /// The peer that sent it.
    pub peer: IpAddr,
    /// Announce or withdraw.
    pub action: Action,
    /// The prefix.
    pub prefix: String,
    /// The next hop of an announcement; absent from a withdrawal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<IpAddr>,
    /// The attributes of an announcement; absent from a withdrawal.
    #[serde(flatten)]
    pub attributes: Option<Attributes>,
}

/// The path attributes of a route, as `update`, `table` and `/rib` print them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Attributes {
    /// AS_PATH: the AS numbers, or a string when it holds sets or confederations.
    pub as_path: AsPath,
    /// ORIGIN, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// MULTI_EXIT_DISC, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub med: Option<u32>,
    /// LOCAL_PREF, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<u32>,
    /// Standard communities (`"65001:100"`), when any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<String>,
    /// Large communities (`"65001:1:2"`), when any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub large_communities: Vec<String>,
    /// Attributes hopwatch does not interpret, when any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<RawAttribute>,
}

/// An AS_PATH as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AsPath {
    /// One AS_SEQUENCE (the common case): the AS numbers, nearest first.
    Asns(Vec<u32>),
    /// Anything else, written out: `{sets}` and `(confederations)`.
    Text(String),
}

impl Default for AsPath {
    fn default() -> Self {
        AsPath::Asns(Vec::new())
    }
}

impl AsPath {
    /// The AS numbers of a plain sequence.
    pub fn asns(&self) -> Option<&[u32]> {
        match self {
            AsPath::Asns(a) => Some(a),
            AsPath::Text(_) => None,
        }
    }
}

/// ORIGIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Learned from an interior protocol (0).
    Igp,
    /// Learned from EGP (1).
    Egp,
    /// Learned some other way (2).
    Incomplete,
}

/// An attribute passed on without being interpreted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawAttribute {
    /// Its flags as received.
    pub flags: u8,
    /// Its type code.
    pub type_code: u8,
    /// Its value, in hexadecimal.
    pub value: String,
}

/// `attribute_errors`: an UPDATE's attribute errors handled without a NOTIFICATION
/// (RFC 7606).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeErrors {
    /// The peer that sent the UPDATE.
    pub peer: IpAddr,
    /// Each error.
    pub errors: Vec<AttributeError>,
}

/// One attribute error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeError {
    /// The attribute's type code (0 when the error is not about one attribute).
    pub type_code: u8,
    /// The UPDATE error subcode's name RFC 4271 would have sent.
    pub error: String,
    /// What was done: `treat-as-withdraw` or `discard`.
    pub action: String,
}

/// `end_of_rib`, `end_of_rib_sent`, `route_refresh_received`: a marker for one
/// address family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyMarker {
    /// The peer.
    pub peer: IpAddr,
    /// The address family (`"ipv4-unicast"`).
    pub family: String,
}

/// `update_sent`: an UPDATE written to a peer (the write returned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateSent {
    /// The peer.
    pub peer: IpAddr,
    /// The prefixes announced, with their next hops.
    pub announce: Vec<Announced>,
    /// The prefixes withdrawn.
    pub withdraw: Vec<String>,
}

/// A prefix and its next hop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announced {
    /// The prefix.
    pub prefix: String,
    /// Its next hop.
    pub next_hop: IpAddr,
}

/// `notification_sent`, `notification_received`: a NOTIFICATION.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The peer.
    pub peer: IpAddr,
    /// The error code (RFC 4271 4.5; 6 is Cease).
    pub code: u8,
    /// The error subcode.
    pub subcode: u8,
    /// Code and subcode in words, and the shutdown message.
    pub text: String,
    /// The shutdown communication of a Cease (RFC 9003), `null` when none.
    pub shutdown_message: Option<String>,
}

/// `down`: a session ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Down {
    /// The peer.
    pub peer: IpAddr,
    /// Why, in words.
    pub reason: String,
}

/// `connection_error`: a connect attempt or a connection failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionError {
    /// The peer.
    pub peer: IpAddr,
    /// The error, in words.
    pub error: String,
}

/// `table`: every route `observe` currently holds (at SIGUSR1 and at exit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// The routes, by peer then prefix.
    pub routes: Vec<TableRoute>,
}

/// A route of a `table`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRoute {
    /// The peer that announced it.
    pub peer: IpAddr,
    /// The prefix.
    pub prefix: String,
    /// Its next hop.
    pub next_hop: IpAddr,
    /// Its attributes.
    #[serde(flatten)]
    pub attributes: Attributes,
}
