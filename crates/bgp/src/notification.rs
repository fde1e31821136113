//! NOTIFICATION: every error code and subcode hopwatch knows, and the message itself.
//!
//! The NOTIFICATION is the error type of the protocol core (as in rustbgpd and
//! rustybgp): a decode error *is* the [`Notification`] that RFC 4271 section 6 says
//! to send, with its data, so the mapping from an error to what goes on the wire
//! lives in one place and cannot drift.
//!
//! Codes: RFC 4271 (1 to 6), RFC 4486 (Cease subcodes), RFC 6608 (FSM subcodes),
//! RFC 7313 (ROUTE-REFRESH), RFC 8203/9003 (shutdown communication).

use std::fmt;

/// Declares a subcode enum with its wire value and its name as the RFC spells it.
macro_rules! subcodes {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal, $text:literal;)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A subcode this implementation does not name.
            Other(u8),
        }

        impl $name {
            /// The subcode on the wire.
            pub fn to_u8(self) -> u8 {
                match self {
                    $($name::$variant => $value,)*
                    $name::Other(v) => v,
                }
            }

            /// From the subcode on the wire.
            pub fn from_u8(v: u8) -> Self {
                match v {
                    $($value => $name::$variant,)*
                    other => $name::Other(other),
                }
            }

            /// The subcode's name as the RFC spells it.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(_) => "unknown subcode",
                }
            }
        }
    };
}

subcodes!(
    /// Code 1: Message Header Error.
    HeaderError {
        /// The marker was not all ones.
        ConnectionNotSynchronized = 1, "Connection Not Synchronized";
        /// The length field is out of range for the type; data: the length.
        BadMessageLength = 2, "Bad Message Length";
        /// Unknown type; data: the type.
        BadMessageType = 3, "Bad Message Type";
    }
);

subcodes!(
    /// Code 2: OPEN Message Error.
    OpenError {
        /// The OPEN could not be parsed at all (too short, parameters overrun).
        Unspecific = 0, "Unspecific";
        /// Version is not 4; data: the largest version supported (4).
        UnsupportedVersionNumber = 1, "Unsupported Version Number";
        /// The peer's AS is not the one configured.
        BadPeerAs = 2, "Bad Peer AS";
        /// The BGP identifier is not valid.
        BadBgpIdentifier = 3, "Bad BGP Identifier";
        /// An optional parameter other than capabilities.
        UnsupportedOptionalParameter = 4, "Unsupported Optional Parameter";
        /// Deprecated by RFC 4271 (was Authentication Failure); never sent.
        AuthenticationFailure = 5, "Authentication Failure (deprecated)";
        /// Hold time 1 or 2 seconds.
        UnacceptableHoldTime = 6, "Unacceptable Hold Time";
        /// A capability required by the local configuration is missing (RFC 5492).
        UnsupportedCapability = 7, "Unsupported Capability";
    }
);

subcodes!(
    /// Code 3: UPDATE Message Error.
    UpdateError {
        /// The attribute list or the withdrawn routes cannot be parsed.
        MalformedAttributeList = 1, "Malformed Attribute List";
        /// A well-known attribute this speaker does not know.
        UnrecognizedWellKnownAttribute = 2, "Unrecognized Well-known Attribute";
        /// A mandatory attribute is missing; data: its type code.
        MissingWellKnownAttribute = 3, "Missing Well-known Attribute";
        /// Flags conflict with the attribute's type.
        AttributeFlagsError = 4, "Attribute Flags Error";
        /// Length wrong for the attribute's type.
        AttributeLengthError = 5, "Attribute Length Error";
        /// ORIGIN value not 0, 1 or 2.
        InvalidOrigin = 6, "Invalid ORIGIN Attribute";
        /// Deprecated by RFC 4271 (was AS Routing Loop); never sent.
        AsRoutingLoop = 7, "AS Routing Loop (deprecated)";
        /// NEXT_HOP semantically wrong (0.0.0.0, multicast, ...).
        InvalidNextHop = 8, "Invalid NEXT_HOP Attribute";
        /// An optional attribute failed its checks.
        OptionalAttributeError = 9, "Optional Attribute Error";
        /// NLRI syntactically wrong.
        InvalidNetworkField = 10, "Invalid Network Field";
        /// AS_PATH malformed.
        MalformedAsPath = 11, "Malformed AS_PATH";
    }
);

