//! The forwarding mode's names and numbers: which device, VNI, firewall mark and
//! routing table each backend gets. Pure: the watcher computes it from its config,
//! the tests check it, and [`crate::nft`] and [`crate::kernel`] only carry it out.

use std::net::Ipv4Addr;
use std::time::Duration;

use hopwatch_bgp::Prefix;

/// The address every tunnel's inner frames are sent to: a link-local "gateway" that
/// the watcher resolves with a permanent neighbour entry to [`BACKEND_MAC`], and that
/// the backend holds on its tunnel device. One neighbour per device serves a VIP
/// prefix of any length.
pub const TUNNEL_GATEWAY: Ipv4Addr = Ipv4Addr::new(169, 254, 0, 1);
/// The MAC of every backend's tunnel device (locally administered; "hw"), so that a
/// watcher needs no address resolution across the tunnel.
pub const BACKEND_MAC: [u8; 6] = [0x02, 0x68, 0x77, 0x00, 0x00, 0x01];
/// The backend's tunnel device.
pub const BACKEND_DEVICE: &str = "hwfwd";
/// The label of the VIP addresses the backend puts on `lo` (`ip addr` shows it):
/// how a backend that was killed before it could clean up, or `hopwatch cleanup`,
/// tells them from addresses someone else put there.
pub const VIP_LABEL: &str = "lo:hopwatch";
/// The nftables table of the watcher's flow affinity (and of the backend's
/// allow-list).
pub const NFT_TABLE: &str = "hopwatch_forward";
/// The prefix of the watcher's per-backend tunnel devices: `hwfw0`, `hwfw1`, ...
pub const DEVICE_PREFIX: &str = "hwfw";
/// VXLAN's IANA port.
pub const DEFAULT_PORT: u16 = 4789;
/// The overhead of VXLAN over IPv4: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14.
pub const VXLAN_OVERHEAD: u32 = 50;

/// The settings of `[forward]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// This watcher's own address: the tunnels' source (and the VIP's next hop).
    pub address: Ipv4Addr,
    /// The VXLAN UDP port.
    pub port: u16,
    /// The first VNI; backend `i` gets `vni + i`.
    pub vni: u32,
    /// The high 16 bits of the firewall marks (backend `i` is `mark << 16 | i`).
    pub mark: u16,
    /// The first routing table (backend `i` is `table + i`), also the priority of the
    /// `fwmark` rules.
    pub table: u32,
    /// How long a flow idle for keeps its backend.
    pub flow_timeout: Duration,
    /// How many flows each backend's affinity set holds at most.
    pub max_flows: u32,
}

impl Settings {
    /// The defaults of `[forward]` for a watcher at `address`: VXLAN's port 4789,
    /// VNIs from 4242, marks 0x6877xxxx, tables from 4270, flows kept 15 minutes
    /// idle, at most 2^20 per backend.
    pub fn new(address: Ipv4Addr) -> Settings {
        Settings {
            address,
            port: DEFAULT_PORT,
            vni: 4242,
            mark: 0x6877,
            table: 4270,
            flow_timeout: Duration::from_secs(15 * 60),
            max_flows: 1 << 20,
        }
    }
}

impl Settings {
    /// The most new flows one client address may pin a second (and the burst it
    /// may pin at once), so that one address holds at most 1/32 + 1/256 of a
    /// backend's affinity set however many ports it uses: `max_flows / (32 ×
    /// flow_timeout)` a second (36 with the defaults), in bursts of `max_flows /
    /// 256` (4,096). Flows past the rate are forwarded all the same, only not
    /// pinned: they follow the main table, so a planned move (drain, failback)
    /// during their life resets them, as it would any flow once a set is full.
    pub fn pin_rate(&self) -> (u32, u32) {
        let timeout = self.flow_timeout.as_secs().max(1);
        let rate = u64::from(self.max_flows) / (32 * timeout);
        let burst = self.max_flows / 256;
        (u32::try_from(rate).unwrap_or(u32::MAX).max(1), burst.max(1))
    }
}

/// One backend's tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    /// Its index (devices, marks, tables, VNIs are numbered by it).
    pub index: u32,
    /// The backend's address: the tunnel's remote end.
    pub backend: Ipv4Addr,
}

impl Tunnel {
    /// The device's name.
    pub fn device(&self) -> String {
        format!("{DEVICE_PREFIX}{}", self.index)
    }
}

/// Everything the forwarding mode sets up once: the tunnels and the VIPs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// `[forward]`.
    pub settings: Settings,
    /// One tunnel per distinct backend address, in the order of first appearance.
    pub tunnels: Vec<Tunnel>,
    /// The VIPs forwarded (IPv4).
    pub vips: Vec<Prefix>,
}

impl Layout {
    /// The layout for `vips`, each with its backends' addresses. A backend shared by
    /// several VIPs has one tunnel.
    pub fn new(settings: Settings, vips: &[(Prefix, Vec<Ipv4Addr>)]) -> Layout {
        let mut tunnels: Vec<Tunnel> = Vec::new();
        for (_, backends) in vips {
            for b in backends {
                if !tunnels.iter().any(|t| t.backend == *b) {
                    tunnels.push(Tunnel {
                        index: u32::try_from(tunnels.len()).unwrap_or(u32::MAX),
                        backend: *b,
                    });
                }
            }
        }
        Layout {
            settings,
            tunnels,
            vips: vips.iter().map(|(p, _)| *p).collect(),
        }
    }

    /// The tunnel to `backend`.
    pub fn tunnel(&self, backend: Ipv4Addr) -> Option<&Tunnel> {
        self.tunnels.iter().find(|t| t.backend == backend)
    }

    /// Backend `i`'s firewall mark.
    pub fn mark(&self, t: &Tunnel) -> u32 {
        (u32::from(self.settings.mark) << 16) | (t.index & 0xffff)
    }

    /// Backend `i`'s routing table.
    pub fn table(&self, t: &Tunnel) -> u32 {
        self.settings.table.saturating_add(t.index)
    }

    /// Backend `i`'s VNI.
    pub fn vni(&self, t: &Tunnel) -> u32 {
        self.settings.vni.saturating_add(t.index)
    }
}
