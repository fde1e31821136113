//! `[forward]`: the forwarding mode. With it, the VIP's next hop in every
//! announcement is this watcher (`address`), which stays put while backends come and
//! go; the watcher forwards the VIP's traffic in the kernel (VXLAN, direct server
//! return) to the backend it chooses, and each backend runs `hopwatch backend`.
//! Without it (the default), each move changes the VIP's next hop at the route
//! servers. `docs/forwarding.md` compares the two.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde::Deserialize;

use crate::model::Config;
use crate::validate::Report;

/// `[forward]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forward {
    /// This watcher's own address in the VNET: the VIP's next hop and the tunnels'
    /// source.
    pub address: Ipv4Addr,
    /// The VXLAN UDP port (the backends' `--port`).
    #[serde(default = "default_port")]
    pub port: u16,
    /// The first VNI; the tunnel to the n-th distinct backend uses `vni + n`.
    #[serde(default = "default_vni")]
    pub vni: u32,
    /// The high 16 bits of the firewall marks of forwarded flows.
    #[serde(default = "default_mark")]
    pub mark: u16,
    /// The first routing table (one per backend), also the `fwmark` rules' priority.
    #[serde(default = "default_table")]
    pub table: u32,
    /// How long an idle flow keeps its backend.
    #[serde(
        default = "default_flow_timeout",
        deserialize_with = "crate::model::duration"
    )]
    pub flow_timeout: Duration,
    /// The most flows each backend's affinity set holds.
    #[serde(default = "default_max_flows")]
    pub max_flows: u32,
}

fn default_port() -> u16 {
    4789
}
fn default_vni() -> u32 {
    4242
}
fn default_mark() -> u16 {
    0x6877
}
fn default_table() -> u32 {
    4270
}
fn default_flow_timeout() -> Duration {
    Duration::from_secs(15 * 60)
}
fn default_max_flows() -> u32 {
    1 << 20
}

/// The largest VNI (24 bits).
const MAX_VNI: u32 = (1 << 24) - 1;

impl Config {
    /// The tunnels' far ends in forwarding mode: each distinct IPv4 backend address,
    /// in the order of first appearance (the n-th gets VNI `vni + n` and table
    /// `table + n`, as `hopwatch-forward` numbers them).
    pub fn forward_tunnels(&self) -> Vec<Ipv4Addr> {
        let mut out = Vec::new();
        for be in self.vips.iter().flat_map(|v| &v.backends) {
            if let IpAddr::V4(a) = be.next_hop
                && !out.contains(&a)
            {
                out.push(a);
            }
        }
        out
    }
}

/// The checks of `[forward]`.
pub fn check(c: &Config, r: &mut Report) {
    let Some(f) = &c.forward else { return };
    for (v, vip) in c.vips.iter().enumerate() {
        if !vip.prefix.addr().is_ipv4() {
            r.errors.push((
                format!("vip[{v}].prefix"),
                format!("{}: the forwarding mode carries IPv4 VIPs only", vip.prefix),
            ));
        }
        for (b, be) in vip.backends.iter().enumerate() {
            if let IpAddr::V6(a) = be.next_hop {
                r.errors.push((
                    format!("vip[{v}].backends[{b}].next_hop"),
                    format!("{a}: the forwarding mode tunnels to IPv4 backends only"),
                ));
            }
        }
    }
    let n = u32::try_from(c.forward_tunnels().len()).unwrap_or(u32::MAX);
    let mut err = |k: &str, m: String| r.errors.push((format!("forward.{k}"), m));
    if f.vni == 0 || f.vni.saturating_add(n) > MAX_VNI {
        err(
            "vni",
            format!(
                "{}: VNIs {} to {} must lie within 1 to {MAX_VNI}",
                f.vni,
                f.vni,
                f.vni.saturating_add(n.saturating_sub(1))
            ),
        );
    }
    if f.mark == 0 {
        err(
            "mark",
            "0 would mark nothing: flows would lose their backend".into(),
        );
    }
    // 0 is unspecified; 253 to 255 are default, main and local; 32766 and 32767
    // are the priorities of the main and default rules.
    let last = f.table.saturating_add(n.saturating_sub(1));
    if f.table < 256 || last >= 32766 {
        err(
            "table",
            format!(
                "{}: tables {} to {last} must lie within 256 to 32765 (below the main \
                 table's rule, clear of the kernel's tables)",
                f.table, f.table
            ),
        );
    }
    if f.port == 0 {
        err("port", "0 is not a UDP port".into());
    }
    if f.flow_timeout < Duration::from_secs(1) {
        err(
            "flow_timeout",
            "at least 1s: shorter would move idle flows off their backend".into(),
        );
    }
    if f.max_flows == 0 {
        err("max_flows", "at least 1".into());
    }
    if let Some(local) = c.bgp.local_address
        && local != IpAddr::V4(f.address)
    {
        r.warnings.push((
            "forward.address".into(),
            format!(
                "{}: differs from bgp.local_address {local}; the route servers will send the \
                 VIP's traffic to {} (the next hop), which must be this host",
                f.address, f.address
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::parse;

    const EXAMPLE: &str = include_str!("../../../examples/watcher.toml");

    fn with(forward: &str) -> Result<crate::Loaded, Vec<String>> {
        parse(
            Path::new("w.toml"),
            &format!("{EXAMPLE}\n[forward]\n{forward}\n"),
        )
        .map_err(|e| e.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn defaults_fill_everything_but_the_address() {
        let c = with("address = \"10.10.0.7\"").unwrap().config;
        let f = c.forward.unwrap();
        assert_eq!((f.port, f.vni, f.mark, f.table), (4789, 4242, 0x6877, 4270));
        assert_eq!(f.flow_timeout.as_secs(), 900);
        let e = with("port = 4789").unwrap_err();
        assert!(e[0].contains("address"), "{e:?}");
    }

    #[test]
    fn numbers_out_of_range_name_their_key() {
        let e = with("address = \"10.10.0.7\"\ntable = 254").unwrap_err();
        assert!(e[0].contains("forward.table"), "{e:?}");
        let e = with("address = \"10.10.0.7\"\nvni = 16777215").unwrap_err();
        assert!(e[0].contains("forward.vni"), "{e:?}");
        let e = with("address = \"10.10.0.7\"\nmark = 0").unwrap_err();
        assert!(e[0].contains("forward.mark"), "{e:?}");
    }

    #[test]
    fn ipv6_vips_are_refused_with_the_reason() {
        let text = EXAMPLE.replace("100.64.0.1/32", "2001:db8::1/128");
        let e = parse(
            Path::new("w.toml"),
            &format!("{text}\n[forward]\naddress = \"10.10.0.7\"\n"),
        )
        .unwrap_err();
        assert!(
            e.iter().any(|e| e.to_string().contains("IPv4 VIPs only")),
            "{e:?}"
        );
    }
}
