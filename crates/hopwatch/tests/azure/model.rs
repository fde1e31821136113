//! The calls the fake `az` logged, and a model of Azure to replay them against: each
//! resource must exist before what uses it is created.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// A call split into its command path and its arguments.
pub struct Call {
    pub path: String,
    pub args: HashMap<String, Option<String>>,
}

impl Call {
    pub fn parse(argv: &[String]) -> Call {
        let words: Vec<&str> = argv
            .iter()
            .take_while(|a| !a.starts_with('-'))
            .map(String::as_str)
            .collect();
        let mut args = HashMap::new();
        let mut rest = argv[words.len()..].iter().peekable();
        while let Some(flag) = rest.next() {
            // A value may be several words (`--zone 1 2 3`).
            let mut words = Vec::new();
            while let Some(w) = rest.next_if(|v| !v.starts_with("--")) {
                words.push(w.clone());
            }
            let value = (!words.is_empty()).then(|| words.join(" "));
            args.insert(flag.clone(), value);
        }
        Call {
            path: words.join(" "),
            args,
        }
    }

    pub fn get(&self, flag: &str) -> &str {
        self.args
            .get(flag)
            .and_then(|v| v.as_deref())
            .unwrap_or_else(|| panic!("az {} without {flag}", self.path))
    }
}

/// Replays the calls against a model of Azure: each resource must exist before what
/// uses it is created. Returns the peerings (name, peer IP, peer AS) and the VMs with
/// their custom data.
#[derive(Default)]
pub struct Azure {
    pub groups: HashSet<String>,
    pub vnets: HashSet<(String, String)>,
    pub subnets: HashMap<String, (String, String, String)>,
    pub public_ips: HashMap<(String, String), String>,
    pub route_servers: HashSet<(String, String)>,
    pub route_tables: HashSet<(String, String)>,
    pub nics: HashMap<(String, String), bool>,
    pub peerings: Vec<(String, String, String)>,
    pub vms: Vec<(String, PathBuf)>,
    pub bastions: usize,
    pub nat_gateways: HashSet<(String, String)>,
    pub storage_accounts: HashSet<String>,
    pub uploads: usize,
    /// Extensions added (`az extension add`).
    pub extensions: HashSet<String>,
}

fn subnet_id(rg: &str, vnet: &str, name: &str) -> String {
    format!(
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{name}"
    )
}

