//! `--route-server bird`: BIRD 2 (Debian's `bird2`) as the route server of the
//! namespace lab.
//!
//! One BIRD process holds both instances: a `protocol bgp` per route server address
//! (AS 65515), each with its own `local` address towards the same watcher and
//! `strict bind`, so that each listens on its own address and BIRD tells the two
//! sessions apart by the address a connection arrives on. The sessions are multihop,
//! as Azure's are, so BIRD resolves the BGP next hop (a backend on the router's
//! bridge) recursively: `protocol direct` puts the bridge's network into its table
//! for that, or the VIP would be installed as unreachable. A `protocol kernel`
//! exports the best route into the router namespace's table. Restarting an instance
//! is `birdc disable` and `enable` of its protocol: the other keeps the route, as
//! the other Azure instance would. BIRD runs as root in the foreground (`-f`), with
//! its config, control socket and log in the lab's output folder.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use super::procs::Procs;
use super::topology::Layout;

/// The role name of the BIRD process.
pub const ROLE: &str = "bird";

/// A running BIRD route server.
#[derive(Debug)]
pub struct Bird {
    ns: String,
    socket: PathBuf,
}

/// The protocol name of instance `i` (0 or 1).
fn protocol(i: usize) -> String {
    format!("rs{}", i + 1)
}

impl Bird {
    /// Writes the config, starts BIRD in the router namespace and waits (bounded)
    /// for its control socket.
    pub async fn start(procs: &mut Procs, layout: &Layout) -> anyhow::Result<Bird> {
        let ns = layout
            .ns_of("route-server")
            .context("BIRD needs the namespace lab")?;
        if !Path::new("/usr/sbin/bird").exists() {
            bail!("--route-server bird needs BIRD 2 (Debian: apt-get install bird2)");
        }
        let dir = procs.dir().to_path_buf();
        let conf = dir.join("bird.conf");
        let socket = dir.join("bird.ctl");
        let _ = std::fs::remove_file(&socket);
        std::fs::write(&conf, config(layout, &dir.join("bird.log")))
            .with_context(|| format!("writing {}", conf.display()))?;
        let args: Vec<String> = vec![
            "-f".into(),
            "-c".into(),
            conf.display().to_string(),
            "-s".into(),
            socket.display().to_string(),
            "-P".into(),
            dir.join("bird.pid").display().to_string(),
        ];
        procs.spawn_program(ROLE, Some(&ns), Path::new("/usr/sbin/bird"), &args, "out")?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            if procs.exited(ROLE) {
                bail!(
                    "BIRD exited at start: {}",
                    std::fs::read_to_string(dir.join("bird.stderr"))
                        .unwrap_or_default()
                        .trim()
                );
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("BIRD did not open its control socket within 10 s: see bird.stderr");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Bird { ns, socket })
    }

    /// `birdc disable` (`up = false`) or `enable` of instance `i`'s protocol.
    pub async fn set_instance(&self, i: usize, up: bool) -> anyhow::Result<()> {
        let verb = if up { "enable" } else { "disable" };
        let out = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::process::Command::new("ip")
                .args(["netns", "exec", &self.ns, "birdc", "-s"])
                .arg(&self.socket)
                .args([verb, &protocol(i)])
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .context("birdc took over 5 s")?
        .context("running birdc")?;
        if !out.status.success() {
            bail!(
                "birdc {verb} {}: {}",
                protocol(i),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }
}

fn config(layout: &Layout, log: &Path) -> String {
    let mut c = String::new();
    let _ = writeln!(c, "log \"{}\" all;", log.display());
    let _ = writeln!(c, "router id {};", layout.rs[0]);
    let _ = writeln!(c, "protocol device {{ }}");
    let _ = writeln!(
        c,
        "protocol direct {{\n  ipv4;\n  interface \"{}\";\n}}",
        super::netns::BRIDGE
    );
    // The route server's data plane: the best route into the router's table.
    let _ = writeln!(c, "protocol kernel {{\n  ipv4 {{ export all; }};\n}}");
    let mut sessions = vec![(0, layout.watcher, 65001), (1, layout.watcher, 65001)];
    sessions.push((0, layout.observer, 65002));
    for (n, (i, nb, asn)) in sessions.into_iter().enumerate() {
        let name = if n < 2 {
            protocol(i)
        } else {
            "observer".to_string()
        };
        let _ = writeln!(c, "protocol bgp {name} {{");
        let _ = writeln!(
            c,
            "  local {} as 65515;\n  neighbor {nb} as {asn};\n  multihop 2;\n  passive on;\n  \
             strict bind on;",
            layout.rs[i]
        );
        // The watcher gets nothing back; the observer sees what the route server
        // learned, as Azure's other peers do.
        let export = if n < 2 { "none" } else { "all" };
        let _ = writeln!(
            c,
            "  graceful restart on;\n  ipv4 {{ import all; export {export}; }};\n}}"
        );
    }
    c
}
