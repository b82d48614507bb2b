//! The manager's state: maintenance, executions and deployments, and the rule that
//! keeps admission and activation race-free.
//!
//! Maintenance state and the set of unfinished executions live behind one lock,
//! written through to SQLite inside the same critical section. Every change bumps a
//! version and publishes an immutable snapshot that the gate reads without locking.
//! A write that was admitted under snapshot `v` re-checks under the lock: if the state
//! moved since, the request is decided again under the current state before anything
//! is written. Hence no execution is created after activation began, and `activated`
//! is recorded only when the unfinished set is empty.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::error::{Error, Result};
use drydock_engine::{CancelKind, ExecutionStatus};
use drydock_gate::{Decision, ExecutionCounts, Published, Snapshot, StateSource};
use drydock_engine::MaintenanceState;
use crate::store::{Deployment, Execution, MaintenanceRecord, Page, Store, Tx, User};
use crate::timestamp;

/// The built-in workflow run by the host's own worker.
pub const SLEEP_WORKFLOW: &str = "sleep";

/// A summary of one unfinished execution, enough for `remaining_executions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remaining {
    pub id: String,
    /// For ordering: people read the list oldest first.
    pub created_at: String,
    pub status: ExecutionStatus,
    pub deployment_id: Option<String>,
    pub workflow_id: String,
}

/// The maintenance state as the API shows it.
#[derive(Debug, Clone)]
pub struct MaintenanceView {
    pub record: Option<MaintenanceRecord>,
    /// Present only while activating.
    pub remaining: Option<Vec<Remaining>>,
}

impl MaintenanceView {
    pub fn state(&self) -> MaintenanceState {
        self.record.as_ref().map_or(MaintenanceState::Deactivated, |r| r.status)
    }
}

pub use drydock_gate::Admission;

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

struct Inner {
    store: Store,
    maintenance: Option<MaintenanceRecord>,
    unfinished: BTreeMap<String, Remaining>,
    version: u64,
}

pub struct Manager {
    inner: Mutex<Inner>,
    published: ArcSwap<Published>,
    /// Bumped with every published change; lets waiters sleep instead of polling.
    changes: watch::Sender<u64>,
    /// New `sleep` executions for the built-in worker.
    worker_tx: mpsc::UnboundedSender<String>,
}

fn remaining_of(e: &Execution) -> Remaining {
    Remaining {
        id: e.id.clone(),
        created_at: e.created_at.clone(),
        status: e.status,
        deployment_id: e.deployment_id.clone(),
        workflow_id: e.workflow_id.clone(),
    }
}

fn counts(unfinished: &BTreeMap<String, Remaining>) -> ExecutionCounts {
    let mut by: BTreeMap<&'static str, (ExecutionStatus, u32)> = BTreeMap::new();
    for r in unfinished.values() {
        by.entry(r.status.as_str()).or_insert((r.status, 0)).1 += 1;
    }
    ExecutionCounts { by_status: by.into_values().collect() }
}

impl Inner {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            state: self.maintenance.as_ref().map_or(MaintenanceState::Deactivated, |m| m.status),
            executions: counts(&self.unfinished),
        }
    }

    fn view(&self) -> MaintenanceView {
        let remaining = (self.maintenance.as_ref().map(|m| m.status) == Some(MaintenanceState::Activating))
            .then(|| {
                let mut list: Vec<Remaining> = self.unfinished.values().cloned().collect();
                list.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
                list
            });
        MaintenanceView { record: self.maintenance.clone(), remaining }
    }
}

/// The eager transition: activating → activated the moment nothing is unfinished.
/// Returns the record to write, if the state flips.
/// `now` is the instant of the change that drained the set: the last execution's
/// `ended_at` and `activated_at` are one clock read.
fn flip_if_drained(
    maintenance: Option<&MaintenanceRecord>,
    unfinished: &BTreeMap<String, Remaining>,
    now: &str,
) -> Option<MaintenanceRecord> {
    match maintenance {
        Some(m) if m.status == MaintenanceState::Activating && unfinished.is_empty() => Some(MaintenanceRecord {
            status: MaintenanceState::Activated,
            activated_at: Some(now.to_string()),
            ..m.clone()
        }),
        _ => None,
    }
}

