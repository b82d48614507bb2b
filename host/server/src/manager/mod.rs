//! The manager's state: maintenance, executions and deployments, and the rule that
//! keeps admission and activation race-free.
//!
//! The database is the authority: every admitted write runs in one store
//! transaction that holds the state lock and checks the state's version
//! ([`Manager::change`]). The manager keeps the newest state it has seen — from its
//! own commits, and from other hosts' through [`Manager::refresh`] — and publishes
//! it as an immutable snapshot that the gate reads without locking.
//!
//! The race-free rule, stated once: a write admitted under state version `v` (the
//! maintenance row and windows; see [`ManagerState::version`]) runs in a transaction
//! that holds the state lock; if the version there is not `v`, the request is
//! decided again inside that transaction, under the state as it is — one policy
//! call, bounded by its deadline and memory cap, never a retry that reads the state
//! again — and it writes only if allowed. No execution is created once activation
//! began, and `activated` is recorded only when nothing is unfinished, in the
//! transaction that ends the last one (which holds the lock alone) — on one host or
//! many. Counts of unfinished executions are what a policy sees as published; they
//! move with every execution write without moving the version.
//!
//! Every method blocks on storage: call them off the async runtime's worker threads.

mod access;
mod deployments;
mod executions;
mod maintenance;
mod schedule;
mod tenants;
#[cfg(test)]
mod tests;
mod users;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use drydock_engine::{Decision, ExecutionCounts, ExecutionStatus, MaintenanceState, Published, Snapshot};
use drydock_gate::{Admission, StateSource};
use tokio::sync::{Notify, mpsc};

use crate::error::{Error, Result};
use crate::store::{Counts, Lock, ManagerState, StateTx, Store};

pub use access::Actor;
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
    /// Commits of this host's so far (each writer counts its own after it commits),
    /// and how many of them the last state read under `publishing` began after: a
    /// writer whose commit a read already covers publishes nothing more, so 8
    /// writers that commit together cost one read of the state, not 8.
    commits: AtomicU64,
    covered: AtomicU64,
    /// Told whenever the state moves (the clock re-plans its next wake-up).
    changed: Notify,
    /// Every newer state, for the live event stream (`GET /maintenance/events`).
    events: tokio::sync::broadcast::Sender<Arc<ManagerState>>,
    /// Moves with every publication: what the remaining list is cached under.
    publications: AtomicU64,
    /// The remaining executions as last read, and the publication they belong to:
    /// many readers of one state read the list once.
    remaining: Mutex<Option<(u64, usize, Arc<Vec<Remaining>>)>>,
    /// New `sleep` executions for the built-in worker.
    worker_tx: mpsc::UnboundedSender<String>,
    /// Wake-ups for executions the built-in worker sleeps on: it wakes at its own
    /// deadline or when its execution changes, not on every change.
    wakers: Mutex<HashMap<String, Arc<Notify>>>,
}

/// The counts as a policy is asked with them: by status name.
fn counts(counts: &Counts) -> ExecutionCounts {
    let mut by_status: Vec<(ExecutionStatus, u32)> =
        counts.iter().map(|(s, n)| (s, u32::try_from(n).unwrap_or(u32::MAX))).collect();
    by_status.sort_by_key(|(s, _)| s.as_str());
    ExecutionCounts { by_status }
}

/// A write that must hold the state lock alone found it shared: run it again, alone.
#[derive(Debug, thiserror::Error)]
#[error("this write needs the state lock alone")]
pub(crate) struct NeedsExclusive;

