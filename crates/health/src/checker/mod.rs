//! The checker task of one backend: schedules probes, applies results, reports.
//!
//! ```text
//!                     ┌──────────── checker task (one per backend) ────────────┐
//!   every tick of ──►│ start probe #seq  ──► probe futures in flight (≤ max)  │
//!   the shared grid   │                          │ one deadline timer for all   │
//!                     │ ◄── completion ──────────┘                             │
//!   idle keep-alive ─►│ ◄── EOF / RST while idle (peek)                        │
//!   connection        │ HealthState::observe ──► Report ──► mpsc ──────────────┼─► watcher
//!                     └────────────────────────────────────────────────────────┘
//! ```
//!
//! # Timing
//! A probe starts every `interval` (each gap within `interval × (1 ± jitter)`)
//! whether or not earlier probes have finished, as BFD sends packets regardless of
//! answers: a backend that goes silent is down one `timeout` after the `fall`-th
//! unanswered probe started, not after `fall × (interval + timeout)`; with the jitter
//! and the timers, within [`crate::spec::silent_failure_bound`]. At most `max_in_flight`
//! probes are in flight; a probe due beyond that is skipped (the next one is on
//! schedule). A probe that has not succeeded within `timeout` fails.
//!
//! The ticks are on a grid shared by the checkers of the process (see `Schedule` below):
//! checkers with the same interval start their probes in the same timer wake-up,
//! a group of up to eight at a time, and the jitter moves each tick of the whole
//! process by one shared amount. Jitter still de-synchronises watchers (each process
//! draws its own offsets and phases) and successive ticks; it no longer spreads the
//! checkers of one watcher apart, which is what made each of them wake the process
//! on its own.
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
//! # Stalls
//! A timeout is a verdict only if the checker looked at the clock on time. When its
//! process did not run for a while (a CPU-starved host, a VM's stolen time), it
//! sees its deadlines late, all at once, and an answer the backend sent meanwhile may
//! not even have been read. Every backend of the watcher would then fail together:
//! the lab saw both backends "time out" with 54 ms for a 30 ms timeout, and the VIP
//! moved for nothing. So a probe whose deadline the checker saw later than
//! `max(5 ms, timeout / 4)` is reported as `Stalled` (`counted: false`) and a new
//! probe starts at once: that one, timed by a running process, decides. A checker
//! that is late all the time must still see a dead backend, so at most
//! `max_in_flight + fall` stalled timeouts in a row are discounted; the next counts.
//! A stall never hides a refused connection or a lost one: only timeouts are judged.
//!
//! # The watched connection
//! The checker holds one connection to each backend between probes and watches it
//! with `peek` while idle: the HTTP/1.1 keep-alive connection when the backend keeps
//! it; when the backend closes after each answer (`Connection: close`, HTTP/1.0), a
//! connection opened right after the answer for the next probe to use (so no more
//! connects than before: one per probe, made earlier); for `tcp://`, the last
//! accepted connection. When the backend process dies the kernel closes its sockets:
//! the peek returns EOF (or an error on RST) within microseconds, and the checker
//! starts a re-probe at once on a fresh connection (`Cause::Reprobe`), which is
//! refused. The loss itself is reported (`Cause::ConnectionLost`) but never counted:
//! that *a* connection ended says nothing certain about the backend behind a proxy or
//! a NAT that times idle connections out, so only the re-probe judges. The same holds
//! when a probe on a held connection sees it end. With `fall = 2` a killed backend is
//! `Down` about three round trips after the kill: loss, refused, refused.
//!
//! A backend (or a middlebox) that closes held connections at once could make this a
//! loop of re-probes: losses re-probe at once at most four times per tick (see
//! `LOSS_REPROBES_PER_TICK` for why more than one); a further loss before the next
//! tick waits for the schedule. `CheckSpec::watch_connection = false`
//! holds nothing: a keep-alive connection is still reused, but a backend that closes
//! after each answer is seen dead by the next probe's refused connect, and a `tcp://`
//! probe closes its connection at once. Cost of the default: one socket per backend
//! (held by the backend too) and, for a backend that closes after each answer, the
//! same connects as without it.
//!
//! # Refused and reset
//! A refused connect (RST to our SYN), or a reset or an end before any answer on a
//! fresh connection, is the backend's host saying no: it is counted, and confirmed at once by another probe
//! instead of at the next tick, so `fall` is reached within a few round trips. These
//! re-probes stop when the verdict is `Down` and number at most `fall` between two
//! counted successes, so a backend that refuses for good is probed on the schedule.
//! A dead backend refuses within a round trip only if our SYN meets no connection it
//! still keeps: HTTP probe connections end with a reset so that a backend that closes
//! first keeps none of them in TIME_WAIT (see "No TIME_WAIT left at the backend" in
//! `probe`; with them, 2 or 3 kill trials in 20 waited ~10 ms for the kernel).
//!
//! # Cost
//! On loopback every probe costs the kernel's TCP work of both ends (the sender's
//! system time includes the receiving side), so what the checker controls is the
//! number of wake-ups and of syscalls. Per probe on an idle keep-alive connection:
//! one `write` of the prepared request, one `read` of the whole response into a
//! buffer reused from probe to probe, and a [`Report`]. No timer per probe: one
//! deadline timer per checker follows the oldest probe in flight, and a response in
//! time touches no timer. The tick timers are double-buffered so that no timer is
//! ever armed before the runtime's next wake-up (tokio would then wake its own driver
//! through an eventfd: two syscalls and an epoll turn per probe). The probes of a
//! tick go out in one wake-up and their answers, which arrive together, are read in
//! one more. Measured with `cargo bench -p hopwatch --bench watcher_cost` (the
//! whole watcher, CPU time, on the shared 2-core VM; runs vary by ±15 %): the
//! example config (2 backends every 10 ms) costs 1.9–2.5 % of one core with 1.5
//! context switches per probe (2.9–3.1 % with backends that answer `Connection:
//! close`: a new connection per probe, opened ahead); 1,000 backends at 100 ms cost
//! 29–33 %. The watched connection costs the example nothing measurable: against the
//! build before it (687e2c6), alternating 20 s runs, 7 each, averaged 1.86 % vs
//! 1.85 % (ranges 1.50–2.30 and 1.65–2.10), with the same syscalls per probe
//! (`strace -c`: ~1.85 `epoll_wait`, one `sendto`, one `recvfrom`). On the same
//! machine a bare tokio loop with no checker logic costs 1.5–2.1 % (two GETs every
//! 10 ms) and 22 % (1,000 GETs every 100 ms, in groups of eight), and a timer alone
//! waking every 10 ms 0.6–0.9 %: what
//! is left is mostly the kernel's TCP work of both ends and the wake-up for the
//! answers, which this design keeps so that latency is measured and a verdict is
//! immediate.
//!
//! A backend that closes idle keep-alive connections on purpose (a keep-alive timeout
//! shorter than the interval) costs one re-probe each time, and no failure. An idle
//! HTTP connection on which bytes arrive unasked is dropped without a verdict; the
//! next probe connects afresh.

