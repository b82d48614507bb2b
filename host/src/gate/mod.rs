//! The gate: builds a request descriptor, asks the active policy, admits or refuses.
//!
//! It is a tower layer, so the server and any embedding axum application put it in
//! front of their routes the same way. It needs two things from its host: the policy
//! slots (which component decides) and a [`StateSource`] (what state it decides under).

pub mod descriptor;
pub mod layer;

use std::sync::Arc;

pub use descriptor::{
    Caller, Decision, Denial, ExecutionCounts, Published, RequestDescriptor, Role, Snapshot,
};
pub use layer::{Gate, GateLayer, GateService};

/// Where the gate reads the state it decides under. Called once per request: make it
/// cheap (the server's is a lock-free pointer load).
pub trait StateSource: Send + Sync + 'static {
    fn current(&self) -> Arc<Published>;
}

/// How a write was admitted: the snapshot version the gate decided under, and a way
/// to decide the same request again should the state have moved since.
pub trait Admission: Send + Sync {
    fn version(&self) -> u64;
    fn decide_again(&self, snapshot: &Snapshot) -> Decision;
}

/// What the host does when the policy cannot decide (trap, deadline, garbage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailMode {
    /// Refuse with 503 `policy_error` (the default).
    #[default]
    Closed,
    /// Admit, for operators who prefer availability.
    Open,
}

impl FailMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "closed" => Some(Self::Closed),
            "open" => Some(Self::Open),
            _ => None,
        }
    }
}

/// How the gate turns a request into a descriptor, and what it never refuses.
#[derive(Debug, Clone)]
pub struct GateConfig {
    /// The prefix stripped from paths and route templates, e.g. `/api/v3.1`.
    pub api_prefix: String,
    /// First path segments that a sys_admin always reaches, whatever the policy says,
    /// so a bad policy can always be replaced.
    pub admin_floor: Vec<String>,
    pub fail_mode: FailMode,
}

impl GateConfig {
    /// Whether the admin floor admits `desc` without asking the policy.
    pub fn on_floor(&self, desc: &RequestDescriptor) -> bool {
        desc.caller.role.is_admin() && self.admin_floor.iter().any(|s| *s == desc.first_segment)
    }

    /// The server's own configuration (also what `drydock policy test` evaluates
    /// under, so a case behaves the same offline as in the server).
    pub fn server(fail_mode: FailMode) -> GateConfig {
        GateConfig {
            api_prefix: crate::api::API_PREFIX.to_string(),
            admin_floor: vec!["maintenance".into(), "policies".into()],
            fail_mode,
        }
    }
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig { api_prefix: String::new(), admin_floor: Vec::new(), fail_mode: FailMode::Closed }
    }
}

/// The header that names the policy version behind a response.
pub const POLICY_HEADER: &str = "x-drydock-policy";
/// The header by which a sys_admin skips the maintenance check.
pub const BYPASS_HEADER: &str = "x-bypass-maintenance";
/// The value of [`POLICY_HEADER`] when the admin floor admitted without asking.
pub const FLOOR_LABEL: &str = "host-floor";
