//! Checks that look at the config as a whole: what serde cannot say about one value.
//! Each finding is `(key path, message)`; `lib.rs` adds the file and line. The
//! numeric limits (durations, counts, the probe rate) and their reasons are in
//! `bounds`.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use hopwatch_bgp::{Asn, Prefix};

use super::bounds::{self, MAX_INTERVAL, MAX_TIMEOUT, MIN_INTERVAL};
use super::model::Config;

/// What the checks found.
#[derive(Debug, Default)]
pub struct Report {
    /// The config cannot run.
    pub errors: Vec<(String, String)>,
    /// It runs, but probably not as meant.
    pub warnings: Vec<(String, String)>,
}

/// AS numbers Azure Route Server keeps for itself (its docs: 65515, 65517-65520).
const AZURE_RESERVED: [u32; 5] = [65515, 65517, 65518, 65519, 65520];

/// Azure Route Server's AS.
const AZURE_AS: Asn = hopwatch_route_server::AZURE_ROUTE_SERVER_AS;

/// Azure Route Server's limit of routes from one peer: one more and it drops the
/// session (Microsoft's published limits: 1,000 routes a peer, 10,000 in all, 8
/// peers; 4,000 is its limit on VMs in the VNET, not on routes).
const AZURE_MAX_ROUTES: usize = hopwatch_route_server::DEFAULT_ROUTE_LIMIT;

