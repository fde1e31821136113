//! Checks of the deployer's config as a whole: addressing (subnets inside the VNET,
//! VMs inside their subnet, the VIP outside the VNET), Azure's naming and AS rules,
//! the SSH-key-only login, the release, the watcher pair and the forwarding mode.
//! Each finding is `(key path, message)`; `config::parse` adds the file and the
//! line. [`check`] finds what cannot work (nothing is rendered), [`warnings`] what
//! works but is probably not what was meant (printed, then rendered).
//!
//! Every string that reaches a rendered script is checked here against a small
//! alphabet, so the renderers can quote without surprises.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

use std::time::Duration;

use hopwatch_bgp::{Asn, Prefix};
use hopwatch_config::bounds;

use super::config::AzureConfig;

/// AS numbers Azure Route Server keeps (65515, 65517-65520) or IANA reserves.
fn reserved_asn(asn: Asn) -> bool {
    [0, 23456, 65515, 65517, 65518, 65519, 65520, 65535].contains(&asn.0)
        || (64496..=64511).contains(&asn.0)
}

/// User names Azure refuses for a Linux VM's admin (a subset of its list).
const RESERVED_USERS: [&str; 12] = [
    "root",
    "admin",
    "administrator",
    "user",
    "user1",
    "test",
    "test1",
    "guest",
    "owner",
    "sys",
    "support",
    "adm",
];

fn v4(p: &Prefix) -> Option<(u32, u32)> {
    match p.addr() {
        IpAddr::V4(a) => {
            let size = 1u64 << (32 - u32::from(p.len()));
            let start = u32::from(a);
            Some((start, start.saturating_add((size - 1) as u32)))
        }
        IpAddr::V6(_) => None,
    }
}

fn overlaps(a: &Prefix, b: &Prefix) -> bool {
    a.contains(b.addr()) || b.contains(a.addr())
}

/// Letters, digits and `extra`, 1 to `max` characters.
fn name_ok(s: &str, max: usize, extra: &str) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// Checks a parsed config; empty when it can be rendered.
pub fn check(c: &AzureConfig) -> Vec<(String, String)> {
    let mut e: Vec<(String, String)> = Vec::new();
    let mut err = |k: &str, m: String| e.push((k.to_string(), m));

    // Names that end up in az commands.
    if !name_ok(&c.region, 40, "") || c.region.chars().any(|ch| ch.is_ascii_uppercase()) {
        err(
            "region",
            format!(
                "{:?}: a region is written in lower case letters and digits, like \"uksouth\"",
                c.region
            ),
        );
    }
    let resource_names = [
        ("resource_group", &c.resource_group, 90),
        ("vm_resource_group", &c.vm_resource_group, 90),
        ("vnet.name", &c.vnet.name, 64),
        ("vnet.subnet_name", &c.vnet.subnet_name, 80),
        ("vnet.nat_gateway", &c.vnet.nat_gateway, 80),
        ("vnet.nat_public_ip", &c.vnet.nat_public_ip, 80),
        ("route_server.name", &c.route_server.name, 80),
        ("route_server.public_ip", &c.route_server.public_ip, 80),
        ("bastion.name", &c.bastion.name, 80),
        ("bastion.public_ip", &c.bastion.public_ip, 80),
        ("route_table.name", &c.route_table.name, 80),
        ("vm.size", &c.vm.size, 80),
    ];
    for (key, value, max) in resource_names {
        if !name_ok(value, max, "-_.") {
            err(
                key,
                format!(
                    "{value:?}: use 1 to {max} letters, digits, '-', '_' or '.' (it is an Azure resource name)"
                ),
            );
        }
    }

    addressing(c, &mut err);
    vms(c, &mut err);
    login(c, &mut err);
    release(c, &mut err);
    speakers(c, &mut err);
    standby(c, &mut err);
    forward(c, &mut err);

    // The watcher's own bounds (`config::bounds`): what this renders, `hopwatch
    // check` accepts.
    let h = &c.health;
    let mut owned = |k: String, m: String| err(&k, m);
    bounds::duration(
        &mut owned,
        "health.interval",
        h.interval,
        bounds::MIN_INTERVAL,
        bounds::MAX_INTERVAL,
        "a backend probed less often is not being watched",
    );
    if h.timeout.is_zero() {
        owned(
            "health.timeout".into(),
            "a zero timeout fails every probe".into(),
        );
    }
    bounds::duration(
        &mut owned,
        "health.timeout",
        h.timeout,
        Duration::ZERO,
        bounds::MAX_TIMEOUT,
        "a silent backend is seen only a timeout after its last answer",
    );
    bounds::fall_rise(&mut owned, "health.fall", h.fall);
    bounds::fall_rise(&mut owned, "health.rise", h.rise);
    bounds::duration(
        &mut owned,
        "watcher.failback_hold",
        c.watcher.failback_hold,
        Duration::ZERO,
        bounds::MAX_FAILBACK_HOLD,
        "a longer hold never fails back",
    );
    if !h.path.starts_with('/') || !name_ok(&h.path, 200, "/-_.") {
        err(
            "health.path",
            format!(
                "{:?}: a path like \"/health\" (letters, digits, '/', '-', '_', '.')",
                h.path
            ),
        );
    }
    e
}

