//! Rise and fall: the verdict of one backend from a stream of probe outcomes.
//!
//! Pure: no IO, no clock, no async. The checker feeds it one `bool` per probe
//! result it decides to count (see [`crate::checker`] for which ones) and gets back
//! the transition, if any. Keeping it pure is what lets every path be tested by a
//! table below, the same way the BGP core is tested without sockets.
//!
//! ```text
//!            rise successes in a row                 fall failures in a row
//!   Unknown ───────────────────────► Up   Unknown ───────────────────────► Down
//!                        Up ──── fall failures in a row ────► Down
//!                        Up ◄─── rise successes in a row ──── Down
//! ```
//!
//! A streak is broken by one outcome of the other kind: while `Up`, a success
//! forgets earlier failures; while `Down`, a failure forgets earlier successes.

use serde::Serialize;

/// What the checker believes about a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Not enough probes yet for a verdict (neither `rise` successes nor `fall`
    /// failures in a row since the checker started).
    Unknown,
    /// Healthy: `rise` successes in a row, and not `fall` failures in a row since.
    Up,
    /// Unhealthy: `fall` failures in a row, and not `rise` successes in a row since.
    Down,
}

/// A change of verdict, returned by [`HealthState::observe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Transition {
    /// The verdict before.
    pub from: Health,
    /// The verdict after.
    pub to: Health,
}

/// Rise/fall counter for one backend.
#[derive(Debug, Clone)]
pub struct HealthState {
    rise: u32,
    fall: u32,
    health: Health,
    successes: u32,
    failures: u32,
}

impl HealthState {
    /// A new state, [`Health::Unknown`]. A `rise` or `fall` of 0 is taken as 1:
    /// a verdict always needs at least one probe.
    pub fn new(rise: u32, fall: u32) -> Self {
        Self {
            rise: rise.max(1),
            fall: fall.max(1),
            health: Health::Unknown,
            successes: 0,
            failures: 0,
        }
    }

    /// The current verdict.
    pub fn health(&self) -> Health {
        self.health
    }

    /// Successes in a row so far (0 after a failure).
    pub fn successes_in_a_row(&self) -> u32 {
        self.successes
    }

    /// Failures in a row so far (0 after a success).
    pub fn failures_in_a_row(&self) -> u32 {
        self.failures
    }

    /// Counts one probe outcome; returns the transition it caused, if any.
    pub fn observe(&mut self, ok: bool) -> Option<Transition> {
        if ok {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
        }
        let to = match self.health {
            Health::Unknown | Health::Down if self.successes >= self.rise => Health::Up,
            Health::Unknown | Health::Up if self.failures >= self.fall => Health::Down,
            same => same,
        };
        if to == self.health {
            return None;
        }
        let from = std::mem::replace(&mut self.health, to);
        Some(Transition { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Health::{Down, Unknown, Up};

    /// Feeds `outcomes` (`'+'` success, `'-'` failure) and returns the verdict after
    /// each, and where transitions happened.
    fn run(rise: u32, fall: u32, outcomes: &str) -> (Vec<Health>, Vec<(usize, Transition)>) {
        let mut state = HealthState::new(rise, fall);
        let mut verdicts = Vec::new();
        let mut transitions = Vec::new();
        for (i, c) in outcomes.chars().enumerate() {
            if let Some(t) = state.observe(c == '+') {
                transitions.push((i, t));
            }
            verdicts.push(state.health());
        }
        (verdicts, transitions)
    }

    #[test]
    fn verdicts_follow_rise_and_fall_table() {
        #[rustfmt::skip]
        let table: &[(u32, u32, &str, Health)] = &[
            // rise, fall, outcomes, final verdict
            (3, 2, "",        Unknown),
            (3, 2, "++",      Unknown),
            (3, 2, "+++",     Up),
            (3, 2, "+",       Unknown),
            (3, 2, "-",       Unknown),
            (3, 2, "--",      Down),
            (3, 2, "++-++",   Unknown), // a failure breaks the rise streak
            (3, 2, "+-+-+-",  Unknown), // alternating never decides
            (3, 2, "+++-",    Up),      // one failure is not enough
            (3, 2, "+++-+-",  Up),      // a success in between resets the fall streak
            (3, 2, "+++--",   Down),
            (3, 2, "--++",    Down),    // not yet rise successes
            (3, 2, "--+++",   Up),
            (3, 2, "--++-++", Down),    // a failure breaks the way back up
            (1, 1, "+",       Up),
            (1, 1, "+-",      Down),
            (1, 1, "+-+",     Up),
            (0, 0, "-",       Down),    // 0 is taken as 1
            (0, 0, "+",       Up),
            (2, 3, "++---",   Down),
            (2, 3, "++--+--", Up),
        ];
        for &(rise, fall, outcomes, expected) in table {
            let (verdicts, _) = run(rise, fall, outcomes);
            let last = verdicts.last().copied().unwrap_or(Unknown);
            assert_eq!(
                last, expected,
                "rise {rise} fall {fall} outcomes {outcomes:?}"
            );
        }
    }

    #[test]
    fn transitions_are_reported_once_at_the_probe_that_causes_them() {
        // rise, fall, outcomes, (index, from, to) of each transition
        type Row = (u32, u32, &'static str, &'static [(usize, Health, Health)]);
        #[rustfmt::skip]
        let table: &[Row] = &[
            (3, 2, "+++",       &[(2, Unknown, Up)]),
            (3, 2, "--",        &[(1, Unknown, Down)]),
            (3, 2, "+++--+++",  &[(2, Unknown, Up), (4, Up, Down), (7, Down, Up)]),
            (3, 2, "+++++",     &[(2, Unknown, Up)]),
            (3, 2, "-----",     &[(1, Unknown, Down)]),
            (1, 1, "+-+-",      &[(0, Unknown, Up), (1, Up, Down), (2, Down, Up), (3, Up, Down)]),
        ];
        for &(rise, fall, outcomes, expected) in table {
            let (_, transitions) = run(rise, fall, outcomes);
            let expected: Vec<(usize, Transition)> = expected
                .iter()
                .map(|&(i, from, to)| (i, Transition { from, to }))
                .collect();
            assert_eq!(
                transitions, expected,
                "rise {rise} fall {fall} outcomes {outcomes:?}"
            );
        }
    }

    #[test]
    fn streak_counters_reset_on_the_other_outcome() {
        let mut state = HealthState::new(3, 2);
        state.observe(true);
        state.observe(true);
        assert_eq!(
            (state.successes_in_a_row(), state.failures_in_a_row()),
            (2, 0)
        );
        state.observe(false);
        assert_eq!(
            (state.successes_in_a_row(), state.failures_in_a_row()),
            (0, 1)
        );
    }
}
