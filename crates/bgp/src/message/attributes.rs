//! Path attributes (RFC 4271 4.3, 5) and how each one's errors are handled (RFC 7606).
//!
//! hopwatch holds every AS number in 4 octets. Toward a peer that did not negotiate
//! 4-octet AS, the encoder writes AS_TRANS into AS_PATH and AGGREGATOR and adds
//! AS4_PATH / AS4_AGGREGATOR; from such a peer, the decoder merges them back
//! (RFC 6793 4.2.3), so the rest of hopwatch never sees a 2-octet path.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::types::{Asn, Family, Prefix};

/// Attribute type codes.
pub mod code {
    /// ORIGIN.
    pub const ORIGIN: u8 = 1;
    /// AS_PATH.
    pub const AS_PATH: u8 = 2;
    /// NEXT_HOP.
    pub const NEXT_HOP: u8 = 3;
    /// MULTI_EXIT_DISC.
    pub const MED: u8 = 4;
    /// LOCAL_PREF.
    pub const LOCAL_PREF: u8 = 5;
    /// ATOMIC_AGGREGATE.
    pub const ATOMIC_AGGREGATE: u8 = 6;
    /// AGGREGATOR.
    pub const AGGREGATOR: u8 = 7;
    /// COMMUNITIES (RFC 1997).
    pub const COMMUNITIES: u8 = 8;
    /// MP_REACH_NLRI (RFC 4760).
    pub const MP_REACH: u8 = 14;
    /// MP_UNREACH_NLRI (RFC 4760).
    pub const MP_UNREACH: u8 = 15;
    /// AS4_PATH (RFC 6793).
    pub const AS4_PATH: u8 = 17;
    /// AS4_AGGREGATOR (RFC 6793).
    pub const AS4_AGGREGATOR: u8 = 18;
    /// LARGE_COMMUNITY (RFC 8092).
    pub const LARGE_COMMUNITIES: u8 = 32;
}

/// Attribute flag bits.
pub mod flag {
    /// Optional (vs well-known).
    pub const OPTIONAL: u8 = 0x80;
    /// Transitive.
    pub const TRANSITIVE: u8 = 0x40;
    /// Partial: an optional transitive attribute some speaker did not recognise.
    pub const PARTIAL: u8 = 0x20;
    /// The length field is two octets.
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

/// ORIGIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Learned from an interior protocol (0).
    Igp,
    /// Learned from EGP (1).
    Egp,
    /// Learned some other way (2).
    Incomplete,
}

impl Origin {
    /// From the wire value.
    pub fn from_u8(v: u8) -> Option<Origin> {
        match v {
            0 => Some(Origin::Igp),
            1 => Some(Origin::Egp),
            2 => Some(Origin::Incomplete),
            _ => None,
        }
    }

    /// The wire value.
    pub fn to_u8(self) -> u8 {
        self as u8
    }
}

/// The kind of an AS_PATH segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SegmentKind {
    /// AS_SET (1).
    Set,
    /// AS_SEQUENCE (2).
    Sequence,
    /// AS_CONFED_SEQUENCE (3, RFC 5065).
    ConfedSequence,
    /// AS_CONFED_SET (4, RFC 5065).
    ConfedSet,
}

impl SegmentKind {
    pub(crate) fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(SegmentKind::Set),
            2 => Some(SegmentKind::Sequence),
            3 => Some(SegmentKind::ConfedSequence),
            4 => Some(SegmentKind::ConfedSet),
            _ => None,
        }
    }

    pub(crate) fn to_u8(self) -> u8 {
        match self {
            SegmentKind::Set => 1,
            SegmentKind::Sequence => 2,
            SegmentKind::ConfedSequence => 3,
            SegmentKind::ConfedSet => 4,
        }
    }

    fn is_confed(self) -> bool {
        matches!(self, SegmentKind::ConfedSequence | SegmentKind::ConfedSet)
    }
}

/// One AS_PATH segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Segment {
    /// Sequence, set, or their confederation forms.
    pub kind: SegmentKind,
    /// The AS numbers, at most 255 in one segment on the wire.
    pub asns: Vec<Asn>,
}

/// An AS_PATH, always with 4-octet AS numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AsPath {
    /// Segments in order.
    pub segments: Vec<Segment>,
}

impl AsPath {
    /// A path of one AS_SEQUENCE (empty for an empty list).
    pub fn sequence(asns: impl IntoIterator<Item = Asn>) -> Self {
        let asns: Vec<Asn> = asns.into_iter().collect();
        if asns.is_empty() {
            return AsPath::default();
        }
        AsPath {
            segments: vec![Segment {
                kind: SegmentKind::Sequence,
                asns,
            }],
        }
    }

