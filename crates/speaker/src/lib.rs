//! The scriptable BGP speaker and observer: `hopwatch speak` (the seed's
//! ExaBGP-behind-a-pipe, announcing routes and moving their next hop from commands
//! in ExaBGP's syntax), `hopwatch observe` (the seed's watch2, printing every route
//! it receives as a JSON line) and `hopwatch demo` (the two on loopback, each move
//! timed). The binary parses their command lines ([`args`]) and calls their `run`.
//!
//! A crate of its own because these three are one tool, the BGP test peer, apart
//! from the watcher and the route server: they share the command-line session
//! settings ([`BgpArgs`], `bgp_setup`) and no daemon needs them; the command
//! language ([`command`]) is a pure parser with its own tests. What they share
//! with the daemons (JSON lines on stdout, stop signals, the stopping Cease) is
//! `hopwatch-daemon`'s.
//!
//! Errors are `anyhow`'s, as in the daemons: each ends the role with a message for
//! a person, and no caller matches on one; a refused command is a message on
//! stderr, never an error of the role.
//!
//! # Layout
//! - [`args`]: the command lines of `speak`, `observe` and `demo`, with their help.
//! - [`command`]: the ExaBGP-syntax route commands `speak` reads (pure).
//! - `bgp_setup`: the shared command-line settings to session settings.
//! - [`speak`], [`observe`], [`demo`]: the roles.

pub mod args;
mod bgp_setup;
pub mod command;
pub mod demo;
pub mod observe;
pub mod speak;

pub use args::{BgpArgs, DemoArgs, ObserveArgs, SpeakArgs};