/// The shortest VIP prefixes accepted, IPv4 and IPv6. A VIP is a service address,
/// normally a host route (/32, /128); a few VIPs moved together may share a small
/// block. A shorter prefix is a network: announced with one backend as its next hop
/// it steers every other host of that range (with /0, every destination the route
/// servers' clients know no better route for) to one web server. "Includes the
/// default route" alone would not do: 0.0.0.0/1 and 128.0.0.0/1 take everything
/// too.
const MIN_VIP_LEN_V4: u8 = 24;
const MIN_VIP_LEN_V6: u8 = 64;

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
    if c.bgp.port == 0 {
        err("bgp.port".into(), PORT_ZERO.into());
    }
    let mut seen_rs = HashSet::new();
    for (i, rs) in c.route_servers.iter().enumerate() {
        if !seen_rs.insert(rs.address) {
            err(
                format!("route_server[{i}].address"),
                format!("{} is listed twice", rs.address),
            );
        }
        if rs.port == Some(0) {
            err(format!("route_server[{i}].port"), PORT_ZERO.into());
        }
    }
    let h = &c.health;
    interval(&mut err, "health.interval", h.interval);
    timeout(&mut err, "health.timeout", h.timeout);
    bounds::fall_rise(&mut err, "health.fall", h.fall);
    bounds::fall_rise(&mut err, "health.rise", h.rise);
    status(&mut err, "health.expect_status", h.expect_status);
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
        let too_wide = too_wide(vip.prefix);
        if let Some(message) = &too_wide {
            err(format!("vip[{v}].prefix"), message.clone());
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
            } else if too_wide.is_none() && vip.prefix.contains(be.next_hop) {
                // The route to the VIP would need the VIP to reach its next hop: it
                // never resolves (or loops, where a router tries).
                err(
                    key("next_hop"),
                    format!(
                        "{} lies inside the VIP {}: the VIP's traffic cannot be sent to the VIP itself; use the backend's own address",
                        be.next_hop, vip.prefix
                    ),
                );
            }
            match hopwatch_health::Target::parse(&be.check) {
                Err(e) => err(key("check"), e.to_string()),
                Ok(t) => {
                    if let Some(src) = be.source.or(c.health.source)
                        && src.is_ipv4() != t.addr().is_ipv4()
                    {
                        let k = if be.source.is_some() {
                            key("source")
                        } else {
                            "health.source".into()
                        };
                        err(
                            k,
                            format!(
                                "{src} cannot reach {} (another address family): probes connect \
                                 from the source address",
                                t.addr().ip()
                            ),
                        );
                    }
                }
            }
            // Only what the backend overrides: inherited values were checked once
            // under [health].
            if let Some(i) = be.interval {
                interval(&mut err, &key("interval"), i);
            }
            if let Some(t) = be.timeout {
                timeout(&mut err, &key("timeout"), t);
            }
            if let Some(n) = be.fall {
                bounds::fall_rise(&mut err, &key("fall"), n);
            }
            if let Some(n) = be.rise {
                bounds::fall_rise(&mut err, &key("rise"), n);
            }
            if let Some(s) = be.expect_status {
                status(&mut err, &key("expect_status"), s);
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
    if c.api.listen.port() == 0 {
        err(
            "api.listen".into(),
            format!(
                "{}: port 0 would listen on a random port that `hopwatch ctl` cannot find",
                c.api.listen
            ),
        );
    }
    if let Some(s) = c.log.syslog
        && s.port() == 0
    {
        err("log.syslog".into(), format!("{s}: {PORT_ZERO}"));
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
    // The API speaks plain HTTP: off loopback, anyone who sees the traffic reads
    // the token and can drain or decommission.
    if !c.api.listen.ip().is_loopback() && c.api.token.is_some() {
        r.warnings.push((
            "api.token".into(),
            format!(
                "the API on {} is plain HTTP: the bearer token crosses the network in \
                 clear text, and whoever sees one request can move the VIPs. Keep \
                 api.listen on 127.0.0.1 and reach it through SSH (ssh -L \
                 9179:127.0.0.1:9179 HOST, then hopwatch ctl there), or put a TLS proxy \
                 in front and listen on loopback behind it",
                c.api.listen
            ),
        ));
    }
    if let Some(f) = &c.log.facility
        && crate::facility_code(f).is_none()
    {
        r.errors.push((
            "log.facility".into(),
            format!("{f:?}: use daemon, user, or local0 to local7"),
        ));
    }
    not_host_routes(c, &mut r);
    ibgp(c, &mut r);
    super::ha::check(c, &mut r);
    super::forward::check(c, &mut r);
    bounds::check(c, &mut r);
    if c.azure {
        azure(c, &mut r);
    }
    r
}

const PORT_ZERO: &str = "port 0 is no port: nothing can be reached on it";

fn interval(err: &mut impl FnMut(String, String), key: &str, d: Duration) {
    let why = "a backend probed less often is not being watched";
    bounds::duration(err, key, d, MIN_INTERVAL, MAX_INTERVAL, why);
}

fn timeout(err: &mut impl FnMut(String, String), key: &str, d: Duration) {
    if d.is_zero() {
        err(key.into(), "a zero timeout fails every probe".into());
        return;
    }
    let why = "a silent backend is seen only a timeout after its last answer";
    bounds::duration(err, key, d, Duration::ZERO, MAX_TIMEOUT, why);
}

fn status(err: &mut impl FnMut(String, String), key: &str, s: u16) {
    if !(100..=599).contains(&s) {
        err(
            key.into(),
            format!("{s} is not an HTTP status (100 to 599): every probe would fail"),
        );
    }
}

/// Why `prefix` is too wide for a VIP, if it is.
fn too_wide(prefix: Prefix) -> Option<String> {
    let min = match prefix.addr() {
        IpAddr::V4(_) => MIN_VIP_LEN_V4,
        IpAddr::V6(_) => MIN_VIP_LEN_V6,
    };
    if prefix.is_empty() {
        Some(format!(
            "{prefix} is the default route: announced, it would send every destination the route servers' clients know no better route for to one backend. A VIP is a host route, like 100.64.0.1/32"
        ))
    } else if prefix.len() < min {
        Some(format!(
            "{prefix} is a network, not a VIP: it would steer every other address of that range to one backend. Use a host route (/32, /128), or at most a /{MIN_VIP_LEN_V4} (IPv4) or /{MIN_VIP_LEN_V6} (IPv6) of VIPs that move together"
        ))
    } else {
        None
    }
}

/// A VIP shorter than a host route, but not too wide to refuse: a warning.
fn not_host_routes(c: &Config, r: &mut Report) {
    for (v, vip) in c.vips.iter().enumerate() {
        let host = if vip.prefix.addr().is_ipv4() { 32 } else { 128 };
        if vip.prefix.len() < host && too_wide(vip.prefix).is_none() {
            r.warnings.push((
                format!("vip[{v}].prefix"),
                format!(
                    "{} is not a host route (/{host}): every address in it moves with the VIP",
                    vip.prefix
                ),
            ));
        }
    }
}

/// iBGP with the route servers: refused with Azure Route Server's AS (it peers only
/// over eBGP and rejects routes whose AS path holds 65515), warned about otherwise
/// (an iBGP route server passes the VIP on to its other iBGP peers only as a route
/// reflector).
fn ibgp(c: &Config, r: &mut Report) {
    let local = c.bgp.local_as;
    for (i, rs) in c.route_servers.iter().enumerate() {
        if rs.peer_as != local {
            continue;
        }
        let key = format!("route_server[{i}].peer_as");
        if rs.peer_as == AZURE_AS {
            r.errors.push((key, format!(
                "{local} is both our AS and the route server's: Azure Route Server (AS 65515) peers only over eBGP and rejects routes whose AS path holds 65515; set bgp.local_as to your own AS"
            )));
        } else {
            r.warnings.push((key, format!(
                "{local} is also bgp.local_as: iBGP. The route server passes the VIP on to its other iBGP peers only if it is a route reflector; eBGP is what route servers expect"
            )));
        }
    }
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
        if rs.peer_as != AZURE_AS {
            r.warnings.push((
                format!("route_server[{i}].peer_as"),
                format!("{}: Azure Route Server's AS is 65515", rs.peer_as),
            ));
        }
    }
    if c.vips.len() > AZURE_MAX_ROUTES {
        r.errors.push((
            "vip".into(),
            format!(
                "{} VIPs: Azure Route Server takes at most {AZURE_MAX_ROUTES} routes from each peer and drops the session at one more (10,000 routes in all, from at most 8 peers): split the VIPs between watcher pairs, at most {AZURE_MAX_ROUTES} each",
                c.vips.len()
            ),
        ));
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
