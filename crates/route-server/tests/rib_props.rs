//! Property tests of the RIB: random sequences of announcements, withdrawals,
//! sessions going down (with or without graceful restart) and coming back,
//! End-of-RIB and time passing, from 3 peers. After every step:
//! - the Loc-RIB equals the best sets recomputed from scratch from the
//!   Adj-RIBs-In (by a separate, naive implementation of the rule);
//! - the reported changes, applied in order, rebuild the Loc-RIB exactly;
//! - the UPDATEs from `poll_updates`, applied in order, leave each established
//!   peer with exactly `routes_for(peer)`, with at most one UPDATE per prefix.

// A panic in a test is a failed test, not a crashed daemon.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use hopwatch_bgp::message::AsPath;
use hopwatch_bgp::{Asn, Family, PathAttributes, Prefix, Update};
use hopwatch_route_server::rib::{BestPath, Path, Rib, RibChange, RibConfig};
use proptest::prelude::*;
use support::*;

const PEERS: [&str; 3] = [W1, W2, W3];
const PREFIXES: [&str; 5] = [
    VIP,
    "10.1.0.0/16",
    "10.2.0.0/24",
    "2001:db8:1::/48",
    "2001:db8:2::/64",
];
const HOPS_V4: [&str; 3] = [WS1, WS2, WS3];
const HOPS_V6: [&str; 3] = ["2001:db8::4", "2001:db8::5", "2001:db8::6"];

#[derive(Debug, Clone)]
enum Op {
    Announce {
        peer: usize,
        prefix: usize,
        hop: usize,
        path_len: usize,
        looped: bool,
    },
    Withdraw {
        peer: usize,
        prefix: usize,
    },
    Down {
        peer: usize,
        graceful: bool,
    },
    Up {
        peer: usize,
    },
    EndOfRib {
        peer: usize,
        v6: bool,
    },
    Wait {
        ms: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3usize, 0..5usize, 0..3usize, 1..4usize, proptest::bool::weighted(0.1)).prop_map(
            |(peer, prefix, hop, path_len, looped)| Op::Announce { peer, prefix, hop, path_len, looped }
        ),
        3 => (0..3usize, 0..5usize).prop_map(|(peer, prefix)| Op::Withdraw { peer, prefix }),
        1 => (0..3usize, any::<bool>()).prop_map(|(peer, graceful)| Op::Down { peer, graceful }),
        1 => (0..3usize).prop_map(|peer| Op::Up { peer }),
        1 => (0..3usize, any::<bool>()).prop_map(|(peer, v6)| Op::EndOfRib { peer, v6 }),
        1 => (0..8_000u64).prop_map(|ms| Op::Wait { ms }),
    ]
}

/// The best sets, recomputed from scratch from the Adj-RIBs-In.
fn from_scratch(rib: &Rib) -> BTreeMap<Prefix, BestPath> {
    let mut candidates: BTreeMap<Prefix, Vec<(IpAddr, IpAddr, PathAttributes)>> = BTreeMap::new();
    for peer in PEERS {
        for (prefix, route) in rib.adj_rib_in(ip(peer)).unwrap() {
            candidates.entry(*prefix).or_default().push((
                ip(peer),
                route.next_hop,
                (*route.attributes).clone(),
            ));
        }
    }
    let len = |a: &PathAttributes| a.as_path.as_ref().map_or(0, AsPath::path_len);
    candidates
        .into_iter()
        .map(|(prefix, mut c)| {
            let shortest = c.iter().map(|(_, _, a)| len(a)).min().unwrap();
            c.retain(|(_, _, a)| len(a) == shortest);
            c.sort_by_key(|(peer, _, _)| *peer);
            let mut next_hops: Vec<IpAddr> = c.iter().map(|(_, nh, _)| *nh).collect();
            next_hops.sort();
            next_hops.dedup();
            let paths = c
                .into_iter()
                .map(|(peer, next_hop, attributes)| Path {
                    peer,
                    next_hop,
                    attributes,
                })
                .collect();
            (prefix, BestPath { next_hops, paths })
        })
        .collect()
}

/// Applies reported changes to a mirror of the Loc-RIB.
fn apply_changes(mirror: &mut BTreeMap<Prefix, BestPath>, changes: Vec<RibChange>) {
    for c in changes {
        match c.best {
            Some(b) => {
                assert_ne!(
                    mirror.get(&c.prefix),
                    Some(&b),
                    "a change that changes nothing"
                );
                mirror.insert(c.prefix, b);
            }
            None => {
                assert!(
                    mirror.remove(&c.prefix).is_some(),
                    "removal of an absent prefix"
                );
            }
        }
    }
}

