//! `--vips N`: what one move of N VIPs on one backend pair costs. The seed VIP
//! carries the load and is timed in [`crate::analysis`]; here, from the same logs
//! on the same clock, every VIP: when the last one was programmed to the new next
//! hop, which ones never were (a failure of the trial, never a silent success), and
//! per route server instance the UPDATE messages the deciding watcher sent for the
//! move (its `update_sent` lines, one per message on the wire) and, with hopwatch's
//! route server, which VIPs that instance logged receiving (its `update` lines, one
//! per prefix: they do not tell messages apart, whose stamps may coincide).
//!
//! Both instances feed one data plane (hopwatch's route server merges them; with
//! FRR or BIRD the first instance's routes are the kernel's), so the time to the
//! last VIP programmed is one figure per trial; the UPDATEs are per instance.
//!
//! [`analyse`] and the helpers the waits use ([`reached`], [`on_only`]) are pure:
//! lines in, figures out. [`Lab::vips_move`] reads the logs for them.

use std::collections::{BTreeMap, BTreeSet};

use hopwatch_events::{Event, Line};
use serde::Serialize;

use crate::analysis::ms;
use crate::lab::Lab;
use crate::procs::{events_with, is_ip};
use crate::scenarios::Scenario;
use crate::topology::RouteServer;

/// The VIPs never programmed that a trial names (the count says how many).
const MISSING_NAMED: usize = 10;

/// One trial's move of every VIP to the new next hop.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VipsMove {
    /// How many VIPs the watchers announce (the seed's and the extra ones).
    pub vips: usize,
    /// How many of them were programmed to the new next hop alone after the event.
    pub programmed: usize,
    /// The event to the last of them programmed, ms, when every one was.
    pub last_programmed_ms: Option<f64>,
    /// When the last of them was programmed, µs since the epoch (the timeline).
    pub last_programmed_us: Option<u64>,
    /// The first few of those never programmed (all when every one was: none).
    pub missing: Vec<String>,
    /// What the move cost at each route server instance.
    pub instances: Vec<InstanceMove>,
    /// Whether the seed VIP's route was among those programmed.
    #[serde(skip)]
    pub seed_programmed: bool,
}

impl VipsMove {
    /// The trial's failure when the seed VIP's route moved and another's did not:
    /// VIPs on the same backends with the same checks must all move.
    pub fn left_behind(&self, to: &str) -> Option<String> {
        if !self.seed_programmed || self.programmed == self.vips {
            return None;
        }
        let more = self.vips - self.programmed - self.missing.len();
        Some(format!(
            "only {} of the {} VIPs were programmed to {to} while the seed VIP's was; never: \
             {}{}",
            self.programmed,
            self.vips,
            self.missing.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ))
    }
}

/// One route server instance's part of the move.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InstanceMove {
    /// The instance (the watcher's peer).
    pub instance: String,
    /// UPDATE messages the deciding watcher sent it, from its first move up to the
    /// one that announced the last VIP via the new next hop (up to its move back,
    /// or the end of the trial, when none did).
    pub updates: u64,
    /// The VIPs announced via the new next hop in them.
    pub announced: usize,
    /// hopwatch's route server: the VIPs this instance logged receiving via the new
    /// next hop from that watcher.
    pub received: Option<usize>,
    /// hopwatch's route server: the event to the last of them received, ms.
    pub last_received_ms: Option<f64>,
}

/// The logs of one trial's move, and what to look for in them.
#[derive(Debug, Clone, Copy)]
pub struct MoveLogs<'a> {
    /// Every VIP as a prefix, the seed's first.
    pub vips: &'a [String],
    /// The new next hop (ws2's address).
    pub to: &'a str,
    /// The deciding watcher's BGP address.
    pub decider: &'a str,
    /// The route server instances' addresses.
    pub instances: &'a [&'a str],
    /// The injected failure, µs since the epoch.
    pub event_us: u64,
    /// The decider's first move of a VIP to the new backend, if it moved.
    pub move_us: Option<u64>,
    /// The end of the move: the decider's first move back, or the trial's end.
    pub end_us: u64,
    /// The decider's log.
    pub watcher: &'a [Line],
    /// The data plane's `programmed` lines (every VIP's).
    pub programmed: &'a [Line],
    /// hopwatch's route server's `update` lines, when it is the route server.
    pub received: Option<&'a [Line]>,
}

