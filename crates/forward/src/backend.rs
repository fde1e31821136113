//! The backend's side (`hopwatch backend`): a VXLAN device that accepts every VNI
//! from the watchers, the VIPs on `lo`, and nothing else.
//!
//! - `hwfwd`, a VXLAN device in external (collect-metadata) mode on the watchers'
//!   port: it accepts any VNI (each watcher numbers its tunnels itself) and decapsulates
//!   into the normal receive path. Its MAC is [`BACKEND_MAC`], the one every watcher's
//!   neighbour entry names.
//! - [`TUNNEL_GATEWAY`]/32 on `hwfwd`: a device without an IPv4 address fails the
//!   reverse-path filter even in loose mode; with one, loose mode (set on `hwfwd`
//!   only) accepts the clients' addresses, which the routing table reaches through the
//!   backend's own interface.
//! - Each VIP on `lo` (if not there already), so the decapsulated packets are
//!   delivered locally and answered from the VIP straight to the client (direct
//!   server return): the client's address is preserved, replies never cross the
//!   watcher.
//! - SYN-ACKs from a VIP advertise an MSS of at most `mss`, so the clients' segments
//!   fit in the tunnel (the SYN-ACK never crosses the watcher, which cannot clamp it).
//! - nftables ([`crate::nft::backend_script`]) drops VXLAN to the port from anyone
//!   but `watchers` and any VXLAN over IPv6 (the external-mode device listens on
//!   both families), and whatever leaves the tunnel for an address that is not a
//!   VIP: whoever can send it UDP could otherwise inject packets with any source
//!   address. An empty `watchers` (`--accept-vxlan-from-anyone`) drops only the
//!   last two.
//!
//! Idempotent: a device of that name is replaced. The VIPs it adds to `lo` carry the
//! label [`VIP_LABEL`]; one an earlier run left (killed before it could clean up)
//! is adopted, and [`BackendSetup::remove`] undoes exactly what was added or
//! adopted (a VIP that was on `lo` before, under another label, stays).

use std::net::{IpAddr, Ipv4Addr};

use futures_util::TryStreamExt;
use hopwatch_bgp::Prefix;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::{LinkMessageBuilder, LinkVxlan};

use crate::Error;
use crate::kernel::{Netlink, absent_ok, nle};
use crate::layout::{BACKEND_DEVICE, BACKEND_MAC, TUNNEL_GATEWAY, VIP_LABEL};

/// What the backend accepts.
#[derive(Debug, Clone)]
pub struct BackendSettings {
    /// The VXLAN port.
    pub port: u16,
    /// The VIPs to answer for.
    pub vips: Vec<Prefix>,
    /// The watchers allowed to send VXLAN (empty: anyone over IPv4, which the
    /// command line allows only when told so explicitly).
    pub watchers: Vec<Ipv4Addr>,
    /// The MSS the VIPs advertise at most (the underlay's MTU less VXLAN's 50 bytes
    /// less 40 of IPv4 and TCP headers: 1410 for 1500).
    pub mss: u16,
}

/// The backend's setup, to be removed on stop.
#[derive(Debug)]
pub struct BackendSetup {
    nl: Netlink,
    device: u32,
    /// The VIPs this setup added to `lo` (and will remove).
    added: Vec<Prefix>,
}

