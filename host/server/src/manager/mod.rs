//! The manager's state: maintenance, executions and deployments, and the rule that
//! keeps admission and activation race-free.
//!
//! The database is the authority: every admitted write runs in one store
//! transaction that holds the state lock and checks the state's version
//! ([`Manager::change`]). The manager keeps the newest state it has seen — from its
//! own commits, and from other hosts' through [`Manager::observe`] — and publishes
//! it as an immutable snapshot that the gate reads without locking.
//!
//! The race-free rule, stated once: a write admitted under state version `v`
//! commits only while the database's state is still `v`; if it moved, the request
//! is decided again under the state as it is, and the check repeats. No execution
//! is created once activation began, and `activated` is recorded only when nothing
//! is unfinished — on one host or many. No policy call runs inside a transaction.
//!
//! Every method blocks on storage: call them off the async runtime's worker threads.

mod deployments;
mod executions;
mod maintenance;
mod schedule;
#[cfg(test)]
mod tests;
mod users;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use drydock_engine::{Decision, ExecutionCounts, ExecutionStatus, MaintenanceState, Published, Snapshot};
use drydock_gate::{Admission, StateSource};
use tokio::sync::{Notify, mpsc};

use crate::error::{Error, Result};
use crate::store::{ManagerState, Outcome, StateTx, Store};

pub use crate::store::Remaining;
pub use executions::{NewExecution, SLEEP_WORKFLOW};
pub use maintenance::{MaintenanceView, Plan, SYSTEM};
pub use schedule::{DEADLINE, SCHEDULE};

pub struct Manager {
    store: Arc<dyn Store>,
    /// What the gate decides under (lock-free reads).
    published: ArcSwap<Published>,
    /// The newest state seen, whole: what a read answers when the database cannot.
    seen: ArcSwap<ManagerState>,
    /// Orders publications, so an older state never replaces a newer one. Never
    /// held across a store call or a policy call.
    publishing: Mutex<()>,
    /// Told whenever the state moves (the clock re-plans its next wake-up).
    changed: Notify,
    /// Every newer state, for the live event stream (`GET /maintenance/events`).
    events: tokio::sync::broadcast::Sender<Arc<ManagerState>>,
    /// New `sleep` executions for the built-in worker.
    worker_tx: mpsc::UnboundedSender<String>,
    /// Wake-ups for executions the built-in worker sleeps on: it wakes at its own
    /// deadline or when its execution changes, not on every change.
    wakers: Mutex<HashMap<String, Arc<Notify>>>,
}

fn counts(unfinished: &[Remaining]) -> ExecutionCounts {
    let mut by: BTreeMap<&'static str, (ExecutionStatus, u32)> = BTreeMap::new();
    for r in unfinished {
        by.entry(r.status.as_str()).or_insert((r.status, 0)).1 += 1;
    }
    ExecutionCounts { by_status: by.into_values().collect() }
}

/// The snapshot a policy decides on.
/// The snapshot a policy decides on, and its facts generation (see
/// [`Published::facts`]). The facts: `maintenance.reason` and `maintenance.until` as
/// the operator gave them, and `maintenance.retry-after`, the seconds until the
/// announced end (the clock's part: it is published anew each second while there is
/// an end to count down to).
pub fn snapshot(state: &ManagerState) -> (Snapshot, u64) {
    let mut facts = Vec::new();
    let mut generation = 0;
    if let Some(m) = state.maintenance.as_ref() {
        if let Some(reason) = &m.reason {
            facts.push(("maintenance.reason".to_string(), reason.clone()));
        }
        let left = m.until.as_deref().and_then(crate::timestamp::seconds_until).filter(|s| *s >= 1.0);
        if let Some(until) = &m.until {
            facts.push(("maintenance.until".to_string(), until.clone()));
        }
        // Only an announced end is a fact: without one, each policy says what it
        // thinks best (the default policy: a minute).
        if let Some(left) = left {
            let retry = left.ceil() as u64;
            facts.push(("maintenance.retry-after".to_string(), retry.to_string()));
            generation = retry;
        }
    }
    let snapshot = Snapshot {
        state: state.maintenance.as_ref().map_or(MaintenanceState::Deactivated, |m| m.status),
        executions: counts(&state.unfinished),
        facts,
    };
    (snapshot, generation)
}

fn publication(state: &ManagerState) -> Published {
    let (snapshot, facts) = snapshot(state);
    Published { version: state.version, facts, snapshot }
}

