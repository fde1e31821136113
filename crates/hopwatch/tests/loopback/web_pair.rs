//! The loopback lab most watcher tests need: ws1 and ws2 (`hopwatch web`),
//! `observe` standing in for the route server, and `hopwatch run` with one VIP on
//! both backends (ws1 first), each on the addresses the test names; started when
//! the route server has the VIP via ws1. Its temp folder goes with it; its
//! processes are stopped by PID when dropped.

use std::path::PathBuf;

use super::events::is_route;
use super::watcher_config::{Backend, Vip, WatcherConfig};
use super::{Proc, free_port, spawn, web};

/// The loopback addresses of one test's lab (a /16 of its own keeps tests apart).
#[derive(Debug, Clone, Copy)]
pub struct Addrs {
    /// ws1's address.
    pub ws1: &'static str,
    /// ws2's address.
    pub ws2: &'static str,
    /// The watcher's address (router id, BGP source, API).
    pub watcher: &'static str,
    /// The route server's (`observe`'s) address.
    pub rs: &'static str,
    /// The VIP.
    pub vip: &'static str,
}

/// The running lab.
pub struct WebPair {
    /// `hopwatch run`.
    pub watcher: Proc,
    /// `observe`, as the route server.
    pub rs: Proc,
    /// ws1 (a test may take it to kill it).
    pub ws1: Option<Proc>,
    /// ws2.
    pub ws2: Proc,
    /// The watcher's API address.
    pub api: String,
    /// The watcher's config file.
    pub cfg: PathBuf,
    /// What the config file holds.
    pub config: WatcherConfig,
    dir: PathBuf,
}

impl WebPair {
    /// Starts the lab of test `tag` on `a`; `tune` changes the watcher's config
    /// (timings, a token) before it is written.
    pub fn start(tag: &str, a: Addrs, tune: impl FnOnce(&mut WatcherConfig)) -> WebPair {
        let (p1, p2) = (free_port(a.ws1), free_port(a.ws2));
        let bgp = free_port(a.rs);
        let api = format!("{}:{}", a.watcher, free_port(a.watcher));
        let dir = std::env::temp_dir().join(format!("hopwatch-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp folder");
        let cfg = dir.join("watcher.toml");
        let mut config = WatcherConfig {
            vips: vec![Vip::new(
                a.vip,
                vec![
                    Backend::web("ws1", a.ws1, p1),
                    Backend::web("ws2", a.ws2, p2),
                ],
            )],
            ..WatcherConfig::new(a.watcher, a.rs, bgp, &api)
        };
        tune(&mut config);
        std::fs::write(&cfg, config.to_toml()).expect("the temp folder is writable");
        let ws1 = web(a.ws1, p1, "ws1");
        let ws2 = web(a.ws2, p2, "ws2");
        let mut rs = spawn(&[
            "observe",
            "--local-as",
            "65515",
            "--router-id",
            a.rs,
            "--listen",
            a.rs,
            "--port",
            &bgp.to_string(),
        ]);
        let watcher = spawn(&["run", "-c", &cfg.to_string_lossy()]);
        rs.wait_for("the VIP via ws1", |l| is_route(l, a.vip, a.ws1));
        WebPair {
            watcher,
            rs,
            ws1: Some(ws1),
            ws2,
            api,
            cfg,
            config,
            dir,
        }
    }
}

impl Drop for WebPair {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
