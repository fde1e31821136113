//! What a config will do, in a few lines a person can check against intent:
//! `hopwatch check` prints it under "ok", with the probes' cost against the bound
//! of `bounds`.

use crate::bounds;
use crate::model::Config;

/// How soon a failed backend is down: a crash within round trips, a silence
/// within the bound of its settings (the slowest backend's, named when they differ),
/// with the arithmetic, so that a change of settings shows what it costs.
fn detection(s: &mut String, c: &Config) {
    use std::fmt::Write;
    let h = &c.health;
    let settings: Vec<_> = c
        .vips
        .iter()
        .flat_map(|v| &v.backends)
        .map(|be| {
            let (interval, timeout) = (
                be.interval.unwrap_or(h.interval),
                be.timeout.unwrap_or(h.timeout),
            );
            let fall = be.fall.unwrap_or(h.fall);
            let bound = hopwatch_health::silent_failure_bound(interval, timeout, fall, h.jitter);
            (be.name.as_str(), bound, interval, timeout, fall)
        })
        .collect();
    let Some(&(name, worst, interval, timeout, fall)) = settings.iter().max_by_key(|b| b.1) else {
        return;
    };
    let whose = if settings.iter().all(|b| b.1 == worst) {
        String::new()
    } else {
        format!(" ({name}'s settings)")
    };
    let _ = writeln!(
        s,
        "  down: a crashed backend within a few round trips (its host refuses);\n        \
         a silent one (hung, packets lost) within {} ms{whose} = (fall {fall} + jitter {}) \
         × {interval:?} + timeout {timeout:?} + {} ms of timers",
        worst.as_millis(),
        h.jitter,
        hopwatch_health::TIMER_SLACK.as_millis(),
    );
}

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
    detection(&mut s, c);
    ha(&mut s, c);
    forward(&mut s, c);
    let rate = bounds::probes_per_second(c);
    let backends: usize = c.vips.iter().map(|v| v.backends.len()).sum();
    let streams = crate::probes::distinct(c).len();
    let _ = writeln!(
        s,
        "  probes: {streams} probe stream{} for {backends} backend{} of {} VIP{} (one per distinct \
         check: same URL, source and timing), {rate:.0} probes/s, about {:.1} % of one core \
         (~{} µs of CPU each; refused past {:.0}/s)",
        plural(streams),
        plural(backends),
        c.vips.len(),
        plural(c.vips.len()),
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

/// The forwarding mode: what the route servers are told, what the kernel gets, and
/// what each backend must run.
fn forward(s: &mut String, c: &Config) {
    use std::fmt::Write;
    let Some(f) = &c.forward else { return };
    let n = u32::try_from(c.forward_tunnels().len())
        .unwrap_or(u32::MAX)
        .max(1)
        - 1;
    let _ = writeln!(
        s,
        "  forwarding: the VIPs' next hop is this watcher ({}); it forwards each VIP's \
         traffic over VXLAN (UDP {}, VNIs {}-{}, devices hwfw0-hwfw{n}, tables {}-{}) to \
         the backend it chooses, so a backend failover never changes the route",
        f.address,
        f.port,
        f.vni,
        f.vni.saturating_add(n),
        f.table,
        f.table.saturating_add(n),
    );
    let vips: Vec<String> = c
        .vips
        .iter()
        .map(|v| format!("--vip {}", v.prefix))
        .collect();
    let _ = writeln!(
        s,
        "  forwarding: each backend runs `hopwatch backend {} --watcher {}` (and \
         --watcher for the other watcher of a pair)",
        vips.join(" "),
        f.address,
    );
}

/// The pair: the role, the AS path, and how soon the standby takes over. The figures
/// follow from the hold time and graceful restart: when the primary's process dies
/// its kernel closes the sessions, and a route server drops its routes at once, or
/// keeps them (stale) for the restart time when graceful restart was negotiated
/// (RFC 4724); when its host freezes or is cut off, only the hold timer notices, and
/// a route server that implements RFC 8538 (FRR does by default; Azure documents
/// nothing) keeps the routes the restart time more. While a dead
/// primary's route is kept, the standby's cannot replace it.
fn ha(s: &mut String, c: &Config) {
    use std::fmt::Write;
    let Some(role) = c.role() else { return };
    let prepend = c.prepend();
    let path = vec![c.bgp.local_as.to_string(); usize::from(prepend) + 1].join(" ");
    let hold = c.bgp.hold_time.secs();
    let _ = writeln!(
        s,
        "  HA: {} watcher, announcing AS path {path}{}",
        role.as_str(),
        if prepend > 0 {
            format!(" ({prepend} prepended: used only while the primary's route is gone)")
        } else {
            " (preferred over the standby's)".into()
        }
    );
    let (killed, frozen) = match c.bgp.graceful_restart {
        None => (
            "at once".to_string(),
            format!("at most {hold} s (the hold time)"),
        ),
        Some(gr) => (
            format!("after {gr} s (graceful restart keeps its route that long)"),
            format!(
                "at most {hold} s (the hold time), or {} s where the route server keeps \
                 routes after a hold timer expiry (RFC 8538, as FRR does)",
                u32::from(hold) + u32::from(gr)
            ),
        ),
    };
    let _ = writeln!(
        s,
        "  HA: the standby's route takes over when the primary's process dies: {killed}; when \
         its host freezes or is cut off: {frozen}"
    );
}

/// "s" for a count other than one.
fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
