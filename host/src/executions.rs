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
    /// Whether a worker (or the host) may move an execution from `self` to `to`.
    /// Reporting the current status again is allowed and changes nothing.
    pub fn can_become(self, to: ExecutionStatus) -> bool {
        use ExecutionStatus::*;
        if self == to {
            return !self.is_terminal();
        }
        match self {
            Pending | Queued | Scheduled => matches!(
                to,
                Pending | Queued | Scheduled | Started | Cancelling | Cancelled | Failed
            ),
            Started => matches!(
                to,
                Terminated | Failed | Cancelling | ForceCancelling | KillCancelling | Cancelled
            ),
            Cancelling | ForceCancelling | KillCancelling => {
                matches!(to, Cancelled | Failed | Terminated | ForceCancelling | KillCancelling)
            }
            Terminated | Failed | Cancelled => false,
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

    #[test]
    fn lifecycle_transitions() {
        assert!(Pending.can_become(Started));
        assert!(Started.can_become(Terminated));
        assert!(Started.can_become(Failed));
        assert!(!Terminated.can_become(Started));
        assert!(!Cancelled.can_become(Pending));
        assert!(!Started.can_become(Pending));
        assert!(Started.can_become(Started));
        assert!(!Failed.can_become(Failed));
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
