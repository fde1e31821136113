//! The deployer's config: the seed's planning table as TOML. Every key has the seed's
//! value as its default, so a file holding only `[hopwatch]` (where the release comes
//! from) renders the seed's environment; `examples/azure.toml` spells every key out.
//!
//! Errors name the file, the line and the key, with the watcher's config's own code
//! (`hopwatch_config::{read, deserialize, located}`): serde gives the key path, toml
//! the position, and the line of a key is found again for the checks in `validate`.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use hopwatch_bgp::{Asn, Prefix};
use hopwatch_config::{self as config, ConfigError};
use serde::{Deserialize, Deserializer};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AzureConfig {
    /// The Azure region (the seed's REGION).
    pub region: String,
    /// The resource group of the network and the route server (RG).
    pub resource_group: String,
    /// The resource group of the VMs (RG_VM); may equal `resource_group`.
    pub vm_resource_group: String,
    /// `[vnet]`.
    pub vnet: VnetCfg,
    /// `[route_server]`.
    pub route_server: RouteServerCfg,
    /// `[bastion]`.
    pub bastion: BastionCfg,
    /// `[route_table]`.
    pub route_table: RouteTableCfg,
    /// `[vip]`.
    pub vip: VipCfg,
    /// `[vm]`: what every VM shares.
    pub vm: VmCfg,
    /// `[hopwatch]`: where the VMs get hopwatch from.
    pub hopwatch: ReleaseCfg,
    /// `[[web]]`: the web servers that hold the VIP, in priority order (ws1, ws2).
    pub web: Vec<Host>,
    /// `[[load]]`: the load injectors (lt1).
    pub load: Vec<Host>,
    /// `[watcher]`: the BGP speaker that steers the VIP (watch1); the primary of a
    /// pair when `[standby]` is enabled.
    pub watcher: WatcherCfg,
    /// `[standby]`: a second watcher on its own VM, in another availability zone.
    pub standby: StandbyCfg,
    /// `[observer]`: a passive BGP peer that logs what the route server passes on (watch2).
    pub observer: ObserverCfg,
    /// `[health]`: the watcher's probes.
    pub health: HealthCfg,
    /// `[forward]`: the forwarding mode (the watchers carry the VIP's traffic).
    pub forward: ForwardCfg,
}

impl Default for AzureConfig {
    fn default() -> Self {
        AzureConfig {
            region: "uksouth".into(),
            resource_group: "next-hop-ip-rg".into(),
            vm_resource_group: "next-hop-ip-vm-rg".into(),
            vnet: VnetCfg::default(),
            route_server: RouteServerCfg::default(),
            bastion: BastionCfg::default(),
            route_table: RouteTableCfg::default(),
            vip: VipCfg::default(),
            vm: VmCfg::default(),
            hopwatch: ReleaseCfg::default(),
            web: vec![
                Host::new("ws1", [10, 10, 0, 4]),
                Host::new("ws2", [10, 10, 0, 5]),
            ],
            load: vec![Host::new("lt1", [10, 10, 0, 6])],
            watcher: WatcherCfg::default(),
            standby: StandbyCfg::default(),
            observer: ObserverCfg::default(),
            health: HealthCfg::default(),
            forward: ForwardCfg::default(),
        }
    }
}

/// `[vnet]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VnetCfg {
    /// VNET_Name.
    pub name: String,
    /// VNET_CIDR.
    pub address_space: Prefix,
    /// Default_Subnet_Name: the VMs' subnet.
    pub subnet_name: String,
    /// Default_Subnet_CIDR.
    pub subnet: Prefix,
    /// RouteServer_Subnet_CIDR (its name is always RouteServerSubnet).
    pub route_server_subnet: Prefix,
    /// Bastion_Subnet_CIDR (its name is always AzureBastionSubnet).
    pub bastion_subnet: Prefix,
    /// How the VMs reach the internet (cloud-init's packages, hopwatch's `.deb`):
    /// new subnets are private (no default outbound access) since Azure's API of
    /// 2025-07-01, and the VMs have no public IP.
    pub outbound: Outbound,
    /// The NAT gateway's name (`outbound = "nat-gateway"`).
    pub nat_gateway: String,
    /// The NAT gateway's public IP's name.
    pub nat_public_ip: String,
}

