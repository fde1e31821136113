//! The pair family: the primary watcher killed or frozen, and the standby made to
//! disagree. The lab always runs both watchers of a pair (`[ha]`): the primary
//! (`watcher`, on watch1) and the standby (`standby`, beside the observer on
//! watch2), which prepends our AS twice.
//!
//! When the route servers use the standby's route is read from the standby's own
//! `ctl status --json` (`ha.routes_seen`): a route server sends each peer its best
//! route unless that peer announced it, so the standby receives the primary's route
//! while it is in use and nothing once its own is. That is the takeover the steps
//! time (and print); a route server that sends the standby nothing at all makes it
//! unobservable, which the timeline says.

use std::time::Duration;

use anyhow::{Context, bail};
use hopwatch_events::watcher::Status;
use hopwatch_events::{Event, now_us};

use super::{Backends, Expect, Move, Place, Scenario, Steps, StepsFuture, Watcher};
use crate::lab::Lab;
use crate::procs::wait_for;

/// SIGKILL the primary; the standby's route takes over; start the primary again.
pub const WATCHER_KILL: Scenario = Scenario {
    name: "watcher-kill",
    help: "SIGKILL the primary watcher; the standby's route takes over; 0 failed requests",
    place: Place::Anywhere,
    backends: Backends::KeepAlive,
    moves: Move::Stays,
    decider: Watcher::Primary,
    expect: Expect::NoFailedRequests,
    run: watcher_kill,
};

/// SIGSTOP the primary past its hold time (and graceful restart), then SIGCONT.
pub const WATCHER_FREEZE: Scenario = Scenario {
    name: "watcher-freeze",
    help: "SIGSTOP the primary past hold time + graceful restart, SIGCONT: 0 failed, no move",
    place: Place::Anywhere,
    backends: Backends::KeepAlive,
    moves: Move::Stays,
    decider: Watcher::Primary,
    expect: Expect::Steady,
    run: watcher_freeze,
};

/// The primary dies, then ws1: the standby alone moves the VIP.
pub const WATCHER_KILL_THEN_BACKEND: Scenario = Scenario {
    name: "watcher-kill-then-backend",
    help: "SIGKILL the primary, wait for the standby's route, SIGKILL ws1: the standby moves it",
    place: Place::Anywhere,
    backends: Backends::KeepAlive,
    moves: Move::Detected,
    decider: Watcher::Standby,
    // Within twice the single watcher's `kill` target.
    expect: Expect::FailsOverAndBack {
        timed_median_ms: Some(30.0),
    },
    run: watcher_kill_then_backend,
};

/// The primary's host cut off the network (its link down): its process and kernel
/// live on, but nothing reaches it, as when its VM dies.
pub const WATCHER_CUT: Scenario = Scenario {
    name: "watcher-cut",
    help: "the primary watcher's link down (its host gone) until the standby's route is used",
    place: Place::Netns,
    backends: Backends::KeepAlive,
    moves: Move::Stays,
    decider: Watcher::Primary,
    expect: Expect::TakesOver,
    run: watcher_cut,
};

/// The standby cannot reach ws1 (or, on loopback, has it drained) and announces ws2.
pub const DISAGREE: Scenario = Scenario {
    name: "disagree",
    help: "the standby loses ws1 (netns: packets dropped; loopback: drained): 0 to ws2",
    place: Place::Anywhere,
    backends: Backends::KeepAlive,
    moves: Move::Stays,
    decider: Watcher::Standby,
    expect: Expect::NothingToWs2,
    run: disagree,
};

/// How the standby sees the VIP's route at each route server: `whose` of each
/// `routes_seen` row (see `docs/events.md`).
async fn standby_sees(lab: &Lab) -> anyhow::Result<Vec<String>> {
    let api = lab.api_of(Watcher::Standby);
    let out = lab.ctl("standby", api, &["status", "--json"]).await?;
    let status: Status = serde_json::from_str(&out).context("the standby's status")?;
    let ha = status.ha.context("the standby's status has no ha")?;
    Ok(ha
        .routes_seen
        .into_iter()
        .filter(|r| r.vip == lab.layout.vip_prefix)
        .map(|r| r.whose)
        .collect())
}

/// Whether every route server sends the standby the primary's route (in use).
async fn primary_in_use(lab: &Lab) -> bool {
    standby_sees(lab)
        .await
        .is_ok_and(|w| !w.is_empty() && w.iter().all(|w| w == "primary"))
}

