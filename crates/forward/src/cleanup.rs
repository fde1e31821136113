//! Removing what the forwarding mode left on a host without the layout that made
//! it: a watcher whose `[forward]` was removed, a backend
//! killed before it could clean up, or a host being decommissioned.
//!
//! Everything hopwatch creates carries a mark it can be found by:
//!
//! | what | made by | found by |
//! | --- | --- | --- |
//! | VXLAN devices `hwfw0`, `hwfw1`, ... (and the routes through them, which go with them) | the watcher | name ([`DEVICE_PREFIX`] and digits) and kind (VXLAN) |
//! | `fwmark` rules | the watcher | protocol [`RTPROT`] (hopwatch's routes carry it too); a rule made before rules carried it, by the default priority and marks |
//! | VIP routes in the main table | the watcher | they go with their device |
//! | the device `hwfwd` | the backend | name |
//! | VIP addresses on `lo` | the backend | label [`crate::layout::VIP_LABEL`]; an address that was on `lo` before has another label and stays |
//! | the nftables table `inet hopwatch_forward` | both | name; a watcher's start removes it only when it holds the watcher's chains, so that a backend's rules on the same host stay |
//!
//! [`watcher_leftovers`] runs at every start of a watcher without `[forward]`;
//! [`everything`] is `hopwatch cleanup`, for decommissioning a host by hand.

use futures_util::TryStreamExt;
use rtnetlink::IpVersion;
use rtnetlink::packet_route::route::RouteProtocol;
use rtnetlink::packet_route::rule::RuleAttribute;

use crate::Error;
use crate::backend::addresses;
use crate::kernel::{Netlink, RTPROT, absent_ok, is_vxlan, link_name, nle};
use crate::layout::{BACKEND_DEVICE, DEVICE_PREFIX, NFT_TABLE, Settings};

/// What a cleanup removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The devices, by name.
    pub devices: Vec<String>,
    /// How many `fwmark` rules.
    pub rules: usize,
    /// The VIP addresses taken off `lo`.
    pub addresses: Vec<String>,
    /// Whether the nftables table was deleted.
    pub nft_table: bool,
}

impl Removed {
    /// Nothing was removed.
    pub fn is_empty(&self) -> bool {
        *self == Removed::default()
    }
}

impl std::fmt::Display for Removed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_empty() {
            return f.write_str("nothing of hopwatch's forwarding mode was found");
        }
        let mut parts = Vec::new();
        if !self.devices.is_empty() {
            parts.push(format!("devices {}", self.devices.join(", ")));
        }
        if self.rules > 0 {
            parts.push(format!("{} fwmark rule(s)", self.rules));
        }
        if !self.addresses.is_empty() {
            parts.push(format!("{} from lo", self.addresses.join(", ")));
        }
        if self.nft_table {
            parts.push(format!("nftables table inet {NFT_TABLE}"));
        }
        write!(f, "removed {}", parts.join("; "))
    }
}

