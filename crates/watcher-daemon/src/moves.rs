//! The moves decided in one turn of the loop, carried out together: every change
//! handed to the speaker as one batch (which it sends to each route server in as few
//! UPDATEs as fit: the VIPs that move to one next hop share them), and only then
//! printed and logged, once the speaker's tasks have written the UPDATEs.
//!
//! The peer tasks run on the loop's own thread (a current-thread runtime), so they
//! write only when the loop yields. Printing a thousand `move` lines first (about
//! 15 ms in a release build) would hold every UPDATE back that long; so what is to
//! be told waits in [`Untold`], and the loop yields once before telling it.
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

use hopwatch_health::{Report, Transition};

use crate::metrics::MoveLabels;
use crate::probes::User;
use crate::{RECENT_MOVES, Watcher, forward, ha, syslog};

/// What a turn decided and has not told yet, in the order it is to be told.
pub(crate) enum Untold {
    /// A probe's change of verdict, for these backends.
    Health {
        users: Vec<User>,
        report: Box<Report>,
        transition: Transition,
    },
    /// Moves sent together.
    Moves {
        moves: Vec<(usize, Move)>,
        decided_us: u64,
        detected_us: Option<u64>,
    },
}

/// Moves that read the same in the log: from, to, why, next hop.
#[derive(PartialEq, Eq)]
struct Same {
    from: Option<String>,
    to: Option<String>,
    reason: Reason,
    next_hop: Option<std::net::IpAddr>,
}

impl Watcher {
    /// Carries out moves decided together: sent now, told after the loop yields.
    pub(crate) fn carry_out(&mut self, moves: Vec<(usize, Move)>, detected_us: Option<u64>) {
        let decided_us = self.send_moves(&moves, detected_us);
        self.tell_later(moves, decided_us, detected_us);
    }

    /// Keeps moves sent at `decided_us` to be told by [`Watcher::tell_untold`].
    pub(crate) fn tell_later(
        &mut self,
        moves: Vec<(usize, Move)>,
        decided_us: u64,
        detected_us: Option<u64>,
    ) {
        if !moves.is_empty() {
            self.untold.push(Untold::Moves {
                moves,
                decided_us,
                detected_us,
            });
        }
    }

    /// Whether something waits to be told.
    pub(crate) fn has_untold(&self) -> bool {
        !self.untold.is_empty()
    }

    /// Tells what this turn decided, in order: the VIPs and backends it names are
    /// the ones of this turn (no reload can come between a turn and its telling).
    pub(crate) fn tell_untold(&mut self) {
        for untold in std::mem::take(&mut self.untold) {
            match untold {
                Untold::Health {
                    users,
                    report,
                    transition,
                } => self.tell_health(&users, &report, transition),
                Untold::Moves {
                    moves,
                    decided_us,
                    detected_us,
                } => self.tell_moves(&moves, decided_us, detected_us),
            }
        }
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
    fn tell_moves(&mut self, moves: &[(usize, Move)], decided_us: u64, detected_us: Option<u64>) {
        let mut groups: Vec<(Same, usize, usize)> = Vec::new();
        let mut lines = Vec::with_capacity(moves.len());
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
            lines.push(record.clone());
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
        // Serialised on the writer thread: a thousand lines are about 5 ms of CPU
        // the loop's next probe reports should not wait for.
        json::print_later(move || lines);
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