/// `[vnet] outbound`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outbound {
    /// A NAT gateway (and its Standard public IP) on the VMs' subnet: what
    /// Microsoft recommends for outbound access; it costs by the hour and by the
    /// GB processed.
    NatGateway,
    /// The VMs' subnet with default outbound access (`--default-outbound true`): no
    /// charge of its own, but Microsoft is retiring it and its address is neither
    /// fixed nor yours.
    DefaultOutbound,
}

fn v4(a: [u8; 4], len: u8) -> Prefix {
    Prefix::new_masking(Ipv4Addr::from(a).into(), len)
        .expect("the defaults' IPv4 prefixes are at most /32")
}

impl Default for VnetCfg {
    fn default() -> Self {
        VnetCfg {
            name: "next-hop-ip-vnet".into(),
            address_space: v4([10, 10, 0, 0], 16),
            subnet_name: "default".into(),
            subnet: v4([10, 10, 0, 0], 24),
            route_server_subnet: v4([10, 10, 1, 0], 24),
            bastion_subnet: v4([10, 10, 2, 0], 24),
            outbound: Outbound::NatGateway,
            nat_gateway: "next-hop-ip-natgw".into(),
            nat_public_ip: "natgw-public-ip".into(),
        }
    }
}

/// `[route_server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteServerCfg {
    /// Route_Server_Name.
    pub name: String,
    /// Route_Server_PublicIP: the name of its (Standard SKU) public IP.
    pub public_ip: String,
    /// The two instances' addresses. Azure gives the 4th and 5th addresses of
    /// RouteServerSubnet; `deploy.sh` checks that it did before peering.
    pub instances: Option<Vec<Ipv4Addr>>,
}

impl Default for RouteServerCfg {
    fn default() -> Self {
        RouteServerCfg {
            name: "next-hop-ip-routeserver".into(),
            public_ip: "routeserver-ip".into(),
            instances: None,
        }
    }
}

/// `[bastion]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BastionCfg {
    /// Build the bastion (the only way in: the VMs have no public address).
    pub enabled: bool,
    /// Bastion_Name.
    pub name: String,
    /// Bastion_PublicIP_Name.
    pub public_ip: String,
}

impl Default for BastionCfg {
    fn default() -> Self {
        BastionCfg {
            enabled: true,
            name: "next-hop-ip-bastion".into(),
            public_ip: "bastion-public-ip".into(),
        }
    }
}

/// `[route_table]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteTableCfg {
    /// Route_Table_Name: attached to the VMs' subnet, with BGP propagation on.
    pub name: String,
}

impl Default for RouteTableCfg {
    fn default() -> Self {
        RouteTableCfg {
            name: "next-hop-ip-rt".into(),
        }
    }
}

/// `[vip]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VipCfg {
    /// The VIP, a /32 outside the VNET's address space.
    pub prefix: Prefix,
    /// The port `hopwatch web` serves on (the VIP and the health checks).
    pub port: u16,
}

impl Default for VipCfg {
    fn default() -> Self {
        VipCfg {
            prefix: v4([100, 64, 0, 1], 32),
            port: 80,
        }
    }
}

/// `[vm]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VmCfg {
    /// VM_Size.
    pub size: String,
    /// A marketplace image URN (publisher:offer:sku:version).
    pub image: String,
    /// The availability zone ("" for none).
    pub zone: String,
    /// VM_User.
    pub admin_user: String,
    /// An SSH public key: a file (`~/` is the deploying user's home), or the key itself.
    pub ssh_public_key: String,
    /// Also allow password logins, with the password taken from the environment
    /// variable HOPWATCH_ADMIN_PASSWORD when the deploy script runs.
    pub allow_password: bool,
    /// Never accepted: present only to refuse it with a clear message.
    pub password: Option<toml::Value>,
}