type Table = BTreeMap<Prefix, (IpAddr, PathAttributes)>;

/// Applies UPDATEs to a model of what a peer holds.
fn apply_updates(table: &mut Table, updates: &[Update]) {
    let mut seen = Vec::new();
    for u in updates {
        for p in u.withdrawn_all() {
            assert!(
                table.remove(&p).is_some(),
                "withdrawal of a route never sent"
            );
            seen.push(p);
        }
        for (p, nh) in u.announced() {
            let mut a = u.attributes.clone();
            a.next_hop = None;
            a.mp_reach = None;
            table.insert(p, (nh, a));
            seen.push(p);
        }
    }
    let n = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen.len(),
        n,
        "more than one UPDATE for a prefix in one batch"
    );
}

fn run(ops: Vec<Op>) {
    let mut rib = Rib::new(RibConfig::default());
    for (i, peer) in PEERS.iter().enumerate() {
        let gr = [Some(5), Some(0), None][i];
        rib.add_peer(ip(peer), Asn(65001 + i as u32), gr).unwrap();
        rib.peer_up(ip(peer)).unwrap();
    }
    let mut now = Instant::now();
    let mut mirror = BTreeMap::new();
    let mut sent: Vec<Table> = vec![Table::new(); 3];
    for op in ops {
        now += Duration::from_millis(10);
        // As a driver does: fire the timer when it is due.
        if rib.poll_timeout().is_some_and(|t| t <= now) {
            apply_changes(&mut mirror, rib.handle_timeout(now));
        }
        let changes = match op {
            Op::Announce {
                peer,
                prefix,
                hop,
                path_len,
                looped,
            } => {
                let p = PREFIXES[prefix];
                let nh = if p.contains(':') {
                    HOPS_V6[hop]
                } else {
                    HOPS_V4[hop]
                };
                let mut path = vec![65001 + peer as u32; path_len];
                if looped {
                    path.push(65515);
                }
                let got = rib
                    .receive(now, ip(PEERS[peer]), &announce(&[p], nh, &path))
                    .unwrap();
                assert_eq!(got.rejected.len(), usize::from(looped));
                got.changes
            }
            Op::Withdraw { peer, prefix } => {
                let got = rib
                    .receive(now, ip(PEERS[peer]), &withdraw(&[PREFIXES[prefix]]))
                    .unwrap();
                got.changes
            }
            Op::Down { peer, graceful } => {
                sent[peer].clear();
                rib.peer_down(now, ip(PEERS[peer]), graceful)
            }
            Op::Up { peer } => {
                let addr = ip(PEERS[peer]);
                if !rib.peers()[peer].up {
                    rib.peer_up(addr).unwrap();
                    sent[peer] = rib
                        .routes_for(addr)
                        .into_iter()
                        .map(|(p, nh, a)| (p, (nh, a)))
                        .collect();
                }
                vec![]
            }
            Op::EndOfRib { peer, v6 } => {
                let family = if v6 {
                    Family::Ipv6Unicast
                } else {
                    Family::Ipv4Unicast
                };
                let got = rib
                    .receive(now, ip(PEERS[peer]), &Update::end_of_rib(family))
                    .unwrap();
                got.changes
            }
            Op::Wait { ms } => {
                now += Duration::from_millis(ms);
                rib.handle_timeout(now)
            }
        };
        apply_changes(&mut mirror, changes);
        assert_eq!(rib.loc_rib(), &from_scratch(&rib));
        assert_eq!(rib.loc_rib(), &mirror);
        for (i, peer) in PEERS.iter().enumerate() {
            let addr = ip(peer);
            let updates = rib.poll_updates(addr);
            if !rib.peers()[i].up {
                assert!(updates.is_empty());
                continue;
            }
            apply_updates(&mut sent[i], &updates);
            let want: Table = rib
                .routes_for(addr)
                .into_iter()
                .map(|(p, nh, a)| (p, (nh, a)))
                .collect();
            assert_eq!(sent[i], want, "what {peer} holds");
            assert!(
                want.values()
                    .all(|(_, a)| a.as_path.as_ref().unwrap().contains(Asn(65515)))
            );
        }
        if let Some(deadline) = rib.poll_timeout() {
            assert!(deadline > now, "a stale deadline in the past is left");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_loc_rib_always_equals_the_best_sets_recomputed_from_the_adj_ribs_in(
        ops in proptest::collection::vec(op(), 0..80)
    ) {
        run(ops);
    }
}
