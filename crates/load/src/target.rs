//! Where the load goes: [`Target`], parsed from `http://IP[:PORT]/PATH`.
//!
//! Only IP addresses, never names: the injector must not depend on a resolver
//! (whose latency would land in the measurement), and the network rule of the lab
//! (`docs/lab-topology.md`) is easier to keep when every address is written out.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// An HTTP endpoint to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Where to connect.
    pub addr: SocketAddr,
    /// The `Host` header (`127.10.15.15:8080`, `[::1]:8080`).
    pub host: String,
    /// Path and query, starting with `/`.
    pub path: String,
}

/// Why a URL is not a [`Target`]; each message names the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// Not `http://`.
    #[error("`{0}`: expected http://IP[:PORT]/PATH (plain HTTP only, no https)")]
    Scheme(String),
    /// The host is not an IP address.
    #[error(
        "`{0}`: the host must be an IP address such as 127.10.15.15 or [::1] (names are not resolved)"
    )]
    Host(String),
    /// The port is not a number from 1 to 65535.
    #[error("`{0}`: the port must be a number from 1 to 65535")]
    Port(String),
}

impl Target {
    /// Parses `http://IP[:PORT][/PATH]` (port 80 and path `/` by default).
    pub fn parse(url: &str) -> Result<Self, TargetError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| TargetError::Scheme(url.into()))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(TargetError::Scheme(url.into()));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (ip, after) = v6
                .split_once(']')
                .ok_or_else(|| TargetError::Host(url.into()))?;
            match after {
                "" => (ip, None),
                a => (
                    ip,
                    Some(
                        a.strip_prefix(':')
                            .ok_or_else(|| TargetError::Host(url.into()))?,
                    ),
                ),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let ip: IpAddr = host.parse().map_err(|_| TargetError::Host(url.into()))?;
        let port = match port {
            None => 80,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p != 0 => p,
                _ => return Err(TargetError::Port(url.into())),
            },
        };
        let addr = SocketAddr::new(ip, port);
        Ok(Self {
            addr,
            host: addr.to_string(),
            path,
        })
    }
}

impl FromStr for Target {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_to_address_host_and_path() {
        #[rustfmt::skip]
        let table = [
            ("http://127.10.15.15:8080/", "127.10.15.15:8080", "/"),
            ("http://127.0.0.1:8080", "127.0.0.1:8080", "/"),
            ("http://127.0.0.1/x?y=1", "127.0.0.1:80", "/x?y=1"),
            ("http://127.0.0.1:81?y", "127.0.0.1:81", "/?y"),
            ("http://[::1]:8080/a", "[::1]:8080", "/a"),
            ("http://[::1]/", "[::1]:80", "/"),
        ];
        for (url, addr, path) in table {
            let t = Target::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(
                (t.addr.to_string().as_str(), t.path.as_str()),
                (addr, path),
                "{url}"
            );
            assert_eq!(t.host, addr);
        }
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        #[rustfmt::skip]
        let table = [
            ("https://127.0.0.1/", "no https"),
            ("127.0.0.1:8080", "expected http://"),
            ("http://localhost:8080/", "IP address"),
            ("http://[::1:8080/", "IP address"),
            ("http://127.0.0.1:0/", "port"),
            ("http://127.0.0.1:99999/", "port"),
            ("http://127.0.0.1:/", "port"),
            ("http://127.0.0.1/a b", "expected http://"),
        ];
        for (url, needle) in table {
            let e = Target::parse(url)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(needle), "{url}: {e:?} should mention {needle:?}");
        }
    }
}
