//! The checker task of one backend: schedules probes, applies results, reports.
//!
//! ```text
//!                     ┌──────────── checker task (one per backend) ────────────┐
//!   every interval ──►│ start probe #seq  ──► probe futures in flight (≤ max)  │
//!   (± jitter)        │                          │ each under its own timeout  │
//!                     │ ◄── completion ──────────┘                             │
//!   idle keep-alive ─►│ ◄── EOF / RST while idle (peek)                        │
//!   connection        │ HealthState::observe ──► Report ──► mpsc ──────────────┼─► watcher
//!                     └────────────────────────────────────────────────────────┘
//! ```
//!
//! # Timing
//! A probe starts every `interval` (each gap drawn from `interval × (1 ± jitter)`)
//! whether or not earlier probes have finished, as BFD sends packets regardless of
//! answers: a backend that goes silent is seen one `timeout` after the first
//! unanswered probe, not after `fall × (interval + timeout)`. At most `max_in_flight`
//! probes are in flight; a probe due beyond that is skipped (the next one is on
//! schedule). A probe that has not succeeded within `timeout` fails.
//!
//! # Which results count, and in which order
//! Results are applied as they complete, with one rule: a result counts only if its
//! probe started after the probe of the last counted result (`seq` is the start
//! order). An older result arriving late is *stale*: it is still reported (with its
//! latency and error, `counted: false`), but does not touch rise/fall. So a slow
//! success cannot revive a streak that a newer probe already broke, and a slow
//! failure cannot break a streak that newer successes built. The newest evidence wins.
//! In the silent-failure case nothing newer completes first (every later probe hangs
//! too and times out later, in start order), so each timeout counts.
//!
//! # The persistent connection
//! The checker keeps one idle connection per backend (HTTP/1.1 keep-alive; for
//! `tcp://`, the last accepted connection) and watches it with `peek` while idle.
//! When the backend process dies the kernel closes its sockets: the peek returns EOF
//! (or an error on RST) within microseconds. The checker then reports a failure at
//! once (`Cause::ConnectionLost`) and starts a re-probe immediately on a fresh
//! connection (`Cause::Reprobe`), which is refused: with `fall = 2`, `Down` about a
//! millisecond after the kill. The same happens when a probe on the reused connection
//! sees it end. Only a connection that had worked triggers a re-probe, so a backend
//! that accepts and closes cannot cause a loop.
//!
//! # Cost
//! Per probe on an idle keep-alive connection: one `write`, one `read`, one `peek`
//! that finds nothing (the idle watch), two timer updates and a [`Report`]. With
//! 1,000 backends at 100 ms on loopback, `benches/probe_cost.rs` measured about 26 %
//! of one core on the shared 2-core machine, of which a bare GET loop with no checker
//! logic already costs 17 to 19 %: on loopback the sender's system time includes the
//! receiving side of the TCP stack. Jitter accounts for about 5 points (it spreads
//! probe starts over the interval, so the runtime wakes every millisecond instead of
//! in bursts); `jitter = 0` trades that for synchronised bursts.
//!
//! A backend that answers with `Connection: close` (or HTTP/1.0 without keep-alive)
//! leaves nothing to watch: each probe connects afresh, and a kill is seen by the
//! next probe's refused connect, within one interval.
//!
//! A backend that closes idle keep-alive connections on purpose (a keep-alive timeout
//! shorter than the interval) costs one failure each time, which the immediate
//! re-probe's success clears: harmless with `fall ≥ 2`, the configuration this design
//! assumes. An idle HTTP connection on which bytes arrive unasked is dropped without
//! a verdict; the next probe connects afresh.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use crate::probe::{self, Failure, IdleEvent, Outcome, Prepared, ProbeError};
use crate::spec::CheckSpec;
use crate::state::{Health, HealthState, Transition};

/// Why a report was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// A probe started on the interval schedule.
    Scheduled,
    /// A probe started at once because the persistent connection died.
    Reprobe,
    /// The idle persistent connection was closed or reset by the backend (no probe:
    /// the loss itself is the failure).
    ConnectionLost,
}

