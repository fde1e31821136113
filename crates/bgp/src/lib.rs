//! hopwatch's BGP-4 protocol core. **No IO, no clock, no async runtime.**
//!
//! Everything here is a function of its inputs: bytes and events go in, bytes and
//! events come out, and time is an argument (`now: Instant`). The async driver
//! (`hopwatch-bgp-driver`) owns the sockets and the one timer; this crate decides.
//! That is what lets the session machine be tested with two sessions talking in
//! memory under simulated time, and fuzzed without a network.
//!
//! # Layout
//! - [`types`]: newtypes that hold BGP's limits: [`Asn`], [`RouterId`],
//!   [`HoldTime`], [`Prefix`], [`Family`].
//! - [`notification`]: every error code and subcode; a decode error *is* the
//!   [`Notification`] to send.
//! - [`message`]: the messages and the codec (framing, OPEN with capabilities,
//!   UPDATE with RFC 7606 error handling, AS4 translation, routes that share
//!   their attributes packed into one UPDATE, and every UPDATE kept within 4,096
//!   octets: split, or refused with [`message::TooLong`]).
//! - [`session`]: the RFC 4271 section 8 state machine for one connection, and
//!   collision detection (section 6.8) for a pair of them.
//!
//! ```text
//!   bytes in ──► Session::receive(now, &[u8]) ──► poll_event()    ─► Established, Update, Closed…
//!   commands ──► Session::send_update(now, ..)──► poll_transmit() ─► bytes out
//!   time     ──► Session::handle_timeout(now) ──► poll_timeout()  ─► when to call again
//! ```

pub mod message;
pub mod notification;
pub mod session;
pub mod types;

pub use message::{Codec, Message, PathAttributes, Update};
pub use notification::{ErrorCode, Notification};
pub use types::{Afi, Asn, Family, HoldTime, Prefix, RouterId};
