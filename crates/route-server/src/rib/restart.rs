//! Session up and down, and the receiving side of graceful restart (RFC 4724).
//!
//! ```text
//!   peer_down(graceful, restart time > 0) ─► all its routes stale, kept until now + restart time
//!        │                                     (forwarding goes on: best sets do not change)
//!        ├─ re-announced route ───────────────► no longer stale
//!        ├─ End-of-RIB(family) ───────────────► its stale routes of that family removed
//!        └─ handle_timeout(now ≥ deadline) ───► every stale route left removed
//!   peer_down(not graceful, or no/zero restart time) ─► all its routes removed at once
//! ```
//!
//! One deadline serves both of RFC 4724's timers: the restart time while the peer
//! is away, and the bound on how long stale routes wait for End-of-RIB once it is
//! back (the RFC's local "stale routes" time). hopwatch's speakers send their table
//! and End-of-RIB within milliseconds of coming up, so one bound is enough.
//!
//! A route that was stale and is removed only changes the best set if it was in
//! it; every removal goes through best-path selection like a withdrawal.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hopwatch_bgp::{Family, Prefix};

use super::Rib;
use super::best::RibChange;

impl Rib {
    /// The session with `peer` is established: from now on it is sent changes
    /// ([`Rib::poll_updates`]). Send it [`Rib::table_updates`] (its
    /// [`Rib::routes_for`]) right after this call, then End-of-RIB: that table is
    /// what its Adj-RIB-Out now records.
    pub fn peer_up(&mut self, peer: IpAddr) -> Result<(), super::RibError> {
        let table = self.export_table(peer);
        let p = self.peer_mut(peer)?;
        p.up = true;
        p.dirty.clear();
        p.withheld.clear();
        p.adj_out = table
            .into_iter()
            .filter_map(|(prefix, e)| p.note_withheld(prefix, Some(e)).map(|r| (prefix, r)))
            .collect();
        Ok(())
    }

    /// The session with `peer` went down. With `graceful` and a non-zero
    /// negotiated restart time its routes are kept as stale until `now` plus that
    /// time; otherwise they are removed at once. Prefixes it announced that were
    /// rejected are forgotten either way. Unknown peers have nothing to remove.
    pub fn peer_down(&mut self, now: Instant, peer: IpAddr, graceful: bool) -> Vec<RibChange> {
        let Some(p) = self.peers.get_mut(&peer) else {
            return Vec::new();
        };
        p.up = false;
        p.adj_out.clear();
        p.dirty.clear();
        p.withheld.clear();
        p.rejected.clear();
        match p.graceful_restart_time.filter(|t| graceful && *t > 0) {
            Some(secs) => {
                for route in p.adj_in.values_mut() {
                    route.stale = true;
                }
                p.stale_until =
                    (!p.adj_in.is_empty()).then(|| now + Duration::from_secs(u64::from(secs)));
                Vec::new()
            }
            None => {
                p.stale_until = None;
                let gone = std::mem::take(&mut p.adj_in);
                self.reselect(gone.into_keys())
            }
        }
    }

    /// End-of-RIB for `family` from `peer`: its routes of that family still stale
    /// are removed. [`Rib::receive`] calls it for an End-of-RIB UPDATE. Stale
    /// routes whose deadline is past by `now` go too.
    pub fn end_of_rib(&mut self, now: Instant, peer: IpAddr, family: Family) -> Vec<RibChange> {
        let Some(p) = self.peers.get_mut(&peer) else {
            return Vec::new();
        };
        let expired = p.stale_until.is_some_and(|t| t <= now);
        let gone: Vec<Prefix> = p
            .adj_in
            .iter()
            .filter(|(prefix, r)| r.stale && (expired || prefix.family() == family))
            .map(|(prefix, _)| *prefix)
            .collect();
        for prefix in &gone {
            p.adj_in.remove(prefix);
        }
        p.refresh_stale_deadline();
        self.reselect(gone)
    }

    /// When [`Rib::handle_timeout`] must be called next: the earliest deadline of
    /// stale routes.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.peers.values().filter_map(|p| p.stale_until).min()
    }

    /// Removes the stale routes whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<RibChange> {
        let mut gone = Vec::new();
        for p in self.peers.values_mut() {
            if p.stale_until.is_some_and(|t| t <= now) {
                p.stale_until = None;
                p.adj_in.retain(|prefix, r| {
                    if r.stale {
                        gone.push(*prefix);
                    }
                    !r.stale
                });
            }
        }
        gone.sort_unstable();
        gone.dedup();
        self.reselect(gone)
    }
}
