//! What a decision is made under (the state snapshot) and what it answers.

use super::{ExecutionStatus, MaintenanceState};

/// Counts of unfinished executions, by status (terminal statuses never appear).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionCounts {
    pub by_status: Vec<(ExecutionStatus, u32)>,
}

impl ExecutionCounts {
    /// All unfinished executions.
    pub fn total(&self) -> u32 {
        self.by_status.iter().map(|(_, n)| n).sum()
    }
}

/// The state the decision is made under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub state: MaintenanceState,
    pub executions: ExecutionCounts,
    /// Facts about the state for the policy, appended to the request's attributes
    /// (drydock's: `maintenance.reason`, `maintenance.until`, `maintenance.retry-after`).
    pub facts: Vec<(String, String)>,
}

impl Snapshot {
    /// A state with its execution counts and no facts.
    pub fn new(state: MaintenanceState, executions: ExecutionCounts) -> Snapshot {
        Snapshot { state, executions, facts: Vec::new() }
    }
}

/// A policy's refusal, validated by the host (status 400..=599, sane strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub status: u16,
    pub error_code: String,
    pub message: String,
    pub retry_after: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(Denial),
}

/// A versioned, immutable view of the admission-relevant state. The version changes
/// with every change of the state; `facts` changes when only the snapshot's facts do
/// (one derived from the clock, such as the seconds until an announced end). Equal
/// versions and facts mean equal snapshots.
#[derive(Debug, Clone)]
pub struct Published {
    pub version: u64,
    pub facts: u64,
    pub snapshot: Snapshot,
}

impl Published {
    pub fn new(version: u64, snapshot: Snapshot) -> Published {
        Published { version, facts: 0, snapshot }
    }
}
