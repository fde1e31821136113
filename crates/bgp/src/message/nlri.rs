//! NLRI: prefixes as length + significant octets (RFC 4271 4.3, RFC 4760).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::types::{Afi, Prefix};

/// Appends one prefix in NLRI form.
pub(crate) fn put_prefix(out: &mut Vec<u8>, p: &Prefix) {
    let octets = usize::from(p.len()).div_ceil(8);
    out.push(p.len());
    match p.addr() {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()[..octets]),
        IpAddr::V6(a) => out.extend_from_slice(&a.octets()[..octets]),
    }
}

/// The size of one prefix in NLRI form.
pub(crate) fn prefix_wire_len(p: &Prefix) -> usize {
    1 + usize::from(p.len()).div_ceil(8)
}

/// Decodes a run of prefixes of one family; `None` when a length is too long for the
/// family or the data runs out. Bits past the length are cleared, not refused
/// (RFC 4271 says they are irrelevant).
pub(crate) fn decode_prefixes(mut data: &[u8], afi: Afi) -> Option<Vec<Prefix>> {
    let max = match afi {
        Afi::Ipv4 => 32,
        Afi::Ipv6 => 128,
    };
    let mut out = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        if len > max {
            return None;
        }
        let n = usize::from(len).div_ceil(8);
        let bytes = rest.get(..n)?;
        let addr = match afi {
            Afi::Ipv4 => {
                let mut a = [0u8; 4];
                a[..n].copy_from_slice(bytes);
                IpAddr::V4(Ipv4Addr::from(a))
            }
            Afi::Ipv6 => {
                let mut a = [0u8; 16];
                a[..n].copy_from_slice(bytes);
                IpAddr::V6(Ipv6Addr::from(a))
            }
        };
        out.push(Prefix::new_masking(addr, len)?);
        data = &rest[n..];
    }
    Some(out)
}
