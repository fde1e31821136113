//! Keeping every UPDATE within the largest message the peer accepts.
//!
//! A BGP message is at most 4,096 octets (RFC 4271 4.1). RFC 8654's extended
//! messages (65,535) need a capability that hopwatch neither sends nor accepts, so
//! the negotiated maximum is always 4,096 ([`Codec::max_message_len`]). A message
//! over it is refused by the peer with NOTIFICATION 1/2 (Bad Message Length), which
//! resets the session and drops every route on it, so the encoder never emits one:
//!
//! - an UPDATE that fits is encoded as it is (the common case costs one length check);
//! - one that does not is **split where the protocol allows**: withdrawals and
//!   announced prefixes can travel in several UPDATEs, each announcement carrying the
//!   same attributes (RFC 4271 4.3: the attributes apply to every prefix of the
//!   UPDATE, so spreading the prefixes changes nothing). Withdrawals go first, as
//!   they are processed first within one UPDATE;
//! - one whose attributes do not fit even with a single prefix **cannot be sent**:
//!   attributes cannot be cut without changing the route. That is a [`TooLong`]
//!   error for the caller, never a truncated message and never a panic.

use std::fmt;

use super::attributes::{MpReach, MpUnreach, PathAttributes};
use super::nlri::prefix_wire_len;
use super::update::Update;
use super::{Codec, MAX_MESSAGE_LEN, encode_update_into};
use crate::types::Prefix;

/// An UPDATE whose attributes are too long for one message, even with one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLong {
    /// The octets the smallest message carrying the route would take.
    pub len: usize,
    /// The largest message allowed.
    pub max: usize,
    /// The first prefix that cannot be sent (`None` for an UPDATE without prefixes).
    pub prefix: Option<Prefix>,
}

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix {
            Some(p) => write!(f, "the UPDATE for {p} would be {} octets", self.len)?,
            None => write!(f, "the UPDATE would be {} octets", self.len)?,
        }
        write!(
            f,
            "; a BGP message holds at most {} octets (RFC 4271 4.1)",
            self.max
        )
    }
}

impl std::error::Error for TooLong {}

impl Codec {
    /// The largest message either side may send: 4,096 octets, as hopwatch does not
    /// negotiate RFC 8654's extended messages.
    pub fn max_message_len(&self) -> usize {
        MAX_MESSAGE_LEN
    }
}

impl Update {
    /// This UPDATE as messages that each fit [`Codec::max_message_len`]: itself when
    /// it fits, otherwise its withdrawals and its announced prefixes spread over
    /// several UPDATEs (withdrawals first, announcements sharing the attributes).
    ///
    /// # Errors
    /// [`TooLong`] when the attributes do not fit a message even with one prefix.
    pub fn split_to_fit(&self, codec: &Codec) -> Result<Vec<Update>, TooLong> {
        let max = codec.max_message_len();
        let len = self.wire_len(codec);
        if len <= max {
            return Ok(vec![self.clone()]);
        }
        let mut out = Vec::new();
        chunk(&self.withdrawn, codec, &mut out, |withdrawn| Update {
            withdrawn,
            ..Default::default()
        })?;
        if let Some(u) = &self.attributes.mp_unreach {
            chunk(&u.withdrawn, codec, &mut out, |withdrawn| Update {
                attributes: PathAttributes {
                    mp_unreach: Some(MpUnreach {
                        family: u.family,
                        withdrawn,
                    }),
                    ..Default::default()
                },
                ..Default::default()
            })?;
        }
        let common = PathAttributes {
            mp_reach: None,
            mp_unreach: None,
            ..self.attributes.clone()
        };
        chunk(&self.nlri, codec, &mut out, |nlri| Update {
            withdrawn: Vec::new(),
            attributes: common.clone(),
            nlri,
        })?;
        if let Some(r) = &self.attributes.mp_reach {
            // NEXT_HOP only serves IPv4 NLRI in the classic field (RFC 4760 3).
            let attributes = PathAttributes {
                next_hop: None,
                ..common.clone()
            };
            chunk(&r.nlri, codec, &mut out, |nlri| Update {
                withdrawn: Vec::new(),
                attributes: PathAttributes {
                    mp_reach: Some(MpReach { nlri, ..r.clone() }),
                    ..attributes.clone()
                },
                nlri: Vec::new(),
            })?;
        }
        if out.is_empty() {
            // Attributes and no prefix at all: nothing to spread, nothing to send.
            return Err(TooLong {
                len,
                max,
                prefix: None,
            });
        }
        Ok(out)
    }
}

/// Appends UPDATEs built by `make` from consecutive runs of `prefixes`, each run as
/// long as fits.
///
/// A run's size is kept as an upper bound: the empty UPDATE, plus each prefix's
/// NLRI length, plus the one octet an attribute's length field gains when its value
/// passes 255 octets (MP_REACH_NLRI carrying the prefixes). Only where the bound
/// says a prefix does not fit is the run encoded to know exactly, so the common
/// case costs an addition and a message is filled to the last octet, never past it.
/// Prefixes differ in length: the one that ends a run is checked again alone, as it
/// may be the one that cannot start the next.
fn chunk(
    prefixes: &[Prefix],
    codec: &Codec,
    out: &mut Vec<Update>,
    make: impl Fn(Vec<Prefix>) -> Update,
) -> Result<(), TooLong> {
    if prefixes.is_empty() {
        return Ok(());
    }
    let max = codec.max_message_len();
    let empty = make(Vec::new()).wire_len(codec) + 1;
    let exact = |run: &[Prefix], p: &Prefix| {
        let mut with = run.to_vec();
        with.push(*p);
        make(with).wire_len(codec)
    };
    let mut run = Vec::new();
    let mut bound = empty;
    for p in prefixes {
        let n = prefix_wire_len(p);
        if bound + n > max && exact(&run, p) > max {
            if !run.is_empty() {
                out.push(make(std::mem::take(&mut run)));
                bound = empty;
            }
            if bound + n > max {
                let len = exact(&run, p);
                if len > max {
                    return Err(TooLong {
                        len,
                        max,
                        prefix: Some(*p),
                    });
                }
            }
        }
        run.push(*p);
        bound += n;
    }
    out.push(make(run));
    Ok(())
}

