//! The built-in worker: runs the `sleep` workflow so a newcomer can watch
//! maintenance mode wait on real work. Other workflows wait for an external worker
//! to report over the API.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use drydock_engine::ExecutionStatus;

use crate::error::{Error, Result};
use crate::manager::{Manager, blocking};
use crate::timestamp;

/// Longest sleep the built-in workflow accepts (a day).
const MAX_SECONDS: f64 = 86_400.0;
const DEFAULT_SECONDS: f64 = 10.0;

/// Run until the manager's queue closes (the server shutting down).
pub async fn run(manager: Arc<Manager>, mut queue: mpsc::UnboundedReceiver<String>) {
    while let Some(id) = queue.recv().await {
        tokio::spawn(sleep_workflow(manager.clone(), id));
    }
}

/// `seconds` as a number or a numeric string (the real CLI sends `-p seconds=2` as "2").
fn seconds_param(params: &serde_json::Value) -> f64 {
    let v = params.get("seconds");
    let secs = v
        .and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())))
        .unwrap_or(DEFAULT_SECONDS);
    if secs.is_finite() { secs.clamp(0.0, MAX_SECONDS) } else { DEFAULT_SECONDS }
}

async fn sleep_workflow(manager: Arc<Manager>, id: String) {
    let woken = manager.watch_execution(&id);
    if let Err(e) = drive(manager.clone(), &id, &woken).await {
        tracing::warn!(execution = %id, error = %e, "sleep workflow stopped");
    }
    manager.unwatch_execution(&id);
}

/// Run one manager call on a blocking thread (it writes through to the store). While
/// the database cannot be reached, the call is tried again each second: a sleep
/// that lost its database for a while still ends.
async fn call<T: Send + 'static>(
    manager: &Arc<Manager>,
    f: impl Fn(&Manager) -> Result<T> + Send + Sync + 'static,
) -> Result<T> {
    let f = Arc::new(f);
    let mut warned = false;
    loop {
        let (manager, f) = (manager.clone(), f.clone());
        match blocking(move || f(&manager)).await {
            Err(Error::Unavailable(why)) => {
                if !std::mem::replace(&mut warned, true) {
                    tracing::warn!(%why, "the built-in worker waits for the database");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            other => return other,
        }
    }
}

async fn drive(manager: Arc<Manager>, id: &str, woken: &Notify) -> anyhow::Result<()> {
    let owned = id.to_string();
    let mut exec = call(&manager, move |m| m.execution(&owned)).await?;
    if matches!(exec.status, ExecutionStatus::Pending | ExecutionStatus::Queued | ExecutionStatus::Scheduled) {
        let owned = id.to_string();
        exec = call(&manager, move |m| m.set_execution_status(&owned, ExecutionStatus::Started, None, None)).await?;
    }
    let total = seconds_param(&exec.parameters);
    // After a restart, a started sleep continues where it was, not from zero.
    let elapsed = exec.started_at.as_deref().map_or(0.0, timestamp::seconds_since);
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64((total - elapsed).max(0.0));
    loop {
        match exec.status {
            ExecutionStatus::Started => {}
            ExecutionStatus::Cancelling | ExecutionStatus::ForceCancelling | ExecutionStatus::KillCancelling => {
                let owned = id.to_string();
                call(&manager, move |m| m.set_execution_status(&owned, ExecutionStatus::Cancelled, None, None)).await?;
                return Ok(());
            }
            _ => return Ok(()), // ended elsewhere (cancelled, killed, reported by hand)
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                let owned = id.to_string();
                match call(&manager, move |m| m.set_execution_status(&owned, ExecutionStatus::Terminated, None, None)).await {
                    Ok(_) => return Ok(()),
                    // Someone moved it meanwhile (a cancel): look again.
                    Err(Error::IllegalTransition(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            // This execution changed (a cancel, a report by hand): look at it again.
            _ = woken.notified() => {}
        }
        let owned = id.to_string();
        exec = call(&manager, move |m| m.execution(&owned)).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::seconds_param;
    use serde_json::json;

    #[test]
    fn seconds_as_number_or_string() {
        assert_eq!(seconds_param(&json!({"seconds": 2})), 2.0);
        assert_eq!(seconds_param(&json!({"seconds": "1.5"})), 1.5);
        assert_eq!(seconds_param(&json!({})), 10.0);
        assert_eq!(seconds_param(&json!({"seconds": -3})), 0.0);
        assert_eq!(seconds_param(&json!({"seconds": "soon"})), 10.0);
    }
}