fn addressing(c: &AzureConfig, err: &mut impl FnMut(&str, String)) {
    let n = &c.vnet;
    let space = n.address_space;
    if !space.addr().is_ipv4() {
        err(
            "vnet.address_space",
            "Azure Route Server is IPv4 only: use an IPv4 address space".into(),
        );
        return;
    }
    let subnets = [
        ("vnet.subnet", n.subnet),
        ("vnet.route_server_subnet", n.route_server_subnet),
        ("vnet.bastion_subnet", n.bastion_subnet),
    ];
    for (i, (key, s)) in subnets.iter().enumerate() {
        if !s.addr().is_ipv4() || !space.contains(s.addr()) || s.len() < space.len() {
            err(key, format!("{s} is not inside the VNET's {space}"));
        }
        for (other_key, o) in &subnets[..i] {
            if overlaps(s, o) {
                err(key, format!("{s} overlaps {other_key} {o}"));
            }
        }
    }
    if n.route_server_subnet.len() > 27 {
        err(
            "vnet.route_server_subnet",
            format!(
                "{}: RouteServerSubnet must be a /27 or larger",
                n.route_server_subnet
            ),
        );
    }
    if c.bastion.enabled && n.bastion_subnet.len() > 26 {
        err(
            "vnet.bastion_subnet",
            format!(
                "{}: AzureBastionSubnet must be a /26 or larger",
                n.bastion_subnet
            ),
        );
    }
    let vip = c.vip.prefix;
    if !vip.addr().is_ipv4() || vip.len() != 32 {
        err(
            "vip.prefix",
            format!("{vip}: the VIP is one IPv4 address, a /32 like 100.64.0.1/32"),
        );
    } else if space.contains(vip.addr()) {
        err(
            "vip.prefix",
            format!(
                "{vip} lies inside the VNET address space {space}: the VNET's system route for {space} wins over any route learned by BGP, so this VIP can never move (the seed's first VIP, 10.10.15.15, had this problem). Use an address outside the VNET, such as 100.64.0.1/32"
            ),
        );
    }
    if c.vip.port == 0 {
        err("vip.port", "port 0 cannot be served".into());
    }
    let instances = c.route_server_instances();
    if instances.len() != 2 {
        err(
            "route_server.instances",
            format!(
                "{} address(es): Azure Route Server has exactly two instances",
                instances.len()
            ),
        );
    }
    for ip in &instances {
        if !n.route_server_subnet.contains((*ip).into()) {
            err(
                "route_server.instances",
                format!("{ip} is not in RouteServerSubnet {}", n.route_server_subnet),
            );
        }
    }
}

