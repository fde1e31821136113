//! The Azure CLI as the tests know it: each command's group and verb, the arguments
//! it requires and the ones it accepts besides, as the Azure CLI reference documents
//! them (long forms only; the rendered scripts use no short form). For instance
//! `az network routeserver peering create --name --resource-group --routeserver
//! [--no-wait] [--peer-asn] [--peer-ip]`. And a fake `az` built from that table.

use std::fmt::Write as _;
use std::path::Path;

/// One `az` command.
pub struct AzCommand {
    /// Group and verb, like `network vnet create`.
    pub path: &'static str,
    /// Arguments it cannot do without.
    pub required: &'static [&'static str],
    /// Arguments it accepts besides.
    pub optional: &'static [&'static str],
}

/// Accepted by every command.
#[rustfmt::skip]
pub const GLOBAL: &[&str] = &[
    "--output", "--query", "--only-show-errors", "--debug", "--verbose", "--subscription",
];

/// The commands the scripts may call.
#[rustfmt::skip]
pub const AZ: &[AzCommand] = &[
    AzCommand {
        path: "account show",
        required: &[],
        optional: &[
            "--name",
        ],
    },
    AzCommand {
        path: "group create",
        required: &["--location", "--name"],
        optional: &[
            "--managed-by", "--tags",
        ],
    },
    AzCommand {
        path: "group delete",
        required: &["--name"],
        optional: &[
            "--force-deletion-types", "--no-wait", "--yes",
        ],
    },
    AzCommand {
        path: "network vnet create",
        required: &["--name", "--resource-group"],
        optional: &[
            "--address-prefixes", "--bgp-community", "--ddos-protection",
            "--ddos-protection-plan", "--dns-servers", "--edge-zone", "--enable-encryption",
            "--encryption-enforcement-policy", "--flowtimeout", "--location",
            "--network-security-group", "--no-wait", "--subnet-name", "--subnet-prefixes",
            "--tags", "--vm-protection",
        ],
    },
    AzCommand {
        path: "network vnet subnet create",
        required: &["--name", "--resource-group", "--vnet-name"],
        optional: &[
            "--address-prefixes", "--default-outbound", "--delegations", "--nat-gateway",
            "--network-security-group", "--no-wait", "--private-endpoint-network-policies",
            "--private-link-service-network-policies", "--route-table", "--service-endpoints",
        ],
    },
    AzCommand {
        path: "network vnet subnet show",
        required: &["--name", "--resource-group", "--vnet-name"],
        optional: &[
            "--expand",
        ],
    },
    AzCommand {
        path: "network vnet subnet update",
        required: &["--name", "--resource-group", "--vnet-name"],
        optional: &[
            "--add", "--address-prefixes", "--delegations", "--nat-gateway",
            "--network-security-group", "--no-wait", "--remove", "--route-table",
            "--service-endpoints", "--set",
        ],
    },
    AzCommand {
        path: "network public-ip create",
        required: &["--name", "--resource-group"],
        optional: &[
            "--allocation-method", "--ddos-protection-mode", "--dns-name", "--edge-zone",
            "--idle-timeout", "--ip-address", "--ip-tags", "--location", "--public-ip-prefix",
            "--reverse-fqdn", "--sku", "--tags", "--tier", "--version", "--zone",
        ],
    },
    AzCommand {
        path: "network routeserver create",
        required: &["--hosted-subnet", "--name", "--public-ip-address", "--resource-group"],
        optional: &[
            "--auto-scale-config", "--hub-routing-preference", "--location", "--no-wait",
            "--tags",
        ],
    },
    AzCommand {
        path: "network routeserver show",
        required: &["--name", "--resource-group"],
        optional: &[],
    },
    AzCommand {
        path: "network routeserver peering create",
        required: &["--name", "--resource-group", "--routeserver"],
        optional: &[
            "--no-wait", "--peer-asn", "--peer-ip",
        ],
    },
    AzCommand {
        path: "network bastion create",
        required: &["--name", "--public-ip-address", "--resource-group", "--vnet-name"],
        optional: &[
            "--disable-copy-paste", "--enable-ip-connect", "--enable-tunneling", "--file-copy",
            "--kerberos", "--location", "--no-wait", "--scale-units", "--session-recording",
            "--sku", "--tags", "--zones",
        ],
    },
    AzCommand {
        path: "network route-table create",
        required: &["--name", "--resource-group"],
        optional: &[
            "--disable-bgp-route-propagation", "--location", "--no-wait", "--tags",
        ],
    },
    AzCommand {
        path: "network nic create",
        required: &["--name", "--resource-group", "--subnet"],
        optional: &[
            "--accelerated-networking", "--app-gateway-address-pools", "--asgs",
            "--dns-servers", "--edge-zone", "--gateway-name", "--internal-dns-name",
            "--ip-forwarding", "--lb-address-pools", "--lb-inbound-nat-rules", "--lb-name",
            "--location", "--network-security-group", "--no-wait", "--private-ip-address",
            "--private-ip-address-version", "--public-ip-address", "--tags", "--vnet-name",
        ],
    },
    AzCommand {
        path: "vm create",
        required: &["--name", "--resource-group"],
        optional: &[
            "--admin-password", "--admin-username", "--authentication-type",
            "--availability-set", "--custom-data", "--enable-secure-boot", "--enable-vtpm",
            "--generate-ssh-keys", "--image", "--location", "--nics", "--no-wait", "--nsg",
            "--os-disk-size-gb", "--private-ip-address", "--public-ip-address",
            "--public-ip-sku", "--security-type", "--size", "--ssh-key-values", "--storage-sku",
            "--subnet", "--tags", "--user-data", "--vnet-name", "--zone",
        ],
    },
];