impl Manager {
    /// Load the state from the store. Returns the manager and the receiving end of
    /// the built-in worker's queue (already holding every unfinished `sleep`).
    pub fn open(store: Arc<dyn Store>) -> anyhow::Result<(Arc<Manager>, mpsc::UnboundedReceiver<String>)> {
        let state = store.manager_state()?;
        let (worker_tx, worker_rx) = mpsc::unbounded_channel();
        for e in &state.unfinished {
            if e.workflow_id == SLEEP_WORKFLOW {
                let _ = worker_tx.send(e.id.clone());
            }
        }
        let published = ArcSwap::from_pointee(publication(&state));
        let manager = Arc::new(Manager {
            store,
            published,
            seen: ArcSwap::from_pointee(state),
            publishing: Mutex::new(()),
            changed: Notify::new(),
            events: tokio::sync::broadcast::channel(64).0,
            worker_tx,
            wakers: Mutex::new(HashMap::new()),
        });
        // A restart while activating with nothing left (say the last execution ended
        // just before a crash) must not leave a stale `activating`.
        manager.change(None, |tx| {
            let drained = tx.state().unfinished.is_empty();
            maintenance::flip(tx, drained, &crate::timestamp::now(), "nothing was unfinished at start")
        })?;
        Ok((manager, worker_rx))
    }

    /// Run `body` in one state transaction under the race-free rule. With an
    /// admission, the transaction commits only if the state is the version the
    /// request was decided under; if it moved, the request is decided again under
    /// the state as it is now — outside any transaction — and it runs again. A
    /// denial is the error. Without an admission (a route outside the gate, the
    /// server's own work) it just runs. Returns what `body` returned last and the
    /// state after the commit.
    fn change<T>(
        &self,
        admission: Option<&dyn Admission>,
        mut body: impl FnMut(&mut dyn StateTx) -> Result<T>,
    ) -> Result<(T, Arc<ManagerState>)> {
        let mut expected = admission.map(|a| a.version());
        loop {
            let mut out = None;
            let outcome = self.store.transact(expected, &mut |tx| {
                out = Some(body(tx)?);
                Ok(())
            })?;
            match outcome {
                Outcome::Committed(state) => {
                    let state = self.observe(state);
                    let out = out.ok_or_else(|| Error::Internal(anyhow::anyhow!("a state transaction committed without running")))?;
                    return Ok((out, state));
                }
                Outcome::Moved(state) => {
                    let Some(admission) = admission else {
                        return Err(Error::Internal(anyhow::anyhow!("the store answered `moved` to an unconditional write")));
                    };
                    let state = self.observe(state);
                    if let Decision::Deny(denial) = admission.decide_again(&snapshot(&state).0) {
                        return Err(Error::Denied(denial));
                    }
                    expected = Some(state.version);
                }
            }
        }
    }

    /// Take a state read from the database (after this host's commit, or another
    /// host's announced change) and publish it if it is newer than what the gate
    /// decides under. Returns the newest state known.
    pub fn observe(&self, state: ManagerState) -> Arc<ManagerState> {
        let _in_order = self.publishing.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.seen.load_full();
        if state.version <= current.version {
            return if state.version == current.version { current } else { Arc::new(state) };
        }
        let state = Arc::new(state);
        self.published.store(Arc::new(publication(&state)));
        self.seen.store(state.clone());
        self.changed.notify_waiters();
        // Nobody listening is fine.
        let _ = self.events.send(state.clone());
        state
    }

    /// Every state newer than now, as this host learns of it (its own changes and
    /// other hosts'). A slow listener that falls behind is told so (`Lagged`).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<ManagerState>> {
        self.events.subscribe()
    }

    /// Publish the clock's part of the facts anew (the seconds until an announced
    /// end), if it moved. Cheap when nothing changed; the clock calls it each second
    /// while there is an end to count down to.
    pub fn tick(&self) {
        let _in_order = self.publishing.lock().unwrap_or_else(|p| p.into_inner());
        let next = publication(&self.seen.load());
        if next.facts != self.published.load().facts {
            self.published.store(Arc::new(next));
        }
    }

    /// The newest state seen (no database read).
    pub fn seen(&self) -> Arc<ManagerState> {
        self.seen.load_full()
    }

    /// Resolves the next time the state moves (from the moment this is called, even
    /// before it is first polled).
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }

    /// Wake the built-in worker's executions `ids` (they were moved by the manager).
    fn wake(&self, ids: &[String]) {
        let wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            if let Some(w) = wakers.get(id) {
                w.notify_one();
            }
        }
    }

    /// Re-read the state from the database (another host changed it): publish it,
    /// and wake the built-in worker's executions, which may have been cancelled there.
    pub fn refresh(&self) -> Result<()> {
        let state = self.store.manager_state()?;
        let before = self.published().version;
        if self.observe(state).version != before {
            for waker in self.wakers.lock().unwrap_or_else(|p| p.into_inner()).values() {
                waker.notify_one();
            }
        }
        Ok(())
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
