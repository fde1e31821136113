//! hopwatch's route server: an Azure Route Server stand-in that runs anywhere.
//!
//! The modules here are pure, like the BGP core: no tokio, no sockets, no clock.
//! Time is an argument (`now: Instant`), timers are reported through
//! `poll_timeout` and fired by `handle_timeout` / `poll`, so every rule is tested
//! with simulated time and the async driver only feeds them and carries out what
//! they decide.
//!
//! # Layout
//! - [`rib`]: the RIB of one route server instance with Azure Route Server's
//!   policy. [`Rib::receive`] applies a peer's UPDATE and returns the best-set
//!   changes ([`RibChange`]) for the data plane; [`Rib::poll_updates`] and
//!   [`Rib::table_updates`] say what each other peer is sent, packed (the prefixes
//!   that share a route in one UPDATE). Inside it:
//!   - `rib/peer.rs`: one configured peer, its Adj-RIB-In and Adj-RIB-Out;
//!   - `rib/receive.rs`: an UPDATE into the Adj-RIB-In: loop rejection, route limit;
//!   - `rib/best.rs`: best-path selection (shortest AS path, ECMP) and [`RibChange`];
//!   - `rib/export.rs`: route-server export, VNET prefixes, packed UPDATEs;
//!   - `rib/restart.rs`: session up and down, graceful restart's stale routes;
//!   - `rib/error.rs`: [`RibError`], for configuration mistakes.
//! - [`program`]: when a change reaches the data plane. [`Programmer`] programs at
//!   once ([`Profile::Instant`]) or like the cloud ([`Profile::Azure`]: a delay
//!   drawn from the 13 measured propagation times, at most one change per route
//!   per 30 s). Inside it: `program/profile.rs` ([`Profile`]); the delays are drawn
//!   by a seeded `fastrand::Rng`, for reproducible timelines.
//!
//! ```text
//!   UPDATE ─► Rib::receive ─► Vec<RibChange> ─┬─► Programmer::submit ─► poll(now) ─► Program ─► data plane
//!                                             └─► Rib::poll_updates(peer) ─► UPDATEs to the other peers
//! ```

pub mod program;
pub mod rib;

pub use program::{Profile, ProfileName, Program, Programmer};
pub use rib::{
    AZURE_ROUTE_SERVER_AS, BestPath, DEFAULT_ROUTE_LIMIT, Path, Received, Rib, RibChange,
    RibConfig, RibError,
};
