//! The seed's namespace lab (`docs/lab-topology.md`, "Namespace lab") for a test or
//! a benchmark: the lab crate's own network ([`hopwatch_lab::netns::Net`], the one
//! `hopwatch lab --netns` runs in: a `vnet` router namespace with the bridge and the
//! route server addresses, ws1 and ws2 with the VIP, lt1, watch1 and watch2), with a
//! per-run name prefix and a temp folder. This module is only the glue: the network,
//! its addresses ([`hopwatch_lab::seed::netns`]) and its teardown are the lab's.
//!
//! Dropping the lab (also on panic) stops what still runs in its namespaces, by PID,
//! and deletes them; its temp folder is removed, or kept and printed when the test
//! failed (or `HOPWATCH_INTEROP_KEEP` is set).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use hopwatch_lab::netns::{self, HOST_IF, Names, Net};
pub use hopwatch_lab::seed::netns::{
    LT1, ROUTER, RS_NETWORK, RS1, RS2, VIP, VIP_ADDR, WATCH1, WATCH2, WS1, WS2,
};

use super::netns::make_temp_dir;
use super::proc;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// One host namespace on the bridge.
#[derive(Clone, Debug)]
pub struct Host {
    /// The namespace.
    pub ns: String,
    /// Its interface to the bridge (inside `ns`).
    pub ifname: String,
    /// Its address on the bridge.
    pub addr: &'static str,
}

/// The seed's network and a temp folder, owned by one test or bench.
pub struct NetLab {
    net: Net,
    /// The name prefix of everything this lab creates.
    pub prefix: String,
    /// The router and route server namespace.
    pub vnet: String,
    /// The primary backend.
    pub ws1: Host,
    /// The secondary backend.
    pub ws2: Host,
    /// The load injector's host.
    pub lt1: Host,
    /// The watcher's host.
    pub watch1: Host,
    /// The observer's host.
    pub watch2: Host,
    /// A fresh folder for configs, sockets and logs.
    pub dir: PathBuf,
    /// A number unique to this lab within the process.
    pub n: usize,
}

impl NetLab {
    /// Builds the lab; `test` names the temp folder.
    pub fn new(test: &str) -> NetLab {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("hl{:x}x{n}-", std::process::id());
        let names = Names::new(&prefix);
        for ns in names.all() {
            if netns::exists(ns) {
                // A leftover of an earlier run whose PID we reuse: ours to replace.
                let _ = netns::delete(ns);
            }
        }
        let host = |ns: &str, addr: &'static str| Host {
            ns: ns.to_string(),
            ifname: HOST_IF.to_string(),
            addr,
        };
        let (ws1, ws2, lt1) = (
            host(&names.ws1, WS1),
            host(&names.ws2, WS2),
            host(&names.lt1, LT1),
        );
        let (watch1, watch2) = (host(&names.watch1, WATCH1), host(&names.watch2, WATCH2));
        let vnet = names.vnet.clone();
        let net = Net::create(names).unwrap_or_else(|e| panic!("lab setup failed: {e:#}"));
        NetLab {
            net,
            prefix,
            vnet,
            ws1,
            ws2,
            lt1,
            watch1,
            watch2,
            dir: make_temp_dir(test),
            n,
        }
    }

    /// The lab crate's network (failure injection: `ws1_link`, `ws1_drop`).
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// The lab folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A subfolder of the lab folder.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let d = self.dir.join(name);
        std::fs::create_dir_all(&d).expect("the lab folder is writable");
        d
    }

    /// Writes `text` to `dir/name` and returns the path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).expect("the lab folder is writable");
        p
    }

    /// `ip route get ADDR` in the router namespace, trimmed.
    pub fn route_get(&self, addr: &str) -> String {
        let out = proc::run_in(&self.vnet, &["ip", "route", "get", addr]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        // The namespaces first (what still runs there is stopped by PID), then the
        // folder they may have been writing to.
        self.net.teardown();
        if std::thread::panicking() || std::env::var_os("HOPWATCH_INTEROP_KEEP").is_some() {
            eprintln!("lab files kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The example config of issue 3 (`examples/watcher.toml`), with the changes a lab
/// run needs given as `(key line prefix, replacement line)` pairs: each replaced
/// line must exist, so a change to the example cannot silently bypass the lab.
pub fn example_config(changes: &[(&str, &str)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/watcher.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut out = String::new();
    let mut used = vec![false; changes.len()];
    for line in text.lines() {
        match changes
            .iter()
            .position(|(key, _)| line.trim_start().starts_with(key))
        {
            Some(i) => {
                used[i] = true;
                out.push_str(changes[i].1);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    for (i, u) in used.iter().enumerate() {
        assert!(
            u,
            "the example config has no line starting with {:?}",
            changes[i].0
        );
    }
    out
}
