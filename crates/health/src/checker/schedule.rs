//! When a checker's scheduled probes start: the grid every checker of the process
//! shares (see the checker's module doc, Timing and Cost).

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// When a checker's scheduled probes start: a grid shared by every checker of this
/// process with the same interval, so that one timer wake-up starts many probes.
///
/// Tick `k` of a checker is at `anchor + phase + k × interval + offset(k)`:
/// - `anchor` is one instant per process (the first checker's start);
/// - `phase` depends on the checker's id only through its group of
///   [`GROUP`] ids: the backends of a small watcher (the example's two) share one
///   phase and are probed in the same wake-up; a thousand backends are spread over
///   the interval in groups (golden-ratio steps), so no wake-up sends them all and
///   a response never waits behind a thousand sends;
/// - `offset(k)`, the jitter, is drawn from `± jitter × interval / 2` by a hash of a
///   per-process seed, the interval and `k`: every checker of the process shifts
///   tick `k` by the same amount (they stay aligned, so still one wake-up), while
///   another watcher process has another seed and another phase: watchers, and
///   successive ticks, stay de-synchronised. A gap between two ticks is
///   `interval + offset(k+1) - offset(k)`, within `interval × (1 ± jitter)` as
///   before; what changed is that the gaps are shared by the process's checkers.
pub(super) struct Schedule {
    anchor: Instant,
    seed: u64,
    interval: Duration,
    jitter: f64,
    phase: Duration,
    /// The current tick.
    pub(super) k: u64,
}

/// Checker ids that share a phase.
const GROUP: usize = 8;

/// The process's anchor and jitter seed, set by the first checker.
fn grid() -> (Instant, u64) {
    static GRID: OnceLock<(Instant, u64)> = OnceLock::new();
    *GRID.get_or_init(|| {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (Instant::now(), seed)
    })
}

impl Schedule {
    pub(super) fn new(id: usize, interval: Duration, jitter: f64) -> Self {
        let (anchor, seed) = grid();
        // Golden-ratio steps spread the groups evenly over the interval, however many
        // there are; group 0 (the first GROUP ids) has phase 0.
        let group = (id / GROUP) as f64;
        let phase = interval.mul_f64((group * 0.618_033_988_749_895).fract());
        Self {
            anchor,
            seed,
            interval,
            jitter,
            phase,
            k: 0,
        }
    }

    /// The offset of tick `k`, in `[-1, 1] × jitter × interval / 2`, in ns.
    fn offset_ns(&self, k: u64) -> i128 {
        if self.jitter == 0.0 {
            return 0;
        }
        // A generator seeded by (process seed, interval, k): the same offset for
        // every checker of the process at tick k, another in another process.
        let mut rng = fastrand::Rng::with_seed(
            self.seed
                ^ (self.interval.as_nanos() as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9)
                ^ k.wrapping_mul(0x94D0_49BB_1331_11EB),
        );
        let u = 2.0 * rng.f64() - 1.0;
        (u * self.jitter / 2.0 * self.interval.as_nanos() as f64) as i128
    }

    /// When tick `k` is (tick 0 may be before the anchor's phase by the offset;
    /// it is clamped to the anchor).
    pub(super) fn at(&self, k: u64) -> Instant {
        let base = self.phase.as_nanos() + self.interval.as_nanos() * u128::from(k);
        let ns = (base as i128 + self.offset_ns(k)).max(0);
        self.anchor + Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }

    /// The first tick at or after `now`; it becomes the current tick.
    pub(super) fn first_at_or_after(&mut self, now: Instant) -> Instant {
        let since = now.saturating_duration_since(self.anchor + self.phase);
        let k = since.as_nanos() / self.interval.as_nanos().max(1);
        // The offsets are within half an interval: start a tick early and step.
        let mut k = u64::try_from(k).unwrap_or(u64::MAX).saturating_sub(1);
        while self.at(k) < now {
            k += 1;
        }
        self.k = k;
        self.at(k)
    }
}
