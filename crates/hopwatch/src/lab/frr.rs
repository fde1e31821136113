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
//! lab's output folder at the end. `graceful-restart` makes FRR keep the watcher's
//! route through a watcher restart. `advertisement-interval 0` sends each change at
//! once; what remains is bgpd's own processing time from UPDATE to kernel route,
//! which the report shows as its own part of the failover.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::procs::Procs;
use super::topology::Layout;

/// The route server's AS.
const RS_AS: u32 = 65515;

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
    /// Writes the configs and starts zebra, then both bgpd instances, in the router
    /// namespace; waits (bounded) until each has opened its vty socket.
    pub async fn start(procs: &mut Procs, layout: &Layout) -> anyhow::Result<Frr> {
        let ns = layout
            .ns_of("route-server")
            .context("FRR needs the namespace lab")?;
        if !Path::new("/usr/lib/frr/bgpd").exists() {
            bail!("--route-server frr needs FRR (Debian: apt-get install frr)");
        }
        let dir = std::env::temp_dir().join(format!("{}frr-{}", ns, std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let frr = Frr {
            dir,
            ns,
            addrs: layout.rs,
        };
        std::fs::write(frr.dir.join("zebra.conf"), "hostname lab-zebra\n")
            .context("writing zebra.conf")?;
        for (i, addr) in frr.addrs.iter().enumerate() {
            let d = frr.instance_dir(i);
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            std::fs::write(d.join("bgpd.conf"), bgpd_config(addr, layout, i == 0, &d))
                .context("writing bgpd.conf")?;
        }
        let status = std::process::Command::new("chown")
            .args(["-R", "frr:frr"])
            .arg(&frr.dir)
            .status()
            .context("running chown")?;
        if !status.success() {
            bail!(
                "chown frr:frr {} failed (is FRR installed?)",
                frr.dir.display()
            );
        }
        let d = frr.dir.display().to_string();
        procs.spawn_program(
            "frr-zebra",
            Some(&frr.ns),
            Path::new("/usr/lib/frr/zebra"),
            &daemon_args("zebra", &d, &frr.zserv()),
            "log",
        )?;
        procs
            .wait_created("frr-zebra", &frr.dir.join("zserv.api"), "its zserv socket")
            .await?;
        for i in 0..2 {
            frr.start_bgpd(procs, i).await?;
        }
        Ok(frr)
    }

    fn instance_dir(&self, i: usize) -> PathBuf {
        self.dir.join(format!("bgpd{}", i + 1))
    }

    fn zserv(&self) -> String {
        self.dir.join("zserv.api").display().to_string()
    }

    /// Starts bgpd instance `i` (0 or 1) and waits for its vty socket.
    pub async fn start_bgpd(&self, procs: &mut Procs, i: usize) -> anyhow::Result<()> {
        let d = self.instance_dir(i);
        let vty = d.join("bgpd.vty");
        let _ = std::fs::remove_file(&vty);
        let mut args = daemon_args("bgpd", &d.display().to_string(), &self.zserv());
        args.extend(["-l".to_string(), self.addrs[i].to_string()]);
        if i > 0 {
            args.push("-Z".into());
        }
        procs.spawn_program(
            &bgpd_role(i),
            Some(&self.ns),
            Path::new("/usr/lib/frr/bgpd"),
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

/// FRR's daemon command line: its own vty socket folder, zserv socket and PID file,
/// run as `frr`, no vty TCP port (`docs/real-peers.md`).
fn daemon_args(daemon: &str, d: &str, zserv: &str) -> Vec<String> {
    [
        "-u",
        "frr",
        "-g",
        "frr",
        "--vty_socket",
        d,
        "-z",
        zserv,
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

fn bgpd_config(addr: &str, layout: &Layout, with_observer: bool, dir: &Path) -> String {
    let mut c = String::new();
    let _ = writeln!(
        c,
        "frr defaults traditional\nhostname rs-{addr}\nlog file {}/bgpd.log informational\n!",
        dir.display()
    );
    let _ = writeln!(c, "router bgp {RS_AS}\n bgp router-id {addr}");
    let _ = writeln!(
        c,
        " no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n bgp graceful-restart"
    );
    let mut neighbors = vec![(layout.watcher, 65001)];
    if with_observer {
        neighbors.push((layout.observer, 65002));
    }
    for (nb, asn) in &neighbors {
        let _ = writeln!(c, " neighbor {nb} remote-as {asn}");
        let _ = writeln!(c, " neighbor {nb} passive");
        let _ = writeln!(c, " neighbor {nb} ebgp-multihop 2");
        let _ = writeln!(c, " neighbor {nb} update-source {addr}");
        let _ = writeln!(c, " neighbor {nb} advertisement-interval 0");
    }
    let _ = writeln!(c, " !\n address-family ipv4 unicast");
    for (nb, _) in &neighbors {
        let _ = writeln!(c, "  neighbor {nb} activate");
    }
    let _ = writeln!(c, " exit-address-family\n!");
    c
}
