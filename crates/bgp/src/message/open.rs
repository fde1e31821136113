//! OPEN and its capabilities (RFC 4271 4.2, RFC 5492).
//!
//! Capabilities hopwatch speaks: multiprotocol (RFC 4760), route refresh (RFC 2918),
//! graceful restart (RFC 4724), 4-octet AS (RFC 6793). Anything else a peer offers
//! is kept as [`Capability::Unknown`] and otherwise ignored, as RFC 5492 asks.

use std::net::Ipv4Addr;

use super::reader::Reader;
use crate::notification::{ErrorCode, Notification, OpenError};
use crate::types::{Asn, Family, HoldTime, RouterId};

/// The only BGP version there is.
pub const BGP_VERSION: u8 = 4;

/// An OPEN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// The sender's AS. Toward the wire it is AS_TRANS when it needs 4 octets; the
    /// real value travels in the 4-octet AS capability.
    pub asn: Asn,
    /// Proposed hold time.
    pub hold_time: HoldTime,
    /// BGP identifier.
    pub router_id: RouterId,
    /// Capabilities, in the order they are sent.
    pub capabilities: Vec<Capability>,
}

/// One address family in a graceful restart capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracefulRestartFamily {
    /// The family.
    pub family: Family,
    /// Whether forwarding state was preserved across the restart (F bit).
    pub forwarding_preserved: bool,
}

/// A capability advertised in an OPEN.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Capability {
    /// Multiprotocol extensions for one family (code 1).
    Multiprotocol(Family),
    /// Route refresh (code 2).
    RouteRefresh,
    /// Graceful restart (code 64).
    GracefulRestart {
        /// R bit: the sender has restarted.
        restarting: bool,
        /// N bit (RFC 8538): a NOTIFICATION other than Cease/Hard Reset keeps the
        /// graceful restart procedures (routes kept stale) instead of ending them.
        notification: bool,
        /// Seconds the peer should keep our routes after the session drops (12 bits).
        restart_time: u16,
        /// Families whose forwarding state the sender keeps.
        families: Vec<GracefulRestartFamily>,
    },
    /// 4-octet AS numbers (code 65), carrying the real AS.
    FourOctetAs(Asn),
    /// A capability hopwatch does not act on, kept as received.
    Unknown {
        /// Capability code.
        code: u8,
        /// Value as received.
        value: Vec<u8>,
    },
}

impl Open {
    /// The peer's real AS: from the 4-octet AS capability when present.
    pub fn effective_asn(&self) -> Asn {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::FourOctetAs(asn) => Some(*asn),
                _ => None,
            })
            .unwrap_or(self.asn)
    }

    /// Whether the sender can do 4-octet AS numbers.
    pub fn four_octet_as(&self) -> bool {
        self.capabilities
            .iter()
            .any(|c| matches!(c, Capability::FourOctetAs(_)))
    }

    /// Whether the sender supports route refresh.
    pub fn route_refresh(&self) -> bool {
        self.capabilities
            .iter()
            .any(|c| matches!(c, Capability::RouteRefresh))
    }

    /// The families announced with the multiprotocol capability. An OPEN without any
    /// means IPv4 unicast only (RFC 4760 section 8).
    pub fn families(&self) -> Vec<Family> {
        let fams: Vec<Family> = self
            .capabilities
            .iter()
            .filter_map(|c| match c {
                Capability::Multiprotocol(f) => Some(*f),
                _ => None,
            })
            .collect();
        if fams.is_empty() {
            vec![Family::Ipv4Unicast]
        } else {
            fams
        }
    }

    /// The graceful restart capability, if sent: (restarting, restart time, families).
    pub fn graceful_restart(&self) -> Option<(bool, u16, &[GracefulRestartFamily])> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::GracefulRestart {
                restarting,
                restart_time,
                families,
                ..
            } => Some((*restarting, *restart_time, families.as_slice())),
            _ => None,
        })
    }

    /// Whether the sender set the N bit of graceful restart (RFC 8538).
    pub fn graceful_notification(&self) -> bool {
        self.capabilities.iter().any(|c| {
            matches!(
                c,
                Capability::GracefulRestart {
                    notification: true,
                    ..
                }
            )
        })
    }

    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) {
        out.push(BGP_VERSION);
        out.extend_from_slice(&self.asn.as_two_octet().to_be_bytes());
        out.extend_from_slice(&self.hold_time.secs().to_be_bytes());
        out.extend_from_slice(&self.router_id.addr().octets());
        let mut caps = Vec::new();
        for cap in &self.capabilities {
            cap.encode(&mut caps);
        }
        if caps.is_empty() {
            out.push(0);
            return;
        }
        // All capabilities in one optional parameter, as FRR, BIRD and GoBGP send
        // them. The optional parameters length is one octet, so they must fit 253.
        let len = caps.len().min(253);
        out.push((len + 2) as u8);
        out.push(2);
        out.push(len as u8);
        out.extend_from_slice(&caps[..len]);
    }

    pub(crate) fn decode_body(body: &[u8]) -> Result<Open, Notification> {
        let unspecific = || Notification::bare(ErrorCode::Open(OpenError::Unspecific));
        let mut r = Reader::new(body);
        let version = r.u8().ok_or_else(unspecific)?;
        if version != BGP_VERSION {
            // Data: the largest version we support, as a 2-octet integer.
            return Err(Notification::new(
                ErrorCode::Open(OpenError::UnsupportedVersionNumber),
                u16::from(BGP_VERSION).to_be_bytes(),
            ));
        }
        let asn = Asn(u32::from(r.u16().ok_or_else(unspecific)?));
        let hold = r.u16().ok_or_else(unspecific)?;
        let hold_time = HoldTime::new(hold)
            .ok_or_else(|| Notification::bare(ErrorCode::Open(OpenError::UnacceptableHoldTime)))?;
        let id = Ipv4Addr::from(r.u32().ok_or_else(unspecific)?);
        let router_id = RouterId::new(id)
            .ok_or_else(|| Notification::bare(ErrorCode::Open(OpenError::BadBgpIdentifier)))?;
        let opt_len = usize::from(r.u8().ok_or_else(unspecific)?);
        if opt_len != r.remaining() {
            return Err(unspecific());
        }
        let mut capabilities = Vec::new();
        while !r.is_empty() {
            let ptype = r.u8().ok_or_else(unspecific)?;
            let plen = usize::from(r.u8().ok_or_else(unspecific)?);
            let pval = r.take(plen).ok_or_else(unspecific)?;
            if ptype != 2 {
                return Err(Notification::bare(ErrorCode::Open(
                    OpenError::UnsupportedOptionalParameter,
                )));
            }
            let mut cr = Reader::new(pval);
            while !cr.is_empty() {
                let code = cr.u8().ok_or_else(unspecific)?;
                let clen = usize::from(cr.u8().ok_or_else(unspecific)?);
                let cval = cr.take(clen).ok_or_else(unspecific)?;
                capabilities.push(Capability::decode(code, cval).ok_or_else(unspecific)?);
            }
        }
        Ok(Open {
            asn,
            hold_time,
            router_id,
            capabilities,
        })
    }
}

