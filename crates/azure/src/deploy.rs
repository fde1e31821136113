//! The `az` commands of `deploy` and `teardown`, in the order Azure needs them:
//! resource groups, the VNET and its subnets, the route table, the route server and
//! its peerings, the bastion, then one NIC and one VM per host with its role's
//! cloud-init as custom data. The seed's steps, with its pitfalls fixed: a VIP outside
//! the VNET, SSH keys, a current image, IP forwarding on the web servers' NICs (they
//! receive traffic for the VIP, which is not their address), no public IP and no NSG
//! per VM (the bastion is the way in), and a check that the route server's instances
//! have the addresses the watcher's config names.
//!
//! For today's Azure: the VNET is created without inline subnets and each
//! subnet on its own; the VMs' subnet gets outbound access (a NAT gateway by
//! default: new subnets are private and the VMs have no public IP); the `bastion`
//! extension is added before `network bastion` is used; Standard public IPs name
//! their zones; and every create runs only when a `show` of what it makes fails, so
//! the script converges when run again (teardown deletes only groups that exist).
//!
//! In the forwarding mode the watchers' NICs get IP forwarding too (they receive
//! the VIP's traffic), and the script says which NSG rule to add for the VXLAN port:
//! it creates no NSG, so it does not create that one either (`nsg_advice`).

use super::config::{AzureConfig, Outbound, Role};
use super::script::{Az, Script, Step, Val, Var, ps_quote, sh_quote};

/// The environment variable that carries the admin password when
/// `allow_password = true`. The password is never written in a file.
pub const PASSWORD_ENV: &str = "HOPWATCH_ADMIN_PASSWORD";

/// The VM's variable for its address (`VM_WS1_IP`).
fn ip_var(name: &str) -> String {
    format!("VM_{}_IP", name.to_ascii_uppercase().replace('-', "_"))
}

/// The name of a VM's NIC.
pub fn nic_name(vm: &str) -> String {
    format!("{vm}-nic")
}

/// The seed's table of variables.
fn vars(c: &AzureConfig) -> Vec<Var> {
    let mut instances: Vec<String> = c
        .route_server_instances()
        .iter()
        .map(ToString::to_string)
        .collect();
    // deploy.sh compares with `sort` output.
    instances.sort();
    let mut v = vec![
        Var::lit("REGION", &c.region),
        Var::lit("RG", &c.resource_group),
        Var::lit("RG_VM", &c.vm_resource_group),
        Var::lit("VNET_NAME", &c.vnet.name),
        Var::lit("VNET_CIDR", c.vnet.address_space),
        Var::lit("SUBNET_NAME", &c.vnet.subnet_name),
        Var::lit("SUBNET_CIDR", c.vnet.subnet),
        Var::lit("RS_SUBNET_CIDR", c.vnet.route_server_subnet),
        Var::lit("BASTION_SUBNET_CIDR", c.vnet.bastion_subnet),
        Var::lit("NAT_GATEWAY_NAME", &c.vnet.nat_gateway),
        Var::lit("DEB_FILE", &c.hopwatch.deb),
        Var::lit(
            "DEB_BLOB",
            std::path::Path::new(&c.hopwatch.deb)
                .file_name()
                .map_or_else(
                    || "hopwatch.deb".into(),
                    |n| n.to_string_lossy().into_owned(),
                ),
        ),
        Var::lit("NAT_PUBLIC_IP", &c.vnet.nat_public_ip),
        Var::lit("ROUTE_SERVER_NAME", &c.route_server.name),
        Var::lit("ROUTE_SERVER_PUBLIC_IP", &c.route_server.public_ip),
        Var::lit("RS_INSTANCES", instances.join(" ")),
        Var::lit("BASTION_NAME", &c.bastion.name),
        Var::lit("BASTION_PUBLIC_IP", &c.bastion.public_ip),
        Var::lit("ROUTE_TABLE_NAME", &c.route_table.name),
        Var::lit("VIP", c.vip.prefix),
        Var::lit("VM_SIZE", &c.vm.size),
        Var::lit("VM_IMAGE", &c.vm.image),
        Var::lit("VM_ZONE", &c.vm.zone),
        Var::lit("VM_USER", &c.vm.admin_user),
    ];
    if !c.hopwatch.storage_account.is_empty() {
        // Empty: `upload` names one after the subscription and the resource group.
        v.push(Var::lit("STORAGE_ACCOUNT", &c.hopwatch.storage_account));
    }
    if c.standby.enabled {
        v.push(Var::lit("STANDBY_ZONE", c.standby_zone()));
    }
    let key = c.vm.ssh_public_key.trim();
    if let Some(rest) = key.strip_prefix("~/") {
        v.push(Var::home("SSH_PUBLIC_KEY", rest));
    } else if !key.is_empty() {
        v.push(Var::lit("SSH_PUBLIC_KEY", key));
    }
    for (_, name, ip) in c.vms() {
        v.push(Var::lit(ip_var(name), ip));
    }
    v
}

