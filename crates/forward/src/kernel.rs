//! The watcher's side in the kernel, through rtnetlink: one VXLAN device per
//! backend, the neighbour entry behind each, the `fwmark` rules, and the routes of
//! [`crate::plan`]. A move is one or two route replacements (`RTM_NEWROUTE` with
//! `NLM_F_REPLACE`): the VIP never lacks a route while it moves.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::{InfoData, InfoVxlan, LinkAttribute, LinkInfo, LinkMessage};
use rtnetlink::packet_route::neighbour::NeighbourState;
use rtnetlink::packet_route::route::RouteProtocol;
use rtnetlink::packet_route::rule::{RuleAttribute, RuleMessage};
use rtnetlink::{Handle, IpVersion, LinkUnspec, LinkVxlan, RouteMessageBuilder};
use tokio::task::JoinHandle;

use crate::Error;
use crate::layout::{BACKEND_MAC, DEVICE_PREFIX, Layout, TUNNEL_GATEWAY};
use crate::plan::{self, RouteKey, Routes, VipState};

/// The route protocol number of hopwatch's routes (as the route server's kernel plane).
pub const RTPROT: u8 = 241;
/// ESRCH / ENOENT: what deleting something absent answers.
const ABSENT: [i32; 2] = [3, 2];

/// A netlink connection in the current network namespace.
#[derive(Debug)]
pub(crate) struct Netlink {
    pub(crate) handle: Handle,
    connection: JoinHandle<()>,
}

impl Netlink {
    pub(crate) fn open() -> Result<Netlink, Error> {
        let (connection, handle, _) =
            rtnetlink::new_connection().map_err(|e| Error::Netlink(e.to_string()))?;
        Ok(Netlink {
            handle,
            connection: tokio::spawn(connection),
        })
    }

    /// Every link whose name starts with `prefix`, as (name, index).
    pub(crate) async fn links(&self, prefix: &str) -> Result<Vec<(String, u32)>, Error> {
        Ok(self
            .link_messages(prefix)
            .await?
            .into_iter()
            .filter_map(|l| Some((link_name(&l)?, l.header.index)))
            .collect())
    }

    /// Every link whose name starts with `prefix`, whole.
    pub(crate) async fn link_messages(&self, prefix: &str) -> Result<Vec<LinkMessage>, Error> {
        let mut links = self.handle.link().get().execute();
        let mut out = Vec::new();
        while let Some(l) = links.try_next().await.map_err(nle("list links"))? {
            if link_name(&l).is_some_and(|n| n.starts_with(prefix)) {
                out.push(l);
            }
        }
        Ok(out)
    }

    /// Creates the link `msg` describes and returns its index.
    pub(crate) async fn create_link(&self, name: &str, msg: LinkMessage) -> Result<u32, Error> {
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(|e| Error::Netlink(format!("create {name}: {e}")))?;
        self.links(name)
            .await?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, i)| i)
            .ok_or_else(|| Error::Netlink(format!("{name} vanished")))
    }

    pub(crate) async fn delete_link(&self, index: u32) -> Result<(), Error> {
        absent_ok(self.handle.link().del(index).execute().await).map_err(nle("delete link"))
    }

    pub(crate) async fn set_up(&self, index: u32) -> Result<(), Error> {
        let msg = LinkUnspec::new_with_index(index).up().build();
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(nle("set link up"))
    }
}

impl Drop for Netlink {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// Whether `l` is a VXLAN device with this VNI, remote, local address and port.
fn vxlan_is(l: &LinkMessage, vni: u32, remote: Ipv4Addr, local: Ipv4Addr, port: u16) -> bool {
    let infos = l.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => Some(infos),
        _ => None,
    });
    let Some(data) = infos.and_then(|infos| {
        infos.iter().find_map(|i| match i {
            LinkInfo::Data(InfoData::Vxlan(d)) => Some(d),
            _ => None,
        })
    }) else {
        return false;
    };
    let has = |want: &InfoVxlan| data.contains(want);
    has(&InfoVxlan::Id(vni))
        && has(&InfoVxlan::Group(remote))
        && has(&InfoVxlan::Local(local))
        && has(&InfoVxlan::Port(port))
}

/// Marks a rule as hopwatch's (`FRA_PROTOCOL`, as its routes carry [`RTPROT`]), so
/// that a watcher that no longer knows its layout can still find it
/// ([`crate::cleanup`]).
trait ProtocolHopwatch {
    fn protocol_hopwatch(self) -> Self;
}

