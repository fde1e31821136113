//! Turning the shared command-line settings of `speak` and `observe` into a session
//! configuration. The watcher's, from its `[bgp]`, is `hopwatch-watcher-daemon`'s
//! `session`; the Cease a BGP role sends when it stops is `hopwatch_daemon::cease`.

use std::time::Duration;

use hopwatch_bgp::Asn;
use hopwatch_bgp::session::{GracefulRestart, SessionConfig};

use crate::args::BgpArgs;

/// The session settings from the command line.
pub fn session_config(bgp: &BgpArgs, peer_as: Option<Asn>, passive: bool) -> SessionConfig {
    let mut cfg = SessionConfig::new(bgp.local_as, bgp.router_id, peer_as);
    cfg.hold_time = bgp.hold_time;
    cfg.passive = passive;
    cfg.four_octet_as = !bgp.two_octet_as;
    cfg.retry_max = Duration::from_secs(bgp.retry_max.max(1));
    cfg.graceful_restart = bgp.graceful_restart.map(|restart_time| GracefulRestart {
        restart_time,
        restarting: false,
        forwarding_preserved: false,
        notification: true,
    });
    cfg
}
