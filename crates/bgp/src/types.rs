//! Newtypes for the values BGP puts limits on: parse, don't validate.
//!
//! A value of one of these types is valid by construction, so the codec and the
//! session machine never re-check it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An autonomous system number (4 octets, RFC 6793).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Asn(pub u32);

impl Asn {
    /// AS_TRANS (RFC 6793): stands in for a 4-octet AS toward a 2-octet peer.
    pub const TRANS: Asn = Asn(23456);

    /// Whether this AS fits the 2-octet field of an OPEN or an old AS_PATH.
    pub fn is_two_octet(self) -> bool {
        self.0 <= u32::from(u16::MAX)
    }

    /// The value for a 2-octet field: the AS itself, or AS_TRANS when it does not fit.
    pub fn as_two_octet(self) -> u16 {
        u16::try_from(self.0).unwrap_or(23456)
    }

    /// Reserved or private ranges (RFC 6996, RFC 7300, RFC 5398, RFC 7607).
    pub fn is_private(self) -> bool {
        (64512..=65534).contains(&self.0) || (4_200_000_000..=4_294_967_294).contains(&self.0)
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Asn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Accept asplain ("65001") and asdot ("1.10") notation (RFC 5396).
        if let Some((hi, lo)) = s.split_once('.') {
            let hi: u16 = hi.parse().map_err(|_| format!("invalid AS number {s:?}"))?;
            let lo: u16 = lo.parse().map_err(|_| format!("invalid AS number {s:?}"))?;
            return Ok(Asn((u32::from(hi) << 16) | u32::from(lo)));
        }
        s.parse::<u32>()
            .map(Asn)
            .map_err(|_| format!("invalid AS number {s:?}: expected 0 to 4294967295"))
    }
}

/// A BGP identifier: a non-zero 4-octet value, written as an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "Ipv4Addr", into = "Ipv4Addr")]
pub struct RouterId(Ipv4Addr);

impl TryFrom<Ipv4Addr> for RouterId {
    type Error = String;
    fn try_from(a: Ipv4Addr) -> Result<Self, Self::Error> {
        RouterId::new(a).ok_or_else(|| "router id 0.0.0.0 is not allowed".to_string())
    }
}

impl From<RouterId> for Ipv4Addr {
    fn from(r: RouterId) -> Ipv4Addr {
        r.0
    }
}

impl RouterId {
    /// Builds an identifier; 0.0.0.0 is not one (RFC 6286).
    pub fn new(addr: Ipv4Addr) -> Option<Self> {
        (!addr.is_unspecified()).then_some(RouterId(addr))
    }

    /// The identifier as an address.
    pub fn addr(self) -> Ipv4Addr {
        self.0
    }

    /// The identifier as a number, for the comparison of collision detection.
    pub fn to_u32(self) -> u32 {
        u32::from(self.0)
    }
}

impl fmt::Display for RouterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for RouterId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let addr: Ipv4Addr = s
            .parse()
            .map_err(|_| format!("invalid router id {s:?}: expected an IPv4 address"))?;
        RouterId::new(addr).ok_or_else(|| "router id 0.0.0.0 is not allowed".to_string())
    }
}

/// A hold time in seconds: zero (no keepalives) or at least 3 (RFC 4271 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct HoldTime(u16);

impl HoldTime {
    /// The RFC's suggested default.
    pub const DEFAULT: HoldTime = HoldTime(90);
    /// No hold timer and no keepalives.
    pub const ZERO: HoldTime = HoldTime(0);

    /// Builds a hold time; 1 and 2 seconds are refused, as RFC 4271 requires.
    pub fn new(secs: u16) -> Option<Self> {
        (secs == 0 || secs >= 3).then_some(HoldTime(secs))
    }

    /// Seconds.
    pub fn secs(self) -> u16 {
        self.0
    }

    /// The negotiated hold time: the smaller of the two (RFC 4271 4.2).
    pub fn negotiate(self, other: HoldTime) -> HoldTime {
        HoldTime(self.0.min(other.0))
    }
}

impl TryFrom<u16> for HoldTime {
    type Error = String;
    fn try_from(v: u16) -> Result<Self, Self::Error> {
        HoldTime::new(v).ok_or_else(|| format!("hold time {v} s: must be 0 or at least 3"))
    }
}

impl From<HoldTime> for u16 {
    fn from(h: HoldTime) -> u16 {
        h.0
    }
}

/// Address family identifier (IANA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Afi {
    /// IPv4 (1).
    Ipv4,
    /// IPv6 (2).
    Ipv6,
}

