//! Which route each table holds for each VIP, from the watcher's decision. Pure.
//!
//! - The main table's route for a VIP is where *new* flows go: the backend the
//!   watcher chose.
//! - Backend `b`'s own table (selected by its firewall mark, which its flows carry)
//!   is where *established* flows of `b` go: to `b` while `b` is up, whether it is the
//!   chosen one or not, so a planned move (drain, failback) leaves them where they
//!   are; to the chosen backend once `b` is down, so they leave a dead backend at once
//!   (the new backend resets them and their clients reconnect, instead of waiting
//!   for a retransmission timeout on a black hole).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use hopwatch_bgp::Prefix;

use crate::layout::Layout;

/// One VIP as the watcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipState {
    /// The VIP.
    pub prefix: Prefix,
    /// The backend new flows go to (none: no route; the VIP is withdrawn or has not
    /// been decided yet).
    pub active: Option<Ipv4Addr>,
    /// Each backend and whether it is up (a backend not yet checked counts as up:
    /// nothing says its flows should leave it).
    pub backends: Vec<(Ipv4Addr, bool)>,
}

/// A route the forwarding mode installs: in `table` (none: the main table), `prefix`
/// through tunnel `tunnel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteKey {
    /// The table (none: main).
    pub table: Option<u32>,
    /// The VIP.
    pub prefix: Prefix,
}

/// Every route, keyed by table and VIP, valued by tunnel index.
pub type Routes = BTreeMap<RouteKey, u32>;

/// The routes that carry out `states`. Backends the layout has no tunnel for (a
/// reload not yet applied) are skipped.
pub fn routes(layout: &Layout, states: &[VipState]) -> Routes {
    let mut out = Routes::new();
    for s in states {
        let active = s.active.and_then(|a| layout.tunnel(a));
        if let Some(t) = active {
            out.insert(
                RouteKey {
                    table: None,
                    prefix: s.prefix,
                },
                t.index,
            );
        }
        for (addr, up) in &s.backends {
            let Some(own) = layout.tunnel(*addr) else {
                continue;
            };
            let to = match (up, active) {
                (false, Some(a)) => a.index,
                _ => own.index,
            };
            out.insert(
                RouteKey {
                    table: Some(layout.table(own)),
                    prefix: s.prefix,
                },
                to,
            );
        }
    }
    out
}

/// What changes from `old` to `new`: routes to replace (or add) and routes to delete.
pub fn diff(old: &Routes, new: &Routes) -> (Vec<(RouteKey, u32)>, Vec<RouteKey>) {
    let replace = new
        .iter()
        .filter(|(k, v)| old.get(k) != Some(v))
        .map(|(k, v)| (*k, *v))
        .collect();
    let delete = old
        .keys()
        .filter(|k| !new.contains_key(k))
        .copied()
        .collect();
    (replace, delete)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Settings;

    fn layout() -> Layout {
        let settings = Settings::new(Ipv4Addr::new(10, 10, 0, 7));
        let vip: Prefix = "100.64.0.1/32".parse().expect("prefix");
        Layout::new(settings, &[(vip, vec![WS1, WS2])])
    }
    const WS1: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 4);
    const WS2: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 5);

    fn state(active: Option<Ipv4Addr>, up1: bool, up2: bool) -> VipState {
        VipState {
            prefix: "100.64.0.1/32".parse().expect("prefix"),
            active,
            backends: vec![(WS1, up1), (WS2, up2)],
        }
    }

    fn table(r: &Routes, t: Option<u32>) -> Option<u32> {
        r.iter().find(|(k, _)| k.table == t).map(|(_, v)| *v)
    }

    #[test]
    fn steady_state_keeps_each_backends_flows_on_it() {
        let r = routes(&layout(), &[state(Some(WS1), true, true)]);
        assert_eq!(table(&r, None), Some(0));
        assert_eq!(table(&r, Some(4270)), Some(0));
        assert_eq!(table(&r, Some(4271)), Some(1));
    }

    #[test]
    fn a_planned_move_changes_only_where_new_flows_go() {
        let l = layout();
        let before = routes(&l, &[state(Some(WS1), true, true)]);
        let after = routes(&l, &[state(Some(WS2), true, true)]);
        let (replace, delete) = diff(&before, &after);
        assert!(delete.is_empty());
        assert_eq!(replace.len(), 1, "{replace:?}");
        assert_eq!(replace[0].0.table, None);
        assert_eq!(replace[0].1, 1);
    }

    #[test]
    fn a_failure_moves_the_dead_backends_flows_too() {
        let l = layout();
        let before = routes(&l, &[state(Some(WS1), true, true)]);
        let after = routes(&l, &[state(Some(WS2), false, true)]);
        assert_eq!(table(&after, None), Some(1));
        assert_eq!(table(&after, Some(4270)), Some(1), "ws1's flows go to ws2");
        assert_eq!(table(&after, Some(4271)), Some(1));
        let (replace, _) = diff(&before, &after);
        assert_eq!(replace.len(), 2);
        // Back up: its table points at it again, new flows stay where they are.
        let healed = routes(&l, &[state(Some(WS2), true, true)]);
        assert_eq!(table(&healed, Some(4270)), Some(0));
        assert_eq!(table(&healed, None), Some(1));
    }

    #[test]
    fn nothing_chosen_means_no_route_for_new_flows() {
        let r = routes(&layout(), &[state(None, false, false)]);
        assert_eq!(table(&r, None), None);
        assert_eq!(
            table(&r, Some(4270)),
            Some(0),
            "nowhere better to send them"
        );
        let (_, delete) = diff(&routes(&layout(), &[state(Some(WS1), true, true)]), &r);
        assert_eq!(delete.len(), 1);
    }

    #[test]
    fn a_backend_shared_by_two_vips_has_one_tunnel() {
        let l = layout();
        let vip2: Prefix = "100.64.0.2/32".parse().expect("prefix");
        let l2 = Layout::new(
            l.settings.clone(),
            &[(l.vips[0], vec![WS1, WS2]), (vip2, vec![WS2, WS1])],
        );
        assert_eq!(l2.tunnels.len(), 2);
        assert_eq!(l2.tunnel(WS2).map(|t| t.device()), Some("hwfw1".into()));
        assert_eq!(l2.mark(&l2.tunnels[1]), 0x6877_0001);
    }
}
