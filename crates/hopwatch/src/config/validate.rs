//! Checks that look at the config as a whole: what serde cannot say about one value.
//! Each finding is `(key path, message)`; `mod.rs` adds the file and line.

use std::collections::HashSet;
use std::time::Duration;

use hopwatch_bgp::Asn;

use super::model::Config;

/// What the checks found.
#[derive(Debug, Default)]
pub struct Report {
    /// The config cannot run.
    pub errors: Vec<(String, String)>,
    /// It runs, but probably not as meant.
    pub warnings: Vec<(String, String)>,
}

/// The shortest probe interval: below it a probe costs more than it tells.
pub const MIN_INTERVAL: Duration = Duration::from_millis(5);

/// AS numbers Azure Route Server keeps for itself (its docs: 65515, 65517-65520).
const AZURE_RESERVED: [u32; 5] = [65515, 65517, 65518, 65519, 65520];

/// Checks a parsed config.
pub fn check(c: &Config) -> Report {
    let mut r = Report::default();
    let mut err = |k: String, m: String| r.errors.push((k, m));

    if c.route_servers.is_empty() {
        err(
            "route_server".into(),
            "no [[route_server]]: the watcher needs at least one to announce to".into(),
        );
    }
    if c.vips.is_empty() {
        err("vip".into(), "no [[vip]]: nothing to watch".into());
    }
    if let Some(gr) = c.bgp.graceful_restart
        && gr > 4095
    {
        err(
            "bgp.graceful_restart".into(),
            format!("{gr} s: graceful restart time is at most 4095 s"),
        );
    }
    let mut seen_rs = HashSet::new();
    for (i, rs) in c.route_servers.iter().enumerate() {
        if !seen_rs.insert(rs.address) {
            err(
                format!("route_server[{i}].address"),
                format!("{} is listed twice", rs.address),
            );
        }
    }
    let h = &c.health;
    health_checks(&mut err, "health", h.interval, h.timeout, h.fall, h.rise);
    if !(0.0..=0.5).contains(&h.jitter) {
        err(
            "health.jitter".into(),
            format!(
                "{}: jitter is a fraction of the interval, from 0 to 0.5",
                h.jitter
            ),
        );
    }

    let mut prefixes = HashSet::new();
    for (v, vip) in c.vips.iter().enumerate() {
        if !prefixes.insert(vip.prefix) {
            err(
                format!("vip[{v}].prefix"),
                format!("{} is configured twice", vip.prefix),
            );
        }
        if vip.backends.is_empty() {
            err(
                format!("vip[{v}].backends"),
                "a VIP needs at least one backend".into(),
            );
        }
        let mut names = HashSet::new();
        for (b, be) in vip.backends.iter().enumerate() {
            let key = |k: &str| format!("vip[{v}].backends[{b}].{k}");
            if be.name.trim().is_empty() {
                err(key("name"), "a backend needs a name".into());
            } else if !names.insert(be.name.as_str()) {
                err(
                    key("name"),
                    format!("{:?} is used twice in this VIP", be.name),
                );
            }
            if be.next_hop.is_ipv4() != vip.prefix.addr().is_ipv4() {
                err(
                    key("next_hop"),
                    format!(
                        "{} is not of the same family as the VIP {}",
                        be.next_hop, vip.prefix
                    ),
                );
            }
            if be.next_hop.is_unspecified() || be.next_hop.is_multicast() {
                err(
                    key("next_hop"),
                    format!("{} cannot carry traffic", be.next_hop),
                );
            }
            if let Err(e) = check_url(&be.check) {
                err(key("check"), e);
            }
            // Only what the backend overrides: inherited values were checked once
            // under [health].
            if be.interval.is_some()
                || be.timeout.is_some()
                || be.fall.is_some()
                || be.rise.is_some()
            {
                health_checks(
                    &mut err,
                    &format!("vip[{v}].backends[{b}]"),
                    be.interval.unwrap_or(MIN_INTERVAL),
                    be.timeout.unwrap_or(h.timeout.max(Duration::from_nanos(1))),
                    be.fall.unwrap_or(1),
                    be.rise.unwrap_or(1),
                );
            }
        }
    }

    if let Some(token) = &c.api.token
        && token.len() < 16
    {
        err(
            "api.token".into(),
            "the token is too short: use at least 16 random characters".into(),
        );
    }
    if !c.api.listen.ip().is_loopback() && c.api.token.is_none() {
        err(
            "api.listen".into(),
            format!(
                "{} is not a loopback address: set api.token, the API moves VIPs",
                c.api.listen
            ),
        );
    }
    if let Some(f) = &c.log.facility
        && crate::run::syslog::facility_code(f).is_none()
    {
        r.errors.push((
            "log.facility".into(),
            format!("{f:?}: use daemon, user, or local0 to local7"),
        ));
    }
    if c.azure {
        azure(c, &mut r);
    }
    r
}

