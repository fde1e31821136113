//! One cloud-init file per role (`#cloud-config`): the role's files (`roles::files`),
//! its setup script, and one `runcmd` that runs the script. Written by hand rather
//! than through a YAML library: the structure is fixed, every scalar is either a
//! checked value or a literal block (`|`), and the result is checked by
//! `cloud-init schema` in the tests.

use std::fmt::Write;

use super::config::{AzureConfig, Role};
use super::roles::{self, File};

/// Azure's limit on custom data, before base64 (64 KiB encoded).
pub const MAX_CUSTOM_DATA: usize = 49_152;

fn block(out: &mut String, text: &str, indent: &str) {
    for line in text.lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{indent}{line}");
        }
    }
}

fn write_file(out: &mut String, f: &File) {
    let _ = writeln!(
        out,
        "  - path: {}\n    owner: root:root\n    permissions: '{}'\n    content: |",
        f.path, f.mode
    );
    block(out, &f.content, "      ");
}

/// The `#cloud-config` of a role.
pub fn render(c: &AzureConfig, role: Role, source: &str) -> String {
    let hosts: Vec<&str> = c
        .vms()
        .into_iter()
        .filter(|(r, _, _)| *r == role)
        .map(|(_, n, _)| n)
        .collect();
    let fwd = c.forward.enabled;
    let what = match role {
        Role::Web if fwd => format!(
            "hopwatch web on port {}, the VIP {} on the loopback; hopwatch backend: VXLAN (UDP {}) from the watchers",
            c.vip.port, c.vip.prefix, c.forward.port
        ),
        Role::Web => format!(
            "hopwatch web on port {}, the VIP {} on the loopback",
            c.vip.port, c.vip.prefix
        ),
        Role::Watcher if fwd => format!(
            "hopwatch run ({}), peered with both route server instances, forwarding the VIP's traffic over VXLAN to the web server it chooses; the syslog server",
            roles::WATCHER_CONFIG
        ),
        Role::Watcher => format!(
            "hopwatch run ({}), peered with both route server instances; the syslog server",
            roles::WATCHER_CONFIG
        ),
        Role::Standby => format!(
            "hopwatch run ({}) as the pair's standby, its AS prepended {} times, peered with both route server instances{}; a syslog server",
            roles::WATCHER_CONFIG,
            c.standby.prepend,
            if fwd {
                ", forwarding the VIP's traffic while Azure uses its route"
            } else {
                ""
            }
        ),
        Role::Observer => {
            "hopwatch observe, peered with both route server instances, logging every route".into()
        }
        Role::Load => "hopwatch load, started by hand: systemctl start hopwatch-load".into(),
    };
    let mut s = String::from("#cloud-config\n");
    let _ = writeln!(
        s,
        "# Rendered by `hopwatch azure render` from {source}: the {} role ({}).\n# {what}.",
        role.name(),
        hosts.join(", ")
    );
    let _ = writeln!(
        s,
        "ssh_pwauth: {}\npackage_update: true\npackages:\n  - curl\n  - rsyslog",
        c.vm.allow_password
    );
    if fwd && role != Role::Observer && role != Role::Load {
        // `nft`: the watchers' affinity sets and the backends' VXLAN allow-list.
        s.push_str("  - nftables\n");
    }
    s.push_str("write_files:\n");
    let mut files = roles::files(c, role, source);
    files.push(File {
        path: roles::SETUP,
        mode: "0755",
        content: roles::setup_script(c, role),
    });
    for f in &files {
        write_file(&mut s, f);
    }
    let _ = writeln!(s, "runcmd:\n  - [{}]", roles::SETUP);
    s
}
