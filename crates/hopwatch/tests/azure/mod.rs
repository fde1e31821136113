//! What the `azure_render` tests share: temp folders, running `hopwatch`, reading
//! what it rendered, and running a rendered script against the fake `az`.

pub mod az_cli;
pub mod model;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A temp folder, removed on drop unless HOPWATCH_AZURE_KEEP is set.
pub struct Temp(pub PathBuf);

impl Temp {
    pub fn new(what: &str) -> Temp {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hopwatch-azure-{what}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Temp(dir)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if std::env::var_os("HOPWATCH_AZURE_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn hopwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(args)
        .env_remove("HOPWATCH_ADMIN_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The stand-in .deb the tests' configs name.
pub const TEST_DEB: &str = "hopwatch_0.1.0-1_amd64.deb";

/// Renders `config` into `tmp/out`; returns the output folder.
pub fn render(tmp: &Temp, config: &str) -> PathBuf {
    let (out, o) = render_output(tmp, config);
    assert!(o.status.success(), "{}", text(&o));
    out
}

/// Renders `config` into `tmp/out`, whatever the outcome; returns the output folder
/// and what `hopwatch azure render` printed.
pub fn render_output(tmp: &Temp, config: &str) -> (PathBuf, Output) {
    let file = tmp.0.join("azure.toml");
    // The example's `[hopwatch] deb` names cargo deb's output in the repository: a
    // stand-in beside the config instead, which deploy.sh hashes and "uploads".
    let config: String = config
        .lines()
        .map(|l| {
            if l.starts_with("deb = ") {
                std::fs::write(tmp.0.join(TEST_DEB), b"!<arch>\nnot a real package\n").unwrap();
                format!("deb = \"{TEST_DEB}\"\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&file, config).unwrap();
    let out = tmp.0.join("out");
    let o = hopwatch(&[
        "azure",
        "render",
        "-c",
        file.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    (out, o)
}

/// Every rendered file: relative path → text.
pub fn rendered(out: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, files);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                files.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(out, out, &mut files);
    files
}

/// The literal block that follows `path: PATH` in a cloud-init file.
pub fn written_file(cloud_init: &str, path: &str) -> String {
    let start = cloud_init
        .find(&format!("- path: {path}\n"))
        .unwrap_or_else(|| panic!("{path} is not written"));
    let rest = &cloud_init[start..];
    let body = &rest[rest.find("content: |\n").unwrap() + "content: |\n".len()..];
    let mut out = String::new();
    for line in body.lines() {
        if line.is_empty() {
            out.push('\n');
        } else if let Some(l) = line.strip_prefix("      ") {
            out.push_str(l);
            out.push('\n');
        } else {
            break;
        }
    }
    out
}

/// Runs a rendered script with only the fake `az` in reach; returns its output and
/// the calls it made.
pub fn run_with_fake_az(
    tmp: &Temp,
    script: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &str,
) -> (Output, Vec<Vec<String>>) {
    let bin = tmp.0.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    az_cli::fake_az(&bin);
    let home = tmp.0.join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(
        home.join(".ssh/id_ed25519.pub"),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHopwatchTestKeyOnlyForTheFakeAz test@hopwatch\n",
    )
    .unwrap();
    let log = tmp.0.join("az.log");
    let _ = std::fs::remove_file(&log);
    let mut cmd = Command::new("/bin/bash");
    cmd.arg(script)
        .args(args)
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("HOME", &home)
        .env("FAKE_AZ_LOG", &log)
        .env("FAKE_RS_IPS", "10.10.1.5 10.10.1.4")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut i = child.stdin.take().unwrap();
        let _ = i.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().unwrap();
    let calls = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('\t').map(String::from).collect())
        .collect();
    (out, calls)
}
