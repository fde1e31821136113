//! What a session is told before it starts, and what the two OPENs agreed.

use std::time::Duration;

use crate::message::{Capability, Codec, GracefulRestartFamily, Open};
use crate::types::{Asn, Family, HoldTime, RouterId};

/// Configuration of one BGP session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our AS.
    pub local_as: Asn,
    /// Our BGP identifier.
    pub router_id: RouterId,
    /// The AS the peer must have; `None` accepts any (a passive observer).
    pub peer_as: Option<Asn>,
    /// The hold time we propose.
    pub hold_time: HoldTime,
    /// Only wait for the peer to connect; never connect out.
    pub passive: bool,
    /// How long a TCP connect attempt may take before it is retried.
    pub connect_retry: Duration,
    /// First wait before connecting again after a failure; doubles each time.
    pub retry_base: Duration,
    /// The longest wait between attempts.
    pub retry_max: Duration,
    /// Families to offer with the multiprotocol capability.
    pub families: Vec<Family>,
    /// Graceful restart to advertise (RFC 4724), if any.
    pub graceful_restart: Option<GracefulRestart>,
    /// Offer the 4-octet AS capability. Off only to test 2-octet peers.
    pub four_octet_as: bool,
}

/// Our graceful restart capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracefulRestart {
    /// Seconds the peer should keep our routes after our session drops (max 4095).
    pub restart_time: u16,
    /// Set the R bit: we have just restarted.
    pub restarting: bool,
    /// Set the F bit for each family: our forwarding survived the restart.
    pub forwarding_preserved: bool,
    /// Set the N bit (RFC 8538): our Cease on a planned stop (other than Hard Reset)
    /// lets the peer keep our routes for the restart time, as a crash would.
    pub notification: bool,
}

impl SessionConfig {
    /// A configuration with hopwatch's defaults: hold 90 s, active, IPv4 and IPv6
    /// unicast, connect timeout 5 s, retry from 1 s doubling to 30 s.
    ///
    /// The retry is much shorter than RFC 4271's 120 s ConnectRetryTime: hopwatch
    /// steers failover, and a route server that restarts must get its routes back
    /// in seconds, not minutes. The doubling keeps a dead peer from being hammered.
    pub fn new(local_as: Asn, router_id: RouterId, peer_as: Option<Asn>) -> Self {
        SessionConfig {
            local_as,
            router_id,
            peer_as,
            hold_time: HoldTime::DEFAULT,
            passive: false,
            connect_retry: Duration::from_secs(5),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
            graceful_restart: None,
            four_octet_as: true,
        }
    }

    /// The OPEN this configuration sends.
    pub fn open(&self) -> Open {
        let mut capabilities: Vec<Capability> = self
            .families
            .iter()
            .map(|f| Capability::Multiprotocol(*f))
            .collect();
        capabilities.push(Capability::RouteRefresh);
        if self.four_octet_as {
            capabilities.push(Capability::FourOctetAs(self.local_as));
        }
        if let Some(gr) = self.graceful_restart {
            capabilities.push(Capability::GracefulRestart {
                restarting: gr.restarting,
                notification: gr.notification,
                restart_time: gr.restart_time.min(4095),
                families: self
                    .families
                    .iter()
                    .map(|f| GracefulRestartFamily {
                        family: *f,
                        forwarding_preserved: gr.forwarding_preserved,
                    })
                    .collect(),
            });
        }
        Open {
            asn: if self.four_octet_as {
                self.local_as
            } else {
                Asn(u32::from(self.local_as.as_two_octet()))
            },
            hold_time: self.hold_time,
            router_id: self.router_id,
            capabilities,
        }
    }
}

/// What the exchange of OPENs settled, known once the session is in OpenConfirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The peer's OPEN as received.
    pub peer_open: Open,
    /// The peer's real AS.
    pub peer_as: Asn,
    /// The hold time both use (the smaller proposal).
    pub hold_time: HoldTime,
    /// How the codec encodes AS numbers on this session.
    pub codec: Codec,
    /// Families both sides offered.
    pub families: Vec<Family>,
    /// The peer's graceful restart time, if it offered graceful restart.
    /// `None` when the peer's capability lists no family we both carry: then it
    /// only helps, and its own routes are not kept when it restarts (RFC 4724 4.2).
    pub peer_restart_time: Option<u16>,
    /// Both sides set the N bit of graceful restart (RFC 8538): a NOTIFICATION other
    /// than Cease/Hard Reset keeps the routes stale, like a lost connection.
    pub graceful_notification: bool,
}

impl Negotiated {
    /// Whether `family` may be sent on this session.
    pub fn carries(&self, family: Family) -> bool {
        self.families.contains(&family)
    }

    /// The keepalive interval: a third of the hold time, none when it is zero.
    pub fn keepalive_interval(&self) -> Option<Duration> {
        let h = self.hold_time.secs();
        (h > 0).then(|| Duration::from_millis(u64::from(h) * 1000 / 3))
    }
}
