//! Storage: the one boundary the manager and the policy registry call.
//!
//! [`Store`] asks in domain terms, and each call is one transaction: what it writes
//! lands whole or not at all. A backend is one module that implements it:
//! [`sqlite`] (embedded, one host) or [`postgres`] (several hosts on one database).
//! Calls block — an fsync, a network round trip — so callers run them off the
//! async runtime's worker threads (`manager::blocking`).
//!
//! The race-free rule lives here, in the database, not in a process lock: every
//! write that admission covers runs in [`Store::transact`], which takes the state
//! lock first and compares the state's version with the one the request was
//! decided under. Two hosts cannot both pass that check for one version.

pub mod postgres;
mod records;
pub mod sqlite;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use drydock_engine::ExecutionStatus;

pub use records::{
    Deployment, Event, Execution, MaintenanceRecord, NewEvent, NewPolicy, Page, PolicyChange, PolicyLogEntry, PolicyRecord,
    OnDeadline, PolicyState, Remaining, Transition, User, Window, WindowStatus,
};

pub type Result<T> = anyhow::Result<T>;

/// The database cannot be reached, or has no connection free within the wait: the
/// request may be retried. Backends wrap such failures in this, so the HTTP edge
/// can tell them from a fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// The manager's state as the database holds it: what admission decides under.
/// `version` moves with every change of the maintenance row or of an execution's
/// status, on whichever host makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerState {
    pub version: u64,
    /// `None` while deactivated.
    pub maintenance: Option<MaintenanceRecord>,
    /// Every execution not in an end state, oldest first.
    pub unfinished: Vec<Remaining>,
    /// Windows scheduled or under way, earliest first.
    pub windows: Vec<Window>,
}

/// Counters that move with each kind of shared change; a host that sees one move
/// re-reads that part (the safety net under the backend's notifications).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Generations {
    pub state: u64,
    pub policy: u64,
    pub users: u64,
}

/// A change another host (or this one) committed, as the backend announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The maintenance row or an execution changed.
    State,
    /// The active or shadow policy selection changed.
    Policy,
    /// A user was created, changed or deleted.
    User(String),
    /// Announcements may have been missed (the feed reconnected): re-read everything.
    Resync,
}

/// The answer of a state transaction.
#[derive(Debug)]
pub enum Outcome {
    /// Committed (or nothing to write); the state after it.
    Committed(ManagerState),
    /// The state is not the version the caller decided under; nothing was
    /// written. The state as it is now.
    Moved(ManagerState),
}

/// The writes the race-free rule covers, inside one transaction that holds the
/// state lock (a row lock, or SQLite's one writer) from its first statement.
pub trait StateTx {
    /// The state when the transaction took the lock.
    fn state(&self) -> &ManagerState;
    fn execution(&mut self, id: &str) -> Result<Option<Execution>>;
    fn insert_execution(&mut self, e: &Execution, event: &NewEvent) -> Result<()>;
    /// Write a status change and its event.
    fn update_execution(&mut self, e: &Execution, event: &NewEvent) -> Result<()>;
    fn set_maintenance(&mut self, rec: Option<&MaintenanceRecord>) -> Result<()>;
    fn deployment(&mut self, id: &str) -> Result<Option<Deployment>>;
    fn insert_deployment(&mut self, d: &Deployment) -> Result<()>;
    /// Whether there was one to delete.
    fn delete_deployment(&mut self, id: &str) -> Result<bool>;
    fn user(&mut self, username: &str) -> Result<Option<User>>;
    fn has_users(&mut self) -> Result<bool>;
    fn insert_user(&mut self, user: &User) -> Result<()>;
    /// Replace a user's password hash and role.
    fn update_user(&mut self, user: &User) -> Result<()>;
    /// Whether there was one to delete.
    fn delete_user(&mut self, username: &str) -> Result<bool>;
    /// Append a maintenance transition to the history.
    fn record_transition(&mut self, t: &Transition) -> Result<()>;
    fn insert_window(&mut self, w: &Window) -> Result<()>;
    fn set_window_status(&mut self, id: &str, status: WindowStatus) -> Result<()>;
}

/// The body of a state transaction: its error rolls everything back.
pub type TxBody<'a> = &'a mut dyn FnMut(&mut dyn StateTx) -> crate::error::Result<()>;