subcodes!(
    /// Code 5: Finite State Machine Error (RFC 6608).
    FsmError {
        /// No further detail.
        Unspecified = 0, "Unspecified Error";
        /// A message other than OPEN or NOTIFICATION in OpenSent.
        UnexpectedInOpenSent = 1, "Receive Unexpected Message in OpenSent State";
        /// A message other than KEEPALIVE or NOTIFICATION in OpenConfirm.
        UnexpectedInOpenConfirm = 2, "Receive Unexpected Message in OpenConfirm State";
        /// An OPEN in Established.
        UnexpectedInEstablished = 3, "Receive Unexpected Message in Established State";
    }
);

subcodes!(
    /// Code 6: Cease (RFC 4486, RFC 8538).
    Cease {
        /// A peer sent more prefixes than allowed; data: AFI, SAFI, limit.
        MaximumNumberOfPrefixesReached = 1, "Maximum Number of Prefixes Reached";
        /// The operator shut the session down; data: an RFC 9003 message.
        AdministrativeShutdown = 2, "Administrative Shutdown";
        /// The peer was removed from the configuration.
        PeerDeconfigured = 3, "Peer De-configured";
        /// The operator reset the session; data: an RFC 9003 message.
        AdministrativeReset = 4, "Administrative Reset";
        /// The connection was not accepted (unknown peer, too many peers).
        ConnectionRejected = 5, "Connection Rejected";
        /// The configuration changed in a way that needs a new session.
        OtherConfigurationChange = 6, "Other Configuration Change";
        /// This connection lost a collision (RFC 4271 6.8).
        ConnectionCollisionResolution = 7, "Connection Collision Resolution";
        /// Out of resources.
        OutOfResources = 8, "Out of Resources";
        /// Hard reset (RFC 8538): do not keep the routes as stale.
        HardReset = 9, "Hard Reset";
        /// BFD down (RFC 9384).
        BfdDown = 10, "BFD Down";
    }
);

subcodes!(
    /// Code 7: ROUTE-REFRESH Message Error (RFC 7313).
    RouteRefreshError {
        /// Length wrong for a ROUTE-REFRESH.
        InvalidMessageLength = 1, "Invalid Message Length";
    }
);

/// The error code and subcode of a NOTIFICATION.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 1: Message Header Error.
    Header(HeaderError),
    /// 2: OPEN Message Error.
    Open(OpenError),
    /// 3: UPDATE Message Error.
    Update(UpdateError),
    /// 4: Hold Timer Expired (subcode 0).
    HoldTimerExpired,
    /// 5: Finite State Machine Error.
    Fsm(FsmError),
    /// 6: Cease.
    Cease(Cease),
    /// 7: ROUTE-REFRESH Message Error.
    RouteRefresh(RouteRefreshError),
    /// A code this implementation does not name.
    Other {
        /// Error code.
        code: u8,
        /// Error subcode.
        subcode: u8,
    },
}

impl ErrorCode {
    /// From the wire's code and subcode.
    pub fn from_wire(code: u8, subcode: u8) -> Self {
        match code {
            1 => ErrorCode::Header(HeaderError::from_u8(subcode)),
            2 => ErrorCode::Open(OpenError::from_u8(subcode)),
            3 => ErrorCode::Update(UpdateError::from_u8(subcode)),
            4 if subcode == 0 => ErrorCode::HoldTimerExpired,
            5 => ErrorCode::Fsm(FsmError::from_u8(subcode)),
            6 => ErrorCode::Cease(Cease::from_u8(subcode)),
            7 => ErrorCode::RouteRefresh(RouteRefreshError::from_u8(subcode)),
            _ => ErrorCode::Other { code, subcode },
        }
    }

    /// The error code on the wire.
    pub fn code(self) -> u8 {
        match self {
            ErrorCode::Header(_) => 1,
            ErrorCode::Open(_) => 2,
            ErrorCode::Update(_) => 3,
            ErrorCode::HoldTimerExpired => 4,
            ErrorCode::Fsm(_) => 5,
            ErrorCode::Cease(_) => 6,
            ErrorCode::RouteRefresh(_) => 7,
            ErrorCode::Other { code, .. } => code,
        }
    }

    /// The error subcode on the wire.
    pub fn subcode(self) -> u8 {
        match self {
            ErrorCode::Header(s) => s.to_u8(),
            ErrorCode::Open(s) => s.to_u8(),
            ErrorCode::Update(s) => s.to_u8(),
            ErrorCode::HoldTimerExpired => 0,
            ErrorCode::Fsm(s) => s.to_u8(),
            ErrorCode::Cease(s) => s.to_u8(),
            ErrorCode::RouteRefresh(s) => s.to_u8(),
            ErrorCode::Other { subcode, .. } => subcode,
        }
    }

