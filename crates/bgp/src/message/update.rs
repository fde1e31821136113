//! UPDATE: encoding, and decoding with the error handling of RFC 7606.
//!
//! Decoding sorts every error into one of RFC 7606's three outcomes:
//! - **session reset**: the message cannot be parsed reliably (lengths that
//!   disagree, broken NLRI, a broken MP_REACH/MP_UNREACH): [`decode`] returns the
//!   [`Notification`] to send.
//! - **treat-as-withdraw**: an attribute that shapes the route is malformed, or a
//!   mandatory one is missing: the UPDATE's announced prefixes are turned into
//!   withdrawals and the error is reported in [`AttrError`], no NOTIFICATION.
//! - **attribute discard**: an attribute that cannot change the route is malformed:
//!   it is dropped and reported.
//!
//! A NEXT_HOP of 0.0.0.0, a multicast or a broadcast address is semantically wrong
//! (RFC 4271 6.3): the routes that use it are ignored, that is treat-as-withdraw.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::attributes::{
    AsPath, Community, LargeCommunity, MpReach, MpUnreach, Origin, PathAttributes, RawAttribute,
    code, expected_flags, flag, put_attr,
};
use super::nlri::{decode_prefixes, put_prefix};
use super::reader::Reader;
use super::{Codec, HEADER_LEN, TooLong};
use crate::notification::{ErrorCode, Notification, UpdateError};
use crate::types::{Afi, Asn, Family, Prefix};

/// An UPDATE message.
///
/// IPv4 unicast routes travel in the classic fields (`withdrawn`, `nlri` with the
/// NEXT_HOP attribute); IPv6 routes travel in MP_REACH / MP_UNREACH inside
/// `attributes`. Use [`Update::announce`] and [`Update::withdraw`] to build one
/// without caring which.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Update {
    /// Withdrawn IPv4 prefixes.
    pub withdrawn: Vec<Prefix>,
    /// Path attributes.
    pub attributes: PathAttributes,
    /// Announced IPv4 prefixes.
    pub nlri: Vec<Prefix>,
}

/// What RFC 7606 says to do about one attribute error that does not reset the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttrAction {
    /// The UPDATE's routes were handled as withdrawn.
    TreatAsWithdraw,
    /// The attribute was dropped.
    Discard,
}

/// An attribute error that was handled without a NOTIFICATION.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttrError {
    /// The attribute's type code (0 when the error is not about one attribute).
    pub type_code: u8,
    /// The UPDATE error subcode RFC 4271 would have sent.
    #[serde(serialize_with = "subcode_name")]
    pub error: UpdateError,
    /// What was done.
    pub action: AttrAction,
}

fn subcode_name<S: serde::Serializer>(e: &UpdateError, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(e.name())
}

impl Update {
    /// An UPDATE announcing `prefixes` (all of one family) via `next_hop` with the
    /// given attributes (whose next-hop and MP fields are overwritten).
    pub fn announce(
        prefixes: Vec<Prefix>,
        next_hop: IpAddr,
        mut attributes: PathAttributes,
    ) -> Self {
        attributes.mp_reach = None;
        attributes.mp_unreach = None;
        match next_hop {
            IpAddr::V4(nh) if prefixes.iter().all(|p| p.family() == Family::Ipv4Unicast) => {
                attributes.next_hop = Some(nh);
                Update {
                    withdrawn: vec![],
                    attributes,
                    nlri: prefixes,
                }
            }
            _ => {
                attributes.next_hop = None;
                let family = prefixes.first().map_or(Family::Ipv6Unicast, |p| p.family());
                attributes.mp_reach = Some(MpReach {
                    family,
                    next_hop,
                    link_local: None,
                    nlri: prefixes,
                });
                Update {
                    withdrawn: vec![],
                    attributes,
                    nlri: vec![],
                }
            }
        }
    }

    /// An UPDATE withdrawing `prefixes` (all of one family).
    pub fn withdraw(prefixes: Vec<Prefix>) -> Self {
        match prefixes.first().map(Prefix::family) {
            Some(Family::Ipv6Unicast) => Update {
                attributes: PathAttributes {
                    mp_unreach: Some(MpUnreach {
                        family: Family::Ipv6Unicast,
                        withdrawn: prefixes,
                    }),
                    ..Default::default()
                },
                ..Default::default()
            },
            _ => Update {
                withdrawn: prefixes,
                ..Default::default()
            },
        }
    }

