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
//! lock first; the body sees the state as the lock left it, and the manager decides
//! a request again there when the version moved. Maintenance transitions take the
//! lock exclusively; execution writes share it, so they commit side by side (see
//! [`Lock`]).
//!
//! Nothing on a write's path reads every unfinished execution: the state carries
//! their counts by status, kept by the store in the same transaction as each write;
//! the list itself is read, from an index, only where it is shown ([`Store::remaining`]).

pub mod postgres;
mod records;
pub mod sqlite;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use drydock_engine::ExecutionStatus;

pub use records::{
    Counts, Deployment, Event, Execution, MaintenanceRecord, NewEvent, NewPolicy, OnDeadline, Page, PolicyChange, PolicyLogEntry,
    BUILTIN_POLICY_ID, Budget, DEFAULT_TENANT, DecisionFilter, PolicyRecord, PolicyState, Remaining, Scope, StoredSignature, Tenant, TenantRole, Transition, User, Visibility,
    Window, WindowStatus,
};

pub type Result<T> = anyhow::Result<T>;

/// The decision log's lists count matches up to this many, no further.
pub const DECISIONS_COUNTED: u64 = 10_000;

/// The database cannot be reached, or has no connection free within the wait: the
/// request may be retried. Backends wrap such failures in this, so the HTTP edge
/// can tell them from a fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// The manager's state as the database holds it: what admission decides under.
/// `version` moves with every change of the maintenance row or of the windows, on
/// whichever host makes it: what a maintenance refusal depends on. Execution writes
/// move only the counts, so they do not contend for one counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerState {
    pub version: u64,
    /// `None` while deactivated.
    pub maintenance: Option<MaintenanceRecord>,
    /// Executions not in an end state, by status.
    pub counts: Counts,
    /// Windows scheduled or under way, earliest first.
    pub windows: Vec<Window>,
}

/// How a state transaction holds the state lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// Alone: maintenance transitions, windows, deleting a deployment, and ending an
    /// execution while activating (the flip must see every other writer's commit).
    Exclusive,
    /// Beside other shared holders: creating and reporting executions, users. No
    /// maintenance transition runs meanwhile, so the version the body sees holds
    /// until it commits; the counts it sees do not include the others' uncommitted
    /// writes. A backend with one writer (SQLite) takes every lock alone.
    Shared,
}

/// Counters that move with each kind of shared change; a host that sees one move
/// re-reads that part (the safety net under the backend's notifications).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Generations {
    pub state: u64,
    pub policy: u64,
    pub users: u64,
    /// Moves with every execution write (which leaves `state` alone).
    pub executions: u64,
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

/// The writes the race-free rule covers, inside one transaction that holds the
/// state lock (a row lock, or SQLite's one writer) from its first statement.
pub trait StateTx {
    /// The state when the transaction took the lock, with this transaction's own
    /// writes applied.
    fn state(&self) -> &ManagerState;
    /// Whether this transaction holds the state lock alone.
    fn exclusive(&self) -> bool;
    /// Whether `deployment` has an unfinished execution (an index lookup).
    fn has_unfinished(&mut self, deployment: &str) -> Result<bool>;
    /// The ids of every unfinished execution, oldest first (only for what must touch
    /// each of them, such as a deadline's cancellations).
    fn unfinished_ids(&mut self) -> Result<Vec<String>>;
    fn execution(&mut self, id: &str) -> Result<Option<Execution>>;
    fn insert_execution(&mut self, e: &Execution, event: &NewEvent) -> Result<()>;
    /// Write a status change and its event; `from` is the status it had (read in
    /// this transaction), so the counts move with it.
    fn update_execution(&mut self, e: &Execution, from: ExecutionStatus, event: &NewEvent) -> Result<()>;
    fn set_maintenance(&mut self, rec: Option<&MaintenanceRecord>) -> Result<()>;
    fn deployment(&mut self, id: &str) -> Result<Option<Deployment>>;
    fn insert_deployment(&mut self, d: &Deployment) -> Result<()>;
    /// Whether there was one to delete.
    fn delete_deployment(&mut self, id: &str) -> Result<bool>;
    fn user(&mut self, username: &str) -> Result<Option<User>>;
    fn has_users(&mut self) -> Result<bool>;
    /// How many users are sys_admins.
    fn admins(&mut self) -> Result<u64>;
    fn insert_user(&mut self, user: &User) -> Result<()>;
    /// Replace a user's password hash and role.
    fn update_user(&mut self, user: &User) -> Result<()>;
    /// Whether there was one to delete (its memberships go with it).
    fn delete_user(&mut self, username: &str) -> Result<bool>;
    fn tenant(&mut self, name: &str) -> Result<Option<Tenant>>;
    fn insert_tenant(&mut self, name: &str, created_at: &str) -> Result<()>;
    /// Delete a tenant, its memberships (each member counts as a changed user) and
    /// its ended executions with their events.
    fn delete_tenant(&mut self, name: &str) -> Result<()>;
    /// What keeps a tenant from being deleted: its deployments and unfinished executions.
    fn tenant_usage(&mut self, name: &str) -> Result<u64>;
    /// Make `username` a member of `tenant` with `role`, or (`None`) no member; the
    /// user counts as changed (hosts forget what they cached of it).
    fn set_member(&mut self, tenant: &str, username: &str, role: Option<TenantRole>) -> Result<()>;
    /// Append a maintenance transition to the history.
    fn record_transition(&mut self, t: &Transition) -> Result<()>;
    fn insert_window(&mut self, w: &Window) -> Result<()>;
    fn set_window_status(&mut self, id: &str, status: WindowStatus) -> Result<()>;
}