/// One probe result (or connection loss) and the verdict after it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Report {
    /// The backend, as given to [`spawn_checker`].
    pub id: usize,
    /// Start order of the probe, from 0; a connection loss gets the next number when
    /// it is seen.
    pub seq: u64,
    /// Wall clock when the result was applied, µs since the Unix epoch (for logs).
    pub ts_us: u64,
    /// Monotonic time when the result was applied.
    pub at: Instant,
    /// When the probe started (equal to `at` for a connection loss).
    pub started: Instant,
    /// The probe succeeded.
    pub ok: bool,
    /// Time from the probe's start to its result (the timeout, for a timeout).
    pub latency: Duration,
    /// Why it failed.
    pub error: Option<String>,
    /// Whether it counted for rise/fall (false for a stale result, see the module doc).
    pub counted: bool,
    /// What made this report.
    pub cause: Cause,
    /// The verdict after this result.
    pub state: Health,
    /// The change of verdict this result caused.
    pub transition: Option<Transition>,
    /// Probes in flight just after this result was taken off (the one reported is
    /// no longer counted).
    pub in_flight: usize,
}

/// Spawns the checker of one backend on the current tokio runtime. It runs until `tx`
/// is closed (every receiver dropped) or the handle is aborted; either way its probes
/// are cancelled and its connections closed.
pub fn spawn_checker(id: usize, spec: CheckSpec, tx: UnboundedSender<Report>) -> JoinHandle<()> {
    tokio::spawn(run_checker(id, spec, tx))
}

/// The checker itself, for callers that want to run it inside their own task.
pub async fn run_checker(id: usize, spec: CheckSpec, tx: UnboundedSender<Report>) {
    Checker::new(id, spec, tx).run().await;
}

/// What a probe task hands back.
struct Done {
    seq: u64,
    cause: Cause,
    started: Instant,
    latency: Duration,
    outcome: Outcome,
}

struct Checker {
    id: usize,
    target: Arc<Prepared>,
    interval: Duration,
    timeout: Duration,
    jitter: f64,
    max_in_flight: usize,
    tx: UnboundedSender<Report>,
    state: HealthState,
    probes: InFlight,
    idle: Option<TcpStream>,
    next_seq: u64,
    /// `seq` of the last counted result, if any.
    last_counted: Option<u64>,
    reprobe_pending: bool,
    rng: SplitMix64,
}

impl Checker {
    fn new(id: usize, spec: CheckSpec, tx: UnboundedSender<Report>) -> Self {
        let min = Duration::from_millis(1);
        let jitter = if spec.jitter.is_finite() {
            f64::from(spec.jitter).clamp(0.0, 0.5)
        } else {
            0.0
        };
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Self {
            id,
            target: Prepared::new(&spec.target),
            interval: spec.interval.max(min),
            timeout: spec.timeout.max(min),
            jitter,
            max_in_flight: spec.max_in_flight.max(1),
            tx,
            state: HealthState::new(spec.rise, spec.fall),
            probes: InFlight::default(),
            idle: None,
            next_seq: 0,
            last_counted: None,
            reprobe_pending: false,
            rng: SplitMix64(seed),
        }
    }

    /// The next gap between probe starts: `interval × (1 ± jitter)`.
    fn next_gap(&mut self) -> Duration {
        let spread = self.jitter * (2.0 * self.rng.next_f64() - 1.0);
        self.interval.mul_f64(1.0 + spread)
    }