fn health_checks(
    err: &mut impl FnMut(String, String),
    at: &str,
    interval: Duration,
    timeout: Duration,
    fall: u32,
    rise: u32,
) {
    if interval < MIN_INTERVAL {
        err(
            format!("{at}.interval"),
            format!("{interval:?} is below the 5 ms minimum"),
        );
    }
    if timeout.is_zero() {
        err(
            format!("{at}.timeout"),
            "a zero timeout fails every probe".into(),
        );
    }
    if fall == 0 {
        err(format!("{at}.fall"), "fall must be at least 1".into());
    }
    if rise == 0 {
        err(format!("{at}.rise"), "rise must be at least 1".into());
    }
}

/// `http://ADDR[:PORT][/PATH]` or `tcp://ADDR:PORT`, parsed as the health checker
/// will parse it.
pub fn check_url(url: &str) -> Result<(), String> {
    hopwatch_health::Target::parse(url)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn azure(c: &Config, r: &mut Report) {
    let asn = c.bgp.local_as;
    if !asn.is_two_octet() {
        r.errors.push((
            "bgp.local_as".into(),
            format!("{asn}: Azure Route Server peers must use a 2-octet AS (1 to 65535)"),
        ));
    } else if AZURE_RESERVED.contains(&asn.0)
        || [0, 23456, 65535].contains(&asn.0)
        || (64496..=64511).contains(&asn.0)
    {
        r.errors.push(("bgp.local_as".into(), format!(
            "{asn} is reserved (Azure keeps 65515 and 65517 to 65520; 0, 23456, 64496-64511 and 65535 are reserved by IANA)"
        )));
    }
    for (i, rs) in c.route_servers.iter().enumerate() {
        if rs.peer_as != Asn(65515) {
            r.warnings.push((
                format!("route_server[{i}].peer_as"),
                format!("{}: Azure Route Server's AS is 65515", rs.peer_as),
            ));
        }
    }
    if c.route_servers.len() < 2 {
        r.warnings.push(("route_server".into(), format!(
            "{} route server instance(s): Azure Route Server has two, and a VIP announced to only one is lost when that instance is maintained; peer with both",
            c.route_servers.len()
        )));
    }
    let Some(vnet) = &c.vnet else {
        r.warnings.push(("vnet".into(), "azure = true without [vnet] address_space: cannot check that the VIPs lie outside the VNET".into()));
        return;
    };
    for (v, vip) in c.vips.iter().enumerate() {
        for space in &vnet.address_space {
            if space.contains(vip.prefix.addr()) {
                r.errors.push((format!("vip[{v}].prefix"), format!(
                    "{} lies inside the VNET address space {space}: the VNET's system route for {space} wins over any route learned by BGP, so this VIP can never move. Use an address outside the VNET, such as 100.64.0.1/32",
                    vip.prefix
                )));
            }
        }
    }
}
