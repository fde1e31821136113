//! Unit tests of the deployer: the example is the seed's table, each mistake gets one
//! message with file, line and key, and the rendered files say what they must. The
//! forwarding mode's are in `tests/forward.rs`.

mod forward;

use std::path::Path;

use super::config::{self, Role};
use super::*;

const EXAMPLE: &str = include_str!("../../../examples/azure.toml");

/// The smallest config: only the release.
const MINIMAL: &str = "[hopwatch]\ndeb = \"../target/debian/hopwatch_0.1.0-1_amd64.deb\"\n";

fn errors(text: &str) -> Vec<String> {
    match config::parse(Path::new("azure.toml"), text) {
        Ok(_) => vec![],
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

fn one_error(text: &str) -> String {
    let e = errors(text);
    assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
    e.into_iter().next().unwrap_or_default()
}

fn replace(from: &str, to: &str) -> String {
    assert!(EXAMPLE.contains(from), "{from:?} is not in the example");
    EXAMPLE.replacen(from, to, 1)
}

/// The example with the watcher pair on.
fn pair() -> String {
    replace(
        "enabled = false\nname = \"watch3\"",
        "enabled = true\nname = \"watch3\"",
    )
}

/// The example with the forwarding mode on (and the watcher alone).
fn forward() -> String {
    replace(
        "enabled = false\nport = 4789",
        "enabled = true\nport = 4789",
    )
}

fn files(text: &str) -> Vec<Rendered> {
    let c = config::parse(Path::new("azure.toml"), text).unwrap().config;
    render(&c, "azure.toml").unwrap()
}

fn file<'a>(files: &'a [Rendered], path: &str) -> &'a str {
    &files.iter().find(|f| f.path == path).unwrap().text
}

#[test]
fn the_example_spells_out_the_defaults_which_are_the_seeds_table() {
    let example = config::parse(Path::new("azure.toml"), EXAMPLE)
        .unwrap()
        .config;
    let minimal = config::parse(Path::new("azure.toml"), MINIMAL)
        .unwrap()
        .config;
    for c in [&example, &minimal] {
        assert_eq!(c.region, "uksouth");
        assert_eq!(c.resource_group, "next-hop-ip-rg");
        assert_eq!(c.vm_resource_group, "next-hop-ip-vm-rg");
        assert_eq!(c.vnet.address_space.to_string(), "10.10.0.0/16");
        assert_eq!(c.vnet.route_server_subnet.to_string(), "10.10.1.0/24");
        assert_eq!(c.vm.size, "Standard_B2ms");
        assert_eq!(c.vip.prefix.to_string(), "100.64.0.1/32");
        let vms: Vec<String> = c
            .vms()
            .iter()
            .map(|(_, n, ip)| format!("{n} {ip}"))
            .collect();
        assert_eq!(
            vms,
            [
                "ws1 10.10.0.4",
                "ws2 10.10.0.5",
                "lt1 10.10.0.6",
                "watch1 10.10.0.7",
                "watch2 10.10.0.8"
            ]
        );
        assert_eq!(
            c.route_server_instances(),
            [
                "10.10.1.4".parse::<std::net::Ipv4Addr>().unwrap(),
                "10.10.1.5".parse().unwrap()
            ]
        );
    }
    // Apart from the release, the example renders exactly what the defaults render.
    let strip = |fs: Vec<Rendered>| -> Vec<String> {
        fs.into_iter()
            .filter(|f| !f.path.starts_with("cloud-init/"))
            .map(|f| f.text)
            .collect()
    };
    assert_eq!(strip(files(EXAMPLE)), strip(files(MINIMAL)));
}

#[test]
fn a_vip_inside_the_vnet_is_refused_with_file_line_and_key() {
    let e = one_error(&replace(
        "prefix = \"100.64.0.1/32\"",
        "prefix = \"10.10.15.15/32\"",
    ));
    assert!(e.starts_with("azure.toml:41: vip.prefix: "), "{e}");
    assert!(
        e.contains("inside the VNET address space 10.10.0.0/16"),
        "{e}"
    );
}

#[test]
fn a_password_is_refused_and_no_key_without_allow_password_is_refused() {
    let e = one_error(&replace(
        "allow_password = false",
        "allow_password = false\npassword = \"Pword9876543\"",
    ));
    assert!(e.starts_with("azure.toml:53: vm.password: "), "{e}");
    assert!(e.contains("never kept in a file"), "{e}");
    let e = one_error(&replace(
        "ssh_public_key = \"~/.ssh/id_ed25519.pub\"",
        "ssh_public_key = \"\"",
    ));
    assert!(
        e.contains("vm.ssh_public_key") && e.contains("allow_password"),
        "{e}"
    );
}

