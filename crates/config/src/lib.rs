//! The watcher's configuration: one TOML file, parsed into types that are valid by
//! construction, then checked as a whole (families, priorities, the cloud's rules).
//!
//! Every error names the file, the line and the key (`watcher.toml:14: vip[0].prefix:
//! ...`), as an operator at 3 a.m. needs it. serde gives the key path (through
//! `serde_path_to_error`) and toml the position for syntax and type errors; for the
//! checks that look at several values at once, `locate` finds the key's line in
//! the document again (through `toml_edit`, which keeps spans).
//!
//! The example of issue 3 (`examples/watcher.toml`) is accepted as written.
//!
//! A crate of its own because it is a library, not wiring: the binary holds CLI
//! parsing and wiring only (`hopwatch check` and `hopwatch run` load a file through
//! [`load`]); `hopwatch azure render` (`hopwatch-azure`) parses the watcher config it
//! renders with the same loader, so that it never writes one `hopwatch check` would
//! refuse, and reads its own TOML through [`read`], [`deserialize`] and [`located`];
//! tests import it rather than copy it.

pub mod bounds;
mod describe;
pub mod forward;
pub mod ha;
mod locate;
mod model;
pub mod probes;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

pub use describe::describe;
pub use model::*;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The key path, like `vip[0].backends[1].check`.
    pub key: String,
    /// What is wrong, and what would be right.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.key, self.message)
        }
    }
}

/// A config that loaded, with the warnings it deserves.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Things that work but are probably not what was meant.
    pub warnings: Vec<ConfigError>,
}

/// Reads and checks a config file.
pub fn load(path: &Path) -> Result<Loaded, Vec<ConfigError>> {
    parse(path, &read(path)?)
}

/// Parses and checks config text; `path` only names it in errors.
pub fn parse(path: &Path, text: &str) -> Result<Loaded, Vec<ConfigError>> {
    let config: Config = deserialize(path, text)?;
    let report = validate::check(&config);
    let to_error = |(key, message)| located(path, text, key, message);
    if !report.errors.is_empty() {
        return Err(report.errors.into_iter().map(to_error).collect());
    }
    Ok(Loaded {
        config,
        warnings: report.warnings.into_iter().map(to_error).collect(),
    })
}

/// The largest config file read: the seed's is under 1 KiB, and a thousand VIPs with
/// two backends each are about 200 KiB. The bound is what makes `-c /dev/zero` (or
/// any endless or huge file) an error instead of a process that reads until memory
/// runs out. Special files are not refused: `-c <(generate)` is a FIFO and fine.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The text of a config file, or the error that names it. Shared by every TOML
/// file hopwatch reads (this one, `azure render`'s).
pub fn read(path: &Path) -> Result<String, Vec<ConfigError>> {
    use std::io::Read;
    let error = |message: String| {
        vec![ConfigError {
            file: path.to_owned(),
            line: None,
            key: String::new(),
            message,
        }]
    };
    let file = std::fs::File::open(path).map_err(|e| error(format!("cannot read: {e}")))?;
    let mut bytes = Vec::new();
    // One byte past the bound tells "exactly 1 MiB" from "more".
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| error(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(error(
            "larger than 1 MiB: not a config file (a config is a few KiB)".into(),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        error(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// TOML `text` into `T`, a syntax or type error named by file, line and key.
pub fn deserialize<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<T, Vec<ConfigError>> {
    let err = |line, key: String, message: String| ConfigError {
        file: path.to_owned(),
        line,
        key,
        message,
    };
    let de = toml::Deserializer::parse(text).map_err(|e| {
        let line = e.span().map(|s| locate::line_of_offset(text, s.start));
        vec![err(line, String::new(), e.message().trim().to_string())]
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let line = inner
            .span()
            .map(|s| locate::line_of_offset(text, s.start))
            .or_else(|| locate::line_of_key(text, &key));
        let key = if key == "." { String::new() } else { key };
        vec![err(line, key, inner.message().trim().to_string())]
    })
}

/// A validation problem at `key` of `text`, with the key's line.
pub fn located(path: &Path, text: &str, key: String, message: String) -> ConfigError {
    ConfigError {
        file: path.to_owned(),
        line: locate::line_of_key(text, &key),
        key,
        message,
    }
}

/// The number of a syslog facility name (`log.facility`): `user`, `daemon`,
/// `local0` to `local7`; `None` for any other name, which the config refuses.
pub fn facility_code(name: &str) -> Option<u8> {
    match name {
        "user" => Some(1),
        "daemon" => Some(3),
        _ => name
            .strip_prefix("local")
            .and_then(|n| n.parse::<u8>().ok())
            .filter(|n| *n <= 7)
            .map(|n| 16 + n),
    }
}

#[cfg(test)]
mod tests;
