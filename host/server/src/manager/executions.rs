//! Executions: create (admitted), status changes (a worker's report, a cancel), reads.

use drydock_engine::{CancelKind, ExecutionStatus, MaintenanceState};
use std::sync::Arc;

use drydock_gate::Admission;
use tokio::sync::Notify;
use serde_json::Value;

use super::access::{Actor, Owned, changeable, seen};
use super::maintenance::flip;
use super::{Manager, NeedsExclusive, not_found};
use crate::error::{Error, Result};
use crate::store::{Event, Execution, Lock, NewEvent, Page, Scope, Visibility};

fn owned(e: &Execution) -> Owned<'_> {
    Owned { kind: "Execution", id: &e.id, tenant: &e.tenant_name, visibility: e.visibility, created_by: &e.created_by }
}
use crate::timestamp;

/// The built-in workflow run by the host's own worker.
pub const SLEEP_WORKFLOW: &str = "sleep";

/// A new execution, as parsed from the request.
#[derive(Debug, Clone)]
pub struct NewExecution {
    pub deployment_id: Option<String>,
    pub workflow_id: String,
    pub parameters: Value,
    pub is_system_workflow: bool,
    pub created_by: String,
    pub tenant_name: String,
}

/// Apply a status change to an execution at `now`: timestamps, and the event to
/// write with it.
pub(super) fn apply_status(exec: &mut Execution, to: ExecutionStatus, error: Option<&str>, now: &str) -> NewEvent {
    if to == ExecutionStatus::Started && exec.started_at.is_none() {
        exec.started_at = Some(now.to_string());
    }
    if to.is_terminal() {
        exec.ended_at = Some(now.to_string());
    }
    if let Some(err) = error {
        exec.error = err.to_string();
    }
    let message = match to {
        ExecutionStatus::Started => format!("Starting '{}' workflow execution", exec.workflow_id),
        ExecutionStatus::Terminated => format!("'{}' workflow execution succeeded", exec.workflow_id),
        ExecutionStatus::Failed => format!("'{}' workflow execution failed: {}", exec.workflow_id, exec.error),
        ExecutionStatus::Cancelled => format!("'{}' workflow execution cancelled", exec.workflow_id),
        other => format!("'{}' workflow execution is {}", exec.workflow_id, other),
    };
    exec.status = to;
    NewEvent { timestamp: now.to_string(), event_type: format!("workflow_{}", to.as_str()), message }
}

impl Manager {
    /// Create an execution, under the race-free rule, of a deployment `actor` may
    /// change (it takes the deployment's visibility).
    pub fn create_execution(&self, new: NewExecution, actor: Actor<'_>, admission: Option<&dyn Admission>) -> Result<Execution> {
        let mut exec = Execution {
            // Time-ordered (v7): executions made together share the id index's
            // pages (and their events' index's), so a batch commits fewer pages
            // than with random ids. Still a UUID to Cloudify's clients.
            id: uuid::Uuid::now_v7().to_string(),
            deployment_id: new.deployment_id,
            workflow_id: new.workflow_id,
            status: ExecutionStatus::Pending,
            parameters: new.parameters,
            error: String::new(),
            is_system_workflow: new.is_system_workflow,
            created_at: timestamp::now(),
            started_at: None,
            ended_at: None,
            created_by: new.created_by,
            tenant_name: new.tenant_name,
            visibility: Visibility::Tenant,
            vouched: false,
        };
        let event = NewEvent {
            timestamp: exec.created_at.clone(),
            event_type: "workflow_queued".into(),
            message: format!("'{}' workflow execution created", exec.workflow_id),
        };
        let (exec, _) = self.change(admission, Lock::Shared, |tx| {
            if let Some(dep) = &exec.deployment_id {
                let d = tx.deployment(dep)?.ok_or_else(|| not_found("Deployment", dep))?;
                changeable(actor.scope(), &super::deployments::owned(&d))?;
                exec.visibility = d.visibility;
            }
            tx.insert_execution(&exec, &event)?;
            Ok(exec.clone())
        })?;
        if exec.workflow_id == SLEEP_WORKFLOW {
            let _ = self.worker_tx.send(exec.id.clone());
        }
        Ok(exec)
    }

