//! Scenario tests of the decision engine under simulated time: each test is a table
//! of steps `(time in ms after start, input, expected move)`, run against one
//! engine, so a test reads as the timeline an operator would see.

// A panic in a test is a failed test, not a crashed daemon.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use hopwatch_watcher::decision::{
    AllDown, BackendInfo, Engine, Health, Move, PendingFailback, Policy, Reason,
};

const WS1: usize = 0;
const WS2: usize = 1;
const WS3: usize = 2;

/// Milliseconds in `secs` seconds, so that tables read in seconds.
const fn s(secs: u64) -> u64 {
    secs * 1000
}

/// One input to the engine.
#[derive(Debug, Clone, Copy)]
enum In {
    Up(usize),
    Down(usize),
    Drain(usize),
    Undrain(usize),
    Force(Option<usize>),
    Timeout,
}
use In::{Down, Drain, Force, Timeout, Undrain, Up};

/// What a step expects: no move, or a move `(from, to, reason)`.
type Expect = Option<(Option<usize>, Option<usize>, Reason)>;

fn mv(from: Option<usize>, to: Option<usize>, reason: Reason) -> Expect {
    Some((from, to, reason))
}

/// One VIP's engine and the instant its simulated time starts from.
struct Vip {
    engine: Engine,
    t0: Instant,
}

