//! One kept decision: who asked what, under which state, which version answered
//! what, from where, in how long. `input` is exactly what the policy saw, so a
//! decision can be asked again of another version (replay) or become a test case.

use std::collections::BTreeMap;

use drydock_engine::{Caller, Decision, Denial, ExecutionCounts, ExecutionStatus, MaintenanceState, RequestDescriptor, Role, Snapshot};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Who signed the versions at hand (active, shadow), by sha256: kept by the
/// registry as it takes versions up, read by the log for each record it keeps.
pub type Signed = arc_swap::ArcSwap<std::collections::HashMap<String, std::sync::Arc<[String]>>>;

/// A kept decision, as stored and as `GET /decisions` sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Decision)]
pub struct DecisionRecord {
    /// Also sent with the response as `X-Drydock-Decision-Id`.
    pub id: String,
    pub at: String,
    /// The host that decided (its listening address).
    pub host: String,
    pub verdict: Verdict,
    pub origin: DecisionOrigin,
    /// The deciding version (none for the floor; the candidate for `shadow`).
    pub policy: Option<DecidingPolicy>,
    /// How long the policy took (none when it was not called).
    pub took_micros: Option<u64>,
    pub input: DecisionInput,
    pub answer: Answer,
    /// The request's W3C `traceparent`, when it carried one.
    #[serde(default)]
    pub traceparent: Option<String>,
    /// For a `shadow` record: what the active version answered the caller (the
    /// record's `answer` is the shadow candidate's, never sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served: Option<Served>,
}

/// A kept decision's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allow,
    Deny,
}

/// Where a kept decision came from: `policy`, `memo` (the policy's own answer to
/// this very request, remembered), `fail-mode` (the policy could not decide),
/// `floor` (a sys_admin on `/maintenance*` or `/policies*`, never asked) or
/// `shadow` (the shadow candidate disagreed with the active version; not served).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DecisionOrigin {
    Policy,
    Memo,
    FailMode,
    Floor,
    Shadow,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        [Verdict::Allow, Verdict::Deny].into_iter().find(|v| v.as_str() == s)
    }
}

impl DecisionOrigin {
    pub const ALL: [DecisionOrigin; 5] =
        [DecisionOrigin::Policy, DecisionOrigin::Memo, DecisionOrigin::FailMode, DecisionOrigin::Floor, DecisionOrigin::Shadow];

    pub fn as_str(self) -> &'static str {
        match self {
            DecisionOrigin::Policy => "policy",
            DecisionOrigin::Memo => "memo",
            DecisionOrigin::FailMode => "fail-mode",
            DecisionOrigin::Floor => "floor",
            DecisionOrigin::Shadow => "shadow",
        }
    }

    pub fn parse(s: &str) -> Option<DecisionOrigin> {
        DecisionOrigin::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::fmt::Display for DecisionOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// What the active version answered, beside a shadow candidate's disagreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Served {
    pub policy: DecidingPolicy,
    pub answer: Answer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DecidingPolicy {
    /// `name@version#sha8`, as the `X-Drydock-Policy` header names it.
    pub label: String,
    pub sha256: String,
    /// The trusted keys that had signed it when it was taken up (`name (key id)`;
    /// none without `serve --trusted-keys`, and for the builtin).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed_by: Vec<String>,
}

/// What the policy saw: the request and the state (the shape of a
/// `drydock policy test` case, so a kept decision is a test case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DecisionInput {
    #[schema(value_type = String)]
    pub state: MaintenanceState,
    /// Unfinished executions by status.
    #[schema(value_type = BTreeMap<String, u32>)]
    pub executions: BTreeMap<ExecutionStatus, u32>,
    /// The state's facts for the policy (`maintenance.reason`, ...), in order.
    pub facts: Vec<(String, String)>,
    pub request: RequestInput,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RequestInput {
    pub method: String,
    pub path: String,
    /// The matched route below the API version, e.g. `executions/{id}`.
    pub route: String,
    pub first_segment: String,
    /// The caller's name (masked when the log masks users).
    pub user: String,
    pub role: String,
    pub bypass: bool,
    /// The host's facts about the request (`tenant`, `tenant-role`, ...), in order.
    pub attributes: Vec<(String, String)>,
}

/// What the caller was answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Answer {
    /// For a refusal: its status, error code, message and Retry-After.
    pub status: Option<u16>,
    pub error_code: Option<String>,
    pub message: Option<String>,
    pub retry_after: Option<u32>,
}

impl DecidingPolicy {
    pub fn of(p: &drydock_engine::Policy, signed: &Signed) -> DecidingPolicy {
        let signed_by = signed.load().get(p.sha256()).map_or_else(Vec::new, |s| s.to_vec());
        DecidingPolicy { label: p.label().to_string(), sha256: p.sha256().to_string(), signed_by }
    }
}

impl Answer {
    pub fn of(d: &Decision) -> Answer {
        match d {
            Decision::Allow => Answer { status: None, error_code: None, message: None, retry_after: None },
            Decision::Deny(Denial { status, error_code, message, retry_after }) => Answer {
                status: Some(*status),
                error_code: Some(error_code.clone()),
                message: Some(message.clone()),
                retry_after: *retry_after,
            },
        }
    }

    /// The answer to a fault: what replay and the shadow log say of it.
    pub fn of_result(result: &Result<Decision, drydock_engine::Fault>) -> Answer {
        match result {
            Ok(d) => Answer::of(d),
            Err(fault) => Answer { status: Some(503), error_code: Some("policy_fault".into()), message: Some(fault.to_string()), retry_after: None },
        }
    }

    pub fn verdict(&self) -> Verdict {
        if self.status.is_some() { Verdict::Deny } else { Verdict::Allow }
    }
}

impl DecisionInput {
    /// The request as the policy saw it again (a masked user stays masked).
    pub fn descriptor(&self) -> RequestDescriptor {
        let r = &self.request;
        RequestDescriptor {
            method: r.method.clone(),
            path: r.path.clone(),
            route: r.route.clone(),
            first_segment: r.first_segment.clone(),
            caller: Caller { username: r.user.clone(), role: Role::parse(&r.role).unwrap_or_else(|| Role::Other(r.role.clone())), bypass: r.bypass },
            attributes: r.attributes.clone(),
        }
    }

    /// The state as the policy saw it again.
    pub fn snapshot(&self) -> Snapshot {
        let executions = ExecutionCounts { by_status: self.executions.iter().map(|(s, n)| (*s, *n)).collect() };
        Snapshot { state: self.state, executions, facts: self.facts.clone() }
    }
}
