//! Every `az` call the rendered scripts make is one the real Azure CLI takes. The
//! fake `az` of `azure_render.rs` checks calls against a table written from the
//! reference, and a table can be wrong (bastion options, an argument a command
//! does not have, a command that moved to an extension), so the real CLI is the
//! oracle here.
//!
//! Each variant of the example (plain; with the standby; forwarding; the optional
//! parts off) is rendered, `deploy.sh` and `teardown.sh` run against the fake (which
//! answers what only Azure could: resource IDs, the route server's addresses) to
//! collect every argument vector they pass, and each distinct one is given to the
//! real `az`, installed from PyPI by `./test` (`HOPWATCH_AZ_CLI`). Never logged in,
//! it parses the command line and runs its validators, then stops with "Please run
//! 'az login'": that is a pass. Anything else (an unknown command or argument, a
//! missing one, a validator's error) fails the test. The CLI reaches nothing: its
//! configuration is a folder of the test's own, telemetry and dynamic extension
//! installs are off, and its proxy is a closed port on loopback.
//!
//! What the real CLI cannot answer offline: `az extension add` (it downloads), and
//! the commands of an extension, which is not on PyPI. Those are checked by the
//! fake's table only, and an extension's commands only after the script added the
//! extension: a `network bastion` call that no `az extension add --name bastion`
//! precedes goes to the real CLI, which does not know it.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
mod azure;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use azure::{Temp, render, run_with_fake_az, text};

/// The example, and the keys each variant changes.
fn variants() -> Vec<(&'static str, String)> {
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/azure.toml"),
    )
    .unwrap();
    let set = |text: &str, section: &str, key: &str, value: &str| -> String {
        // `key = ...` inside `[section]`.
        let start = text.find(&format!("[{section}]\n")).unwrap();
        let rest = &text[start..];
        let at = start + rest.find(&format!("\n{key} =")).unwrap() + 1;
        let end = at + text[at..].find('\n').unwrap();
        format!("{}{key} = {value}{}", &text[..at], &text[end..])
    };
    let standby = set(&example, "standby", "enabled", "true");
    let forward = set(&standby, "forward", "enabled", "true");
    let bare = set(
        &set(&example, "bastion", "enabled", "false"),
        "observer",
        "enabled",
        "false",
    );
    vec![
        ("example", example),
        ("standby", standby),
        ("forward", forward),
        ("no-bastion-no-observer", bare),
    ]
}

/// The real `az`, or `None` when the namespace and tool tests are skipped.
fn real_az() -> Option<PathBuf> {
    if std::env::var("HOPWATCH_INTEROP").as_deref() == Ok("skip") {
        let _ = writeln!(
            std::io::stderr(),
            "azure_cli skipped: HOPWATCH_INTEROP=skip"
        );
        return None;
    }
    let az = std::env::var_os("HOPWATCH_AZ_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
            cache.join("hopwatch/azure-cli-2.91.0/bin/az")
        });
    assert!(
        az.exists(),
        "the real Azure CLI is not at {} (HOPWATCH_AZ_CLI): `./test` installs it from \
         PyPI, or set HOPWATCH_INTEROP=skip to skip this test explicitly",
        az.display()
    );
    Some(az)
}

/// Every call of `deploy.sh` and `teardown.sh` for `config`, in order per script.
fn calls_of(tmp: &Temp, config: &str) -> Vec<Vec<Vec<String>>> {
    let out = render(tmp, config);
    let mut scripts = Vec::new();
    for (script, args, stdin) in [
        ("deploy.sh", &[][..], ""),
        ("teardown.sh", &["--yes"][..], ""),
    ] {
        let (o, calls) = run_with_fake_az(tmp, &out.join(script), args, &[], stdin);
        assert!(
            o.status.success(),
            "{script} against the fake: {}",
            text(&o)
        );
        scripts.push(calls);
    }
    scripts
}