mod schedule;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use schedule::Schedule;

use crate::probe::{self, IdleEvent, Outcome, Prepared, ProbeError};
use crate::spec::CheckSpec;
use crate::state::{Health, HealthState, Transition};

/// Why a report was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// A probe started on the interval schedule.
    Scheduled,
    /// A probe started at once: a held connection ended, a connect was refused or
    /// reset, or a timeout was seen too late to trust.
    Reprobe,
    /// The connection held between probes was closed or reset (no probe; reported,
    /// never counted: the re-probe it starts judges).
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
    /// A timeout the checker saw too late to trust (see "Stalls" in the module doc):
    /// reported, not counted.
    pub stalled: bool,
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

/// A probe in flight, polled inside the checker's own task.
struct Probe {
    seq: u64,
    cause: Cause,
    started: Instant,
    /// `started + timeout`: a probe still here at this time has failed.
    deadline: tokio::time::Instant,
    future: Pin<Box<dyn Future<Output = (Outcome, Vec<u8>)> + Send>>,
}

/// A finished probe, as the checker applies it.
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
    timeout: Duration,
    max_in_flight: usize,
    tx: UnboundedSender<Report>,
    state: HealthState,
    probes: InFlight,
    idle: Option<TcpStream>,
    /// A connection being opened ahead of the next probe (see "The watched
    /// connection").
    opening: Option<Opening>,
    watch_connection: bool,
    next_seq: u64,
    /// `seq` of the last counted result, if any.
    last_counted: Option<u64>,
    reprobe_pending: bool,
    /// Immediate re-probes for definitive failures since the last counted success
    /// (at most `fall`; see "Refused and reset").
    definitive_reprobes: u32,
    fall: u32,
    /// Re-probes made for lost connections since the last tick; past
    /// [`LOSS_REPROBES_PER_TICK`] a loss waits for the schedule (see "The watched
    /// connection").
    loss_reprobes: u32,
    /// Lateness beyond which an expired probe is a stall, not a verdict.
    stall_tolerance: Duration,
    /// Stalled timeouts discounted since the last counted result.
    stall_discounts: u32,
    /// At most this many in a row (see "Stalls" in the module doc).
    stall_cap: u32,
    schedule: Schedule,
    /// The response buffer, lent to one probe at a time (a probe that finds it
    /// lent, because another is in flight, gets a fresh one).
    buf: Option<Vec<u8>>,
}

