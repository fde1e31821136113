//! A role's verdict as an exit status: a command that has something to say beyond
//! success or failure (`hopwatch load` when no request succeeded) returns a
//! [`Verdict`] as its error, and the binary's `main` prints the message on stderr
//! and exits with its code (1 is every other error, 2 clap's usage error).
//!
//! Here, not in the binary, so that a role living in a library crate can give one.

use std::fmt;

/// A command's verdict as an exit status: `main` prints the message on stderr and
/// exits with `code` (1 is every other error, 2 clap's usage error).
#[derive(Debug)]
pub struct Verdict {
    /// The exit status.
    pub code: u8,
    /// What it means, for stderr.
    pub message: String,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Verdict {}
