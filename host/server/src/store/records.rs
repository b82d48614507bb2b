//! What the store keeps, as the manager and the registry see it: plain records,
//! already parsed (statuses and roles are enums).

use drydock_engine::{ExecutionStatus, MaintenanceState, Role};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceRecord {
    pub status: MaintenanceState,
    pub activation_requested_at: String,
    pub activated_at: Option<String>,
    pub requested_by: String,
    /// Why, in the operator's words (shown to every refused client).
    pub reason: Option<String>,
    /// The expected end (a timestamp): what `Retry-After` counts down to.
    pub until: Option<String>,
    /// While activating: when to stop waiting, and what to do then.
    pub deadline: Option<(String, OnDeadline)>,
}

impl MaintenanceRecord {
    /// A new activation request by `by` at `now`, with nothing planned.
    pub fn requested(status: MaintenanceState, now: &str, by: &str) -> MaintenanceRecord {
        MaintenanceRecord {
            status,
            activated_at: (status == MaintenanceState::Activated).then(|| now.to_string()),
            activation_requested_at: now.to_string(),
            requested_by: by.to_string(),
            reason: None,
            until: None,
            deadline: None,
        }
    }
}

/// What the manager does when an activation's deadline passes with executions left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDeadline {
    /// Keep waiting (the deadline is recorded in the history, nothing else changes).
    Wait,
    /// Cancel what is left, then activate once it has ended.
    Cancel,
    /// Force-cancel what is left: it ends at once, and maintenance is activated.
    ForceCancel,
    /// Give up: back to deactivated.
    Revert,
}

impl OnDeadline {
    pub fn parse(s: &str) -> Option<OnDeadline> {
        Some(match s {
            "wait" => OnDeadline::Wait,
            "cancel" => OnDeadline::Cancel,
            "force-cancel" => OnDeadline::ForceCancel,
            "revert" => OnDeadline::Revert,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OnDeadline::Wait => "wait",
            OnDeadline::Cancel => "cancel",
            OnDeadline::ForceCancel => "force-cancel",
            OnDeadline::Revert => "revert",
        }
    }
}

/// One maintenance transition, as the history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub at: String,
    /// A user, or who acted on its own: `schedule`, `deadline`, `serve`, `drydock`.
    pub by: String,
    pub from: MaintenanceState,
    pub to: MaintenanceState,
    pub reason: Option<String>,
    pub detail: String,
}

/// A maintenance window scheduled ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub id: String,
    pub start_at: String,
    pub end_at: Option<String>,
    pub reason: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub status: WindowStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowStatus {
    Scheduled,
    Started,
    Ended,
    Cancelled,
}

impl WindowStatus {
    pub fn parse(s: &str) -> Option<WindowStatus> {
        Some(match s {
            "scheduled" => WindowStatus::Scheduled,
            "started" => WindowStatus::Started,
            "ended" => WindowStatus::Ended,
            "cancelled" => WindowStatus::Cancelled,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WindowStatus::Scheduled => "scheduled",
            WindowStatus::Started => "started",
            WindowStatus::Ended => "ended",
            WindowStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: String,
    pub blueprint_id: Option<String>,
    pub inputs: Value,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    pub tenant_name: String,
    pub visibility: Visibility,
}

#[derive(Debug, Clone)]
pub struct Execution {
    pub id: String,
    pub deployment_id: Option<String>,
    pub workflow_id: String,
    pub status: ExecutionStatus,
    pub parameters: Value,
    pub error: String,
    pub is_system_workflow: bool,
    pub created_at: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub created_by: String,
    pub tenant_name: String,
    pub visibility: Visibility,
    /// Moved to `started` by the worker or a sys_admin: only then may it be the
    /// parent of child work (a user's own word that it runs is not enough).
    pub vouched: bool,
}

/// An event as stored (`id` orders them).
#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub execution_id: String,
    pub timestamp: String,
    pub event_type: String,
    pub message: String,
}

/// Which slice of a list to return, already validated at the edge.
#[derive(Debug, Clone)]
pub struct Page {
    pub offset: u32,
    pub size: u32,
    /// A column name from the table's sortable set, and whether descending.
    pub sort: Option<(&'static str, bool)>,
}

/// An event to append beside a change: the change and its event land together.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub timestamp: String,
    pub event_type: String,
    pub message: String,
}

/// An uploaded policy version (the component bytes are read separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRecord {
    pub id: String,
    pub sha256: String,
    pub name: String,
    pub version: String,
    pub size: u64,
    pub uploaded_by: String,
    pub uploaded_at: String,
    pub budget: Budget,
}

/// The id of the embedded default policy: part of the binary, never stored, so a
/// selection may name it without a row in `policies`.
pub const BUILTIN_POLICY_ID: &str = "builtin";

/// Which version is active, which one a rollback returns to, and the shadow candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyState {
    pub active_id: String,
    pub active_since: String,
    pub activated_by: String,
    pub previous_id: Option<String>,
    /// (candidate id, since, by)
    pub shadow: Option<(String, String, String)>,
}

