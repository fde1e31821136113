//! `--route-server frr`: FRR 8 (Debian's `frr` package) as the route server of the
//! namespace lab, so that the same scenarios measure hopwatch against a route server
//! nobody here wrote.
//!
//! One bgpd per route server address (AS 65515, as Azure Route Server), each
//! listening only on its own address (`-l`) and waiting (passive) for the watcher:
//! one bgpd cannot hold two sessions with the same neighbor address. The first
//! (10.10.1.4) runs with zebra, which installs the learned /32 into the router
//! namespace's table; the second (10.10.1.5) runs without zebra (`-Z`), since two
//! zebras in one namespace would fight over one table. That is why the lab's
//! `route-server-restart` restarts the second instance with FRR: restarting the
//! first would take zebra's client, hence the data plane, down with it, which is
//! not what a restart of one of Azure's two instances does.
//!
//! The daemons run as user `frr` with their files in a folder under /tmp (the
//! `frr` user must reach it; `--out` may be under a private home), copied into the
//! lab's output folder at the end. `advertisement-interval 0` sends each change at
//! once; what remains is bgpd's own processing time from UPDATE to kernel route,
//! which the report shows as its own part of the failover.
//!
//! This module is also the one place the tests' FRR takes its command line
//! ([`daemon_args`]) and, as a route server, its config ([`route_server_config`]):
//! graceful restart is an explicit option there, see [`RouteServerConfig`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::procs::Procs;
use crate::seed::{OBSERVER_AS, ROUTE_SERVER_AS, WATCHER_AS};
use crate::topology::Layout;

/// Where Debian's `frr` package puts its daemons.
pub const DAEMON_DIR: &str = "/usr/lib/frr";

/// The path of FRR's daemon `daemon` (`zebra`, `bgpd`).
pub fn daemon_path(daemon: &str) -> PathBuf {
    Path::new(DAEMON_DIR).join(daemon)
}

/// FRR's folder and how to start each daemon.
#[derive(Debug)]
pub struct Frr {
    dir: PathBuf,
    ns: String,
    addrs: [&'static str; 2],
}

/// The role name of bgpd instance `i` (0 or 1).
pub fn bgpd_role(i: usize) -> String {
    format!("frr-bgpd{}", i + 1)
}

impl Frr {
    /// FRR as the route server of `layout` (the namespace lab's): its folder and
    /// namespace. Nothing is written or started yet.
    pub fn new(layout: &Layout) -> anyhow::Result<Frr> {
        let ns = layout
            .ns_of("route-server")
            .context("FRR needs the namespace lab")?;
        let dir = std::env::temp_dir().join(format!("{}frr-{}", ns, std::process::id()));
        Ok(Frr {
            dir,
            ns,
            addrs: layout.rs,
        })
    }

    /// Writes the configs and starts zebra, then both bgpd instances, in the router
    /// namespace; waits (bounded) until each has opened its vty socket.
    pub async fn start(&self, procs: &mut Procs, layout: &Layout) -> anyhow::Result<()> {
        if !daemon_path("bgpd").exists() {
            bail!("--route-server frr needs FRR (Debian: apt-get install frr)");
        }
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        std::fs::write(self.dir.join("zebra.conf"), "hostname lab-zebra\n")
            .context("writing zebra.conf")?;
        for (i, addr) in self.addrs.iter().enumerate() {
            let d = self.instance_dir(i);
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            // Both watchers of the pair on both instances; the observer, another peer
            // seeing what the route server learned, on the first.
            let mut neighbors = vec![(layout.watcher, WATCHER_AS), (layout.standby, WATCHER_AS)];
            if i == 0 {
                neighbors.push((layout.observer, OBSERVER_AS));
            }
            let config = route_server_config(&RouteServerConfig {
                addr,
                neighbors: &neighbors,
                // See the field: the lab's FRR announces graceful restart.
                graceful_restart: true,
                log_dir: &d,
            });
            std::fs::write(d.join("bgpd.conf"), config).context("writing bgpd.conf")?;
        }
        chown_frr(&self.dir)?;
        procs.spawn_program(
            "frr-zebra",
            Some(&self.ns),
            &daemon_path("zebra"),
            &daemon_args("zebra", &self.dir, &self.zserv()),
            "log",
        )?;
        procs
            .wait_created("frr-zebra", &self.dir.join("zserv.api"), "its zserv socket")
            .await?;
        for i in 0..2 {
            self.start_bgpd(procs, i).await?;
        }
        Ok(())
    }

    fn instance_dir(&self, i: usize) -> PathBuf {
        self.dir.join(format!("bgpd{}", i + 1))
    }

    fn zserv(&self) -> PathBuf {
        self.dir.join("zserv.api")
    }

    /// Starts bgpd instance `i` (0 or 1) and waits for its vty socket.
    pub async fn start_bgpd(&self, procs: &mut Procs, i: usize) -> anyhow::Result<()> {
        let d = self.instance_dir(i);
        let vty = d.join("bgpd.vty");
        let _ = std::fs::remove_file(&vty);
        let mut args = daemon_args("bgpd", &d, &self.zserv());
        args.extend(instance_args(i, self.addrs[i]));
        procs.spawn_program(
            &bgpd_role(i),
            Some(&self.ns),
            &daemon_path("bgpd"),
            &args,
            "log",
        )?;
        procs
            .wait_created(&bgpd_role(i), &vty, "its vty socket")
            .await
    }