impl<T> ProtocolHopwatch for rtnetlink::RuleAddRequest<T> {
    fn protocol_hopwatch(mut self) -> Self {
        self.message_mut()
            .attributes
            .push(RuleAttribute::Protocol(RouteProtocol::Other(RTPROT)));
        self
    }
}

/// Whether `l` is a VXLAN device.
pub(crate) fn is_vxlan(l: &LinkMessage) -> bool {
    l.attributes.iter().any(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos
            .iter()
            .any(|i| matches!(i, LinkInfo::Data(InfoData::Vxlan(_)))),
        _ => false,
    })
}

pub(crate) fn link_name(l: &LinkMessage) -> Option<String> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })
}

pub(crate) fn nle(what: &'static str) -> impl Fn(rtnetlink::Error) -> Error {
    move |e| Error::Netlink(format!("{what}: {e}"))
}

pub(crate) fn absent_ok(r: Result<(), rtnetlink::Error>) -> Result<(), rtnetlink::Error> {
    match r {
        Err(rtnetlink::Error::NetlinkError(e)) if ABSENT.contains(&e.raw_code().abs()) => Ok(()),
        other => other,
    }
}

/// The watcher's forwarding, set up in the current network namespace.
pub struct Forwarder {
    nl: Netlink,
    layout: Layout,
    /// Tunnel index to interface index.
    ifindex: BTreeMap<u32, u32>,
    routes: Routes,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("layout", &self.layout)
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

impl Forwarder {
    /// Sets up `layout`: enables IPv4 forwarding, the tunnels, their neighbours, the
    /// `fwmark` rules and the nftables rules. Idempotent, and without a gap: a device
    /// or a rule a previous run left that is already right is kept (with the routes
    /// through it), one that differs is replaced, one the layout no longer names is
    /// deleted; the nftables rules are swapped in one transaction and the flow sets
    /// kept. So a restarted watcher takes over its predecessor's forwarding while
    /// traffic flows through it. Routes come with [`Forwarder::apply`].
    pub async fn start(layout: Layout) -> Result<Forwarder, Error> {
        crate::sysctl("net/ipv4/ip_forward", "1")?;
        let nl = Netlink::open()?;
        let s = &layout.settings;
        let mut kept: BTreeMap<String, u32> = BTreeMap::new();
        for l in nl.link_messages(DEVICE_PREFIX).await? {
            let name = link_name(&l).unwrap_or_default();
            let right = layout
                .tunnels
                .iter()
                .find(|t| t.device() == name)
                .is_some_and(|t| vxlan_is(&l, layout.vni(t), t.backend, s.address, s.port));
            if right {
                kept.insert(name, l.header.index);
            } else {
                nl.delete_link(l.header.index).await?;
            }
        }
        let mut ifindex = BTreeMap::new();
        for t in &layout.tunnels {
            if let Some(&index) = kept.get(&t.device()) {
                nl.set_up(index).await?;
                ifindex.insert(t.index, index);
                continue;
            }
            let msg = LinkVxlan::new(&t.device(), layout.vni(t))
                .local(s.address)
                .remote(t.backend)
                .port(s.port)
                .learning(false)
                .build();
            let index = nl.create_link(&t.device(), msg).await?;
            nl.set_up(index).await?;
            nl.handle
                .neighbours()
                .add(index, IpAddr::V4(TUNNEL_GATEWAY))
                .link_layer_address(&BACKEND_MAC)
                .state(NeighbourState::Permanent)
                .replace()
                .execute()
                .await
                .map_err(nle("neighbour"))?;
            ifindex.insert(t.index, index);
        }
        let f = Forwarder {
            nl,
            layout,
            ifindex,
            routes: Routes::new(),
        };
        let present = f.rules().await?;
        let wanted: Vec<(u32, u32)> = f
            .layout
            .tunnels
            .iter()
            .map(|t| (f.layout.mark(t), f.layout.table(t)))
            .collect();
        let mut kept_rules = Vec::new();
        for (key, rule) in present {
            if wanted.contains(&key) {
                kept_rules.push(key);
            } else {
                absent_ok(f.nl.handle.rule().del(rule).execute().await)
                    .map_err(nle("delete rule"))?;
            }
        }
        for &(mark, table) in wanted.iter().filter(|k| !kept_rules.contains(k)) {
            f.nl.handle
                .rule()
                .add()
                .v4()
                .fw_mark(mark)
                .table_id(table)
                // Without an action the kernel treats the rule as invalid and drops
                // every packet it matches.
                .action(rtnetlink::packet_route::rule::RuleAction::ToTable)
                .priority(f.layout.settings.table)
                .protocol_hopwatch()
                .execute()
                .await
                .map_err(nle("add rule"))?;
        }
        crate::nft::apply(&crate::nft::watcher_script(&f.layout)).await?;
        Ok(f)
    }

