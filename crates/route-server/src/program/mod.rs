//! When a RIB change reaches the data plane: at once, or as late as in the cloud.
//!
//! Pure like the RIB: the caller submits the state it wants for a prefix
//! ([`Programmer::submit`]), sleeps until [`Programmer::poll_timeout`], and
//! carries out what [`Programmer::poll`] returns. Time is an argument, the
//! delays come from a seeded PRNG, so a timeline is reproducible and testable.
//!
//! # The model, per prefix
//! ```text
//!   submit(t, state) ──► queue (in order) ──► ready at max(t + delay, previous ready)
//!                                               │
//!        min_interval: first change is programmed when ready; a change that becomes
//!        ready while the route is inside min_interval of its last programmed change
//!        waits for the interval's end, and all changes waiting then collapse into
//!        the latest one, programmed once.
//! ```
//! - **Delay**: each submission draws a delay from the profile's list; changes
//!   of one prefix never overtake each other (the cloud is not seen to reorder).
//! - **Rate limit**: at most one programmed change per route per `min_interval`.
//!   Changes are programmed in order, so a withdraw followed at once by an announce
//!   programs the withdraw, then the announce only when the interval ends: half a
//!   minute without the route. That is the point: users see what a
//!   withdraw-then-announce costs in the cloud, and that one replacing UPDATE does
//!   not.
//! - **No-ops**: a submission equal to the state the prefix is heading for is
//!   ignored (no delay drawn), and a change equal to what is programmed when it
//!   comes due is dropped without starting an interval.
//! - An empty next-hop list means the same as `None`: no route.
//!
//! `programmed_at` is the time the change was due; it equals `now` when the caller
//! polls at [`Programmer::poll_timeout`], and it stays exact when a simulated clock
//! jumps.

mod profile;

pub use profile::{AZURE_MIN_INTERVAL, MEASURED_DELAYS_MS, Profile, ProfileName, measured_delays};

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use hopwatch_bgp::Prefix;

use crate::rib::RibChange;

/// A change the data plane must carry out now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// The prefix.
    pub prefix: Prefix,
    /// Its next hops, sorted; `None`: remove the route.
    pub next_hops: Option<Vec<IpAddr>>,
    /// When the state was submitted (the UPDATE's arrival, to the caller).
    pub submitted_at: Instant,
    /// When it was due to be programmed.
    pub programmed_at: Instant,
}

/// One submitted state on its way to the data plane.
#[derive(Debug, Clone)]
struct InFlight {
    next_hops: Option<Vec<IpAddr>>,
    submitted_at: Instant,
    ready_at: Instant,
}

#[derive(Debug, Clone, Default)]
struct RouteState {
    programmed: Option<Vec<IpAddr>>,
    last_change: Option<Instant>,
    queue: VecDeque<InFlight>,
}

/// Delays RIB changes on their way to the data plane, by [`Profile`].
#[derive(Debug, Clone)]
pub struct Programmer {
    delays: Vec<Duration>,
    min_interval: Option<Duration>,
    /// Seeded: the same seed draws the same delays (fastrand's wyrand; the delays
    /// only need to look drawn from the list and repeat for a seed).
    rng: fastrand::Rng,
    routes: BTreeMap<Prefix, RouteState>,
    /// Prefixes with something in flight.
    pending: BTreeSet<Prefix>,
    /// Removed routes to forget once their interval is over.
    cooling: BTreeSet<(Instant, Prefix)>,
}

impl Programmer {
    /// A programmer with `profile`.
    pub fn new(profile: Profile) -> Self {
        let (delays, min_interval, seed) = match profile {
            Profile::Instant => (Vec::new(), None, 0),
            Profile::Azure {
                delays,
                min_interval,
                seed,
            } => (delays, min_interval, seed),
        };
        Programmer {
            delays,
            min_interval,
            rng: fastrand::Rng::with_seed(seed),
            routes: BTreeMap::new(),
            pending: BTreeSet::new(),
            cooling: BTreeSet::new(),
        }
    }

    /// Asks for `prefix` to be programmed with `desired` next hops (`None`: no
    /// route) from `now` on.
    pub fn submit(&mut self, now: Instant, prefix: Prefix, desired: Option<Vec<IpAddr>>) {
        let desired = normalize(desired);
        let route = self.routes.entry(prefix).or_default();
        let heading_for = route
            .queue
            .back()
            .map_or(&route.programmed, |f| &f.next_hops);
        if *heading_for == desired {
            return;
        }
        let delay = if self.delays.is_empty() {
            Duration::ZERO
        } else {
            self.delays[self.rng.usize(..self.delays.len())]
        };
        let after_previous = route.queue.back().map_or(now, |f| f.ready_at);
        route.queue.push_back(InFlight {
            next_hops: desired,
            submitted_at: now,
            ready_at: (now + delay).max(after_previous),
        });
        self.pending.insert(prefix);
    }

