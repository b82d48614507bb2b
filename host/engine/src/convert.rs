//! Host types to WIT types and back; the way back also rejects garbage.

use crate::types::ExecutionStatus;
use crate::types::MaintenanceState;
use crate::types::{Decision, Denial, RequestView, Snapshot};

use super::bindings::{v1, v2};

/// Longest error code or message a policy may answer with.
const MAX_TEXT: usize = 1024;

/// The unfinished statuses in the order both contracts list them.
const UNFINISHED: [ExecutionStatus; 7] = [
    ExecutionStatus::Pending,
    ExecutionStatus::Started,
    ExecutionStatus::Cancelling,
    ExecutionStatus::ForceCancelling,
    ExecutionStatus::KillCancelling,
    ExecutionStatus::Queued,
    ExecutionStatus::Scheduled,
];

/// Counts per unfinished status, in [`UNFINISHED`] order (terminal ones dropped).
fn counts(snap: &Snapshot) -> [u32; 7] {
    let mut out = [0u32; 7];
    for &(status, n) in &snap.executions.by_status {
        if let Some(i) = UNFINISHED.iter().position(|&s| s == status) {
            out[i] = out[i].saturating_add(n);
        }
    }
    out
}

/// The request's attributes, then the snapshot's facts: what the policy sees.
fn attributes<'a>(req: &RequestView<'a>, snap: &'a Snapshot) -> impl Iterator<Item = (&'a str, &'a str)> {
    req.attributes.iter().chain(&snap.facts).map(|(k, v)| (k.as_str(), v.as_str()))
}

fn state_code(state: MaintenanceState) -> u8 {
    match state {
        MaintenanceState::Deactivated => 0,
        MaintenanceState::Activating => 1,
        MaintenanceState::Activated => 2,
    }
}

/// The 2.0.0 input: the request packed as `wit/v2/policy.wit` describes, into
/// `buf` (cleared first; a reused buffer makes this allocation-free).
pub(super) fn pack(req: &RequestView<'_>, snap: &Snapshot, buf: &mut Vec<u8>) {
    fn str(buf: &mut Vec<u8>, s: &str) {
        buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
        buf.extend_from_slice(s.as_bytes());
    }
    buf.clear();
    buf.extend_from_slice(b"dd\x02\x00");
    buf.push(state_code(snap.state));
    buf.push(u8::from(req.caller.bypass));
    for n in counts(snap) {
        buf.extend_from_slice(&n.to_le_bytes());
    }
    for s in [req.method, req.path, req.route, req.first_segment, req.caller.username] {
        str(buf, s);
    }
    str(buf, req.caller.role.as_str());
    buf.extend_from_slice(&((req.attributes.len() + snap.facts.len()) as u32).to_le_bytes());
    for (k, v) in attributes(req, snap) {
        str(buf, k);
        str(buf, v);
    }
}

/// The 1.0.0 input, borrowing every string from the descriptor and the snapshot
/// (lowering copies them into the guest; nothing copies them before). `by_status`
/// and `attrs` are the caller's scratch space.
pub(super) fn input_v1<'a>(
    req: &RequestView<'a>,
    snap: &'a Snapshot,
    by_status: &'a mut [v1::StatusCount; 7],
    attrs: &'a mut Vec<(&'a str, &'a str)>,
) -> v1::Input<'a> {
    use v1::ExecutionStatus as W;
    const WIT: [W; 7] = [W::Pending, W::Started, W::Cancelling, W::ForceCancelling, W::KillCancelling, W::Queued, W::Scheduled];
    let mut len = 0;
    let mut total = 0u32;
    for (i, n) in counts(snap).into_iter().enumerate() {
        if n > 0 {
            by_status[len] = v1::StatusCount { status: WIT[i], count: n };
            len += 1;
            total = total.saturating_add(n);
        }
    }
    attrs.extend(attributes(req, snap));
    v1::Input {
        request: v1::Request {
            method: req.method,
            path: req.path,
            route: req.route,
            first_segment: req.first_segment,
        },
        caller: v1::Caller { username: req.caller.username, role: req.caller.role.as_str(), bypass: req.caller.bypass },
        state: match snap.state {
            MaintenanceState::Deactivated => v1::MaintenanceState::Deactivated,
            MaintenanceState::Activating => v1::MaintenanceState::Activating,
            MaintenanceState::Activated => v1::MaintenanceState::Activated,
        },
        executions: v1::Executions { total, by_status: &by_status[..len] },
        attributes: attrs,
    }
}

/// A 1.0.0 answer, checked.
pub(super) fn decision_v1(answer: v1::Decision) -> Result<Decision, String> {
    match answer {
        v1::Decision::Allow => Ok(Decision::Allow),
        v1::Decision::Deny(d) => denial(d.status, d.error_code, d.message, d.retry_after),
    }
}

/// A 2.0.0 answer, checked.
pub(super) fn decision_v2(answer: v2::Decision) -> Result<Decision, String> {
    match answer {
        v2::Decision::Allow => Ok(Decision::Allow),
        v2::Decision::Deny(d) => denial(d.status, d.error_code, d.message, d.retry_after),
    }
}

/// The policy's refusal, if it is one the host can send: `Err` says why not.
fn denial(status: u16, error_code: String, message: String, retry_after: Option<u32>) -> Result<Decision, String> {
    if !(400..=599).contains(&status) {
        return Err(format!("deny status {status} outside 400..=599"));
    }
    for (what, text) in [("error-code", &error_code), ("message", &message)] {
        if text.is_empty() {
            return Err(format!("empty {what}"));
        }
        if text.len() > MAX_TEXT {
            return Err(format!("{what} of {} bytes (at most {MAX_TEXT})", text.len()));
        }
    }
    Ok(Decision::Deny(Denial { status, error_code, message, retry_after }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Caller, ExecutionCounts, RequestDescriptor, Role};

    #[test]
    fn packing_follows_the_contract_byte_for_byte() {
        let mut req = RequestDescriptor::new(
            "post",
            "/api/v3.1/executions",
            "/api/v3.1/executions",
            "/api/v3.1",
            Caller { username: "al".into(), role: Role::SysAdmin, bypass: true },
        );
        req.attributes.push(("t".into(), "x".into()));
        let snap = Snapshot {
            state: MaintenanceState::Activating,
            executions: ExecutionCounts {
                by_status: vec![(ExecutionStatus::Started, 2), (ExecutionStatus::Terminated, 9), (ExecutionStatus::Scheduled, 1)],
            },
            facts: vec![("r".into(), "why".into())],
        };
        let mut buf = vec![0xff; 3];
        pack(&req.view(), &snap, &mut buf);
        let mut want: Vec<u8> = b"dd\x02\x00".to_vec();
        want.extend([1, 1]);
        for n in [0u32, 2, 0, 0, 0, 0, 1] {
            want.extend(n.to_le_bytes());
        }
        for s in ["POST", "/api/v3.1/executions", "executions", "executions", "al", "sys_admin"] {
            want.extend((s.len() as u32).to_le_bytes());
            want.extend(s.as_bytes());
        }
        want.extend(2u32.to_le_bytes());
        for s in ["t", "x", "r", "why"] {
            want.extend((s.len() as u32).to_le_bytes());
            want.extend(s.as_bytes());
        }
        assert_eq!(buf, want);
    }
}
