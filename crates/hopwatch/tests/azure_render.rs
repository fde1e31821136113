//! `hopwatch azure render` as a user runs it, and what it renders run for real against
//! a fake `az`: the scripts pass shellcheck, the cloud-init files pass
//! `cloud-init schema`, `deploy.sh` makes only calls the real Azure CLI accepts (its
//! command groups, verbs and required arguments, recorded in `azure/az_cli.rs`), creates every
//! resource after what it depends on, peers every BGP speaker with the route server,
//! and no password lands in any file. The rendered watcher config passes
//! `hopwatch check`. The forwarding mode's files pass the same checks.
//!
//! Nothing here touches the network: the fake `az` is first on a PATH the test sets,
//! and it only logs and prints canned answers. The real `az` is never run.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod azure;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::Command;

use azure::az_cli::{AZ, GLOBAL};
use azure::model::{Azure, Call, first};
use azure::{
    Temp, hopwatch, render, render_output, rendered, run_with_fake_az, text, written_file,
};

const EXAMPLE: &str = include_str!("../../../examples/azure.toml");
const SHELLCHECK: &str = "/usr/bin/shellcheck";
const CLOUD_INIT: &str = "/usr/bin/cloud-init";
const PASSWORD: &str = "Pword9876543";

/// The example with the watcher pair on (`[standby] enabled = true`).
fn pair() -> String {
    let from = "enabled = false\nname = \"watch3\"";
    assert!(EXAMPLE.contains(from));
    EXAMPLE.replacen(from, "enabled = true\nname = \"watch3\"", 1)
}

/// The example with the forwarding mode on; with `pair`, with the standby too.
fn forwarding(pair_too: bool) -> String {
    let from = "enabled = false\nport = 4789";
    let text = if pair_too { pair() } else { EXAMPLE.into() };
    assert!(text.contains(from));
    text.replacen(from, "enabled = true\nport = 4789", 1)
}

#[test]
fn the_rendered_bash_scripts_pass_shellcheck_with_no_warning() {
    let tmp = Temp::new("shellcheck");
    let out = render(&tmp, EXAMPLE);
    let files = rendered(&out);
    let mut scripts = vec![out.join("deploy.sh"), out.join("teardown.sh")];
    // The setup script each cloud-init runs, too.
    for (path, text) in files.iter().filter(|(p, _)| p.starts_with("cloud-init/")) {
        let setup = written_file(text, "/usr/local/sbin/hopwatch-setup");
        let file = tmp.0.join(path.replace('/', "-") + ".setup.sh");
        std::fs::write(&file, setup).unwrap();
        scripts.push(file);
    }
    assert!(
        Path::new(SHELLCHECK).exists(),
        "{SHELLCHECK} is missing: apt-get install shellcheck"
    );
    for s in &scripts {
        shellcheck(s);
    }
    let deploy = &files["deploy.sh"];
    assert!(deploy.starts_with("#!/usr/bin/env bash\n"));
    assert!(deploy.contains("\nset -euo pipefail\n"));
    let mode = |p: &str| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(out.join(p)).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(mode("deploy.sh"), 0o755);
    assert_eq!(mode("teardown.sh"), 0o755);
}

#[test]
fn every_cloud_init_file_passes_cloud_init_schema() {
    let tmp = Temp::new("schema");
    let out = render(&tmp, EXAMPLE);
    assert!(
        Path::new(CLOUD_INIT).exists(),
        "{CLOUD_INIT} is missing: apt-get install cloud-init"
    );
    let roles = ["web", "watcher", "observer", "load"];
    for role in roles {
        let file = out.join(format!("cloud-init/{role}.yaml"));
        let o = cloud_init_schema(&file);
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Valid cloud-config"),
            "{}",
            text(&o)
        );
        let ci = std::fs::read_to_string(&file).unwrap();
        assert!(ci.starts_with("#cloud-config\n"));
        let setup = written_file(&ci, "/usr/local/sbin/hopwatch-setup");
        assert!(setup.contains("sha256sum --check"), "{setup}");
        assert!(ci.contains("runcmd:\n  - [/usr/local/sbin/hopwatch-setup]\n"));
    }
    let web = std::fs::read_to_string(out.join("cloud-init/web.yaml")).unwrap();
    assert_eq!(
        written_file(&web, "/etc/default/hopwatch-vip")
            .lines()
            .last(),
        Some("HOPWATCH_VIP=100.64.0.1/32")
    );
    let rsyslog = written_file(&web, "/etc/rsyslog.d/90-hopwatch-forward.conf");
    assert!(rsyslog.contains("target=\"10.10.0.7\""), "{rsyslog}");
}