    /// [`Programmer::submit`] for a change of the RIB: its best set's next hops, or
    /// no route.
    pub fn submit_change(&mut self, now: Instant, change: &RibChange) {
        let desired = change.best.as_ref().map(|b| b.next_hops.clone());
        self.submit(now, change.prefix, desired);
    }

    /// When [`Programmer::poll`] has something to return next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending
            .iter()
            .filter_map(|p| self.routes.get(p))
            .filter_map(|r| self.due_at(r))
            .min()
    }

    /// The changes due by `now`, in the order they were due (then by prefix).
    pub fn poll(&mut self, now: Instant) -> Vec<Program> {
        let mut out = Vec::new();
        let mut done = Vec::new();
        for prefix in &self.pending {
            let Some(route) = self.routes.get_mut(prefix) else {
                continue;
            };
            drain_due(*prefix, route, self.min_interval, now, &mut out);
            if route.queue.is_empty() {
                done.push(*prefix);
            }
        }
        for prefix in done {
            self.pending.remove(&prefix);
            if let Some(route) = self.routes.get(&prefix)
                && route.programmed.is_none()
            {
                // A route that is gone is forgotten once its interval is over
                // (its last change still limits the next one until then).
                let until = earliest_change(route, self.min_interval).unwrap_or(now);
                self.cooling.insert((until, prefix));
            }
        }
        while let Some(&(until, prefix)) = self.cooling.first() {
            if until > now {
                break;
            }
            self.cooling.pop_first();
            if !self.pending.contains(&prefix)
                && self
                    .routes
                    .get(&prefix)
                    .is_some_and(|r| r.programmed.is_none())
            {
                self.routes.remove(&prefix);
            }
        }
        out.sort_by_key(|p| (p.programmed_at, p.prefix));
        out
    }

    /// What the data plane holds for `prefix` according to the changes returned
    /// so far.
    pub fn programmed(&self, prefix: Prefix) -> Option<&[IpAddr]> {
        self.routes.get(&prefix)?.programmed.as_deref()
    }

    /// How many submitted changes are not programmed yet.
    pub fn in_flight(&self) -> usize {
        self.routes.values().map(|r| r.queue.len()).sum()
    }

    fn due_at(&self, route: &RouteState) -> Option<Instant> {
        let front = route.queue.front()?;
        Some(match earliest_change(route, self.min_interval) {
            Some(t) => front.ready_at.max(t),
            None => front.ready_at,
        })
    }
}

/// When the route may change again: `min_interval` after its last change.
fn earliest_change(route: &RouteState, min_interval: Option<Duration>) -> Option<Instant> {
    Some(route.last_change? + min_interval?)
}

/// Programs what is due for one prefix by `now`, in order.
fn drain_due(
    prefix: Prefix,
    route: &mut RouteState,
    min_interval: Option<Duration>,
    now: Instant,
    out: &mut Vec<Program>,
) {
    while let Some(front) = route.queue.front() {
        let ready = front.ready_at;
        let allowed = earliest_change(route, min_interval);
        let due = allowed.map_or(ready, |t| ready.max(t));
        if due > now {
            return;
        }
        // A change that had to wait for the interval collapses, with every change
        // that became ready meanwhile, into the latest of them.
        let waited = allowed.is_some_and(|t| t > ready);
        let take = if waited {
            route.queue.iter().take_while(|f| f.ready_at <= due).count()
        } else {
            1
        };
        let Some(latest) = route.queue.drain(..take).next_back() else {
            return;
        };
        if latest.next_hops == route.programmed {
            continue;
        }
        route.programmed = latest.next_hops.clone();
        route.last_change = Some(due);
        out.push(Program {
            prefix,
            next_hops: latest.next_hops,
            submitted_at: latest.submitted_at,
            programmed_at: due,
        });
    }
}

fn normalize(desired: Option<Vec<IpAddr>>) -> Option<Vec<IpAddr>> {
    let mut hops = desired?;
    if hops.is_empty() {
        return None;
    }
    hops.sort_unstable();
    hops.dedup();
    Some(hops)
}