impl Afi {
    /// The IANA code.
    pub fn code(self) -> u16 {
        match self {
            Afi::Ipv4 => 1,
            Afi::Ipv6 => 2,
        }
    }

    /// From the IANA code, if it is one hopwatch routes.
    pub fn from_code(code: u16) -> Option<Self> {
        match code {
            1 => Some(Afi::Ipv4),
            2 => Some(Afi::Ipv6),
            _ => None,
        }
    }
}

/// The address families hopwatch carries: unicast only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Family {
    /// IPv4 unicast (AFI 1, SAFI 1).
    Ipv4Unicast,
    /// IPv6 unicast (AFI 2, SAFI 1).
    Ipv6Unicast,
}

impl Family {
    /// SAFI for unicast.
    pub const SAFI_UNICAST: u8 = 1;

    /// The family's AFI.
    pub fn afi(self) -> Afi {
        match self {
            Family::Ipv4Unicast => Afi::Ipv4,
            Family::Ipv6Unicast => Afi::Ipv6,
        }
    }

    /// From AFI and SAFI codes; `None` for a family hopwatch does not carry.
    pub fn from_codes(afi: u16, safi: u8) -> Option<Self> {
        match (Afi::from_code(afi)?, safi) {
            (Afi::Ipv4, 1) => Some(Family::Ipv4Unicast),
            (Afi::Ipv6, 1) => Some(Family::Ipv6Unicast),
            _ => None,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4Unicast => "ipv4-unicast",
            Family::Ipv6Unicast => "ipv6-unicast",
        })
    }
}

/// An IP prefix whose host bits are zero and whose length fits its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

impl Prefix {
    /// Builds a prefix; host bits must be zero and the length must fit.
    pub fn new(addr: IpAddr, len: u8) -> Result<Self, String> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if len > max {
            return Err(format!("prefix length /{len} is longer than /{max}"));
        }
        let p = Prefix { addr, len };
        if p.masked() != addr {
            return Err(format!(
                "{addr}/{len} has host bits set (did you mean {}/{len}?)",
                p.masked()
            ));
        }
        Ok(p)
    }

    fn masked(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
        }
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// Whether this is the default route (length zero).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The family the prefix belongs to.
    pub fn family(&self) -> Family {
        if self.addr.is_ipv4() {
            Family::Ipv4Unicast
        } else {
            Family::Ipv6Unicast
        }
    }

    /// Whether `addr` lies inside this prefix.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match Prefix::new_masking(addr, self.len) {
            Some(p) => p == *self,
            None => false,
        }
    }

    /// Builds the prefix of length `len` that contains `addr`, clearing host bits.
    pub fn new_masking(addr: IpAddr, len: u8) -> Option<Self> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if len > max {
            return None;
        }
        let p = Prefix { addr, len };
        Some(Prefix {
            addr: p.masked(),
            len,
        })
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for Prefix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("invalid prefix {s:?}: {addr:?} is not an IP address"))?;
        let len = match len {
            Some(l) => l
                .parse::<u8>()
                .map_err(|_| format!("invalid prefix {s:?}: bad length {l:?}"))?,
            None if addr.is_ipv4() => 32,
            None => 128,
        };
        Prefix::new(addr, len).map_err(|e| format!("invalid prefix {s:?}: {e}"))
    }
}

impl Serialize for Prefix {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Prefix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_time_refuses_one_and_two_seconds() {
        assert!(HoldTime::new(0).is_some());
        assert!(HoldTime::new(1).is_none());
        assert!(HoldTime::new(2).is_none());
        assert_eq!(HoldTime::new(9).map(HoldTime::secs), Some(9));
    }

    #[test]
    fn prefix_refuses_host_bits_and_long_lengths() {
        assert!("10.0.0.1/24".parse::<Prefix>().is_err());
        assert!("10.0.0.0/33".parse::<Prefix>().is_err());
        assert_eq!("100.64.0.1".parse::<Prefix>().unwrap().len(), 32);
        assert_eq!(
            "2001:db8::/32".parse::<Prefix>().unwrap().to_string(),
            "2001:db8::/32"
        );
        assert!(
            "10.0.0.0/8"
                .parse::<Prefix>()
                .unwrap()
                .contains("10.1.2.3".parse().unwrap())
        );
    }

    #[test]
    fn asn_parses_asdot_and_maps_to_as_trans() {
        assert_eq!("1.10".parse::<Asn>().unwrap(), Asn(65546));
        assert_eq!(Asn(65546).as_two_octet(), 23456);
        assert_eq!(Asn(65001).as_two_octet(), 65001);
    }

    #[test]
    fn router_id_refuses_zero() {
        assert!("0.0.0.0".parse::<RouterId>().is_err());
    }
}
