//! How long the data plane takes to program a route: at once, or like the cloud.
//!
//! The `Azure` profile reproduces the two facts measured by hand against Azure
//! Route Server (see `docs/design.md`): next-hop switches took 0.9 to
//! 5.6 s to reach the VNET (13 trials, median 1.77 s), and the cloud appeared to
//! accept only one change of a given route per about 30 s.

use std::time::Duration;

/// The 13 propagation times measured by hand, in milliseconds, in trial order.
pub const MEASURED_DELAYS_MS: [u64; 13] = [
    1770, 1500, 5600, 1500, 5190, 900, 4200, 4140, 2420, 1220, 1530, 1850, 1000,
];

/// The cloud's apparent limit: one change of a given route per this interval.
pub const AZURE_MIN_INTERVAL: Duration = Duration::from_secs(30);

/// When route changes reach the data plane.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Profile {
    /// Program every change at once (the default).
    #[default]
    Instant,
    /// Like the cloud: each change waits a delay drawn from `delays`, and
    /// optionally a route changes at most once per `min_interval`.
    Azure {
        /// The delays to draw from, uniformly (an empty list means no delay).
        delays: Vec<Duration>,
        /// At most one programmed change per route per this interval; the latest
        /// state wins when it ends. `None`: no limit.
        min_interval: Option<Duration>,
        /// Seed of the draws: the same seed and inputs give the same timeline.
        seed: u64,
    },
}

impl Profile {
    /// The cloud as measured: the 13 delays and one change per route per 30 s.
    pub fn azure(seed: u64) -> Self {
        Profile::Azure {
            delays: measured_delays(),
            min_interval: Some(AZURE_MIN_INTERVAL),
            seed,
        }
    }
}

/// [`MEASURED_DELAYS_MS`] as durations.
pub fn measured_delays() -> Vec<Duration> {
    MEASURED_DELAYS_MS
        .iter()
        .map(|ms| Duration::from_millis(*ms))
        .collect()
}

/// A profile by name, as the command lines (`hopwatch route-server --profile`,
/// `hopwatch lab --profile`) choose it; [`ProfileName::profile`] gives the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ProfileName {
    /// Program each route at once.
    Instant,
    /// Azure's measured propagation delays and one change per route per 30 s.
    Azure,
}

impl ProfileName {
    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileName::Instant => "instant",
            ProfileName::Azure => "azure",
        }
    }

    /// The profile; `seed` draws the Azure profile's delays.
    pub fn profile(self, seed: u64) -> Profile {
        match self {
            ProfileName::Instant => Profile::Instant,
            ProfileName::Azure => Profile::azure(seed),
        }
    }
}

impl std::fmt::Display for ProfileName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
