//! The forwarding mode (`[forward] enabled = true`): off, nothing of it is rendered;
//! on, each watcher's config forwards from its own address, the web servers run
//! `hopwatch backend` for both watchers, the watchers' NICs forward, `deploy.sh`
//! names the NSG rule for the VXLAN port; a bad port is refused with its key, a
//! single watcher warned about.

use std::path::Path;

use super::*;
use crate::config::DEFAULT_VXLAN_PORT;

/// The example with the pair and the forwarding mode on.
fn forward_pair() -> String {
    forward().replacen(
        "enabled = false\nname = \"watch3\"",
        "enabled = true\nname = \"watch3\"",
        1,
    )
}

/// The line of the example's `[forward] port`.
fn port_line() -> usize {
    EXAMPLE
        .lines()
        .position(|l| l == "port = 4789")
        .map(|i| i + 1)
        .unwrap()
}

/// Each NIC `deploy.sh` creates, with whether it has IP forwarding.
fn nics(deploy: &str) -> Vec<(String, bool)> {
    deploy
        .split("az network nic create")
        .skip(1)
        .map(|call| {
            let call = call.split("--output").next().unwrap_or(call);
            let name = call
                .split("--name ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_default()
                .to_string();
            (name, call.contains("--ip-forwarding true"))
        })
        .collect()
}

/// What the cloud-init writes at `path`, its indentation removed.
fn written<'a>(ci: &'a str, path: &str) -> Vec<&'a str> {
    let start = ci
        .find(&format!("- path: {path}\n"))
        .unwrap_or_else(|| panic!("{path} is not written"));
    ci[start..]
        .lines()
        .skip(4)
        .take_while(|l| l.is_empty() || l.starts_with("      "))
        .map(|l| l.trim_start())
        .collect()
}

/// Everything a forwarding mode would add, none of which the next-hop mode renders.
const FORWARD_ONLY: [&str; 10] = [
    "[forward]",
    "hopwatch-backend",
    "HOPWATCH_BACKEND_ARGS",
    "nftables",
    "ip_forward",
    "VXLAN",
    "CAP_NET_ADMIN",
    "NSG",
    "Forwarding mode",
    "sysctl",
];

#[test]
fn forward_off_renders_what_it_rendered_before() {
    // Off, the port is neither checked nor used: the files are the same.
    let off = files(EXAMPLE);
    let other_port = files(&replace("port = 4789", "port = 0"));
    assert_eq!(off.len(), other_port.len());
    for (a, b) in off.iter().zip(&other_port) {
        assert_eq!((&a.path, &a.text), (&b.path, &b.text));
    }
    for f in off.iter().chain(&files(&pair())) {
        for word in FORWARD_ONLY {
            assert!(!f.text.contains(word), "{}: {word}", f.path);
        }
    }
    // IP forwarding on the web servers' NICs only, as before.
    let nics = nics(file(&off, "deploy.sh"));
    assert_eq!(nics.len(), 5, "{nics:?}");
    for (name, fwd) in nics {
        assert_eq!(fwd, name.starts_with("ws"), "{name}");
    }
    let c = config::parse(Path::new("azure.toml"), EXAMPLE).unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert!(mode_summary(&c.config).starts_with("Next-hop mode:"));
    assert!(
        mode_summary(&c.config)
            .contains("waits for Azure to program the new next hop (1 to 5.6 s)")
    );
}

#[test]
fn each_watcher_forwards_from_its_own_address_and_passes_the_watchers_own_checks() {
    let fs = files(&forward_pair());
    for (path, ip) in [(WATCHER_FILE, "10.10.0.7"), (STANDBY_FILE, "10.10.0.9")] {
        let toml = file(&fs, path);
        assert!(
            toml.contains(&format!("[forward]\naddress = \"{ip}\"\n\n")),
            "{toml}"
        );
        // The port is the watcher's default: the three defaults agree.
        assert!(!toml.contains("port ="), "{toml}");
        let loaded = hopwatch_config::parse(Path::new(path), toml).unwrap();
        assert!(loaded.warnings.is_empty(), "{path}: {:?}", loaded.warnings);
        let f = loaded.config.forward.unwrap();
        assert_eq!(f.address.to_string(), ip);
        assert_eq!(f.port, DEFAULT_VXLAN_PORT);
        assert_eq!(
            loaded.config.bgp.local_address,
            Some(ip.parse().unwrap()),
            "the next hop is the address the watcher peers from"
        );
    }
    // A watcher alone forwards too (with a warning, below).
    let fs = files(&forward());
    let toml = file(&fs, WATCHER_FILE);
    let loaded = hopwatch_config::parse(Path::new("watcher.toml"), toml).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(
        loaded.config.forward.unwrap().address.to_string(),
        "10.10.0.7"
    );
}