fn vms(c: &AzureConfig, err: &mut impl FnMut(&str, String)) {
    let subnet = c.vnet.subnet;
    let usable = v4(&subnet).map(|(first, last)| (first + 4, last.saturating_sub(1)));
    let mut names = HashSet::new();
    let mut ips = HashSet::new();
    let mut keys: Vec<(String, &str, Ipv4Addr)> = Vec::new();
    for (i, h) in c.web.iter().enumerate() {
        keys.push((format!("web[{i}]"), &h.name, h.ip));
    }
    for (i, h) in c.load.iter().enumerate() {
        keys.push((format!("load[{i}]"), &h.name, h.ip));
    }
    keys.push(("watcher".into(), &c.watcher.name, c.watcher.ip));
    if c.standby.enabled {
        keys.push(("standby".into(), &c.standby.name, c.standby.ip));
    }
    if c.observer.enabled {
        keys.push(("observer".into(), &c.observer.name, c.observer.ip));
    }
    if c.web.is_empty() {
        err(
            "web",
            "no [[web]]: the VIP needs at least one web server".into(),
        );
    }
    for (key, name, ip) in keys {
        let valid = name_ok(name, 64, "-") && !name.starts_with('-') && !name.ends_with('-');
        if !valid || name.chars().all(|ch| ch.is_ascii_digit()) {
            err(
                &format!("{key}.name"),
                format!(
                    "{name:?}: a VM name (and host name) is 1 to 64 letters, digits and inner '-', not only digits"
                ),
            );
        } else if !names.insert(name.to_ascii_lowercase()) {
            err(
                &format!("{key}.name"),
                format!("{name:?} is used by two VMs"),
            );
        }
        let n = u32::from(ip);
        if let Some((first, last)) = usable
            && !(first..=last).contains(&n)
        {
            err(
                &format!("{key}.ip"),
                format!(
                    "{ip} is not a usable address of the VMs' subnet {subnet} (Azure keeps its first four and its last)"
                ),
            );
        }
        if !ips.insert(ip) {
            err(&format!("{key}.ip"), format!("{ip} is used by two VMs"));
        }
    }
}

fn login(c: &AzureConfig, err: &mut impl FnMut(&str, String)) {
    let vm = &c.vm;
    if vm.password.is_some() {
        err(
            "vm.password",
            "a password is never kept in a file: log in with ssh_public_key; if you must also allow a password, set allow_password = true and export HOPWATCH_ADMIN_PASSWORD when you run deploy.sh".into(),
        );
    }
    let key = vm.ssh_public_key.trim();
    if key.is_empty() && !vm.allow_password {
        err(
            "vm.ssh_public_key",
            "no SSH key: the VMs would have no way in. Name a public key file (like \"~/.ssh/id_ed25519.pub\"); passwords are refused unless allow_password = true".into(),
        );
    }
    if key.contains(['\'', '"', '`', '$', '\\', '\n', '\r']) {
        err(
            "vm.ssh_public_key",
            "quotes, '$', '`' and backslashes are not allowed: name the key's file, or paste the key on one line".into(),
        );
    }
    let u = &vm.admin_user;
    let well_formed = !u.is_empty()
        && u.len() <= 32
        && u.starts_with(|ch: char| ch.is_ascii_lowercase() || ch == '_')
        && u.chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-');
    if !well_formed {
        err(
            "vm.admin_user",
            format!(
                "{u:?}: a Linux user name, 1 to 32 lower case letters, digits, '_' or '-', starting with a letter"
            ),
        );
    } else if RESERVED_USERS.contains(&u.as_str()) {
        err(
            "vm.admin_user",
            format!("{u:?} is refused by Azure for the admin user; choose another"),
        );
    }
    if vm.image.eq_ignore_ascii_case("UbuntuLTS") {
        err(
            "vm.image",
            "the UbuntuLTS alias of the seed no longer exists in the Azure CLI: use a current Ubuntu LTS URN such as \"Canonical:ubuntu-24_04-lts:server:latest\"".into(),
        );
    } else if !name_ok(&vm.image, 200, "-_.:/") {
        err(
            "vm.image",
            format!(
                "{:?}: an image URN (publisher:offer:sku:version), like \"Canonical:ubuntu-24_04-lts:server:latest\"",
                vm.image
            ),
        );
    }
    if !["", "1", "2", "3"].contains(&vm.zone.as_str()) {
        err(
            "vm.zone",
            format!(
                "{:?}: an availability zone is \"1\", \"2\" or \"3\" (\"\" for none)",
                vm.zone
            ),
        );
    }
}