impl Default for VmCfg {
    fn default() -> Self {
        VmCfg {
            size: "Standard_B2ms".into(),
            image: "Canonical:ubuntu-24_04-lts:server:latest".into(),
            zone: "1".into(),
            admin_user: "azureuser".into(),
            ssh_public_key: "~/.ssh/id_ed25519.pub".into(),
            allow_password: false,
            password: None,
        }
    }
}

/// `[hopwatch]`: the release the VMs install.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReleaseCfg {
    /// hopwatch's .deb on this machine (`cargo deb -p hopwatch`), relative to the
    /// config file: deploy uploads it to a storage account of the deployment and
    /// gives the VMs a read-only link that expires, with the sha256 of the file it
    /// uploaded. Or `deb_url` and `deb_sha256` instead.
    pub deb: String,
    /// The URL of hopwatch's .deb where you host it, https.
    pub deb_url: String,
    /// Its sha256, 64 hex digits: the VMs refuse a file that does not match.
    pub deb_sha256: String,
    /// The storage account `deb` is uploaded to; empty for one named after the
    /// subscription and the resource group (storage account names are global: the
    /// same on every rerun, and not another deployment's).
    pub storage_account: String,
}

impl ReleaseCfg {
    /// Whether deploy uploads the .deb (`deb`), rather than the VMs downloading it
    /// from `deb_url`.
    pub fn uploads(&self) -> bool {
        !self.deb.is_empty()
    }
}

/// A VM: its name (also its host name) and its address in the VMs' subnet.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// The VM's name.
    pub name: String,
    /// Its private address.
    pub ip: Ipv4Addr,
}

impl Host {
    fn new(name: &str, ip: [u8; 4]) -> Host {
        Host {
            name: name.into(),
            ip: ip.into(),
        }
    }
}

/// `[watcher]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatcherCfg {
    /// Watch1_Hostname.
    pub name: String,
    /// Watch1_IP.
    pub ip: Ipv4Addr,
    /// Its AS: 2-octet, not one Azure Route Server reserves.
    pub asn: Asn,
    /// Graceful restart time, seconds: the route server keeps the VIP this long
    /// while the watcher restarts.
    pub graceful_restart: u16,
    /// Time, after the primary is healthy again, before the VIP moves back.
    #[serde(deserialize_with = "duration")]
    pub failback_hold: Duration,
}

impl Default for WatcherCfg {
    fn default() -> Self {
        WatcherCfg {
            name: "watch1".into(),
            ip: Ipv4Addr::new(10, 10, 0, 7),
            asn: Asn(65001),
            graceful_restart: 10,
            failback_hold: Duration::from_secs(30),
        }
    }
}

/// `[standby]`: the standby watcher of a pair (issue 13). Off by default: a config
/// without it renders the single watcher it always did, and the pair costs a VM.
///
/// A VM of its own rather than the observer's watch2 with a second address: primary
/// and standby must not fail together, and a VM of its own can be put in another
/// availability zone (another datacenter, so never the primary's host, rack or
/// power), while watch2 shares the one `[vm] zone` of every VM; it also needs no
/// secondary IP configuration on a NIC and in the guest (Azure Route Server knows
/// its peers by address, and the observer holds watch2's). It shares the watcher's
/// AS, graceful restart, failback hold and probes: the two must decide alike.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StandbyCfg {
    /// Build it: the watcher becomes the pair's primary (`[ha] role = "primary"`).
    pub enabled: bool,
    /// Its name (watch3).
    pub name: String,
    /// Its address: also its BGP router ID and source, distinct from the primary's.
    pub ip: Ipv4Addr,
    /// Its availability zone; by default the one after `[vm] zone` (1 → 2 → 3 → 1),
    /// and never the primary's.
    pub zone: Option<String>,
    /// The extra copies of the AS in its announcements (`[ha] prepend`): Azure Route
    /// Server prefers the shortest AS path, so the primary's route wins while it is
    /// there, and the two never form an ECMP set.
    pub prepend: u8,
}