/// A change of the policy selection, decided from the selection as committed.
#[derive(Debug, Clone)]
pub struct PolicyEdit {
    pub state: PolicyState,
    pub log: Vec<PolicyChange>,
    /// A stored version to delete in the same transaction.
    pub delete: Option<String>,
}

/// The refusal of a change that names a version no longer stored. The database's
/// own triggers refuse the same; this says it in words a user can act on.
fn no_longer_stored(id: &str) -> crate::error::Error {
    crate::error::Error::Conflict(format!(
        "Policy version {id} is no longer stored (deleted meanwhile, perhaps on another host); nothing changed"
    ))
}

/// The refusal when a version to delete is already gone.
fn not_stored(id: &str) -> crate::error::Error {
    crate::error::Error::NotFound(format!("Requested policy version `{id}` was not found"))
}

/// Decides a change of the policy selection from the committed one; its error
/// changes nothing.
pub type PolicyBody<'a> = &'a mut dyn FnMut(Option<&PolicyState>) -> crate::error::Result<Option<PolicyEdit>>;

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

    /// The state now: O(1) in the executions held (counts, not the list).
    fn manager_state(&self) -> Result<ManagerState>;

    /// One transaction under the state lock, held as `lock` says. If `body` wrote to
    /// the maintenance row or the windows, the version moves. An error from `body`
    /// rolls back what it wrote and is returned as is. Returns the state after it.
    fn transact(&self, lock: Lock, body: TxBody<'_>) -> crate::error::Result<ManagerState>;

    /// Unfinished executions, oldest first, at most `limit` (from an index: O(what
    /// is returned)).
    fn remaining(&self, limit: usize) -> Result<Vec<Remaining>>;

    // ---- reads ----

    fn execution(&self, id: &str) -> Result<Option<Execution>>;
    /// Executions, optionally of one deployment and/or with given statuses, and the total.
    /// Executions `scope` sees (`None`: all), optionally of one deployment and/or
    /// with given statuses.
    fn executions(
        &self,
        scope: Option<&Scope>,
        deployment_id: Option<&str>,
        statuses: &[ExecutionStatus],
        page: &Page,
    ) -> Result<(Vec<Execution>, u64)>;
    fn events(&self, execution_id: &str, page: &Page) -> Result<(Vec<Event>, u64)>;
    fn deployment(&self, id: &str) -> Result<Option<Deployment>>;
    /// Deployments `scope` sees (`None`: all).
    fn deployments(&self, scope: Option<&Scope>, page: &Page) -> Result<(Vec<Deployment>, u64)>;
    /// Every tenant with its members, by name.
    fn tenants(&self) -> Result<Vec<Tenant>>;
    fn tenant(&self, name: &str) -> Result<Option<Tenant>>;
    /// Whether a tenant exists (one key lookup; a request's path may ask it).
    fn tenant_exists(&self, name: &str) -> Result<bool>;
    /// The tenants a user is a member of, with the role there, by tenant.
    fn memberships(&self, username: &str) -> Result<Vec<(String, TenantRole)>>;
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
    /// Change the policy selection by compare-and-set: under the policy lock, `body`
    /// sees the selection as committed (`None` before the first change, when the
    /// builtin is active) and returns the change to make, or `None` for none. The
    /// store refuses a change that names a version no longer stored (another host
    /// deleted it meanwhile) or deletes one that is gone, and returns the selection
    /// as it is after the call.
    fn edit_policy_state(&self, body: PolicyBody<'_>) -> crate::error::Result<Option<PolicyState>>;
    /// Commit `state` whatever the selection is now (opening the registry).
    fn set_policy_state(&self, state: &PolicyState, log: &[PolicyChange]) -> Result<()> {
        let edit = PolicyEdit { state: state.clone(), log: log.to_vec(), delete: None };
        self.edit_policy_state(&mut |_| Ok(Some(edit.clone()))).map(|_| ()).map_err(anyhow::Error::new)
    }
    fn policy_log(&self, limit: u32) -> Result<Vec<PolicyLogEntry>>;
    /// Keep signatures (a signer's new signature over the same bytes replaces its
    /// old one), with their lines in the policy history.
    fn add_signatures(&self, signatures: &[StoredSignature], log: &[PolicyChange]) -> Result<()>;
    /// The signatures over the component `sha256`.
    fn signatures(&self, sha256: &str) -> Result<Vec<StoredSignature>>;
    /// Every kept signature (the policy list shows each version's signers).
    fn all_signatures(&self) -> Result<Vec<StoredSignature>>;

    // ---- the decision log ----

    /// Append kept decisions (one transaction).
    fn insert_decisions(&self, records: &[crate::decisions::DecisionRecord]) -> Result<()>;
    /// Kept decisions, newest first, and how many match (counted up to
    /// [`DECISIONS_COUNTED`]: a count is never a scan of the whole log).
    fn decisions(&self, filter: &DecisionFilter, page: &Page) -> Result<(Vec<crate::decisions::DecisionRecord>, u64)>;
    /// Kept decisions after the cursor `after` (a sequence number), oldest first, at
    /// most `limit`, each with its cursor: for reading a long range in order.
    fn decisions_after(
        &self,
        filter: &DecisionFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, crate::decisions::DecisionRecord)>>;
    fn decision(&self, id: &str) -> Result<Option<crate::decisions::DecisionRecord>>;
    /// Remove all but the newest `max_rows`, and those before `before`; how many.
    fn prune_decisions(&self, max_rows: u64, before: &str) -> Result<u64>;

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
