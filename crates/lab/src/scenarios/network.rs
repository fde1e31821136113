//! The network family (namespace lab only): ws1 cut off while its web server runs,
//! so only the watcher's probes timing out can tell. Its link down (`blackhole`:
//! every packet to and from ws1 vanishes), or an nft rule in ws1's namespace that
//! drops its HTTP port (`drop`).

use hopwatch_load::now_us;

use super::{Backends, Expect, Move, Place, Scenario, Steps, StepsFuture, Watcher};
use crate::lab::Lab;

/// ws1's link down.
pub const BLACKHOLE: Scenario = Scenario {
    name: "blackhole",
    help: "ws1's link down; up again; wait for the failback",
    place: Place::Netns,
    backends: Backends::KeepAlive,
    moves: Move::Detected,
    decider: Watcher::Primary,
    expect: Expect::FailsOverAndBack {
        timed_median_ms: None,
    },
    run: link_down,
};

/// An nft rule drops every packet to ws1's HTTP port.
pub const DROP: Scenario = Scenario {
    name: "drop",
    help: "nft rule dropping ws1's TCP port 8080; removed; failback",
    place: Place::Netns,
    backends: Backends::KeepAlive,
    moves: Move::Detected,
    decider: Watcher::Primary,
    expect: Expect::FailsOverAndBack {
        timed_median_ms: None,
    },
    run: nft_drop,
};

fn link_down(lab: &mut Lab) -> StepsFuture<'_> {
    Box::pin(async move {
        let mut s = Steps::default();
        let ev = now_us();
        lab.net()?.ws1_link(false)?;
        s.event("ws1 link down", ev);
        lab.wait_failover(ev).await?;
        lab.settle().await;
        let back = now_us();
        lab.net()?.ws1_link(true)?;
        s.back("ws1 link up", back);
        lab.wait_failback(back).await?;
        Ok(s)
    })
}

fn nft_drop(lab: &mut Lab) -> StepsFuture<'_> {
    Box::pin(async move {
        let mut s = Steps::default();
        let port = lab.layout.http_port;
        let ev = now_us();
        lab.net()?.ws1_drop(port, true)?;
        s.event(format!("nft drop ws1:{port}"), ev);
        lab.wait_failover(ev).await?;
        lab.settle().await;
        let back = now_us();
        lab.net()?.ws1_drop(port, false)?;
        s.back("nft rule removed", back);
        lab.wait_failback(back).await?;
        Ok(s)
    })
}