impl Azure {
    pub fn apply(&mut self, c: &Call) {
        let rg = || c.get("--resource-group").to_string();
        let need_rg = |s: &Self| assert!(s.groups.contains(&rg()), "{}: no group {}", c.path, rg());
        match c.path.as_str() {
            "account show" | "group delete" | "group show" => {}
            // A guard: a `show` before the create of what it names; the fake answers
            // it from its own state, the model needs nothing of it.
            p if p.ends_with(" show")
                && !p.starts_with("network vnet subnet")
                && p != "network routeserver show" => {}
            "storage account create" => {
                need_rg(self);
                self.storage_accounts.insert(c.get("--name").into());
            }
            "storage container create" | "storage blob generate-sas" => {
                assert!(
                    self.storage_accounts.contains(c.get("--account-name")),
                    "{} before its storage account",
                    c.path
                );
            }
            "storage blob upload" => {
                assert!(self.storage_accounts.contains(c.get("--account-name")));
                let file = Path::new(c.get("--file"));
                assert!(file.is_file(), "uploading {file:?}, which is not a file");
                self.uploads += 1;
            }
            "extension add" => {
                self.extensions.insert(c.get("--name").into());
            }
            "network nat gateway create" => {
                need_rg(self);
                assert!(
                    self.public_ips
                        .contains_key(&(rg(), c.get("--public-ip-addresses").into())),
                    "NAT gateway before its public IP"
                );
                self.nat_gateways.insert((rg(), c.get("--name").into()));
            }
            "group create" => {
                self.groups.insert(c.get("--name").into());
            }
            "network vnet create" => {
                need_rg(self);
                let vnet = c.get("--name").to_string();
                self.vnets.insert((rg(), vnet.clone()));
                if c.args.contains_key("--subnet-name") {
                    let s = c.get("--subnet-name");
                    self.subnets
                        .insert(subnet_id(&rg(), &vnet, s), (rg(), vnet.clone(), s.into()));
                }
            }
            "network vnet subnet create" => {
                let vnet = (rg(), c.get("--vnet-name").to_string());
                assert!(self.vnets.contains(&vnet), "subnet before its VNET");
                if c.args.contains_key("--nat-gateway") {
                    assert!(
                        self.nat_gateways
                            .contains(&(rg(), c.get("--nat-gateway").into())),
                        "subnet before its NAT gateway"
                    );
                }
                let name = c.get("--name");
                self.subnets.insert(
                    subnet_id(&vnet.0, &vnet.1, name),
                    (vnet.0.clone(), vnet.1.clone(), name.into()),
                );
            }
            "network vnet subnet show" if !c.args.contains_key("--query") => {}
            "network vnet subnet show" | "network vnet subnet update" => {
                let id = subnet_id(&rg(), c.get("--vnet-name"), c.get("--name"));
                assert!(self.subnets.contains_key(&id), "{}: no subnet {id}", c.path);
                if c.args.contains_key("--route-table") {
                    let rt = (rg(), c.get("--route-table").to_string());
                    assert!(
                        self.route_tables.contains(&rt),
                        "route table used before made"
                    );
                }
            }
            "network public-ip create" => {
                need_rg(self);
                let sku = c.args.get("--sku").cloned().flatten().unwrap_or_default();
                self.public_ips.insert((rg(), c.get("--name").into()), sku);
            }
            "network routeserver create" => {
                need_rg(self);
                let (_, _, name) = self
                    .subnets
                    .get(c.get("--hosted-subnet"))
                    .expect("route server in a subnet not yet made");
                assert_eq!(name, "RouteServerSubnet");
                let sku = self
                    .public_ips
                    .get(&(rg(), c.get("--public-ip-address").into()))
                    .expect("route server before its public IP");
                assert_eq!(
                    sku, "Standard",
                    "the route server's public IP must be Standard"
                );
                self.route_servers.insert((rg(), c.get("--name").into()));
            }
            "network routeserver show" if !c.args.contains_key("--query") => {}
            "network routeserver show" => {
                assert!(self.route_servers.contains(&(rg(), c.get("--name").into())));
            }
            "network routeserver peering create" => {
                let rs = (rg(), c.get("--routeserver").to_string());
                assert!(
                    self.route_servers.contains(&rs),
                    "peering before route server"
                );
                let ip: std::net::Ipv4Addr = c.get("--peer-ip").parse().unwrap();
                let asn: u16 = c.get("--peer-asn").parse().unwrap();
                self.peerings
                    .push((c.get("--name").into(), ip.to_string(), asn.to_string()));
            }
            "network bastion create" => {
                need_rg(self);
                assert!(
                    self.extensions.contains("bastion"),
                    "network bastion before `az extension add --name bastion`"
                );
                let vnet = c.get("--vnet-name");
                assert!(self.vnets.contains(&(rg(), vnet.into())));
                assert!(
                    self.subnets
                        .contains_key(&subnet_id(&rg(), vnet, "AzureBastionSubnet")),
                    "bastion before AzureBastionSubnet"
                );
                assert!(
                    self.public_ips
                        .contains_key(&(rg(), c.get("--public-ip-address").into())),
                    "bastion before its public IP"
                );
                self.bastions += 1;
            }
            "network route-table create" => {
                need_rg(self);
                self.route_tables.insert((rg(), c.get("--name").into()));
            }
            "network nic create" => {
                need_rg(self);
                assert!(
                    self.subnets.contains_key(c.get("--subnet")),
                    "NIC in a subnet not yet made"
                );
                let _: std::net::Ipv4Addr = c.get("--private-ip-address").parse().unwrap();
                let fwd = c.args.contains_key("--ip-forwarding");
                if fwd {
                    assert_eq!(c.get("--ip-forwarding"), "true");
                }
                self.nics.insert((rg(), c.get("--name").into()), fwd);
            }
            "vm create" => {
                need_rg(self);
                let nic = (rg(), c.get("--nics").to_string());
                assert!(self.nics.contains_key(&nic), "VM before its NIC");
                for f in [
                    "--subnet",
                    "--private-ip-address",
                    "--public-ip-address",
                    "--nsg",
                ] {
                    assert!(
                        !c.args.contains_key(f),
                        "az vm create refuses --nics with {f}"
                    );
                }
                assert!(c.get("--image").contains(':'), "an image URN");
                assert!(!c.get("--image").eq_ignore_ascii_case("UbuntuLTS"));
                let auth = c.get("--authentication-type");
                if auth != "password" {
                    let key = Path::new(c.get("--ssh-key-values"));
                    assert!(key.is_file(), "the SSH key {key:?} is not a file");
                }
                if auth == "ssh" {
                    assert!(!c.args.contains_key("--admin-password"));
                }
                self.vms
                    .push((c.get("--name").into(), c.get("--custom-data").into()));
            }
            other => panic!("no model for az {other}"),
        }
    }
}

pub fn first(calls: &[Call], path: &str) -> usize {
    calls
        .iter()
        .position(|c| c.path == path)
        .unwrap_or_else(|| panic!("no az {path}"))
}
