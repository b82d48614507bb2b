//! Storage: the one boundary the manager and the policy registry call.
//!
//! [`Store`] asks in domain terms, and each call is one transaction: what it writes
//! lands whole or not at all. A backend is one module that implements it (today
//! [`sqlite`]; a server database is another module beside it, not edits across the
//! tree). Calls block — an fsync, a network round trip — so callers run them off
//! the async runtime's worker threads (`manager::blocking`). Reads take a
//! connection of their own, so they never wait behind a write's fsync.

mod records;
pub mod sqlite;

use drydock_engine::ExecutionStatus;

pub use records::{
    Deployment, Event, Execution, MaintenanceRecord, NewEvent, NewPolicy, Page, PolicyChange, PolicyLogEntry, PolicyRecord,
    PolicyState, User,
};

pub type Result<T> = anyhow::Result<T>;

pub trait Store: Send + Sync + 'static {
    // ---- maintenance and the executions it waits for ----

    /// The maintenance row: `None` while deactivated.
    fn maintenance(&self) -> Result<Option<MaintenanceRecord>>;
    fn set_maintenance(&self, rec: Option<&MaintenanceRecord>) -> Result<()>;
    /// Every execution not in an end state, oldest first.
    fn unfinished_executions(&self) -> Result<Vec<Execution>>;

    // ---- executions and their events ----

    fn insert_execution(&self, e: &Execution, event: &NewEvent) -> Result<()>;
    /// Write a status change and its event, and — in the same transaction — the
    /// maintenance row when the change flips activating to activated.
    fn update_execution(&self, e: &Execution, event: &NewEvent, maintenance: Option<&MaintenanceRecord>) -> Result<()>;
    fn execution(&self, id: &str) -> Result<Option<Execution>>;
    /// Executions, optionally of one deployment and/or with given statuses, and the total.
    fn executions(&self, deployment_id: Option<&str>, statuses: &[ExecutionStatus], page: &Page) -> Result<(Vec<Execution>, u64)>;
    fn events(&self, execution_id: &str, page: &Page) -> Result<(Vec<Event>, u64)>;

    // ---- deployments ----

    fn deployment(&self, id: &str) -> Result<Option<Deployment>>;
    fn deployments(&self, page: &Page) -> Result<(Vec<Deployment>, u64)>;
    fn insert_deployment(&self, d: &Deployment) -> Result<()>;
    /// Whether there was one to delete.
    fn delete_deployment(&self, id: &str) -> Result<bool>;

    // ---- users ----

    fn user(&self, username: &str) -> Result<Option<User>>;
    fn users(&self) -> Result<Vec<User>>;
    fn insert_user(&self, user: &User) -> Result<()>;
    /// Replace a user's password hash and role.
    fn update_user(&self, user: &User) -> Result<()>;
    /// Whether there was one to delete.
    fn delete_user(&self, username: &str) -> Result<bool>;

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
