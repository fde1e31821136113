//! The lab of one test: a "speaker" namespace (hopwatch, 10.10.0.7/24) and a "router"
//! namespace (the real peer, 10.10.0.1/24) joined by a veth pair, nothing else. No
//! link or route leads to the host namespace.
//!
//! Names carry a per-test prefix `hw<pid>x<n>-` so tests run in parallel, within one
//! test binary and across binaries. `ip` and the sweep of a namespace are the lab
//! crate's ([`hopwatch_lab::netns`]): one copy for the lab, the tests and benches. Dropping the lab (also on panic) stops whatever
//! still runs in its namespaces, by PID, then deletes them; its temp folder is removed,
//! or kept and printed when the test failed (or `HOPWATCH_INTEROP_KEEP` is set).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use hopwatch_lab::netns::{delete, ip, sweep};
use hopwatch_lab::seed::netns as seed;

/// hopwatch's address, in the speaker namespace: the seed's watcher (watch1).
pub const SPEAKER_ADDR: &str = seed::WATCH1;
/// The peer's address, in the router namespace: the seed's router.
pub const PEER_ADDR: &str = seed::ROUTER;

static NEXT_LAB: AtomicUsize = AtomicUsize::new(0);

/// Two namespaces, a veth pair and a temp folder, owned by one test.
pub struct Lab {
    /// The name prefix of everything this lab creates.
    pub prefix: String,
    /// The namespace `hopwatch` runs in.
    pub speaker: String,
    /// The namespace the real peer runs in.
    pub router: String,
    /// The veth end in the speaker namespace.
    pub speaker_if: String,
    /// The veth end in the router namespace.
    pub router_if: String,
    /// A fresh folder for configs, sockets and logs.
    pub dir: PathBuf,
    /// A number unique to this lab within the test process.
    pub n: usize,
    created: Vec<String>,
}

fn must(args: &[&str]) {
    if let Err(e) = ip(args) {
        panic!("lab setup failed: {e}");
    }
}

impl Lab {
    /// Creates the namespaces and the link; `test` names the temp folder.
    pub fn new(test: &str) -> Lab {
        let n = NEXT_LAB.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("hw{}x{n}-", std::process::id());
        let dir = make_temp_dir(test);
        let mut lab = Lab {
            speaker: format!("{prefix}spk"),
            router: format!("{prefix}rtr"),
            speaker_if: format!("{prefix}s"),
            router_if: format!("{prefix}r"),
            prefix,
            dir,
            n,
            created: Vec::new(),
        };
        for ns in [lab.speaker.clone(), lab.router.clone()] {
            if ip(&["netns", "add", &ns]).is_err() {
                // A leftover of an earlier run whose PID we reuse: ours to replace.
                let _ = delete(&ns);
                must(&["netns", "add", &ns]);
            }
            lab.created.push(ns.clone());
            must(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        // Both veth ends are created directly inside their namespaces: they never
        // exist in the host namespace, not even for a moment.
        must(&[
            "link",
            "add",
            &lab.speaker_if,
            "netns",
            &lab.speaker,
            "type",
            "veth",
            "peer",
            "name",
            &lab.router_if,
            "netns",
            &lab.router,
        ]);
        for (ns, ifname, addr) in [
            (&lab.speaker, &lab.speaker_if, SPEAKER_ADDR),
            (&lab.router, &lab.router_if, PEER_ADDR),
        ] {
            must(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                ifname,
            ]);
            must(&["-n", ns, "link", "set", ifname, "up"]);
        }
        lab
    }

    /// The lab folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A subfolder of the lab folder, created readable by everyone (FRR runs as `frr`).
    pub fn subdir(&self, name: &str) -> PathBuf {
        let d = self.dir.join(name);
        std::fs::create_dir_all(&d).expect("the lab folder is writable");
        d
    }
}

/// `mktemp -d /tmp/hopwatch-interop-TEST-XXXXXX`, made traversable by daemon users.
pub fn make_temp_dir(test: &str) -> PathBuf {
    let out = Command::new("mktemp")
        .args(["-d", &format!("/tmp/hopwatch-interop-{test}-XXXXXX")])
        .output()
        .expect("mktemp runs");
    assert!(out.status.success(), "mktemp -d failed");
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let status = Command::new("chmod")
        .arg("755")
        .arg(&dir)
        .status()
        .expect("chmod runs");
    assert!(status.success(), "chmod 755 {} failed", dir.display());
    dir
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in &self.created {
            if let Err(e) = delete(ns) {
                eprintln!("lab teardown: {e}");
            }
        }
        if std::thread::panicking() || std::env::var_os("HOPWATCH_INTEROP_KEEP").is_some() {
            eprintln!("lab files kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