impl Checker {
    fn new(id: usize, spec: CheckSpec, tx: UnboundedSender<Report>) -> Self {
        let min = Duration::from_millis(1);
        let jitter = if spec.jitter.is_finite() {
            f64::from(spec.jitter).clamp(0.0, 0.5)
        } else {
            0.0
        };
        let interval = spec.interval.max(min);
        Self {
            id,
            target: Prepared::new(&spec.target, spec.source),
            timeout: spec.timeout.max(min),
            max_in_flight: spec.max_in_flight.max(1),
            tx,
            state: HealthState::new(spec.rise, spec.fall),
            stall_tolerance: (spec.timeout / 4).max(STALL_TOLERANCE_MIN),
            stall_discounts: 0,
            stall_cap: u32::try_from(spec.max_in_flight.max(1))
                .unwrap_or(u32::MAX)
                .saturating_add(spec.fall),
            probes: InFlight::default(),
            idle: None,
            opening: None,
            watch_connection: spec.watch_connection,
            next_seq: 0,
            last_counted: None,
            reprobe_pending: false,
            definitive_reprobes: 0,
            fall: spec.fall.max(1),
            loss_reprobes: 0,
            schedule: Schedule::new(id, interval, jitter),
            buf: None,
        }
    }

    /// The gap to the next tick of the schedule (and moves to it): `interval × (1 ±
    /// jitter)`.
    #[cfg(test)]
    fn next_gap(&mut self) -> Duration {
        let from = self.schedule.at(self.schedule.k);
        self.schedule.k += 1;
        self.schedule
            .at(self.schedule.k)
            .saturating_duration_since(from)
    }