    /// The path length for best-path selection: a set counts one, confederation
    /// segments count nothing (RFC 4271 9.1.2.2, RFC 5065).
    pub fn path_len(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.kind {
                SegmentKind::Sequence => s.asns.len(),
                SegmentKind::Set => 1,
                _ => 0,
            })
            .sum()
    }

    /// Whether any segment holds `asn` (loop detection).
    pub fn contains(&self, asn: Asn) -> bool {
        self.segments.iter().any(|s| s.asns.contains(&asn))
    }

    /// Every AS number in order, flattened.
    pub fn asns(&self) -> impl Iterator<Item = Asn> + '_ {
        self.segments.iter().flat_map(|s| s.asns.iter().copied())
    }

    /// The path with `asn` prepended, as an eBGP speaker sends it.
    pub fn prepend(&self, asn: Asn) -> AsPath {
        let mut segments = self.segments.clone();
        match segments.first_mut() {
            Some(s) if s.kind == SegmentKind::Sequence && s.asns.len() < 255 => {
                s.asns.insert(0, asn)
            }
            _ => segments.insert(
                0,
                Segment {
                    kind: SegmentKind::Sequence,
                    asns: vec![asn],
                },
            ),
        }
        AsPath { segments }
    }

    /// Whether any AS number needs 4 octets.
    pub(crate) fn needs_four_octets(&self) -> bool {
        self.asns().any(|a| !a.is_two_octet())
    }

    /// Encodes the segments with 2- or 4-octet AS numbers; 2-octet output maps large
    /// numbers to AS_TRANS. Segments longer than 255 are split.
    pub(crate) fn encode(&self, four_octet: bool, skip_confed: bool, out: &mut Vec<u8>) {
        for seg in &self.segments {
            if skip_confed && seg.kind.is_confed() {
                continue;
            }
            for chunk in seg.asns.chunks(255) {
                out.push(seg.kind.to_u8());
                out.push(chunk.len() as u8);
                for asn in chunk {
                    if four_octet {
                        out.extend_from_slice(&asn.0.to_be_bytes());
                    } else {
                        out.extend_from_slice(&asn.as_two_octet().to_be_bytes());
                    }
                }
            }
        }
    }

    /// Decodes segments; `None` when malformed (RFC 7606 7.2: bad segment type,
    /// zero count, overrun).
    pub(crate) fn decode(mut value: &[u8], four_octet: bool) -> Option<AsPath> {
        let width = if four_octet { 4 } else { 2 };
        let mut segments = Vec::new();
        while !value.is_empty() {
            let (&kind, rest) = value.split_first()?;
            let (&count, rest) = rest.split_first()?;
            let kind = SegmentKind::from_u8(kind)?;
            if count == 0 {
                return None;
            }
            let bytes = usize::from(count) * width;
            let data = rest.get(..bytes)?;
            let asns = data
                .chunks_exact(width)
                .map(|c| match c {
                    [a, b] => Asn(u32::from(u16::from_be_bytes([*a, *b]))),
                    [a, b, c, d] => Asn(u32::from_be_bytes([*a, *b, *c, *d])),
                    _ => Asn(0),
                })
                .collect();
            segments.push(Segment { kind, asns });
            value = &rest[bytes..];
        }
        Some(AsPath { segments })
    }

    /// RFC 6793 4.2.3: rebuild the real path from a 2-octet AS_PATH and an AS4_PATH.
    pub(crate) fn merge_as4(&self, as4: &AsPath) -> AsPath {
        let n = self.path_len();
        let m = as4.path_len();
        if n < m {
            // The AS4_PATH is not credible: keep AS_PATH as it is.
            return self.clone();
        }
        // Keep the first n - m path positions of AS_PATH (with confederation
        // segments, which count nothing), then append AS4_PATH.
        let mut keep = n - m;
        let mut segments = Vec::new();
        for seg in &self.segments {
            if seg.kind.is_confed() {
                segments.push(seg.clone());
                continue;
            }
            if keep == 0 {
                break;
            }
            match seg.kind {
                SegmentKind::Set => {
                    segments.push(seg.clone());
                    keep -= 1;
                }
                _ => {
                    let take = keep.min(seg.asns.len());
                    segments.push(Segment {
                        kind: seg.kind,
                        asns: seg.asns[..take].to_vec(),
                    });
                    keep -= take;
                }
            }
        }
        segments.extend(as4.segments.iter().cloned());
        AsPath { segments }
    }
}

impl fmt::Display for AsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.segments {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            let (open, close) = match seg.kind {
                SegmentKind::Sequence => ("", ""),
                SegmentKind::Set => ("{", "}"),
                SegmentKind::ConfedSequence => ("(", ")"),
                SegmentKind::ConfedSet => ("[", "]"),
            };
            f.write_str(open)?;
            for (i, a) in seg.asns.iter().enumerate() {
                if i > 0 {
                    f.write_str(if seg.kind == SegmentKind::Set {
                        ","
                    } else {
                        " "
                    })?;
                }
                write!(f, "{a}")?;
            }
            f.write_str(close)?;
        }
        Ok(())
    }
}

impl Serialize for AsPath {
    /// A flat list of AS numbers when the path is one sequence (the common case),
    /// otherwise the string form with `{sets}` and `(confederations)`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self
            .segments
            .iter()
            .all(|seg| seg.kind == SegmentKind::Sequence)
        {
            s.collect_seq(self.asns().map(|a| a.0))
        } else {
            s.collect_str(self)
        }
    }
}

/// A standard community (RFC 1997), written `ASN:VALUE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0 >> 16, self.0 & 0xffff)
    }
}