/// `create`, run only when the `show` of the resource it names (the flags of
/// `identity`, copied from `create`) fails: rerunning the script creates nothing
/// that exists (`routeserver create` refuses an existing route server, and a
/// create that PUTs the whole resource again can undo what was added since).
fn ensure(create: Az, show: &'static str, identity: &[&str]) -> Step {
    let mut check = Az::new(show);
    for flag in identity {
        if let Some((f, v)) = create.args.iter().find(|(f, _)| f == flag) {
            check.args.push((*f, v.clone()));
        }
    }
    Step::Az(create.unless(check))
}

/// `--zone 1 2 3` (zone-redundant) on a Standard public IP when the config uses
/// zones: what Azure makes of one without `--zone` from now on, said explicitly
/// (the CLI warns of the change on every create that leaves it out).
fn zone_redundant(ip: Az, c: &AzureConfig) -> Az {
    if c.vm.zone.is_empty() {
        ip
    } else {
        ip.val(
            "--zone",
            Val::Words(vec!["1".into(), "2".into(), "3".into()]),
        )
    }
}

/// Whether the configured key is a file (checked before anything is created) rather
/// than the key itself.
fn key_is_file(key: &str) -> bool {
    !key.is_empty() && !["ssh-", "ecdsa-", "sk-"].iter().any(|p| key.starts_with(p))
}

fn preflight(c: &AzureConfig) -> Vec<Step> {
    let mut s = vec![
        Step::Section("Preflight: the Azure CLI, a login, the SSH key".into()),
        Step::Raw {
            bash: "command -v az >/dev/null || { echo \"deploy.sh: the Azure CLI (az) is not installed\" >&2; exit 1; }".into(),
            ps: "if (-not (Get-Command az -ErrorAction SilentlyContinue)) { throw 'deploy.ps1: the Azure CLI (az) is not installed' }".into(),
        },
        Step::Az(Az::new("account show")),
    ];
    if c.bastion.enabled {
        // `network bastion` left the core CLI for the `bastion` extension; where the
        // CLI cannot install an extension on demand, it does not know the command.
        s.push(Step::Az(
            Az::new("extension add")
                .lit("--name", "bastion")
                .flag("--upgrade"),
        ));
    }
    if key_is_file(c.vm.ssh_public_key.trim()) {
        s.push(Step::Raw {
            bash: "[[ -r \"$SSH_PUBLIC_KEY\" ]] || { echo \"deploy.sh: cannot read the SSH public key ${SSH_PUBLIC_KEY} ([vm] ssh_public_key); create one with ssh-keygen -t ed25519\" >&2; exit 1; }".into(),
            ps: "if (-not (Test-Path $SSH_PUBLIC_KEY)) { throw \"deploy.ps1: cannot read the SSH public key $SSH_PUBLIC_KEY ([vm] ssh_public_key); create one with ssh-keygen -t ed25519\" }".into(),
        });
    }
    if c.vm.allow_password {
        s.push(Step::Raw {
            bash: format!(
                ": \"${{{PASSWORD_ENV}:?allow_password = true: export {PASSWORD_ENV} (never written in a file)}}\""
            ),
            // On Windows `az` is a batch file (az.cmd): cmd.exe reads its command
            // line again, and a password with one of these characters arrives
            // mangled (or runs something). Refused, saying why, before anything is
            // created.
            ps: format!(
                concat!(
                    "if (-not $env:{p}) {{ throw 'allow_password = true: set $env:{p} (never written in a file)' }}\n",
                    "if ($env:{p} -match '[&|<>^%\"!]') {{ throw 'deploy.ps1: $env:{p} holds one of & | < > ^ % \" !, which az.cmd (a batch file) cannot pass on intact: choose a password without them, or use SSH keys ([vm] ssh_public_key)' }}"
                ),
                p = PASSWORD_ENV
            ),
        });
    }
    s
}

