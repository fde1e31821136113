//! What each role's VM runs: hopwatch's config for the role (the watcher's TOML, the
//! other roles' arguments in `/etc/default/hopwatch-*`), the packaged systemd units it
//! enables, rsyslog (the watcher receives, the others forward to it, as in the seed),
//! and the setup script that installs the .deb after checking its sha256.
//!
//! The units themselves ship in the .deb (`packaging/*.service`); the role only writes
//! their configuration and enables them, so a package upgrade updates every unit.
//!
//! The forwarding mode (`[forward] enabled = true`) adds to three roles: each
//! watcher's config gets `[forward]` with its own address, its VM a drop-in that
//! lets `hopwatch run` set up the tunnels and `net.ipv4.ip_forward`; each web server
//! runs `hopwatch-backend.service`, the tunnels' end. Off, nothing of it is written.

use std::fmt::Write;

use super::config::{AzureConfig, Role};
use super::script::sh_quote;

/// Where the cloud-init files say the .deb is and what its sha256 is, when deploy
/// uploads it: deploy fills them in a copy of each file once it has uploaded the
/// .deb (the link and the checksum exist only then).
pub const DEB_URL_MARK: &str = "@HOPWATCH_DEB_URL@";
/// See [`DEB_URL_MARK`].
pub const DEB_SHA256_MARK: &str = "@HOPWATCH_DEB_SHA256@";

/// A file the cloud-init writes.
#[derive(Debug, Clone)]
pub struct File {
    /// Where.
    pub path: &'static str,
    /// Octal mode.
    pub mode: &'static str,
    /// What.
    pub content: String,
}

/// Where the watcher's config lives on its VM (the path `hopwatch-run.service` reads).
pub const WATCHER_CONFIG: &str = "/etc/hopwatch/watcher.toml";

/// The port of the watcher's syslog server.
const SYSLOG_PORT: u16 = 514;

/// The BGP hold time the watchers propose: in the forwarding mode, about what a
/// watcher VM's freeze costs before Azure moves the VIP to the standby.
pub const HOLD_TIME: u16 = 9;

/// The forwarding mode's unit on a web server (shipped in `packaging/`).
pub const BACKEND_UNIT: &str = "hopwatch-backend.service";

/// The drop-in that gives the packaged `hopwatch-run.service` what the forwarding
/// mode needs.
pub const RUN_FORWARD_DROP_IN: &str = "/etc/systemd/system/hopwatch-run.service.d/50-forward.conf";

/// `net.ipv4.ip_forward` for the watchers, at every boot.
pub const FORWARD_SYSCTL: &str = "/etc/sysctl.d/60-hopwatch-forward.conf";

/// The systemd units a role starts at boot (all shipped in `packaging/`).
pub fn units(c: &AzureConfig, role: Role) -> Vec<&'static str> {
    match role {
        // The backend after the VIP's unit: it then finds the VIP on lo and leaves
        // it there when it stops, so a restart of it never takes the VIP away.
        Role::Web if c.forward.enabled => {
            vec!["hopwatch-vip.service", "hopwatch-web.service", BACKEND_UNIT]
        }
        Role::Web => vec!["hopwatch-vip.service", "hopwatch-web.service"],
        Role::Watcher | Role::Standby => vec!["hopwatch-run.service"],
        Role::Observer => vec!["hopwatch-observe.service"],
        // Load is started by hand, when the experiment is ready.
        Role::Load => vec![],
    }
}

/// What the forwarding mode adds to a watcher's config: its own address as the
/// VIP's next hop and the tunnels' source (each watcher of a pair its own: Azure
/// sends the VIP's traffic to whichever watcher's route it uses).
fn forward_table(c: &AzureConfig, ip: std::net::Ipv4Addr) -> String {
    let mut s = format!(
        concat!(
            "# The forwarding mode: the VIP's next hop is this watcher, which forwards the\n",
            "# VIP's traffic over VXLAN (UDP {port}) to the web server it chooses (each runs\n",
            "# hopwatch backend). A backend failover is a route change here, not in Azure.\n",
            "[forward]\naddress = \"{ip}\"\n",
        ),
        port = c.forward.port,
        ip = ip
    );
    if c.forward.port != super::config::DEFAULT_VXLAN_PORT {
        let _ = writeln!(s, "port = {}", c.forward.port);
    }
    s
}

