//! The moves decided in one turn of the loop, carried out together: every change
//! handed to the speaker as one batch (which it sends to each route server in as few
//! UPDATEs as fit: the VIPs that move to one next hop share them), and only then
//! printed and logged.
//!
//! One verdict about a backend that a thousand VIPs use moves a thousand VIPs; one
//! UPDATE each would put the last VIP a thousand messages behind the first. The JSON
//! lines stay one per VIP (they are the contract the lab and the API read); the log
//! for people says a group of identical moves once.

use hopwatch_bgp_driver::rib_out::Change;
use hopwatch_daemon::json;
use hopwatch_events::watcher as ev;
use hopwatch_events::{Event, Line, now_us};
use hopwatch_watcher::{Move, Reason};

use crate::metrics::MoveLabels;
use crate::{RECENT_MOVES, Watcher, forward, ha, syslog};

/// Moves that read the same in the log: from, to, why, next hop.
#[derive(PartialEq, Eq)]
struct Same {
    from: Option<String>,
    to: Option<String>,
    reason: Reason,
    next_hop: Option<std::net::IpAddr>,
}

impl Watcher {
    /// Carries out moves decided together, when nothing else was decided with them.
    pub(crate) fn carry_out(&mut self, moves: &[(usize, Move)], detected_us: Option<u64>) {
        let decided_us = self.send_moves(moves, detected_us);
        self.tell_moves(moves, decided_us, detected_us);
    }

    /// Hands every move's change to the speaker in one batch, and the engines'
    /// choices to the forwarder; returns when they were decided (µs).
    pub(crate) fn send_moves(&mut self, moves: &[(usize, Move)], detected_us: Option<u64>) -> u64 {
        let decided_us = now_us();
        if moves.is_empty() {
            return decided_us;
        }
        let changes = moves.iter().map(|&(v, m)| self.change(v, m)).collect();
        self.speaker.apply(changes);
        if self.forwarding.is_none() {
            for &(v, _) in moves {
                self.pending_update
                    .insert(self.vips[v].prefix, detected_us.unwrap_or(decided_us));
            }
        }
        self.sync_forwarding();
        decided_us
    }

    /// The change a move makes to the routes we announce. In forwarding mode the
    /// announced next hop is this watcher whichever backend carries the VIP; only a
    /// withdrawal or a first announcement changes the route then.
    fn change(&self, v: usize, m: Move) -> Change {
        let vip = &self.vips[v];
        match m.to.and_then(|i| vip.backends.get(i)) {
            Some(be) => Change::Announce(ha::route(&self.config, vip.prefix, be.next_hop)),
            None => Change::Withdraw(vip.prefix),
        }
    }

    /// A `move` line, the metric and `/status`'s recent moves for each move; a log
    /// line (and syslog message) for each group of moves that read the same.
    pub(crate) fn tell_moves(
        &mut self,
        moves: &[(usize, Move)],
        decided_us: u64,
        detected_us: Option<u64>,
    ) {
        let mut groups: Vec<(Same, usize, usize)> = Vec::new();
        for &(v, m) in moves {
            let vip = &self.vips[v];
            let name =
                |i: Option<usize>| i.and_then(|i| vip.backends.get(i)).map(|b| b.name.clone());
            let next_hop =
                m.to.and_then(|i| vip.backends.get(i))
                    .map(|b| forward::next_hop(&self.config).unwrap_or(b.next_hop));
            let record = Line::at(
                decided_us,
                Event::Move(ev::Move {
                    vip: vip.prefix.to_string(),
                    from: name(m.from),
                    to: name(m.to),
                    next_hop,
                    reason: m.reason.as_str().into(),
                    detected_us,
                }),
            );
            self.metrics
                .moves
                .get_or_create(&MoveLabels {
                    vip: vip.prefix.to_string(),
                    reason: m.reason.as_str().into(),
                })
                .inc();
            json::print(&record);
            self.recent.push_front(record);
            let same = Same {
                from: name(m.from),
                to: name(m.to),
                reason: m.reason,
                next_hop,
            };
            match groups.iter_mut().find(|(s, _, _)| *s == same) {
                Some((_, _, n)) => *n += 1,
                None => groups.push((same, v, 1)),
            }
        }
        self.recent.truncate(RECENT_MOVES);
        for (same, first, n) in groups {
            self.log_move(&same, first, n);
        }
    }

    /// "100.64.0.1/32 moves ws1 -> ws2 (failover), next hop 10.10.0.5", or "...
    /// and 999 other VIPs move ..." for a group.
    fn log_move(&self, same: &Same, first: usize, n: usize) {
        let who = match n {
            1 => format!("{} moves", self.vips[first].prefix),
            _ => format!("{} and {} other VIPs move", self.vips[first].prefix, n - 1),
        };
        let text = format!(
            "{who} {} -> {} ({}){}",
            same.from.as_deref().unwrap_or("nothing"),
            same.to.as_deref().unwrap_or("withdrawn"),
            same.reason,
            same.next_hop
                .map(|n| format!(", next hop {n}"))
                .unwrap_or_default(),
        );
        tracing::info!("{text}");
        if let Some(s) = &self.syslog {
            // A move away from trouble is a warning; a planned one is a notice.
            let sev = match same.reason {
                Reason::Failover | Reason::AllDown => syslog::Severity::Warning,
                _ => syslog::Severity::Notice,
            };
            s.send(sev, "move", &text);
        }
    }
}
