//! hopwatch's health checks: HTTP and TCP probes that see a dead backend within a
//! millisecond and a silent one within one timeout, at almost no cost.
//!
//! # Layout
//! - [`spec`]: what to check ([`Target`], parsed from `http://IP[:PORT]/path` or
//!   `tcp://IP:PORT`) and how often ([`CheckSpec`]).
//! - [`state`]: rise and fall, pure ([`HealthState`], [`Health`], [`Transition`]).
//! - [`http`]: a minimal, bounded HTTP/1.1 response reader.
//! - [`probe`]: one probe over a fresh or reused connection, and the idle-connection
//!   watch.
//! - [`checker`]: the task per probe stream (the watcher runs one per distinct check,
//!   however many VIPs name it) that schedules probes (one per interval, even
//!   while earlier ones are in flight), keeps a persistent connection, applies results
//!   and sends a [`Report`] per result.
//!
//! ```text
//!   CheckSpec ──► spawn_checker(id, spec, tx) ──► Report { ok, latency, state, transition, .. } ──► tx
//! ```
//!
//! Like the BGP core, the verdict logic ([`state`]) has no IO and no clock; the
//! checker is the thin async driver around it.

pub mod checker;
pub mod http;
pub mod probe;
pub mod spec;
pub mod state;

pub use checker::{Cause, Report, run_checker, spawn_checker};
pub use probe::ProbeError;
pub use spec::{CheckSpec, TIMER_SLACK, Target, TargetError, silent_failure_bound};
pub use state::{Health, HealthState, Transition};