impl BackendSetup {
    /// Sets the backend up in the current network namespace.
    pub async fn start(s: &BackendSettings) -> Result<BackendSetup, Error> {
        let nl = Netlink::open()?;
        for (name, index) in nl.links(BACKEND_DEVICE).await? {
            if name == BACKEND_DEVICE {
                nl.delete_link(index).await?;
            }
        }
        let msg = LinkMessageBuilder::<LinkVxlan>::new(BACKEND_DEVICE)
            .port(s.port)
            .collect_metadata(true)
            .learning(false)
            .address(BACKEND_MAC.to_vec())
            .build();
        let device = nl.create_link(BACKEND_DEVICE, msg).await?;
        nl.handle
            .address()
            .add(device, IpAddr::V4(TUNNEL_GATEWAY), 32)
            .execute()
            .await
            .map_err(nle("address the tunnel device"))?;
        crate::sysctl(&format!("net/ipv4/conf/{BACKEND_DEVICE}/rp_filter"), "2")?;
        nl.set_up(device).await?;
        let lo = nl
            .links("lo")
            .await?
            .into_iter()
            .find(|(n, _)| n == "lo")
            .map(|(_, i)| i)
            .ok_or_else(|| Error::Netlink("no lo".into()))?;
        let mut setup = BackendSetup {
            nl,
            device,
            added: Vec::new(),
        };
        // An address labelled ours was put there by an earlier run (one killed
        // before it could clean up): adopted if still a VIP, so that this run
        // removes it when it stops; removed now if not. Without the label a
        // restarted backend would take its predecessor's VIP for someone else's
        // and leave it on `lo` for good.
        let present = setup.lo_addresses(lo).await?;
        for a in present.iter().filter(|a| a.labelled).cloned() {
            match s.vips.iter().find(|v| v.addr() == a.ip && v.len() == a.len) {
                Some(vip) => setup.added.push(*vip),
                None => absent_ok(setup.nl.handle.address().del(a.msg).execute().await)
                    .map_err(nle("remove an earlier run's VIP from lo"))?,
            }
        }
        for vip in &s.vips {
            if present.iter().any(|a| a.ip == vip.addr()) {
                continue;
            }
            let mut add = setup.nl.handle.address().add(lo, vip.addr(), vip.len());
            add.message_mut()
                .attributes
                .push(AddressAttribute::Label(VIP_LABEL.into()));
            add.execute()
                .await
                .map_err(|e| Error::Netlink(format!("add {vip} to lo: {e}")))?;
            setup.added.push(*vip);
        }
        crate::nft::apply(&crate::nft::backend_script(
            s.port,
            &s.watchers,
            &s.vips,
            s.mss,
        ))
        .await?;
        Ok(setup)
    }

    /// The VIPs this setup added to `lo`.
    pub fn added(&self) -> &[Prefix] {
        &self.added
    }

    /// The addresses on link `index` ([`addresses`]).
    async fn lo_addresses(&self, index: u32) -> Result<Vec<Address>, Error> {
        addresses(&self.nl, Some(index)).await
    }

    /// Removes what [`BackendSetup::start`] added.
    pub async fn remove(self) -> Result<(), Error> {
        let doomed = addresses(&self.nl, None).await?.into_iter().filter(|a| {
            self.added
                .iter()
                .any(|p| p.addr() == a.ip && p.len() == a.len)
        });
        for a in doomed {
            absent_ok(self.nl.handle.address().del(a.msg).execute().await)
                .map_err(nle("remove a VIP from lo"))?;
        }
        self.nl.delete_link(self.device).await?;
        crate::nft::apply(&crate::nft::delete_script()).await
    }
}

/// An address of a link, as the kernel lists it.
#[derive(Debug, Clone)]
pub(crate) struct Address {
    /// The address.
    pub(crate) ip: IpAddr,
    /// Its prefix length.
    pub(crate) len: u8,
    /// Whether it carries [`VIP_LABEL`]: put there by a backend.
    pub(crate) labelled: bool,
    /// The message to delete it with.
    pub(crate) msg: AddressMessage,
}

/// The addresses of link `link`, or of every link.
pub(crate) async fn addresses(nl: &Netlink, link: Option<u32>) -> Result<Vec<Address>, Error> {
    let mut get = nl.handle.address().get();
    if let Some(index) = link {
        get = get.set_link_index_filter(index);
    }
    let mut addrs = get.execute();
    let mut out = Vec::new();
    while let Some(a) = addrs.try_next().await.map_err(nle("list addresses"))? {
        let labelled = a
            .attributes
            .iter()
            .any(|x| matches!(x, AddressAttribute::Label(l) if l == VIP_LABEL));
        let local = a.attributes.iter().find_map(|x| match x {
            AddressAttribute::Local(ip) | AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        });
        if let Some(ip) = local {
            out.push(Address {
                ip,
                len: a.header.prefix_len,
                labelled,
                msg: a,
            });
        }
    }
    Ok(out)
}
