//! BGP messages and their codec: the one boundary where bytes become hopwatch's types.
//!
//! Why our own codec rather than a crate: `docs/codec.md`
//! found two usable crates, both young (one breaks its API about weekly), both
//! accepting a NEXT_HOP of 0.0.0.0 and an UPDATE with NLRI but no NEXT_HOP, and
//! neither applying RFC 7606 the way a speaker must. Converting their types to
//! ours would have been as long as the codec, so the codec is ours: a few hundred
//! lines, kept honest by the evaluation's reference bytes (golden tests in
//! `tests/golden.rs`, checked in both directions), property tests and fuzz targets.
//!
//! Framing is sans-IO: [`frame_len`] says how long the next message is once its
//! header has arrived, [`decode`] turns exactly one message into a [`Message`], and
//! [`encode`] appends one to a buffer; [`encode_update_fitted`] appends an UPDATE as
//! messages that fit the maximum, or refuses it (`fit.rs`). [`pack`] puts the routes
//! that share their attributes into one UPDATE, and [`fit`] cuts UPDATEs to a
//! session's maximum before they are sent, one message each (`pack.rs`).

mod attributes;
mod fit;
mod nlri;
mod open;
mod pack;
mod reader;
mod update;

pub use attributes::{
    AsPath, Community, LargeCommunity, MpReach, MpUnreach, Origin, PathAttributes, RawAttribute,
    Segment, SegmentKind, code as attr_code,
};
pub use fit::{TooLong, encode_update_fitted};
pub use open::{BGP_VERSION, Capability, GracefulRestartFamily, Open};
pub use pack::{Fitted, fit, pack};
pub use update::{AttrAction, AttrError, DecodedUpdate, Update};

use crate::notification::{ErrorCode, HeaderError, Notification, RouteRefreshError};
use crate::types::Family;
use reader::Reader;

/// The 16-octet marker, all ones (RFC 4271 4.1).
pub const MARKER: [u8; 16] = [0xff; 16];
/// Header: marker, length, type.
pub const HEADER_LEN: usize = 19;
/// The largest message without the extended message capability (RFC 8654), which
/// hopwatch does not negotiate: the maximum of every session ([`Codec::max_message_len`]).
pub const MAX_MESSAGE_LEN: usize = 4096;

/// Message type codes.
pub mod kind {
    /// OPEN.
    pub const OPEN: u8 = 1;
    /// UPDATE.
    pub const UPDATE: u8 = 2;
    /// NOTIFICATION.
    pub const NOTIFICATION: u8 = 3;
    /// KEEPALIVE.
    pub const KEEPALIVE: u8 = 4;
    /// ROUTE-REFRESH (RFC 2918).
    pub const ROUTE_REFRESH: u8 = 5;
}

/// What the two ends agreed that changes the bytes: only the AS number width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codec {
    /// Both sides sent the 4-octet AS capability (RFC 6793).
    pub four_octet_as: bool,
}

impl Default for Codec {
    /// Before the OPENs are exchanged, and for every modern peer: 4-octet AS.
    fn default() -> Self {
        Codec {
            four_octet_as: true,
        }
    }
}

/// A ROUTE-REFRESH request (RFC 2918).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRefresh {
    /// The family to send again.
    pub family: Family,
}

/// A BGP message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
// UPDATE is by far the most common message: boxing it to shrink the rare ones
// would cost an allocation per route.
#[allow(clippy::large_enum_variant)]
pub enum Message {
    /// OPEN.
    Open(Open),
    /// UPDATE.
    Update(Update),
    /// NOTIFICATION.
    Notification(Notification),
    /// KEEPALIVE.
    Keepalive,
    /// ROUTE-REFRESH.
    RouteRefresh(RouteRefresh),
    /// ROUTE-REFRESH for an address family hopwatch does not carry.
    RouteRefreshOther {
        /// AFI as received.
        afi: u16,
        /// SAFI as received.
        safi: u8,
    },
}

impl Message {
    /// The message's type name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Message::Open(_) => "OPEN",
            Message::Update(_) => "UPDATE",
            Message::Notification(_) => "NOTIFICATION",
            Message::Keepalive => "KEEPALIVE",
            Message::RouteRefresh(_) | Message::RouteRefreshOther { .. } => "ROUTE-REFRESH",
        }
    }
}

/// A decoded message, with the attribute errors of an UPDATE that RFC 7606 handles
/// without resetting the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The message.
    pub message: Message,
    /// Errors handled by treat-as-withdraw or attribute discard (UPDATE only).
    pub attr_errors: Vec<AttrError>,
}

fn bad_length(len: u16) -> Notification {
    Notification::new(
        ErrorCode::Header(HeaderError::BadMessageLength),
        len.to_be_bytes(),
    )
}

/// The length of the message at the start of `buf`, once its header is complete
/// (`Ok(None)` until then). Checks the marker and the length's range.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, Notification> {
    let mut r = Reader::new(buf);
    let Some(marker) = r.take(16) else {
        // Refuse a wrong marker as soon as its bytes are in, not after 19 octets.
        if buf.iter().any(|&b| b != 0xff) {
            return Err(Notification::bare(ErrorCode::Header(
                HeaderError::ConnectionNotSynchronized,
            )));
        }
        return Ok(None);
    };
    if marker != MARKER {
        return Err(Notification::bare(ErrorCode::Header(
            HeaderError::ConnectionNotSynchronized,
        )));
    }
    let Some(len) = r.u16() else { return Ok(None) };
    if usize::from(len) < HEADER_LEN || usize::from(len) > MAX_MESSAGE_LEN {
        return Err(bad_length(len));
    }
    Ok(Some(usize::from(len)))
}

