//! `[ha]`: this watcher's place in a primary/standby pair.
//!
//! Both watchers of a pair probe the backends on their own and announce the VIP to
//! the same route servers. The standby's announcement carries our AS `prepend` more
//! times in its AS path, so that every route server prefers the primary's while the
//! primary's session is up, and falls back to the standby's when it goes:
//!
//! - Azure Route Server picks the shortest AS path (its documented rule, and the one
//!   `hopwatch route-server` implements); FRR, BIRD, GoBGP and any RFC 4271 speaker
//!   compare AS path length right after LOCAL_PREF, which a route server does not
//!   set per peer by default.
//! - No split brain: ECMP (Azure's, FRR's `maximum-paths`, BIRD's `merge paths`)
//!   only ever joins paths of *equal* AS path length, so the two announcements never
//!   share the traffic, even when the watchers disagree on the backend.
//!
//! MED is not used: route servers compare it only between routes from the same
//! neighbouring AS by default, and Azure documents no MED handling. LOCAL_PREF is not
//! used: it is not sent over eBGP. So prepend is the one lever that works with every
//! route server; it needs eBGP route servers, which `check` enforces.

use serde::Deserialize;

use crate::model::Config;
use crate::validate::Report;

/// The prepend of a standby when the file does not say.
pub const DEFAULT_PREPEND: u8 = 2;

/// At most this many extra copies of our AS. More makes the route no less preferred
/// (one is enough against an unprepended primary), only longer; some route servers
/// cap AS path length (Azure documents none).
pub const MAX_PREPEND: u8 = 10;

/// `[ha]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ha {
    /// `primary` (default) or `standby`.
    #[serde(default)]
    pub role: Role,
    /// The standby's extra copies of `bgp.local_as` in its AS path (default 2).
    #[serde(default)]
    pub prepend: Option<u8>,
}

/// A watcher's role in a pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Its announcements are preferred while its sessions are up.
    #[default]
    Primary,
    /// Its announcements are used when the primary's are gone.
    Standby,
}

impl Role {
    /// The name in the file, the API and the logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Standby => "standby",
        }
    }
}

impl Config {
    /// The role, `None` for a watcher alone (no `[ha]`).
    pub fn role(&self) -> Option<Role> {
        self.ha.as_ref().map(|h| h.role)
    }

    /// Extra copies of our AS in the AS path of every announcement: 0 but for a
    /// standby.
    pub fn prepend(&self) -> u8 {
        match &self.ha {
            Some(Ha {
                role: Role::Standby,
                prepend,
            }) => prepend.unwrap_or(DEFAULT_PREPEND),
            _ => 0,
        }
    }
}

/// The checks of `[ha]`.
pub fn check(c: &Config, r: &mut Report) {
    let Some(ha) = &c.ha else { return };
    match (ha.role, ha.prepend) {
        (Role::Primary, Some(p)) if p > 0 => r.warnings.push((
            "ha.prepend".into(),
            format!(
                "{p}: only a standby prepends; the primary announces its AS once so that \
                 route servers prefer it"
            ),
        )),
        (Role::Standby, Some(0)) => r.errors.push((
            "ha.prepend".into(),
            "0 would make the standby's route as preferred as the primary's: route servers \
             would share the traffic between two next hops (ECMP) whenever the two watchers \
             disagree. Use 1 or more (default 2)"
                .into(),
        )),
        (Role::Standby, Some(p)) if p > MAX_PREPEND => r.errors.push((
            "ha.prepend".into(),
            format!("{p}: at most {MAX_PREPEND} (one already makes the route less preferred)"),
        )),
        _ => {}
    }
    if ha.role == Role::Standby {
        for (i, rs) in c.route_servers.iter().enumerate() {
            if rs.peer_as == c.bgp.local_as {
                r.errors.push((
                    format!("route_server[{i}].peer_as"),
                    format!(
                        "{} is also bgp.local_as: over iBGP a standby cannot prepend (the \
                         route server would see its own AS and drop the route) and AS path \
                         length does not decide; peer the pair with its route servers over \
                         eBGP",
                        rs.peer_as
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::parse;

    const EXAMPLE: &str = include_str!("../../../examples/watcher.toml");

    fn with_ha(ha: &str) -> Result<crate::Loaded, Vec<String>> {
        parse(Path::new("w.toml"), &format!("{EXAMPLE}\n[ha]\n{ha}\n"))
            .map_err(|e| e.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_watcher_alone_and_a_primary_announce_their_as_once() {
        let alone = parse(Path::new("w.toml"), EXAMPLE).unwrap().config;
        assert_eq!((alone.role(), alone.prepend()), (None, 0));
        let primary = with_ha("role = \"primary\"").unwrap().config;
        assert_eq!(
            (primary.role(), primary.prepend()),
            (Some(Role::Primary), 0)
        );
    }

    #[test]
    fn a_standby_prepends_twice_unless_told() {
        let c = with_ha("role = \"standby\"").unwrap().config;
        assert_eq!((c.role(), c.prepend()), (Some(Role::Standby), 2));
        let c = with_ha("role = \"standby\"\nprepend = 4").unwrap().config;
        assert_eq!(c.prepend(), 4);
    }

    #[test]
    fn a_standby_that_would_tie_with_the_primary_is_refused() {
        let e = with_ha("role = \"standby\"\nprepend = 0").unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains("ha.prepend") && e[0].contains("ECMP"),
            "{e:?}"
        );
        let e = with_ha("role = \"standby\"\nprepend = 11").unwrap_err();
        assert!(e[0].contains("at most 10"), "{e:?}");
    }

    #[test]
    fn a_standby_over_ibgp_is_refused_and_a_primary_prepend_is_warned_about() {
        let text = EXAMPLE.replace("peer_as = 65515", "peer_as = 65001");
        let e = parse(
            Path::new("w.toml"),
            &format!("{text}\n[ha]\nrole = \"standby\"\n"),
        )
        .unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].to_string().contains("iBGP a standby cannot prepend"),
            "{e:?}"
        );
        let w = with_ha("role = \"primary\"\nprepend = 2").unwrap().warnings;
        assert!(
            w.iter()
                .any(|w| w.to_string().contains("only a standby prepends")),
            "{w:?}"
        );
    }

    #[test]
    fn the_standby_example_is_the_primarys_with_its_role_and_router_id() {
        let text = include_str!("../../../examples/standby.toml");
        let loaded = parse(Path::new("standby.toml"), text).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let standby = loaded.config;
        let primary = parse(Path::new("w.toml"), EXAMPLE).unwrap().config;
        assert_eq!(
            (standby.role(), standby.prepend()),
            (Some(Role::Standby), 2)
        );
        assert_ne!(standby.bgp.router_id, primary.bgp.router_id);
        assert_eq!(standby.bgp.local_as, primary.bgp.local_as);
        assert_eq!(standby.vips[0].prefix, primary.vips[0].prefix);
    }

    #[test]
    fn an_unknown_role_names_the_key() {
        let e = with_ha("role = \"backup\"").unwrap_err();
        assert!(e[0].contains("ha.role") || e[0].contains("role"), "{e:?}");
        assert!(
            e[0].contains("primary") && e[0].contains("standby"),
            "{e:?}"
        );
    }
}
