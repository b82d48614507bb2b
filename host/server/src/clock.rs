//! The manager's clock: does what is due (a window's start or end, a passed
//! deadline), and while maintenance has an announced end, publishes the seconds left
//! to it once a second (what `Retry-After` says). Between those it sleeps until the
//! next thing is due or the state moves: an idle server is idle.

use std::sync::Arc;
use std::time::Duration;

use crate::manager::{Manager, blocking};

/// How long to sleep when nothing is due (the state moving wakes it sooner).
const IDLE: Duration = Duration::from_secs(3600);

pub async fn run(manager: Arc<Manager>) {
    loop {
        // Made before looking, so a change while looking still wakes the sleep below.
        let changed = manager.changed();
        let m = manager.clone();
        let next = match blocking(move || m.run_clock()).await {
            Ok(next) => next.unwrap_or(IDLE),
            Err(e) => {
                tracing::warn!(error = %e, "the maintenance clock could not act; retrying in a second");
                Duration::from_secs(1)
            }
        };
        // Counting down to an announced end: wake each second to publish it.
        let counting = manager.seen().maintenance.as_ref().is_some_and(|m| m.until.is_some());
        let next = if counting { next.min(Duration::from_secs(1)) } else { next };
        tokio::select! {
            _ = tokio::time::sleep(next) => {}
            _ = changed => {}
        }
        manager.tick();
    }
}