/// Every figure of the move.
pub fn analyse(m: &MoveLogs<'_>) -> VipsMove {
    let set: BTreeSet<&str> = m.vips.iter().map(String::as_str).collect();
    let got = reached(m.programmed, &set, m.to, m.event_us, m.end_us);
    let all = got.len() == set.len();
    let last_us = got.values().copied().max().filter(|_| all);
    let instances = m
        .instances
        .iter()
        .map(|inst| {
            let (updates, announced) = m.move_us.map_or((0, 0), |from| {
                updates_to(m.watcher, inst, &set, m.to, from, m.end_us)
            });
            let rx = m.received.map(|rs| {
                received(
                    rs,
                    &Peers {
                        instance: inst,
                        from: m.decider,
                        via: m.to,
                    },
                    &set,
                    m.move_us.unwrap_or(m.event_us),
                    m.end_us,
                )
            });
            InstanceMove {
                instance: (*inst).to_string(),
                updates,
                announced,
                received: rx.map(|r| r.0),
                last_received_ms: rx.and_then(|r| r.1).map(|t| ms(m.event_us, t)),
            }
        })
        .collect();
    VipsMove {
        vips: set.len(),
        programmed: got.len(),
        last_programmed_ms: last_us.map(|t| ms(m.event_us, t)),
        last_programmed_us: last_us,
        missing: m
            .vips
            .iter()
            .filter(|v| !got.contains_key(v.as_str()))
            .take(MISSING_NAMED)
            .cloned()
            .collect(),
        instances,
        seed_programmed: m.vips.first().is_some_and(|s| got.contains_key(s)),
    }
}

/// The prefix of `l` when it is a route programmed to `nh` alone, without error.
fn programmed_to<'a>(l: &'a Line, nh: &str) -> Option<&'a str> {
    match &l.event {
        Event::Programmed(p)
            if p.error.is_none()
                && matches!(p.next_hops.as_deref(), Some([only]) if is_ip(only, nh)) =>
        {
            Some(&p.prefix)
        }
        _ => None,
    }
}

/// Each of `vips` programmed to `nh` alone between `since_us` and `until_us`, with
/// the first time it was.
pub fn reached(
    lines: &[Line],
    vips: &BTreeSet<&str>,
    nh: &str,
    since_us: u64,
    until_us: u64,
) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for l in lines
        .iter()
        .filter(|l| l.ts_us >= since_us && l.ts_us <= until_us)
    {
        if let Some(p) = programmed_to(l, nh).filter(|p| vips.contains(p)) {
            out.entry(p.to_string()).or_insert(l.ts_us);
        }
    }
    out
}

/// How many of `vips` are programmed to `nh` alone now: their latest line says so.
pub fn on_only(lines: &[Line], vips: &BTreeSet<&str>, nh: &str) -> usize {
    let mut latest: BTreeMap<&str, &Line> = BTreeMap::new();
    for l in lines {
        if let Event::Programmed(p) = &l.event
            && vips.contains(p.prefix.as_str())
            && latest
                .get(p.prefix.as_str())
                .is_none_or(|old| old.ts_us <= l.ts_us)
        {
            latest.insert(&p.prefix, l);
        }
    }
    latest
        .values()
        .filter(|l| programmed_to(l, nh).is_some())
        .count()
}

/// The UPDATE messages the watcher sent `peer` from `from_us` to `until_us`, up to
/// the one that announced the last of `vips` via `nh`; and how many of `vips` they
/// announced so.
fn updates_to(
    watcher: &[Line],
    peer: &str,
    vips: &BTreeSet<&str>,
    nh: &str,
    from_us: u64,
    until_us: u64,
) -> (u64, usize) {
    let mut messages = 0;
    let mut announced = BTreeSet::new();
    for l in watcher
        .iter()
        .filter(|l| l.ts_us >= from_us && l.ts_us <= until_us)
    {
        let Event::UpdateSent(u) = &l.event else {
            continue;
        };
        if !is_ip(&u.peer, peer) {
            continue;
        }
        messages += 1;
        for a in &u.announce {
            if is_ip(&a.next_hop, nh) && vips.contains(a.prefix.as_str()) {
                announced.insert(a.prefix.as_str());
            }
        }
        if announced.len() == vips.len() {
            break;
        }
    }
    (messages, announced.len())
}

/// Who sent what to whom: the instance, the watcher it heard from, the next hop.
struct Peers<'a> {
    instance: &'a str,
    from: &'a str,
    via: &'a str,
}