impl NeedsExclusive {
    pub(crate) fn error() -> Error {
        Error::Internal(anyhow::Error::new(NeedsExclusive))
    }
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
        executions: counts(&state.counts),
        facts,
    };
    // The counts move without the version: they are part of what the gate's memo
    // tells publications apart by.
    for (status, n) in state.counts.iter() {
        generation = (generation ^ (status as u64) << 56 ^ n).wrapping_mul(0x0100_0000_01b3);
    }
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
        // Once, at start: every unfinished `sleep`.
        for e in store.remaining(usize::MAX)? {
            if e.workflow_id == SLEEP_WORKFLOW {
                let _ = worker_tx.send(e.id);
            }
        }
        let published = ArcSwap::from_pointee(publication(&state));
        let manager = Arc::new(Manager {
            store,
            published,
            seen: ArcSwap::from_pointee(state),
            publishing: Mutex::new(()),
            commits: AtomicU64::new(0),
            covered: AtomicU64::new(0),
            changed: Notify::new(),
            events: tokio::sync::broadcast::channel(64).0,
            publications: AtomicU64::new(0),
            remaining: Mutex::new(None),
            worker_tx,
            wakers: Mutex::new(HashMap::new()),
        });
        // A restart while activating with nothing left (say the last execution ended
        // just before a crash) must not leave a stale `activating`.
        manager.change(None, Lock::Exclusive, |tx| {
            let drained = tx.state().counts.total() == 0;
            maintenance::flip(tx, drained, &crate::timestamp::now(), "nothing was unfinished at start")
        })?;
        Ok((manager, worker_rx))
    }

    /// Run `body` in one state transaction under the race-free rule, holding the
    /// state lock as `lock` says. With an admission decided under another version
    /// than the one the transaction finds, the request is decided again there; a
    /// denial is the error and nothing is written. Without an admission (a route
    /// outside the gate, the server's own work) it just runs. A body that finds it
    /// needs the lock alone (see [`NeedsExclusive`]) runs once more, alone. Returns
    /// what `body` returned and the state published after the commit.
    fn change<T>(
        &self,
        admission: Option<&dyn Admission>,
        lock: Lock,
        mut body: impl FnMut(&mut dyn StateTx) -> Result<T>,
    ) -> Result<(T, Arc<ManagerState>)> {
        let decided = admission.map(|a| a.version());
        let mut lock = lock;
        loop {
            let mut out = None;
            let result = self.store.transact(lock, &mut |tx| {
                if let (Some(admission), Some(version)) = (admission, decided)
                    && tx.state().version != version
                    && let Decision::Deny(denial) = admission.decide_again(&snapshot(tx.state()).0)
                {
                    return Err(Error::Denied(denial));
                }
                out = Some(body(tx)?);
                Ok(())
            });
            match result {
                Err(Error::Internal(e)) if lock == Lock::Shared && e.is::<NeedsExclusive>() => lock = Lock::Exclusive,
                Err(e) => return Err(e),
                Ok(committed) => {
                    let out = out.ok_or_else(|| Error::Internal(anyhow::anyhow!("a state transaction committed without running")))?;
                    return Ok((out, self.publish_after(committed)));
                }
            }
        }
    }

    /// Publish the state after this host's commit. The state is read again, in
    /// order with every other publication, since other writers may have committed
    /// beside this one (the counts are theirs too); if it cannot be read, what the
    /// transaction saw is published if it is newer.
    fn publish_after(&self, committed: ManagerState) -> Arc<ManagerState> {
        let ticket = self.commits.fetch_add(1, Ordering::SeqCst) + 1;
        let _in_order = self.publishing.lock().unwrap_or_else(|p| p.into_inner());
        if self.covered.load(Ordering::SeqCst) >= ticket {
            // A read that began after this commit has published.
            return self.seen.load_full();
        }
        let began = self.commits.load(Ordering::SeqCst);
        match self.read_in_order() {
            Ok(state) => {
                self.covered.store(began, Ordering::SeqCst);
                state
            }
            Err(_) if committed.version > self.seen.load().version => self.publish(committed),
            Err(_) => self.seen.load_full(),
        }
    }

    /// Read the state as the database has it now and publish it if it moved. The
    /// read is made in order with every other publication (the counts move without
    /// the version, so only the order of reads tells which is newer). Returns the
    /// state now.
    pub fn read_and_publish(&self) -> Result<Arc<ManagerState>> {
        let _in_order = self.publishing.lock().unwrap_or_else(|p| p.into_inner());
        self.read_in_order()
    }

    /// `read_and_publish`'s read, `publishing` held by the caller.
    fn read_in_order(&self) -> Result<Arc<ManagerState>> {
        let state = self.store.manager_state()?;
        let seen = self.seen.load_full();
        Ok(if state == *seen { seen } else { self.publish(state) })
    }

    /// Publish `state` (the caller holds `publishing`).
    fn publish(&self, state: ManagerState) -> Arc<ManagerState> {
        let state = Arc::new(state);
        self.published.store(Arc::new(publication(&state)));
        self.seen.store(state.clone());
        self.publications.fetch_add(1, Relaxed);
        self.changed.notify_waiters();
        // Nobody listening is fine.
        let _ = self.events.send(state.clone());
        state
    }

    /// The unfinished executions, oldest first, at most `limit`: read from the
    /// database once per published state and limit, whoever asks.
    pub fn remaining(&self, limit: usize) -> Result<Arc<Vec<Remaining>>> {
        let publication = self.publications.load(Relaxed);
        if let Some((p, l, list)) = self.remaining.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && *p == publication
            && *l == limit
        {
            return Ok(list.clone());
        }
        let list = Arc::new(self.store.remaining(limit)?);
        *self.remaining.lock().unwrap_or_else(|p| p.into_inner()) = Some((publication, limit, list.clone()));
        Ok(list)
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
        let before = self.seen.load_full();
        if !Arc::ptr_eq(&before, &self.read_and_publish()?) {
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

impl Manager {
    /// Kept decisions, newest first (see `decisions`).
    pub fn decisions(&self, filter: &crate::store::DecisionFilter, page: &crate::store::Page) -> Result<(Vec<crate::decisions::DecisionRecord>, u64)> {
        Ok(self.store.decisions(filter, page)?)
    }

    pub fn decisions_after(&self, filter: &crate::store::DecisionFilter, after: i64, limit: u32) -> Result<Vec<(i64, crate::decisions::DecisionRecord)>> {
        Ok(self.store.decisions_after(filter, after, limit)?)
    }

    pub fn decision(&self, id: &str) -> Result<crate::decisions::DecisionRecord> {
        self.store.decision(id)?.ok_or_else(|| not_found("Decision", id))
    }
}