    async fn run(mut self) {
        // Timers, and why there are three (see the module doc, Cost): no timer per
        // probe; a response that arrives in time touches no timer; and no timer is
        // ever armed earlier than the runtime's next wake-up, which would make tokio
        // wake its own driver (an eventfd write and an extra epoll turn per probe).
        // - `tick` is armed at the next tick and `tick_after` at the one after it,
        //   so when `tick` fires the next one is already in the wheel, and the one
        //   re-armed (two ticks ahead) is later than the runtime's next wake-up.
        // - `deadline` is armed at the oldest probe's deadline while probes are in
        //   flight, and far away otherwise.
        let first = self.schedule.first_at_or_after(Instant::now());
        let after = self.schedule.at(self.schedule.k + 1);
        let tick_a = tokio::time::sleep_until(tokio::time::Instant::from_std(first));
        let tick_b = tokio::time::sleep_until(tokio::time::Instant::from_std(after));
        let deadline = tokio::time::sleep_until(far_away());
        tokio::pin!(tick_a, tick_b, deadline);
        // Which of the two holds the next tick.
        let mut a_is_next = true;
        let mut deadline_armed: Option<tokio::time::Instant> = None;
        // Made once: a `closed()` future made per turn would register with (and
        // leave) the channel's waiter list, under its lock, on every wake-up.
        let sender = self.tx.clone();
        let closed = sender.closed();
        tokio::pin!(closed);
        let discard_idle_data = !self.target.reuses_connections();
        loop {
            tokio::select! {
                biased;
                () = &mut closed => break,
                done = self.probes.next_with(&mut self.buf), if !self.probes.is_empty() => {
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
                            if !self.connection_lost(why) {
                                break;
                            }
                        }
                    }
                }
                opened = poll_opening(&mut self.opening), if self.opening.is_some() => {
                    self.opening = None;
                    match opened {
                        Ok(stream) if self.idle.is_none() => self.idle = Some(stream),
                        Ok(_) => {}
                        // Refused or reset between two probes: the backend may have
                        // just died. Not a verdict: the re-probe decides.
                        Err(e) => {
                            if !self.connection_lost(format!("connection opened ahead: {e}")) {
                                break;
                            }
                        }
                    }
                }
                () = &mut deadline, if deadline_armed.is_some() => {
                    if !self.expire(tokio::time::Instant::now()) {
                        break;
                    }
                }
                () = if a_is_next { tick_a.as_mut() } else { tick_b.as_mut() } => {
                    self.loss_reprobes = 0;
                    if !self.expire(tokio::time::Instant::now()) {
                        break;
                    }
                    if self.probes.len() < self.max_in_flight {
                        // A fresh time: a probe that just expired ended before this
                        // one started (in-flight counts never overlap by one).
                        self.start(Cause::Scheduled, Instant::now());
                    } else {
                        tracing::debug!(id = self.id, in_flight = self.probes.len(), "probe skipped: max in flight");
                    }
                    // The other timer holds the next tick already; the one that fired
                    // is re-armed for the tick after it.
                    let (mut fired, mut other) = if a_is_next {
                        (tick_a.as_mut(), tick_b.as_mut())
                    } else {
                        (tick_b.as_mut(), tick_a.as_mut())
                    };
                    let now = Instant::now();
                    if self.schedule.at(self.schedule.k + 1) > now {
                        self.schedule.k += 1;
                    } else {
                        // Fell behind (a stalled runtime): skip the missed ticks rather
                        // than bursting to catch up.
                        let next = self.schedule.first_at_or_after(now);
                        other.as_mut().reset(tokio::time::Instant::from_std(next));
                    }
                    let after = self.schedule.at(self.schedule.k + 1);
                    fired.as_mut().reset(tokio::time::Instant::from_std(after));
                    a_is_next = !a_is_next;
                }
            }
            if self.reprobe_pending && self.probes.len() < self.max_in_flight {
                self.reprobe_pending = false;
                self.start(Cause::Reprobe, Instant::now());
            }
            let want = self.probes.oldest_deadline();
            if want != deadline_armed {
                deadline_armed = want;
                deadline.as_mut().reset(want.unwrap_or_else(far_away));
            }
        }
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// A connection we held ended: reported, not counted, and a reason to re-probe at
    /// once (at most `LOSS_REPROBES_PER_TICK` per tick); false when the receiver is gone.
    fn connection_lost(&mut self, why: String) -> bool {
        let now = Instant::now();
        let seq = self.take_seq();
        let error = ProbeError::ConnectionLost(why);
        self.request_loss_reprobe();
        self.report(
            seq,
            Cause::ConnectionLost,
            now,
            Duration::ZERO,
            Err(error),
            false,
        )
    }

    fn request_loss_reprobe(&mut self) {
        if self.loss_reprobes < LOSS_REPROBES_PER_TICK {
            self.loss_reprobes += 1;
            self.reprobe_pending = true;
        }
    }

    fn start(&mut self, cause: Cause, now: Instant) {
        let seq = self.take_seq();
        let target = Arc::clone(&self.target);
        let idle = if target.reuses_connections() {
            self.idle.take()
        } else {
            None
        };
        let buf = self.buf.take().unwrap_or_default();
        self.probes.push(Probe {
            seq,
            cause,
            started: now,
            deadline: tokio::time::Instant::from_std(now + self.timeout),
            future: Box::pin(async move { probe::probe(&target, idle, buf).await }),
        });
    }

    /// Fails every probe whose deadline has passed (dropping it closes its
    /// connection), unless the checker saw the deadline so late that it was stalled
    /// itself (see "Stalls"); false when the receiver is gone.
    fn expire(&mut self, now: tokio::time::Instant) -> bool {
        while let Some(probe) = self.probes.take_expired(now) {
            let latency = now.into_std().saturating_duration_since(probe.started);
            let late = now.saturating_duration_since(probe.deadline);
            let ok = if late > self.stall_tolerance && self.stall_discounts < self.stall_cap {
                self.stall_discounts += 1;
                self.reprobe_pending = true;
                let error = ProbeError::Stalled {
                    timeout: self.timeout,
                    late,
                };
                self.report(
                    probe.seq,
                    probe.cause,
                    probe.started,
                    latency,
                    Err(error),
                    false,
                )
            } else {
                let error = ProbeError::Timeout(self.timeout);
                self.apply(probe.seq, probe.cause, probe.started, latency, Err(error))
            };
            if !ok {
                return false;
            }
        }
        true
    }

    /// Handles a finished probe; false when the receiver is gone.
    fn complete(&mut self, done: Done) -> bool {
        let (result, conn, eligible, definitive) = match done.outcome {
            Ok(conn) => (Ok(()), conn, true, false),
            Err(failure) => {
                if failure.connection_died {
                    self.request_loss_reprobe();
                }
                (
                    Err(failure.error),
                    failure.conn,
                    !failure.connection_died,
                    failure.definitive,
                )
            }
        };
        let ok = result.is_ok();
        let keep = conn.filter(|_| self.watch_connection || self.target.reuses_connections());
        match keep {
            Some(conn) if self.idle.is_none() => self.idle = Some(conn),
            Some(_) => {}
            // A backend that closes after each answer leaves nothing to watch: open
            // the next probe's connection now and watch that one.
            None if ok
                && self.watch_connection
                && self.target.reuses_connections()
                && self.idle.is_none()
                && self.opening.is_none() =>
            {
                let (addr, source) = (self.target.addr, self.target.source);
                self.opening = Some(Box::pin(probe::connect_stream(addr, source, true)));
            }
            None => {}
        }
        let sent = self.report(
            done.seq,
            done.cause,
            done.started,
            done.latency,
            result,
            eligible,
        );
        if ok {
            self.definitive_reprobes = 0;
        } else if definitive
            && self.state.health() != Health::Down
            && self.definitive_reprobes < self.fall
        {
            self.definitive_reprobes += 1;
            self.reprobe_pending = true;
        }
        sent
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
        self.report(seq, cause, started, latency, result, true)
    }

    /// Sends the report of a result, counting it when `eligible` and not stale;
    /// false when the receiver is gone.
    fn report(
        &mut self,
        seq: u64,
        cause: Cause,
        started: Instant,
        latency: Duration,
        result: Result<(), ProbeError>,
        eligible: bool,
    ) -> bool {
        let ok = result.is_ok();
        let stalled = matches!(result, Err(ProbeError::Stalled { .. }));
        let counted = eligible && self.last_counted.is_none_or(|last| seq > last);
        let transition = if counted {
            self.last_counted = Some(seq);
            self.stall_discounts = 0;
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
            ts_us: hopwatch_events::now_us(),
            at: Instant::now(),
            started,
            ok,
            latency,
            error: result.err().map(|e| e.to_string()),
            counted,
            stalled,
            cause,
            state: self.state.health(),
            transition,
            in_flight: self.probes.len(),
        };
        self.tx.send(report).is_ok()
    }
}