/// A watcher's config (`role` is [`Role::Watcher`] or [`Role::Standby`]): both route
/// server instances, the VIP with the web servers in priority order, the Azure rules
/// on. With `[standby]` enabled the watcher is the pair's primary and both get
/// `[ha]`, each its own router ID and source address (its VM's). It must pass
/// `hopwatch check`.
pub fn watcher_toml(c: &AzureConfig, role: Role, source: &str) -> String {
    let w = &c.watcher;
    let h = &c.health;
    let pair = c.standby.enabled;
    let (name, ip, what) = match role {
        Role::Standby => (&c.standby.name, c.standby.ip, "the standby watcher"),
        _ if pair => (&w.name, w.ip, "the primary watcher"),
        _ => (&w.name, w.ip, "the watcher"),
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# hopwatch run -c {WATCHER_CONFIG}\n# Rendered by `hopwatch azure render` from {source}: {what} on {name} ({ip}).\n"
    );
    let _ = writeln!(
        s,
        "# Azure Route Server's rules: a 2-octet AS, both instances, a VIP outside the VNET.\nazure = true\n\n[vnet]\naddress_space = [\"{}\"]\n",
        c.vnet.address_space
    );
    let _ = writeln!(
        s,
        "[bgp]\nlocal_as = {}\nrouter_id = \"{ip}\"\nhold_time = {HOLD_TIME}\ngraceful_restart = {}",
        w.asn, w.graceful_restart
    );
    if pair {
        // Azure Route Server knows each watcher of the pair by its address (one
        // peering each): connect from it, whatever else the VM is given later.
        let _ = writeln!(s, "local_address = \"{ip}\"");
    }
    s.push('\n');
    for rs in c.route_server_instances() {
        let _ = writeln!(
            s,
            "[[route_server]]\naddress = \"{rs}\"\npeer_as = {}\n",
            hopwatch_route_server::AZURE_ROUTE_SERVER_AS
        );
    }
    let _ = writeln!(s, "[[vip]]\nprefix = \"{}\"\nbackends = [", c.vip.prefix);
    for web in &c.web {
        let _ = writeln!(
            s,
            "  {{ name = \"{}\", next_hop = \"{}\", check = \"http://{}:{}{}\" }},",
            web.name, web.ip, web.ip, c.vip.port, h.path
        );
    }
    let _ = writeln!(
        s,
        "]\n\n[health]\ninterval = \"{}\"\ntimeout = \"{}\"\nfall = {}\nrise = {}\n",
        humantime::format_duration(h.interval),
        humantime::format_duration(h.timeout),
        h.fall,
        h.rise
    );
    let _ = writeln!(
        s,
        "[failover]\npreempt = true\nfailback_hold = \"{}\"\nall_down = \"keep\"\n",
        humantime::format_duration(w.failback_hold)
    );
    if pair {
        let _ = writeln!(s, "{}", ha_table(c, role));
    }
    if c.forward.enabled {
        let _ = writeln!(s, "{}", forward_table(c, ip));
    }
    let _ = writeln!(s, "[api]\nlisten = \"127.0.0.1:9179\"\n");
    let _ = write!(
        s,
        "# Every decision, as the seed's watcher logged it, to the local rsyslog (which\n# also receives the other VMs' logs).\n[log]\nsyslog = \"127.0.0.1:{SYSLOG_PORT}\"\n"
    );
    s
}

/// `[ha]` of a pair's watcher, with what Azure does with it.
fn ha_table(c: &AzureConfig, role: Role) -> String {
    let partner = |n: &str, ip| format!("{n} ({ip})");
    if role == Role::Standby {
        format!(
            concat!(
                "# The pair's standby; the primary is {}.\n",
                "# Azure Route Server prefers the shortest AS path: this watcher's route,\n",
                "# with local_as {} more times, is used only while the primary's is gone\n",
                "# (its sessions down and, with graceful restart, its restart time over).\n",
                "# Never ECMP: the lengths differ.\n",
                "[ha]\nrole = \"standby\"\nprepend = {}\n",
            ),
            partner(&c.watcher.name, c.watcher.ip),
            c.standby.prepend,
            c.standby.prepend
        )
    } else {
        format!(
            concat!(
                "# The pair's primary; the standby is {}.\n",
                "# Azure Route Server prefers this watcher's route (the shorter AS path)\n",
                "# while its sessions are up.\n",
                "[ha]\nrole = \"primary\"\n",
            ),
            partner(&c.standby.name, c.standby.ip)
        )
    }
}

fn env_file(what: &str, var: &str, args: &str) -> String {
    format!(
        "# {what}\n# Rendered by `hopwatch azure render`; read by the systemd unit.\n{var}=\"{args}\"\n"
    )
}