/// A watcher's tunnel device: `hwfw` and digits.
fn is_tunnel_name(name: &str) -> bool {
    name.strip_prefix(DEVICE_PREFIX)
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Removes a watcher's forwarding: its tunnel devices (their routes go with them),
/// its rules, and the nftables table if it holds the watcher's chains.
pub async fn watcher_leftovers() -> Result<Removed, Error> {
    let nl = Netlink::open()?;
    let mut removed = Removed::default();
    for l in nl.link_messages(DEVICE_PREFIX).await? {
        let Some(name) = link_name(&l) else { continue };
        if is_tunnel_name(&name) && is_vxlan(&l) {
            nl.delete_link(l.header.index).await?;
            removed.devices.push(name);
        }
    }
    removed.rules = delete_rules(&nl).await?;
    removed.nft_table = delete_table(true).await?;
    Ok(removed)
}

/// Removes everything of the forwarding mode on this host: the watcher's (as
/// [`watcher_leftovers`]) and the backend's (`hwfwd`, the VIP addresses it put on
/// `lo`), and the nftables table whoever made it.
pub async fn everything() -> Result<Removed, Error> {
    let mut removed = watcher_leftovers().await?;
    let nl = Netlink::open()?;
    for (name, index) in nl.links(BACKEND_DEVICE).await? {
        if name == BACKEND_DEVICE {
            nl.delete_link(index).await?;
            removed.devices.push(name);
        }
    }
    for a in addresses(&nl, None)
        .await?
        .into_iter()
        .filter(|a| a.labelled)
    {
        removed.addresses.push(format!("{}/{}", a.ip, a.len));
        absent_ok(nl.handle.address().del(a.msg).execute().await)
            .map_err(nle("remove a VIP from lo"))?;
    }
    removed.nft_table |= delete_table(false).await?;
    Ok(removed)
}

/// Deletes the rules hopwatch made: protocol [`RTPROT`], or (made before rules
/// carried it) the default priority with a mark of the default range.
async fn delete_rules(nl: &Netlink) -> Result<usize, Error> {
    let defaults = Settings::new(std::net::Ipv4Addr::UNSPECIFIED);
    let mut rules = nl.handle.rule().get(IpVersion::V4).execute();
    let mut ours = Vec::new();
    while let Some(r) = rules.try_next().await.map_err(nle("list rules"))? {
        let (mut protocol, mut priority, mut mark) = (None, None, None);
        for a in &r.attributes {
            match a {
                RuleAttribute::Protocol(p) => protocol = Some(*p),
                RuleAttribute::Priority(p) => priority = Some(*p),
                RuleAttribute::FwMark(m) => mark = Some(*m),
                _ => {}
            }
        }
        let tagged = protocol == Some(RouteProtocol::Other(RTPROT));
        let legacy = priority == Some(defaults.table)
            && mark.is_some_and(|m| m >> 16 == u32::from(defaults.mark));
        if tagged || legacy {
            ours.push(r);
        }
    }
    let n = ours.len();
    for r in ours {
        absent_ok(nl.handle.rule().del(r).execute().await).map_err(nle("delete rule"))?;
    }
    Ok(n)
}

/// Deletes the nftables table; with `watchers_only`, only when it holds the
/// watcher's `steer` chain. Whether it was deleted. A host without nft, or a
/// process without the right to read the ruleset, has nothing to delete here.
async fn delete_table(watchers_only: bool) -> Result<bool, Error> {
    let listed = tokio::process::Command::new("nft")
        .args(["list", "table", "inet", NFT_TABLE])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let Ok(Ok(out)) = tokio::time::timeout(std::time::Duration::from_secs(10), listed).await else {
        return Ok(false);
    };
    if !out.status.success() {
        return Ok(false);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    if watchers_only && !text.contains("chain steer") {
        return Ok(false);
    }
    crate::nft::apply(&crate::nft::delete_script()).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hwfw_and_digits_is_a_watchers_tunnel() {
        assert!(is_tunnel_name("hwfw0"));
        assert!(is_tunnel_name("hwfw12"));
        assert!(!is_tunnel_name("hwfw"));
        assert!(!is_tunnel_name("hwfwd"));
        assert!(!is_tunnel_name("hwfw1x"));
    }

    #[test]
    fn what_was_removed_reads_as_a_sentence() {
        assert_eq!(
            Removed::default().to_string(),
            "nothing of hopwatch's forwarding mode was found"
        );
        let r = Removed {
            devices: vec!["hwfw0".into()],
            rules: 1,
            addresses: vec!["100.64.0.1/32".into()],
            nft_table: true,
        };
        assert_eq!(
            r.to_string(),
            "removed devices hwfw0; 1 fwmark rule(s); 100.64.0.1/32 from lo; nftables \
             table inet hopwatch_forward"
        );
    }
}
