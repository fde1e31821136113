//! Configuration errors of the RIB (not protocol errors: those are NOTIFICATIONs).

use std::fmt;
use std::net::IpAddr;

/// A request about peers that the RIB cannot honour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RibError {
    /// The address is not a configured peer.
    UnknownPeer(IpAddr),
    /// The address is already a configured peer.
    DuplicatePeer(IpAddr),
    /// The configuration already holds the most peers allowed.
    TooManyPeers {
        /// The limit ([`super::MAX_PEERS`]).
        max: usize,
    },
}

impl fmt::Display for RibError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RibError::UnknownPeer(a) => write!(f, "{a} is not a configured peer"),
            RibError::DuplicatePeer(a) => write!(f, "{a} is already a configured peer"),
            RibError::TooManyPeers { max } => {
                write!(f, "at most {max} peers can be configured")
            }
        }
    }
}

impl std::error::Error for RibError {}