impl Default for StandbyCfg {
    fn default() -> Self {
        StandbyCfg {
            enabled: false,
            name: "watch3".into(),
            ip: Ipv4Addr::new(10, 10, 0, 9),
            zone: None,
            prepend: hopwatch_config::ha::DEFAULT_PREPEND,
        }
    }
}

/// `[observer]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObserverCfg {
    /// Build it (the later revision of the seed has it).
    pub enabled: bool,
    /// Its name (watch2).
    pub name: String,
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its AS, not the watcher's.
    pub asn: Asn,
}

impl Default for ObserverCfg {
    fn default() -> Self {
        ObserverCfg {
            enabled: true,
            name: "watch2".into(),
            ip: Ipv4Addr::new(10, 10, 0, 8),
            asn: Asn(65002),
        }
    }
}

/// `[health]`: the watcher's probes of each web server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCfg {
    /// A new probe this often.
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    /// A probe without an answer this long has failed.
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    /// Failures that make a web server down.
    pub fall: u32,
    /// Successes that make it up.
    pub rise: u32,
    /// The path `hopwatch web` answers health checks on.
    pub path: String,
}

impl Default for HealthCfg {
    fn default() -> Self {
        HealthCfg {
            interval: Duration::from_millis(10),
            timeout: Duration::from_millis(25),
            fall: 2,
            rise: 3,
            path: "/health".into(),
        }
    }
}

/// The VXLAN port of the forwarding mode when none is given: IANA's, and the
/// default of the watcher's `[forward] port` and of `hopwatch backend --port` (a
/// test checks that the three agree), so a rendered config leaves it out.
pub const DEFAULT_VXLAN_PORT: u16 = 4789;

/// `[forward]`: the forwarding mode (`docs/forwarding.md`). Off by default: a config
/// without it renders the next-hop mode it always did.
///
/// In the next-hop mode the VIP's route points at the web server the watcher
/// chooses, so every backend failover waits for Azure to program the new next hop
/// (1 to 5.6 s measured). In the forwarding mode it points at the watcher itself
/// (`[forward] address` in each watcher's config, its own VM's address), which
/// forwards the VIP's traffic over VXLAN to the web server it chooses: a backend
/// failover is a route change in the watcher's kernel (milliseconds), and only a
/// watcher's failure waits for Azure (the BGP hold time, then the programming). So
/// the watcher joins the data path, and a pair (`[standby]`) is strongly advised:
/// `validate` warns without one. One switch renders every side of it: the
/// watchers' `[forward]`, `hopwatch-backend.service` on the web servers, IP
/// forwarding on the watchers' NICs, and the NSG rule to add for the VXLAN port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardCfg {
    /// Render the forwarding mode.
    pub enabled: bool,
    /// The VXLAN UDP port: the watchers' `[forward] port`, the web servers'
    /// `hopwatch backend --port`, the NSG rule's port.
    pub port: u16,
}

impl Default for ForwardCfg {
    fn default() -> Self {
        ForwardCfg {
            enabled: false,
            port: DEFAULT_VXLAN_PORT,
        }
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(s.trim()).map_err(|_| {
        serde::de::Error::custom(format!(
            "invalid duration {s:?}: write it like \"10ms\", \"1.5s\" or \"30s\""
        ))
    })
}

impl AzureConfig {
    /// The route server's two instance addresses: configured, or the 4th and 5th
    /// addresses of RouteServerSubnet, which Azure gives them.
    pub fn route_server_instances(&self) -> Vec<Ipv4Addr> {
        if let Some(i) = &self.route_server.instances {
            return i.clone();
        }
        let base = match self.vnet.route_server_subnet.addr() {
            std::net::IpAddr::V4(a) => u32::from(a),
            std::net::IpAddr::V6(_) => 0,
        };
        vec![Ipv4Addr::from(base + 4), Ipv4Addr::from(base + 5)]
    }

