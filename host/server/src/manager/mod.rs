//! The manager's state: maintenance, executions and deployments, and the rule that
//! keeps admission and activation race-free.
//!
//! Maintenance state and the set of unfinished executions live behind one lock,
//! written through to the store inside the same critical section. Every change bumps
//! a version and publishes an immutable snapshot that the gate reads without
//! locking.
//!
//! The race-free rule, stated once ([`Manager::admit`]): a write admitted under state
//! version `v` commits only while the state is still `v`; if it moved, the request
//! is decided again under the current state, and the check repeats. No execution is
//! created once activation began, and `activated` is recorded only when the
//! unfinished set is empty. No policy call ever runs while the lock is held.
//!
//! Every method blocks on storage: call them off the async runtime's worker threads.

mod deployments;
mod executions;
mod maintenance;
#[cfg(test)]
mod tests;
mod users;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use drydock_engine::{Decision, ExecutionCounts, ExecutionStatus, MaintenanceState, Published, Snapshot};
use drydock_gate::{Admission, StateSource};
use tokio::sync::{Notify, mpsc};

use crate::error::{Error, Result};
use crate::store::{MaintenanceRecord, Store};

pub use executions::{NewExecution, SLEEP_WORKFLOW};
pub use maintenance::{MaintenanceView, Remaining};

/// The state the race-free rule needs, behind the manager's one lock.
struct Inner {
    maintenance: Option<MaintenanceRecord>,
    unfinished: BTreeMap<String, Remaining>,
    version: u64,
}

pub struct Manager {
    store: Arc<dyn Store>,
    inner: Mutex<Inner>,
    published: ArcSwap<Published>,
    /// New `sleep` executions for the built-in worker.
    worker_tx: mpsc::UnboundedSender<String>,
    /// Wake-ups for executions the built-in worker sleeps on: it wakes at its own
    /// deadline or when its execution changes, not on every change.
    wakers: Mutex<HashMap<String, Arc<Notify>>>,
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
}

impl Manager {
    /// Load the state from the store. Returns the manager and the receiving end of
    /// the built-in worker's queue (already holding every unfinished `sleep`).
    pub fn open(store: Arc<dyn Store>) -> anyhow::Result<(Arc<Manager>, mpsc::UnboundedReceiver<String>)> {
        let maintenance = store.maintenance()?;
        let unfinished = store.unfinished_executions()?;
        let (worker_tx, worker_rx) = mpsc::unbounded_channel();
        for e in &unfinished {
            if e.workflow_id == SLEEP_WORKFLOW {
                let _ = worker_tx.send(e.id.clone());
            }
        }
        let mut inner = Inner {
            maintenance,
            unfinished: unfinished.iter().map(|e| (e.id.clone(), Remaining::of(e))).collect(),
            version: 1,
        };
        // A restart while activating with nothing left (say the last execution ended
        // just before a crash) must not leave a stale `activating`.
        if let Some(rec) = maintenance::flip(inner.maintenance.as_ref(), inner.unfinished.is_empty(), &crate::timestamp::now()) {
            store.set_maintenance(Some(&rec))?;
            inner.maintenance = Some(rec);
        }
        let published = ArcSwap::from_pointee(Published { version: inner.version, snapshot: inner.snapshot() });
        let manager =
            Manager { store, inner: Mutex::new(inner), published, worker_tx, wakers: Mutex::new(HashMap::new()) };
        Ok((Arc::new(manager), worker_rx))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the store half-written (each
        // store call is one transaction), and the mirrors are only set after commit.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The race-free rule: the lock, held, once the state is the one `admission` was
    /// decided under. If the state moved, the request is decided again under the
    /// current published state — outside the lock — and the check repeats; a denial
    /// is the error. Without an admission (a route outside the gate) it is just the
    /// lock.
    fn admit(&self, admission: Option<&dyn Admission>) -> Result<MutexGuard<'_, Inner>> {
        let Some(admission) = admission else { return Ok(self.lock()) };
        let mut decided_under = admission.version();
        loop {
            let inner = self.lock();
            if inner.version == decided_under {
                return Ok(inner);
            }
            drop(inner);
            // Published under the lock, in version order: this is the newest state
            // or an older one, and an older one only costs another round.
            let now = self.published();
            if let Decision::Deny(denial) = admission.decide_again(&now.snapshot) {
                return Err(Error::Denied(denial));
            }
            decided_under = now.version;
        }
    }

    /// Publish the state after a committed change. Called with the lock held, so
    /// versions are published in order.
    fn publish(&self, inner: &mut Inner) {
        inner.version += 1;
        self.published.store(Arc::new(Published { version: inner.version, snapshot: inner.snapshot() }));
    }

    /// The current admission snapshot: lock-free.
    pub fn published(&self) -> Arc<Published> {
        self.published.load_full()
    }

    /// The maintenance state right now (lock-free).
    pub fn state(&self) -> MaintenanceState {
        self.published.load().snapshot.state
    }

    /// The store, for readers that need nothing of the manager's state.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

/// Run `f` on the blocking pool: a store write's fsync, a password hash or a policy
/// compilation never holds up the runtime's workers (and the requests they serve).
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("a blocking call did not finish: {e}")))?
}

impl StateSource for Manager {
    fn current(&self) -> Arc<Published> {
        self.published()
    }
}

fn not_found(kind: &str, id: &str) -> Error {
    Error::NotFound(format!("Requested `{kind}` with ID `{id}` was not found"))
}
