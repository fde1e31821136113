//! What the driver reports: one [`DriverEvent`] per thing that happened, stamped
//! with the wall clock in microseconds (the one clock all hopwatch processes on a
//! machine share, so a lab can join their logs into one timeline).

use std::net::IpAddr;

use hopwatch_bgp::message::AttrError;
use hopwatch_bgp::session::State;
use hopwatch_bgp::{Asn, Family, Notification, Prefix, Update};

/// Microseconds since the Unix epoch, now: the event contract's clock, the one
/// every hopwatch process stamps with.
pub use hopwatch_events::now_us;

/// One event of one peer.
#[derive(Debug, Clone)]
pub struct DriverEvent {
    /// When it happened, µs since the epoch.
    pub ts_us: u64,
    /// The peer's address.
    pub peer: IpAddr,
    /// What happened.
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone)]
#[non_exhaustive]
// UpdateReceived is the event that matters; boxing it would allocate per UPDATE.
#[allow(clippy::large_enum_variant)]
pub enum EventKind {
    /// The session changed state.
    State {
        /// Old state.
        from: State,
        /// New state.
        to: State,
    },
    /// The session is Established.
    Established {
        /// The peer's AS.
        peer_as: Asn,
        /// Negotiated hold time, seconds.
        hold_time: u16,
        /// Whether AS numbers travel in 4 octets.
        four_octet_as: bool,
        /// Families both sides carry.
        families: Vec<Family>,
        /// The peer's graceful restart time, if it offered graceful restart.
        peer_restart_time: Option<u16>,
        /// Both sides set graceful restart's N bit (RFC 8538).
        graceful_notification: bool,
    },
    /// An UPDATE arrived.
    UpdateReceived {
        /// The UPDATE (RFC 7606 withdrawals already applied).
        update: Update,
        /// Attribute errors handled without a NOTIFICATION.
        attr_errors: Vec<AttrError>,
    },
    /// The peer sent End-of-RIB.
    EndOfRibReceived(Family),
    /// We sent an UPDATE.
    UpdateSent {
        /// Prefixes announced, with next hops.
        announce: Vec<(Prefix, IpAddr)>,
        /// Prefixes withdrawn.
        withdraw: Vec<Prefix>,
    },
    /// We sent End-of-RIB.
    EndOfRibSent(Family),
    /// We sent a NOTIFICATION.
    NotificationSent(Notification),
    /// The peer sent a NOTIFICATION.
    NotificationReceived(Notification),
    /// The session went down.
    Down(String),
    /// A connect attempt or a connection failed.
    ConnectionError(String),
    /// The peer asked for our routes again.
    RouteRefreshReceived(Family),
    /// An UPDATE was not sent: its attributes do not fit a BGP message even with
    /// one prefix (a longer message would make the peer reset the session).
    UpdateTooLong {
        /// The first prefix it would have announced.
        prefix: Option<Prefix>,
        /// The octets the message would have taken.
        len: usize,
        /// The largest message allowed.
        max: usize,
    },
}