    /// Move an execution to `to` (a worker's report), if Cloudify's rules allow it.
    pub fn set_execution_status(
        &self,
        id: &str,
        to: ExecutionStatus,
        error: Option<&str>,
        actor: Actor<'_>,
        admission: Option<&dyn Admission>,
    ) -> Result<Execution> {
        self.transition(
            id,
            actor,
            |cur| {
                if cur.can_become(to) {
                    Ok(to)
                } else {
                    Err(Error::IllegalTransition(format!("Cannot change the status of execution {id} from {cur} to {to}")))
                }
            },
            error,
            admission,
        )
    }

    /// Cancel, force-cancel or kill.
    pub fn cancel_execution(&self, id: &str, kind: CancelKind, actor: Actor<'_>, admission: Option<&dyn Admission>) -> Result<Execution> {
        self.transition(
            id,
            actor,
            |cur| {
                cur.after_cancel(kind)
                    .ok_or_else(|| Error::IllegalTransition(format!("Cannot cancel execution {id}: it is already {cur}")))
            },
            None,
            admission,
        )
    }

    fn transition(
        &self,
        id: &str,
        actor: Actor<'_>,
        target: impl Fn(ExecutionStatus) -> Result<ExecutionStatus>,
        error: Option<&str>,
        admission: Option<&dyn Admission>,
    ) -> Result<Execution> {
        // While activating, the change may be the flip: it needs the lock alone.
        let lock = if self.state() == MaintenanceState::Activating { Lock::Exclusive } else { Lock::Shared };
        let (exec, _) = self.change(admission, lock, |tx| {
            let mut exec = tx.execution(id)?.ok_or_else(|| not_found("Execution", id))?;
            changeable(actor.scope(), &owned(&exec))?;
            let to = target(exec.status)?;
            if to == exec.status {
                return Ok(exec);
            }
            let state = tx.state();
            if state.maintenance.as_ref().is_some_and(|m| m.status == MaintenanceState::Activating) && !tx.exclusive() {
                return Err(NeedsExclusive::error());
            }
            // The eager flip, decided against the counts as they will be after this
            // change, in the transaction that makes the change — on whichever host
            // runs it, holding the lock alone, so no other writer's commit is missing.
            let total = state.counts.total();
            let others = if exec.status.is_terminal() { total } else { total.saturating_sub(1) };
            let drained = if to.is_terminal() { others == 0 } else { total == 0 };
            let now = timestamp::now();
            let from = exec.status;
            let event = apply_status(&mut exec, to, error, &now);
            // Only the worker's or a sys_admin's word that it runs makes it a parent
            // of child work; a user's own report does not (nor keeps one it had).
            if to == ExecutionStatus::Started {
                exec.vouched = actor.vouches();
            }
            flip(tx, drained, &now, &format!("the last unfinished execution ended ({id}, {to})"))?;
            tx.update_execution(&exec, from, &event)?;
            Ok(exec)
        })?;
        if let Some(waker) = self.wakers.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
            waker.notify_one();
        }
        Ok(exec)
    }

    /// Be woken when execution `id` changes (a cancel, a report): the built-in
    /// worker sleeps on this and on its own deadline. Call [`Manager::unwatch_execution`]
    /// when done.
    pub fn watch_execution(&self, id: &str) -> Arc<Notify> {
        let mut wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
        wakers.entry(id.to_string()).or_default().clone()
    }

    pub fn unwatch_execution(&self, id: &str) {
        self.wakers.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    pub fn execution(&self, id: &str, scope: Option<&Scope>) -> Result<Execution> {
        let e = self.store.execution(id)?.ok_or_else(|| not_found("Execution", id))?;
        seen(scope, &owned(&e))?;
        Ok(e)
    }

    pub fn executions(
        &self,
        scope: Option<&Scope>,
        deployment_id: Option<&str>,
        statuses: &[ExecutionStatus],
        page: &Page,
    ) -> Result<(Vec<Execution>, u64)> {
        Ok(self.store.executions(scope, deployment_id, statuses, page)?)
    }

    pub fn events(&self, execution_id: &str, page: &Page) -> Result<(Vec<Event>, u64)> {
        Ok(self.store.events(execution_id, page)?)
    }
}
