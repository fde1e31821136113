//! RFC 5424 syslog over UDP (RFC 5426) for the watcher's decisions, as the seed's
//! watcher logged each decision to its syslog server. One datagram per message,
//! sent without waiting: a slow or absent syslog server never delays a failover.

use std::net::{SocketAddr, UdpSocket};
use std::time::SystemTime;

use hopwatch_config::facility_code;

/// Severity levels used here (RFC 5424 6.2.1).
#[derive(Debug, Clone, Copy)]
pub enum Severity {
    /// 3: a route server session went down.
    Error = 3,
    /// 4: a backend went down, a VIP moved away from a failed backend.
    Warning = 4,
    /// 5: a VIP moved for a planned reason, a backend came up.
    Notice = 5,
}

/// A syslog sender.
pub struct Syslog {
    sock: UdpSocket,
    target: SocketAddr,
    facility: u8,
    host: String,
    pid: u32,
}

impl Syslog {
    /// A sender to `target`; `facility` as validated by the config.
    pub fn new(target: SocketAddr, facility: Option<&str>) -> std::io::Result<Self> {
        let bind: SocketAddr = if target.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let sock = UdpSocket::bind(bind)?;
        sock.set_nonblocking(true)?;
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "-".into());
        Ok(Syslog {
            sock,
            target,
            facility: facility.and_then(facility_code).unwrap_or(3),
            host,
            pid: std::process::id(),
        })
    }

    /// Formats one message (separate from sending, for tests).
    pub fn format(&self, severity: Severity, msgid: &str, msg: &str, now: SystemTime) -> String {
        let pri = u16::from(self.facility) * 8 + severity as u16;
        let ts = humantime::format_rfc3339_micros(now);
        // HOSTNAME, APP-NAME, PROCID, MSGID are printable US-ASCII without spaces.
        let clean = |s: &str| -> String {
            let t: String = s
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(48)
                .collect();
            if t.is_empty() { "-".into() } else { t }
        };
        format!(
            "<{pri}>1 {ts} {} hopwatch {} {} - {msg}",
            clean(&self.host),
            self.pid,
            clean(msgid)
        )
    }

    /// Sends one message; a failure to send is not an error of the watcher.
    pub fn send(&self, severity: Severity, msgid: &str, msg: &str) {
        let line = self.format(severity, msgid, msg, SystemTime::now());
        let _ = self.sock.send_to(line.as_bytes(), self.target);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_rfc_5424() {
        let s = Syslog::new("127.0.0.1:9".parse().unwrap(), Some("local3")).unwrap();
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(1_764_000_000_123_456);
        let line = s.format(
            Severity::Warning,
            "move",
            "100.64.0.1/32 moves ws1 -> ws2 (failover)",
            t,
        );
        // local3 = 19; 19 * 8 + 4 = 156.
        assert!(
            line.starts_with("<156>1 2025-11-24T16:00:00.123456Z "),
            "{line}"
        );
        assert!(
            line.contains(" hopwatch ")
                && line.ends_with(" move - 100.64.0.1/32 moves ws1 -> ws2 (failover)"),
            "{line}"
        );
    }

    #[test]
    fn facility_names_map_to_codes() {
        assert_eq!(facility_code("daemon"), Some(3));
        assert_eq!(facility_code("local7"), Some(23));
        assert_eq!(facility_code("local8"), None);
        assert_eq!(facility_code("kern"), None);
    }
}
