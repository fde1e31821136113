//! The flow hash: which next hop of an ECMP set a new connection goes to.
//!
//! Rendezvous (highest-random-weight) hashing over the client's address and port: each
//! next hop scores `hash(flow, next_hop)` and the highest score wins. It is
//! - stable per flow: the same client address and port always pick the same next hop
//!   of the same set, in any process (the hash is ours, FNV-1a plus a SplitMix64
//!   finaliser, not std's unspecified `DefaultHasher`);
//! - independent of the set's order;
//! - minimally disruptive: when a next hop joins or leaves, only the flows that pick
//!   (or picked) that next hop move. Existing connections never move anyway (the proxy
//!   hashes new connections only), but this keeps the spread of *returning* clients
//!   steady while the set changes.
//!
//! An ECMP set has at most a few entries (Azure Route Server takes 8 peers), so scoring
//! each one is cheaper than building any lookup structure.

use std::net::{IpAddr, SocketAddr};

/// Picks the index in `next_hops` of the next hop for the flow from `client`, or `None`
/// when the set is empty.
pub fn pick_next_hop(client: SocketAddr, next_hops: &[IpAddr]) -> Option<usize> {
    let flow = fnv1a(
        fnv1a(FNV_OFFSET, &ip_bytes(client.ip())),
        &client.port().to_be_bytes(),
    );
    next_hops
        .iter()
        .enumerate()
        .max_by_key(|(_, hop)| mix(flow ^ mix(fnv1a(FNV_OFFSET, &ip_bytes(**hop)))))
        .map(|(i, _)| i)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn ip_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// SplitMix64's finaliser: spreads FNV's weak low bits over the whole word.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hops(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().expect("literal")).collect()
    }

    fn client(port: u16) -> SocketAddr {
        SocketAddr::new("127.0.0.1".parse().expect("literal"), port)
    }

    #[test]
    fn an_empty_set_picks_nothing() {
        assert_eq!(pick_next_hop(client(1), &[]), None);
    }

    #[test]
    fn a_flow_always_picks_the_same_next_hop_whatever_the_order() {
        let set = hops(&["10.0.0.4", "10.0.0.5", "10.0.0.6"]);
        let mut reversed = set.clone();
        reversed.reverse();
        for port in 1000..1100 {
            let a = set[pick_next_hop(client(port), &set).expect("non-empty")];
            let b = set[pick_next_hop(client(port), &set).expect("non-empty")];
            let c = reversed[pick_next_hop(client(port), &reversed).expect("non-empty")];
            assert_eq!((a, a), (b, c));
        }
    }

    #[test]
    fn distinct_flows_spread_evenly_enough() {
        let set = hops(&["10.0.0.4", "10.0.0.5"]);
        let mut counts = [0u32; 2];
        for port in 30000..32000 {
            counts[pick_next_hop(client(port), &set).expect("non-empty")] += 1;
        }
        assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
    }

    #[test]
    fn removing_a_next_hop_moves_only_its_own_flows() {
        let full = hops(&["10.0.0.4", "10.0.0.5", "10.0.0.6"]);
        let less = hops(&["10.0.0.4", "10.0.0.6"]);
        for port in 2000..2500 {
            let before = full[pick_next_hop(client(port), &full).expect("non-empty")];
            let after = less[pick_next_hop(client(port), &less).expect("non-empty")];
            if before != full[1] {
                assert_eq!(before, after);
            }
        }
    }
}
