//! Plain Rust mirrors of the `drydock:policy/policy` world's types, so rules are
//! ordinary functions that native tests can call.

/// The manager's maintenance state at the moment of the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaintenanceState {
    Deactivated,
    Activating,
    Activated,
}

/// Unfinished (non-terminal) execution statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionStatus {
    Pending,
    Started,
    Cancelling,
    ForceCancelling,
    KillCancelling,
    Queued,
    Scheduled,
}

/// Counts of unfinished executions, across all tenants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Executions {
    pub total: u32,
    pub by_status: Vec<(ExecutionStatus, u32)>,
}

/// Who is asking. `bypass` is true when the request carried a non-empty
/// `X-BYPASS-MAINTENANCE` header; the policy decides whether it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub username: String,
    pub role: String,
    pub bypass: bool,
}

/// The request, as routed by the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Upper-case HTTP method.
    pub method: String,
    /// The concrete path, e.g. `/api/v3.1/executions/42`.
    pub path: String,
    /// The matched route's template below the API version, e.g. `executions/{id}`.
    pub route: String,
    /// The first path segment after the API version, e.g. `executions`.
    pub first_segment: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub request: Request,
    pub caller: Caller,
    pub state: MaintenanceState,
    pub executions: Executions,
    pub attributes: Vec<(String, String)>,
}

impl Input {
    /// The value of attribute `key`, if the host sent it.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A refusal. The host rejects (as a fault) a status outside 400..=599 and an
/// empty or over-long (> 1 KiB) code or message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub status: u16,
    pub error_code: String,
    pub message: String,
    /// Seconds after which the client may retry (`Retry-After`).
    pub retry_after: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(Denial),
}