/// Appends `update` to `out` as one or more messages, none over the maximum; on
/// error nothing is appended.
///
/// # Errors
/// [`TooLong`] when the update cannot be split to fit ([`Update::split_to_fit`]).
pub fn encode_update_fitted(
    update: &Update,
    codec: &Codec,
    out: &mut Vec<u8>,
) -> Result<(), TooLong> {
    let start = out.len();
    encode_update_into(update, codec, out);
    if out.len() - start <= codec.max_message_len() {
        return Ok(());
    }
    out.truncate(start);
    let parts = update.split_to_fit(codec)?;
    for part in &parts {
        let at = out.len();
        encode_update_into(part, codec, out);
        let len = out.len() - at;
        if len > codec.max_message_len() {
            // Not reachable by construction of the split; refuse rather than emit.
            out.truncate(start);
            return Err(TooLong {
                len,
                max: codec.max_message_len(),
                prefix: part.announced().first().map(|(p, _)| *p),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::message::{AsPath, Community, Origin, RawAttribute};
    use crate::types::Asn;

    fn v4(i: u32) -> Prefix {
        Prefix::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + (i << 8))), 24).unwrap()
    }

    fn attrs(communities: u32) -> PathAttributes {
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence([Asn(65001)])),
            communities: (0..communities).map(Community).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn an_update_that_fits_is_left_alone() {
        let u = Update::announce(vec![v4(1)], "10.0.0.1".parse().unwrap(), attrs(3));
        assert_eq!(u.split_to_fit(&Codec::default()).unwrap(), vec![u]);
    }

    #[test]
    fn many_prefixes_are_spread_over_updates_that_each_fit() {
        let prefixes: Vec<Prefix> = (0..2000).map(v4).collect();
        let nh = "10.0.0.1".parse().unwrap();
        let u = Update::announce(prefixes.clone(), nh, attrs(100));
        let parts = u.split_to_fit(&Codec::default()).unwrap();
        assert!(parts.len() > 1);
        let mut again = Vec::new();
        for p in &parts {
            assert!(p.wire_len(&Codec::default()) <= MAX_MESSAGE_LEN);
            assert_eq!(p.attributes, u.attributes);
            again.extend(p.nlri.iter().copied());
        }
        assert_eq!(again, prefixes);
    }

    /// Found by the property tests: a short prefix fills a run, and the longer
    /// prefix after it cannot start the next one alone. It is refused, never sent as
    /// a message over the maximum; and a prefix that fills a message to the last
    /// octet is sent, not refused by the splitter's reserve octet.
    #[test]
    fn a_prefix_is_sent_when_it_fits_to_the_octet_and_refused_past_it() {
        let nh = "10.0.0.1".parse().unwrap();
        let codec = Codec::default();
        let with_raw = |len: usize| PathAttributes {
            unknown: vec![RawAttribute {
                flags: 0xc0,
                type_code: 99,
                value: vec![7; len],
            }],
            ..attrs(1)
        };
        let room = |a: &PathAttributes| {
            MAX_MESSAGE_LEN - Update::announce(vec![], nh, a.clone()).wire_len(&codec)
        };
        // Attributes that leave room for one /8 (2 octets) but not for a /24 (4),
        // with the octet the splitter keeps in reserve.
        let attributes = with_raw(3000 + room(&with_raw(3000)) - 3);
        assert_eq!(room(&attributes), 3);
        let short = Prefix::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 8).unwrap();
        let u = Update::announce(vec![short, v4(1)], nh, attributes);
        let err = u.split_to_fit(&codec).unwrap_err();
        assert_eq!(err.prefix, Some(v4(1)));
        assert_eq!(err.len, MAX_MESSAGE_LEN + 1);
        let mut out = Vec::new();
        assert!(encode_update_fitted(&u, &codec, &mut out).is_err());
        assert!(out.is_empty());
        // Room for exactly one /24: it is sent, filling the message to the octet.
        let attributes = with_raw(3000 + room(&with_raw(3000)) - 4);
        let u = Update::announce(vec![v4(1), v4(2)], nh, attributes);
        let parts = u.split_to_fit(&codec).unwrap();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.wire_len(&codec) == MAX_MESSAGE_LEN));
    }

    #[test]
    fn attributes_that_cannot_fit_are_an_error_and_nothing_is_encoded() {
        let u = Update::announce(vec![v4(1)], "10.0.0.1".parse().unwrap(), attrs(2000));
        let err = u.split_to_fit(&Codec::default()).unwrap_err();
        assert_eq!(err.prefix, Some(v4(1)));
        assert!(err.len > 8000, "{err}");
        assert!(err.to_string().contains("4096"), "{err}");
        let mut out = vec![1, 2, 3];
        assert!(encode_update_fitted(&u, &Codec::default(), &mut out).is_err());
        assert_eq!(out, vec![1, 2, 3]);
    }
}