#[test]
fn the_retired_ubuntults_alias_is_refused() {
    let e = one_error(&replace(
        "image = \"Canonical:ubuntu-24_04-lts:server:latest\"",
        "image = \"UbuntuLTS\"",
    ));
    assert!(e.starts_with("azure.toml:46: vm.image: "), "{e}");
    assert!(
        e.contains("Canonical:ubuntu-24_04-lts:server:latest"),
        "{e}"
    );
}

#[test]
fn type_errors_and_unknown_keys_name_file_line_and_key() {
    let e = one_error(&replace("asn = 65001", "asn = \"sixty-five\""));
    assert!(e.starts_with("azure.toml:80: watcher.asn: "), "{e}");
    let e = one_error(&replace("port = 80", "port = 80\nprot = 81"));
    assert!(
        e.starts_with("azure.toml:43: vip.prot: unknown field"),
        "{e}"
    );
    let e = one_error(&replace("ip = \"10.10.0.5\"", "ip = \"10.10.0.300\""));
    assert!(e.starts_with("azure.toml:71: web[1].ip: "), "{e}");
}

#[test]
fn addressing_mistakes_are_refused() {
    let e = one_error(&replace("ip = \"10.10.0.5\"", "ip = \"10.10.0.4\""));
    assert!(e.contains("web[1].ip") && e.contains("two VMs"), "{e}");
    let e = one_error(&replace("ip = \"10.10.0.6\"", "ip = \"10.10.0.2\""));
    assert!(e.contains("load[0].ip") && e.contains("first four"), "{e}");
    let e = one_error(&replace(
        "route_server_subnet = \"10.10.1.0/24\"",
        "route_server_subnet = \"10.10.1.0/28\"",
    ));
    assert!(e.contains("/27"), "{e}");
    let e = one_error(&replace(
        "instances = [\"10.10.1.4\", \"10.10.1.5\"]",
        "instances = [\"10.10.1.4\"]",
    ));
    assert!(
        e.contains("route_server.instances") && e.contains("two"),
        "{e}"
    );
    let e = one_error(&replace(
        "bastion_subnet = \"10.10.2.0/24\"",
        "bastion_subnet = \"10.10.0.128/26\"",
    ));
    assert!(
        e.contains("vnet.bastion_subnet") && e.contains("overlaps"),
        "{e}"
    );
}

#[test]
fn reserved_and_shared_asns_are_refused() {
    let e = one_error(&replace("asn = 65001", "asn = 65515"));
    assert!(e.contains("watcher.asn") && e.contains("reserved"), "{e}");
    let e = one_error(&replace("asn = 65002", "asn = 65001"));
    assert!(e.contains("observer.asn") && e.contains("own AS"), "{e}");
}

#[test]
fn the_release_is_a_deb_to_upload_or_a_url_with_its_sha256_and_never_a_placeholder() {
    let e = errors("");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("hopwatch.deb") && e[0].contains("deb_url"),
        "{e:?}"
    );
    let url =
        |url: &str, sha: &str| format!("[hopwatch]\ndeb_url = \"{url}\"\ndeb_sha256 = \"{sha}\"\n");
    let good_sha = "ab".repeat(32);
    assert!(
        errors(&url(
            "https://downloads.example.org/hopwatch.deb",
            &good_sha
        ))
        .is_empty()
    );
    // Placeholders: a host under .invalid, a sha256 of zeros.
    let e = errors(&url(
        "https://example.invalid/hopwatch/releases/download/v0.1.0/hopwatch_0.1.0-1_amd64.deb",
        &good_sha,
    ));
    assert!(e.len() == 1 && e[0].contains("placeholder"), "{e:?}");
    let e = errors(&url(
        "https://downloads.example.org/hopwatch.deb",
        &"0".repeat(64),
    ));
    assert!(
        e.len() == 1 && e[0].contains("hopwatch.deb_sha256"),
        "{e:?}"
    );
    // One or the other.
    let both = format!(
        "{}deb = \"hopwatch.deb\"\n",
        url("https://downloads.example.org/hopwatch.deb", &good_sha)
    );
    assert!(one_error(&both).contains("not both"));
    assert!(one_error("[hopwatch]\ndeb = \"hopwatch.tar\"\n").contains("hopwatch.deb"));
    assert!(
        one_error("[hopwatch]\ndeb = \"a.deb\"\nstorage_account = \"Has_Capitals\"\n")
            .contains("hopwatch.storage_account")
    );
}