/// Whether the real CLI can be asked about `argv` offline, given the calls before
/// it in the same script.
fn offline(argv: &[String], before: &[Vec<String>]) -> bool {
    let words: Vec<&str> = argv
        .iter()
        .take_while(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    if words.starts_with(&["extension", "add"]) {
        return false;
    }
    if words.starts_with(&["network", "bastion"]) {
        let added = before.iter().any(|c| {
            c.starts_with(&["extension".into(), "add".into()])
                && c.windows(2).any(|w| w[0] == "--name" && w[1] == "bastion")
        });
        return !added;
    }
    true
}

/// What the real CLI said of one argument vector.
struct Verdict {
    argv: Vec<String>,
    code: Option<i32>,
    stderr: String,
}

impl Verdict {
    /// Parsed and validated: it stopped only for the missing login.
    fn accepted(&self) -> bool {
        self.code == Some(0) || self.stderr.contains("az login")
    }
}

fn ask(az: &Path, config_dir: &Path, argv: &[String]) -> Verdict {
    let mut child = Command::new(az)
        .args(argv)
        .env("AZURE_CONFIG_DIR", config_dir)
        .env("AZURE_CORE_COLLECT_TELEMETRY", "false")
        .env("AZURE_EXTENSION_USE_DYNAMIC_INSTALL", "no")
        .env("AZURE_CORE_NO_COLOR", "true")
        // Nothing leaves the machine: every request goes to a closed port here.
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("https_proxy", "http://127.0.0.1:9")
        .env("http_proxy", "http://127.0.0.1:9")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read as it comes: a data-plane command (`storage blob upload`) says it cannot
    // get the account's key without a login once its validators ran, then tries the
    // request through the closed proxy with retries for a minute and more. The
    // login line is the verdict; the rest is not waited for.
    let seen = std::sync::Arc::new(Mutex::new(String::new()));
    let reader = child.stderr.take().map(|e| {
        let seen = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(e).lines().map_while(Result::ok) {
                let mut s = seen.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        })
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let code = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status.code();
        }
        if seen.lock().unwrap().contains("az login") || Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if let Some(r) = reader {
        let _ = r.join();
    }
    let stderr = seen.lock().unwrap().clone();
    Verdict {
        argv: argv.to_vec(),
        code,
        stderr,
    }
}

#[test]
fn the_real_azure_cli_takes_every_call_the_rendered_scripts_make() {
    let Some(az) = real_az() else { return };
    let tmp = Temp::new("real-cli");
    let config_dir = tmp.0.join("azure-config");
    std::fs::create_dir_all(&config_dir).unwrap();
    let mut asked: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut fake_only = 0;
    // The rendered files must exist while the real CLI reads them (custom data).
    let mut kept = Vec::new();
    for (name, config) in variants() {
        let vt = Temp::new(&format!("real-cli-{name}"));
        for calls in calls_of(&vt, &config) {
            for (i, argv) in calls.iter().enumerate() {
                if offline(argv, &calls[..i]) {
                    asked.insert(argv.clone());
                } else {
                    fake_only += 1;
                }
            }
        }
        kept.push(vt);
    }
    // Two at a time: each is a Python process of about a second.
    let queue = Mutex::new(asked.iter().cloned().collect::<Vec<_>>());
    let verdicts = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let Some(argv) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let v = ask(&az, &config_dir, &argv);
                    verdicts.lock().unwrap().push(v);
                }
            });
        }
    });
    let verdicts = verdicts.into_inner().unwrap();
    let refused: Vec<String> = verdicts
        .iter()
        .filter(|v| !v.accepted())
        .map(|v| {
            format!(
                "az {}\n  exit {:?}: {}",
                v.argv.join(" "),
                v.code,
                v.stderr
                    .trim()
                    .lines()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" | ")
            )
        })
        .collect();
    let _ = writeln!(
        std::io::stderr(),
        "azure_cli: {} distinct calls asked of the real Azure CLI, {} refused; {} \
         checked by the fake alone (extension commands)",
        verdicts.len(),
        refused.len(),
        fake_only
    );
    assert!(
        refused.is_empty(),
        "the real Azure CLI refused {} of {} calls:\n{}",
        refused.len(),
        verdicts.len(),
        refused.join("\n")
    );
    drop(kept);
}
