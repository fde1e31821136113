//! Turning the shared command-line settings (and the watcher's `[bgp]`) into a
//! session configuration. The Cease a BGP role sends when it stops is
//! `hopwatch_daemon::cease`.

use std::time::Duration;

use hopwatch_bgp::Asn;
use hopwatch_bgp::session::{GracefulRestart, SessionConfig};

use crate::cli::BgpArgs;

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

/// The session settings of the watcher toward one route server, from `[bgp]`.
pub fn session_config_from(bgp: &hopwatch_config::Bgp, peer_as: Asn) -> SessionConfig {
    let mut cfg = SessionConfig::new(bgp.local_as, bgp.router_id, Some(peer_as));
    cfg.hold_time = bgp.hold_time;
    // F set: the watcher forwards nothing. The VIP's traffic goes through the route
    // servers' data plane to the backends, and a watcher restart leaves that intact,
    // so its forwarding state is preserved in RFC 4724's sense. With F clear, a
    // helper must drop our stale routes as soon as the restarted watcher's OPEN
    // arrives (RFC 4724 s4.2), before the watcher has re-announced them: BIRD does,
    // and traffic stopped for the ~30 ms the first health verdicts take.
    cfg.graceful_restart = bgp.graceful_restart.map(|restart_time| GracefulRestart {
        restart_time,
        restarting: false,
        forwarding_preserved: true,
        notification: true,
    });
    cfg
}
