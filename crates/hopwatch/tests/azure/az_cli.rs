//! The Azure CLI as the tests know it: each command's group and verb, the arguments
//! it requires and the ones it accepts besides (long forms only; the rendered
//! scripts use no short form). For instance `az network routeserver peering create
//! --name --resource-group --routeserver [--no-wait] [--peer-asn] [--peer-ip]`. And
//! a fake `az` built from that table, which also keeps what it created. The real CLI
//! is the oracle (`tests/azure_cli.rs` gives it every call the scripts make); the
//! fake answers what the real one cannot offline (resource IDs, the route server's
//! addresses, what exists), and checks the `bastion` extension's commands.

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
        path: "extension add",
        required: &["--name"],
        optional: &[
            "--allow-preview", "--pip-extra-index-urls", "--pip-proxy", "--source",
            "--system", "--upgrade", "--version", "--yes",
        ],
    },
    AzCommand {
        path: "storage account create",
        required: &["--name", "--resource-group"],
        optional: &[
            "--access-tier", "--allow-blob-public-access", "--allow-shared-key-access",
            "--https-only", "--kind", "--location", "--min-tls-version",
            "--public-network-access", "--sku", "--tags",
        ],
    },
    AzCommand {
        path: "storage account show",
        required: &["--name"],
        optional: &[
            "--resource-group",
        ],
    },
    AzCommand {
        path: "storage container create",
        required: &["--name"],
        optional: &[
            "--account-key", "--account-name", "--auth-mode", "--fail-on-exist",
            "--metadata", "--public-access",
        ],
    },
    AzCommand {
        path: "storage blob upload",
        required: &[],
        optional: &[
            "--account-key", "--account-name", "--auth-mode", "--container-name",
            "--content-type", "--file", "--name", "--no-progress", "--overwrite",
        ],
    },
    AzCommand {
        path: "storage blob generate-sas",
        required: &[],
        optional: &[
            "--account-key", "--account-name", "--as-user", "--auth-mode",
            "--container-name", "--expiry", "--full-uri", "--https-only", "--name",
            "--permissions", "--start",
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
        path: "group show",
        required: &["--name"],
        optional: &[],
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
        path: "network vnet show",
        required: &["--name", "--resource-group"],
        optional: &[
            "--expand",
        ],
    },
    AzCommand {
        path: "network nat gateway create",
        required: &["--name", "--resource-group"],
        optional: &[
            "--idle-timeout", "--location", "--no-wait", "--pip-addresses-v6",
            "--pip-prefixes-v6", "--public-ip-addresses", "--public-ip-prefixes", "--sku",
            "--source-vnet", "--tags", "--zone",
        ],
    },
    AzCommand {
        path: "network nat gateway show",
        required: &["--name", "--resource-group"],
        optional: &[],
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
        path: "network public-ip show",
        required: &["--name", "--resource-group"],
        optional: &[
            "--expand",
        ],
    },
    AzCommand {
        path: "network routeserver create",
        required: &["--hosted-subnet", "--name", "--public-ip-address", "--resource-group"],
        optional: &[
            "--auto-scale-config", "--hub-routing-preference", "--location", "--tags",
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
        path: "network routeserver peering show",
        required: &["--name", "--resource-group", "--routeserver"],
        optional: &[],
    },
    // The `bastion` extension's (not in the core CLI, not on PyPI): its options as
    // src/bastion/azext_bastion of azure-cli-extensions defines them.
    AzCommand {
        path: "network bastion create",
        required: &["--name", "--public-ip-address", "--resource-group", "--vnet-name"],
        optional: &[
            "--disable-copy-paste", "--enable-file-copy", "--enable-ip-connect",
            "--enable-kerberos", "--enable-session-recording", "--enable-shareable-link",
            "--enable-tunneling", "--location", "--no-wait", "--scale-units", "--sku",
            "--tags", "--zones",
        ],
    },
    AzCommand {
        path: "network bastion show",
        required: &["--name", "--resource-group"],
        optional: &[],
    },
    AzCommand {
        path: "network route-table create",
        required: &["--name", "--resource-group"],
        optional: &[
            "--disable-bgp-route-propagation", "--location", "--no-wait", "--tags",
        ],
    },
    AzCommand {
        path: "network route-table show",
        required: &["--name", "--resource-group"],
        optional: &[],
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
        path: "network nic show",
        required: &["--name", "--resource-group"],
        optional: &[],
    },
    AzCommand {
        path: "vm show",
        required: &["--name", "--resource-group"],
        optional: &[
            "--include-user-data", "--show-details",
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
/// line of tab-separated arguments, keeps what it created (a `show` fails, exit 3,
/// for anything no `create` made), and answers the two queries deploy.sh makes.
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
  # A value may be several words (`--zone 1 2 3`).
  value=""
  while (( i < ${{#args[@]}} )) && [[ "${{args[i]}}" != --* ]]; do
    value="${{value:+$value }}${{args[i]}}"
    i=$((i + 1))
  done
  [[ -n "$value" ]] && given[$a]="$value"
done
for r in "${{required[@]}}"; do
  if [[ -z "${{given[$r]:-}}" ]]; then echo "az $cmd: the following arguments are required: $r" >&2; exit 2; fi
done
# State, as Azure keeps it: a `show` finds only what a `create` made (or what
# FAKE_AZ_EXISTS names), and `group delete` removes a group and what is in it.
state="${{FAKE_AZ_STATE:-$FAKE_AZ_LOG.state}}"
touch "$state"
# An interrupted run: the call FAKE_AZ_FAIL names fails, as Azure's errors do.
if [[ "$cmd" == "${{FAKE_AZ_FAIL:-}}" ]]; then
  echo "(InternalServerError) $cmd failed (injected by the test)" >&2; exit 1
fi
kind="${{cmd% *}}"
verb="${{cmd##* }}"
if [[ "$kind" == group ]]; then rg="${{given[--name]:-}}"; else rg="${{given[--resource-group]:-}}"; fi
# The parent a name lives under: a subnet's VNET, a peering's route server (a
# bastion's --vnet-name is no parent: its show does not take it).
parent="${{given[--routeserver]:-}}"
[[ "$kind" == "network vnet subnet" ]] && parent="${{given[--vnet-name]:-}}"
key="$kind|$rg|$parent|${{given[--name]:-}}"
case "$verb" in
  create)
    grep -qxF "$key" "$state" || echo "$key" >> "$state"
    # A VNET created with an inline subnet has that subnet too.
    if [[ "$kind" == "network vnet" && -n "${{given[--subnet-name]:-}}" ]]; then
      echo "network vnet subnet|$rg|${{given[--name]}}|${{given[--subnet-name]}}" >> "$state"
    fi;;
  show)
    # `account show` is the login check, not a resource.
    if [[ "$kind" != account ]] && ! grep -qxF "$key" "$state" && [[ " ${{FAKE_AZ_EXISTS:-}} " != *" $kind "* ]]; then
      echo "(ResourceNotFound) $cmd: ${{given[--name]:-}} was not found." >&2; exit 3
    fi;;
  delete)
    if [[ "$kind" == group ]]; then
      grep -v "^[^|]*|$rg|" "$state" > "$state.new" || true
      mv "$state.new" "$state"
    fi;;
esac
case "$cmd" in
  'account show')
    if [[ "${{given[--query]:-}}" == id ]]; then echo "00000000-0000-0000-0000-000000000000"; fi;;
  'storage blob generate-sas')
    echo "https://${{given[--account-name]}}.blob.core.windows.net/${{given[--container-name]}}/${{given[--name]}}?se=2026-12-15T00%3A00Z&sp=r&spr=https&sv=2022-11-02&sr=b&sig=fake%2Bsig%3D";;
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
