//! Forged packets for the forwarding mode's hostile tests: a VXLAN datagram that
//! carries an Ethernet frame with an IPv4/UDP packet of the sender's choosing, sent
//! from inside a namespace, and a UDP sink inside another that records what arrives.
//!
//! Both run on a thread of their own that enters the namespace first
//! ([`hopwatch_lab::netns::enter`]), so no socket is ever opened in the host's
//! namespace. Every wait is bounded.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A MAC address.
pub type Mac = [u8; 6];

/// The Ethernet broadcast address.
pub const BROADCAST: Mac = [0xff; 6];

/// What an inner packet says of itself.
#[derive(Clone, Debug)]
pub struct Inner {
    /// The frame's destination MAC.
    pub dst_mac: Mac,
    /// The (forged) source address.
    pub src: Ipv4Addr,
    /// The destination address.
    pub dst: Ipv4Addr,
    /// The UDP destination port.
    pub port: u16,
    /// The payload: a word that names the case.
    pub payload: String,
}

/// The Internet checksum of an IPv4 header.
fn checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A VXLAN datagram's payload (RFC 7348): the VXLAN header with `vni`, then an
/// Ethernet frame with an IPv4/UDP packet as `inner` says (UDP checksum 0: none).
pub fn frame(vni: u32, inner: &Inner) -> Vec<u8> {
    let mut b = vec![0x08, 0, 0, 0];
    b.extend_from_slice(&vni.to_be_bytes()[1..]);
    b.push(0);
    b.extend_from_slice(&inner.dst_mac);
    b.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x66]);
    b.extend_from_slice(&[0x08, 0x00]);
    let payload = inner.payload.as_bytes();
    let udp_len = 8 + payload.len();
    let total = u16::try_from(20 + udp_len).expect("a small packet");
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, 17, 0, 0]);
    ip.extend_from_slice(&inner.src.octets());
    ip.extend_from_slice(&inner.dst.octets());
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    b.extend_from_slice(&ip);
    b.extend_from_slice(&40000u16.to_be_bytes());
    b.extend_from_slice(&inner.port.to_be_bytes());
    b.extend_from_slice(&u16::try_from(udp_len).expect("small").to_be_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(payload);
    b
}

/// Sends `data` from `from` (bound there) to `to`, inside namespace `ns`, `times`
/// times 20 ms apart (a first packet may wait for the neighbour's address).
pub fn send(ns: &str, from: SocketAddr, to: SocketAddr, data: Vec<u8>, times: usize) {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        hopwatch_lab::netns::enter(&ns).expect("entering the sender's namespace");
        let sock = UdpSocket::bind(from).unwrap_or_else(|e| panic!("bind {from} in {ns}: {e}"));
        for _ in 0..times {
            // Sent or not, the test judges by what arrives.
            let _ = sock.send_to(&data, to);
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .join()
    .expect("the sender thread");
}

/// A UDP sink on `0.0.0.0:port` in namespace `ns` for `window`: what it received,
/// as (source, payload).
pub struct Sink {
    thread: JoinHandle<Vec<(SocketAddr, String)>>,
}

impl Sink {
    /// Starts listening; it is bound when this returns.
    pub fn start(ns: &str, port: u16, window: Duration) -> Sink {
        let ns = ns.to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            hopwatch_lab::netns::enter(&ns).expect("entering the sink's namespace");
            let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port))
                .unwrap_or_else(|e| panic!("bind 0.0.0.0:{port} in {ns}: {e}"));
            let _ = tx.send(());
            let deadline = Instant::now() + window;
            let mut got = Vec::new();
            let mut buf = [0u8; 2048];
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                if left.is_zero() {
                    break;
                }
                let _ = sock.set_read_timeout(Some(left.max(Duration::from_millis(1))));
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    got.push((from, String::from_utf8_lossy(&buf[..n]).into_owned()));
                }
            }
            got
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("the sink is bound");
        Sink { thread }
    }

    /// Waits for the window to end; what arrived.
    pub fn received(self) -> Vec<(SocketAddr, String)> {
        self.thread.join().expect("the sink thread")
    }
}