/// The probes in flight, polled inside the checker's own task, oldest first.
///
/// Not a task per probe: a probe's socket wakes the checker directly, with no spawn,
/// no join handle and no task that could outlive the checker. There are few in flight
/// (`max_in_flight`), so polling them all on each wake-up is cheap. They are kept in
/// start order, and all have the same timeout, so the first one has the earliest
/// deadline: the checker's one timer covers them all.
#[derive(Default)]
struct InFlight(Vec<Probe>);

impl InFlight {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn push(&mut self, probe: Probe) {
        self.0.push(probe);
    }

    fn oldest_deadline(&self) -> Option<tokio::time::Instant> {
        self.0.first().map(|p| p.deadline)
    }

    /// The oldest probe, if its deadline has passed.
    fn take_expired(&mut self, now: tokio::time::Instant) -> Option<Probe> {
        if self.0.first().is_some_and(|p| p.deadline <= now) {
            Some(self.0.remove(0))
        } else {
            None
        }
    }

    /// The next probe to finish (pending forever while there is none); the buffer it
    /// borrowed goes back to `buf`.
    async fn next_with(&mut self, buf: &mut Option<Vec<u8>>) -> Done {
        std::future::poll_fn(|cx| {
            for i in 0..self.0.len() {
                if let Some(probe) = self.0.get_mut(i)
                    && let Poll::Ready((outcome, b)) = probe.future.as_mut().poll(cx)
                {
                    let probe = self.0.remove(i);
                    if buf.is_none() {
                        *buf = Some(b);
                    }
                    return Poll::Ready(Done {
                        seq: probe.seq,
                        cause: probe.cause,
                        started: probe.started,
                        latency: probe.started.elapsed(),
                        outcome,
                    });
                }
            }
            Poll::Pending
        })
        .await
    }
}