fn network(c: &AzureConfig) -> Vec<Step> {
    let mut s = vec![Step::Section("Resource groups".into())];
    s.push(Step::Az(
        Az::new("group create")
            .var("--name", "RG")
            .var("--location", "REGION"),
    ));
    if c.vm_resource_group != c.resource_group {
        s.push(Step::Az(
            Az::new("group create")
                .var("--name", "RG_VM")
                .var("--location", "REGION"),
        ));
    }
    s.push(Step::Section(
        "The VNET, without inline subnets (a create with them PUTs the whole VNET again)".into(),
    ));
    s.push(ensure(
        Az::new("network vnet create")
            .var("--resource-group", "RG")
            .var("--name", "VNET_NAME")
            .var("--location", "REGION")
            .var("--address-prefixes", "VNET_CIDR"),
        "network vnet show",
        &["--resource-group", "--name"],
    ));
    let mut subnet = Az::new("network vnet subnet create")
        .var("--resource-group", "RG")
        .var("--vnet-name", "VNET_NAME")
        .var("--name", "SUBNET_NAME")
        .var("--address-prefixes", "SUBNET_CIDR");
    match c.vnet.outbound {
        Outbound::NatGateway => {
            s.push(Step::Section(
                "Outbound access for the VMs: a NAT gateway (new subnets are private, and the VMs have no public IP)".into(),
            ));
            let mut ip = Az::new("network public-ip create")
                .var("--resource-group", "RG")
                .var("--name", "NAT_PUBLIC_IP")
                .var("--location", "REGION")
                .lit("--sku", "Standard");
            let mut nat = Az::new("network nat gateway create")
                .var("--resource-group", "RG")
                .var("--name", "NAT_GATEWAY_NAME")
                .var("--location", "REGION")
                .var("--public-ip-addresses", "NAT_PUBLIC_IP");
            if !c.vm.zone.is_empty() {
                // A NAT gateway lives in one zone, with a public IP of that zone:
                // the primary's. The standby in another zone still goes out through
                // it (a zone's outage costs the standby its outbound access only).
                ip = ip.var("--zone", "VM_ZONE");
                nat = nat.var("--zone", "VM_ZONE");
            }
            s.push(ensure(
                ip,
                "network public-ip show",
                &["--resource-group", "--name"],
            ));
            s.push(ensure(
                nat,
                "network nat gateway show",
                &["--resource-group", "--name"],
            ));
            subnet = subnet
                .lit("--default-outbound", "false")
                .var("--nat-gateway", "NAT_GATEWAY_NAME");
        }
        Outbound::DefaultOutbound => {
            subnet = subnet.lit("--default-outbound", "true");
        }
    }
    if c.hopwatch.uploads() {
        // The VMs fetch hopwatch's .deb from the deployment's storage account over
        // Azure's backbone, not the internet.
        subnet = subnet.lit("--service-endpoints", "Microsoft.Storage");
    }
    s.push(Step::Section("The VMs' subnet".into()));
    s.push(ensure(
        subnet,
        "network vnet subnet show",
        &["--resource-group", "--vnet-name", "--name"],
    ));
    s.push(Step::Section(if c.bastion.enabled {
        "RouteServerSubnet and AzureBastionSubnet (Azure requires these names)".into()
    } else {
        "RouteServerSubnet (Azure requires this name)".into()
    }));
    s.push(ensure(
        Az::new("network vnet subnet create")
            .var("--resource-group", "RG")
            .var("--vnet-name", "VNET_NAME")
            .lit("--name", "RouteServerSubnet")
            .var("--address-prefixes", "RS_SUBNET_CIDR"),
        "network vnet subnet show",
        &["--resource-group", "--vnet-name", "--name"],
    ));
    if c.bastion.enabled {
        s.push(ensure(
            Az::new("network vnet subnet create")
                .var("--resource-group", "RG")
                .var("--vnet-name", "VNET_NAME")
                .lit("--name", "AzureBastionSubnet")
                .var("--address-prefixes", "BASTION_SUBNET_CIDR"),
            "network vnet subnet show",
            &["--resource-group", "--vnet-name", "--name"],
        ));
    }
    s.push(Step::Section(
        "The route table of the VMs' subnet (BGP route propagation stays on: the VIP's route comes from the route server)".into(),
    ));
    s.push(ensure(
        Az::new("network route-table create")
            .var("--resource-group", "RG")
            .var("--name", "ROUTE_TABLE_NAME")
            .var("--location", "REGION"),
        "network route-table show",
        &["--resource-group", "--name"],
    ));
    s.push(Step::Az(
        Az::new("network vnet subnet update")
            .var("--resource-group", "RG")
            .var("--vnet-name", "VNET_NAME")
            .var("--name", "SUBNET_NAME")
            .var("--route-table", "ROUTE_TABLE_NAME"),
    ));
    s.push(Step::Section("The subnets' resource IDs".into()));
    s.push(Step::Az(
        Az::new("network vnet subnet show")
            .var("--resource-group", "RG")
            .var("--vnet-name", "VNET_NAME")
            .var("--name", "SUBNET_NAME")
            .lit("--query", "id")
            .capture("SUBNET_ID"),
    ));
    s.push(Step::Az(
        Az::new("network vnet subnet show")
            .var("--resource-group", "RG")
            .var("--vnet-name", "VNET_NAME")
            .lit("--name", "RouteServerSubnet")
            .lit("--query", "id")
            .capture("RS_SUBNET_ID"),
    ));
    s
}

