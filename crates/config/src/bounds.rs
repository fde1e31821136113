//! The limits of a watcher config, each with its reason. A value past one does not
//! fail loudly at run time, it quietly makes the watcher useless: a
//! `failback_hold` of 2^64 s never fails back (and would overflow the clock), a
//! `rise` of 4 billion never comes up, 10 million probes a second leave no CPU for
//! the verdicts. So every duration and count the file can set has a maximum here,
//! and `check` refuses past it with the file, line and key.
//!
//! The probe rate is bounded by what one core can do: the watcher runs on one
//! thread (a current-thread runtime; see `main.rs`), and a probe costs about 30 µs
//! of CPU (the watcher_cost bench: 1,000 backends every 100 ms, 10,000 probes/s,
//! took 29–33 % of one core on the shared 2-core VM; see
//! `crates/health/src/checker.rs`). One core is then full at about 33,000 probes/s.
//! Past 25,000 (three quarters of it) probes start to wait for the loop, their
//! timeouts are discounted as stalled and verdicts come late: failover slows down
//! exactly when it is needed. Past 10,000 (the largest setup measured) `check`
//! warns.

use std::time::Duration;

use super::model::Config;
use super::validate::Report;

/// The shortest probe interval: below it a probe costs more than it tells.
pub const MIN_INTERVAL: Duration = Duration::from_millis(5);
/// The longest probe interval: a backend probed less than once a minute is not
/// watched (failover would take `fall` minutes).
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);
/// The longest probe timeout: a probe waiting longer than a minute for its answer
/// is not a health check, and a silent backend is seen only a timeout after its
/// last answer.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest failback hold: longer than a day means "never fail back", which is
/// `preempt = false`.
pub const MAX_FAILBACK_HOLD: Duration = Duration::from_secs(24 * 3600);
/// The longest wait for the first verdicts at start: the VIP is announced to no
/// route server meanwhile, so a longer wait is an outage, not caution.
pub const MAX_STARTUP_WAIT: Duration = Duration::from_secs(600);
/// The most consecutive results `fall` and `rise` may ask for: 100 probes at the
/// 60 s maximum interval are 100 minutes; more is never.
pub const MAX_FALL_RISE: u32 = 100;
/// CPU per probe, measured (see the module doc).
pub const PROBE_CPU: Duration = Duration::from_micros(30);
/// Probes a second past which `check` refuses: three quarters of the one core the
/// watcher runs on.
pub const MAX_PROBES_PER_SECOND: f64 = 25_000.0;
/// Probes a second past which `check` warns: the largest setup measured.
pub const WARN_PROBES_PER_SECOND: f64 = 10_000.0;

/// Probes started per second: one stream per distinct check target, however many
/// VIPs share it (see [`crate::probes`]).
pub fn probes_per_second(c: &Config) -> f64 {
    crate::probes::distinct(c)
        .iter()
        .map(|spec| 1.0 / spec.interval.max(MIN_INTERVAL).as_secs_f64())
        .sum()
}

/// The share of one core the probes take, in percent, at the measured cost.
pub fn probe_cpu_percent(probes_per_second: f64) -> f64 {
    probes_per_second * PROBE_CPU.as_secs_f64() * 100.0
}

/// Refuses a duration of `key` outside `min..=max`.
pub fn duration(
    err: &mut impl FnMut(String, String),
    key: &str,
    value: Duration,
    min: Duration,
    max: Duration,
    why: &str,
) {
    // The value as Debug shows it ("1ms", "18446744073709551615s": what was
    // written), the bound for people.
    if value < min {
        err(
            key.into(),
            format!("{value:?} is below the {} minimum", human(min)),
        );
    } else if value > max {
        err(
            key.into(),
            format!("{value:?}: at most {} ({why})", human(max)),
        );
    }
}

/// A bound as people write it: "5 ms", "60 s", "10 min", "1 day".
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{} ms", d.as_millis()),
        1..120 => format!("{s} s"),
        _ if s.is_multiple_of(86_400) => {
            format!("{} day{}", s / 86_400, if s == 86_400 { "" } else { "s" })
        }
        _ if s.is_multiple_of(3600) => format!("{} h", s / 3600),
        _ => format!("{} min", s / 60),
    }
}

/// Refuses a count of `key` outside `1..=MAX_FALL_RISE`.
pub fn fall_rise(err: &mut impl FnMut(String, String), key: &str, value: u32) {
    if value == 0 {
        err(key.into(), "must be at least 1".into());
    } else if value > MAX_FALL_RISE {
        err(
            key.into(),
            format!(
                "{value}: at most {MAX_FALL_RISE} consecutive probes (100 at the 60 s maximum interval are 100 minutes; more is never)"
            ),
        );
    }
}

/// The failover durations and the probe rate.
pub fn check(c: &Config, r: &mut Report) {
    let f = &c.failover;
    let mut err = |k: String, m: String| r.errors.push((k, m));
    duration(
        &mut err,
        "failover.failback_hold",
        f.failback_hold,
        Duration::ZERO,
        MAX_FAILBACK_HOLD,
        "a longer hold never fails back: set preempt = false for that",
    );
    duration(
        &mut err,
        "failover.startup_wait",
        f.startup_wait,
        Duration::ZERO,
        MAX_STARTUP_WAIT,
        "the VIP is announced nowhere while the watcher waits",
    );
    let rate = probes_per_second(c);
    let cost = format!(
        "{rate:.0} probes/s, about {:.0} % of one core at ~{} µs of CPU each; the watcher runs on one core",
        probe_cpu_percent(rate),
        PROBE_CPU.as_micros()
    );
    if rate > MAX_PROBES_PER_SECOND {
        r.errors.push((
            "vip".into(),
            format!(
                "{cost}: at most {MAX_PROBES_PER_SECOND:.0} probes/s, or probes would wait for the CPU and verdicts come late. Probe less often (health.interval) or split the VIPs between watchers"
            ),
        ));
    } else if rate > WARN_PROBES_PER_SECOND {
        r.warnings.push((
            "vip".into(),
            format!(
                "{cost}: more than the {WARN_PROBES_PER_SECOND:.0} probes/s measured; watch the watcher's CPU"
            ),
        ));
    }
}