impl Vip {
    fn new(backends: usize, policy: Policy) -> Self {
        let list = (0..backends)
            .map(|i| {
                let last = u8::try_from(4 + i).unwrap();
                BackendInfo::new(
                    format!("ws{}", i + 1),
                    IpAddr::V4(Ipv4Addr::new(10, 10, 0, last)),
                )
            })
            .collect();
        let t0 = Instant::now();
        Self {
            engine: Engine::new(list, policy, t0),
            t0,
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn apply(&mut self, ms: u64, input: In) -> Option<Move> {
        let now = self.at(ms);
        match input {
            Up(b) => self.engine.health(now, b, true),
            Down(b) => self.engine.health(now, b, false),
            Drain(b) => self.engine.drain(now, b),
            Undrain(b) => self.engine.undrain(now, b),
            Force(b) => self.engine.force(now, b),
            Timeout => self.engine.handle_timeout(now),
        }
    }

    /// Runs `steps` in order, checking each step's move and the active backend.
    fn run(&mut self, steps: &[(u64, In, Expect)]) {
        for (i, &(ms, input, expect)) in steps.iter().enumerate() {
            let before = self.engine.active();
            let got = self.apply(ms, input);
            assert_eq!(
                got.map(|m| (m.from, m.to, m.reason)),
                expect,
                "step {i}: {input:?} at {ms} ms"
            );
            match got {
                Some(m) => {
                    assert_eq!(m.at, self.at(ms), "step {i}: the move is stamped with now");
                    assert_eq!(
                        self.engine.active(),
                        m.to,
                        "step {i}: active follows the move"
                    );
                }
                None => assert_eq!(self.engine.active(), before, "step {i}: no move, no change"),
            }
        }
    }
}

fn scenario(backends: usize, policy: Policy, steps: &[(u64, In, Expect)]) -> Vip {
    let mut vip = Vip::new(backends, policy);
    vip.run(steps);
    vip
}

fn preempt(hold_secs: u64) -> Policy {
    Policy {
        failback_hold: Duration::from_secs(hold_secs),
        ..Policy::default()
    }
}

fn no_preempt() -> Policy {
    Policy {
        preempt: false,
        ..Policy::default()
    }
}

fn withdraw() -> Policy {
    Policy {
        all_down: AllDown::Withdraw,
        ..Policy::default()
    }
}

/// Both backends Up at start: the VIP is on ws1 from 20 ms.
const BOTH_UP: [(u64, In, Expect); 2] = [
    (10, Up(WS2), None),
    (20, Up(WS1), Some((None, Some(WS1), Reason::Startup))),
];

#[test]
fn startup_waits_for_every_verdict_then_announces_the_primary() {
    let mut vip = Vip::new(2, Policy::default());
    assert_eq!(vip.engine.poll_timeout(), Some(vip.at(s(2))));
    assert!(vip.engine.status().starting);
    vip.run(&BOTH_UP);
    assert!(!vip.engine.status().starting);
    assert_eq!(vip.engine.poll_timeout(), None);
}

#[test]
fn startup_with_the_primary_down_announces_the_secondary() {
    scenario(
        2,
        Policy::default(),
        &[
            (10, Down(WS1), None),
            (20, Up(WS2), mv(None, Some(WS2), Reason::Startup)),
        ],
    );
}

#[test]
fn startup_timeout_with_only_the_secondary_known_announces_the_secondary() {
    scenario(
        2,
        Policy::default(),
        &[
            (10, Up(WS2), None),
            (s(2) - 1, Timeout, None),
            (s(2), Timeout, mv(None, Some(WS2), Reason::StartupTimeout)),
            // The primary's first verdict arrives late: it has to earn its hold.
            (s(6), Up(WS1), None),
            (s(36) - 1, Timeout, None),
            (s(36), Timeout, mv(Some(WS2), Some(WS1), Reason::Failback)),
        ],
    );
}

#[test]
fn startup_timeout_with_nothing_healthy_announces_nothing_until_one_comes_up() {
    let mut vip = scenario(
        2,
        Policy::default(),
        &[
            (10, Down(WS1), None),
            (s(2), Timeout, None),
            (s(7), Up(WS2), mv(None, Some(WS2), Reason::Recovery)),
        ],
    );
    assert_eq!(vip.engine.poll_timeout(), None);
    vip.run(&[(s(8), Up(WS1), None)]);
}

#[test]
fn an_input_after_the_startup_deadline_ends_the_wait_even_without_a_timeout_call() {
    scenario(
        2,
        Policy::default(),
        &[
            (10, Up(WS2), None),
            (
                s(3),
                Drain(WS1),
                mv(None, Some(WS2), Reason::StartupTimeout),
            ),
        ],
    );
}

#[test]
fn failover_on_primary_down_is_immediate() {
    let mut vip = scenario(2, Policy::default(), &BOTH_UP);
    vip.run(&[(s(1), Down(WS1), mv(Some(WS1), Some(WS2), Reason::Failover))]);
}

#[test]
fn failback_happens_only_after_failback_hold() {
    let mut vip = scenario(2, preempt(30), &BOTH_UP);
    vip.run(&[
        (s(1), Down(WS1), mv(Some(WS1), Some(WS2), Reason::Failover)),
        (s(2), Up(WS1), None),
        (s(10), Timeout, None),
        (s(32) - 1, Timeout, None),
        (s(32), Timeout, mv(Some(WS2), Some(WS1), Reason::Failback)),
    ]);
}

#[test]
fn a_zero_hold_fails_back_at_the_up_verdict() {
    let mut vip = scenario(2, preempt(0), &BOTH_UP);
    vip.run(&[
        (s(1), Down(WS1), mv(Some(WS1), Some(WS2), Reason::Failover)),
        (s(2), Up(WS1), mv(Some(WS2), Some(WS1), Reason::Failback)),
    ]);
}

#[test]
fn a_flapping_primary_never_fails_back_and_the_vip_never_moves_after_the_first_failover() {
    let mut vip = scenario(2, preempt(30), &BOTH_UP);
    vip.run(&[(s(1), Down(WS1), mv(Some(WS1), Some(WS2), Reason::Failover))]);
    // Up at 6 s, Down at 11 s, Up at 16 s, … for two minutes; the driver wakes the
    // engine at every deadline it asks for, and on a 1 s tick besides.
    let end = s(121);
    let mut now = s(1);
    let mut next_flip = s(6);
    let mut up = false;
    while now < end {
        let deadline = vip
            .engine
            .poll_timeout()
            .map(|t| u64::try_from((t - vip.t0).as_millis()).unwrap());
        let tick = (now / 1000 + 1) * 1000;
        now = [Some(next_flip), Some(tick), deadline]
            .into_iter()
            .flatten()
            .min()
            .unwrap();
        let input = if now == next_flip {
            up = !up;
            next_flip += s(5);
            if up { Up(WS1) } else { Down(WS1) }
        } else {
            Timeout
        };
        assert_eq!(vip.apply(now, input), None, "{input:?} at {now} ms");
        assert_eq!(vip.engine.active(), Some(WS2));
    }
}

#[test]
fn a_repeated_up_verdict_does_not_restart_the_hold() {
    let mut vip = scenario(2, preempt(30), &BOTH_UP);
    vip.run(&[
        (s(1), Down(WS1), mv(Some(WS1), Some(WS2), Reason::Failover)),
        (s(2), Up(WS1), None),
        (s(20), Up(WS1), None),
        (s(32), Timeout, mv(Some(WS2), Some(WS1), Reason::Failback)),
    ]);
}

#[test]
fn failover_goes_to_a_recently_recovered_primary_rather_than_nowhere() {
    let mut vip = scenario(2, preempt(30), &BOTH_UP);
    vip.run(&[
        (s(1), Down(WS1), mv(Some(WS1), Some(WS2), Reason::Failover)),
        (s(2), Up(WS1), None),
        (s(3), Down(WS2), mv(Some(WS2), Some(WS1), Reason::Failover)),
    ]);
}

#[test]
fn without_preempt_the_vip_stays_on_the_secondary_after_the_primary_recovers() {
    let mut vip = scenario(2, no_preempt(), &BOTH_UP);
    vip.run(&[
        (s(1), Down(WS1), mv(Some(WS1), Some(WS2), Reason::Failover)),
        (s(2), Up(WS1), None),
        (s(100), Timeout, None),
        (s(1000), Timeout, None),
        // On the secondary's failure, back to the highest-priority healthy one.
        (
            s(1001),
            Down(WS2),
            mv(Some(WS2), Some(WS1), Reason::Failover),
        ),
    ]);
    assert_eq!(vip.engine.poll_timeout(), None);
}

#[test]
fn all_down_keeps_or_withdraws_the_vip_as_configured() {
    let cases = [
        (AllDown::Keep, None, Some(WS2)),
        (
            AllDown::Withdraw,
            mv(Some(WS2), None, Reason::AllDown),
            None,
        ),
    ];
    for (all_down, expect, active) in cases {
        let policy = Policy {
            all_down,
            ..Policy::default()
        };
        let mut vip = scenario(2, policy, &BOTH_UP);
        vip.run(&[
            (s(1), Down(WS1), mv(Some(WS1), Some(WS2), Reason::Failover)),
            (s(2), Down(WS2), expect),
        ]);
        assert_eq!(vip.engine.active(), active, "{all_down:?}");
        assert_eq!(vip.engine.poll_timeout(), None, "{all_down:?}");
    }
}

#[test]
fn recovery_after_all_down_is_immediate_without_any_hold() {
    // (policy, who comes back, expected move): from the kept ws2 or from nothing.
    let cases = [
        (
            AllDown::Keep,
            WS1,
            mv(Some(WS2), Some(WS1), Reason::Recovery),
        ),
        (AllDown::Keep, WS2, None),
        (
            AllDown::Withdraw,
            WS1,
            mv(None, Some(WS1), Reason::Recovery),
        ),
        (
            AllDown::Withdraw,
            WS2,
            mv(None, Some(WS2), Reason::Recovery),
        ),
    ];
    for (all_down, back, expect) in cases {
        let policy = Policy {
            all_down,
            ..preempt(30)
        };
        let mut vip = scenario(2, policy, &BOTH_UP);
        vip.run(&[
            (s(1), Down(WS1), mv(Some(WS1), Some(WS2), Reason::Failover)),
            (s(2), Down(WS2), vip_all_down(all_down)),
            (s(3), Up(back), expect),
        ]);
        assert_eq!(vip.engine.active(), Some(back), "{all_down:?}, {back}");
    }
}

/// The move when the last eligible backend (ws2) goes down.
fn vip_all_down(all_down: AllDown) -> Expect {
    match all_down {
        AllDown::Keep => None,
        AllDown::Withdraw => mv(Some(WS2), None, Reason::AllDown),
    }
}

#[test]
fn after_recovery_to_the_secondary_the_primary_still_needs_its_hold() {
    let mut vip = scenario(2, withdraw(), &BOTH_UP);
    vip.run(&[
        (s(1), Down(WS1), mv(Some(WS1), Some(WS2), Reason::Failover)),
        (s(2), Down(WS2), mv(Some(WS2), None, Reason::AllDown)),
        (s(3), Up(WS2), mv(None, Some(WS2), Reason::Recovery)),
        (s(4), Up(WS1), None),
        (s(34), Timeout, mv(Some(WS2), Some(WS1), Reason::Failback)),
    ]);
}

#[test]
fn drain_of_the_active_moves_at_once() {
    let mut vip = scenario(2, Policy::default(), &BOTH_UP);
    vip.run(&[(s(1), Drain(WS1), mv(Some(WS1), Some(WS2), Reason::Drain))]);
    assert!(vip.engine.status().backends[WS1].drained);
}

#[test]
fn drain_of_a_standby_moves_nothing() {
    let mut vip = scenario(2, Policy::default(), &BOTH_UP);
    vip.run(&[
        (s(1), Drain(WS2), None),
        // The drained standby is never chosen: nowhere to fail over to.
        (s(2), Down(WS1), None),
    ]);
    assert_eq!(vip.engine.active(), Some(WS1));
}

#[test]
fn drain_of_the_last_eligible_backend_keeps_or_withdraws_as_configured() {
    let mut keep = scenario(2, Policy::default(), &BOTH_UP);
    keep.run(&[(s(1), Down(WS2), None), (s(2), Drain(WS1), None)]);
    assert_eq!(keep.engine.active(), Some(WS1));

    let mut gone = scenario(2, withdraw(), &BOTH_UP);
    gone.run(&[
        (s(1), Down(WS2), None),
        (s(2), Drain(WS1), mv(Some(WS1), None, Reason::Drain)),
        (s(3), Up(WS2), mv(None, Some(WS2), Reason::Recovery)),
    ]);
}

#[test]
fn undrain_of_a_long_healthy_primary_fails_back_at_once() {
    let mut vip = scenario(2, preempt(30), &BOTH_UP);
    vip.run(&[
        (s(1), Drain(WS1), mv(Some(WS1), Some(WS2), Reason::Drain)),
        (s(600), Timeout, None),
        (
            s(601),
            Undrain(WS1),
            mv(Some(WS2), Some(WS1), Reason::Undrain),
        ),
    ]);
}

#[test]
fn undrain_of_a_recently_up_primary_waits_for_its_hold() {
    let mut vip = scenario(2, preempt(30), &BOTH_UP);
    vip.run(&[
        (s(1), Drain(WS1), mv(Some(WS1), Some(WS2), Reason::Drain)),
        (s(2), Down(WS1), None),
        (s(10), Up(WS1), None),
        (s(20), Undrain(WS1), None),
    ]);
    assert_eq!(vip.engine.poll_timeout(), Some(vip.at(s(40))));
    vip.run(&[(s(40), Timeout, mv(Some(WS2), Some(WS1), Reason::Failback))]);
}

#[test]
fn force_pins_the_vip_even_when_the_forced_backend_goes_down_and_unforce_returns_to_policy() {
    let mut vip = scenario(2, preempt(30), &BOTH_UP);
    vip.run(&[
        (
            s(1),
            Force(Some(WS2)),
            mv(Some(WS1), Some(WS2), Reason::Force),
        ),
        (s(2), Timeout, None),
        (s(3), Down(WS2), None),
        (s(4), Drain(WS2), None),
        (s(60), Timeout, None),
    ]);
    assert_eq!(vip.engine.forced(), Some(WS2));
    assert_eq!(vip.engine.poll_timeout(), None, "no failback while forced");
    // ws1 has been Up since 20 ms: the policy takes it back at once.
    vip.run(&[(
        s(61),
        Force(None),
        mv(Some(WS2), Some(WS1), Reason::Unforce),
    )]);
    assert_eq!(vip.engine.forced(), None);
}

#[test]
fn force_can_pin_a_drained_or_down_backend_and_moves_between_pins() {
    let mut vip = scenario(3, Policy::default(), &[]);
    vip.run(&[
        (10, Up(WS1), None),
        (10, Down(WS2), None),
        (10, Up(WS3), mv(None, Some(WS1), Reason::Startup)),
        (s(1), Drain(WS3), None),
        (
            s(2),
            Force(Some(WS3)),
            mv(Some(WS1), Some(WS3), Reason::Force),
        ),
        (
            s(3),
            Force(Some(WS2)),
            mv(Some(WS3), Some(WS2), Reason::Force),
        ),
        (s(4), Force(Some(WS2)), None),
        (s(5), Force(None), mv(Some(WS2), Some(WS1), Reason::Unforce)),
        (s(6), Force(None), None),
    ]);
}

#[test]
fn unforce_with_a_higher_priority_backend_in_its_hold_waits_for_the_hold() {
    let mut vip = scenario(2, preempt(30), &BOTH_UP);
    vip.run(&[
        (
            s(1),
            Force(Some(WS2)),
            mv(Some(WS1), Some(WS2), Reason::Force),
        ),
        (s(2), Down(WS1), None),
        (s(3), Up(WS1), None),
        (s(4), Force(None), None),
        (s(33), Timeout, mv(Some(WS2), Some(WS1), Reason::Failback)),
    ]);
}

#[test]
fn force_during_startup_ends_the_wait() {
    let mut vip = Vip::new(2, Policy::default());
    vip.run(&[
        (10, Force(Some(WS2)), mv(None, Some(WS2), Reason::Force)),
        (15, Up(WS2), None),
        (20, Up(WS1), None),
    ]);
    assert!(!vip.engine.status().starting);
    // ws1 is the highest-priority healthy backend, but in its hold.
    vip.run(&[
        (30, Force(None), None),
        (
            s(30) + 20,
            Timeout,
            mv(Some(WS2), Some(WS1), Reason::Failback),
        ),
    ]);
}

#[test]
fn unforce_moves_away_at_once_from_a_forced_backend_that_is_not_up() {
    scenario(
        2,
        preempt(30),
        &[
            (10, Force(Some(WS2)), mv(None, Some(WS2), Reason::Force)),
            (20, Up(WS1), None),
            // ws2 never had a verdict: ws1 beats it without any hold.
            (30, Force(None), mv(Some(WS2), Some(WS1), Reason::Unforce)),
        ],
    );
}

#[test]
fn three_backends_fail_over_in_priority_order_and_fail_back_step_by_step() {
    let mut vip = scenario(
        3,
        preempt(30),
        &[
            (10, Up(WS3), None),
            (10, Up(WS2), None),
            (10, Up(WS1), mv(None, Some(WS1), Reason::Startup)),
            (s(1), Down(WS1), mv(Some(WS1), Some(WS2), Reason::Failover)),
            (s(2), Down(WS2), mv(Some(WS2), Some(WS3), Reason::Failover)),
            (s(10), Up(WS2), None),
            (s(20), Up(WS1), None),
        ],
    );
    assert_eq!(
        vip.engine.status().pending_failback,
        Some(PendingFailback {
            backend: WS2,
            at: vip.at(s(40))
        })
    );
    vip.run(&[(s(40), Timeout, mv(Some(WS3), Some(WS2), Reason::Failback))]);
    assert_eq!(vip.engine.poll_timeout(), Some(vip.at(s(50))));
    vip.run(&[(s(50), Timeout, mv(Some(WS2), Some(WS1), Reason::Failback))]);
    assert_eq!(vip.engine.poll_timeout(), None);
}

#[test]
fn a_late_timeout_fails_back_straight_to_the_highest_priority_held_backend() {
    let vip = scenario(
        3,
        preempt(30),
        &[
            (10, Down(WS1), None),
            (10, Down(WS2), None),
            (10, Up(WS3), mv(None, Some(WS3), Reason::Startup)),
            (s(10), Up(WS2), None),
            (s(20), Up(WS1), None),
            (s(60), Timeout, mv(Some(WS3), Some(WS1), Reason::Failback)),
        ],
    );
    assert_eq!(vip.engine.poll_timeout(), None);
}

#[test]
fn poll_timeout_reports_the_failback_deadline_and_handle_timeout_performs_it() {
    let mut vip = scenario(2, preempt(30), &BOTH_UP);
    vip.run(&[
        (s(1), Down(WS1), mv(Some(WS1), Some(WS2), Reason::Failover)),
        (s(2), Up(WS1), None),
    ]);
    let deadline = vip.engine.poll_timeout().unwrap();
    assert_eq!(deadline, vip.at(s(32)));
    assert_eq!(
        vip.engine.status().pending_failback,
        Some(PendingFailback {
            backend: WS1,
            at: deadline
        })
    );
    let m = vip.engine.handle_timeout(deadline).unwrap();
    assert_eq!(
        (m.from, m.to, m.reason, m.at),
        (Some(WS2), Some(WS1), Reason::Failback, deadline)
    );
    assert_eq!(vip.engine.poll_timeout(), None);
    assert_eq!(vip.engine.status().pending_failback, None);
}

#[test]
fn a_down_verdict_cancels_the_pending_failback() {
    let mut vip = scenario(2, preempt(30), &BOTH_UP);
    vip.run(&[
        (s(1), Down(WS1), mv(Some(WS1), Some(WS2), Reason::Failover)),
        (s(2), Up(WS1), None),
        (s(20), Down(WS1), None),
    ]);
    assert_eq!(vip.engine.poll_timeout(), None);
    vip.run(&[(s(32), Timeout, None)]);
}

#[test]
fn no_op_moves_are_suppressed() {
    let mut vip = scenario(2, withdraw(), &BOTH_UP);
    vip.run(&[
        (s(1), Up(WS1), None),
        (s(2), Force(Some(WS1)), None),
        (s(3), Force(None), None),
        (s(4), Drain(WS2), None),
        (s(5), Drain(WS2), None),
        (s(6), Undrain(WS2), None),
        (s(7), Timeout, None),
        (s(8), Down(WS2), None),
        (s(9), Down(WS1), mv(Some(WS1), None, Reason::AllDown)),
        // Already withdrawn: nothing more to withdraw.
        (s(10), Down(WS1), None),
        (s(11), Drain(WS1), None),
        (s(12), Timeout, None),
    ]);
}

#[test]
fn status_reports_health_drain_uptime_and_the_active_backend() {
    let mut vip = Vip::new(2, Policy::default());
    vip.run(&[(10, Up(WS1), None)]);
    let status = vip.engine.status();
    assert_eq!(status.startup_deadline, Some(vip.at(s(2))));
    assert_eq!(status.backends[WS2].health, Health::Unknown);
    vip.run(&[
        (20, Down(WS2), mv(None, Some(WS1), Reason::Startup)),
        (30, Drain(WS2), None),
    ]);
    let status = vip.engine.status();
    assert_eq!(status.active, Some(WS1));
    assert_eq!(status.forced, None);
    assert_eq!(status.startup_deadline, None);
    assert_eq!(status.pending_failback, None);
    let ws1 = &status.backends[WS1];
    assert_eq!(
        (ws1.name.as_str(), ws1.health, ws1.drained),
        ("ws1", Health::Up, false)
    );
    assert_eq!(
        (ws1.up_since, ws1.changed_at),
        (Some(vip.at(10)), Some(vip.at(10)))
    );
    let ws2 = &status.backends[WS2];
    assert_eq!(
        (ws2.health, ws2.drained, ws2.up_since),
        (Health::Down, true, None)
    );
    assert_eq!(ws2.next_hop, IpAddr::V4(Ipv4Addr::new(10, 10, 0, 5)));
    assert_eq!(vip.engine.index_of("ws2"), Some(WS2));
    assert_eq!(vip.engine.index_of("ws9"), None);
    assert_eq!(vip.engine.backend(WS1).unwrap().name, "ws1");
}

#[test]
fn an_engine_without_backends_never_announces() {
    let mut vip = scenario(
        0,
        Policy::default(),
        &[(0, Timeout, None), (s(10), Timeout, None)],
    );
    assert!(vip.engine.is_empty());
    assert_eq!(vip.engine.poll_timeout(), None);
    vip.run(&[(s(11), Force(None), None)]);
}

#[test]
fn reason_names_and_policy_defaults_match_the_config_and_the_logs() {
    assert_eq!(Reason::StartupTimeout.to_string(), "startup_timeout");
    assert_eq!(Reason::AllDown.as_str(), "all_down");
    assert_eq!(Policy::default().failback_hold, Duration::from_secs(30));
    assert!(Policy::default().preempt);
    assert_eq!(Policy::default().all_down, AllDown::Keep);
}

/// A reload that changes `[failover]` keeps the engine (its
/// drains, forces, verdicts and the failback under way) and applies the new hold
/// from then on, without a move of its own.
#[test]
fn a_new_policy_keeps_drains_forces_and_holds_and_moves_nothing_by_itself() {
    let mut vip = scenario(
        3,
        preempt(30),
        &[
            (10, Up(WS2), None),
            (15, Up(WS3), None),
            (20, Up(WS1), mv(None, Some(WS1), Reason::Startup)),
        ],
    );
    vip.run(&[
        (s(2), Drain(WS2), None),
        (s(3), Down(WS1), mv(Some(WS1), Some(WS3), Reason::Failover)),
        (s(4), Up(WS1), None),
    ]);
    let pending = vip.engine.poll_timeout();
    assert_eq!(pending, Some(vip.at(s(34))), "ws1 held until 34 s");
    // The hold shortened from 30 s to 10 s: nothing moves now, the failback is due
    // at 14 s.
    vip.engine.set_policy(preempt(10));
    assert_eq!(vip.engine.active(), Some(WS3));
    assert_eq!(vip.engine.poll_timeout(), Some(vip.at(s(14))));
    assert!(
        vip.engine.status().backends[WS2].drained,
        "the drain is kept"
    );
    vip.run(&[
        (s(13), Timeout, None),
        (s(14), Timeout, mv(Some(WS3), Some(WS1), Reason::Failback)),
        (
            s(15),
            Force(Some(WS2)),
            mv(Some(WS1), Some(WS2), Reason::Force),
        ),
    ]);
    vip.engine.set_policy(no_preempt());
    assert_eq!(vip.engine.forced(), Some(WS2), "the force is kept");
    assert_eq!(vip.engine.active(), Some(WS2));
}