    /// The End-of-RIB marker for `family` (RFC 4724 2).
    pub fn end_of_rib(family: Family) -> Self {
        match family {
            Family::Ipv4Unicast => Update::default(),
            Family::Ipv6Unicast => Update::withdraw_mp(family),
        }
    }

    fn withdraw_mp(family: Family) -> Self {
        Update {
            attributes: PathAttributes {
                mp_unreach: Some(MpUnreach {
                    family,
                    withdrawn: vec![],
                }),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// The family this UPDATE marks as End-of-RIB, if it is such a marker.
    pub fn end_of_rib_family(&self) -> Option<Family> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        let a = &self.attributes;
        if *a == PathAttributes::default() {
            return Some(Family::Ipv4Unicast);
        }
        let only_unreach = PathAttributes {
            mp_unreach: a.mp_unreach.clone(),
            ..Default::default()
        };
        match &a.mp_unreach {
            Some(u) if u.withdrawn.is_empty() && *a == only_unreach => Some(u.family),
            _ => None,
        }
    }

    /// Every announced prefix with its next hop, of all families.
    pub fn announced(&self) -> Vec<(Prefix, IpAddr)> {
        let mut out = Vec::new();
        if let Some(nh) = self.attributes.next_hop {
            out.extend(self.nlri.iter().map(|p| (*p, IpAddr::V4(nh))));
        }
        if let Some(r) = &self.attributes.mp_reach {
            out.extend(r.nlri.iter().map(|p| (*p, r.next_hop)));
        }
        out
    }

    /// Every withdrawn prefix, of all families.
    pub fn withdrawn_all(&self) -> Vec<Prefix> {
        let mut out = self.withdrawn.clone();
        if let Some(u) = &self.attributes.mp_unreach {
            out.extend(u.withdrawn.iter().copied());
        }
        out
    }

    /// Turns every announced prefix into a withdrawal (RFC 7606 treat-as-withdraw).
    fn into_withdrawal(mut self) -> Self {
        let nlri = std::mem::take(&mut self.nlri);
        self.withdrawn.extend(nlri);
        if let Some(reach) = self.attributes.mp_reach.take() {
            match &mut self.attributes.mp_unreach {
                Some(u) if u.family == reach.family => u.withdrawn.extend(reach.nlri),
                _ => {
                    self.attributes.mp_unreach = Some(MpUnreach {
                        family: reach.family,
                        withdrawn: reach.nlri,
                    })
                }
            }
        }
        let keep_unreach = self.attributes.mp_unreach.take();
        self.attributes = PathAttributes {
            mp_unreach: keep_unreach,
            ..Default::default()
        };
        self
    }

    pub(crate) fn encode_body(&self, codec: &Codec, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0, 0]);
        for p in &self.withdrawn {
            put_prefix(out, p);
        }
        let wlen = out.len() - start - 2;
        out[start..start + 2].copy_from_slice(&(wlen as u16).to_be_bytes());
        let astart = out.len();
        out.extend_from_slice(&[0, 0]);
        encode_attributes(&self.attributes, codec, out);
        let alen = out.len() - astart - 2;
        out[astart..astart + 2].copy_from_slice(&(alen as u16).to_be_bytes());
        for p in &self.nlri {
            put_prefix(out, p);
        }
    }

    /// The encoded size of this UPDATE, header included.
    pub fn wire_len(&self, codec: &Codec) -> usize {
        let mut body = Vec::with_capacity(64);
        self.encode_body(codec, &mut body);
        HEADER_LEN + body.len()
    }

    /// An announcement of many prefixes sharing one set of attributes, as UPDATEs
    /// that each fit a BGP message (4,096 octets): [`Update::split_to_fit`] of one
    /// announcement of them all, and no UPDATE at all for no prefix.
    ///
    /// # Errors
    /// [`TooLong`] when the attributes do not fit a message even with one prefix.
    pub fn announce_many(
        prefixes: &[Prefix],
        next_hop: IpAddr,
        attributes: &PathAttributes,
        codec: &Codec,
    ) -> Result<Vec<Update>, TooLong> {
        if prefixes.is_empty() {
            return Ok(Vec::new());
        }
        Update::announce(prefixes.to_vec(), next_hop, attributes.clone()).split_to_fit(codec)
    }
}