/// Every message also goes to the watcher, as in the seed; with a pair to both
/// watchers, so that the logs of a takeover are kept when the primary's VM is the
/// one that died.
fn rsyslog_forward(c: &AzureConfig) -> File {
    let mut content = format!(
        "# Every message also goes to the watcher {}, as in the seed (UDP).\n*.* action(type=\"omfwd\" target=\"{}\" port=\"{SYSLOG_PORT}\" protocol=\"udp\")\n",
        c.watcher.name, c.watcher.ip
    );
    if c.standby.enabled {
        let _ = write!(
            content,
            "# And to the standby watcher {}: the logs survive the primary's VM.\n*.* action(type=\"omfwd\" target=\"{}\" port=\"{SYSLOG_PORT}\" protocol=\"udp\")\n",
            c.standby.name, c.standby.ip
        );
    }
    File {
        path: "/etc/rsyslog.d/90-hopwatch-forward.conf",
        mode: "0644",
        content,
    }
}

fn rsyslog_server() -> File {
    File {
        path: "/etc/rsyslog.d/10-hopwatch-server.conf",
        mode: "0644",
        content: format!(
            concat!(
                "# The watcher is the syslog server of the experiment, as in the seed: every VM's\n",
                "# messages (and the watcher's own decisions) land in /var/log/remote/HOST.log.\n",
                "module(load=\"imudp\")\n",
                "template(name=\"hopwatchRemote\" type=\"string\" string=\"/var/log/remote/%HOSTNAME%.log\")\n",
                "ruleset(name=\"hopwatchRemote\") {{\n",
                "  action(type=\"omfile\" dynaFile=\"hopwatchRemote\")\n",
                "}}\n",
                "input(type=\"imudp\" port=\"{}\" ruleset=\"hopwatchRemote\")\n",
            ),
            SYSLOG_PORT
        ),
    }
}

/// The files of a role, besides the setup script.
pub fn files(c: &AzureConfig, role: Role, source: &str) -> Vec<File> {
    let mut f = Vec::new();
    match role {
        Role::Web => {
            f.push(File {
                path: "/etc/default/hopwatch-web",
                mode: "0644",
                content: env_file(
                    "hopwatch web: answers on every address, the VIP included (see hopwatch web --help).",
                    "HOPWATCH_WEB_ARGS",
                    &format!(
                        "--listen 0.0.0.0:{} --health-path {}",
                        c.vip.port, c.health.path
                    ),
                ),
            });
            f.push(File {
                path: "/etc/default/hopwatch-vip",
                mode: "0644",
                content: format!(
                    "# The VIP, put on the loopback by hopwatch-vip.service: traffic for it reaches this\n# VM when the watcher makes it the next hop.\nHOPWATCH_VIP={}\n",
                    c.vip.prefix
                ),
            });
            if c.forward.enabled {
                f.push(backend_env(c));
            }
            f.push(rsyslog_forward(c));
        }
        Role::Watcher | Role::Standby => {
            f.push(File {
                path: WATCHER_CONFIG,
                mode: "0644",
                content: watcher_toml(c, role, source),
            });
            if c.forward.enabled {
                f.extend(watcher_forward_files());
            }
            // Each watcher of a pair is a syslog server: its own decisions land on
            // its own VM, and every other VM forwards to both.
            f.push(rsyslog_server());
        }
        Role::Observer => {
            let o = &c.observer;
            let mut args = format!(
                "--local-as {} --router-id {} --active --peer-as {}",
                o.asn,
                o.ip,
                hopwatch_route_server::AZURE_ROUTE_SERVER_AS
            );
            for rs in c.route_server_instances() {
                let _ = write!(args, " --peer {rs}");
            }
            f.push(File {
                path: "/etc/default/hopwatch-observe",
                mode: "0644",
                content: env_file(
                    "hopwatch observe: peers with both route server instances and logs every route they pass on (see hopwatch observe --help).",
                    "HOPWATCH_OBSERVE_ARGS",
                    &args,
                ),
            });
            f.push(rsyslog_forward(c));
        }
        Role::Load => {
            f.push(File {
                path: "/etc/default/hopwatch-load",
                mode: "0644",
                content: env_file(
                    "hopwatch load: start it with `sudo systemctl start hopwatch-load`; the results land in /var/lib/hopwatch-load (see hopwatch load --help).",
                    "HOPWATCH_LOAD_ARGS",
                    &format!(
                        "http://{}:{}/ --rate 1000 --duration 120s --csv /var/lib/hopwatch-load/requests.csv --summary /var/lib/hopwatch-load/summary.json",
                        c.vip.prefix.addr(),
                        c.vip.port
                    ),
                ),
            });
            f.push(rsyslog_forward(c));
        }
    }
    f
}

