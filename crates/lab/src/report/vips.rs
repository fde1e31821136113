//! The table of `--vips N`: a row per trial whose VIPs moved, with the time to the
//! last VIP programmed next to the seed's, and the UPDATE messages of the move per
//! route server instance.

use std::fmt::Write as _;

use super::Results;
use crate::scenarios::Scenario;
use crate::trial::Trial;
use crate::vips::InstanceMove;

/// The table, for a run of several VIPs.
pub fn table(order: &[&Scenario], r: &Results) -> String {
    let trials: Vec<&Trial> = order
        .iter()
        .filter_map(|sc| r.scenarios.get(sc.name))
        .flat_map(|s| &s.trials)
        .filter(|t| t.vips.is_some())
        .collect();
    let instances: Vec<String> = trials
        .iter()
        .filter_map(|t| t.vips.as_ref())
        .flat_map(|v| v.instances.iter().map(|i| i.instance.clone()))
        .fold(Vec::new(), |mut v, i| {
            if !v.contains(&i) {
                v.push(i);
            }
            v
        });
    let mut out = String::new();
    let _ = write!(
        out,
        "\n{} VIPs on ws1/ws2 (the seed's and {} without traffic)\n{:<25} {:>5} {:>9} {:>8} {:>8}",
        r.vips,
        r.vips.saturating_sub(1),
        "scenario",
        "trial",
        "on ws2",
        "seed ms",
        "last ms"
    );
    for i in &instances {
        let _ = write!(out, " {:>28}", format!("UPDATEs to {i}"));
    }
    out.push('\n');
    if trials.is_empty() {
        out.push_str("(no trial in which the VIPs moved ran to its end)\n");
    }
    for t in trials {
        let Some(v) = &t.vips else { continue };
        let _ = write!(
            out,
            "{:<25} {:>5} {:>9} {:>8} {:>8}",
            t.scenario,
            t.n,
            format!("{}/{}", v.programmed, v.vips),
            t.programmed_ms.map_or("-".into(), |x| format!("{x:.1}")),
            v.last_programmed_ms
                .map_or("-".into(), |x| format!("{x:.1}")),
        );
        for i in &instances {
            let cell = v
                .instances
                .iter()
                .find(|m| &m.instance == i)
                .map_or_else(|| "-".into(), |m| cell(m, v.vips));
            let _ = write!(out, " {cell:>28}");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "(on ws2: VIPs whose route was programmed to ws2 after the failure; seed ms, last \
         ms: from the failure to the seed VIP's and to the last VIP's route programmed to \
         ws2, in the data plane both instances feed; UPDATEs: messages the deciding watcher \
         sent the instance from its move until it had announced every VIP via ws2 (with \
         how many VIPs when not all); rx: the VIPs the instance logged receiving via ws2 and \
         the ms from the failure to the last (hopwatch's route server))"
    );
    out
}

/// `20`, `20 (17 VIPs)`, `20, rx 20 at 25.0`.
fn cell(m: &InstanceMove, vips: usize) -> String {
    let mut c = m.updates.to_string();
    if m.announced != vips {
        let _ = write!(c, " ({} VIPs)", m.announced);
    }
    if let Some(n) = m.received {
        let _ = write!(c, ", rx {n}");
        if let Some(ms) = m.last_received_ms {
            let _ = write!(c, " at {ms:.1}");
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(updates: u64, announced: usize, received: Option<usize>) -> InstanceMove {
        InstanceMove {
            instance: "127.10.1.4".into(),
            updates,
            announced,
            received,
            last_received_ms: received.map(|_| 25.04),
        }
    }

    #[test]
    fn a_cell_says_what_was_sent_and_received() {
        assert_eq!(cell(&instance(20, 20, None), 20), "20");
        assert_eq!(cell(&instance(17, 17, None), 20), "17 (17 VIPs)");
        assert_eq!(cell(&instance(20, 20, Some(20)), 20), "20, rx 20 at 25.0");
    }
}