fn release(c: &AzureConfig, err: &mut impl FnMut(&str, String)) {
    let r = &c.hopwatch;
    match (r.deb.is_empty(), r.deb_url.is_empty()) {
        (true, true) => err(
            "hopwatch.deb",
            "missing: deb = \"PATH\" to the .deb you built (`cargo deb -p hopwatch`), which deploy uploads, or deb_url and deb_sha256 to where you host it".into(),
        ),
        (false, false) => err(
            "hopwatch.deb",
            "deb and deb_url: give one (a .deb deploy uploads, or a URL the VMs download), not both".into(),
        ),
        (false, true) => {
            // Written into the scripts' table of variables.
            if !r.deb.ends_with(".deb")
                || r.deb.chars().any(|ch| "\"'`$\\\n\r".contains(ch))
            {
                err(
                    "hopwatch.deb",
                    format!("{:?}: a path to a .deb, without quotes, `$` or backslashes", r.deb),
                );
            }
            let account = &r.storage_account;
            let length_ok = account.is_empty() || (3..=24).contains(&account.len());
            if !length_ok
                || !account
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            {
                err(
                    "hopwatch.storage_account",
                    format!(
                        "{:?}: 3 to 24 lower-case letters and digits (a storage account name), or empty for one named after the subscription and resource group",
                        r.storage_account
                    ),
                );
            }
        }
        (true, false) => {
            if !(r.deb_url.starts_with("https://") || r.deb_url.starts_with("http://"))
                || !name_ok(&r.deb_url, 2000, "-._~:/?#[]@!&()*+,;=%")
            {
                err(
                    "hopwatch.deb_url",
                    format!("{:?}: an http(s) URL without spaces or quotes", r.deb_url),
                );
            } else if url_host(&r.deb_url).ends_with(".invalid") {
                err(
                    "hopwatch.deb_url",
                    format!(
                        "{:?} is a placeholder (.invalid): set deb = \"PATH\" to the .deb you built, which deploy uploads, or deb_url and deb_sha256 to where you host it",
                        r.deb_url
                    ),
                );
            }
            let sha = &r.deb_sha256;
            if sha.len() != 64 || !sha.chars().all(|ch| ch.is_ascii_hexdigit()) {
                err(
                    "hopwatch.deb_sha256",
                    format!(
                        "{sha:?}: the .deb's sha256, 64 hex digits (`sha256sum hopwatch_*.deb`); the VMs install nothing that does not match"
                    ),
                );
            } else if sha.chars().all(|ch| ch == '0') {
                err(
                    "hopwatch.deb_sha256",
                    "all zeros is a placeholder: the sha256 of your .deb (`sha256sum hopwatch_*.deb`)".into(),
                );
            }
        }
    }
}

/// The host of an http(s) URL.
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host.split(':').next().unwrap_or(host)
}

fn speakers(c: &AzureConfig, err: &mut impl FnMut(&str, String)) {
    let mut asn = |key: &str, asn: Asn| {
        if !asn.is_two_octet() {
            err(
                key,
                format!("{asn}: Azure Route Server peers must use a 2-octet AS (1 to 65535)"),
            );
        } else if reserved_asn(asn) {
            err(
                key,
                format!(
                    "{asn} is reserved (Azure keeps 65515 and 65517 to 65520; 0, 23456, 64496-64511 and 65535 are reserved by IANA)"
                ),
            );
        }
    };
    asn("watcher.asn", c.watcher.asn);
    if c.observer.enabled {
        asn("observer.asn", c.observer.asn);
        if c.observer.asn == c.watcher.asn {
            err(
                "observer.asn",
                format!(
                    "{}: the observer needs its own AS, or it drops the watcher's routes as a loop",
                    c.observer.asn
                ),
            );
        }
    }
    if c.watcher.graceful_restart > 4095 {
        err(
            "watcher.graceful_restart",
            format!(
                "{} s: graceful restart time is at most 4095 s",
                c.watcher.graceful_restart
            ),
        );
    }
}

