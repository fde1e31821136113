//! Connection collision detection (RFC 4271 6.8).
//!
//! When both speakers connect at once, there are two connections for one peering.
//! Once the second connection's OPEN reveals the peer's BGP identifier, the speaker
//! with the higher identifier keeps the connection *it* opened; the other one is
//! closed with Cease / Connection Collision Resolution. A connection already
//! Established always wins.

use crate::session::State;
use crate::types::RouterId;

/// Who opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// We connected to the peer.
    Outgoing,
    /// The peer connected to us.
    Incoming,
}

/// Which of two colliding connections to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// Close the connection that was there first.
    Existing,
    /// Close the connection that arrived second.
    New,
}

/// Decides a collision between the `existing` connection (in `existing_state`,
/// opened in `existing_dir`) and a new one, once the peer's identifier is known.
pub fn resolve(
    local: RouterId,
    remote: RouterId,
    existing_state: State,
    existing_dir: Direction,
) -> Close {
    if existing_state == State::Established {
        return Close::New;
    }
    // The higher identifier keeps the connection it initiated.
    let keep = if local.to_u32() > remote.to_u32() {
        Direction::Outgoing
    } else {
        Direction::Incoming
    };
    if existing_dir == keep {
        Close::New
    } else {
        Close::Existing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> RouterId {
        s.parse().unwrap()
    }

    #[test]
    fn higher_identifier_keeps_the_connection_it_opened() {
        // We are higher: keep our outgoing connection.
        let c = resolve(
            id("10.0.0.2"),
            id("10.0.0.1"),
            State::OpenConfirm,
            Direction::Outgoing,
        );
        assert_eq!(c, Close::New);
        let c = resolve(
            id("10.0.0.2"),
            id("10.0.0.1"),
            State::OpenConfirm,
            Direction::Incoming,
        );
        assert_eq!(c, Close::Existing);
    }

    #[test]
    fn lower_identifier_keeps_the_connection_the_peer_opened() {
        let c = resolve(
            id("10.0.0.1"),
            id("10.0.0.2"),
            State::OpenSent,
            Direction::Outgoing,
        );
        assert_eq!(c, Close::Existing);
        let c = resolve(
            id("10.0.0.1"),
            id("10.0.0.2"),
            State::OpenSent,
            Direction::Incoming,
        );
        assert_eq!(c, Close::New);
    }

    #[test]
    fn an_established_connection_always_wins() {
        let c = resolve(
            id("10.0.0.1"),
            id("10.0.0.2"),
            State::Established,
            Direction::Outgoing,
        );
        assert_eq!(c, Close::New);
    }
}
