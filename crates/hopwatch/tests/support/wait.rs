//! Bounded polling: every wait in the suite has a deadline, so a broken peer or a
//! broken `hopwatch` fails a test in seconds instead of hanging CI.

use std::time::{Duration, Instant};

/// The longest a test waits for a session or a route to show up.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest a test waits for a route change to propagate.
pub const ROUTE_TIMEOUT: Duration = Duration::from_secs(20);

/// Calls `f` every `interval` until it returns `Some`, or `None` once `timeout` passed.
pub fn poll<T>(
    timeout: Duration,
    interval: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(interval);
    }
}

/// Sleeps a short, fixed time (used only to let trailing messages arrive).
pub fn settle(d: Duration) {
    assert!(
        d <= Duration::from_secs(5),
        "settle is for short pauses only"
    );
    std::thread::sleep(d);
}