fn route_server(c: &AzureConfig) -> Vec<Step> {
    let mut s = vec![Step::Section(
        "The route server, with its Standard SKU public IP (takes several minutes)".into(),
    )];
    s.push(ensure(
        zone_redundant(
            Az::new("network public-ip create")
                .var("--resource-group", "RG")
                .var("--name", "ROUTE_SERVER_PUBLIC_IP")
                .var("--location", "REGION")
                .lit("--sku", "Standard"),
            c,
        ),
        "network public-ip show",
        &["--resource-group", "--name"],
    ));
    s.push(ensure(
        Az::new("network routeserver create")
            .var("--resource-group", "RG")
            .var("--name", "ROUTE_SERVER_NAME")
            .var("--location", "REGION")
            .var("--hosted-subnet", "RS_SUBNET_ID")
            .var("--public-ip-address", "ROUTE_SERVER_PUBLIC_IP"),
        "network routeserver show",
        &["--resource-group", "--name"],
    ));
    s.push(Step::Section(
        "The instances must have the addresses the watcher's config names".into(),
    ));
    s.push(Step::Raw {
        bash: concat!(
            "RS_IPS=\"$(az network routeserver show \\\n",
            "  --resource-group \"$RG\" \\\n",
            "  --name \"$ROUTE_SERVER_NAME\" \\\n",
            "  --query virtualRouterIps \\\n",
            "  --output tsv | sort | paste -sd ' ' -)\"\n",
            "if [[ \"$RS_IPS\" != \"$RS_INSTANCES\" ]]; then\n",
            "  echo \"deploy.sh: the route server's instances are '${RS_IPS}', but the watcher's config names '${RS_INSTANCES}': set [route_server] instances in the config, render again and rerun\" >&2\n",
            "  exit 1\n",
            "fi\n",
        )
        .into(),
        ps: concat!(
            "$RS_IPS = (az network routeserver show `\n",
            "  --resource-group $RG `\n",
            "  --name $ROUTE_SERVER_NAME `\n",
            "  --query virtualRouterIps `\n",
            "  --output tsv | Sort-Object) -join ' '\n",
            "Assert-Az 'network routeserver show'\n",
            "if ($RS_IPS -ne $RS_INSTANCES) {\n",
            "    throw \"deploy.ps1: the route server's instances are '$RS_IPS', but the watcher's config names '$RS_INSTANCES': set [route_server] instances in the config, render again and rerun\"\n",
            "}\n",
        )
        .into(),
    });
    s.push(Step::Section(
        "Peerings: one per BGP speaker; each peers with both route server instances".into(),
    ));
    let mut speakers = vec![(c.watcher.name.as_str(), c.watcher.asn)];
    if c.standby.enabled {
        // The primary's AS too: Azure accepts two peers with one AS, and the pair's
        // preference is the standby's prepend, not a different AS.
        speakers.push((c.standby.name.as_str(), c.watcher.asn));
    }
    if c.observer.enabled {
        speakers.push((c.observer.name.as_str(), c.observer.asn));
    }
    for (name, asn) in speakers {
        s.push(ensure(
            Az::new("network routeserver peering create")
                .var("--resource-group", "RG")
                .var("--routeserver", "ROUTE_SERVER_NAME")
                .lit("--name", name)
                .var("--peer-ip", ip_var(name))
                .lit("--peer-asn", asn.0),
            "network routeserver peering show",
            &["--resource-group", "--routeserver", "--name"],
        ));
    }
    s
}

