//! hopwatch's load injector: open-loop, fixed-rate HTTP requests to a VIP, every
//! request accounted for, and the analysis that turns them into outages ("how long
//! did the VIP take to move, and how many requests did it cost?").
//!
//! # Layout
//! - [`record`]: what one request was ([`Record`], [`Outcome`], [`ErrorKind`]) and an
//!   injected [`Event`]. Plain data.
//! - [`analysis`]: records (and events) to a [`Summary`] with every [`Outage`].
//!   Pure: no IO, no clock, tested with tables.
//! - [`target`]: `http://IP:PORT/PATH` to a [`Target`].
//! - [`injector`]: the [`Injector`] (tokio): one timer loop starts each request on its
//!   schedule, a new connection per request or a pool, bounded in flight; live
//!   [`Counters`].
//! - [`output`]: the raw CSV (written and read back), the JSON summary, and the human
//!   summary text.
//! - [`progress`]: a progress bar on stderr when it is a terminal.
//!
//! ```text
//!   InjectorConfig ─► Injector::run(cancel) ─► Vec<Record> ─► analysis::analyze(.., events) ─► Summary
//!                          │ counters()                 └─► output::write_csv     output::write_summary / render
//!                          └─► progress::Progress (stderr)
//! ```
//!
//! `hopwatch load` is a thin CLI over this crate, its [`cli`] module (feature `cli`,
//! enabled by the binary only: clap, `anyhow` and `hopwatch-daemon`'s signals);
//! `hopwatch lab` can run the
//! injector in-process, or run `hopwatch load` as a child and read back its CSV
//! ([`output::read_csv`]) and JSON summary ([`output::read_summary`]).

pub mod analysis;
#[cfg(feature = "cli")]
pub mod cli;
pub mod injector;
pub mod output;
pub mod progress;
pub mod record;
pub mod target;

pub use analysis::{AnalysisConfig, Outage, OutageKind, Percentiles, Summary, analyze};
pub use injector::{ConfigError, Counters, Injector, InjectorConfig, Snapshot};
pub use record::{ErrorKind, Event, Outcome, Record};
pub use target::{Target, TargetError};

/// Wall-clock microseconds since the Unix epoch: the clock of every record and
/// event (`docs/design.md`, "One clock for measurement"), the event contract's.
pub use hopwatch_events::now_us;
