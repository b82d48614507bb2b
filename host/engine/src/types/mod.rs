//! The plain types host and gate share with the engine: maintenance state,
//! execution status, roles, the request descriptor, the snapshot a decision is
//! made under, and the decision. No HTTP, no storage; serde at most.
//!
//! They mirror `wit/policy.wit` on the host side (the policy SDK has its own
//! mirror: the WIT is the only thing host and policy share).

mod decision;
mod execution;
mod maintenance;
mod request;

pub use decision::{Decision, Denial, ExecutionCounts, Published, Snapshot};
pub use execution::{CancelKind, ExecutionStatus};
pub use maintenance::MaintenanceState;
pub use request::{Caller, CallerView, RequestDescriptor, RequestView, Role};