    async fn run(mut self) {
        let mut next_start = tokio::time::Instant::now();
        let tick = tokio::time::sleep_until(next_start);
        tokio::pin!(tick);
        let discard_idle_data = !self.target.reuses_connections();
        loop {
            tokio::select! {
                biased;
                () = self.tx.closed() => break,
                done = self.probes.next(), if !self.probes.is_empty() => {
                    if !self.complete(done) {
                        break;
                    }
                }
                event = watch_idle(self.idle.as_ref(), discard_idle_data), if self.idle.is_some() => {
                    self.idle = None;
                    match event {
                        IdleEvent::Unsolicited => {
                            tracing::debug!(id = self.id, "unsolicited bytes on an idle connection; dropped it");
                        }
                        IdleEvent::Lost(why) => {
                            let now = Instant::now();
                            let seq = self.take_seq();
                            let error = ProbeError::ConnectionLost(why);
                            if !self.apply(seq, Cause::ConnectionLost, now, Duration::ZERO, Err(error)) {
                                break;
                            }
                            self.reprobe_pending = true;
                        }
                    }
                }
                () = &mut tick => {
                    if self.probes.len() < self.max_in_flight {
                        self.start(Cause::Scheduled);
                    } else {
                        tracing::debug!(id = self.id, in_flight = self.probes.len(), "probe skipped: max in flight");
                    }
                    let now = tokio::time::Instant::now();
                    next_start += self.next_gap();
                    if next_start <= now {
                        // Fell behind (a stalled runtime): restart the schedule from now.
                        next_start = now + self.next_gap();
                    }
                    tick.as_mut().reset(next_start);
                }
            }
            if self.reprobe_pending && self.probes.len() < self.max_in_flight {
                self.reprobe_pending = false;
                self.start(Cause::Reprobe);
            }
        }
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    fn start(&mut self, cause: Cause) {
        let seq = self.take_seq();
        let target = Arc::clone(&self.target);
        let idle = if target.reuses_connections() {
            self.idle.take()
        } else {
            None
        };
        let timeout = self.timeout;
        self.probes.push(async move {
            let started = Instant::now();
            let outcome = match tokio::time::timeout(timeout, probe::probe(&target, idle)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Failure {
                    error: ProbeError::Timeout(timeout),
                    connection_died: false,
                    conn: None,
                }),
            };
            Done {
                seq,
                cause,
                started,
                latency: started.elapsed(),
                outcome,
            }
        });
    }

    /// Handles a finished probe; false when the receiver is gone.
    fn complete(&mut self, done: Done) -> bool {
        let (result, conn) = match done.outcome {
            Ok(conn) => (Ok(()), conn),
            Err(failure) => {
                if failure.connection_died {
                    self.reprobe_pending = true;
                }
                (Err(failure.error), failure.conn)
            }
        };
        if let Some(conn) = conn
            && self.idle.is_none()
        {
            self.idle = Some(conn);
        }
        self.apply(done.seq, done.cause, done.started, done.latency, result)
    }

    /// Counts a result (unless stale) and sends its report; false when the receiver is gone.
    fn apply(
        &mut self,
        seq: u64,
        cause: Cause,
        started: Instant,
        latency: Duration,
        result: Result<(), ProbeError>,
    ) -> bool {
        let ok = result.is_ok();
        let counted = self.last_counted.is_none_or(|last| seq > last);
        let transition = if counted {
            self.last_counted = Some(seq);
            self.state.observe(ok)
        } else {
            None
        };
        if let Some(t) = transition {
            tracing::info!(id = self.id, from = ?t.from, to = ?t.to, "health changed");
        }
        let report = Report {
            id: self.id,
            seq,
            ts_us: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
            at: Instant::now(),
            started,
            ok,
            latency,
            error: result.err().map(|e| e.to_string()),
            counted,
            cause,
            state: self.state.health(),
            transition,
            in_flight: self.probes.len(),
        };
        self.tx.send(report).is_ok()
    }
}

/// The probes in flight, polled inside the checker's own task.
///
/// Not a task per probe: a probe's socket wakes the checker directly, with no spawn,
/// no join handle and no task that could outlive the checker. There are few in flight
/// (`max_in_flight`), so polling them all on each wake-up is cheap.
#[derive(Default)]
struct InFlight(Vec<Pin<Box<dyn Future<Output = Done> + Send>>>);

impl InFlight {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn push(&mut self, probe: impl Future<Output = Done> + Send + 'static) {
        self.0.push(Box::pin(probe));
    }