/// Decodes exactly one message (header included).
pub fn decode(msg: &[u8], codec: &Codec) -> Result<Decoded, Notification> {
    let len = frame_len(msg)?.ok_or_else(|| bad_length(msg.len() as u16))?;
    if len != msg.len() {
        return Err(bad_length(len as u16));
    }
    let mut r = Reader::new(msg);
    let _ = r.take(18);
    let kind = r.u8().ok_or_else(|| bad_length(len as u16))?;
    let body = r.rest();
    let plain = |message| {
        Ok(Decoded {
            message,
            attr_errors: Vec::new(),
        })
    };
    // Minimum (and for some, exact) lengths per type (RFC 4271 6.1).
    let ok_len = match kind {
        kind::OPEN => len >= 29,
        kind::UPDATE => len >= 23,
        kind::NOTIFICATION => len >= 21,
        kind::KEEPALIVE => len == 19,
        kind::ROUTE_REFRESH => true,
        _ => {
            return Err(Notification::new(
                ErrorCode::Header(HeaderError::BadMessageType),
                [kind],
            ));
        }
    };
    if !ok_len {
        return Err(bad_length(len as u16));
    }
    match kind {
        kind::OPEN => plain(Message::Open(Open::decode_body(body)?)),
        kind::UPDATE => {
            let d = update::decode(body, codec)?;
            Ok(Decoded {
                message: Message::Update(d.update),
                attr_errors: d.errors,
            })
        }
        kind::NOTIFICATION => {
            let mut r = Reader::new(body);
            let (Some(code), Some(sub)) = (r.u8(), r.u8()) else {
                return Err(bad_length(len as u16));
            };
            plain(Message::Notification(Notification::new(
                ErrorCode::from_wire(code, sub),
                r.rest(),
            )))
        }
        kind::KEEPALIVE => plain(Message::Keepalive),
        _ => {
            // ROUTE-REFRESH: AFI, reserved (or RFC 7313 subtype), SAFI.
            let [a, b, _subtype, safi] = body else {
                return Err(Notification::new(
                    ErrorCode::RouteRefresh(RouteRefreshError::InvalidMessageLength),
                    msg.to_vec(),
                ));
            };
            match Family::from_codes(u16::from_be_bytes([*a, *b]), *safi) {
                Some(family) => plain(Message::RouteRefresh(RouteRefresh { family })),
                // A family hopwatch does not carry: the session ignores it
                // (RFC 2918 4), but it is still a ROUTE-REFRESH for the state machine.
                None => plain(Message::RouteRefreshOther {
                    afi: u16::from_be_bytes([*a, *b]),
                    safi: *safi,
                }),
            }
        }
    }
}

/// Appends one encoded message to `out`: the raw encoder, which writes what it is
/// given.
///
/// What goes on the wire passes through the session, which never hands this an
/// UPDATE over the maximum ([`encode_update_fitted`] splits it or refuses it). A
/// NOTIFICATION's data is cut to fit (it is diagnostic, and a cut one still says why);
/// OPEN, KEEPALIVE and ROUTE-REFRESH are far below the maximum by construction.
pub fn encode(msg: &Message, codec: &Codec, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&MARKER);
    out.extend_from_slice(&[0, 0, 0]);
    let kind = match msg {
        Message::Open(o) => {
            o.encode_body(out);
            kind::OPEN
        }
        Message::Update(u) => {
            u.encode_body(codec, out);
            kind::UPDATE
        }
        Message::Notification(n) => {
            out.push(n.code.code());
            out.push(n.code.subcode());
            let room = MAX_MESSAGE_LEN - HEADER_LEN - 2;
            out.extend_from_slice(&n.data[..n.data.len().min(room)]);
            kind::NOTIFICATION
        }
        Message::Keepalive => kind::KEEPALIVE,
        Message::RouteRefresh(rr) => {
            out.extend_from_slice(&rr.family.afi().code().to_be_bytes());
            out.extend_from_slice(&[0, Family::SAFI_UNICAST]);
            kind::ROUTE_REFRESH
        }
        Message::RouteRefreshOther { afi, safi } => {
            out.extend_from_slice(&afi.to_be_bytes());
            out.extend_from_slice(&[0, *safi]);
            kind::ROUTE_REFRESH
        }
    };
    let len = (out.len() - start).min(usize::from(u16::MAX)) as u16;
    out[start + 16..start + 18].copy_from_slice(&len.to_be_bytes());
    out[start + 18] = kind;
}

/// Encodes one message into a new buffer.
pub fn encode_to_vec(msg: &Message, codec: &Codec) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode(msg, codec, &mut out);
    out
}

/// Appends one encoded UPDATE to `out` without cloning it into a [`Message`].
pub fn encode_update_into(update: &Update, codec: &Codec, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&MARKER);
    out.extend_from_slice(&[0, 0, kind::UPDATE]);
    update.encode_body(codec, out);
    let len = (out.len() - start).min(usize::from(u16::MAX)) as u16;
    out[start + 16..start + 18].copy_from_slice(&len.to_be_bytes());
}
