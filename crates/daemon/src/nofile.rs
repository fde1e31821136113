//! The process's limit of open file descriptors, raised at the start of `run` and
//! `route-server`.
//!
//! Every probe, BGP session, API connection and proxied flow is a descriptor, and
//! the default soft limit (1,024 under systemd and most shells) is what let 1,100
//! idle API connections starve the watcher's probes (issue 10). The soft limit may
//! be raised to the hard limit without privileges, so it is, at start; the packaged
//! units set both with `LimitNOFILE=65536`. The API's own share stays capped (see
//! `api_serve`), so a raised limit is room for probes and sessions, not for an
//! attacker.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// The most the soft limit is raised to: some systems set a hard limit of a billion
/// or more, and a table that large buys nothing but memory.
const CEILING: u64 = 1 << 20;

/// The limit assumed when it cannot be read.
const ASSUMED: u64 = 1024;

/// Raises the soft limit of open descriptors to the hard limit (at most `CEILING`)
/// and returns the soft limit now in force.
pub fn raise() -> u64 {
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(limits) => limits,
        Err(e) => {
            tracing::warn!("cannot read the descriptor limit ({e}); assuming {ASSUMED}");
            return ASSUMED;
        }
    };
    let want = hard.min(CEILING);
    if soft >= want {
        return soft;
    }
    match setrlimit(Resource::RLIMIT_NOFILE, want, hard) {
        Ok(()) => {
            tracing::info!("descriptor limit raised from {soft} to {want}");
            want
        }
        Err(e) => {
            tracing::warn!("cannot raise the descriptor limit from {soft} to {want}: {e}");
            soft
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_raising_the_soft_limit_is_the_hard_limit_or_the_ceiling() {
        let now = raise();
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("readable limit");
        assert_eq!(now, soft);
        assert!(soft >= hard.min(CEILING), "{soft} < {hard}");
    }
}
