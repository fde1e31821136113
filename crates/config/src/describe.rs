//! What a config will do, in a few lines a person can check against intent:
//! `hopwatch check` prints it under "ok", with the probes' cost against the bound
//! of `bounds`.

use crate::bounds;
use crate::model::Config;

/// What the config will do, in a few lines a person can check against intent.
pub fn describe(c: &Config) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let b = &c.bgp;
    let _ = writeln!(
        s,
        "  BGP: AS {} as {}{}, hold time {} s, graceful restart {}",
        b.local_as,
        b.router_id,
        b.local_address
            .map(|a| format!(" from {a}"))
            .unwrap_or_default(),
        b.hold_time.secs(),
        b.graceful_restart
            .map_or("off".into(), |g| format!("{g} s")),
    );
    for rs in &c.route_servers {
        let _ = writeln!(
            s,
            "  route server {}:{} AS {}",
            rs.address,
            rs.port.unwrap_or(b.port),
            rs.peer_as
        );
    }
    let h = &c.health;
    for vip in &c.vips {
        let _ = writeln!(s, "  VIP {}:", vip.prefix);
        for (i, be) in vip.backends.iter().enumerate() {
            let _ = writeln!(
                s,
                "    {}. {} via {}: {} every {:?}, timeout {:?}, fall {}, rise {}, expect {}{}",
                i + 1,
                be.name,
                be.next_hop,
                be.check,
                be.interval.unwrap_or(h.interval),
                be.timeout.unwrap_or(h.timeout),
                be.fall.unwrap_or(h.fall),
                be.rise.unwrap_or(h.rise),
                be.expect_status.unwrap_or(h.expect_status),
                be.body
                    .as_ref()
                    .or(h.body.as_ref())
                    .map(|t| format!(" with {t:?}"))
                    .unwrap_or_default(),
            );
        }
    }
    let rate = bounds::probes_per_second(c);
    let _ = writeln!(
        s,
        "  probes: {rate:.0} probes/s, about {:.1} % of one core (~{} µs of CPU each; refused past {:.0}/s)",
        bounds::probe_cpu_percent(rate),
        bounds::PROBE_CPU.as_micros(),
        bounds::MAX_PROBES_PER_SECOND,
    );
    let f = &c.failover;
    let _ = writeln!(
        s,
        "  failover: {}, failback after {:?} healthy, all down: {:?}; API on {}{}",
        if f.preempt { "preempt" } else { "no preempt" },
        f.failback_hold,
        f.all_down,
        c.api.listen,
        if c.azure { "; Azure rules on" } else { "" },
    );
    s
}
