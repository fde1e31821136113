//! The lab of one test: a "speaker" namespace (hopwatch, 10.10.0.7/24) and a "router"
//! namespace (the real peer, 10.10.0.1/24) joined by a veth pair, nothing else. No
//! link or route leads to the host namespace.
//!
//! Names carry a per-test prefix `hw<pid>x<n>-` so tests run in parallel, within one
//! test binary and across binaries. Dropping the lab (also on panic) stops whatever
//! still runs in its namespaces, by PID, then deletes them; its temp folder is removed,
//! or kept and printed when the test failed (or `HOPWATCH_INTEROP_KEEP` is set).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::proc;

/// hopwatch's address, in the speaker namespace.
pub const SPEAKER_ADDR: &str = "10.10.0.7";
/// The peer's address, in the router namespace.
pub const PEER_ADDR: &str = "10.10.0.1";

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

/// Runs `ip ARGS…`; the error names the command and carries its stderr.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("/usr/sbin/ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
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
                sweep(&ns);
                let _ = ip(&["netns", "del", &ns]);
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

/// Stops every process left in namespace `ns`, by PID: SIGTERM, then SIGKILL.
pub fn sweep(ns: &str) {
    let pids = || -> Vec<u32> {
        Command::new("/usr/sbin/ip")
            .args(["netns", "pids", ns])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let first = pids();
    if first.is_empty() {
        return;
    }
    for pid in &first {
        proc::signal(*pid, "TERM");
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && first.iter().any(|p| proc::alive(*p)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in pids() {
        proc::signal(pid, "KILL");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in &self.created {
            sweep(ns);
            if let Err(e) = ip(&["netns", "del", ns]) {
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
