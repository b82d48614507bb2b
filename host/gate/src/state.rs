//! Where the gate reads the state it decides under, and a ready [`StateSource`]
//! for applications that embed the gate: the maintenance
//! state and the counts of unfinished work, published lock-free.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use drydock_engine::{ExecutionCounts, ExecutionStatus, MaintenanceState, Published, Snapshot};

/// Where the gate reads the state it decides under. Called once per request: make it
/// cheap (the server's is a lock-free pointer load).
///
/// [`SharedState`] is a ready implementation. Your own only has to hand out an
/// immutable, versioned [`Published`] snapshot; bump the version on every change
/// (the server decides a write again when the version moved under it).
///
/// ```
/// use std::sync::Arc;
/// use drydock_gate::{ExecutionCounts, MaintenanceState, Published, Snapshot, StateSource};
///
/// /// Never in maintenance: the policy still sees every request.
/// struct AlwaysOpen(Arc<Published>);
///
/// impl StateSource for AlwaysOpen {
///     fn current(&self) -> Arc<Published> {
///         self.0.clone()
///     }
/// }
///
/// let open = AlwaysOpen(Arc::new(Published::new(
///     1,
///     Snapshot::new(MaintenanceState::Deactivated, ExecutionCounts::default()),
/// )));
/// assert_eq!(open.current().version, 1);
/// ```
pub trait StateSource: Send + Sync + 'static {
    /// The state to decide the current request under.
    fn current(&self) -> Arc<Published>;
}


/// The state an embedding application decides under, held in memory.
///
/// Readers (the gate, once per request) load an `Arc` with one atomic operation;
/// writers are serialised by a small mutex, and every change publishes a new
/// immutable [`Published`] with the version bumped by one, so equal versions always
/// mean equal snapshots.
///
/// ```
/// use std::sync::Arc;
/// use drydock_gate::{ExecutionStatus, MaintenanceState, SharedState, StateSource};
///
/// let state = Arc::new(SharedState::new());
/// assert_eq!(state.current().snapshot.state, MaintenanceState::Deactivated);
///
/// // Two jobs running in the application's own worker pool, then maintenance begins.
/// state.set_executions([(ExecutionStatus::Started, 2)]);
/// let version = state.set_state(MaintenanceState::Activating);
///
/// let now = state.current();
/// assert_eq!(now.version, version);
/// assert_eq!(now.snapshot.executions.total(), 2);
/// assert_eq!(now.snapshot.state, MaintenanceState::Activating);
/// ```
pub struct SharedState {
    published: ArcSwap<Published>,
    /// Serialises writers so versions are published in order.
    write: Mutex<()>,
}

impl SharedState {
    /// Deactivated, nothing running, version 1.
    pub fn new() -> SharedState {
        SharedState::with_snapshot(Snapshot { facts: Vec::new(),
            state: MaintenanceState::Deactivated,
            executions: ExecutionCounts::default(),
        })
    }

    /// Start from `snapshot`, version 1.
    pub fn with_snapshot(snapshot: Snapshot) -> SharedState {
        SharedState {
            published: ArcSwap::from_pointee(Published { facts: 0, version: 1, snapshot }),
            write: Mutex::new(()),
        }
    }

    /// Change the snapshot with `f` and publish it under the next version, which is
    /// returned. Keep `f` short: other writers wait for it (readers never do).
    pub fn update(&self, f: impl FnOnce(&mut Snapshot)) -> u64 {
        let _writer = self.write.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.published.load();
        let mut snapshot = current.snapshot.clone();
        f(&mut snapshot);
        let version = current.version + 1;
        self.published.store(Arc::new(Published { facts: 0, version, snapshot }));
        version
    }

    /// Publish a new maintenance state; returns the new version.
    pub fn set_state(&self, state: MaintenanceState) -> u64 {
        self.update(|s| s.state = state)
    }

    /// Replace the counts of unfinished work; returns the new version. Terminal
    /// statuses and zero counts are dropped (policies never see them), and repeated
    /// statuses are added up.
    pub fn set_executions(&self, counts: impl IntoIterator<Item = (ExecutionStatus, u32)>) -> u64 {
        let counts = normalise(counts);
        self.update(|s| s.executions = counts)
    }

    /// Set the count of one unfinished status, leaving the others; returns the new
    /// version. Setting a terminal status is a no-op publish.
    pub fn set_execution_count(&self, status: ExecutionStatus, count: u32) -> u64 {
        self.update(|s| {
            let mut counts = std::mem::take(&mut s.executions.by_status);
            counts.retain(|(st, _)| *st != status);
            counts.push((status, count));
            s.executions = normalise(counts);
        })
    }

    /// The current published state (what the gate reads).
    pub fn published(&self) -> Arc<Published> {
        self.published.load_full()
    }
}

impl Default for SharedState {
    fn default() -> Self {
        SharedState::new()
    }
}

impl StateSource for SharedState {
    fn current(&self) -> Arc<Published> {
        self.published.load_full()
    }
}

/// Unfinished statuses only, non-zero, one entry per status, in the order of
/// [`ExecutionStatus::ALL`].
fn normalise(counts: impl IntoIterator<Item = (ExecutionStatus, u32)>) -> ExecutionCounts {
    let mut sums = [0u32; ExecutionStatus::ALL.len()];
    for (status, n) in counts {
        if !status.is_terminal() {
            let i = ExecutionStatus::ALL.iter().position(|s| *s == status).unwrap_or(0);
            sums[i] = sums[i].saturating_add(n);
        }
    }
    ExecutionCounts {
        by_status: ExecutionStatus::ALL.into_iter().zip(sums).filter(|(_, n)| *n > 0).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_bumps_the_version() {
        let s = SharedState::new();
        assert_eq!(s.current().version, 1);
        assert_eq!(s.set_state(MaintenanceState::Activating), 2);
        assert_eq!(s.set_execution_count(ExecutionStatus::Queued, 3), 3);
        let now = s.current();
        assert_eq!(now.version, 3);
        assert_eq!(now.snapshot.state, MaintenanceState::Activating);
        assert_eq!(now.snapshot.executions.by_status, vec![(ExecutionStatus::Queued, 3)]);
    }

    #[test]
    fn counts_are_normalised() {
        let s = SharedState::new();
        s.set_executions([
            (ExecutionStatus::Started, 1),
            (ExecutionStatus::Failed, 9),
            (ExecutionStatus::Pending, 0),
            (ExecutionStatus::Started, 2),
            (ExecutionStatus::Pending, 4),
        ]);
        assert_eq!(
            s.current().snapshot.executions.by_status,
            vec![(ExecutionStatus::Pending, 4), (ExecutionStatus::Started, 3)]
        );
        s.set_execution_count(ExecutionStatus::Started, 0);
        assert_eq!(s.current().snapshot.executions.by_status, vec![(ExecutionStatus::Pending, 4)]);
        assert_eq!(s.current().snapshot.executions.total(), 4);
    }

    #[test]
    fn a_reader_keeps_the_snapshot_it_loaded() {
        let s = SharedState::new();
        let before = s.current();
        s.set_state(MaintenanceState::Activated);
        assert_eq!(before.snapshot.state, MaintenanceState::Deactivated);
        assert_eq!(s.current().snapshot.state, MaintenanceState::Activated);
    }
}