    /// Copies the daemons' logs into `out` and removes FRR's folder.
    pub fn finish(&self, out: &Path) {
        for i in 0..2 {
            let _ = std::fs::copy(
                self.instance_dir(i).join("bgpd.log"),
                out.join(format!("{}.bgpd.log", bgpd_role(i))),
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// FRR's daemon command line (after the program): run as `frr`, its own vty socket
/// folder `dir` (so `vtysh --vty_socket DIR` reaches this daemon and no other),
/// zserv socket, PID file and config `DIR/DAEMON.conf`, no vty TCP port
/// (`docs/real-peers.md`).
pub fn daemon_args(daemon: &str, dir: &Path, zserv: &Path) -> Vec<String> {
    let d = dir.display().to_string();
    [
        "-u",
        "frr",
        "-g",
        "frr",
        "--vty_socket",
        &d,
        "-z",
        &zserv.display().to_string(),
        "-i",
        &format!("{d}/{daemon}.pid"),
        "-P",
        "0",
        "-f",
        &format!("{d}/{daemon}.conf"),
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect()
}

/// The extra arguments of route server instance `i` (0, 1, ...) on `addr`: it
/// listens only on its own address (`-l`: one bgpd cannot hold two sessions with
/// one neighbor address, so each address has its own bgpd), and only the first
/// talks to zebra (`-Z` for the others: two zebras in one namespace would fight
/// over one table).
pub fn instance_args(i: usize, addr: &str) -> Vec<String> {
    let mut v = vec!["-l".to_string(), addr.to_string()];
    if i > 0 {
        v.push("-Z".into());
    }
    v
}

/// `chown -R frr:frr DIR`: the daemons run as `frr` and write there.
pub fn chown_frr(dir: &Path) -> anyhow::Result<()> {
    let status = std::process::Command::new("chown")
        .args(["-R", "frr:frr"])
        .arg(dir)
        .status()
        .context("running chown")?;
    if !status.success() {
        bail!("chown frr:frr {} failed (is FRR installed?)", dir.display());
    }
    Ok(())
}

/// One bgpd of an FRR route server standing in for Azure Route Server.
#[derive(Debug, Clone, Copy)]
pub struct RouteServerConfig<'a> {
    /// Its address: router id, `update-source`, and `rs-ADDR` as its hostname.
    pub addr: &'a str,
    /// Its peers and their AS numbers: passive (they connect, as they do to
    /// Azure's), multihop (they are not on its network), each change sent at once.
    pub neighbors: &'a [(&'a str, u32)],
    /// `bgp graceful-restart`: FRR in full graceful-restart mode, restarting
    /// speaker as well as helper. Without it FRR 8 is a helper only (its default,
    /// see `Gr::Default` in the tests' `rs_peers.rs`), which already keeps a
    /// restarting watcher's routes (stale) until its End-of-RIB.
    ///
    /// The difference is intended. The lab sets it: its FRR figures (README) were
    /// measured so, and the lab's FRR should announce graceful restart as Azure's
    /// route server does, for the watcher-restart and route-server-restart
    /// scenarios. The `watcher_frr` test leaves FRR's default: it proves that a
    /// move is one replacing UPDATE and that the failback waits for the hold,
    /// neither of which involves graceful restart, so it also covers a route
    /// server that does not advertise it.
    pub graceful_restart: bool,
    /// Where bgpd writes `bgpd.log`.
    pub log_dir: &'a Path,
}

/// The `bgpd.conf` of one route server instance (AS 65515, no policy: every
/// route is accepted and passed on with its next hop untouched).
pub fn route_server_config(rs: &RouteServerConfig<'_>) -> String {
    let addr = rs.addr;
    let mut c = String::new();
    let _ = writeln!(
        c,
        "frr defaults traditional\nhostname rs-{addr}\nlog file {}/bgpd.log informational\n!",
        rs.log_dir.display()
    );
    let _ = writeln!(c, "router bgp {ROUTE_SERVER_AS}\n bgp router-id {addr}");
    let _ = writeln!(
        c,
        " no bgp ebgp-requires-policy\n no bgp default ipv4-unicast"
    );
    if rs.graceful_restart {
        let _ = writeln!(c, " bgp graceful-restart");
    }
    for (nb, asn) in rs.neighbors {
        let _ = writeln!(c, " neighbor {nb} remote-as {asn}");
        let _ = writeln!(c, " neighbor {nb} passive");
        let _ = writeln!(c, " neighbor {nb} ebgp-multihop 2");
        let _ = writeln!(c, " neighbor {nb} update-source {addr}");
        let _ = writeln!(c, " neighbor {nb} advertisement-interval 0");
    }
    let _ = writeln!(c, " !\n address-family ipv4 unicast");
    for (nb, _) in rs.neighbors {
        let _ = writeln!(c, "  neighbor {nb} activate");
    }
    let _ = writeln!(c, " exit-address-family\n!");
    c
}