/// Re-probes for lost connections between two ticks. More than one: a killed
/// process's listening socket can outlive its connections by a moment (the kernel
/// closes a dying process's descriptors one by one), so a re-probe may be accepted
/// on the process's way out (a `tcp://` check then succeeds) and its connection lost
/// again at once; the benchmark saw that repeat. A few more find the port closed.
/// The bound only keeps a backend that closes every held connection from making the
/// checker probe more than this many extra times per interval.
const LOSS_REPROBES_PER_TICK: u32 = 4;

/// The least lateness that marks a stall (a quarter of the timeout above that):
/// tokio's timers have a millisecond's granularity and a busy runtime adds a few.
const STALL_TOLERANCE_MIN: Duration = Duration::from_millis(5);

/// A time no timer of a checker reaches: where the idle deadline timer waits.
fn far_away() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(24 * 3600)
}

/// A connect in progress, polled inside the checker's task like a probe.
type Opening = Pin<Box<dyn Future<Output = std::io::Result<TcpStream>> + Send>>;

/// The connection being opened ahead; pending forever when there is none (the
/// `select!` guard keeps that branch off then).
async fn poll_opening(opening: &mut Option<Opening>) -> std::io::Result<TcpStream> {
    match opening {
        Some(future) => future.as_mut().await,
        None => std::future::pending().await,
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

#[cfg(test)]
mod tests;
