//! What a listening speaker allows a connection that has not sent its OPEN yet.
//!
//! Until its OPEN arrives a connection is unauthenticated: anyone who can reach the
//! port (or, on one machine, bind a configured peer's address) can open one, and
//! each held connection costs a descriptor. RFC 4271 8 waits up to 4 minutes for an
//! OPEN (its large initial HoldTimer), which is right for a session we started but
//! lets an attacker pin a descriptor per connection for that long. So accepted
//! connections are bounded here, before any session sees them:
//!
//! - **per address**: [`ListenLimits::per_address`] (2) pending connections. Two is
//!   what RFC 4271 6.8's collision needs (the peer's connection and, while our own
//!   session waits for an OPEN, a second one whose OPEN decides the collision).
//! - **in total**: [`ListenLimits::total`] (16): 8 peers (Azure Route Server's
//!   maximum) × 2, and unconfigured addresses count too, as the
//!   Cease they are sent takes a moment.
//! - **time**: an accepted connection that sends no OPEN within
//!   [`ListenLimits::open_timeout`] (10 s) is closed with Hold Timer Expired. Every
//!   BGP implementation sends its OPEN as soon as TCP is up (RFC 4271 8.2.2), so
//!   10 s is generous even over a slow link; it also bounds how long an attacker
//!   holding both slots of a peer's address keeps the real peer out.
//!
//! A connection past a limit is closed at once, with Cease / Connection Rejected
//! (RFC 4486 3) written if the socket takes it without waiting, and a warning is
//! logged at most every [`LOG_EVERY`], with the count refused since the last one.
//! A slot is held by a [`PendingSlot`] and freed when it is dropped: when the
//! connection's OPEN arrives or the connection goes, whichever comes first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hopwatch_bgp::Notification;
use hopwatch_bgp::message::{self, Codec, Message};
use hopwatch_bgp::notification::{Cease, ErrorCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How often a refused connection is logged at most.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// How long a refused unconfigured peer's connection is kept to read what it
/// sends after our Cease, so that its OPEN does not make our kernel answer with a
/// reset that could destroy the Cease before the peer reads it.
const LINGER: Duration = Duration::from_secs(2);

/// Bounds on accepted connections that have not sent their OPEN yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenLimits {
    /// Pending connections from one address.
    pub per_address: usize,
    /// Pending connections in all.
    pub total: usize,
    /// How long an accepted connection may take to send its OPEN.
    pub open_timeout: Duration,
}

impl Default for ListenLimits {
    fn default() -> Self {
        ListenLimits {
            per_address: 2,
            total: 16,
            open_timeout: Duration::from_secs(10),
        }
    }
}

/// The pending connections of one speaker, by remote address.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    by_address: HashMap<IpAddr, usize>,
    total: usize,
    /// Refusals not logged yet, and when the last log line was written.
    refused: u64,
    logged_at: Option<Instant>,
}

/// One pending connection's slot; freed on drop.
#[derive(Debug)]
pub struct PendingSlot {
    table: Arc<Mutex<Pending>>,
    address: IpAddr,
    /// When the connection must have sent its OPEN.
    pub open_by: Instant,
}

fn lock(m: &Mutex<Pending>) -> std::sync::MutexGuard<'_, Pending> {
    // Every critical section is a few counter updates: a poisoned lock still
    // holds consistent counts.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        let mut t = lock(&self.table);
        t.total = t.total.saturating_sub(1);
        if let Some(n) = t.by_address.get_mut(&self.address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                t.by_address.remove(&self.address);
            }
        }
    }
}

/// Takes a slot for a connection from `address`, or says which limit refuses it.
pub(crate) fn admit(
    table: &Arc<Mutex<Pending>>,
    limits: &ListenLimits,
    address: IpAddr,
) -> Result<PendingSlot, &'static str> {
    let mut t = lock(table);
    let mine = t.by_address.get(&address).copied().unwrap_or(0);
    let refused = if mine >= limits.per_address {
        Some("pending connections from this address")
    } else if t.total >= limits.total {
        Some("pending connections in all")
    } else {
        None
    };
    if let Some(why) = refused {
        t.refused += 1;
        let now = Instant::now();
        if t.logged_at
            .is_none_or(|at| now.duration_since(at) >= LOG_EVERY)
        {
            tracing::warn!(
                "refused {} connection(s) without an OPEN yet, latest from {address}: \
                 limit of {} {why} reached (per address {}, in all {})",
                t.refused,
                if mine >= limits.per_address {
                    limits.per_address
                } else {
                    limits.total
                },
                limits.per_address,
                limits.total,
            );
            t.refused = 0;
            t.logged_at = Some(now);
        }
        return Err(why);
    }
    *t.by_address.entry(address).or_insert(0) += 1;
    t.total += 1;
    Ok(PendingSlot {
        table: Arc::clone(table),
        address,
        open_by: Instant::now() + limits.open_timeout,
    })
}

fn connection_rejected() -> Vec<u8> {
    let n = Notification::bare(ErrorCode::Cease(Cease::ConnectionRejected));
    message::encode_to_vec(&Message::Notification(n), &Codec::default())
}

/// Closes a connection past a limit at once: Cease / Connection Rejected if the
/// socket takes it without waiting (a new socket's buffer is empty), then close.
pub(crate) fn refuse_now(stream: TcpStream) {
    // Through the std socket (still non-blocking): tokio's `try_write` would give
    // up before the reactor has seen the new socket writable.
    if let Ok(std) = stream.into_std() {
        use std::io::Write;
        let _ = (&std).write(&connection_rejected());
    }
}

/// Refuses an unconfigured peer (RFC 4486 3: Cease / Connection Rejected), then
/// reads and drops what it sends for a moment before closing, holding `slot` so
/// that these lingering connections stay within the limits.
pub(crate) async fn reject(mut stream: TcpStream, slot: PendingSlot) {
    let bytes = connection_rejected();
    let wrote = tokio::time::timeout(LINGER, stream.write_all(&bytes)).await;
    if matches!(wrote, Ok(Ok(()))) {
        let _ = stream.shutdown().await;
        let drain = async {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, drain).await;
    }
    drop(slot);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn slots_are_bounded_per_address_and_in_total_and_freed_on_drop() {
        let table = Arc::new(Mutex::new(Pending::default()));
        let limits = ListenLimits {
            per_address: 2,
            total: 3,
            open_timeout: Duration::from_secs(1),
        };
        let a1 = admit(&table, &limits, ip("192.0.2.1")).unwrap();
        let _a2 = admit(&table, &limits, ip("192.0.2.1")).unwrap();
        assert!(
            admit(&table, &limits, ip("192.0.2.1")).is_err(),
            "a third from one address"
        );
        let _b1 = admit(&table, &limits, ip("192.0.2.2")).unwrap();
        assert!(
            admit(&table, &limits, ip("192.0.2.3")).is_err(),
            "past the total"
        );
        drop(a1);
        let _c1 = admit(&table, &limits, ip("192.0.2.3")).expect("a freed slot is free");
        let t = lock(&table);
        assert_eq!(t.total, 3);
        assert_eq!(t.by_address.get(&ip("192.0.2.1")), Some(&1));
    }

    #[test]
    fn a_dropped_slot_leaves_no_entry_behind() {
        let table = Arc::new(Mutex::new(Pending::default()));
        let limits = ListenLimits::default();
        for i in 0..100u8 {
            drop(admit(&table, &limits, IpAddr::from([192, 0, 2, i])).unwrap());
        }
        let t = lock(&table);
        assert_eq!((t.total, t.by_address.len()), (0, 0));
    }
}