#[test]
fn the_rendered_watcher_config_passes_hopwatch_check() {
    let tmp = Temp::new("check");
    let out = render(&tmp, EXAMPLE);
    let watcher = out.join("hopwatch/watcher.toml");
    // The same text as the watcher's VM gets.
    let ci = std::fs::read_to_string(out.join("cloud-init/watcher.yaml")).unwrap();
    let from_ci = written_file(&ci, "/etc/hopwatch/watcher.toml");
    assert_eq!(from_ci, std::fs::read_to_string(&watcher).unwrap());
    let o = hopwatch(&["check", "-c", watcher.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains(": ok"), "{stdout}");
    assert!(
        stdout.contains("route server 10.10.1.4:179 AS 65515"),
        "{stdout}"
    );
    assert!(
        stdout.contains("route server 10.10.1.5:179 AS 65515"),
        "{stdout}"
    );
    assert!(stdout.contains("VIP 100.64.0.1/32"), "{stdout}");
    assert!(stdout.contains("Azure rules on"), "{stdout}");
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("warning"),
        "{}",
        text(&o)
    );
}

#[test]
fn deploy_makes_valid_az_calls_in_a_valid_order_and_peers_every_speaker() {
    let tmp = Temp::new("deploy");
    let out = render(&tmp, EXAMPLE);
    let (o, log) = run_with_fake_az(&tmp, &out.join("deploy.sh"), &[], &[], "");
    assert!(o.status.success(), "{}", text(&o));
    let calls: Vec<Call> = log.iter().map(|a| Call::parse(a)).collect();
    assert!(calls.len() > 20, "the fake az saw {} calls", calls.len());
    // Every call is one the real CLI knows, with its required arguments (the fake
    // refused anything else, but check the log too).
    for c in &calls {
        let known = AZ
            .iter()
            .find(|k| k.path == c.path)
            .unwrap_or_else(|| panic!("az {} is not an az command", c.path));
        for r in known.required {
            assert!(c.args.contains_key(*r), "az {} without {r}", c.path);
        }
        for f in c.args.keys() {
            assert!(
                known.required.contains(&f.as_str())
                    || known.optional.contains(&f.as_str())
                    || GLOBAL.contains(&f.as_str()),
                "az {} does not take {f}",
                c.path
            );
        }
    }
    // Resources after what they need.
    let mut azure = Azure::default();
    for c in &calls {
        azure.apply(c);
    }
    // The order of the kinds, as the issue states it (a `show` before each create is
    // its guard; the route server's addresses are read after it is made).
    let order = [
        "account show",
        "group create",
        "network vnet create",
        "network vnet subnet create",
        "network routeserver create",
        "network routeserver peering create",
        "vm create",
    ];
    let addresses_read = calls
        .iter()
        .position(|c| c.path == "network routeserver show" && c.args.contains_key("--query"))
        .expect("the route server's addresses are read");
    assert!(first(&calls, "network routeserver create") < addresses_read);
    assert!(addresses_read < first(&calls, "network routeserver peering create"));
    for pair in order.windows(2) {
        assert!(
            first(&calls, pair[0]) < first(&calls, pair[1]),
            "{} comes after {}",
            pair[0],
            pair[1]
        );
    }
    assert!(
        first(&calls, "network route-table create") < first(&calls, "network vnet subnet update")
    );
    assert!(first(&calls, "network vnet subnet update") < first(&calls, "vm create"));
    // Groups: both; VNET, subnets, route table, route server and bastion.
    assert!(azure.groups.contains("next-hop-ip-rg") && azure.groups.contains("next-hop-ip-vm-rg"));
    let subnets: HashSet<&str> = azure.subnets.values().map(|(_, _, n)| n.as_str()).collect();
    assert_eq!(
        subnets,
        HashSet::from(["default", "RouteServerSubnet", "AzureBastionSubnet"])
    );
    assert_eq!(azure.route_servers.len(), 1);
    assert_eq!(azure.route_tables.len(), 1);
    assert_eq!(azure.bastions, 1);
    // Every VM, each with its role's cloud-init, and IP forwarding on the web servers.
    let vms: Vec<(String, String)> = azure
        .vms
        .iter()
        .map(|(n, p)| {
            assert!(p.is_absolute() && p.is_file(), "{p:?}");
            (
                n.clone(),
                p.file_name().unwrap().to_string_lossy().into_owned(),
            )
        })
        .collect();
    let expect = [
        ("ws1", "web.yaml"),
        ("ws2", "web.yaml"),
        ("lt1", "load.yaml"),
        ("watch1", "watcher.yaml"),
        ("watch2", "observer.yaml"),
    ];
    assert_eq!(
        vms,
        expect
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    );
    for (nic, fwd) in &azure.nics {
        assert_eq!(*fwd, nic.1.starts_with("ws"), "IP forwarding on {}", nic.1);
    }
    let ips: BTreeMap<&str, &str> = calls
        .iter()
        .filter(|c| c.path == "network nic create")
        .map(|c| (c.get("--name"), c.get("--private-ip-address")))
        .collect();
    assert_eq!(
        ips,
        BTreeMap::from([
            ("lt1-nic", "10.10.0.6"),
            ("watch1-nic", "10.10.0.7"),
            ("watch2-nic", "10.10.0.8"),
            ("ws1-nic", "10.10.0.4"),
            ("ws2-nic", "10.10.0.5"),
        ])
    );
    // One peering per BGP speaker: the route server's two instances both peer with it
    // (Azure peers both from one peering), and the speaker's own config names both.
    assert_eq!(
        azure.peerings,
        [
            (
                "watch1".to_string(),
                "10.10.0.7".to_string(),
                "65001".to_string()
            ),
            (
                "watch2".to_string(),
                "10.10.0.8".to_string(),
                "65002".to_string()
            ),
        ]
    );
    let files = rendered(&out);
    let watcher = &files["hopwatch/watcher.toml"];
    for instance in ["10.10.1.4", "10.10.1.5"] {
        assert!(
            watcher.contains(&format!("address = \"{instance}\"")),
            "{watcher}"
        );
        let observer = written_file(
            &files["cloud-init/observer.yaml"],
            "/etc/default/hopwatch-observe",
        );
        assert!(
            observer.contains(&format!("--peer {instance}")),
            "{observer}"
        );
    }
    // The .deb: uploaded once, before any VM, and each VM's cloud-init names the
    // link deploy got and the sha256 of the file it uploaded, in a copy that is
    // still valid cloud-init (the link holds `&`).
    assert_eq!(azure.uploads, 1);
    let stand_in = std::fs::read(tmp.0.join(azure::TEST_DEB)).unwrap();
    let sha = Command::new("sha256sum")
        .arg(tmp.0.join(azure::TEST_DEB))
        .output()
        .unwrap();
    let sha = String::from_utf8_lossy(&sha.stdout)
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(sha.len(), 64, "{stand_in:?}");
    for (_, data) in &azure.vms {
        let filled = std::fs::read_to_string(data).unwrap();
        assert!(filled.contains(&format!("sha256='{sha}'")), "{filled}");
        assert!(
            filled.contains(&format!("{}?se=", azure::TEST_DEB)) && filled.contains("&sig="),
            "{filled}"
        );
        assert!(!filled.contains("@HOPWATCH_DEB"), "{filled}");
        cloud_init_schema(data);
    }
    // SSH keys only.
    for c in calls.iter().filter(|c| c.path == "vm create") {
        assert_eq!(c.get("--authentication-type"), "ssh");
        assert!(!c.args.contains_key("--admin-password"));
    }
}