impl PolicyState {
    /// The stored versions this selection names (the builtin is not stored).
    pub fn stored_ids(&self) -> impl Iterator<Item = &str> {
        [Some(self.active_id.as_str()), self.previous_id.as_deref(), self.shadow.as_ref().map(|(id, _, _)| id.as_str())]
            .into_iter()
            .flatten()
            .filter(|id| *id != BUILTIN_POLICY_ID)
    }
}

/// One line of the policy audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyLogEntry {
    pub seq: i64,
    pub at: String,
    pub username: String,
    pub action: String,
    pub policy_id: String,
    pub detail: String,
}

/// A policy version to store: what the engine read from the loaded component.
#[derive(Debug, Clone)]
pub struct NewPolicy {
    pub sha256: String,
    pub name: String,
    pub version: String,
    pub size: u64,
    pub uploaded_by: String,
    pub uploaded_at: String,
    pub budget: Budget,
}

/// A version's own limits (`None`: the server's default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget {
    /// All of an instance's linear memories together, in MiB.
    pub memory_mib: Option<u32>,
    /// One decision's deadline, in milliseconds.
    pub deadline_ms: Option<u32>,
}

impl NewPolicy {
    /// The id a new version gets: the first 12 hex digits of its sha256, or (on the
    /// astronomically unlikely collision with a stored id) the whole digest.
    pub fn id(&self, short_is_taken: bool) -> &str {
        if short_is_taken { &self.sha256 } else { &self.sha256[..12.min(self.sha256.len())] }
    }

    /// The record as stored under `id`.
    pub fn record(&self, id: &str) -> PolicyRecord {
        PolicyRecord {
            id: id.to_string(),
            sha256: self.sha256.clone(),
            name: self.name.clone(),
            version: self.version.clone(),
            size: self.size,
            uploaded_by: self.uploaded_by.clone(),
            uploaded_at: self.uploaded_at.clone(),
            budget: self.budget,
        }
    }

    /// The audit line of the upload.
    pub fn upload_line(&self, rec: &PolicyRecord) -> PolicyChange {
        PolicyChange {
            at: self.uploaded_at.clone(),
            username: self.uploaded_by.clone(),
            action: "upload".into(),
            policy_id: rec.id.clone(),
            detail: format!("{}@{}", rec.name, rec.version),
        }
    }
}

/// A kept signature over a component's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSignature {
    /// The signed component's sha256.
    pub sha256: String,
    pub key_id: String,
    /// The signature line, as `drydock policy sign` writes it.
    pub line: String,
    pub added_by: String,
    pub added_at: String,
}

/// One audit line to append with a policy change.
#[derive(Debug, Clone)]
pub struct PolicyChange {
    pub at: String,
    pub username: String,
    pub action: String,
    pub policy_id: String,
    pub detail: String,
}

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

impl Remaining {
    pub fn of(e: &Execution) -> Remaining {
        Remaining {
            id: e.id.clone(),
            created_at: e.created_at.clone(),
            status: e.status,
            deployment_id: e.deployment_id.clone(),
            workflow_id: e.workflow_id.clone(),
        }
    }
}

/// Executions not in an end state, by status: what a policy is asked with, kept by
/// the store as executions are written, so no write reads them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts([u64; ExecutionStatus::ALL.len()]);

impl Counts {
    fn slot(status: ExecutionStatus) -> usize {
        ExecutionStatus::ALL.iter().position(|s| *s == status).unwrap_or(0)
    }

    pub fn get(&self, status: ExecutionStatus) -> u64 {
        self.0[Self::slot(status)]
    }

    /// Add `n` (which may be negative) executions of `status`; an end state is not
    /// counted.
    pub fn add(&mut self, status: ExecutionStatus, n: i64) {
        if !status.is_terminal() {
            let c = &mut self.0[Self::slot(status)];
            *c = c.saturating_add_signed(n);
        }
    }

    /// An execution moved from `from` (`None`: it is new) to `to`.
    pub fn moved(&mut self, from: Option<ExecutionStatus>, to: ExecutionStatus) {
        if let Some(from) = from {
            self.add(from, -1);
        }
        self.add(to, 1);
    }

