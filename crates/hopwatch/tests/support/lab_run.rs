//! Runs `hopwatch lab` as a user would, bounded in time, for the lab tests: its
//! output kept in `dir`, then the checks every lab run must pass (every child it
//! started has exited, it exited 0 and named its report).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::proc::alive;

/// A finished lab run.
pub struct LabRun {
    /// What the lab printed.
    pub stdout: String,
    /// Its stdout and stderr, for failure messages.
    pub context: String,
}

/// Runs `hopwatch lab ARGS --out DIR` (DIR emptied first), at most `limit`: then
/// SIGTERM (the lab tears its children down), and SIGKILL 8 s later. Asserts that
/// every PID of `DIR/pids.txt` has exited, that the lab exited 0 in time and that it
/// printed the report's path.
pub fn run(dir: &Path, args: &[&str], limit: Duration) -> LabRun {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("the lab folder can be made");
    let out = std::fs::File::create(dir.join("lab.stdout")).expect("lab.stdout");
    let err = std::fs::File::create(dir.join("lab.stderr")).expect("lab.stderr");
    let mut lab = Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .arg("lab")
        .args(args)
        .arg("--out")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("hopwatch lab starts");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = lab.try_wait().expect("waiting for the lab") {
            break Some(s);
        }
        if Instant::now() >= deadline {
            let _ = Command::new("kill")
                .args(["-s", "TERM", &lab.id().to_string()])
                .status();
            std::thread::sleep(Duration::from_secs(8));
            let _ = lab.kill();
            let _ = lab.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(dir.join("lab.stdout")).unwrap_or_default();
    let stderr = std::fs::read_to_string(dir.join("lab.stderr")).unwrap_or_default();
    let context = format!("stdout:\n{stdout}\nstderr:\n{stderr}");

    // No child left: every PID the lab wrote has exited.
    let pids = std::fs::read_to_string(dir.join("pids.txt")).unwrap_or_default();
    let pids: Vec<u32> = pids
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(pids.len() >= 5, "pids.txt lists the children\n{context}");
    for pid in &pids {
        assert!(!alive(*pid), "child {pid} is still running\n{context}");
    }

    let status = status.unwrap_or_else(|| panic!("the lab ran over {limit:?}\n{context}"));
    assert!(status.success(), "the lab exited with {status}\n{context}");
    assert!(stdout.contains("report.html"), "{context}");
    LabRun { stdout, context }
}