#[test]
fn deploy_stops_before_peering_when_the_route_server_has_other_addresses() {
    let tmp = Temp::new("rs-ips");
    let out = render(&tmp, EXAMPLE);
    let (o, log) = run_with_fake_az(
        &tmp,
        &out.join("deploy.sh"),
        &[],
        &[("FAKE_RS_IPS", "10.10.1.6 10.10.1.7")],
        "",
    );
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("[route_server] instances"),
        "{}",
        text(&o)
    );
    let calls: Vec<Call> = log.iter().map(|a| Call::parse(a)).collect();
    assert!(calls.iter().any(|c| c.path == "network routeserver show"));
    assert!(
        !calls
            .iter()
            .any(|c| c.path.contains("peering") || c.path == "vm create")
    );
}

#[test]
fn teardown_asks_then_deletes_the_vms_group_before_the_networks() {
    let tmp = Temp::new("teardown");
    let out = render(&tmp, EXAMPLE);
    let (o, log) = run_with_fake_az(&tmp, &out.join("teardown.sh"), &[], &[], "n\n");
    assert!(!o.status.success(), "{}", text(&o));
    assert!(log.is_empty(), "{log:?}");
    // Both groups exist (each delete is guarded by a `group show`).
    let (o, log) = run_with_fake_az(
        &tmp,
        &out.join("teardown.sh"),
        &["--yes"],
        &[("FAKE_AZ_EXISTS", "group")],
        "",
    );
    assert!(o.status.success(), "{}", text(&o));
    let deleted: Vec<String> = log
        .iter()
        .map(|a| Call::parse(a))
        .filter(|c| c.path != "group show")
        .inspect(|c| assert_eq!(c.path, "group delete"))
        .map(|c| c.get("--name").to_string())
        .collect();
    assert_eq!(deleted, ["next-hop-ip-vm-rg", "next-hop-ip-rg"]);
}