#[test]
fn the_web_servers_run_the_backend_for_both_watchers() {
    let fs = files(&forward_pair());
    let web = file(&fs, "cloud-init/web.yaml");
    assert!(
        web.contains("packages:\n  - curl\n  - rsyslog\n  - nftables\n"),
        "{web}"
    );
    assert_eq!(
        written(web, "/etc/default/hopwatch-backend").last(),
        Some(
            &"HOPWATCH_BACKEND_ARGS=\"--vip 100.64.0.1/32 --watcher 10.10.0.7 --watcher 10.10.0.9\""
        )
    );
    assert!(web.contains(
        "systemctl enable --now --no-block hopwatch-vip.service hopwatch-web.service hopwatch-backend.service\n"
    ));
    // The packaged unit reads that file and may do what the backend does.
    let unit = include_str!("../../../../packaging/hopwatch-backend.service");
    for want in [
        "EnvironmentFile=/etc/default/hopwatch-backend",
        "ExecStart=/usr/bin/hopwatch backend $HOPWATCH_BACKEND_ARGS",
        "After=network-online.target hopwatch-vip.service",
        "Restart=on-failure",
        "AmbientCapabilities=CAP_NET_ADMIN",
        "AF_NETLINK",
    ] {
        assert!(unit.contains(want), "{want}");
    }
    // The watchers: nft, forwarding in the kernel, and a unit allowed to set it up;
    // the observer and the load injector get none of it.
    for role in ["watcher", "standby"] {
        let ci = file(&fs, &format!("cloud-init/{role}.yaml"));
        assert!(ci.contains("  - nftables\n"), "{role}");
        let drop_in = written(ci, roles::RUN_FORWARD_DROP_IN);
        for want in [
            "CapabilityBoundingSet=CAP_NET_ADMIN",
            "AmbientCapabilities=CAP_NET_ADMIN",
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK",
        ] {
            assert!(drop_in.contains(&want), "{role}: {drop_in:?}");
        }
        assert!(written(ci, roles::FORWARD_SYSCTL).contains(&"net.ipv4.ip_forward = 1"));
        let sysctl = ci.find("sysctl -w net.ipv4.ip_forward=1\n").unwrap();
        let reload = ci.find("systemctl daemon-reload\n").unwrap();
        let enable = ci.find("systemctl enable --now").unwrap();
        assert!(sysctl < enable && reload < enable, "{role}");
    }
    for role in ["observer", "load"] {
        let ci = file(&fs, &format!("cloud-init/{role}.yaml"));
        for word in FORWARD_ONLY {
            assert!(!ci.contains(word), "{role}: {word}");
        }
    }
    // A watcher alone: the backend takes VXLAN from it only.
    let fs = files(&forward());
    assert!(
        file(&fs, "cloud-init/web.yaml")
            .contains("HOPWATCH_BACKEND_ARGS=\"--vip 100.64.0.1/32 --watcher 10.10.0.7\"\n")
    );
}

#[test]
fn deploy_forwards_on_the_watchers_nics_and_names_the_udp_rule() {
    let fs = files(&forward_pair());
    let deploy = file(&fs, "deploy.sh");
    let forwarding: Vec<(String, bool)> = nics(deploy);
    assert_eq!(
        forwarding,
        [
            ("ws1-nic", true),
            ("ws2-nic", true),
            ("lt1-nic", false),
            ("watch1-nic", true),
            ("watch3-nic", true),
            ("watch2-nic", false),
        ]
        .map(|(n, f)| (n.to_string(), f))
    );
    // The render creates no NSG, so the rule is a comment, in both shells, after
    // the NICs it names exist.
    let nsg = deploy.find("# Forwarding mode: an NSG rule").unwrap();
    assert!(deploy.rfind("az vm create").unwrap() < nsg);
    for want in [
        "#   priority 100: allow UDP 4789 from the watchers 10.10.0.7 10.10.0.9 to 10.10.0.4 10.10.0.5\n",
        "#   priority 110: deny UDP 4789 from any other source",
        "--name allow-vxlan-from-watchers --priority 100 --direction Inbound --access Allow --protocol Udp --source-address-prefixes 10.10.0.7 10.10.0.9 --destination-port-ranges 4789\n",
        "--name deny-vxlan --priority 110 --direction Inbound --access Deny --protocol Udp --source-address-prefixes '*' --destination-port-ranges 4789\n",
        "#   az network nic update --resource-group next-hop-ip-vm-rg --name ws2-nic --network-security-group hopwatch-web-nsg\n",
    ] {
        assert!(deploy.contains(want), "{want}\n{deploy}");
    }
    let ps = file(&fs, "deploy.ps1");
    assert!(
        ps.contains(
            "--source-address-prefixes '10.10.0.7' '10.10.0.9' --destination-port-ranges 4789\n"
        ),
        "{ps}"
    );
    for script in [deploy, ps] {
        assert!(
            script
                .lines()
                .filter(|l| l.contains("az network nsg") || l.contains("az network nic update"))
                .all(|l| l.starts_with('#')),
            "an NSG call that is not a comment"
        );
        assert!(script.contains("add the NSG rule for UDP 4789 to the web servers"));
        // The header says the mode and what it costs.
        assert!(script.contains("# Forwarding mode: the VIP's route points at the watcher"));
        assert!(script.contains("hold time (9 s)"));
    }
}

