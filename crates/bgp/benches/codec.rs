//! Codec speed: encoding and decoding one UPDATE (the reference vector of
//! `docs/codec.md`), and a burst of 4,000 /32 announcements
//! split into UPDATEs of at most 4,096 octets, as a failover of many VIPs sends them.
//!
//! Throughput is in elements: messages per second for the single UPDATE, prefixes
//! per second for the burst. Run with
//! `cargo bench -p hopwatch-bgp --bench codec -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hopwatch_bgp::message::{self, AsPath, Origin};
use hopwatch_bgp::{Asn, Codec, Message, PathAttributes, Prefix, Update};

const BURST: u32 = 4_000;

fn attributes() -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence([Asn(65001)])),
        ..Default::default()
    }
}

fn next_hop() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 10, 0, 4))
}

/// The reference UPDATE: 10.10.15.15/32, ORIGIN IGP, AS_PATH [65001], NEXT_HOP 10.10.0.4.
fn reference_update() -> Update {
    let prefix = Prefix::new(IpAddr::V4(Ipv4Addr::new(10, 10, 15, 15)), 32).expect("a /32");
    Update::announce(vec![prefix], next_hop(), attributes())
}

/// 4,000 distinct /32s from 100.64.0.0, split into UPDATEs that fit 4,096 octets.
fn burst(codec: &Codec) -> Vec<Update> {
    let base = u32::from(Ipv4Addr::new(100, 64, 0, 0));
    let prefixes: Vec<Prefix> = (0..BURST)
        .map(|i| Prefix::new(IpAddr::V4(Ipv4Addr::from(base + i)), 32).expect("a /32"))
        .collect();
    Update::announce_many(&prefixes, next_hop(), &attributes(), codec)
        .expect("small attributes fit")
}

fn single_update(c: &mut Criterion) {
    let codec = Codec::default();
    let update = reference_update();
    let bytes = message::encode_to_vec(&Message::Update(update.clone()), &codec);
    assert_eq!(bytes.len(), 48, "the reference UPDATE is 48 octets");

    let mut group = c.benchmark_group("update");
    group.throughput(Throughput::Elements(1));
    let mut out = Vec::with_capacity(64);
    group.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            message::encode_update_into(black_box(&update), &codec, &mut out);
            black_box(out.len())
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| message::decode(black_box(&bytes), &codec).expect("valid UPDATE"))
    });
    group.finish();
}

fn burst_of_4000(c: &mut Criterion) {
    let codec = Codec::default();
    let updates = burst(&codec);
    let announced: usize = updates.iter().map(|u| u.nlri.len()).sum();
    assert_eq!(announced, BURST as usize);
    let mut wire = Vec::new();
    for u in &updates {
        let start = wire.len();
        message::encode_update_into(u, &codec, &mut wire);
        assert!(wire.len() - start <= message::MAX_MESSAGE_LEN);
    }
    eprintln!(
        "burst: {BURST} prefixes in {} UPDATEs, {} octets",
        updates.len(),
        wire.len()
    );

    let mut group = c.benchmark_group("burst_4000_prefixes");
    group.throughput(Throughput::Elements(u64::from(BURST)));
    let mut out = Vec::with_capacity(wire.len());
    group.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            for u in black_box(&updates) {
                message::encode_update_into(u, &codec, &mut out);
            }
            black_box(out.len())
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            // Framing included: walk the byte stream the way a session does.
            let mut buf = black_box(&wire[..]);
            let mut prefixes = 0;
            while let Ok(Some(len)) = message::frame_len(buf) {
                let decoded = message::decode(&buf[..len], &codec).expect("valid UPDATE");
                if let Message::Update(u) = decoded.message {
                    prefixes += u.nlri.len();
                }
                buf = &buf[len..];
            }
            assert_eq!(prefixes, BURST as usize);
            prefixes
        })
    });
    group.finish();
}

criterion_group!(benches, single_update, burst_of_4000);
criterion_main!(benches);
