//! `hopwatch route-server` command line.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Args;
use hopwatch_bgp::{Asn, HoldTime, Prefix};
use hopwatch_dataplane::Kind;
use hopwatch_route_server::ProfileName;

/// `hopwatch route-server`.
#[derive(Debug, Clone, Args)]
pub struct RouteServerArgs {
    /// The route server's AS (Azure Route Server's is 65515).
    #[arg(long, default_value_t = hopwatch_route_server::AZURE_ROUTE_SERVER_AS)]
    pub asn: Asn,
    /// An instance's address: its BGP identifier and listen address. Repeat for each
    /// instance (Azure runs two); they share one data plane.
    #[arg(long = "instance", value_name = "ADDR", default_values = ["127.10.1.4", "127.10.1.5"])]
    pub instances: Vec<IpAddr>,
    /// A peer allowed to connect, as ADDR:AS (at most 8; anything else is refused).
    #[arg(long = "peer", value_name = "ADDR:AS", value_parser = parse_peer, required = true)]
    pub peers: Vec<(IpAddr, Asn)>,
    /// The BGP port.
    #[arg(long, default_value_t = 179)]
    pub port: u16,
    /// What to do with the best routes: a userspace TCP proxy on the VIPs (no
    /// privileges), kernel routes through netlink, or nothing but logs.
    #[arg(long, default_value = "proxy", value_parser = parse_kind)]
    pub dataplane: Kind,
    /// Ports the proxy data plane listens on at each VIP (repeat).
    #[arg(long = "vip-port", value_name = "PORT", default_values_t = [8080])]
    pub vip_ports: Vec<u16>,
    /// `instant` programs at once; `azure` delays each programming by one of the 13
    /// propagation times measured on Azure (0.9 to 5.6 s) and allows one change per
    /// route per 30 s, the latest state winning.
    #[arg(long, value_enum, default_value_t = ProfileName::Instant)]
    pub profile: ProfileName,
    /// With `--profile azure`: the interval between two changes of one route (0 = no limit).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub min_interval: Option<Duration>,
    /// Seed of the delays drawn by `--profile azure` (same seed, same timeline).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A VNET prefix announced to every peer, as the cloud announces its address space (repeat).
    #[arg(long = "vnet", value_name = "PREFIX")]
    pub vnet: Vec<Prefix>,
    /// Most routes a peer may announce; one more resets its session with Cease
    /// "maximum number of prefixes reached". Azure Route Server's limit by default
    /// (1,000 routes from each peer).
    #[arg(long, default_value_t = hopwatch_route_server::DEFAULT_ROUTE_LIMIT)]
    pub route_limit: usize,
    /// Hold time we propose (Azure Route Server uses 180 s).
    #[arg(long, default_value = "180", value_parser = parse_hold_time)]
    pub hold_time: HoldTime,
    /// Pass learned routes on without prepending our AS (a transparent route server);
    /// Azure prepends 65515.
    #[arg(long)]
    pub transparent: bool,
    /// The introspection API (`hopwatch ctl --api ADDR peers|rib|dataplane|programs`).
    #[arg(long, default_value = "127.0.0.1:9180")]
    pub api: SocketAddr,
}

fn parse_peer(s: &str) -> Result<(IpAddr, Asn), String> {
    let (addr, asn) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?}: expected ADDR:AS, e.g. 10.10.0.7:65001"))?;
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("{s:?}: {addr:?} is not an IP address"))?;
    Ok((addr, asn.parse()?))
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    s.parse()
}

fn parse_hold_time(s: &str) -> Result<HoldTime, String> {
    let v: u16 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    HoldTime::try_from(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_with_ipv4_and_ipv6() {
        assert_eq!(parse_peer("10.10.0.7:65001").unwrap().1, Asn(65001));
        assert_eq!(
            parse_peer("[2001:db8::7]:65001").unwrap().0.to_string(),
            "2001:db8::7"
        );
        assert!(parse_peer("10.10.0.7").unwrap_err().contains("ADDR:AS"));
    }
}