fn bastion(c: &AzureConfig) -> Vec<Step> {
    if !c.bastion.enabled {
        return Vec::new();
    }
    vec![
        Step::Section("The bastion: the only way in, the VMs have no public IP".into()),
        ensure(
            zone_redundant(
                Az::new("network public-ip create")
                    .var("--resource-group", "RG")
                    .var("--name", "BASTION_PUBLIC_IP")
                    .var("--location", "REGION")
                    .lit("--sku", "Standard"),
                c,
            ),
            "network public-ip show",
            &["--resource-group", "--name"],
        ),
        ensure(
            Az::new("network bastion create")
                .var("--resource-group", "RG")
                .var("--name", "BASTION_NAME")
                .var("--location", "REGION")
                .var("--public-ip-address", "BASTION_PUBLIC_IP")
                .var("--vnet-name", "VNET_NAME"),
            "network bastion show",
            &["--resource-group", "--name"],
        ),
    ]
}

/// The container the .deb is uploaded to.
const DEB_CONTAINER: &str = "hopwatch";
/// How long the VMs' link to the .deb works (`az storage blob generate-sas
/// --expiry`): first boots within it; a VM rebuilt later needs a rerun of deploy.
const DEB_LINK_DAYS: u32 = 7;

/// `[hopwatch] deb`: the .deb uploaded to a storage account of the deployment (a
/// private container), its sha256 computed from the file uploaded, a read-only link
/// that expires, and a copy of each cloud-init file with both filled in (they exist
/// only now): the binary the user built reaches the VMs without a host of its own.
fn upload(c: &AzureConfig) -> Vec<Step> {
    if !c.hopwatch.uploads() {
        return Vec::new();
    }
    let mut s = vec![
        Step::Section(format!(
            "hopwatch's .deb: uploaded to a storage account of this deployment; each VM gets a read-only link that expires in {DEB_LINK_DAYS} days, and its sha256"
        )),
        Step::Raw {
            bash: concat!(
                "[[ -r \"$DEB_FILE\" ]] || { echo \"deploy.sh: cannot read hopwatch's .deb ${DEB_FILE} ([hopwatch] deb): build it with cargo deb -p hopwatch\" >&2; exit 1; }\n",
                "DEB_SHA256=\"$(sha256sum \"$DEB_FILE\" | cut -d ' ' -f 1)\"\n",
            )
            .into(),
            ps: concat!(
                "if (-not (Test-Path $DEB_FILE)) { throw \"deploy.ps1: cannot read hopwatch's .deb $DEB_FILE ([hopwatch] deb): build it with cargo deb -p hopwatch\" }\n",
                "$DEB_SHA256 = (Get-FileHash -Algorithm SHA256 $DEB_FILE).Hash.ToLower()\n",
            )
            .into(),
        },
    ];
    if c.hopwatch.storage_account.is_empty() {
        // Storage account names are global: one derived from the subscription and
        // the resource group is the same on every rerun and nobody else's.
        s.push(Step::Az(
            Az::new("account show")
                .lit("--query", "id")
                .capture("SUBSCRIPTION_ID"),
        ));
        s.push(Step::Raw {
            bash: "STORAGE_ACCOUNT=\"hw$(printf '%s/%s' \"$SUBSCRIPTION_ID\" \"$RG\" | sha256sum | cut -c 1-20)\"\n".into(),
            ps: concat!(
                "$Hash = [System.Security.Cryptography.SHA256]::Create().ComputeHash([System.Text.Encoding]::UTF8.GetBytes(\"$SUBSCRIPTION_ID/$RG\"))\n",
                "$STORAGE_ACCOUNT = 'hw' + (-join ($Hash | ForEach-Object { $_.ToString('x2') })).Substring(0, 20)\n",
            )
            .into(),
        });
    }
    s.push(ensure(
        Az::new("storage account create")
            .var("--resource-group", "RG")
            .var("--name", "STORAGE_ACCOUNT")
            .var("--location", "REGION")
            .lit("--sku", "Standard_LRS")
            .lit("--kind", "StorageV2")
            .lit("--min-tls-version", "TLS1_2")
            .lit("--allow-blob-public-access", "false")
            .lit("--https-only", "true"),
        "storage account show",
        &["--resource-group", "--name"],
    ));
    // Idempotent by nature: an existing container is left as it is.
    s.push(Step::Az(
        Az::new("storage container create")
            .var("--account-name", "STORAGE_ACCOUNT")
            .lit("--name", DEB_CONTAINER)
            .lit("--auth-mode", "key"),
    ));
    s.push(Step::Az(
        Az::new("storage blob upload")
            .var("--account-name", "STORAGE_ACCOUNT")
            .lit("--container-name", DEB_CONTAINER)
            .var("--name", "DEB_BLOB")
            .var("--file", "DEB_FILE")
            .lit("--overwrite", "true")
            .lit("--auth-mode", "key"),
    ));
    s.push(Step::Raw {
        bash: format!(
            "DEB_EXPIRY=\"$(date -u -d '+{d} days' '+%Y-%m-%dT%H:%MZ' 2>/dev/null || date -u -v+{d}d '+%Y-%m-%dT%H:%MZ')\"\n",
            d = DEB_LINK_DAYS
        ),
        ps: format!(
            "$DEB_EXPIRY = (Get-Date).ToUniversalTime().AddDays({DEB_LINK_DAYS}).ToString('yyyy-MM-ddTHH:mmZ')\n"
        ),
    });
    s.push(Step::Az(
        Az::new("storage blob generate-sas")
            .var("--account-name", "STORAGE_ACCOUNT")
            .lit("--container-name", DEB_CONTAINER)
            .var("--name", "DEB_BLOB")
            .lit("--permissions", "r")
            .var("--expiry", "DEB_EXPIRY")
            .flag("--https-only")
            .flag("--full-uri")
            .lit("--auth-mode", "key")
            .capture("DEB_URL"),
    ));
    s.push(Step::Raw {
        bash: format!(
            concat!(
                "mkdir -p \"$HERE/.deploy/cloud-init\"\n",
                "for f in \"$HERE\"/cloud-init/*.yaml; do\n",
                "  text=\"$(<\"$f\")\"\n",
                "  text=\"${{text//{u}/\"$DEB_URL\"}}\"\n",
                "  text=\"${{text//{h}/\"$DEB_SHA256\"}}\"\n",
                "  printf '%s\\n' \"$text\" > \"$HERE/.deploy/cloud-init/${{f##*/}}\"\n",
                "done\n",
            ),
            u = super::roles::DEB_URL_MARK,
            h = super::roles::DEB_SHA256_MARK,
        ),
        ps: format!(
            concat!(
                "New-Item -ItemType Directory -Force -Path (Join-Path $HERE '.deploy/cloud-init') | Out-Null\n",
                "foreach ($f in Get-ChildItem -Path (Join-Path $HERE 'cloud-init') -Filter '*.yaml') {{\n",
                "    $text = (Get-Content -Raw -Path $f.FullName).Replace('{u}', $DEB_URL).Replace('{h}', $DEB_SHA256)\n",
                "    Set-Content -NoNewline -Path (Join-Path $HERE \".deploy/cloud-init/$($f.Name)\") -Value $text\n",
                "}}\n",
            ),
            u = super::roles::DEB_URL_MARK,
            h = super::roles::DEB_SHA256_MARK,
        ),
    });
    s
}

