//! The watcher's session settings toward one route server, from its `[bgp]`.

use hopwatch_bgp::Asn;
use hopwatch_bgp::session::{GracefulRestart, SessionConfig};

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