#[test]
fn with_a_deb_to_upload_deploy_uploads_it_and_the_vms_get_its_link_and_sha256() {
    let fs = files(EXAMPLE);
    let deploy = file(&fs, "deploy.sh");
    for want in [
        "az storage account create",
        "az storage blob upload",
        "az storage blob generate-sas",
        "--service-endpoints Microsoft.Storage",
        "sha256sum \"$DEB_FILE\"",
        "--custom-data \"$HERE/.deploy/cloud-init/web.yaml\"",
    ] {
        assert!(deploy.contains(want), "deploy.sh lacks {want}");
    }
    // Uploaded before any VM is created.
    assert!(deploy.find("az storage blob upload") < deploy.find("az vm create"));
    let web = file(&fs, "cloud-init/web.yaml");
    assert!(web.contains("url='@HOPWATCH_DEB_URL@'"), "{web}");
    assert!(web.contains("sha256='@HOPWATCH_DEB_SHA256@'"), "{web}");
    let ps = file(&fs, "deploy.ps1");
    assert!(
        ps.contains("Get-FileHash -Algorithm SHA256 $DEB_FILE"),
        "{ps}"
    );
}

#[test]
fn the_rendered_watcher_config_passes_the_watchers_own_checks() {
    let fs = files(EXAMPLE);
    let toml = file(&fs, "hopwatch/watcher.toml");
    let loaded = hopwatch_config::parse(Path::new("watcher.toml"), toml).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let c = loaded.config;
    assert!(c.azure);
    let rs: Vec<String> = c
        .route_servers
        .iter()
        .map(|r| format!("{} {}", r.address, r.peer_as))
        .collect();
    assert_eq!(rs, ["10.10.1.4 65515", "10.10.1.5 65515"]);
    assert_eq!(c.vips[0].backends[0].check, "http://10.10.0.4:80/health");
    assert_eq!(c.bgp.router_id.to_string(), "10.10.0.7");
    // The cloud-init writes the same file.
    let ci = file(&fs, "cloud-init/watcher.yaml");
    for line in toml.lines().filter(|l| !l.is_empty()) {
        assert!(ci.contains(&format!("      {line}\n")), "{line:?} missing");
    }
}

#[test]
fn every_unit_a_role_enables_ships_in_the_package() {
    let packaged = [
        include_str!("../../../packaging/hopwatch-run.service"),
        include_str!("../../../packaging/hopwatch-web.service"),
        include_str!("../../../packaging/hopwatch-vip.service"),
        include_str!("../../../packaging/hopwatch-observe.service"),
        include_str!("../../../packaging/hopwatch-load.service"),
        include_str!("../../../packaging/hopwatch-backend.service"),
    ];
    let cargo = include_str!("../../hopwatch/Cargo.toml");
    // The forwarding mode enables every unit the next-hop mode does, and more.
    let forwarding = config::parse(Path::new("azure.toml"), &forward())
        .unwrap()
        .config;
    for role in Role::ALL {
        for unit in roles::units(&forwarding, role) {
            let stem = unit.trim_end_matches(".service");
            assert!(
                cargo.contains(&format!("unit-name = \"{stem}\"")),
                "{unit} is not in [package.metadata.deb]"
            );
        }
    }
    let run = packaged[0];
    assert!(run.contains("Type=notify") && run.contains("WatchdogSec="));
    assert!(run.contains(roles::WATCHER_CONFIG));
    let fs = files(EXAMPLE);
    let web = file(&fs, "cloud-init/web.yaml");
    assert!(
        web.contains("/etc/default/hopwatch-web")
            && packaged[1].contains("/etc/default/hopwatch-web")
    );
    assert!(web.contains("HOPWATCH_VIP=100.64.0.1/32") && packaged[2].contains("HOPWATCH_VIP"));
    assert!(
        web.contains("systemctl enable --now --no-block hopwatch-vip.service hopwatch-web.service")
    );
}

#[test]
fn the_setup_checks_the_sha256_before_installing() {
    // The pair renders every role.
    let fs = files(&pair());
    for role in Role::ALL {
        let ci = file(&fs, &format!("cloud-init/{}.yaml", role.name()));
        let check = ci.find("sha256sum --check").unwrap();
        let install = ci.find("apt-get install").unwrap();
        assert!(check < install, "{}", role.name());
        assert!(
            ci.contains("sha256='@HOPWATCH_DEB_SHA256@'"),
            "deploy fills it in"
        );
        assert!(ci.contains("ssh_pwauth: false"));
    }
    let web = file(&fs, "cloud-init/web.yaml");
    let watcher = file(&fs, "cloud-init/watcher.yaml");
    assert!(web.contains("target=\"10.10.0.7\" port=\"514\" protocol=\"udp\""));
    assert!(watcher.contains("input(type=\"imudp\" port=\"514\""));
}

