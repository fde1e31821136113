//! `hopwatch azure render -c FILE -o DIR`: the seed's cloud environment, rendered
//! from one config that mirrors its planning table.
//!
//! What it writes, and why it is shaped so:
//! - `deploy.sh` and `deploy.ps1` come from **one list of steps** (`script`), rendered
//!   for each shell, so the two cannot drift. The variables at the top are the seed's
//!   table; every `az` call uses long options only and quotes every value. `bash` runs
//!   with `set -euo pipefail`, PowerShell stops at the first `az` that fails.
//! - The order is the one Azure needs (`deploy`): groups, VNET, subnets, route table,
//!   route server, a check that its two instances have the addresses the watcher's
//!   config names, one peering per BGP speaker (both instances peer with it), the
//!   bastion, then a NIC and a VM per host. NICs are created first so the web
//!   servers' NICs get IP forwarding (they receive traffic addressed to the VIP) and
//!   no VM gets a public IP or an NSG of its own.
//! - **One cloud-init per role** (`cloud_init`, `roles`): web, watcher, observer, load.
//!   Each installs hopwatch's `.deb` from the configured release URL after checking its
//!   sha256, writes hopwatch's config for the role, enables the role's packaged systemd
//!   units, and sets rsyslog as the seed did (the watcher receives, the others forward).
//!   Hosts of one role share one file: a web server's name is its host name.
//! - The observer (the seed's watch2) peers with the route server rather than with the
//!   watcher: it then logs what the route server passes on, which is what the VNET
//!   programs, and the watcher's config stays the route servers only (no warning from
//!   `hopwatch check`).
//! - **A watcher pair** (`[standby] enabled = true`, off by default): a second
//!   watcher on a VM of its own (`roles::watcher_toml` with [`Role::Standby`]), in
//!   another availability zone than every other VM, with its own peering (Azure Route
//!   Server peers both instances with it), `[ha] role = "standby"` and its AS
//!   prepended; the watcher's config gets `[ha] role = "primary"`. Why a VM and not
//!   watch2 beside the observer: see `config::StandbyCfg`.
//! - **The forwarding mode** (`[forward] enabled = true`, off by default): each
//!   watcher's config gets `[forward] address` (its own address: the VIP's next hop
//!   and the VXLAN source), its VM `nftables`, `net.ipv4.ip_forward` and a drop-in
//!   giving `hopwatch-run.service` CAP_NET_ADMIN and netlink; each web server runs
//!   `hopwatch-backend.service` (VXLAN from the watchers only); the watchers' NICs
//!   get IP forwarding; `deploy.sh` names the NSG rule for the VXLAN port (it
//!   creates no NSG). Off, every file is what it was. Why, and the one warning
//!   (no standby): see `config::ForwardCfg`. [`mode_summary`] says what each mode
//!   costs; `render` prints it.
//! - **Secrets**: SSH keys only. A password in the config is refused; with
//!   `allow_password = true` the scripts read it from `HOPWATCH_ADMIN_PASSWORD` when they
//!   run, so it is never written in any file.
//! - Templates are Rust format strings, not template files: every value must be quoted
//!   for its language (bash, PowerShell, YAML, TOML) and the same steps render to two
//!   shells, which a text template cannot do; each renderer is small enough to read.
//! - The rendered watcher config is parsed by the watcher's own config loader before
//!   anything is written: a config `hopwatch check` would refuse is never rendered.
//!
//! A crate of its own because it is a library, not wiring: the binary holds CLI
//! parsing and wiring only, and `hopwatch azure` is this crate's [`run`] with the
//! binary's stdout writer; [`render`] and [`config`] can be used without the binary.
//! The command line ([`AzureArgs`]) is defined here, as `hopwatch-lab` keeps
//! `LabArgs`: the clap derive structs are used only by `hopwatch azure`, and their
//! `--help` describes the files this crate writes and the rules its config enforces,
//! so it reads best, and changes, beside them; the binary only names the type.
//! Errors are `anyhow`'s, as in the lab: each ends the command with a message for
//! the person running it, none is matched on by a caller.

mod cloud_init;
pub mod config;
mod deploy;
mod roles;
mod script;
mod validate;

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};

use config::{AzureConfig, Role};

/// `hopwatch azure`.
#[derive(Debug, Args)]
pub struct AzureArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AzureCmd,
}

