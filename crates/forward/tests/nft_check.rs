//! The rendered nftables scripts are accepted by the kernel: `nft --check` (which
//! compiles the script and sends the transaction without committing it) in a
//! network namespace of its own (`unshare --net`), so the host's ruleset is never
//! touched. Needs root, as the namespace tests do; `HOPWATCH_INTEROP=skip` skips it.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use hopwatch_forward::layout::{Layout, Settings};
use hopwatch_forward::nft;

fn check(script: &str) {
    let mut child = Command::new("unshare")
        .args(["--net", "--", "nft", "--check", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare and nft (util-linux, nftables)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nft refused the script:\n{}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_kernel_accepts_the_watchers_and_the_backends_rulesets() {
    if std::env::var("HOPWATCH_INTEROP").as_deref() == Ok("skip") {
        eprintln!("nft_check: skipped (HOPWATCH_INTEROP=skip)");
        return;
    }
    assert!(
        nix::unistd::geteuid().is_root(),
        "nft_check needs root (a network namespace); HOPWATCH_INTEROP=skip skips it"
    );
    let settings = Settings::new(Ipv4Addr::new(10, 10, 0, 7));
    let vip = "100.64.0.1/32".parse().unwrap();
    let vip2 = "100.64.0.2/32".parse().unwrap();
    let (ws1, ws2, ws3) = (
        Ipv4Addr::new(10, 10, 0, 4),
        Ipv4Addr::new(10, 10, 0, 5),
        Ipv4Addr::new(10, 10, 0, 6),
    );
    let layout = Layout::new(settings, &[(vip, vec![ws1, ws2]), (vip2, vec![ws2, ws3])]);
    let watcher = nft::watcher_script(&layout);
    check(&watcher);
    // Applied twice (a restart): the second run adds nothing that clashes.
    check(&format!("{watcher}{watcher}"));
    check(&nft::backend_script(
        4789,
        &[Ipv4Addr::new(10, 10, 0, 7)],
        &[vip, vip2],
        1410,
    ));
    check(&nft::backend_script(4789, &[], &[vip], 1410));
}