fn vms(c: &AzureConfig) -> Vec<Step> {
    let mut s = Vec::new();
    let key = c.vm.ssh_public_key.trim();
    for (role, name, _) in c.vms() {
        s.push(Step::Section(format!(
            "VM {name} ({}), configured by cloud-init/{}.yaml",
            role.name(),
            role.name()
        )));
        let mut nic = Az::new("network nic create")
            .var("--resource-group", "RG_VM")
            .lit("--name", nic_name(name))
            .var("--location", "REGION")
            .var("--subnet", "SUBNET_ID")
            .var("--private-ip-address", ip_var(name));
        let forwards = match role {
            Role::Web => true,
            // In the forwarding mode the VIP's route points at the watchers.
            Role::Watcher | Role::Standby => c.forward.enabled,
            Role::Observer | Role::Load => false,
        };
        if forwards {
            // The VIP's packets reach the NIC with the VIP as destination.
            nic = nic.lit("--ip-forwarding", "true");
        }
        s.push(ensure(
            nic,
            "network nic show",
            &["--resource-group", "--name"],
        ));
        let mut vm = Az::new("vm create")
            .var("--resource-group", "RG_VM")
            .lit("--name", name)
            .var("--location", "REGION");
        if role == Role::Standby {
            // Never the primary's zone (`validate`): another datacenter, so the pair
            // cannot share a host, a rack or a power feed.
            vm = vm.var("--zone", "STANDBY_ZONE");
        } else if !c.vm.zone.is_empty() {
            vm = vm.var("--zone", "VM_ZONE");
        }
        vm = vm
            .var("--image", "VM_IMAGE")
            .var("--size", "VM_SIZE")
            .lit("--nics", nic_name(name))
            .var("--admin-username", "VM_USER");
        vm = match (key.is_empty(), c.vm.allow_password) {
            (false, false) => vm
                .lit("--authentication-type", "ssh")
                .var("--ssh-key-values", "SSH_PUBLIC_KEY"),
            (false, true) => vm
                .lit("--authentication-type", "all")
                .var("--ssh-key-values", "SSH_PUBLIC_KEY")
                .val("--admin-password", Val::Env(PASSWORD_ENV.into())),
            (true, _) => vm
                .lit("--authentication-type", "password")
                .val("--admin-password", Val::Env(PASSWORD_ENV.into())),
        };
        // With the .deb uploaded, the copy that names its link (`upload`).
        let dir = if c.hopwatch.uploads() {
            ".deploy/cloud-init"
        } else {
            "cloud-init"
        };
        vm = vm.val(
            "--custom-data",
            Val::Here(format!("{dir}/{}.yaml", role.name())),
        );
        s.push(ensure(vm, "vm show", &["--resource-group", "--name"]));
    }
    s
}

