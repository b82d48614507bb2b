//! Executions: the status enum and its legal transitions.

use serde::{Deserialize, Serialize};

/// An execution's status, as Cloudify names it on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Pending,
    Started,
    Cancelling,
    ForceCancelling,
    KillCancelling,
    Queued,
    Scheduled,
    Terminated,
    Failed,
    Cancelled,
}

impl ExecutionStatus {
    pub const ALL: [ExecutionStatus; 10] = [
        Self::Pending,
        Self::Started,
        Self::Cancelling,
        Self::ForceCancelling,
        Self::KillCancelling,
        Self::Queued,
        Self::Scheduled,
        Self::Terminated,
        Self::Failed,
        Self::Cancelled,
    ];

    /// End states: an execution in one of these no longer holds maintenance back.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Terminated | Self::Failed | Self::Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Started => "started",
            Self::Cancelling => "cancelling",
            Self::ForceCancelling => "force_cancelling",
            Self::KillCancelling => "kill_cancelling",
            Self::Queued => "queued",
            Self::Scheduled => "scheduled",
            Self::Terminated => "terminated",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a client asks to stop an execution (`POST /executions/{id}` `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelKind {
    Cancel,
    ForceCancel,
    Kill,
}

impl CancelKind {
    pub fn parse(action: &str) -> Option<Self> {
        match action {
            "cancel" => Some(Self::Cancel),
            "force-cancel" => Some(Self::ForceCancel),
            "kill" => Some(Self::Kill),
            _ => None,
        }
    }
}

impl ExecutionStatus {
    /// Cloudify's `ACTIVE_STATES`: neither ended nor waiting (`queued`, `scheduled`).
    pub fn is_active(self) -> bool {
        use ExecutionStatus::*;
        matches!(self, Pending | Started | Cancelling | ForceCancelling | KillCancelling)
    }

    /// Whether a status update (a worker's report) may move an execution from `self`
    /// to `to`: Cloudify's `resource_manager._validate_execution_update`, exactly.
    /// Nothing leaves an end state; a `cancelling` execution may not go back to an
    /// active state or report success; a `force_cancelling` one may not either, nor
    /// become `cancelling`. Everything else is allowed (`pending → terminated` is a
    /// fast workflow's ordinary report).
    pub fn can_become(self, to: ExecutionStatus) -> bool {
        use ExecutionStatus::*;
        match self {
            Terminated | Failed | Cancelled => false,
            Cancelling => !(to.is_active() || to == Terminated),
            ForceCancelling => !(to.is_active() || matches!(to, Terminated | Cancelling)),
            _ => true,
        }
    }

    /// Where a cancel request takes an execution in this status. Work that never
    /// started is cancelled at once; started work is asked to stop (`cancelling`),
    /// unless forced or killed, which end it at once.
    pub fn after_cancel(self, kind: CancelKind) -> Option<ExecutionStatus> {
        use ExecutionStatus::*;
        if self.is_terminal() {
            return None;
        }
        Some(match (self, kind) {
            (_, CancelKind::ForceCancel | CancelKind::Kill) => Cancelled,
            (Pending | Queued | Scheduled, CancelKind::Cancel) => Cancelled,
            (Cancelling | ForceCancelling | KillCancelling, CancelKind::Cancel) => return None,
            (_, CancelKind::Cancel) => Cancelling,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ExecutionStatus::*;
    use super::*;

    #[test]
    fn terminal_states_are_exactly_the_three_end_states() {
        let terminal: Vec<_> = ExecutionStatus::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, vec![Terminated, Failed, Cancelled]);
    }

    /// Every pair of statuses against Cloudify's rule, written out as a table:
    /// the rows are `from`, the columns `to` in `ExecutionStatus::ALL` order
    /// (pending started cancelling force_cancelling kill_cancelling queued
    /// scheduled terminated failed cancelled); 1 = allowed.
    #[test]
    fn update_table_is_cloudifys() {
        let table: [(ExecutionStatus, &str); 10] = [
            (Pending, /*         */ "1111111111"),
            (Started, /*         */ "1111111111"),
            (Cancelling, /*      */ "0000011011"),
            (ForceCancelling, /* */ "0000011011"),
            (KillCancelling, /*  */ "1111111111"),
            (Queued, /*          */ "1111111111"),
            (Scheduled, /*       */ "1111111111"),
            (Terminated, /*      */ "0000000000"),
            (Failed, /*          */ "0000000000"),
            (Cancelled, /*       */ "0000000000"),
        ];
        for (from, row) in table {
            for (to, allowed) in ExecutionStatus::ALL.into_iter().zip(row.chars()) {
                assert_eq!(from.can_become(to), allowed == '1', "{from} -> {to}");
            }
        }
        // The cases a real worker hits, by name.
        assert!(Pending.can_become(Terminated));
        assert!(Pending.can_become(Failed));
        assert!(Queued.can_become(Started));
        assert!(!Cancelling.can_become(Terminated));
    }

    #[test]
    fn cancel_paths() {
        assert_eq!(Started.after_cancel(CancelKind::Cancel), Some(Cancelling));
        assert_eq!(Pending.after_cancel(CancelKind::Cancel), Some(Cancelled));
        assert_eq!(Started.after_cancel(CancelKind::Kill), Some(Cancelled));
        assert_eq!(Cancelling.after_cancel(CancelKind::ForceCancel), Some(Cancelled));
        assert_eq!(Terminated.after_cancel(CancelKind::Cancel), None);
    }

    #[test]
    fn wire_names_round_trip() {
        for s in ExecutionStatus::ALL {
            assert_eq!(ExecutionStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ExecutionStatus::parse("running"), None);
    }
}