/// Apply a status change to an execution inside `tx`, at `now`: timestamps, event, row.
fn write_status(tx: &Tx<'_>, exec: &mut Execution, to: ExecutionStatus, error: Option<&str>, now: &str) -> anyhow::Result<()> {
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
    tx.update_execution(exec)?;
    tx.insert_event(&exec.id, now, &format!("workflow_{}", to.as_str()), &message)?;
    Ok(())
}

impl Manager {
    /// Load the state from the store. Returns the manager and the receiving end of
    /// the built-in worker's queue (already holding every unfinished `sleep`).
    pub fn open(mut store: Store) -> anyhow::Result<(Arc<Manager>, mpsc::UnboundedReceiver<String>)> {
        let (maintenance, unfinished) = store.transaction(|tx| {
            let m = tx.maintenance()?;
            let u = tx.unfinished_executions()?;
            Ok((m, u))
        })?;
        let (worker_tx, worker_rx) = mpsc::unbounded_channel();
        for e in &unfinished {
            if e.workflow_id == SLEEP_WORKFLOW {
                let _ = worker_tx.send(e.id.clone());
            }
        }
        let mut inner = Inner {
            store,
            maintenance,
            unfinished: unfinished.iter().map(|e| (e.id.clone(), remaining_of(e))).collect(),
            version: 1,
        };
        // A restart while activating with nothing left (say the last execution ended
        // just before a crash) must not leave a stale `activating`.
        if let Some(rec) = flip_if_drained(inner.maintenance.as_ref(), &inner.unfinished, &timestamp::now()) {
            inner.store.transaction(|tx| tx.set_maintenance(Some(&rec)))?;
            inner.maintenance = Some(rec);
        }
        let published = ArcSwap::from_pointee(Published { version: inner.version, snapshot: inner.snapshot() });
        let (changes, _) = watch::channel(inner.version);
        let manager = Manager { inner: Mutex::new(inner), published, changes, worker_tx };
        Ok((Arc::new(manager), worker_rx))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave SQLite half-written (the
        // transaction rolls back), and memory mirrors are only set after commit.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publish the state after a committed change. Called with the lock held, so
    /// versions are published in order.
    fn publish(&self, inner: &mut Inner) {
        inner.version += 1;
        self.published.store(Arc::new(Published { version: inner.version, snapshot: inner.snapshot() }));
        self.changes.send_replace(inner.version);
    }

    /// The current admission snapshot: lock-free.
    pub fn published(&self) -> Arc<Published> {
        self.published.load_full()
    }

    /// The maintenance state right now (lock-free).
    pub fn state(&self) -> MaintenanceState {
        self.published.load().snapshot.state
    }

    /// Subscribe to state changes (each value is a new version).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Re-check an admitted write under the lock (see the module doc).
    fn check_admission(inner: &Inner, admission: Option<&dyn Admission>) -> Result<()> {
        let Some(adm) = admission else { return Ok(()) };
        if adm.version() == inner.version {
            return Ok(());
        }
        match adm.decide_again(&inner.snapshot()) {
            Decision::Allow => Ok(()),
            Decision::Deny(d) => Err(Error::Denied(d)),
        }
    }

    // ---- maintenance ----

    pub fn maintenance(&self) -> MaintenanceView {
        self.lock().view()
    }

    /// Request activation. `Err(NotModified)` when already activating or activated.
    pub fn activate(&self, username: &str) -> Result<MaintenanceView> {
        let mut inner = self.lock();
        if inner.maintenance.is_some() {
            return Err(Error::NotModified);
        }
        let now = timestamp::now();
        let drained = inner.unfinished.is_empty();
        let rec = MaintenanceRecord {
            status: if drained { MaintenanceState::Activated } else { MaintenanceState::Activating },
            activated_at: drained.then(|| now.clone()),
            activation_requested_at: now,
            requested_by: username.to_string(),
        };
        inner.store.transaction(|tx| tx.set_maintenance(Some(&rec)))?;
        inner.maintenance = Some(rec);
        self.publish(&mut inner);
        Ok(inner.view())
    }

    /// Deactivate. Returns the previous record with status `deactivated`;
    /// `Err(NotModified)` when already deactivated.
    pub fn deactivate(&self) -> Result<MaintenanceView> {
        let mut inner = self.lock();
        let Some(prev) = inner.maintenance.clone() else {
            return Err(Error::NotModified);
        };
        inner.store.transaction(|tx| tx.set_maintenance(None))?;
        inner.maintenance = None;
        self.publish(&mut inner);
        let mut view = MaintenanceView { record: Some(prev), remaining: None };
        if let Some(r) = view.record.as_mut() {
            r.status = MaintenanceState::Deactivated;
        }
        Ok(view)
    }

    // ---- executions ----

    /// Create an execution, re-checking its admission under the lock.
    pub fn create_execution(&self, new: NewExecution, admission: Option<&dyn Admission>) -> Result<Execution> {
        let mut inner = self.lock();
        Self::check_admission(&inner, admission)?;
        if let Some(dep) = &new.deployment_id
            && inner.store.read().deployment(dep)?.is_none()
        {
            return Err(Error::NotFound(format!("Requested `Deployment` with ID `{dep}` was not found")));
        }
        let exec = Execution {
            id: uuid::Uuid::new_v4().to_string(),
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
        };
        inner.store.transaction(|tx| {
            tx.insert_execution(&exec)?;
            tx.insert_event(
                &exec.id,
                &exec.created_at,
                "workflow_queued",
                &format!("'{}' workflow execution created", exec.workflow_id),
            )
        })?;
        inner.unfinished.insert(exec.id.clone(), remaining_of(&exec));
        self.publish(&mut inner);
        drop(inner);
        if exec.workflow_id == SLEEP_WORKFLOW {
            let _ = self.worker_tx.send(exec.id.clone());
        }
        Ok(exec)
    }

    /// Move an execution to `to` (a worker's report), if the lifecycle allows it.
    pub fn set_execution_status(&self, id: &str, to: ExecutionStatus, error: Option<&str>) -> Result<Execution> {
        self.transition(id, |cur| {
            if cur.can_become(to) {
                Ok(to)
            } else {
                Err(Error::IllegalTransition(format!(
                    "Cannot change the status of execution {id} from {cur} to {to}"
                )))
            }
        }, error)
    }

    /// Cancel, force-cancel or kill.
    pub fn cancel_execution(&self, id: &str, kind: CancelKind) -> Result<Execution> {
        self.transition(id, |cur| {
            cur.after_cancel(kind).ok_or_else(|| {
                Error::IllegalTransition(format!(
                    "Cannot cancel execution {id}: it is already {cur}"
                ))
            })
        }, None)
    }

    fn transition(
        &self,
        id: &str,
        target: impl FnOnce(ExecutionStatus) -> Result<ExecutionStatus>,
        error: Option<&str>,
    ) -> Result<Execution> {
        let mut inner = self.lock();
        let mut exec = inner
            .store
            .read()
            .execution(id)?
            .ok_or_else(|| Error::NotFound(format!("Requested `Execution` with ID `{id}` was not found")))?;
        let to = target(exec.status)?;
        if to == exec.status {
            return Ok(exec);
        }
        let mut unfinished = inner.unfinished.clone();
        if to.is_terminal() {
            unfinished.remove(id);
        } else if let Some(r) = unfinished.get_mut(id) {
            r.status = to;
        }
        // Decide the eager flip against the set as it will be after this change,
        // and write both in one transaction.
        let now = timestamp::now();
        let flip = flip_if_drained(inner.maintenance.as_ref(), &unfinished, &now);
        inner.store.transaction(|tx| {
            write_status(tx, &mut exec, to, error, &now)?;
            if let Some(rec) = &flip {
                tx.set_maintenance(Some(rec))?;
            }
            Ok(())
        })?;
        inner.unfinished = unfinished;
        if let Some(rec) = flip {
            inner.maintenance = Some(rec);
        }
        self.publish(&mut inner);
        Ok(exec)
    }

    pub fn execution(&self, id: &str) -> Result<Execution> {
        self.lock()
            .store
            .read()
            .execution(id)?
            .ok_or_else(|| Error::NotFound(format!("Requested `Execution` with ID `{id}` was not found")))
    }

    pub fn executions(
        &self,
        deployment_id: Option<&str>,
        statuses: &[ExecutionStatus],
        page: &Page,
    ) -> Result<(Vec<Execution>, u64)> {
        Ok(self.lock().store.read().executions(deployment_id, statuses, page)?)
    }

    pub fn events(&self, execution_id: &str, page: &Page) -> Result<(Vec<crate::store::Event>, u64)> {
        Ok(self.lock().store.read().events(execution_id, page)?)
    }

    // ---- deployments ----

    pub fn create_deployment(&self, d: Deployment, admission: Option<&dyn Admission>) -> Result<Deployment> {
        let mut inner = self.lock();
        Self::check_admission(&inner, admission)?;
        if inner.store.read().deployment(&d.id)?.is_some() {
            return Err(Error::Conflict(format!("deployment with id `{}` already exists", d.id)));
        }
        inner.store.transaction(|tx| tx.insert_deployment(&d))?;
        Ok(d)
    }

    pub fn deployment(&self, id: &str) -> Result<Deployment> {
        self.lock()
            .store
            .read()
            .deployment(id)?
            .ok_or_else(|| Error::NotFound(format!("Requested `Deployment` with ID `{id}` was not found")))
    }

    pub fn deployments(&self, page: &Page) -> Result<(Vec<Deployment>, u64)> {
        Ok(self.lock().store.read().deployments(page)?)
    }

    /// Delete a deployment that has no unfinished execution.
    pub fn delete_deployment(&self, id: &str) -> Result<Deployment> {
        let mut inner = self.lock();
        let d = inner
            .store
            .read()
            .deployment(id)?
            .ok_or_else(|| Error::NotFound(format!("Requested `Deployment` with ID `{id}` was not found")))?;
        if inner.unfinished.values().any(|r| r.deployment_id.as_deref() == Some(id)) {
            return Err(Error::Conflict(format!(
                "Can't delete deployment {id} - There are running or queued executions for this deployment"
            )));
        }
        inner.store.transaction(|tx| tx.delete_deployment(id).map(|_| ()))?;
        Ok(d)
    }

    // ---- users ----

    pub fn user(&self, username: &str) -> Result<Option<User>> {
        Ok(self.lock().store.read().user(username)?)
    }

    pub fn users(&self) -> Result<Vec<User>> {
        Ok(self.lock().store.read().users()?)
    }

    pub fn create_user(&self, user: User) -> Result<User> {
        let mut inner = self.lock();
        if inner.store.read().user(&user.username)?.is_some() {
            return Err(Error::Conflict(format!("user `{}` already exists", user.username)));
        }
        inner.store.transaction(|tx| tx.insert_user(&user))?;
        Ok(user)
    }

    /// Run a closure against the store under the lock (for modules that own their
    /// own tables, such as the policy store).
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> anyhow::Result<T>) -> Result<T> {
        Ok(f(&mut self.lock().store)?)
    }
}

impl StateSource for Manager {
    fn current(&self) -> Arc<Published> {
        self.published()
    }
}