/// The name the advice gives the web servers' NSG.
const WEB_NSG: &str = "hopwatch-web-nsg";

/// The forwarding mode's NSG rule, as a comment (the same for both shells but for
/// the quoting): the web servers decapsulate any VXLAN that reaches the port, and
/// Azure's default `AllowVnetInBound` lets every VM of the VNET send it. `hopwatch
/// backend` already drops it from anyone but the watchers (nftables); the NSG is the
/// second filter `docs/forwarding.md` asks for. The script creates no NSG (the VMs
/// have none, the bastion is the way in), so it names the rule and the `az` calls
/// that add it rather than attaching a first NSG to NICs the user may manage.
fn nsg_advice(c: &AzureConfig, quote: fn(&str) -> String) -> String {
    let port = c.forward.port;
    let rg = quote(&c.vm_resource_group);
    let watchers: Vec<String> = c.watchers().iter().map(|(_, ip)| ip.to_string()).collect();
    let webs: Vec<String> = c.web.iter().map(|h| h.ip.to_string()).collect();
    let sources: Vec<String> = watchers.iter().map(|ip| quote(ip)).collect();
    let mut lines = vec![
        "Forwarding mode: an NSG rule this script does not create. The web servers".into(),
        format!("decapsulate any VXLAN that reaches UDP {port}; hopwatch backend drops it unless"),
        "it comes from a watcher, but Azure's default rule AllowVnetInBound lets every VM".into(),
        "of the VNET send it (docs/forwarding.md, constraint 6). This script creates no".into(),
        "NSG, so add one to the web servers' NICs (the default rules still allow the rest):".into(),
        format!(
            "  priority 100: allow UDP {port} from the watchers {} to {}",
            watchers.join(" "),
            webs.join(" ")
        ),
        format!("  priority 110: deny UDP {port} from any other source (after the allow)"),
        "For instance:".into(),
        format!(
            "  az network nsg create --resource-group {rg} --name {WEB_NSG} --location {}",
            quote(&c.region)
        ),
    ];
    for (name, access, priority, from) in [
        ("allow-vxlan-from-watchers", "Allow", 100, sources.join(" ")),
        ("deny-vxlan", "Deny", 110, quote("*")),
    ] {
        lines.push(format!(
            "  az network nsg rule create --resource-group {rg} --nsg-name {WEB_NSG} --name {name} --priority {priority} --direction Inbound --access {access} --protocol Udp --source-address-prefixes {from} --destination-port-ranges {port}"
        ));
    }
    for h in &c.web {
        lines.push(format!(
            "  az network nic update --resource-group {rg} --name {} --network-security-group {WEB_NSG}",
            quote(&nic_name(&h.name))
        ));
    }
    lines.iter().map(|l| format!("# {l}\n")).collect::<String>()
}