/// Whether the takeover can be seen: waits (at most 15 s: the standby's sessions
/// may still be coming up after a restart) until the standby receives the primary's
/// route from every route server.
async fn observable(lab: &Lab) -> bool {
    wait_primary_back(lab, Duration::from_secs(15))
        .await
        .is_ok()
}

/// Polls (every 50 ms, at most `within`) until no route server sends the standby
/// the primary's route: the standby's (or no) route is in use. When it happened.
async fn wait_primary_gone(lab: &Lab, within: Duration) -> anyhow::Result<u64> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let t = now_us();
        if let Ok(w) = standby_sees(lab).await
            && !w.iter().any(|w| w == "primary")
        {
            return Ok(t);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("the route servers still used the primary's route {within:?} after its death");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls until every route server uses the primary's route again.
async fn wait_primary_back(lab: &Lab, within: Duration) -> anyhow::Result<u64> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let t = now_us();
        if primary_in_use(lab).await {
            return Ok(t);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("the route servers did not use the primary's route again within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Times and marks the takeover seen at `t` after the primary's death at `dead_us`.
fn took_over(s: &mut Steps, dead_us: u64, t: u64) {
    let ms = (t.saturating_sub(dead_us)) as f64 / 1000.0;
    s.takeover_ms = Some(ms);
    s.mark(
        format!("standby's route in use ({:.1} s)", ms / 1000.0),
        t,
        "programmed",
    );
}

/// Waits (at most `within`) for the standby to move the VIP to `to`, at or after
/// `since_us`; when it did.
async fn standby_moves(
    lab: &Lab,
    since_us: u64,
    to: &str,
    within: Duration,
) -> anyhow::Result<u64> {
    let vip = lab.layout.vip_prefix;
    let what = format!("the standby's move to {to}");
    let l = wait_for(
        &lab.log_of(Watcher::Standby),
        since_us,
        within,
        &what,
        |l| crate::analysis::is_move(l, vip, to),
    )
    .await?;
    Ok(l.ts_us)
}

/// After the primary's death at `dead_us`: waits for the takeover, marks and times
/// it; when the standby never saw the primary's route, waits the bound and says so.
async fn takeover(lab: &Lab, s: &mut Steps, observable: bool, dead_us: u64) -> anyhow::Result<()> {
    let bound = lab.takeover_bound();
    if observable {
        let t = wait_primary_gone(lab, bound).await?;
        took_over(s, dead_us, t);
    } else {
        tokio::time::sleep(bound).await;
        s.mark(
            "takeover not observable: the route servers send the standby no route",
            now_us(),
            "programmed",
        );
    }
    Ok(())
}

/// Starts the primary again; waits for its first UPDATE and (when observable) for
/// its route to be in use again.
async fn primary_back(lab: &mut Lab, s: &mut Steps, observable: bool) -> anyhow::Result<()> {
    let t = now_us();
    lab.spawn_role("watcher").await?;
    s.mark("primary restarted", t, "back");
    let up = wait_for(
        &lab.log_of(Watcher::Primary),
        t,
        Duration::from_secs(10),
        "the primary's first UPDATE",
        |l| matches!(l.event, Event::UpdateSent(_)),
    )
    .await?;
    s.mark("primary's first UPDATE", up.ts_us, "update");
    if observable {
        let t = wait_primary_back(lab, Duration::from_secs(10)).await?;
        s.mark("primary's route in use", t, "programmed");
    }
    Ok(())
}

fn watcher_kill(lab: &mut Lab) -> StepsFuture<'_> {
    Box::pin(async move {
        let mut s = Steps::default();
        let observable = observable(lab).await;
        let ev = now_us();
        lab.procs.kill("watcher").await?;
        s.event("SIGKILL primary", ev);
        takeover(lab, &mut s, observable, ev).await?;
        primary_back(lab, &mut s, observable).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(s)
    })
}

fn watcher_freeze(lab: &mut Lab) -> StepsFuture<'_> {
    Box::pin(async move {
        let mut s = Steps::default();
        let observable = observable(lab).await;
        let freeze = lab.takeover_bound();
        let ev = now_us();
        lab.procs.signal("watcher", "STOP")?;
        s.event("SIGSTOP primary", ev);
        let until = tokio::time::Instant::now() + freeze;
        if observable {
            // The takeover comes within the freeze, or not at all (a route server
            // that keeps the routes longer): either is timed or said.
            match wait_primary_gone(lab, freeze).await {
                Ok(t) => took_over(&mut s, ev, t),
                Err(_) => s.mark("no takeover during the freeze", now_us(), "programmed"),
            }
        }
        tokio::time::sleep_until(until).await;
        let back = now_us();
        lab.procs.signal("watcher", "CONT")?;
        s.mark("SIGCONT primary", back, "back");
        if observable {
            let t = wait_primary_back(lab, Duration::from_secs(15)).await?;
            s.mark("primary's route in use", t, "programmed");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(s)
    })
}

fn watcher_kill_then_backend(lab: &mut Lab) -> StepsFuture<'_> {
    Box::pin(async move {
        let mut s = Steps::default();
        let observable = observable(lab).await;
        let dead = now_us();
        lab.procs.kill("watcher").await?;
        s.mark("SIGKILL primary", dead, "event");
        takeover(lab, &mut s, observable, dead).await?;
        let ev = now_us();
        lab.procs.kill("ws1").await?;
        s.event("SIGKILL ws1", ev);
        standby_moves(lab, ev, "ws2", Duration::from_secs(5)).await?;
        lab.settle().await;
        let back = now_us();
        lab.spawn_role("ws1").await?;
        s.back("ws1 restarted", back);
        let within = lab.hold + Duration::from_secs(6) + lab.slack();
        standby_moves(lab, back, "ws1", within).await?;
        primary_back(lab, &mut s, observable).await?;
        Ok(s)
    })
}

fn watcher_cut(lab: &mut Lab) -> StepsFuture<'_> {
    Box::pin(async move {
        let mut s = Steps::default();
        let observable = observable(lab).await;
        let ev = now_us();
        lab.net()?.watch1_link(false)?;
        s.event("primary's link down", ev);
        // Nothing closes its sessions: the route servers notice by the hold timer
        // (and then keep its routes stale for the graceful restart time).
        let mut taken = takeover(lab, &mut s, observable, ev).await;
        if taken.is_ok() && lab.layout.forward {
            // Forwarding mode: the route points at the watcher that is gone, so the
            // takeover is over only when the route to the standby is programmed
            // (seconds later under the cloud profile). Kept cut until then, so that
            // the outage is not ended by the primary's return instead.
            let within = Duration::from_secs(5) + lab.slack();
            taken = lab.wait_programmed(ev, lab.layout.standby, within).await;
            if taken.is_ok() {
                let t = lab.last_programmed_us().unwrap_or_else(now_us);
                let ms = t.saturating_sub(ev) as f64 / 1000.0;
                s.takeover_ms = Some(ms);
                s.mark(
                    format!("route programmed to the standby ({:.1} s)", ms / 1000.0),
                    t,
                    "programmed",
                );
            }
        }
        let back = now_us();
        lab.net()?.watch1_link(true)?;
        s.mark("primary's link up", back, "back");
        taken?;
        if observable {
            // Its sessions come back (a hold timer expiry on its side too, then a
            // reconnect), then its route is preferred again.
            let t = wait_primary_back(lab, Duration::from_secs(40)).await?;
            s.mark("primary's route in use", t, "programmed");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(s)
    })
}

fn disagree(lab: &mut Lab) -> StepsFuture<'_> {
    Box::pin(async move {
        let mut s = Steps::default();
        let ev = now_us();
        let how = if let Some(net) = &lab.net {
            net.standby_cut_from_ws1(true)?;
            "standby cut from ws1"
        } else {
            lab.disagreeing = true;
            let api = lab.api_of(Watcher::Standby);
            lab.ctl("standby", api, &["drain", "ws1"]).await?;
            "ws1 drained on the standby"
        };
        s.event(how, ev);
        let m = standby_moves(lab, ev, "ws2", Duration::from_secs(5)).await?;
        s.mark("standby announces ws2", m, "move");
        // Under load for a while with the two watchers disagreeing.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let back = now_us();
        if let Some(net) = &lab.net {
            net.standby_cut_from_ws1(false)?;
        } else {
            let api = lab.api_of(Watcher::Standby);
            lab.ctl("standby", api, &["undrain", "ws1"]).await?;
            lab.disagreeing = false;
        }
        s.mark("healed", back, "back");
        let within = lab.hold + Duration::from_secs(6) + lab.slack();
        standby_moves(lab, back, "ws1", within).await?;
        Ok(s)
    })
}
