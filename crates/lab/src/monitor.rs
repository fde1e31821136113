//! The namespace lab's view of the data plane: `ip -ts monitor route` runs in the
//! router namespace for the whole lab, and its lines become the same `programmed`
//! events that hopwatch's route server logs on loopback, stamped by the kernel's
//! notification rather than by whoever programmed the route. So the "program" time
//! of the report means the same thing for hopwatch's route server and for FRR: the
//! moment the router's routing table changed.

use std::collections::HashMap;
use std::path::Path;

use hopwatch_events::route_server::Programmed;
use hopwatch_events::{Event, Line};

/// The monitor's command line (run in the router namespace).
pub fn args() -> Vec<String> {
    ["-ts", "monitor", "route"]
        .iter()
        .map(|s| (*s).to_string())
        .collect()
}

/// The `programmed` events for each of `prefixes` (`A.B.C.D/32`) in the monitor's
/// output, in its order.
pub fn programmed(path: &Path, prefixes: &[String]) -> Vec<Line> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let by_addr: HashMap<&str, &str> = prefixes
        .iter()
        .map(|p| (p.strip_suffix("/32").unwrap_or(p), p.as_str()))
        .collect();
    text.lines()
        .filter_map(|l| {
            let (addr, prefix) = by_addr.get_key_value(route_addr(l)?)?;
            parse_line(l, addr, prefix)
        })
        .collect()
}

/// The destination of a route line: the word after the stamp (and `Deleted`).
fn route_addr(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once(']')?;
    let mut words = rest.split_whitespace();
    match words.next()? {
        "Deleted" => words.next(),
        w => Some(w),
    }
}

/// One line: `[2026-11-25T21:00:06.996129] 100.64.0.1 via 10.10.0.5 dev br0 proto bgp
/// metric 20`, or `[…] Deleted 100.64.0.1 via …`. A deleted route is an empty set of
/// next hops; a multipath route (its next hops on the lines that follow) is left
/// out: the lab's VIP never has one.
fn parse_line(line: &str, addr: &str, prefix: &str) -> Option<Line> {
    let rest = line.strip_prefix('[')?;
    let (stamp, rest) = rest.split_once(']')?;
    let ts_us = parse_stamp(stamp)?;
    let mut words = rest.split_whitespace().peekable();
    let deleted = words.peek() == Some(&"Deleted");
    if deleted {
        words.next();
    }
    if words.next()? != addr {
        return None;
    }
    let words: Vec<&str> = words.collect();
    // The flow-affinity tables (one per backend) are not the route server's route.
    if words.contains(&"table") {
        return None;
    }
    let via = words
        .iter()
        .position(|w| *w == "via")
        .and_then(|i| words.get(i + 1));
    let next_hops = match (deleted, via) {
        (true, _) => Vec::new(),
        (false, Some(nh)) => vec![nh.parse().ok()?],
        (false, None) => return None,
    };
    // What the kernel says, not a route server: no cause and no latency of its own.
    Some(Line::at(
        ts_us,
        Event::Programmed(Programmed {
            prefix: prefix.to_string(),
            next_hops: Some(next_hops),
            received_us: None,
            cause: None,
            latency_us: None,
            queued_ms: 0,
            error: None,
        }),
    ))
}

/// `2026-11-25T21:00:06.996129` (UTC: the monitor runs with TZ=UTC) in µs since
/// the epoch.
fn parse_stamp(s: &str) -> Option<u64> {
    let t = humantime::parse_rfc3339_weak(s).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    u64::try_from(d.as_micros()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replace_and_a_delete_become_programmed_events() {
        let p = "100.64.0.1/32";
        let v = parse_line(
            "[2026-11-25T21:00:06.996129] 100.64.0.1 via 10.10.0.5 dev br0 proto bgp metric 20 ",
            "100.64.0.1",
            p,
        )
        .expect("a route line");
        let hops = |l: &Line| match &l.event {
            Event::Programmed(p) => p.next_hops.clone(),
            _ => None,
        };
        assert_eq!(hops(&v), Some(vec![[10, 10, 0, 5].into()]));
        assert_eq!(v.ts_us, 1_795_640_406_996_129_u64);
        let d = parse_line(
            "[2026-11-25T21:00:06.998200] Deleted 100.64.0.1 via 10.10.0.5 dev br0 proto bgp",
            "100.64.0.1",
            p,
        )
        .expect("a delete line");
        assert_eq!(hops(&d), Some(vec![]));
        assert!(parse_line("[x] 100.64.0.1 via 1.2.3.4", "100.64.0.1", p).is_none());
        assert!(
            parse_line(
                "[2026-11-25T21:00:06.996129] 100.64.0.10 via 10.10.0.5 dev br0",
                "100.64.0.1",
                p
            )
            .is_none()
        );
        assert!(parse_line("\tnexthop via 10.10.0.4 dev br0 weight 1", "100.64.0.1", p).is_none());
        assert!(
            parse_line(
                "[2026-11-25T21:00:06.996129] 100.64.0.1 via 10.10.0.4 dev br0 table 101",
                "100.64.0.1",
                p
            )
            .is_none()
        );
    }

    #[test]
    fn the_routes_of_several_prefixes_are_read_in_one_pass() {
        let dir = std::env::temp_dir().join(format!("hwlab-monitor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("route-monitor.log");
        let text = "\
[2026-11-25T21:00:06.000001] 100.64.0.1 via 10.10.0.5 dev br0 proto bgp metric 20
[2026-11-25T21:00:06.000002] 100.64.16.1 via 10.10.0.5 dev br0 proto bgp metric 20
[2026-11-25T21:00:06.000003] 10.10.0.0/24 dev br0 proto kernel scope link src 10.10.0.1
[2026-11-25T21:00:06.000004] Deleted 100.64.16.2 via 10.10.0.4 dev br0 proto bgp
[2026-11-25T21:00:06.000005] 100.64.16.3 via 10.10.0.5 dev br0 proto bgp metric 20
";
        std::fs::write(&path, text).unwrap();
        let want = ["100.64.0.1/32", "100.64.16.1/32", "100.64.16.2/32"].map(String::from);
        let got: Vec<(u64, String)> = programmed(&path, &want)
            .into_iter()
            .filter_map(|l| match l.event {
                Event::Programmed(p) => Some((l.ts_us % 10, p.prefix)),
                _ => None,
            })
            .collect();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            got,
            [
                (1, want[0].clone()),
                (2, want[1].clone()),
                (4, want[2].clone())
            ]
        );
    }
}
