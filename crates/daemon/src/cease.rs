//! The Cease a BGP role sends when it stops.

use std::time::Duration;

use hopwatch_bgp::Notification;
use hopwatch_bgp_driver::Speaker;

/// Sends Cease / Administrative Shutdown with `why` to every peer and waits a
/// moment for it to leave.
pub async fn shutdown(speaker: &Speaker, why: &str) {
    let n: Notification = hopwatch_bgp::session::shutdown_notification(why);
    speaker.shutdown(n, Duration::from_secs(2)).await;
}