pub trait Store: Send + Sync + 'static {
    /// Whether other hosts may write this database (their changes arrive through
    /// [`Store::subscribe`] and [`Store::generations`]).
    fn shared(&self) -> bool {
        false
    }

    /// Announcements of committed changes, from every host, when the backend has
    /// them. The stream ends only when the store is dropped.
    fn subscribe(&self) -> Option<tokio::sync::mpsc::Receiver<Change>> {
        None
    }

    fn generations(&self) -> Result<Generations>;

    // ---- maintenance, executions, deployments and users: the state transaction ----

    fn manager_state(&self) -> Result<ManagerState>;

    /// One transaction under the state lock. With `expected` and a state at another
    /// version, nothing runs and the answer is [`Outcome::Moved`]. Otherwise `body`
    /// runs; if it wrote to the maintenance row or an execution, the state's version
    /// moves. An error from `body` rolls back and is returned as is.
    fn transact(&self, expected: Option<u64>, body: TxBody<'_>) -> crate::error::Result<Outcome>;

    // ---- reads ----

    fn execution(&self, id: &str) -> Result<Option<Execution>>;
    /// Executions, optionally of one deployment and/or with given statuses, and the total.
    fn executions(&self, deployment_id: Option<&str>, statuses: &[ExecutionStatus], page: &Page) -> Result<(Vec<Execution>, u64)>;
    fn events(&self, execution_id: &str, page: &Page) -> Result<(Vec<Event>, u64)>;
    fn deployment(&self, id: &str) -> Result<Option<Deployment>>;
    fn deployments(&self, page: &Page) -> Result<(Vec<Deployment>, u64)>;
    fn user(&self, username: &str) -> Result<Option<User>>;
    fn users(&self) -> Result<Vec<User>>;
    /// Maintenance transitions, newest first, and how many there are.
    fn history(&self, page: &Page) -> Result<(Vec<Transition>, u64)>;
    /// Every window, ended and cancelled ones too, by start.
    fn all_windows(&self) -> Result<Vec<Window>>;

    // ---- policy versions ----

    /// Every uploaded version, oldest first.
    fn policies(&self) -> Result<Vec<PolicyRecord>>;
    fn policy(&self, id: &str) -> Result<Option<PolicyRecord>>;
    /// The component bytes of an uploaded version.
    fn policy_component(&self, id: &str) -> Result<Option<Vec<u8>>>;
    /// Store a version unless the same bytes are stored already; logs the upload.
    /// Returns the record and whether it is new. Its id is the first 12 hex digits
    /// of the sha256 (the whole digest on a collision).
    fn insert_policy(&self, new: &NewPolicy, component: &[u8]) -> Result<(PolicyRecord, bool)>;
    /// `None` until the first change: the builtin is active, nothing else is set.
    fn policy_state(&self) -> Result<Option<PolicyState>>;
    /// Commit a new policy state with its audit lines.
    fn set_policy_state(&self, state: &PolicyState, log: &[PolicyChange]) -> Result<()>;
    /// Delete a version and commit the state without it, with its audit line.
    fn delete_policy(&self, id: &str, state: &PolicyState, log: &PolicyChange) -> Result<()>;
    /// The newest `limit` audit entries, newest first.
    fn policy_log(&self, limit: u32) -> Result<Vec<PolicyLogEntry>>;

    // ---- compiled artifacts (the engine's cache, vouched for here) ----

    /// The sha256 recorded for the artifact compiled from a component by an engine.
    fn artifact_digest(&self, component_sha256: &str, engine: &str) -> Result<Option<String>>;
    fn record_artifact(&self, component_sha256: &str, engine: &str, artifact_sha256: &str) -> Result<()>;
}

/// The engine's [`ArtifactLedger`](drydock_engine::ArtifactLedger) in the database:
/// a cached compiled policy is used only if the database vouches for its digest.
pub struct Ledger(pub std::sync::Arc<dyn Store>);

impl drydock_engine::ArtifactLedger for Ledger {
    fn recorded(&self, component_sha256: &str, engine: &str) -> Option<String> {
        // A database that cannot answer vouches for nothing: compiling is safe.
        self.0.artifact_digest(component_sha256, engine).ok().flatten()
    }

    fn record(&self, component_sha256: &str, engine: &str, artifact_sha256: &str) {
        if let Err(e) = self.0.record_artifact(component_sha256, engine, artifact_sha256) {
            tracing::warn!(component = %component_sha256, error = %format!("{e:#}"), "cannot record a compiled artifact's digest; it will be compiled again");
        }
    }
}