/// `hopwatch backend`'s arguments on a web server: the VIP, and every watcher as
/// the only sources of VXLAN it takes (anyone else who can reach the port could
/// inject packets with any source address).
pub fn backend_args(c: &AzureConfig) -> String {
    let mut args = format!("--vip {}", c.vip.prefix);
    for (_, ip) in c.watchers() {
        let _ = write!(args, " --watcher {ip}");
    }
    if c.forward.port != super::config::DEFAULT_VXLAN_PORT {
        let _ = write!(args, " --port {}", c.forward.port);
    }
    args
}

fn backend_env(c: &AzureConfig) -> File {
    File {
        path: "/etc/default/hopwatch-backend",
        mode: "0644",
        content: env_file(
            "hopwatch backend: the forwarding mode's end of the tunnels, VXLAN from the watchers only, the VIP on lo (see hopwatch backend --help).",
            "HOPWATCH_BACKEND_ARGS",
            &backend_args(c),
        ),
    }
}

/// A watcher's files for the forwarding mode. The packaged `hopwatch-run.service`
/// grants no capability and no netlink socket, which the next-hop mode never
/// needs; the drop-in adds both rather than the package granting them to every
/// watcher. `ip_forward` is set by sysctl (at boot, and by the setup script) so the
/// unit's kernel tunables stay read-only: the forwarder writes it only when it is
/// not already on.
fn watcher_forward_files() -> [File; 2] {
    [
        File {
            path: RUN_FORWARD_DROP_IN,
            mode: "0644",
            content: format!(
                concat!(
                    "# Rendered by `hopwatch azure render`: the forwarding mode ([forward] in\n",
                    "# {config}). hopwatch run sets up a VXLAN device per web\n",
                    "# server with its routes and rules (netlink) and an nftables table (nft,\n",
                    "# which inherits the capability). Each list is reset, then given whole.\n",
                    "[Service]\n",
                    "CapabilityBoundingSet=\n",
                    "CapabilityBoundingSet=CAP_NET_ADMIN\n",
                    "AmbientCapabilities=CAP_NET_ADMIN\n",
                    "RestrictAddressFamilies=\n",
                    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK\n",
                ),
                config = WATCHER_CONFIG
            ),
        },
        File {
            path: FORWARD_SYSCTL,
            mode: "0644",
            content: "# Rendered by `hopwatch azure render`: the forwarding mode. The watcher\n# forwards the VIP's traffic in its kernel.\nnet.ipv4.ip_forward = 1\n".into(),
        },
    ]
}

/// Where the setup script lives on the VM.
pub const SETUP: &str = "/usr/local/sbin/hopwatch-setup";

/// The script cloud-init runs once: download the .deb, check its sha256, install it,
/// restart rsyslog with the role's config, enable the role's units.
pub fn setup_script(c: &AzureConfig, role: Role) -> String {
    let mut s = format!(
        concat!(
            "#!/bin/sh\n",
            "# hopwatch's {role} role: installs the release, checked against its sha256 first,\n",
            "# then starts the role's services. Run once by cloud-init.\n",
            "set -eu\n",
            "url={url}\n",
            "sha256={sha}\n",
            "deb=/var/cache/hopwatch/hopwatch.deb\n",
            "mkdir -p /var/cache/hopwatch\n",
            "curl --fail --silent --show-error --location --retry 5 --retry-delay 3 --output \"$deb\" \"$url\"\n",
            "if ! echo \"$sha256  $deb\" | sha256sum --check --strict --quiet; then\n",
            "  echo \"hopwatch-setup: $url does not have the sha256 $sha256: not installed\" >&2\n",
            "  rm -f \"$deb\"\n",
            "  exit 1\n",
            "fi\n",
            "DEBIAN_FRONTEND=noninteractive apt-get install --yes \"$deb\"\n",
            "systemctl restart rsyslog\n",
        ),
        role = role.name(),
        // Quoted whatever the mark looks like: the link deploy puts in its place
        // holds `&` (and never a single quote).
        url = if c.hopwatch.uploads() {
            format!("'{DEB_URL_MARK}'")
        } else {
            sh_quote(&c.hopwatch.deb_url)
        },
        sha = if c.hopwatch.uploads() {
            format!("'{DEB_SHA256_MARK}'")
        } else {
            sh_quote(&c.hopwatch.deb_sha256.to_ascii_lowercase())
        },
    );
    if c.forward.enabled && matches!(role, Role::Watcher | Role::Standby) {
        // Now, not at the next boot; and the drop-in read before the unit starts.
        s.push_str("sysctl -w net.ipv4.ip_forward=1\nsystemctl daemon-reload\n");
    }
    let units = units(c, role);
    if units.is_empty() {
        s.push_str(
            "echo \"hopwatch-setup: ready; start the load with: systemctl start hopwatch-load\"\n",
        );
    } else {
        let _ = writeln!(s, "systemctl enable --now --no-block {}", units.join(" "));
    }
    s
}