/// A bash `az` that refuses what the real one refuses (unknown command, unknown
/// argument, missing required argument; exit 2 as argparse), logs each call as one
/// line of tab-separated arguments, and answers the two queries deploy.sh makes.
pub fn fake_az(bin: &Path) {
    let mut cases = String::new();
    for c in AZ {
        let _ = writeln!(
            cases,
            "  '{}') required=({}); allowed=({} {} {});;",
            c.path,
            c.required.join(" "),
            c.required.join(" "),
            c.optional.join(" "),
            GLOBAL.join(" ")
        );
    }
    let script = format!(
        r#"#!/bin/bash
# A fake Azure CLI for hopwatch's tests: it checks and logs, it never calls Azure.
set -euo pipefail
(IFS=$'\t'; printf '%s\n' "$*") >> "$FAKE_AZ_LOG"
words=()
args=("$@")
i=0
while (( i < ${{#args[@]}} )) && [[ "${{args[i]}}" != -* ]]; do words+=("${{args[i]}}"); i=$((i + 1)); done
cmd="${{words[*]}}"
case "$cmd" in
{cases}  *) echo "az: '$cmd' is not an az command" >&2; exit 2;;
esac
declare -A given=()
while (( i < ${{#args[@]}} )); do
  a="${{args[i]}}"
  if [[ "$a" != --* ]]; then echo "az $cmd: unrecognized argument: $a" >&2; exit 2; fi
  ok=0
  for f in "${{allowed[@]}}"; do [[ "$f" == "$a" ]] && ok=1; done
  if (( ok == 0 )); then echo "az $cmd: unrecognized arguments: $a" >&2; exit 2; fi
  given[$a]=1
  i=$((i + 1))
  if (( i < ${{#args[@]}} )) && [[ "${{args[i]}}" != --* ]]; then
    given[$a]="${{args[i]}}"
    i=$((i + 1))
  fi
done
for r in "${{required[@]}}"; do
  if [[ -z "${{given[$r]:-}}" ]]; then echo "az $cmd: the following arguments are required: $r" >&2; exit 2; fi
done
case "$cmd" in
  'network vnet subnet show')
    echo "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/${{given[--resource-group]}}/providers/Microsoft.Network/virtualNetworks/${{given[--vnet-name]}}/subnets/${{given[--name]}}";;
  'network routeserver show')
    for ip in $FAKE_RS_IPS; do echo "$ip"; done;;
esac
"#
    );
    let az = bin.join("az");
    std::fs::write(&az, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
}