fn encode_attributes(a: &PathAttributes, codec: &Codec, out: &mut Vec<u8>) {
    let mut v = Vec::with_capacity(32);
    // RFC 7606 5.1: MP_REACH_NLRI / MP_UNREACH_NLRI SHALL be the very first
    // attribute, so that a receiver can still find the NLRI when a later attribute
    // is malformed. The others follow in ascending type order (RFC 4271 5).
    if let Some(r) = &a.mp_reach {
        v.clear();
        v.extend_from_slice(&r.family.afi().code().to_be_bytes());
        v.push(Family::SAFI_UNICAST);
        match (r.next_hop, r.link_local) {
            (IpAddr::V4(nh), _) => {
                v.push(4);
                v.extend_from_slice(&nh.octets());
            }
            (IpAddr::V6(nh), None) => {
                v.push(16);
                v.extend_from_slice(&nh.octets());
            }
            (IpAddr::V6(nh), Some(ll)) => {
                v.push(32);
                v.extend_from_slice(&nh.octets());
                v.extend_from_slice(&ll.octets());
            }
        }
        v.push(0);
        for p in &r.nlri {
            put_prefix(&mut v, p);
        }
        put_attr(out, flag::OPTIONAL, code::MP_REACH, &v);
    }
    if let Some(u) = &a.mp_unreach {
        v.clear();
        v.extend_from_slice(&u.family.afi().code().to_be_bytes());
        v.push(Family::SAFI_UNICAST);
        for p in &u.withdrawn {
            put_prefix(&mut v, p);
        }
        put_attr(out, flag::OPTIONAL, code::MP_UNREACH, &v);
    }
    if let Some(o) = a.origin {
        put_attr(out, flag::TRANSITIVE, code::ORIGIN, &[o.to_u8()]);
    }
    let mut as4_path = None;
    if let Some(path) = &a.as_path {
        v.clear();
        path.encode(codec.four_octet_as, false, &mut v);
        put_attr(out, flag::TRANSITIVE, code::AS_PATH, &v);
        if !codec.four_octet_as && path.needs_four_octets() {
            let mut v4 = Vec::new();
            path.encode(true, true, &mut v4);
            as4_path = Some(v4);
        }
    }
    if let Some(nh) = a.next_hop {
        put_attr(out, flag::TRANSITIVE, code::NEXT_HOP, &nh.octets());
    }
    if let Some(med) = a.med {
        put_attr(out, flag::OPTIONAL, code::MED, &med.to_be_bytes());
    }
    if let Some(lp) = a.local_pref {
        put_attr(out, flag::TRANSITIVE, code::LOCAL_PREF, &lp.to_be_bytes());
    }
    if a.atomic_aggregate {
        put_attr(out, flag::TRANSITIVE, code::ATOMIC_AGGREGATE, &[]);
    }
    let mut as4_aggregator = None;
    if let Some((asn, addr)) = a.aggregator {
        v.clear();
        if codec.four_octet_as {
            v.extend_from_slice(&asn.0.to_be_bytes());
        } else {
            v.extend_from_slice(&asn.as_two_octet().to_be_bytes());
            if !asn.is_two_octet() {
                let mut v4 = asn.0.to_be_bytes().to_vec();
                v4.extend_from_slice(&addr.octets());
                as4_aggregator = Some(v4);
            }
        }
        v.extend_from_slice(&addr.octets());
        put_attr(out, flag::OPTIONAL | flag::TRANSITIVE, code::AGGREGATOR, &v);
    }
    if !a.communities.is_empty() {
        v.clear();
        for c in &a.communities {
            v.extend_from_slice(&c.0.to_be_bytes());
        }
        put_attr(
            out,
            flag::OPTIONAL | flag::TRANSITIVE,
            code::COMMUNITIES,
            &v,
        );
    }
    if let Some(v4) = as4_path {
        put_attr(out, flag::OPTIONAL | flag::TRANSITIVE, code::AS4_PATH, &v4);
    }
    if let Some(v4) = as4_aggregator {
        put_attr(
            out,
            flag::OPTIONAL | flag::TRANSITIVE,
            code::AS4_AGGREGATOR,
            &v4,
        );
    }
    if !a.large_communities.is_empty() {
        v.clear();
        for c in &a.large_communities {
            v.extend_from_slice(&c.global.to_be_bytes());
            v.extend_from_slice(&c.local1.to_be_bytes());
            v.extend_from_slice(&c.local2.to_be_bytes());
        }
        put_attr(
            out,
            flag::OPTIONAL | flag::TRANSITIVE,
            code::LARGE_COMMUNITIES,
            &v,
        );
    }
    for raw in &a.unknown {
        put_attr(out, raw.flags, raw.type_code, &raw.value);
    }
}

