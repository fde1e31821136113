//! hopwatch's watcher: which backend carries each VIP, decided from health and
//! policy. `hopwatch run` (crates/watcher-daemon) feeds it the health checkers'
//! verdicts and announces each [`Move`] to the route servers as one UPDATE.
//!
//! The deciding part is pure, like the BGP core: no tokio, no IO, no clock. Time
//! is an argument (`now: Instant`), so every rule is tested with simulated time
//! and tables of cases, and the async layers only feed it and carry out its moves.
//!
//! # Layout
//! - [`decision`]: the decision engine of one VIP. [`Engine`] takes health
//!   verdicts, drain / undrain / force commands and timer expiries, and returns at
//!   most one [`Move`] per input (one UPDATE to every route server);
//!   `poll_timeout` says when to wake it next. Inside it:
//!   - `decision/policy.rs`: [`Policy`] and [`AllDown`], the `[failover]` config;
//!   - `decision/backend.rs`: [`BackendInfo`] and [`Health`];
//!   - `decision/moves.rs`: [`Move`] and its [`Reason`];
//!   - `decision/status.rs`: the [`Status`] snapshot for the control API.

pub mod decision;

pub use decision::{
    AllDown, BackendInfo, BackendStatus, Engine, Health, Move, PendingFailback, Policy, Reason,
    Status,
};