#[test]
fn no_password_is_ever_written_and_one_in_the_config_is_refused() {
    // A password in the config: refused with file, line and key; nothing rendered.
    let tmp = Temp::new("password");
    let file = tmp.0.join("azure.toml");
    std::fs::write(
        &file,
        EXAMPLE.replace(
            "allow_password = false",
            &format!("allow_password = true\npassword = \"{PASSWORD}\""),
        ),
    )
    .unwrap();
    let refused = tmp.0.join("refused");
    let o = hopwatch(&[
        "azure",
        "render",
        "-c",
        file.to_str().unwrap(),
        "-o",
        refused.to_str().unwrap(),
    ]);
    assert!(!o.status.success(), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("azure.toml:53: vm.password: "), "{stderr}");
    assert!(!refused.exists());

    // The default: SSH keys only, no password anywhere.
    let out = render(&tmp, EXAMPLE);
    for (path, text) in rendered(&out) {
        assert!(!text.contains("--admin-password"), "{path}");
        assert!(!text.contains(PASSWORD), "{path}");
        assert!(!text.contains("ssh_pwauth: true"), "{path}");
    }

    // Allowed explicitly: deploy reads it from the environment when it runs, and
    // still no file holds it.
    let tmp = Temp::new("password-allowed");
    let out = render(
        &tmp,
        &EXAMPLE.replace("allow_password = false", "allow_password = true"),
    );
    let (o, _) = run_with_fake_az(&tmp, &out.join("deploy.sh"), &[], &[], "");
    assert!(
        !o.status.success(),
        "deploy ran without the password: {}",
        text(&o)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("HOPWATCH_ADMIN_PASSWORD"));
    let (o, log) = run_with_fake_az(
        &tmp,
        &out.join("deploy.sh"),
        &[],
        &[("HOPWATCH_ADMIN_PASSWORD", PASSWORD)],
        "",
    );
    assert!(o.status.success(), "{}", text(&o));
    let vms: Vec<Call> = log
        .iter()
        .map(|a| Call::parse(a))
        .filter(|c| c.path == "vm create")
        .collect();
    assert_eq!(vms.len(), 5);
    for c in &vms {
        assert_eq!(c.get("--admin-password"), PASSWORD);
        assert_eq!(c.get("--authentication-type"), "all");
    }
    for (path, text) in rendered(&out) {
        assert!(!text.contains(PASSWORD), "{path} holds the password");
    }
    // deploy.ps1 refuses, before it creates anything, what az.cmd (a batch file)
    // would mangle.
    let ps = std::fs::read_to_string(out.join("deploy.ps1")).unwrap();
    let check = ps
        .find("-match '[&|<>^%\"!]'")
        .expect("deploy.ps1 checks the password's characters");
    assert!(
        check < ps.find("az group create").unwrap(),
        "the check comes before anything is created"
    );
}

