//! The backend family: ws1's web server killed, hung, drained and stopped, or
//! flapping. The VIP leaves ws1 and comes back; failover and failback are timed.

use std::time::Duration;

use hopwatch_load::now_us;

use super::{Backends, Expect, Move, Place, Scenario, Steps, StepsFuture, Watcher};
use crate::lab::Lab;

/// SIGKILL ws1's web server: the kernel closes its sockets, which the watcher's
/// persistent connection reveals at once.
pub const KILL: Scenario = Scenario {
    name: "kill",
    help: "SIGKILL ws1; restart it; wait for the failback",
    place: Place::Anywhere,
    backends: Backends::KeepAlive,
    moves: Move::Detected,
    decider: Watcher::Primary,
    expect: Expect::FailsOverAndBack {
        timed_median_ms: Some(15.0),
    },
    run: kill,
};

/// The same kill with backends that answer `Connection: close` (as many health
/// endpoints and HTTP/1.0 servers do): no keep-alive connection to watch, so the
/// watcher's connection opened ahead for its next probe must reveal the death.
pub const KILL_CLOSE: Scenario = Scenario {
    name: "kill-close",
    help: "as kill, with backends that answer Connection: close",
    place: Place::Anywhere,
    backends: Backends::Close,
    moves: Move::Detected,
    decider: Watcher::Primary,
    expect: Expect::FailsOverAndBack {
        timed_median_ms: Some(15.0),
    },
    run: kill,
};

/// SIGSTOP it: nothing is closed, every probe times out: down after `fall` of them
/// (`silent_failure_bound` in hopwatch-health).
pub const HANG: Scenario = Scenario {
    name: "hang",
    help: "SIGSTOP ws1; SIGCONT it; wait for the failback",
    place: Place::Anywhere,
    backends: Backends::KeepAlive,
    moves: Move::Detected,
    decider: Watcher::Primary,
    expect: Expect::FailsOverAndBack {
        timed_median_ms: Some(80.0),
    },
    run: hang,
};

/// Drain it through the watcher's API, then stop it, as an operator would: a
/// planned move loses nothing.
pub const DRAIN: Scenario = Scenario {
    name: "drain",
    help: "ctl drain ws1, then SIGTERM it: expected 0 failed requests",
    place: Place::Anywhere,
    backends: Backends::KeepAlive,
    moves: Move::Decided,
    decider: Watcher::Primary,
    expect: Expect::NoFailedRequests,
    run: drain,
};

/// Down and up every ~1 s, a few times, quicker than the failback hold.
pub const FLAP: Scenario = Scenario {
    name: "flap",
    help: "ws1 down and up every ~1 s, 3 times: no failback before the hold",
    place: Place::Anywhere,
    backends: Backends::KeepAlive,
    moves: Move::Detected,
    decider: Watcher::Primary,
    expect: Expect::NoFailbackBeforeHold,
    run: flap,
};

fn kill(lab: &mut Lab) -> StepsFuture<'_> {
    Box::pin(async move {
        let mut s = Steps::default();
        let ev = now_us();
        lab.procs.kill("ws1").await?;
        s.event("SIGKILL ws1", ev);
        lab.wait_failover(ev).await?;
        lab.settle().await;
        let back = now_us();
        lab.spawn_role("ws1").await?;
        s.back("ws1 restarted", back);
        lab.wait_failback(back).await?;
        Ok(s)
    })
}

fn hang(lab: &mut Lab) -> StepsFuture<'_> {
    Box::pin(async move {
        let mut s = Steps::default();
        let ev = now_us();
        lab.procs.signal("ws1", "STOP")?;
        s.event("SIGSTOP ws1", ev);
        lab.wait_failover(ev).await?;
        // The kernel of a stopped ws1 still accepts connections: a request routed
        // to it before the move would be answered late by ws1 after SIGCONT and end
        // the outage on ws1. Stopped for one request timeout more, those requests
        // fail as they would with a dead backend, and the failover is the time to
        // the first answer from ws2.
        tokio::time::sleep(crate::trial::REQUEST_TIMEOUT).await;
        let back = now_us();
        lab.procs.signal("ws1", "CONT")?;
        s.back("SIGCONT ws1", back);
        lab.wait_failback(back).await?;
        Ok(s)
    })
}

fn drain(lab: &mut Lab) -> StepsFuture<'_> {
    Box::pin(async move {
        let mut s = Steps::default();
        // On both watchers, as an operator of a pair does: a standby that still
        // had ws1 would send traffic there if the primary died during the drain.
        let ev = now_us();
        lab.ctl_both(&["drain", "ws1"]).await?;
        s.event("drain ws1", ev);
        // Stop ws1 only once the route points away from it, as an operator would:
        // under the cloud profile that takes seconds.
        lab.wait_failover(ev).await?;
        lab.settle().await;
        let t = now_us();
        lab.procs.stop("ws1").await?;
        s.mark("SIGTERM ws1", t, "event");
        lab.settle().await;
        let t = now_us();
        lab.spawn_role("ws1").await?;
        s.mark("ws1 restarted", t, "back");
        let wlog = lab.watcher_log();
        crate::procs::wait_for(&wlog, t, Duration::from_secs(5), "ws1 up", |l| {
            matches!(&l.event, hopwatch_events::Event::Health(h)
                if h.backend == "ws1" && h.to == hopwatch_events::watcher::Health::Up)
        })
        .await?;
        let back = now_us();
        lab.ctl_both(&["undrain", "ws1"]).await?;
        s.back("undrain ws1", back);
        lab.wait_failback(back).await?;
        Ok(s)
    })
}

fn flap(lab: &mut Lab) -> StepsFuture<'_> {
    Box::pin(async move {
        let mut s = Steps::default();
        let ev = now_us();
        s.event("flap ws1", ev);
        let mut last_up = ev;
        for i in 0..3 {
            let t = now_us();
            lab.procs.kill("ws1").await?;
            if i > 0 {
                s.mark("SIGKILL ws1", t, "event");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            last_up = now_us();
            lab.spawn_role("ws1").await?;
            s.mark("ws1 restarted", last_up, "back");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        s.back_us = Some(last_up);
        lab.wait_failback(last_up).await?;
        Ok(s)
    })
}