/// The pair: a standby that cannot fail with the primary, and one route servers
/// never prefer or share with it.
fn standby(c: &AzureConfig, err: &mut impl FnMut(&str, String)) {
    let s = &c.standby;
    if !s.enabled {
        return;
    }
    let max = hopwatch_config::ha::MAX_PREPEND;
    if s.prepend == 0 {
        err(
            "standby.prepend",
            "0 would make the standby's route as preferred as the primary's: Azure Route Server would share the traffic between the two next hops (ECMP) whenever the watchers disagree. Use 1 or more (default 2)".into(),
        );
    } else if s.prepend > max {
        err(
            "standby.prepend",
            format!(
                "{}: at most {max} (one already makes the route less preferred)",
                s.prepend
            ),
        );
    }
    // The zone is what keeps the pair from failing together: VMs in one zone may
    // share a host, and Azure promises nothing else without an availability set.
    let zone = c.standby_zone();
    let key = if s.zone.is_some() {
        "standby.zone"
    } else {
        "vm.zone"
    };
    if c.vm.zone.is_empty() || zone.is_empty() {
        err(
            key,
            "a watcher pair needs availability zones: the standby goes in another zone than the primary, so the two never share a host. Set [vm] zone (\"1\") and, if you like, [standby] zone (default: the next one)".into(),
        );
    } else if !["1", "2", "3"].contains(&zone.as_str()) {
        err(
            "standby.zone",
            format!("{zone:?}: an availability zone is \"1\", \"2\" or \"3\""),
        );
    } else if zone == c.vm.zone {
        err(
            "standby.zone",
            format!(
                "{zone:?} is the primary's zone ([vm] zone): in one zone the two watchers may share a host and fail together; use another"
            ),
        );
    }
}

/// The forwarding mode's port. The ports below 1024 are refused rather than checked
/// one by one: the VMs' own services hold some of them (53 DNS, 68 DHCP, 123 NTP,
/// and 514, the watchers' syslog server), and a VXLAN device cannot share its port.
fn forward(c: &AzureConfig, err: &mut impl FnMut(&str, String)) {
    let f = &c.forward;
    if !f.enabled {
        return;
    }
    if f.port == 0 {
        err(
            "forward.port",
            "0 is not a UDP port: use 4789 (VXLAN's, the default)".into(),
        );
    } else if f.port < 1024 {
        err(
            "forward.port",
            format!(
                "{}: a port below 1024 may be held by a service of the VMs (53 DNS, 68 DHCP, 123 NTP, 514 the watchers' syslog), and the VXLAN devices need theirs alone: use 4789 (VXLAN's, the default) or one above 1023",
                f.port
            ),
        );
    }
}

/// What renders but is probably not what was meant.
pub fn warnings(c: &AzureConfig) -> Vec<(String, String)> {
    let mut w = Vec::new();
    // Not an error: a single watcher is how one tries the mode out. A lone watcher's
    // failure loses the VIP in either mode (its route goes with its BGP session),
    // but in this one every packet also crosses it: from the first instant of a
    // failure, and through any overload of its NIC or CPU.
    if c.forward.enabled && !c.standby.enabled {
        w.push((
            "forward.enabled".to_string(),
            format!(
                "without [standby] the watcher {} is a single point of failure in the data path: every packet to the VIP crosses it, and while its VM is down the VIP answers nothing. Set [standby] enabled = true: a second watcher in another zone takes the traffic after the hold time and Azure's programming",
                c.watcher.name
            ),
        ));
    }
    w
}
