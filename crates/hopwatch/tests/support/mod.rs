//! The interoperability harness: real BGP daemons (FRR, BIRD, GoBGP, ExaBGP) in network
//! namespaces that each test creates for itself, talking to the `hopwatch` binary.
//!
//! It is split by concern: `netns` owns the namespaces and the temp folder, `proc` the
//! child processes, `hopwatch` the binary under test and its JSON event lines (read
//! as the typed contract through `events`, which the loopback harness shares), `tshark`
//! the wire capture, and one module per peer knows that daemon's configuration and
//! CLI; `checks` and `packed` hold the assertions the peers' tests share. `lab` is the seed's multi-namespace lab and `frr_rs` FRR as its route server,
//! both thin glue over the lab crate (`hopwatch-lab`: the network, the addresses,
//! FRR's and BIRD's command lines and route server config are there, once).
//! `route_server` runs hopwatch's own route server with the kernel data plane, and
//! `rs_peers` the real daemons as its peers.
//! Every test binary uses a different subset, hence the `dead_code` allowance.
//!
//! The network rule holds by construction: nothing here runs in the host namespace
//! except `ip` itself; every daemon, CLI call and capture is `ip netns exec`'d into a
//! namespace whose only links are veth pairs to its siblings (or, in `lab`, to the
//! lab's own router namespace).
#![allow(dead_code, unused_imports)]

pub mod bird;
pub mod checks;
pub mod events;
pub mod exabgp;
pub mod frr;
pub mod frr_rs;
pub mod gobgp;
pub mod hopwatch;
pub mod lab;
pub mod lab_run;
pub mod netns;
pub mod packed;
pub mod preflight;
pub mod proc;
pub mod route_server;
pub mod rs_peers;
pub mod syscalls;
pub mod tshark;
pub mod vxlan;
pub mod wait;
pub mod watcher_config;

pub use hopwatch::Hopwatch;
pub use netns::{Lab, PEER_ADDR, SPEAKER_ADDR};
pub use preflight::{Peer, preflight};

/// The VIP the tests announce through `speak`: the seed's.
pub const VIP: &str = hopwatch_lab::seed::netns::VIP;
/// The VIP's first and second next hop (both on the connected /24, unassigned in
/// the two-namespace lab): the seed's ws1 and ws2.
pub const NH1: &str = hopwatch_lab::seed::netns::WS1;
/// See [`NH1`].
pub const NH2: &str = hopwatch_lab::seed::netns::WS2;
/// A route the peer itself announces, for `observe` to decode.
pub const PEER_ROUTE: &str = "100.64.0.9/32";
/// The peer's AS in every lab.
pub const PEER_AS: u32 = 65000;
/// `speak`'s AS.
pub const SPEAK_AS: u32 = 65001;
/// `observe`'s AS.
pub const OBSERVE_AS: u32 = 65002;