impl Capability {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Capability::Multiprotocol(f) => {
                out.extend_from_slice(&[1, 4]);
                out.extend_from_slice(&f.afi().code().to_be_bytes());
                out.extend_from_slice(&[0, Family::SAFI_UNICAST]);
            }
            Capability::RouteRefresh => out.extend_from_slice(&[2, 0]),
            Capability::GracefulRestart {
                restarting,
                notification,
                restart_time,
                families,
            } => {
                out.push(64);
                out.push((2 + 4 * families.len()).min(255) as u8);
                let mut flags_time = restart_time & 0x0fff;
                if *restarting {
                    flags_time |= 0x8000;
                }
                if *notification {
                    flags_time |= 0x4000;
                }
                out.extend_from_slice(&flags_time.to_be_bytes());
                for f in families.iter().take(63) {
                    out.extend_from_slice(&f.family.afi().code().to_be_bytes());
                    out.push(Family::SAFI_UNICAST);
                    out.push(if f.forwarding_preserved { 0x80 } else { 0 });
                }
            }
            Capability::FourOctetAs(asn) => {
                out.extend_from_slice(&[65, 4]);
                out.extend_from_slice(&asn.0.to_be_bytes());
            }
            Capability::Unknown { code, value } => {
                let len = value.len().min(255);
                out.push(*code);
                out.push(len as u8);
                out.extend_from_slice(&value[..len]);
            }
        }
    }

    /// Decodes one capability; `None` when its value is malformed.
    fn decode(code: u8, value: &[u8]) -> Option<Capability> {
        let unknown = || Capability::Unknown {
            code,
            value: value.to_vec(),
        };
        let mut r = Reader::new(value);
        Some(match code {
            1 => {
                if value.len() != 4 {
                    return None;
                }
                let afi = r.u16()?;
                let _reserved = r.u8()?;
                let safi = r.u8()?;
                match Family::from_codes(afi, safi) {
                    Some(f) => Capability::Multiprotocol(f),
                    // A family we do not carry: keep it, we simply won't use it.
                    None => unknown(),
                }
            }
            2 => {
                if !value.is_empty() {
                    return None;
                }
                Capability::RouteRefresh
            }
            64 => {
                if value.len() < 2 || !(value.len() - 2).is_multiple_of(4) {
                    return None;
                }
                let flags_time = r.u16()?;
                let mut families = Vec::new();
                while !r.is_empty() {
                    let afi = r.u16()?;
                    let safi = r.u8()?;
                    let flags = r.u8()?;
                    if let Some(family) = Family::from_codes(afi, safi) {
                        families.push(GracefulRestartFamily {
                            family,
                            forwarding_preserved: flags & 0x80 != 0,
                        });
                    }
                }
                Capability::GracefulRestart {
                    restarting: flags_time & 0x8000 != 0,
                    notification: flags_time & 0x4000 != 0,
                    restart_time: flags_time & 0x0fff,
                    families,
                }
            }
            65 => {
                if value.len() != 4 {
                    return None;
                }
                Capability::FourOctetAs(Asn(r.u32()?))
            }
            _ => unknown(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graceful_restart_flags_carry_the_r_and_n_bits() {
        let cap = Capability::GracefulRestart {
            restarting: true,
            notification: true,
            restart_time: 10,
            families: vec![GracefulRestartFamily {
                family: Family::Ipv4Unicast,
                forwarding_preserved: true,
            }],
        };
        let mut out = Vec::new();
        cap.encode(&mut out);
        // Code 64, length 6, flags R|N with time 10, AFI 1, SAFI 1, F bit.
        assert_eq!(out, [64, 6, 0xc0, 0x0a, 0, 1, 1, 0x80]);
        assert_eq!(Capability::decode(64, &out[2..]), Some(cap));
    }
}