/// `hopwatch azure` subcommands.
#[derive(Debug, Subcommand)]
pub enum AzureCmd {
    /// Write deploy.sh, deploy.ps1, teardown.sh, teardown.ps1 and one cloud-init file
    /// per role from one config (examples/azure.toml).
    #[command(after_long_help = RENDER_HELP)]
    Render(RenderArgs),
}

/// `hopwatch azure render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The config: the seed's planning table in TOML (see examples/azure.toml). Every
    /// key defaults to the seed's value except [hopwatch] deb (or deb_url and
    /// deb_sha256).
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// The directory to write into (created if missing; files are replaced).
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,
}

const RENDER_HELP: &str = "\
Writes into DIR:
  deploy.sh, deploy.ps1      the az commands, in order: resource groups, VNET and
                             subnets, route table, route server and one peering per
                             BGP speaker, bastion, then a NIC and a VM per host
  teardown.sh, teardown.ps1  deletes both resource groups (asks; --yes / -Yes does not)
  cloud-init/ROLE.yaml       web, watcher, standby, observer, load: installs
                             hopwatch's .deb (checked against its sha256), writes the
                             role's config, enables its systemd units, forwards syslog
                             to the watcher (to both watchers of a pair)
  hopwatch/watcher.toml      the watcher's config as its VM gets it (hopwatch check -c)
  hopwatch/standby.toml      with [standby] enabled = true: the standby's config; the
                             watcher's then says [ha] role = \"primary\"

Two modes. Next-hop (the default): the VIP's route points at the web server the
watcher chooses, so a backend failover waits for Azure's programming (1 to 5.6 s).
Forwarding ([forward] enabled = true, docs/forwarding.md): the route points at the
watcher, which forwards over VXLAN (UDP 4789, [forward] port) to the web server it
chooses, so a backend failover takes the watcher's milliseconds, but a watcher host
failure costs the BGP hold time plus Azure's programming. It adds [forward] to each
watcher's config, hopwatch-backend.service and nftables on the web servers, IP
forwarding on the watchers' NICs, and in deploy.sh the NSG rule to add for the VXLAN
port. Use it with [standby]: a single watcher warns (every packet crosses it).

A watcher pair ([standby] enabled = true): a second watcher VM (watch3) in another
availability zone, peered with both route server instances, announcing the VIP with
its AS prepended (default twice), so Azure Route Server uses its route only while
the primary's is gone. One more VM; off by default.

