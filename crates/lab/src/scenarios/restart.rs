//! The restart family: each watcher of the pair, or one of the two route server
//! instances, restarted under load. The VIP stays on ws1 and no request may fail:
//! graceful restart (or the other watcher's route) keeps it while a watcher is away,
//! and the other instance (and the data plane) carries it while one route server
//! instance is.

use std::time::Duration;

use anyhow::Context;
use hopwatch_events::{Event, now_us};

use super::{Backends, Expect, Move, Place, Scenario, Steps, StepsFuture, Watcher};
use crate::lab::{Lab, RouteServerProcs};
use crate::procs::{is_ip, wait_for};

/// SIGKILL each watcher in turn and start it again.
pub const WATCHER: Scenario = Scenario {
    name: "watcher-restart",
    help: "SIGKILL the primary, start it again, then the standby: 0 failed requests",
    place: Place::Anywhere,
    backends: Backends::KeepAlive,
    moves: Move::Stays,
    decider: Watcher::Primary,
    expect: Expect::NoFailedRequests,
    run: watcher,
};

/// Restart one of the two route server instances.
pub const ROUTE_SERVER: Scenario = Scenario {
    name: "route-server-restart",
    help: "restart instance 127.10.1.4 after 2 s: 0 failed requests",
    place: Place::Anywhere,
    backends: Backends::KeepAlive,
    moves: Move::Stays,
    decider: Watcher::Primary,
    expect: Expect::NoFailedRequests,
    run: route_server,
};

fn watcher(lab: &mut Lab) -> StepsFuture<'_> {
    Box::pin(async move {
        let mut s = Steps::default();
        for w in Watcher::BOTH {
            let name = w.process();
            let ev = now_us();
            lab.procs.kill(name).await?;
            if w == Watcher::Primary {
                s.event("SIGKILL primary", ev);
            } else {
                s.mark(format!("SIGKILL {name}"), ev, "event");
            }
            lab.settle().await;
            let t = now_us();
            lab.spawn_role(name).await?;
            s.mark(format!("{name} restarted"), t, "back");
            let up = wait_for(
                &lab.log_of(w),
                t,
                Duration::from_secs(10),
                "update_sent",
                |l| matches!(l.event, Event::UpdateSent(_)),
            )
            .await?;
            s.mark(format!("{name}'s first UPDATE"), up.ts_us, "update");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok(s)
    })
}

/// Restarts one instance: hopwatch's first through its API (down for 2 s); FRR's
/// and BIRD's second by PID (see [`crate::frr`] for why the second).
fn route_server(lab: &mut Lab) -> StepsFuture<'_> {
    Box::pin(async move {
        let mut s = Steps::default();
        let wlog = lab.watcher_log();
        let rlog = lab.rs_log();
        let ev = now_us();
        if matches!(lab.route_server, RouteServerProcs::Hopwatch) {
            let (rs1, watcher) = (lab.layout.rs[0], lab.layout.watcher);
            let api = lab.layout.rs_api.context("the route server has no API")?;
            lab.ctl(
                "route-server",
                api,
                &["restart-instance", rs1, "--after-ms", "2000"],
            )
            .await?;
            s.event(format!("restart {rs1}"), ev);
            let st = wait_for(&rlog, ev, Duration::from_secs(6), "instance_started", |l| {
                matches!(l.event, Event::InstanceStarted(_))
            })
            .await?;
            s.mark(format!("{rs1} started"), st.ts_us, "back");
            let es = wait_for(
                &rlog,
                ev,
                Duration::from_secs(12),
                "the watcher's session again",
                |l| {
                    l.instance.is_some_and(|i| is_ip(&i, rs1))
                        && matches!(&l.event, Event::Established(e) if is_ip(&e.peer, watcher))
                },
            )
            .await?;
            s.mark("watcher re-established", es.ts_us, "update");
        } else {
            let addr = lab.layout.rs[1];
            let role = lab.instance_role(1);
            lab.procs.kill(&role).await?;
            s.event(
                format!("restart {addr} ({})", lab.layout.route_server.name()),
                ev,
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
            let t = now_us();
            lab.start_instance(1).await?;
            s.mark(format!("{addr} started"), t, "back");
            let es = wait_for(
                &wlog,
                t,
                Duration::from_secs(15),
                "the watcher's session again",
                |l| matches!(&l.event, Event::Established(e) if is_ip(&e.peer, addr)),
            )
            .await?;
            s.mark("watcher re-established", es.ts_us, "update");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(s)
    })
}