    /// The next probe to finish (pending forever while there is none).
    async fn next(&mut self) -> Done {
        std::future::poll_fn(|cx| {
            for i in 0..self.0.len() {
                if let Some(probe) = self.0.get_mut(i)
                    && let Poll::Ready(done) = probe.as_mut().poll(cx)
                {
                    drop(self.0.swap_remove(i));
                    return Poll::Ready(done);
                }
            }
            Poll::Pending
        })
        .await
    }
}

/// Waits for an event on the idle connection; pending forever when there is none
/// (the `select!` guard keeps that branch off then).
async fn watch_idle(idle: Option<&TcpStream>, discard_data: bool) -> IdleEvent {
    match idle {
        Some(stream) => probe::watch_idle(stream, discard_data).await,
        None => std::future::pending().await,
    }
}

/// A tiny PRNG for jitter (SplitMix64): no dependency, and jitter needs no quality
/// beyond spreading probe starts.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker(rise: u32, fall: u32) -> (Checker, tokio::sync::mpsc::UnboundedReceiver<Report>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let target = crate::spec::Target::parse("tcp://127.0.0.1:9").expect("valid");
        let mut spec = CheckSpec::new(target);
        spec.rise = rise;
        spec.fall = fall;
        (Checker::new(0, spec, tx), rx)
    }

    fn fail() -> Result<(), ProbeError> {
        Err(ProbeError::Timeout(Duration::from_millis(30)))
    }

    #[test]
    fn results_count_only_when_newer_than_the_last_counted_one() {
        // (seq, ok) in completion order -> counted?
        type Row = (&'static [(u64, bool)], &'static [bool]);
        #[rustfmt::skip]
        let table: &[Row] = &[
            (&[(0, true), (1, true), (2, true)],  &[true, true, true]),
            (&[(1, false), (0, true)],            &[true, false]), // a slow success does not revive
            (&[(1, true), (0, false)],            &[true, false]), // a slow failure does not break
            (&[(0, true), (2, true), (1, false)], &[true, true, false]),
            (&[(2, false), (0, true), (3, true)], &[true, false, true]),
        ];
        for &(results, expected) in table {
            let (mut checker, mut rx) = checker(3, 2);
            let now = Instant::now();
            for &(seq, ok) in results {
                let result = if ok { Ok(()) } else { fail() };
                assert!(checker.apply(seq, Cause::Scheduled, now, Duration::ZERO, result));
            }
            let counted: Vec<bool> = std::iter::from_fn(|| rx.try_recv().ok())
                .map(|r| r.counted)
                .collect();
            assert_eq!(counted, expected, "{results:?}");
        }
    }

    #[test]
    fn a_stale_success_leaves_the_verdict_alone() {
        let (mut checker, mut rx) = checker(1, 1);
        let now = Instant::now();
        checker.apply(5, Cause::Scheduled, now, Duration::ZERO, fail());
        checker.apply(4, Cause::Scheduled, now, Duration::ZERO, Ok(()));
        let reports: Vec<Report> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(reports[0].state, Health::Down);
        assert_eq!(
            (reports[1].ok, reports[1].counted, reports[1].state),
            (true, false, Health::Down)
        );
        assert_eq!(reports[1].transition, None);
    }

    #[test]
    fn jittered_gaps_stay_within_the_fraction_of_the_interval() {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let target = crate::spec::Target::parse("tcp://127.0.0.1:9").expect("valid");
        let mut spec = CheckSpec::new(target);
        spec.interval = Duration::from_millis(100);
        spec.jitter = 0.1;
        let mut checker = Checker::new(0, spec, tx);
        let gaps: Vec<Duration> = (0..1000).map(|_| checker.next_gap()).collect();
        let (min, max) = (gaps.iter().min().copied(), gaps.iter().max().copied());
        assert!(min >= Some(Duration::from_millis(90)), "{min:?}");
        assert!(max <= Some(Duration::from_millis(110)), "{max:?}");
        assert!(
            min < Some(Duration::from_millis(92)) && max > Some(Duration::from_millis(108)),
            "spread"
        );
    }
}
