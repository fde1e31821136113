//! Lines about a process's own life, printed by more than one command: `started`
//! (`run`, `route-server`), `listening` (`web`), `events_dropped` (any).

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

/// `started`: the process is up. `run` gives `config` and `api`; `route-server`
/// gives `asn`, `instances`, `dataplane` and `api`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Started {
    /// The control or introspection API's address.
    pub api: SocketAddr,
    /// `run`: the config file, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// `route-server`: its AS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// `route-server`: its instances' addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<Vec<IpAddr>>,
    /// `route-server`: its data plane (`proxy`, `kernel`, `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataplane: Option<String>,
}

/// `listening`: `web` serves on `addr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listening {
    /// The address and port it serves on.
    pub addr: SocketAddr,
}

/// `backend_ready`: `hopwatch backend` set the backend up (forwarding mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendReady {
    /// The VXLAN device.
    pub device: String,
    /// Its UDP port.
    pub port: u16,
    /// The VIPs it added to `lo` (those already there are not listed).
    pub vips_added: Vec<String>,
}

/// `events_dropped`: lines dropped because stdout's reader was too slow (the queue
/// of 65,536 lines was full); printed before the next line that fits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsDropped {
    /// How many lines were dropped.
    pub count: u64,
}

/// A line with no fields of its own (`routes_released`, `instance_started`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Empty {}