hopwatch's .deb: [hopwatch] deb = PATH (cargo deb -p hopwatch builds it; relative to
the config file). deploy.sh uploads it to a storage account of its own (a private
container; the VMs' subnet reaches storage through a service endpoint) and gives each
VM a read-only link that expires in 7 days, with the sha256 of the file it uploaded.
Or [hopwatch] deb_url and deb_sha256, where you host it. Then: az login; bash
DIR/deploy.sh (or pwsh DIR/deploy.ps1); bash DIR/teardown.sh deletes it all.

The config refuses what never works on Azure, with file, line and key: a VIP inside
the VNET (its system route wins over BGP), a reserved or 4-octet AS, the retired
UbuntuLTS image alias, and passwords (SSH keys only; allow_password = true reads one
from $HOPWATCH_ADMIN_PASSWORD when the script runs, never from a file).

Example:
  hopwatch azure render -c examples/azure.toml -o azure
  bash azure/deploy.sh";

/// Runs `hopwatch azure`; `print` writes what the user reads on stdout (the
/// binary's writer, on which a reader that has gone is not an error).
pub fn run(args: &AzureArgs, print: fn(&str) -> anyhow::Result<()>) -> anyhow::Result<()> {
    match &args.command {
        AzureCmd::Render(r) => render_to(r, print),
    }
}

/// A rendered file: its path under the output directory, its text, executable or not.
#[derive(Debug)]
pub struct Rendered {
    /// Relative path.
    pub path: String,
    /// Content.
    pub text: String,
    /// Mode 0755 rather than 0644.
    pub executable: bool,
}

/// Where the watcher's config is written, as its VM gets it.
pub const WATCHER_FILE: &str = "hopwatch/watcher.toml";
/// Where the standby's config is written, as its VM gets it (as
/// `/etc/hopwatch/watcher.toml`: the packaged unit reads that path).
pub const STANDBY_FILE: &str = "hopwatch/standby.toml";

/// The mode a config renders and what a failover costs in it, in one sentence:
/// `render` prints it, and the forwarding mode's `deploy.sh` starts with it.
pub fn mode_summary(c: &AzureConfig) -> String {
    if !c.forward.enabled {
        return "Next-hop mode: the VIP's route points at the web server the watcher chooses, so a backend failover waits for Azure to program the new next hop (1 to 5.6 s).".into();
    }
    let watcher_failure = if c.standby.enabled {
        format!(
            "a watcher host failure costs the BGP hold time ({} s) plus Azure's programming (1 to 5.6 s) before the standby carries it",
            roles::HOLD_TIME
        )
    } else {
        "a watcher host failure stops the VIP's traffic until that VM is back (no [standby])".into()
    };
    format!(
        "Forwarding mode: the VIP's route points at the watcher, which forwards over VXLAN (UDP {}) to the web server it chooses, so a backend failover takes the watcher's milliseconds, but {watcher_failure}.",
        c.forward.port
    )
}

/// Renders every file of a config; `source` names the config in the files' headers.
pub fn render(c: &AzureConfig, source: &str) -> anyhow::Result<Vec<Rendered>> {
    let mut watchers = vec![(WATCHER_FILE, Role::Watcher)];
    if c.standby.enabled {
        watchers.push((STANDBY_FILE, Role::Standby));
    }
    let mut configs = Vec::new();
    for (path, role) in watchers {
        let text = roles::watcher_toml(c, role, source);
        if let Err(errors) = hopwatch_config::parse(Path::new(path), &text) {
            let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
            bail!(
                "the rendered {} config would not pass hopwatch check:\n{}",
                role.name(),
                all.join("\n")
            );
        }
        configs.push((path, text));
    }
    let deploy = deploy::deploy(c, source);
    let teardown = deploy::teardown(c, source);
    let file = |path: &str, text: String, executable| Rendered {
        path: path.into(),
        text,
        executable,
    };
    let mut out = vec![
        file("deploy.sh", deploy.bash(), true),
        file("deploy.ps1", deploy.powershell(), false),
        file("teardown.sh", teardown.bash(), true),
        file("teardown.ps1", teardown.powershell(), false),
    ];
    out.extend(configs.into_iter().map(|(p, t)| file(p, t, false)));
    let used: Vec<Role> = c.vms().iter().map(|(r, _, _)| *r).collect();
    for role in Role::ALL.into_iter().filter(|r| used.contains(r)) {
        let text = cloud_init::render(c, role, source);
        if text.len() > cloud_init::MAX_CUSTOM_DATA {
            bail!(
                "cloud-init/{}.yaml is {} bytes: over Azure's custom data limit",
                role.name(),
                text.len()
            );
        }
        out.push(file(
            &format!("cloud-init/{}.yaml", role.name()),
            text,
            false,
        ));
    }
    Ok(out)
}

fn render_to(args: &RenderArgs, print: fn(&str) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let loaded = config::load(&args.config).map_err(|errors| {
        anyhow!(
            "{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    let mut c = loaded.config;
    if c.hopwatch.uploads() {
        // Relative to the config file, as a user reads it; the scripts get it whole.
        let deb = Path::new(&c.hopwatch.deb);
        let deb = if deb.is_absolute() {
            deb.to_path_buf()
        } else {
            let base = args.config.parent().unwrap_or(Path::new("."));
            std::path::absolute(base.join(deb)).unwrap_or_else(|_| base.join(deb))
        };
        if !deb.is_file() {
            eprintln!(
                "note: {} does not exist yet: build it (cargo deb -p hopwatch) before deploy.sh uploads it",
                deb.display()
            );
        }
        c.hopwatch.deb = deb.to_string_lossy().into_owned();
    }
    let source = args
        .config
        .file_name()
        .map_or_else(|| "the config".into(), |n| n.to_string_lossy().into_owned());
    let files = render(&c, &source)?;
    for f in &files {
        let path = args.out.join(&f.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&path, &f.text)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let mode = if f.executable { 0o755 } else { 0o644 };
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set the mode of {}", path.display()))?;
        print(&format!("{}\n", path.display()))?;
    }
    eprintln!(
        "rendered {} files for {} VMs in {} ({}); next: az login, then bash {}\n{}",
        files.len(),
        c.vms().len(),
        c.region,
        c.resource_group,
        args.out.join("deploy.sh").display(),
        mode_summary(&c)
    );
    Ok(())
}

#[cfg(test)]
mod tests;