#[test]
fn a_config_without_standby_renders_a_watcher_alone() {
    let fs = files(MINIMAL);
    assert!(
        !fs.iter()
            .any(|f| f.path == STANDBY_FILE || f.path == "cloud-init/standby.yaml")
    );
    let toml = file(&fs, WATCHER_FILE);
    assert!(
        !toml.contains("[ha]") && !toml.contains("local_address"),
        "{toml}"
    );
    let loaded = hopwatch_config::parse(Path::new("watcher.toml"), toml).unwrap();
    assert_eq!(loaded.config.role(), None);
    assert!(!file(&fs, "deploy.sh").contains("watch3"));
}

#[test]
fn the_pair_renders_a_primary_and_a_standby_that_pass_the_watchers_own_checks() {
    let fs = files(&pair());
    let load = |path: &str| {
        let loaded = hopwatch_config::parse(Path::new(path), file(&fs, path)).unwrap();
        assert!(loaded.warnings.is_empty(), "{path}: {:?}", loaded.warnings);
        loaded.config
    };
    let primary = load(WATCHER_FILE);
    let standby = load(STANDBY_FILE);
    assert_eq!(primary.role(), Some(hopwatch_config::ha::Role::Primary));
    assert_eq!(primary.prepend(), 0);
    assert_eq!(standby.role(), Some(hopwatch_config::ha::Role::Standby));
    assert_eq!(standby.prepend(), 2);
    // Distinct router IDs and sources, each its VM's own address; one AS.
    assert_eq!(primary.bgp.router_id.to_string(), "10.10.0.7");
    assert_eq!(standby.bgp.router_id.to_string(), "10.10.0.9");
    assert_eq!(
        primary.bgp.local_address,
        Some("10.10.0.7".parse().unwrap())
    );
    assert_eq!(
        standby.bgp.local_address,
        Some("10.10.0.9".parse().unwrap())
    );
    assert_eq!(primary.bgp.local_as, standby.bgp.local_as);
    // The same route servers, VIP and backends, probed alike.
    let what = |c: &hopwatch_config::Config| {
        let rs: Vec<String> = c
            .route_servers
            .iter()
            .map(|r| format!("{} {}", r.address, r.peer_as))
            .collect();
        let vips: Vec<String> = c
            .vips
            .iter()
            .flat_map(|v| {
                v.backends
                    .iter()
                    .map(move |b| format!("{} {} {} {}", v.prefix, b.name, b.next_hop, b.check))
            })
            .collect();
        (rs, vips, c.health.interval, c.failover.failback_hold)
    };
    assert_eq!(what(&primary), what(&standby));
    assert_eq!(what(&standby).0, ["10.10.1.4 65515", "10.10.1.5 65515"]);
    // check describes the pair.
    let d = hopwatch_config::describe(&standby);
    assert!(
        d.contains("HA: standby watcher, announcing AS path 65001 65001 65001"),
        "{d}"
    );
    // Each VM gets its own file, at the path the packaged unit reads.
    for (role, path) in [("watcher", WATCHER_FILE), ("standby", STANDBY_FILE)] {
        let ci = file(&fs, &format!("cloud-init/{role}.yaml"));
        assert!(ci.contains(&format!("- path: {}\n", roles::WATCHER_CONFIG)));
        for line in file(&fs, path).lines().filter(|l| !l.is_empty()) {
            assert!(
                ci.contains(&format!("      {line}\n")),
                "{role}: {line:?} missing"
            );
        }
        assert!(ci.contains("systemctl enable --now --no-block hopwatch-run.service"));
        assert!(ci.contains("input(type=\"imudp\" port=\"514\""), "{role}");
    }
    // Every other VM forwards its syslog to both watchers.
    let web = file(&fs, "cloud-init/web.yaml");
    for ip in ["10.10.0.7", "10.10.0.9"] {
        assert!(
            web.contains(&format!("target=\"{ip}\" port=\"514\"")),
            "{ip}"
        );
    }
}

