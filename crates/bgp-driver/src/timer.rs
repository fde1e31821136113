//! The one sleep of a loop that drives a sans-IO state machine: until the
//! machine's next deadline (`poll_timeout()`), or forever when it has none.
//!
//! Each peer task sleeps this way on its session, and so do the watcher's loop (its
//! decision engines) and the route server's (its RIBs and programming profile):
//! one helper, so a deadline of `None` means "no timer" everywhere.

/// Sleeps until `deadline`, or forever when it is `None` (select it with the
/// loop's other inputs). Takes tokio's or std's `Instant`.
pub async fn sleep_until(deadline: Option<impl Into<tokio::time::Instant>>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}
