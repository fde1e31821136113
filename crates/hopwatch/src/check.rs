//! `hopwatch check -c FILE`: load and check a watcher config, print every problem
//! (file:line: key: message), or what the config will do when it is good.

use anyhow::bail;
use hopwatch_config::{describe, load};

use crate::cli::CheckArgs;

/// Runs the check; an error exit when the config cannot run.
pub fn run(args: &CheckArgs) -> anyhow::Result<()> {
    match load(&args.config) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("warning: {w}");
            }
            crate::out::line(format_args!("{}: ok", args.config.display()))?;
            crate::out::print(&describe(&loaded.config))?;
            Ok(())
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            bail!("{}: {} error(s)", args.config.display(), errors.len())
        }
    }
}