    fn names(self) -> (&'static str, &'static str) {
        match self {
            ErrorCode::Header(s) => ("Message Header Error", s.name()),
            ErrorCode::Open(s) => ("OPEN Message Error", s.name()),
            ErrorCode::Update(s) => ("UPDATE Message Error", s.name()),
            ErrorCode::HoldTimerExpired => ("Hold Timer Expired", ""),
            ErrorCode::Fsm(s) => ("Finite State Machine Error", s.name()),
            ErrorCode::Cease(s) => ("Cease", s.name()),
            ErrorCode::RouteRefresh(s) => ("ROUTE-REFRESH Message Error", s.name()),
            ErrorCode::Other { .. } => ("unknown error code", ""),
        }
    }
}

/// A NOTIFICATION message: an error code, its subcode and the data the RFC asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Code and subcode.
    pub code: ErrorCode,
    /// Diagnostic data, as the RFC defines it for the code.
    pub data: Vec<u8>,
}

/// RFC 9003 raises RFC 8203's limit to 255 octets of UTF-8.
pub const MAX_SHUTDOWN_MESSAGE: usize = 255;

impl Notification {
    /// A NOTIFICATION with data.
    pub fn new(code: ErrorCode, data: impl Into<Vec<u8>>) -> Self {
        Notification {
            code,
            data: data.into(),
        }
    }

    /// A NOTIFICATION with no data.
    pub fn bare(code: ErrorCode) -> Self {
        Notification {
            code,
            data: Vec::new(),
        }
    }

    /// Cease / Administrative Shutdown carrying an operator's message (RFC 8203, 9003).
    /// The message is cut at a character boundary to fit 255 octets.
    pub fn shutdown(message: &str) -> Self {
        Self::with_communication(Cease::AdministrativeShutdown, message)
    }

    /// Cease with `subcode` carrying an RFC 9003 shutdown communication.
    pub fn with_communication(subcode: Cease, message: &str) -> Self {
        let mut end = message.len().min(MAX_SHUTDOWN_MESSAGE);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let text = &message.as_bytes()[..end];
        let mut data = Vec::with_capacity(text.len() + 1);
        if !text.is_empty() {
            // `end` is at most 255, so the length fits its octet.
            data.push(end as u8);
            data.extend_from_slice(text);
        }
        Notification::new(ErrorCode::Cease(subcode), data)
    }

    /// The shutdown communication of a Cease Administrative Shutdown or Reset, if it
    /// carries a well-formed one.
    pub fn shutdown_message(&self) -> Option<String> {
        match self.code {
            ErrorCode::Cease(Cease::AdministrativeShutdown | Cease::AdministrativeReset) => {
                let (&len, rest) = self.data.split_first()?;
                let text = rest.get(..usize::from(len))?;
                std::str::from_utf8(text).ok().map(str::to_owned)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (code, sub) = self.code.names();
        write!(f, "{code} ({})", self.code.code())?;
        if !sub.is_empty() {
            write!(f, " / {sub} ({})", self.code.subcode())?;
        } else if self.code.subcode() != 0 {
            write!(f, " / subcode {}", self.code.subcode())?;
        }
        if let Some(msg) = self.shutdown_message() {
            write!(f, ": {msg:?}")?;
        } else if !self.data.is_empty() {
            write!(f, ", data ")?;
            for b in &self.data {
                write!(f, "{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Notification {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_and_subcode_round_trips_through_the_wire_values() {
        for code in 0..=8u8 {
            for sub in 0..=12u8 {
                let ec = ErrorCode::from_wire(code, sub);
                assert_eq!((ec.code(), ec.subcode()), (code, sub), "{ec:?}");
            }
        }
    }

    #[test]
    fn shutdown_message_is_length_prefixed_and_cut_at_255_octets() {
        let n = Notification::shutdown("maintenance");
        assert_eq!(n.data[0], 11);
        assert_eq!(n.shutdown_message().as_deref(), Some("maintenance"));
        let long = "é".repeat(200);
        let n = Notification::shutdown(&long);
        assert!(n.data.len() <= 256);
        assert!(n.shutdown_message().is_some());
    }

    #[test]
    fn display_names_code_and_subcode() {
        let n = Notification::bare(ErrorCode::Open(OpenError::BadPeerAs));
        assert_eq!(n.to_string(), "OPEN Message Error (2) / Bad Peer AS (2)");
    }
}
