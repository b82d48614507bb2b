//! The built-in worker: runs the `sleep` workflow so a newcomer can watch
//! maintenance mode wait on real work. Other workflows wait for an external worker
//! to report over the API.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use drydock_engine::ExecutionStatus;

use crate::error::{Error, Result};
use crate::manager::{Actor, Manager, blocking};
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
    let mut exec = call(&manager, move |m| m.execution(&owned, None)).await?;
    if matches!(exec.status, ExecutionStatus::Pending | ExecutionStatus::Queued | ExecutionStatus::Scheduled) {
        let owned = id.to_string();
        exec = call(&manager, move |m| m.set_execution_status(&owned, ExecutionStatus::Started, None, Actor::System, None)).await?;
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
                call(&manager, move |m| m.set_execution_status(&owned, ExecutionStatus::Cancelled, None, Actor::System, None)).await?;
                return Ok(());
            }
            _ => return Ok(()), // ended elsewhere (cancelled, killed, reported by hand)
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                let owned = id.to_string();
                match call(&manager, move |m| m.set_execution_status(&owned, ExecutionStatus::Terminated, None, Actor::System, None)).await {
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
        exec = call(&manager, move |m| m.execution(&owned, None)).await?;
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{run, seconds_param};
    use crate::manager::{Actor, Manager, NewExecution, SLEEP_WORKFLOW};
    use crate::store::NewEvent;
    use drydock_engine::ExecutionStatus;
    use serde_json::json;

    #[test]
    fn seconds_as_number_or_string() {
        assert_eq!(seconds_param(&json!({"seconds": 2})), 2.0);
        assert_eq!(seconds_param(&json!({"seconds": "1.5"})), 1.5);
        assert_eq!(seconds_param(&json!({})), 10.0);
        assert_eq!(seconds_param(&json!({"seconds": -3})), 0.0);
        assert_eq!(seconds_param(&json!({"seconds": "soon"})), 10.0);
    }

    /// A sleep of `TOTAL` seconds started `SLEPT` seconds before the host went down
    /// resumes, when the host is back, with only the rest: it ends about `TOTAL`
    /// seconds after it started — not `TOTAL` seconds after the restart (from zero),
    /// and not at once.
    #[test]
    fn a_started_sleep_resumes_after_a_restart_with_only_the_rest_of_its_time() {
        const TOTAL: i64 = 60;
        const SLEPT: i64 = 56;
        let backend = crate::store::testing::sqlite();
        let store = backend.store.clone();
        // Before the restart: the sleep is created and started (no worker runs here).
        let id = {
            let (manager, _queue) = Manager::open(store.clone()).unwrap();
            let new = NewExecution {
                deployment_id: None,
                workflow_id: SLEEP_WORKFLOW.into(),
                parameters: json!({"seconds": TOTAL}),
                is_system_workflow: false,
                created_by: "admin".into(),
                tenant_name: "default_tenant".into(),
            };
            let id = manager.create_execution(new, Actor::System, None).unwrap().id;
            manager.set_execution_status(&id, ExecutionStatus::Started, None, Actor::System, None).unwrap();
            id
        };
        // It started SLEPT seconds ago: what the database holds after the host was
        // down that long into the sleep.
        let started = Instant::now();
        let started_at = (chrono::Utc::now() - chrono::Duration::seconds(SLEPT)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        store
            .transact(crate::store::Lock::Exclusive, &mut |tx| {
                let mut e = tx.execution(&id)?.expect("the sleep execution");
                e.started_at = Some(started_at.clone());
                let event = NewEvent { timestamp: crate::timestamp::now(), event_type: "test".into(), message: "started earlier".into() };
                tx.update_execution(&e, e.status, &event)?;
                Ok(())
            })
            .unwrap();
        // The restart: a new manager on the same database, and its worker.
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let (manager, queue) = Manager::open(store.clone()).unwrap();
        runtime.spawn(run(manager, queue));
        let rest = Duration::from_secs((TOTAL - SLEPT) as u64);
        let give_up = Duration::from_secs(20);
        let ended = loop {
            let e = store.execution(&id).unwrap().expect("the sleep execution");
            if e.status.is_terminal() {
                break e;
            }
            assert!(
                started.elapsed() < give_up,
                "the resumed sleep had {rest:?} left but was still {} after {give_up:?} (restarted from zero? not resumed?)",
                e.status
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let took = started.elapsed();
        runtime.shutdown_background();
        assert_eq!(ended.status, ExecutionStatus::Terminated, "{ended:?}");
        assert!(took >= rest - Duration::from_secs(1), "the resumed sleep ended after {took:?}, with {rest:?} left: it did not sleep the rest");
        assert_eq!(ended.started_at.as_deref(), Some(started_at.as_str()), "the start was kept");
        let slept = crate::timestamp::parse(ended.ended_at.as_deref().expect("ended_at")).unwrap()
            - crate::timestamp::parse(&started_at).unwrap();
        assert!(
            slept >= chrono::Duration::seconds(TOTAL - 1) && slept <= chrono::Duration::seconds(TOTAL + 20),
            "started to ended: {slept:?}, for a {TOTAL}-second sleep"
        );
    }
}