#[test]
fn the_pair_peers_the_standby_with_the_route_server_in_another_zone() {
    let fs = files(&pair());
    let deploy = file(&fs, "deploy.sh");
    // Each create's own lines: up to the end of its guard's `if`.
    let peerings: Vec<&str> = deploy
        .split("az network routeserver peering create")
        .skip(1)
        .map(|p| p.split("\nfi").next().unwrap_or(p))
        .collect();
    assert_eq!(peerings.len(), 3, "{deploy}");
    // Literals are quoted only when they need it.
    let standby = peerings
        .iter()
        .find(|p| p.contains("--name watch3 "))
        .unwrap();
    assert!(standby.contains("--peer-ip \"$VM_WATCH3_IP\""), "{standby}");
    assert!(standby.contains("--peer-asn 65001 "), "{standby}");
    assert!(deploy.contains("\nVM_WATCH3_IP=10.10.0.9\n"), "{deploy}");
    assert!(deploy.contains("\nSTANDBY_ZONE=2\n"), "{deploy}");
    let vm = deploy.split("--name watch3 ").last().unwrap();
    assert!(vm.contains("--zone \"$STANDBY_ZONE\""), "{vm}");
    assert!(vm.contains("cloud-init/standby.yaml"), "{vm}");
    // An explicit zone is used as is.
    let fs = files(&pair().replace("prepend = 2\n", "prepend = 2\nzone = \"3\"\n"));
    assert!(file(&fs, "deploy.sh").contains("\nSTANDBY_ZONE=3\n"));
}

#[test]
fn a_standby_that_could_fail_with_or_tie_with_the_primary_is_refused() {
    let p = pair();
    let e = one_error(&p.replace("prepend = 2\n", "prepend = 0\n"));
    assert!(e.contains("standby.prepend") && e.contains("ECMP"), "{e}");
    let e = one_error(&p.replace("prepend = 2\n", "prepend = 11\n"));
    assert!(
        e.contains("standby.prepend") && e.contains("at most 10"),
        "{e}"
    );
    let e = one_error(&p.replace("prepend = 2\n", "prepend = 2\nzone = \"1\"\n"));
    assert!(e.starts_with("azure.toml:"), "{e}");
    assert!(
        e.contains("standby.zone") && e.contains("primary's zone"),
        "{e}"
    );
    let e = one_error(&p.replace("zone = \"1\"", "zone = \"\""));
    assert!(
        e.contains("vm.zone") && e.contains("availability zones"),
        "{e}"
    );
    let e = one_error(&p.replace("ip = \"10.10.0.9\"", "ip = \"10.10.0.8\""));
    assert!(e.contains("two VMs"), "{e}");
    // Off, none of it is checked.
    assert!(errors(&EXAMPLE.replace("prepend = 2\n", "prepend = 0\n")).is_empty());
}

#[test]
fn both_shells_make_the_same_az_calls() {
    let fs = files(EXAMPLE);
    let calls = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| {
                l.trim_start().split_once("az ").filter(|(pre, _)| {
                    pre.is_empty()
                        || *pre == "if "
                        || *pre == "if ! "
                        || pre.ends_with("$(")
                        || pre.ends_with("= ")
                        || pre.ends_with("(")
                })
            })
            .map(|(_, rest)| {
                rest.split(" --")
                    .next()
                    .unwrap_or("")
                    .trim_end_matches([' ', '\\', '`'])
                    .to_string()
            })
            .collect()
    };
    let bash = calls(file(&fs, "deploy.sh"));
    let ps = calls(file(&fs, "deploy.ps1"));
    assert!(bash.len() > 20, "{bash:?}");
    assert_eq!(bash, ps);
    assert_eq!(
        calls(file(&fs, "teardown.sh")),
        calls(file(&fs, "teardown.ps1"))
    );
}

#[test]
fn one_resource_group_is_created_and_deleted_once() {
    let text = replace(
        "vm_resource_group = \"next-hop-ip-vm-rg\"",
        "vm_resource_group = \"next-hop-ip-rg\"",
    );
    let fs = files(&text);
    assert_eq!(file(&fs, "deploy.sh").matches("az group create").count(), 1);
    assert_eq!(
        file(&fs, "teardown.sh").matches("az group delete").count(),
        1
    );
}

#[test]
fn without_bastion_or_observer_nothing_of_them_is_built() {
    let text = replace(
        "enabled = true\nname = \"next-hop-ip-bastion\"",
        "enabled = false\nname = \"next-hop-ip-bastion\"",
    )
    .replace(
        "enabled = true\nname = \"watch2\"",
        "enabled = false\nname = \"watch2\"",
    );
    let fs = files(&text);
    let deploy = file(&fs, "deploy.sh");
    assert!(!deploy.contains("bastion create") && !deploy.contains("AzureBastionSubnet"));
    assert_eq!(
        deploy
            .matches("az network routeserver peering create")
            .count(),
        1
    );
    assert!(!deploy.contains("watch2"));
    assert!(!fs.iter().any(|f| f.path == "cloud-init/observer.yaml"));
}