#[test]
fn a_vip_inside_the_vnet_is_refused_with_a_clear_error() {
    let tmp = Temp::new("vip");
    let file = tmp.0.join("azure.toml");
    std::fs::write(&file, EXAMPLE.replace("100.64.0.1/32", "10.10.15.15/32")).unwrap();
    let out = tmp.0.join("out");
    let o = hopwatch(&[
        "azure",
        "render",
        "-c",
        file.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success(), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("azure.toml:41: vip.prefix: 10.10.15.15/32 lies inside the VNET address space 10.10.0.0/16"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn the_help_teaches_what_render_writes() {
    let o = hopwatch(&["azure", "render", "--help"]);
    assert!(o.status.success(), "{}", text(&o));
    let help = String::from_utf8_lossy(&o.stdout);
    for want in [
        "deploy.sh",
        "deploy.ps1",
        "teardown.sh",
        "cloud-init/ROLE.yaml",
        "hopwatch check",
        "examples/azure.toml",
        "hopwatch/standby.toml",
        "[standby] enabled = true",
        "[forward] enabled = true",
        "hopwatch-backend.service",
    ] {
        assert!(help.contains(want), "--help lacks {want}:\n{help}");
    }
}

#[test]
fn the_fake_az_refuses_what_the_real_one_refuses() {
    let tmp = Temp::new("fake");
    let script = tmp.0.join("calls.sh");
    let cases = [
        (
            "az network vnett create --name a --resource-group b",
            "not an az command",
        ),
        (
            "az network vnet create --name a",
            "required: --resource-group",
        ),
        (
            "az network vnet create --name a --resource-group b --bogus 1",
            "unrecognized arguments: --bogus",
        ),
        (
            "az network routeserver peering create --name w --resource-group g",
            "required: --routeserver",
        ),
        (
            "az vm create --name v --resource-group g --image UbuntuLTS",
            "",
        ),
        // What the real CLI says of these: no `--no-wait` on routeserver
        // create, and the bastion's options are `--enable-...`.
        (
            "az network routeserver create --name r --resource-group g --hosted-subnet s --public-ip-address p --no-wait",
            "unrecognized arguments: --no-wait",
        ),
        (
            "az network bastion create --name b --resource-group g --public-ip-address p --vnet-name v --kerberos",
            "unrecognized arguments: --kerberos",
        ),
        // A show of what no create made: not found, as Azure says.
        (
            "az network vnet show --name a --resource-group b",
            "ResourceNotFound",
        ),
    ];
    for (call, error) in cases {
        std::fs::write(&script, format!("set -e\n{call}\n")).unwrap();
        let (o, log) = run_with_fake_az(&tmp, &script, &[], &[], "");
        assert_eq!(log.len(), 1, "{call}");
        if error.is_empty() {
            assert!(o.status.success(), "{call}: {}", text(&o));
        } else {
            let code = if error == "ResourceNotFound" { 3 } else { 2 };
            assert_eq!(o.status.code(), Some(code), "{call}: {}", text(&o));
            assert!(
                String::from_utf8_lossy(&o.stderr).contains(error),
                "{call}: {}",
                text(&o)
            );
        }
    }
}

#[test]
fn the_pair_renders_a_standby_that_passes_shellcheck_cloud_init_and_hopwatch_check() {
    let tmp = Temp::new("pair");
    let out = render(&tmp, &pair());
    let files = rendered(&out);
    for setup in roles_pass_their_checks(&tmp, &out, &files, &["watcher", "standby"]) {
        assert!(
            setup.contains("systemctl enable --now --no-block hopwatch-run.service"),
            "{setup}"
        );
    }
    // Each watcher's config, as its VM gets it, passes `hopwatch check` without a
    // warning, and says its role; the router IDs differ, the route servers agree.
    let mut ids = Vec::new();
    for (role, path) in [
        ("watcher", "hopwatch/watcher.toml"),
        ("standby", "hopwatch/standby.toml"),
    ] {
        let from_ci = written_file(
            &files[&format!("cloud-init/{role}.yaml")],
            "/etc/hopwatch/watcher.toml",
        );
        assert_eq!(from_ci, files[path], "{role}");
        let o = hopwatch(&["check", "-c", out.join(path).to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("warning"),
            "{}",
            text(&o)
        );
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        for rs in ["10.10.1.4", "10.10.1.5"] {
            assert!(
                stdout.contains(&format!("route server {rs}:179 AS 65515")),
                "{stdout}"
            );
        }
        assert!(stdout.contains("VIP 100.64.0.1/32"), "{stdout}");
        let (want, id) = if role == "standby" {
            (
                "HA: standby watcher, announcing AS path 65001 65001 65001",
                "10.10.0.9",
            )
        } else {
            (
                "HA: primary watcher, announcing AS path 65001 (",
                "10.10.0.7",
            )
        };
        assert!(stdout.contains(want), "{stdout}");
        assert!(
            stdout.contains(&format!("BGP: AS 65001 as {id} from {id}")),
            "{stdout}"
        );
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1]);
}

#[test]
fn deploy_of_the_pair_builds_the_standby_in_another_zone_and_peers_it_with_both_instances() {
    let tmp = Temp::new("pair-deploy");
    let out = render(&tmp, &pair());
    let (o, log) = run_with_fake_az(&tmp, &out.join("deploy.sh"), &[], &[], "");
    assert!(o.status.success(), "{}", text(&o));
    let calls: Vec<Call> = log.iter().map(|a| Call::parse(a)).collect();
    let mut azure = Azure::default();
    for c in &calls {
        azure.apply(c);
    }
    // One peering per speaker: Azure peers both route server instances with each, and
    // the standby shares the primary's AS.
    let peerings: Vec<(&str, &str, &str)> = azure
        .peerings
        .iter()
        .map(|(n, ip, asn)| (n.as_str(), ip.as_str(), asn.as_str()))
        .collect();
    assert_eq!(
        peerings,
        [
            ("watch1", "10.10.0.7", "65001"),
            ("watch3", "10.10.0.9", "65001"),
            ("watch2", "10.10.0.8", "65002"),
        ]
    );
    let vms: Vec<(String, String)> = azure
        .vms
        .iter()
        .map(|(n, p)| {
            (
                n.clone(),
                p.file_name().unwrap().to_string_lossy().into_owned(),
            )
        })
        .collect();
    assert!(
        vms.contains(&("watch3".to_string(), "standby.yaml".to_string())),
        "{vms:?}"
    );
    assert_eq!(vms.len(), 6, "{vms:?}");
    let zones: BTreeMap<&str, &str> = calls
        .iter()
        .filter(|c| c.path == "vm create")
        .map(|c| (c.get("--name"), c.get("--zone")))
        .collect();
    assert_eq!(zones["watch1"], "1");
    assert_eq!(zones["watch3"], "2", "{zones:?}");
    let standby = &rendered(&out)["hopwatch/standby.toml"];
    for instance in ["10.10.1.4", "10.10.1.5"] {
        assert!(
            standby.contains(&format!("address = \"{instance}\"")),
            "{standby}"
        );
    }
}

#[test]
fn the_forwarding_mode_renders_files_that_pass_their_checks_and_forwarding_watcher_nics() {
    // A watcher alone: rendered, with a warning that names the key, and the mode.
    let (_, o) = render_output(&Temp::new("forward-alone"), &forwarding(false));
    assert!(o.status.success(), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("warning: ") && stderr.contains(": forward.enabled: without [standby]"),
        "{stderr}"
    );
    assert!(stderr.contains("\nForwarding mode: "), "{stderr}");

    let tmp = Temp::new("forward");
    let out = render(&tmp, &forwarding(true));
    let files = rendered(&out);
    roles_pass_their_checks(&tmp, &out, &files, &["web", "watcher", "standby"]);
    // Each watcher forwards from its own address, and `hopwatch check` agrees.
    for (path, ip) in [
        ("hopwatch/watcher.toml", "10.10.0.7"),
        ("hopwatch/standby.toml", "10.10.0.9"),
    ] {
        assert!(
            files[path].contains(&format!("[forward]\naddress = \"{ip}\"\n")),
            "{path}"
        );
        let o = hopwatch(&["check", "-c", out.join(path).to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("warning"),
            "{}",
            text(&o)
        );
    }
    let backend = written_file(
        &files["cloud-init/web.yaml"],
        "/etc/default/hopwatch-backend",
    );
    assert!(
        backend.ends_with(
            "HOPWATCH_BACKEND_ARGS=\"--vip 100.64.0.1/32 --watcher 10.10.0.7 --watcher 10.10.0.9\"\n"
        ),
        "{backend}"
    );
    // deploy.sh: only calls the real CLI accepts (the NSG advice is a comment: the
    // fake refuses `az network nsg`), IP forwarding on the web servers' and the
    // watchers' NICs only.
    let (o, log) = run_with_fake_az(&tmp, &out.join("deploy.sh"), &[], &[], "");
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("add the NSG rule for UDP 4789"),
        "{}",
        text(&o)
    );
    let mut azure = Azure::default();
    for c in log.iter().map(|a| Call::parse(a)) {
        azure.apply(&c);
    }
    let forwarding: BTreeMap<&str, bool> = azure
        .nics
        .iter()
        .map(|((_, nic), fwd)| (nic.as_str(), *fwd))
        .collect();
    assert_eq!(
        forwarding,
        BTreeMap::from([
            ("lt1-nic", false),
            ("watch1-nic", true),
            ("watch2-nic", false),
            ("watch3-nic", true),
            ("ws1-nic", true),
            ("ws2-nic", true),
        ])
    );
}

/// `cloud-init schema --config-file FILE` succeeds; its output.
fn cloud_init_schema(file: &Path) -> std::process::Output {
    let o = Command::new(CLOUD_INIT)
        .args(["schema", "--config-file"])
        .arg(file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}: {}", file.display(), text(&o));
    o
}

/// `shellcheck` at style severity accepts `script`.
fn shellcheck(script: &Path) {
    let o = Command::new(SHELLCHECK)
        .args(["--severity=style", "--external-sources"])
        .arg(script)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}: {}", script.display(), text(&o));
}

/// `cloud-init schema` accepts the cloud-init of each of `roles`, and `shellcheck`
/// accepts `deploy.sh` and each role's setup script; returns the setup scripts.
fn roles_pass_their_checks(
    tmp: &Temp,
    out: &Path,
    files: &BTreeMap<String, String>,
    roles: &[&str],
) -> Vec<String> {
    assert!(
        Path::new(SHELLCHECK).exists() && Path::new(CLOUD_INIT).exists(),
        "{SHELLCHECK} or {CLOUD_INIT} is missing: apt-get install shellcheck cloud-init"
    );
    let mut scripts = vec![out.join("deploy.sh")];
    let mut setups = Vec::new();
    for role in roles {
        let ci = out.join(format!("cloud-init/{role}.yaml"));
        cloud_init_schema(&ci);
        let setup = written_file(
            &files[&format!("cloud-init/{role}.yaml")],
            "/usr/local/sbin/hopwatch-setup",
        );
        let file = tmp.0.join(format!("{role}.setup.sh"));
        std::fs::write(&file, &setup).unwrap();
        scripts.push(file);
        setups.push(setup);
    }
    for s in &scripts {
        shellcheck(s);
    }
    setups
}

/// The kinds of resource a script's calls create (`network vnet`, `vm`, ...), in
/// order; `group create` and `storage container create` are left out: they are
/// idempotent by nature (a PUT of the same group; an existing container is kept).
fn created(log: &[Vec<String>]) -> Vec<String> {
    log.iter()
        .map(|a| Call::parse(a).path)
        .filter(|p| {
            p.ends_with(" create") && p != "group create" && p != "storage container create"
        })
        .collect()
}

#[test]
fn a_second_deploy_creates_nothing_and_one_after_an_interruption_only_what_is_missing() {
    for (name, config) in [
        ("example", EXAMPLE.to_string()),
        ("pair", pair()),
        ("forward", forwarding(true)),
    ] {
        let tmp = Temp::new(&format!("twice-{name}"));
        let out = render(&tmp, &config);
        let deploy = out.join("deploy.sh");
        let (o, first) = run_with_fake_az(&tmp, &deploy, &[], &[], "");
        assert!(o.status.success(), "{name}: {}", text(&o));
        let made = created(&first);
        assert!(made.len() > 10, "{name}: {made:?}");
        let (o, second) = run_with_fake_az(&tmp, &deploy, &[], &[], "");
        assert!(o.status.success(), "{name}, again: {}", text(&o));
        assert_eq!(
            created(&second),
            Vec::<String>::new(),
            "{name}: the second run created"
        );

        // An interrupted run (the bastion fails), then a complete one: each resource
        // is created once over both.
        let tmp = Temp::new(&format!("interrupted-{name}"));
        let out = render(&tmp, &config);
        let deploy = out.join("deploy.sh");
        let (o, cut) = run_with_fake_az(
            &tmp,
            &deploy,
            &[],
            &[("FAKE_AZ_FAIL", "network bastion create")],
            "",
        );
        assert!(!o.status.success(), "{name}: the injected failure stops it");
        let (o, rest) = run_with_fake_az(&tmp, &deploy, &[], &[], "");
        assert!(
            o.status.success(),
            "{name}, after the interruption: {}",
            text(&o)
        );
        // The failed create is the last call of the interrupted run: not made.
        let failed = cut.last().map(|a| Call::parse(a).path);
        assert_eq!(failed.as_deref(), Some("network bastion create"), "{name}");
        let mut both: Vec<(String, String)> = cut[..cut.len() - 1]
            .iter()
            .chain(&rest)
            .map(|a| Call::parse(a))
            .filter(|c| {
                c.path.ends_with(" create")
                    && c.path != "group create"
                    && c.path != "storage container create"
            })
            .map(|c| {
                let name = c.args.get("--name").cloned().flatten().unwrap_or_default();
                (c.path, name)
            })
            .collect();
        let n = both.len();
        both.sort();
        both.dedup();
        assert_eq!(both.len(), n, "{name}: a resource was created twice");
        assert_eq!(n, made.len(), "{name}: not everything was created");

        // Teardown converges too: the second deletes nothing and succeeds.
        let teardown = out.join("teardown.sh");
        let (o, t1) = run_with_fake_az(&tmp, &teardown, &["--yes"], &[], "");
        assert!(o.status.success(), "{}", text(&o));
        let deletes = |log: &[Vec<String>]| {
            log.iter()
                .filter(|a| Call::parse(a).path == "group delete")
                .count()
        };
        assert_eq!(deletes(&t1), 2);
        let (o, t2) = run_with_fake_az(&tmp, &teardown, &["--yes"], &[], "");
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(deletes(&t2), 0, "the second teardown deleted again");
    }
}