/// A decoded UPDATE and the attribute errors handled without a NOTIFICATION.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedUpdate {
    /// The UPDATE, already turned into a withdrawal if an error asked for that.
    pub update: Update,
    /// Errors that were handled by treat-as-withdraw or attribute discard.
    pub errors: Vec<AttrError>,
}

fn reset(e: UpdateError) -> Notification {
    Notification::bare(ErrorCode::Update(e))
}

/// Decodes an UPDATE body (after the header).
pub(crate) fn decode(body: &[u8], codec: &Codec) -> Result<DecodedUpdate, Notification> {
    let mut r = Reader::new(body);
    let malformed = || reset(UpdateError::MalformedAttributeList);
    let wlen = usize::from(r.u16().ok_or_else(malformed)?);
    let wdata = r.take(wlen).ok_or_else(malformed)?;
    let alen = usize::from(r.u16().ok_or_else(malformed)?);
    let adata = r.take(alen).ok_or_else(malformed)?;
    let ndata = r.rest();

    // Withdrawn routes and NLRI must parse, or nothing can be trusted (RFC 7606 5.3).
    let withdrawn = decode_prefixes(wdata, Afi::Ipv4).ok_or_else(malformed)?;
    let nlri =
        decode_prefixes(ndata, Afi::Ipv4).ok_or_else(|| reset(UpdateError::InvalidNetworkField))?;

    let mut errors = Vec::new();
    let mut attrs = PathAttributes::default();
    let mut seen = [false; 256];
    let mut as4_path: Option<AsPath> = None;
    let mut as4_aggregator: Option<(Asn, Ipv4Addr)> = None;
    let withdraw = |errors: &mut Vec<AttrError>, type_code, error| {
        errors.push(AttrError {
            type_code,
            error,
            action: AttrAction::TreatAsWithdraw,
        });
    };
    let discard = |errors: &mut Vec<AttrError>, type_code, error| {
        errors.push(AttrError {
            type_code,
            error,
            action: AttrAction::Discard,
        });
    };

    let mut ar = Reader::new(adata);
    while !ar.is_empty() {
        let Some(flags) = ar.u8() else { break };
        let Some(type_code) = ar.u8() else {
            withdraw(&mut errors, 0, UpdateError::MalformedAttributeList);
            break;
        };
        let len = if flags & flag::EXTENDED_LENGTH != 0 {
            ar.u16().map(usize::from)
        } else {
            ar.u8().map(usize::from)
        };
        let Some(value) = len.and_then(|l| ar.take(l)) else {
            // The attribute overruns the attribute area. The IPv4 NLRI can still be
            // located, so treat-as-withdraw; MP routes cannot, so reset if any were
            // there or may have been (RFC 7606 4, 5.3).
            if type_code == code::MP_REACH || type_code == code::MP_UNREACH {
                return Err(reset(UpdateError::OptionalAttributeError));
            }
            withdraw(&mut errors, type_code, UpdateError::AttributeLengthError);
            break;
        };
        let idx = usize::from(type_code);
        if seen[idx] {
            // Duplicates: MP ones make the NLRI ambiguous (reset); others: keep the
            // first and discard the rest (RFC 7606 3 g).
            if type_code == code::MP_REACH || type_code == code::MP_UNREACH {
                return Err(malformed());
            }
            discard(&mut errors, type_code, UpdateError::MalformedAttributeList);
            continue;
        }
        seen[idx] = true;

        let Some(want) = expected_flags(type_code) else {
            if flags & flag::OPTIONAL == 0 {
                // A well-known attribute we do not know: RFC 4271 6.3, data is the
                // attribute itself.
                let mut data = Vec::new();
                put_attr(&mut data, flags, type_code, value);
                return Err(Notification::new(
                    ErrorCode::Update(UpdateError::UnrecognizedWellKnownAttribute),
                    data,
                ));
            }
            if flags & flag::TRANSITIVE != 0 {
                // Passed on with the Partial bit set (RFC 4271 5).
                attrs.unknown.push(RawAttribute {
                    flags: flags | flag::PARTIAL,
                    type_code,
                    value: value.to_vec(),
                });
            }
            continue;
        };
        if flags & (flag::OPTIONAL | flag::TRANSITIVE) != want {
            match type_code {
                code::MP_REACH | code::MP_UNREACH => {
                    return Err(reset(UpdateError::AttributeFlagsError));
                }
                code::ATOMIC_AGGREGATE
                | code::AGGREGATOR
                | code::AS4_PATH
                | code::AS4_AGGREGATOR => {
                    discard(&mut errors, type_code, UpdateError::AttributeFlagsError)
                }
                _ => withdraw(&mut errors, type_code, UpdateError::AttributeFlagsError),
            }
            continue;
        }
        let mut vr = Reader::new(value);
        match type_code {
            code::ORIGIN => match (value.len(), value.first().and_then(|v| Origin::from_u8(*v))) {
                (1, Some(o)) => attrs.origin = Some(o),
                (1, None) => withdraw(&mut errors, type_code, UpdateError::InvalidOrigin),
                _ => withdraw(&mut errors, type_code, UpdateError::AttributeLengthError),
            },
            code::AS_PATH => match AsPath::decode(value, codec.four_octet_as) {
                Some(p) => attrs.as_path = Some(p),
                None => withdraw(&mut errors, type_code, UpdateError::MalformedAsPath),
            },
            code::NEXT_HOP => match vr.array::<4>() {
                Some(a) if value.len() == 4 => {
                    let nh = Ipv4Addr::from(a);
                    if nh.is_unspecified() || nh.is_multicast() || nh.is_broadcast() {
                        withdraw(&mut errors, type_code, UpdateError::InvalidNextHop);
                    } else {
                        attrs.next_hop = Some(nh);
                    }
                }
                _ => withdraw(&mut errors, type_code, UpdateError::AttributeLengthError),
            },
            code::MED => match vr.u32() {
                Some(v) if value.len() == 4 => attrs.med = Some(v),
                _ => withdraw(&mut errors, type_code, UpdateError::AttributeLengthError),
            },
            code::LOCAL_PREF => match vr.u32() {
                Some(v) if value.len() == 4 => attrs.local_pref = Some(v),
                _ => withdraw(&mut errors, type_code, UpdateError::AttributeLengthError),
            },
            code::ATOMIC_AGGREGATE => {
                if value.is_empty() {
                    attrs.atomic_aggregate = true;
                } else {
                    discard(&mut errors, type_code, UpdateError::AttributeLengthError);
                }
            }
            code::AGGREGATOR => {
                let width = if codec.four_octet_as { 8 } else { 6 };
                if value.len() != width {
                    discard(&mut errors, type_code, UpdateError::AttributeLengthError);
                } else {
                    let asn = if codec.four_octet_as {
                        vr.u32()
                    } else {
                        vr.u16().map(u32::from)
                    };
                    if let (Some(asn), Some(addr)) = (asn, vr.u32()) {
                        attrs.aggregator = Some((Asn(asn), Ipv4Addr::from(addr)));
                    }
                }
            }
            code::COMMUNITIES => {
                // RFC 7606 7.8: malformed unless a non-zero multiple of 4.
                if value.is_empty() || value.len() % 4 != 0 {
                    withdraw(&mut errors, type_code, UpdateError::OptionalAttributeError);
                } else {
                    attrs.communities = value
                        .chunks_exact(4)
                        .map(|c| Community(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                        .collect();
                }
            }
            code::LARGE_COMMUNITIES => {
                if value.is_empty() || value.len() % 12 != 0 {
                    withdraw(&mut errors, type_code, UpdateError::OptionalAttributeError);
                } else {
                    attrs.large_communities = value
                        .chunks_exact(12)
                        .map(|c| {
                            let w =
                                |i: usize| u32::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
                            LargeCommunity {
                                global: w(0),
                                local1: w(4),
                                local2: w(8),
                            }
                        })
                        .collect();
                }
            }
            code::MP_REACH => match decode_mp_reach(value) {
                Ok(Some(reach)) => attrs.mp_reach = Some(reach),
                // A family hopwatch does not carry: ignore it (RFC 4760 7).
                Ok(None) => {}
                Err(()) => return Err(reset(UpdateError::OptionalAttributeError)),
            },
            code::MP_UNREACH => match decode_mp_unreach(value) {
                Ok(Some(u)) => attrs.mp_unreach = Some(u),
                Ok(None) => {}
                Err(()) => return Err(reset(UpdateError::OptionalAttributeError)),
            },
            code::AS4_PATH => match AsPath::decode(value, true) {
                Some(p) => as4_path = Some(p),
                None => discard(&mut errors, type_code, UpdateError::MalformedAsPath),
            },
            code::AS4_AGGREGATOR => match (value.len(), vr.u32(), vr.u32()) {
                (8, Some(asn), Some(addr)) => {
                    as4_aggregator = Some((Asn(asn), Ipv4Addr::from(addr)))
                }
                _ => discard(&mut errors, type_code, UpdateError::AttributeLengthError),
            },
            _ => {}
        }
    }

    // RFC 6793 4.2.3: a 4-octet speaker ignores AS4_* attributes; a 2-octet session
    // merges them into the real path.
    if !codec.four_octet_as {
        if let (Some(path), Some(as4)) = (&attrs.as_path, &as4_path) {
            attrs.as_path = Some(path.merge_as4(as4));
        }
        if let (Some((Asn::TRANS, _)), Some(agg)) = (attrs.aggregator, as4_aggregator) {
            attrs.aggregator = Some(agg);
        }
    }

    let mut update = Update {
        withdrawn,
        attributes: attrs,
        nlri,
    };
    let reaches = !update.nlri.is_empty() || update.attributes.mp_reach.is_some();
    if reaches
        && !errors
            .iter()
            .any(|e| e.action == AttrAction::TreatAsWithdraw)
    {
        // Mandatory attributes (RFC 4271 5, RFC 7606 3 d): missing ones make the
        // UPDATE's routes unusable.
        let a = &update.attributes;
        let missing = if a.origin.is_none() {
            Some(code::ORIGIN)
        } else if a.as_path.is_none() {
            Some(code::AS_PATH)
        } else if !update.nlri.is_empty() && a.next_hop.is_none() {
            Some(code::NEXT_HOP)
        } else {
            None
        };
        if let Some(type_code) = missing {
            withdraw(
                &mut errors,
                type_code,
                UpdateError::MissingWellKnownAttribute,
            );
        }
    }
    if errors
        .iter()
        .any(|e| e.action == AttrAction::TreatAsWithdraw)
    {
        update = update.into_withdrawal();
    }
    Ok(DecodedUpdate { update, errors })
}

/// `Ok(None)` for a family hopwatch does not carry; `Err` when malformed.
fn decode_mp_reach(value: &[u8]) -> Result<Option<MpReach>, ()> {
    let mut r = Reader::new(value);
    let afi = r.u16().ok_or(())?;
    let safi = r.u8().ok_or(())?;
    let nh_len = usize::from(r.u8().ok_or(())?);
    let nh = r.take(nh_len).ok_or(())?;
    let _reserved = r.u8().ok_or(())?;
    let Some(family) = Family::from_codes(afi, safi) else {
        return Ok(None);
    };
    let (next_hop, link_local) = match (family, nh_len) {
        (Family::Ipv4Unicast, 4) => {
            let a: [u8; 4] = nh.try_into().map_err(|_| ())?;
            (IpAddr::V4(Ipv4Addr::from(a)), None)
        }
        (Family::Ipv6Unicast, 16) => {
            let a: [u8; 16] = nh.try_into().map_err(|_| ())?;
            (IpAddr::V6(Ipv6Addr::from(a)), None)
        }
        (Family::Ipv6Unicast, 32) => {
            let g: [u8; 16] = nh.get(..16).and_then(|s| s.try_into().ok()).ok_or(())?;
            let l: [u8; 16] = nh.get(16..).and_then(|s| s.try_into().ok()).ok_or(())?;
            (IpAddr::V6(Ipv6Addr::from(g)), Some(Ipv6Addr::from(l)))
        }
        _ => return Err(()),
    };
    let nlri = decode_prefixes(r.rest(), family.afi()).ok_or(())?;
    Ok(Some(MpReach {
        family,
        next_hop,
        link_local,
        nlri,
    }))
}

fn decode_mp_unreach(value: &[u8]) -> Result<Option<MpUnreach>, ()> {
    let mut r = Reader::new(value);
    let afi = r.u16().ok_or(())?;
    let safi = r.u8().ok_or(())?;
    let Some(family) = Family::from_codes(afi, safi) else {
        return Ok(None);
    };
    let withdrawn = decode_prefixes(r.rest(), family.afi()).ok_or(())?;
    Ok(Some(MpUnreach { family, withdrawn }))
}