/// What instance `p.instance` logged receiving from `p.from` via `p.via` between
/// `from_us` and `until_us`: how many of `vips`, and when the last of them first
/// arrived.
fn received(
    rs: &[Line],
    p: &Peers<'_>,
    vips: &BTreeSet<&str>,
    from_us: u64,
    until_us: u64,
) -> (usize, Option<u64>) {
    let mut first: BTreeMap<&str, u64> = BTreeMap::new();
    for l in rs
        .iter()
        .filter(|l| l.ts_us >= from_us && l.ts_us <= until_us)
        .filter(|l| l.instance.is_some_and(|i| is_ip(&i, p.instance)))
    {
        if let Event::Update(u) = &l.event
            && is_ip(&u.peer, p.from)
            && u.next_hop.is_some_and(|nh| is_ip(&nh, p.via))
            && vips.contains(u.prefix.as_str())
        {
            first.entry(u.prefix.as_str()).or_insert(l.ts_us);
        }
    }
    (first.len(), first.values().copied().max())
}

impl Lab {
    /// The move of every VIP to ws2 in a trial of `sc` whose failure was injected
    /// at `ev` and whose window ends at `until_us`; `wev` is the deciding watcher's
    /// log.
    pub fn vips_move(&self, sc: &Scenario, ev: u64, until_us: u64, wev: &[Line]) -> VipsMove {
        let vips = self.layout.vips();
        let set: BTreeSet<&str> = vips.iter().map(String::as_str).collect();
        let moved_to = |l: &Line, to: &str| {
            matches!(&l.event, Event::Move(m)
                if set.contains(m.vip.as_str()) && m.to.as_deref() == Some(to))
        };
        let window = |l: &&Line| l.ts_us >= ev && l.ts_us <= until_us;
        let move_us = wev
            .iter()
            .filter(window)
            .find(|l| moved_to(l, "ws2"))
            .map(|l| l.ts_us);
        let end_us = move_us
            .and_then(|m| {
                wev.iter()
                    .filter(window)
                    .find(|l| l.ts_us > m && moved_to(l, "ws1"))
            })
            .map_or(until_us, |l| l.ts_us);
        let received = (self.layout.route_server == RouteServer::Hopwatch)
            .then(|| events_with(&self.rs_log(), "\"update\""));
        analyse(&MoveLogs {
            vips: &vips,
            to: self.layout.ws2,
            decider: self.layout.address_of(sc.decider),
            instances: &self.layout.rs,
            event_us: ev,
            move_us,
            end_us,
            watcher: wev,
            programmed: &self.programmed_all(),
            received: received.as_deref(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use hopwatch_events::bgp::{Action, Announced, RouteUpdate, UpdateSent};
    use hopwatch_events::route_server::Programmed;

    use super::*;

    const WS1: &str = "127.10.0.4";
    const WS2: &str = "127.10.0.5";
    const RS: [&str; 2] = ["127.10.1.4", "127.10.1.5"];
    const WATCHER: &str = "127.10.0.7";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn vips(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("127.10.16.{i}/32")).collect()
    }

    fn programmed(ts_us: u64, prefix: &str, nh: &str) -> Line {
        Line::at(
            ts_us,
            Event::Programmed(Programmed {
                prefix: prefix.into(),
                next_hops: Some(vec![ip(nh)]),
                received_us: None,
                cause: None,
                latency_us: None,
                queued_ms: 0,
                error: None,
            }),
        )
    }

    fn sent(ts_us: u64, peer: &str, prefixes: &[String], nh: &str) -> Line {
        Line::at(
            ts_us,
            Event::UpdateSent(UpdateSent {
                peer: ip(peer),
                announce: prefixes
                    .iter()
                    .map(|p| Announced {
                        prefix: p.clone(),
                        next_hop: ip(nh),
                    })
                    .collect(),
                withdraw: Vec::new(),
            }),
        )
    }

    fn got(ts_us: u64, instance: &str, prefix: &str, nh: &str) -> Line {
        let mut l = Line::at(
            ts_us,
            Event::Update(RouteUpdate {
                peer: ip(WATCHER),
                action: Action::Announce,
                prefix: prefix.into(),
                next_hop: Some(ip(nh)),
                attributes: None,
            }),
        );
        l.instance = Some(ip(instance));
        l
    }

    fn logs<'a>(
        v: &'a [String],
        watcher: &'a [Line],
        programmed: &'a [Line],
        received: Option<&'a [Line]>,
    ) -> MoveLogs<'a> {
        MoveLogs {
            vips: v,
            to: WS2,
            decider: WATCHER,
            instances: &RS,
            event_us: 1_000,
            move_us: Some(2_000),
            end_us: 100_000,
            watcher,
            programmed,
            received,
        }
    }

    #[test]
    fn one_update_per_vip_and_every_vip_programmed() {
        let v = vips(3);
        let mut w = Vec::new();
        let mut p = Vec::new();
        let mut rx = Vec::new();
        for (i, prefix) in v.iter().enumerate() {
            let t = 3_000 + 1_000 * i as u64;
            for inst in RS {
                w.push(sent(t, inst, std::slice::from_ref(prefix), WS2));
                rx.push(got(t + 100, inst, prefix, WS2));
            }
            p.push(programmed(t + 200, prefix, WS2));
        }
        // After the move: the failback's UPDATEs are not the move's.
        w.push(sent(50_000, RS[0], &v, WS1));
        let m = analyse(&logs(&v, &w, &p, Some(&rx)));
        assert_eq!(m.left_behind(WS2), None);
        assert_eq!(m.vips, 3);
        assert_eq!(m.programmed, 3);
        assert!(m.missing.is_empty());
        assert_eq!(m.last_programmed_us, Some(5_200));
        assert_eq!(m.last_programmed_ms, Some(4.2));
        for (inst, want) in m.instances.iter().zip(RS) {
            assert_eq!(inst.instance, want);
            assert_eq!((inst.updates, inst.announced), (3, 3));
            assert_eq!(inst.received, Some(3));
            assert_eq!(inst.last_received_ms, Some(4.1));
        }
    }

    #[test]
    fn one_packed_update_is_one_message() {
        let v = vips(20);
        let w: Vec<Line> = RS.iter().map(|r| sent(3_000, r, &v, WS2)).collect();
        let p: Vec<Line> = v.iter().map(|x| programmed(3_500, x, WS2)).collect();
        let rx: Vec<Line> = v.iter().map(|x| got(3_100, RS[0], x, WS2)).collect();
        let m = analyse(&logs(&v, &w, &p, Some(&rx)));
        assert_eq!((m.instances[0].updates, m.instances[0].announced), (1, 20));
        assert_eq!(m.instances[0].received, Some(20));
        // Nothing logged at the second instance.
        assert_eq!(m.instances[1].received, Some(0));
        assert_eq!(m.instances[1].last_received_ms, None);
        assert_eq!(m.programmed, 20);
    }

    #[test]
    fn a_vip_left_behind_is_named_and_there_is_no_last_time() {
        let v = vips(4);
        let w: Vec<Line> = v
            .iter()
            .map(|x| sent(3_000, RS[0], std::slice::from_ref(x), WS2))
            .collect();
        let mut p: Vec<Line> = v[..2].iter().map(|x| programmed(4_000, x, WS2)).collect();
        // Programmed elsewhere, with an error, or before the event: none counts.
        p.push(programmed(4_000, &v[2], WS1));
        let mut failed = programmed(4_000, &v[3], WS2);
        if let Event::Programmed(pp) = &mut failed.event {
            pp.error = Some("listen: address in use".into());
        }
        p.push(failed);
        p.push(programmed(500, &v[3], WS2));
        let m = analyse(&logs(&v, &w, &p, None));
        assert_eq!(m.programmed, 2);
        assert_eq!(m.last_programmed_ms, None);
        assert_eq!(m.missing, [v[2].clone(), v[3].clone()]);
        assert_eq!((m.instances[0].updates, m.instances[0].announced), (4, 4));
        assert_eq!(m.instances[1].updates, 0);
        // No hopwatch route server: nothing received to tell.
        assert_eq!(m.instances[0].received, None);
        // The seed moved, two others did not: the trial fails, naming them.
        let why = m.left_behind(WS2).unwrap();
        assert!(why.starts_with("only 2 of the 4 VIPs"), "{why}");
        assert!(why.contains(&v[3]), "{why}");
        // The seed did not move either: the seed's own figures tell that.
        let m = analyse(&logs(&v, &w, &p[1..], None));
        assert_eq!(m.left_behind(WS2), None);
    }

    #[test]
    fn without_a_move_no_update_is_counted() {
        let v = vips(2);
        let w = vec![sent(3_000, RS[0], &v, WS2)];
        let m = analyse(&MoveLogs {
            move_us: None,
            ..logs(&v, &w, &[], None)
        });
        assert_eq!(m.instances[0].updates, 0);
        assert_eq!(m.programmed, 0);
        assert_eq!(m.missing, v);
    }

    #[test]
    fn on_only_reads_each_vips_latest_line() {
        let v = vips(3);
        let set: BTreeSet<&str> = v.iter().map(String::as_str).collect();
        let lines = vec![
            programmed(1, &v[0], WS2),
            programmed(2, &v[0], WS1),
            programmed(1, &v[1], WS1),
            programmed(2, &v[1], WS2),
            programmed(1, "127.10.15.15/32", WS1),
        ];
        assert_eq!(on_only(&lines, &set, WS1), 1);
        assert_eq!(on_only(&lines, &set, WS2), 1);
        let r = reached(&lines, &set, WS2, 2, 10);
        assert_eq!(r.into_iter().collect::<Vec<_>>(), [(v[1].clone(), 2)]);
    }
}
