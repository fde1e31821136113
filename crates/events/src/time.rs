//! The one clock of every event: wall-clock microseconds since the Unix epoch.
//!
//! Every hopwatch process on a machine (the watcher, the route server, the observer,
//! the load injector, the lab) stamps with this clock, so a lab can join their lines
//! into one timeline (`docs/design.md`, "One clock for measurement"). The monotonic
//! clock would be steadier, but it is per boot and not comparable across machines.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch, now.
///
/// Saturates at both ends: a clock set before 1970 gives 0, and the year 586,912
/// gives `u64::MAX`, rather than a panic or a wrapped value in a measurement.
pub fn now_us() -> u64 {
    to_us(SystemTime::now())
}

/// `t` as microseconds since the Unix epoch, saturating as [`now_us`] does.
pub fn to_us(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The wall-clock time of a `_us` timestamp.
pub fn from_us(us: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_after_2024_and_round_trips() {
        let now = now_us();
        assert!(now > 1_704_067_200_000_000, "{now}");
        assert_eq!(to_us(from_us(now)), now);
    }

    #[test]
    fn before_the_epoch_is_zero() {
        assert_eq!(to_us(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }
}
