//! Host types to WIT types and back; the way back also rejects garbage.

use crate::types::ExecutionStatus;
use crate::types::{Decision, Denial, RequestDescriptor, Snapshot};
use crate::types::MaintenanceState;

use super::bindings as wit;

/// Longest error code or message a policy may answer with.
const MAX_TEXT: usize = 1024;

pub(super) fn input(req: &RequestDescriptor, snap: &Snapshot) -> wit::Input {
    let by_status: Vec<wit::StatusCount> = snap
        .executions
        .by_status
        .iter()
        .filter_map(|&(status, count)| {
            Some(wit::StatusCount {
                status: status_to_wit(status)?,
                count,
            })
        })
        .collect();
    wit::Input {
        request: wit::Request {
            method: req.method.clone(),
            path: req.path.clone(),
            route: req.route.clone(),
            first_segment: req.first_segment.clone(),
        },
        caller: wit::Caller {
            username: req.caller.username.clone(),
            role: req.caller.role.as_str().to_owned(),
            bypass: req.caller.bypass,
        },
        state: match snap.state {
            MaintenanceState::Deactivated => wit::MaintenanceState::Deactivated,
            MaintenanceState::Activating => wit::MaintenanceState::Activating,
            MaintenanceState::Activated => wit::MaintenanceState::Activated,
        },
        executions: wit::Executions {
            total: by_status.iter().map(|c| c.count).sum(),
            by_status,
        },
        attributes: req.attributes.iter().chain(&snap.facts).cloned().collect(),
    }
}

/// Terminal statuses have no WIT name: they never hold maintenance back.
fn status_to_wit(status: ExecutionStatus) -> Option<wit::ExecutionStatus> {
    use ExecutionStatus as S;
    use wit::ExecutionStatus as W;
    Some(match status {
        S::Pending => W::Pending,
        S::Started => W::Started,
        S::Cancelling => W::Cancelling,
        S::ForceCancelling => W::ForceCancelling,
        S::KillCancelling => W::KillCancelling,
        S::Queued => W::Queued,
        S::Scheduled => W::Scheduled,
        S::Terminated | S::Failed | S::Cancelled => return None,
    })
}

/// The policy's answer, if it is one the host can send: `Err` says why not.
pub(super) fn decision(answer: wit::Decision) -> Result<Decision, String> {
    let d = match answer {
        wit::Decision::Allow => return Ok(Decision::Allow),
        wit::Decision::Deny(d) => d,
    };
    if !(400..=599).contains(&d.status) {
        return Err(format!("deny status {} outside 400..=599", d.status));
    }
    for (what, text) in [("error-code", &d.error_code), ("message", &d.message)] {
        if text.is_empty() {
            return Err(format!("empty {what}"));
        }
        if text.len() > MAX_TEXT {
            return Err(format!(
                "{what} of {} bytes (at most {MAX_TEXT})",
                text.len()
            ));
        }
    }
    Ok(Decision::Deny(Denial {
        status: d.status,
        error_code: d.error_code,
        message: d.message,
        retry_after: d.retry_after,
    }))
}
