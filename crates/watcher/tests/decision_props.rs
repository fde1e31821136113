//! Property tests of the decision engine: random sequences of verdicts, drains,
//! forces and timer calls, with time that only moves forward, must keep the rules'
//! invariants after every input, and with `preempt` the VIP must settle on the
//! highest-priority eligible backend once `failback_hold` has passed without
//! further inputs.

// A panic in a test is a failed test, not a crashed daemon.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use hopwatch_watcher::decision::{AllDown, BackendInfo, Engine, Health, Move, Policy, Reason};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Input {
    Health(usize, bool),
    Drain(usize),
    Undrain(usize),
    Force(Option<usize>),
    Timeout,
}

fn input(backends: usize) -> impl Strategy<Value = Input> {
    let b = 0..backends;
    prop_oneof![
        8 => (b.clone(), any::<bool>()).prop_map(|(b, up)| Input::Health(b, up)),
        2 => b.clone().prop_map(Input::Drain),
        2 => b.clone().prop_map(Input::Undrain),
        1 => proptest::option::weighted(0.5, b).prop_map(Input::Force),
        3 => Just(Input::Timeout),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        any::<bool>(),
        prop_oneof![Just(0u64), Just(1_000), Just(30_000)],
        any::<bool>(),
        prop_oneof![Just(0u64), Just(100), Just(5_000)],
    )
        .prop_map(|(preempt, hold, withdraw, wait)| Policy {
            preempt,
            failback_hold: Duration::from_millis(hold),
            all_down: if withdraw {
                AllDown::Withdraw
            } else {
                AllDown::Keep
            },
            startup_wait: Duration::from_millis(wait),
        })
}

/// A policy, a number of backends, and inputs each after a delay in milliseconds.
fn case() -> impl Strategy<Value = (Policy, usize, Vec<(u64, Input)>)> {
    (policy(), 1usize..=4).prop_flat_map(|(policy, n)| {
        let steps = proptest::collection::vec((0u64..40_000, input(n)), 0..60);
        (Just(policy), Just(n), steps)
    })
}

fn engine(n: usize, policy: Policy, t0: Instant) -> Engine {
    let backends = (0..n)
        .map(|i| {
            let last = u8::try_from(4 + i).unwrap();
            BackendInfo::new(format!("ws{i}"), IpAddr::V4(Ipv4Addr::new(10, 10, 0, last)))
        })
        .collect();
    Engine::new(backends, policy, t0)
}

fn apply(engine: &mut Engine, now: Instant, input: Input) -> Option<Move> {
    match input {
        Input::Health(b, up) => engine.health(now, b, up),
        Input::Drain(b) => engine.drain(now, b),
        Input::Undrain(b) => engine.undrain(now, b),
        Input::Force(b) => engine.force(now, b),
        Input::Timeout => engine.handle_timeout(now),
    }
}

/// The invariants that hold after every input.
fn check(engine: &Engine, now: Instant, before: Option<usize>, got: Option<Move>) {
    let status = engine.status();
    let eligible =
        |i: usize| status.backends[i].health == Health::Up && !status.backends[i].drained;
    let any_eligible = (0..status.backends.len()).any(eligible);

    // Moves are real changes, stamped now, and become the active backend.
    match got {
        Some(m) => {
            assert_ne!(m.from, m.to, "no-op move {m:?}");
            assert_eq!(m.from, before, "a move starts from the active backend");
            assert_eq!(m.at, now);
            assert_eq!(engine.active(), m.to);
            // A move never goes to a Down (or unknown, or drained) backend unless forced.
            if let (Some(to), false) = (m.to, m.reason == Reason::Force) {
                assert!(eligible(to), "{m:?} to an ineligible backend: {status:?}");
            }
            // A move away from a backend that is still eligible is a force or a
            // failback: with preempt, to a higher-priority backend whose hold is over.
            if let Some(from) = m.from.filter(|&f| eligible(f) && m.reason != Reason::Force) {
                let to = m.to.expect("an eligible backend is never withdrawn");
                assert!(engine.policy().preempt, "{m:?} without preempt");
                assert!(to < from, "{m:?} is not towards a higher priority");
                let up_since = status.backends[to].up_since.unwrap();
                assert!(
                    now.duration_since(up_since) >= engine.policy().failback_hold,
                    "{m:?} before the hold of {to} is over: {status:?}"
                );
            }
        }
        None => assert_eq!(
            engine.active(),
            before,
            "the active backend changed silently"
        ),
    }

    // Every deadline the engine asks for is in the future: nothing due is left undone.
    if let Some(t) = engine.poll_timeout() {
        assert!(t > now, "poll_timeout {t:?} is not after now {now:?}");
    }

    if status.starting {
        assert_eq!(engine.active(), None, "nothing is announced while starting");
        return;
    }
    if engine.forced().is_some() {
        assert_eq!(engine.active(), engine.forced(), "force pins the VIP");
        return;
    }
    match engine.active() {
        // The active backend is eligible whenever any backend is; an ineligible one
        // (drained or Down) stays only when none is and the policy keeps it.
        Some(a) if !eligible(a) => {
            assert!(
                !any_eligible,
                "active {a} is ineligible but another is: {status:?}"
            );
            assert_eq!(engine.policy().all_down, AllDown::Keep);
        }
        Some(_) => {}
        None => {
            assert!(
                !any_eligible,
                "nothing announced but a backend is eligible: {status:?}"
            )
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn random_inputs_keep_the_invariants_and_preempt_converges((policy, n, steps) in case()) {
        let t0 = Instant::now();
        let mut engine = engine(n, policy.clone(), t0);
        let mut now = t0;
        for (delay, input) in steps {
            now += Duration::from_millis(delay);
            let before = engine.active();
            let got = apply(&mut engine, now, input);
            check(&engine, now, before, got);
        }

        // No more inputs: let the engine's own deadlines run out.
        for _ in 0..=n + 1 {
            let Some(t) = engine.poll_timeout() else { break };
            now = t;
            let before = engine.active();
            let got = engine.handle_timeout(now);
            check(&engine, now, before, got);
        }
        prop_assert_eq!(engine.poll_timeout(), None, "deadlines keep coming");
        // And nothing more happens however long we wait.
        let later = now + policy.failback_hold + policy.startup_wait + Duration::from_secs(1);
        prop_assert_eq!(engine.handle_timeout(later), None);

        if engine.forced().is_none() {
            let status = engine.status();
            let best = status.backends.iter().position(|b| b.health == Health::Up && !b.drained);
            match (best, policy.preempt, policy.all_down) {
                (Some(best), true, _) => prop_assert_eq!(engine.active(), Some(best)),
                (Some(_), false, _) => {
                    let a = engine.active().unwrap();
                    prop_assert!(status.backends[a].health == Health::Up && !status.backends[a].drained);
                }
                (None, _, AllDown::Withdraw) => prop_assert_eq!(engine.active(), None),
                (None, _, AllDown::Keep) => {}
            }
        }
    }
}