/// Splits a sentence into comment lines of at most about 80 characters.
fn wrap(text: &str) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() && line.len() + 1 + word.len() > 80 {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

/// `deploy.sh` / `deploy.ps1`.
pub fn deploy(c: &AzureConfig, source: &str) -> Script {
    let mut steps = preflight(c);
    steps.extend(network(c));
    steps.extend(route_server(c));
    steps.extend(bastion(c));
    steps.extend(upload(c));
    steps.extend(vms(c));
    if c.forward.enabled {
        steps.push(Step::Raw {
            bash: nsg_advice(c, sh_quote),
            ps: nsg_advice(c, ps_quote),
        });
    }
    steps.push(Step::Section("Done".into()));
    let mut done = if c.standby.enabled {
        format!(
            "The VMs install hopwatch on first boot (a few minutes). The primary watcher {w} and the standby {s} each log their own moves; the other VMs send their syslog to both (/var/log/remote/ on {w} and {s}).",
            w = c.watcher.name,
            s = c.standby.name
        )
    } else {
        format!(
            "The VMs install hopwatch on first boot (a few minutes). The watcher {w} logs every move; the other VMs send their syslog to it (/var/log/remote/ on {w}).",
            w = c.watcher.name
        )
    };
    if c.forward.enabled {
        done.push_str(&format!(
            " Forwarding mode: add the NSG rule for UDP {} to the web servers, as the comment before this step in the script says.",
            c.forward.port
        ));
    }
    steps.push(Step::Raw {
        bash: format!("echo {}", sh_quote(&done)),
        ps: format!("Write-Host {}", ps_quote(&done)),
    });
    let mut header = vec![
        format!("Rendered by `hopwatch azure render` from {source}: do not edit, render again."),
        format!(
            "Builds the seed's environment in {} ({}, {}):",
            c.region, c.resource_group, c.vm_resource_group
        ),
        "the VNET, the route server and its peerings, the route table, the bastion and".into(),
        "the VMs, each configured by the cloud-init file of its role.".into(),
    ];
    if c.forward.enabled {
        // The next-hop mode's header stays as it was: `render` prints its mode.
        header.extend(wrap(&super::mode_summary(c)));
    }
    header.push(
        "Needs the Azure CLI, logged in (az login). Safe to stop and rerun: it creates".into(),
    );
    header.push("only what does not exist yet (each create is guarded by a show).".into());
    Script {
        header,
        ps_param: None,
        vars: vars(c),
        steps,
    }
}

/// `teardown.sh` / `teardown.ps1`: deletes both resource groups, VMs first.
pub fn teardown(c: &AzureConfig, source: &str) -> Script {
    let mut groups = vec!["RG_VM"];
    if c.vm_resource_group != c.resource_group {
        groups.push("RG");
    }
    let (bash_names, ps_names) = if groups.len() == 2 {
        ("${RG_VM} and ${RG}", "$RG_VM and $RG")
    } else {
        ("${RG_VM}", "$RG_VM")
    };
    let mut steps = vec![Step::Raw {
        bash: format!(
            concat!(
                "if [[ \"${{1:-}}\" != \"--yes\" ]]; then\n",
                "  read -r -p \"Delete the resource group(s) {n}, with everything in them? [y/N] \" answer\n",
                "  [[ \"$answer\" == [yY]* ]] || {{ echo \"teardown.sh: nothing deleted\" >&2; exit 1; }}\n",
                "fi\n"
            ),
            n = bash_names
        ),
        ps: format!(
            concat!(
                "if (-not $Yes) {{\n",
                "    $answer = Read-Host \"Delete the resource group(s) {n}, with everything in them? [y/N]\"\n",
                "    if ($answer -notmatch '^[yY]') {{ throw 'teardown.ps1: nothing deleted' }}\n",
                "}}\n"
            ),
            n = ps_names
        ),
    }];
    for g in groups {
        let name = if g == "RG" {
            &c.resource_group
        } else {
            &c.vm_resource_group
        };
        steps.push(Step::Section(format!("Delete the resource group {name}")));
        // Only a group that exists: a rerun after a complete or interrupted
        // teardown converges instead of failing on the first group gone.
        steps.push(Step::Az(
            Az::new("group delete")
                .var("--name", g)
                .flag("--yes")
                .only_if(Az::new("group show").var("--name", g)),
        ));
    }
    Script {
        header: vec![
            format!(
                "Rendered by `hopwatch azure render` from {source}: do not edit, render again."
            ),
            "Deletes everything deploy built: the VMs' resource group, then the network's.".into(),
            "Asks first; --yes (bash) or -Yes (PowerShell) does not ask.".into(),
        ],
        ps_param: Some("param([switch]$Yes)".into()),
        vars: vec![
            Var::lit("RG", &c.resource_group),
            Var::lit("RG_VM", &c.vm_resource_group),
        ],
        steps,
    }
}