impl FromStr for Community {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "no-export" => return Ok(Community(0xFFFF_FF01)),
            "no-advertise" => return Ok(Community(0xFFFF_FF02)),
            "no-export-subconfed" => return Ok(Community(0xFFFF_FF03)),
            _ => {}
        }
        let (hi, lo) = s
            .split_once(':')
            .ok_or_else(|| format!("invalid community {s:?}: expected ASN:VALUE"))?;
        let hi: u16 = hi
            .parse()
            .map_err(|_| format!("invalid community {s:?}: {hi:?}"))?;
        let lo: u16 = lo
            .parse()
            .map_err(|_| format!("invalid community {s:?}: {lo:?}"))?;
        Ok(Community((u32::from(hi) << 16) | u32::from(lo)))
    }
}

impl Serialize for Community {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A large community (RFC 8092), written `GLOBAL:LOCAL1:LOCAL2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    /// Global administrator (an AS).
    pub global: u32,
    /// First local data part.
    pub local1: u32,
    /// Second local data part.
    pub local2: u32,
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.global, self.local1, self.local2)
    }
}

impl FromStr for LargeCommunity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(':').collect();
        let [g, l1, l2] = parts.as_slice() else {
            return Err(format!("invalid large community {s:?}: expected A:B:C"));
        };
        let p = |v: &str| {
            v.parse::<u32>()
                .map_err(|_| format!("invalid large community {s:?}"))
        };
        Ok(LargeCommunity {
            global: p(g)?,
            local1: p(l1)?,
            local2: p(l2)?,
        })
    }
}

impl Serialize for LargeCommunity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An attribute hopwatch does not interpret, kept to be passed on (optional
/// transitive) as RFC 4271 5 asks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct RawAttribute {
    /// Flags as received (the extended-length bit is recomputed on encode).
    pub flags: u8,
    /// Type code.
    pub type_code: u8,
    /// Value as received.
    #[serde(serialize_with = "hex")]
    pub value: Vec<u8>,
}

fn hex<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&v.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// MP_REACH_NLRI: reachable routes of a family other than plain IPv4 (RFC 4760).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MpReach {
    /// Address family.
    pub family: Family,
    /// Next hop (global address for IPv6).
    pub next_hop: IpAddr,
    /// IPv6 link-local next hop, when the sender gave one (RFC 2545).
    pub link_local: Option<Ipv6Addr>,
    /// Reachable prefixes.
    pub nlri: Vec<Prefix>,
}

/// MP_UNREACH_NLRI: withdrawn routes of a family other than plain IPv4.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MpUnreach {
    /// Address family.
    pub family: Family,
    /// Withdrawn prefixes.
    pub withdrawn: Vec<Prefix>,
}

/// The path attributes of an UPDATE, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct PathAttributes {
    /// ORIGIN (well-known mandatory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// AS_PATH (well-known mandatory), 4-octet after any AS4_PATH merge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_path: Option<AsPath>,
    /// NEXT_HOP (well-known mandatory when IPv4 NLRI is present).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<Ipv4Addr>,
    /// MULTI_EXIT_DISC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub med: Option<u32>,
    /// LOCAL_PREF.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<u32>,
    /// ATOMIC_AGGREGATE.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub atomic_aggregate: bool,
    /// AGGREGATOR: AS and address of the aggregating speaker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregator: Option<(Asn, Ipv4Addr)>,
    /// COMMUNITIES.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<Community>,
    /// LARGE_COMMUNITY.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub large_communities: Vec<LargeCommunity>,
    /// MP_REACH_NLRI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mp_reach: Option<MpReach>,
    /// MP_UNREACH_NLRI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mp_unreach: Option<MpUnreach>,
    /// Optional transitive attributes hopwatch does not know, passed on unchanged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<RawAttribute>,
}

/// The flags a known attribute must carry (optional and transitive bits), or
/// `None` for an attribute hopwatch does not know.
pub(crate) fn expected_flags(type_code: u8) -> Option<u8> {
    use code::*;
    Some(match type_code {
        ORIGIN | AS_PATH | NEXT_HOP | LOCAL_PREF | ATOMIC_AGGREGATE => flag::TRANSITIVE,
        MED | MP_REACH | MP_UNREACH => flag::OPTIONAL,
        AGGREGATOR | COMMUNITIES | AS4_PATH | AS4_AGGREGATOR | LARGE_COMMUNITIES => {
            flag::OPTIONAL | flag::TRANSITIVE
        }
        _ => return None,
    })
}

/// Writes one attribute header and value, choosing the length field's size.
pub(crate) fn put_attr(out: &mut Vec<u8>, flags: u8, type_code: u8, value: &[u8]) {
    let flags = flags & !flag::EXTENDED_LENGTH;
    if value.len() > 255 {
        out.push(flags | flag::EXTENDED_LENGTH);
        out.push(type_code);
        // Callers keep a message under 4096 octets, so the value fits 16 bits.
        out.extend_from_slice(&(value.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
    } else {
        out.push(flags);
        out.push(type_code);
        out.push(value.len() as u8);
    }
    out.extend_from_slice(value);
}
