//! The tokio driver of hopwatch's BGP core: sockets, the one timer per session,
//! reconnects, many peers, and the routes we announce.
//!
//! The protocol core (`hopwatch-bgp`) decides; this crate carries out what it
//! decides. Each peer is one task that owns its [`Session`](hopwatch_bgp::session::Session),
//! its TCP connection and a single sleep until the session's next deadline.
//!
//! # Layout
//! - [`speaker`]: the [`Speaker`]: the peers, the routes we announce to all of them
//!   (each batch of changes to every established peer), listening sockets.
//! - [`peer`]: one peer's task: connect out or accept, read, write, timers,
//!   collision resolution, sending the table and End-of-RIB when a session comes up.
//! - [`listen`]: the bounds on accepted connections that have not sent their OPEN
//!   yet (per address, in total, in time), and the Cease sent to unknown peers.
//! - [`rib_out`]: the routes we announce, versioned so that a peer that comes up
//!   while changes are in flight ends with the latest state.
//! - [`pack`]: what one peer is sent for a batch: the last change of each prefix,
//!   the routes that share their attributes in one UPDATE, each UPDATE cut to one
//!   message with its own event.
//! - [`event`]: what the driver reports, each with a wall-clock timestamp in µs.
//! - [`timer`]: [`sleep_until`] a state machine's next deadline, for every loop that
//!   drives one (the peers here, the watcher's and the route server's loops).
//!
//! ```text
//!   Speaker::announce ──► RibOut (version n) ──► PeerCmd::Changes ──► peer task ──► Session ──► TCP
//!   listener ── accept ──► PeerCmd::Incoming ──┘          │
//!                                                          └──► DriverEvent (mpsc) ──► CLI / watcher
//! ```

pub mod event;
pub mod listen;
pub mod pack;
pub mod peer;
pub mod rib_out;
pub mod speaker;
pub mod timer;

pub use event::{DriverEvent, EventKind};
pub use listen::ListenLimits;
pub use peer::PeerConfig;
pub use rib_out::Route;
pub use speaker::Speaker;
pub use timer::sleep_until;