    /// The standby's availability zone: configured, or the one after `[vm] zone`
    /// ("" when the VMs have none, which `validate` refuses for a pair).
    pub fn standby_zone(&self) -> String {
        if let Some(z) = &self.standby.zone {
            return z.clone();
        }
        match self.vm.zone.as_str() {
            "1" => "2",
            "2" => "3",
            "3" => "1",
            other => other,
        }
        .into()
    }

    /// The watchers, each name with its address: the watcher, then the standby of a
    /// pair. In the forwarding mode they are the VIP's next hops and the only
    /// sources of VXLAN a web server accepts.
    pub fn watchers(&self) -> Vec<(&str, Ipv4Addr)> {
        let mut w = vec![(self.watcher.name.as_str(), self.watcher.ip)];
        if self.standby.enabled {
            w.push((self.standby.name.as_str(), self.standby.ip));
        }
        w
    }

    /// Every VM with its role, in the order they are built.
    pub fn vms(&self) -> Vec<(Role, &str, Ipv4Addr)> {
        let mut v: Vec<(Role, &str, Ipv4Addr)> = self
            .web
            .iter()
            .map(|h| (Role::Web, h.name.as_str(), h.ip))
            .collect();
        v.extend(
            self.load
                .iter()
                .map(|h| (Role::Load, h.name.as_str(), h.ip)),
        );
        v.push((Role::Watcher, self.watcher.name.as_str(), self.watcher.ip));
        if self.standby.enabled {
            v.push((Role::Standby, self.standby.name.as_str(), self.standby.ip));
        }
        if self.observer.enabled {
            v.push((
                Role::Observer,
                self.observer.name.as_str(),
                self.observer.ip,
            ));
        }
        v
    }
}

/// What a VM does; each role has one cloud-init file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// `hopwatch web` with the VIP on its loopback (ws1, ws2).
    Web,
    /// `hopwatch load`, started by hand (lt1).
    Load,
    /// `hopwatch run`, peered with both route server instances (watch1); the
    /// primary of a pair.
    Watcher,
    /// `hopwatch run` as the pair's standby, peered with both route server
    /// instances (watch3).
    Standby,
    /// `hopwatch observe`, peered with both route server instances (watch2).
    Observer,
}

impl Role {
    /// The role's name, as in `cloud-init/NAME.yaml`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Web => "web",
            Role::Load => "load",
            Role::Watcher => "watcher",
            Role::Standby => "standby",
            Role::Observer => "observer",
        }
    }

    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::Web,
        Role::Watcher,
        Role::Standby,
        Role::Observer,
        Role::Load,
    ];
}

/// A config that loaded, with the warnings it deserves (as the watcher's own
/// `hopwatch_config::Loaded`): what renders, but is probably not what was meant.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: AzureConfig,
    /// Printed by `hopwatch azure render` before it renders.
    pub warnings: Vec<ConfigError>,
}

/// Reads, parses and checks a config file.
pub fn load(path: &Path) -> Result<Loaded, Vec<ConfigError>> {
    parse(path, &config::read(path)?)
}

/// Parses and checks config text; `path` only names it in errors.
pub fn parse(path: &Path, text: &str) -> Result<Loaded, Vec<ConfigError>> {
    let config: AzureConfig = config::deserialize(path, text)?;
    let to_error = |(key, message)| config::located(path, text, key, message);
    let problems = super::validate::check(&config);
    if !problems.is_empty() {
        return Err(problems.into_iter().map(to_error).collect());
    }
    let warnings = super::validate::warnings(&config)
        .into_iter()
        .map(to_error)
        .collect();
    Ok(Loaded { config, warnings })
}