    /// Every unfinished execution.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Each status with a count, by status.
    pub fn iter(&self) -> impl Iterator<Item = (ExecutionStatus, u64)> + '_ {
        ExecutionStatus::ALL.into_iter().zip(self.0).filter(|(_, n)| *n > 0)
    }
}

impl super::ManagerState {
    /// The state after this transaction changed a window's status.
    pub(super) fn set_window_status(&mut self, id: &str, status: WindowStatus) {
        match status {
            WindowStatus::Scheduled | WindowStatus::Started => {
                if let Some(w) = self.windows.iter_mut().find(|w| w.id == id) {
                    w.status = status;
                }
            }
            WindowStatus::Ended | WindowStatus::Cancelled => self.windows.retain(|w| w.id != id),
        }
    }
}

/// Who may see a deployment or an execution besides its tenant (Cloudify's
/// `visibility`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    /// Its creator, sys_admins and the tenant's managers.
    Private,
    /// Every member of its tenant.
    #[default]
    Tenant,
    /// Everyone, from every tenant (to read).
    Global,
}

impl Visibility {
    pub const ALL: [Visibility; 3] = [Visibility::Private, Visibility::Tenant, Visibility::Global];

    pub fn parse(s: &str) -> Option<Visibility> {
        Visibility::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Tenant => "tenant",
            Visibility::Global => "global",
        }
    }
}

/// A user's role in a tenant (Cloudify's tenant roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TenantRole {
    Viewer,
    User,
    Operations,
    Manager,
}

impl TenantRole {
    pub const ALL: [TenantRole; 4] = [TenantRole::Manager, TenantRole::Operations, TenantRole::User, TenantRole::Viewer];

    pub fn parse(s: &str) -> Option<TenantRole> {
        TenantRole::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TenantRole::Viewer => "viewer",
            TenantRole::User => "user",
            TenantRole::Operations => "operations",
            TenantRole::Manager => "manager",
        }
    }
}

/// The tenant every manager has from its first start; it cannot be deleted.
pub const DEFAULT_TENANT: &str = "default_tenant";

/// A tenant and its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub name: String,
    pub created_at: String,
    /// (username, role), by username.
    pub members: Vec<(String, TenantRole)>,
}

/// Where a request acts and what it may see there: lists and reads of deployments,
/// executions and events show only what this scope sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub tenant: String,
    pub username: String,
    /// A sys_admin, or a manager of the tenant: sees others' private resources.
    pub sees_private: bool,
}

impl Scope {
    /// Whether a resource of `tenant`, made by `created_by`, is seen from here.
    pub fn sees(&self, tenant: &str, visibility: Visibility, created_by: &str) -> bool {
        let in_reach = tenant == self.tenant || visibility == Visibility::Global;
        let private_ok = visibility != Visibility::Private || self.sees_private || created_by == self.username;
        in_reach && private_ok
    }
}

/// Which kept decisions to read (every field narrows; none: all).
#[derive(Debug, Clone, Default)]
pub struct DecisionFilter {
    /// At or after this timestamp (the store's format).
    pub since: Option<String>,
    /// Before this timestamp.
    pub until: Option<String>,
    pub verdict: Option<crate::decisions::Verdict>,
    pub origin: Option<crate::decisions::DecisionOrigin>,
    pub user: Option<String>,
    pub path_prefix: Option<String>,
    /// The deciding version's sha256.
    pub policy: Option<String>,
}

impl DecisionFilter {
    /// The WHERE clause's conditions (each ` AND ...`) with one argument each, as
    /// `mark(n)` numbers them (`?n` for SQLite, `$n` for PostgreSQL).
    pub fn conditions(&self, first: usize, mark: impl Fn(usize) -> String) -> (String, Vec<String>) {
        let mut sql = String::new();
        let mut args = Vec::new();
        let mut add = |cond: &dyn Fn(&str) -> String, value: &Option<String>| {
            if let Some(v) = value {
                args.push(v.clone());
                sql.push_str(&format!(" AND {}", cond(&mark(first + args.len() - 1))));
            }
        };
        add(&|m| format!("at >= {m}"), &self.since);
        add(&|m| format!("at < {m}"), &self.until);
        add(&|m| format!("verdict = {m}"), &self.verdict.map(|v| v.as_str().to_string()));
        add(&|m| format!("origin = {m}"), &self.origin.map(|o| o.as_str().to_string()));
        add(&|m| format!("username = {m}"), &self.user);
        add(&|m| format!("substr(path, 1, length({m})) = {m}"), &self.path_prefix);
        add(&|m| format!("policy_sha256 = {m}"), &self.policy);
        (sql, args)
    }
}