#[test]
fn another_port_reaches_every_side() {
    let text = forward_pair().replace("enabled = true\nport = 4789", "enabled = true\nport = 8472");
    let fs = files(&text);
    for path in [WATCHER_FILE, STANDBY_FILE] {
        let toml = file(&fs, path);
        assert!(toml.contains("port = 8472\n"), "{toml}");
        let loaded = hopwatch_config::parse(Path::new(path), toml).unwrap();
        assert_eq!(loaded.config.forward.unwrap().port, 8472);
    }
    assert!(file(&fs, "cloud-init/web.yaml").contains(
        "HOPWATCH_BACKEND_ARGS=\"--vip 100.64.0.1/32 --watcher 10.10.0.7 --watcher 10.10.0.9 --port 8472\""
    ));
    let deploy = file(&fs, "deploy.sh");
    assert!(deploy.contains("allow UDP 8472 from the watchers"));
    assert!(deploy.contains("--destination-port-ranges 8472\n"));
    assert!(!deploy.contains("4789"));
}

#[test]
fn a_bad_port_is_refused_with_file_line_and_key() {
    let line = port_line();
    let e =
        one_error(&forward().replace("enabled = true\nport = 4789", "enabled = true\nport = 0"));
    assert!(
        e.starts_with(&format!(
            "azure.toml:{}: forward.port: 0 is not a UDP port",
            line
        )),
        "{e}"
    );
    let e =
        one_error(&forward().replace("enabled = true\nport = 4789", "enabled = true\nport = 514"));
    assert!(
        e.starts_with(&format!("azure.toml:{line}: forward.port: 514: ")),
        "{e}"
    );
    assert!(e.contains("syslog"), "{e}");
    let e = one_error(&forward().replace(
        "enabled = true\nport = 4789",
        "enabled = true\nport = 65536",
    ));
    assert!(
        e.starts_with(&format!("azure.toml:{line}: forward.port: ")),
        "{e}"
    );
    let e =
        one_error(&forward().replace("enabled = true\nport = 4789", "enabled = true\nprot = 4789"));
    assert!(e.contains("forward.prot: unknown field"), "{e}");
}

#[test]
fn a_forwarding_watcher_alone_is_warned_about_and_the_pair_is_not() {
    let alone = config::parse(Path::new("azure.toml"), &forward()).unwrap();
    let w: Vec<String> = alone.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(w.len(), 1, "{w:?}");
    // The line before the port's.
    let enabled = port_line() - 1;
    assert!(
        w[0].starts_with(&format!("azure.toml:{enabled}: forward.enabled: ")),
        "{w:?}"
    );
    assert!(
        w[0].contains("single point of failure") && w[0].contains("[standby] enabled = true"),
        "{w:?}"
    );
    let summary = mode_summary(&alone.config);
    assert!(
        summary.contains("until that VM is back (no [standby])"),
        "{summary}"
    );

    let pair = config::parse(Path::new("azure.toml"), &forward_pair()).unwrap();
    assert!(pair.warnings.is_empty(), "{:?}", pair.warnings);
    let summary = mode_summary(&pair.config);
    assert!(summary.starts_with("Forwarding mode:"), "{summary}");
    assert!(
        summary.contains("a backend failover takes the watcher's milliseconds")
            && summary.contains(
                "a watcher host failure costs the BGP hold time (9 s) plus Azure's programming (1 to 5.6 s)"
            ),
        "{summary}"
    );
}