    /// The layout in force.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The routes in force.
    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    /// Carries out `states`: replaces the routes that change, deletes those that go.
    /// Returns how many routes changed.
    pub async fn apply(&mut self, states: &[VipState]) -> Result<usize, Error> {
        let new = plan::routes(&self.layout, states);
        let (replace, delete) = plan::diff(&self.routes, &new);
        // New flows' routes last: a failure first repoints the dead backend's
        // established flows, then sends new ones elsewhere.
        for (key, tunnel) in replace.iter().filter(|(k, _)| k.table.is_some()) {
            self.replace(*key, *tunnel).await?;
        }
        for (key, tunnel) in replace.iter().filter(|(k, _)| k.table.is_none()) {
            self.replace(*key, *tunnel).await?;
        }
        for key in &delete {
            self.delete(*key).await?;
        }
        self.routes = new;
        Ok(replace.len() + delete.len())
    }

    /// Removes everything [`Forwarder::start`] and [`Forwarder::apply`] made.
    pub async fn remove(mut self) -> Result<(), Error> {
        let keys: Vec<RouteKey> = self.routes.keys().copied().collect();
        for key in keys {
            self.delete(key).await?;
        }
        self.routes.clear();
        self.delete_rules().await?;
        for index in self.ifindex.values() {
            self.nl.delete_link(*index).await?;
        }
        crate::nft::apply(&crate::nft::delete_script()).await
    }

    async fn replace(&self, key: RouteKey, tunnel: u32) -> Result<(), Error> {
        let Some(&oif) = self.ifindex.get(&tunnel) else {
            return Err(Error::Netlink(format!("no device for tunnel {tunnel}")));
        };
        let msg = route(key)?
            .gateway(TUNNEL_GATEWAY)
            .output_interface(oif)
            .onlink()
            .build();
        self.nl
            .handle
            .route()
            .add(msg)
            .replace()
            .execute()
            .await
            .map_err(|e| Error::Netlink(format!("replace route {}: {e}", key.prefix)))
    }

    async fn delete(&self, key: RouteKey) -> Result<(), Error> {
        let msg = route(key)?.build();
        absent_ok(self.nl.handle.route().del(msg).execute().await)
            .map_err(|e| Error::Netlink(format!("delete route {}: {e}", key.prefix)))
    }

    /// Our `fwmark` rules (those at our priority), by (mark, table).
    async fn rules(&self) -> Result<Vec<((u32, u32), RuleMessage)>, Error> {
        let mut rules = self.nl.handle.rule().get(IpVersion::V4).execute();
        let mut ours = Vec::new();
        while let Some(r) = rules.try_next().await.map_err(nle("list rules"))? {
            let (mut priority, mut mark, mut table) = (None, 0, u32::from(r.header.table));
            for a in &r.attributes {
                match a {
                    RuleAttribute::Priority(p) => priority = Some(*p),
                    RuleAttribute::FwMark(m) => mark = *m,
                    RuleAttribute::Table(t) => table = *t,
                    _ => {}
                }
            }
            if priority == Some(self.layout.settings.table) {
                ours.push(((mark, table), r));
            }
        }
        Ok(ours)
    }

    /// Deletes our `fwmark` rules.
    async fn delete_rules(&self) -> Result<(), Error> {
        for (_, r) in self.rules().await? {
            absent_ok(self.nl.handle.rule().del(r).execute().await).map_err(nle("delete rule"))?;
        }
        Ok(())
    }
}

fn route(key: RouteKey) -> Result<RouteMessageBuilder<Ipv4Addr>, Error> {
    let IpAddr::V4(addr) = key.prefix.addr() else {
        return Err(Error::Netlink(format!(
            "{}: forwarding carries IPv4 VIPs only",
            key.prefix
        )));
    };
    let mut b = RouteMessageBuilder::<Ipv4Addr>::new()
        .destination_prefix(addr, key.prefix.len())
        .protocol(RouteProtocol::Other(RTPROT));
    if let Some(t) = key.table {
        b = b.table_id(t);
    }
    Ok(b)
}

/// The prefix of `key`, for messages.
pub fn describe(key: &RouteKey) -> String {
    match key.table {
        Some(t) => format!("{} (table {t})", key.prefix),
        None => format!("{} (new flows)", key.prefix),
    }
}
