//! What hopwatch's long-running roles share: the watcher (`hopwatch-watcher-daemon`),
//! the route server (`hopwatch-route-server-daemon`), the speaker and observer
//! (`hopwatch-speaker`), the web backend (`hopwatch-web`) and `hopwatch load`
//! (`hopwatch-load`'s `cli`).
//!
//! A crate of its own so that both daemons, each a crate, import one copy: the
//! binary held these modules while it held the daemons, and a daemon moved out of
//! it would otherwise have had to copy them. It is the daemons' edge with the
//! process and the network, no policy: what they print, how they stop, what exit
//! status they end with, how their APIs are served.
//!
//! Errors are `anyhow`'s, as in the daemons that use this crate: a signal handler
//! that cannot be installed ends the role with a message, and no caller matches on it.
//!
//! # Layout
//! - [`json`]: the JSON lines on stdout (the `hopwatch-events` contract), written by
//!   one thread so a slow reader never blocks the runtime, and the conversions from
//!   the BGP driver's events into them.
//! - [`api_serve`]: the watcher's control API and the route server's API, served by
//!   hyper under limits a hostile client cannot get round (connections, timeouts),
//!   every error as JSON; [`api_guard`]: what keeps web pages out of them (no
//!   `Origin`, no `Host` that is a name, JSON for every request that changes state).
//! - [`nofile`]: the descriptor limit, raised at start, so that API clients cannot
//!   starve the probes and sessions of descriptors.
//! - [`signals`]: SIGTERM and Ctrl-C, for every long-running role.
//! - [`cease`]: the Cease every BGP role sends its peers when it stops.
//! - [`verdict`]: a role's verdict as an exit status other than 1 (`hopwatch load`'s
//!   3 when no request succeeded), which the binary's `main` exits with.

pub mod api_guard;
pub mod api_serve;
pub mod cease;
pub mod json;
pub mod nofile;
pub mod signals;
pub mod verdict;
