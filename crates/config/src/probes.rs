//! The probes a watcher config runs: one per distinct check target.
//!
//! A backend's probe is its [`CheckSpec`]: the target (URL or TCP address, with the
//! expected status and body), the source address and the timing (interval,
//! timeout, rise, fall, jitter, connection watch). Backends of different VIPs with
//! the same spec are the same question asked of the same server at the same pace,
//! so the watcher runs it once and gives every VIP that names the backend its
//! verdicts: 1,000 VIPs on one pair of servers cost two probe streams, not 2,000.
//! Sharing needs no grouping in the config; VIPs that should judge a server apart
//! (a VIP per service with its own health URL, or its own timing) name a different
//! check, and get a probe of their own.
//!
//! The watcher builds its probes with [`check_spec`], and `check` counts the cost
//! with [`distinct`], so the rate `check` prints is the rate that runs.

use hopwatch_health::{CheckSpec, Target, TargetError};

use super::model::{Backend, Config};

/// The probe of backend `be`, its settings defaulted from `[health]`.
///
/// # Errors
/// The backend's `check` is not a URL a probe can use (`check` refuses such a
/// config before it runs).
pub fn check_spec(c: &Config, be: &Backend) -> Result<CheckSpec, TargetError> {
    let h = &c.health;
    let mut target = Target::parse(&be.check)?;
    if let Target::Http {
        expect_status,
        body_contains,
        ..
    } = &mut target
    {
        *expect_status = be.expect_status.unwrap_or(h.expect_status);
        *body_contains = be.body.clone().or_else(|| h.body.clone());
    }
    let interval = be.interval.unwrap_or(h.interval);
    let timeout = be.timeout.unwrap_or(h.timeout);
    let mut spec = CheckSpec::new(target);
    spec.interval = interval;
    spec.timeout = timeout;
    spec.rise = be.rise.unwrap_or(h.rise);
    spec.fall = be.fall.unwrap_or(h.fall);
    spec.jitter = h.jitter;
    spec.watch_connection = be.watch_connection.unwrap_or(h.watch_connection);
    spec.source = be.source.or(h.source);
    spec.max_in_flight = CheckSpec::default_max_in_flight(interval, timeout);
    Ok(spec)
}

/// Every probe the config runs, each once, in the order the backends first name
/// them. Backends whose check does not parse are left out (`check` names them).
pub fn distinct(c: &Config) -> Vec<CheckSpec> {
    let mut probes = Probes::default();
    for be in c.vips.iter().flat_map(|v| &v.backends) {
        if let Ok(spec) = check_spec(c, be) {
            probes.index_of(spec);
        }
    }
    probes.specs
}

/// Distinct specs, found by equality. Specs are not `Hash` (the jitter is a float),
/// so each backend scans the specs found so far: with shared checks a handful, and
/// at worst (2,000 backends all different) two million comparisons, a few
/// milliseconds once at load.
#[derive(Default)]
struct Probes {
    specs: Vec<CheckSpec>,
}

impl Probes {
    fn index_of(&mut self, spec: CheckSpec) -> usize {
        if let Some(i) = self.specs.iter().position(|s| *s == spec) {
            return i;
        }
        self.specs.push(spec);
        self.specs.len() - 1
    }
}
