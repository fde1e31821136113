//! `--route-server bird`: BIRD 2 (Debian's `bird2`) as the route server of the
//! namespace lab.
//!
//! One BIRD per route server address (AS 65515), as with FRR: BIRD 2.0.12 does not
//! hold two sessions with one neighbor in one process reliably (with a protocol per
//! local address and `strict bind`, only one of the two listening sockets accepted at
//! a time, and a restarted protocol refused every connection). Each BIRD listens
//! only on its own address (`strict bind`) and waits (passive) for the watcher. The
//! first also has the observer as a peer and a `protocol kernel` that exports the
//! best route into the router namespace's table; the second has no kernel protocol
//! (two would fight over one table), which is why the lab's `route-server-restart`
//! restarts the second. The sessions are multihop, as Azure's are, so BIRD resolves
//! the BGP next hop (a backend on the router's bridge) recursively: `protocol
//! direct` puts the bridge's network into its table for that, or the VIP would be
//! installed as unreachable. BIRD runs as root in the foreground (`-f`), with its
//! config, control socket and log in the lab's output folder.
//!
//! [`daemon_args`] is also the tests' BIRD command line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::procs::Procs;
use crate::seed::{OBSERVER_AS, ROUTE_SERVER_AS, WATCHER_AS};
use crate::topology::Layout;

/// Where Debian's `bird2` package puts BIRD.
pub const PROGRAM: &str = "/usr/sbin/bird";

/// BIRD's command line (after the program): in the foreground (`-f`: its PID is
/// the one we started, and it stops with its parent's SIGTERM), config `conf`, its
/// own control socket `socket` (so `birdc -s SOCKET` reaches this BIRD and no
/// other), PID file `pid`.
pub fn daemon_args(conf: &Path, socket: &Path, pid: &Path) -> Vec<String> {
    vec![
        "-f".into(),
        "-c".into(),
        conf.display().to_string(),
        "-s".into(),
        socket.display().to_string(),
        "-P".into(),
        pid.display().to_string(),
    ]
}

/// The role name of BIRD instance `i` (0 or 1).
pub fn role(i: usize) -> String {
    format!("bird{}", i + 1)
}

/// BIRD as the route server (two processes).
#[derive(Debug)]
pub struct Bird {
    ns: String,
    dir: PathBuf,
}

impl Bird {
    /// BIRD as the route server of `layout` (the namespace lab's), its files in
    /// `out`. Nothing is written or started yet.
    pub fn new(layout: &Layout, out: &Path) -> anyhow::Result<Bird> {
        let ns = layout
            .ns_of("route-server")
            .context("BIRD needs the namespace lab")?;
        Ok(Bird {
            ns,
            dir: out.to_path_buf(),
        })
    }

    /// Writes the configs and starts both BIRDs in the router namespace; waits
    /// (bounded) for their control sockets.
    pub async fn start(&self, procs: &mut Procs, layout: &Layout) -> anyhow::Result<()> {
        if !Path::new(PROGRAM).exists() {
            bail!("--route-server bird needs BIRD 2 (Debian: apt-get install bird2)");
        }
        for i in 0..2 {
            let conf = self.path(i, "conf");
            std::fs::write(&conf, config(layout, i, &self.path(i, "log")))
                .with_context(|| format!("writing {}", conf.display()))?;
            self.start_instance(procs, i).await?;
        }
        Ok(())
    }

    fn path(&self, i: usize, ext: &str) -> PathBuf {
        self.dir.join(format!("{}.{ext}", role(i)))
    }

    /// Starts BIRD instance `i` and waits (10 s at most) for its control socket.
    pub async fn start_instance(&self, procs: &mut Procs, i: usize) -> anyhow::Result<()> {
        let socket = self.path(i, "ctl");
        let _ = std::fs::remove_file(&socket);
        let args = daemon_args(&self.path(i, "conf"), &socket, &self.path(i, "pid"));
        let name = role(i);
        procs.spawn_program(&name, Some(&self.ns), Path::new(PROGRAM), &args, "out")?;
        procs
            .wait_created(&name, &socket, "its control socket")
            .await
    }
}

fn config(layout: &Layout, i: usize, log: &Path) -> String {
    let mut c = String::new();
    let _ = writeln!(c, "log \"{}\" all;", log.display());
    let _ = writeln!(c, "router id {};", layout.rs[i]);
    let _ = writeln!(c, "protocol device {{ }}");
    let _ = writeln!(
        c,
        "protocol direct {{\n  ipv4;\n  interface \"{}\";\n}}",
        crate::netns::BRIDGE
    );
    let mut sessions = vec![
        ("watcher", layout.watcher, WATCHER_AS),
        ("standby", layout.standby, WATCHER_AS),
    ];
    if i == 0 {
        // The route server's data plane: the best route into the router's table.
        let _ = writeln!(c, "protocol kernel {{\n  ipv4 {{ export all; }};\n}}");
        sessions.push(("observer", layout.observer, OBSERVER_AS));
    }
    for (name, nb, asn) in sessions {
        let _ = writeln!(c, "protocol bgp {name} {{");
        let _ = writeln!(
            c,
            "  local {} as {ROUTE_SERVER_AS};\n  neighbor {nb} as {asn};\n  multihop 2;\n  \
             passive on;\n  strict bind on;",
            layout.rs[i]
        );
        // BIRD refuses incoming connections for `connect delay time` (5 s by default)
        // after a protocol starts, and longer after errors.
        let _ = writeln!(
            c,
            "  connect delay time 1;\n  connect retry time 2;\n  error wait time 1, 5;"
        );
        // Every peer gets the best routes, as Azure Route Server's peers do: the
        // observer sees what the route server learned, and each watcher of the pair
        // the other's route when that is in use (`ctl status`).
        let _ = writeln!(
            c,
            "  graceful restart on;\n  ipv4 {{ import all; export all; }};\n}}"
        );
    }
    c
}
