//! The four deciders. Each turns the mix into its own inputs once, up front; what
//! is timed is one decision from that input.

use std::collections::HashMap;
use std::hint::black_box;
use std::str::FromStr;

use drydock_engine::{Decision, MaintenanceState, Policy, Snapshot};

use crate::mix::{self, Case};

/// Allowed (`None`) or refused with this error code.
pub type Verdict = Option<String>;

pub trait Decider {
    fn name(&self) -> &str;
    /// What this decider was built from, for the table.
    fn what(&self) -> String;
    /// Decide case `i`; only the verdict's presence is kept (cheap).
    fn decide(&mut self, i: usize) -> bool;
    /// Decide case `i` and say what the verdict was (untimed).
    fn verdict(&mut self, i: usize) -> Verdict;
}

fn state_name(state: MaintenanceState) -> &'static str {
    state.as_str()
}

/// drydock's component, through the engine's hot path (`Policy::decide`): the
/// descriptor is converted and copied into the sandbox on every call.
pub struct Component {
    pub label: String,
    pub policy: Policy,
    pub cases: Vec<Case>,
    pub snaps: [Snapshot; 3],
}

impl Component {
    pub fn new(label: &str, policy: Policy, cases: Vec<Case>) -> Self {
        let snaps = mix::STATES.map(mix::snapshot);
        Component { label: label.into(), policy, cases, snaps }
    }
    fn snap(&self, state: MaintenanceState) -> &Snapshot {
        &self.snaps[mix::STATES.iter().position(|&s| s == state).unwrap()]
    }
}

impl Decider for Component {
    fn name(&self) -> &str {
        &self.label
    }
    fn what(&self) -> String {
        format!("{} (contract {}), pooled instance", self.policy.label(), self.policy.contract())
    }
    fn decide(&mut self, i: usize) -> bool {
        let c = &self.cases[i];
        matches!(self.policy.decide(&c.desc, self.snap(c.state)).expect("decision"), Decision::Allow)
    }
    fn verdict(&mut self, i: usize) -> Verdict {
        let c = &self.cases[i];
        match self.policy.decide(&c.desc, self.snap(c.state)).expect("decision") {
            Decision::Allow => None,
            Decision::Deny(d) => Some(d.error_code),
        }
    }
}

/// The same rules compiled natively: `drydock_policy_default::rules::decide` on the
/// SDK's input, built up front.
pub struct Native {
    inputs: Vec<drydock_policy_sdk::Input>,
}

impl Native {
    pub fn new(cases: &[Case]) -> Self {
        use drydock_policy_sdk as sdk;
        let inputs = cases
            .iter()
            .map(|c| {
                let snap = mix::snapshot(c.state);
                sdk::Input {
                    request: sdk::Request {
                        method: c.desc.method.clone(),
                        path: c.desc.path.clone(),
                        route: c.desc.route.clone(),
                        first_segment: c.desc.first_segment.clone(),
                    },
                    caller: sdk::Caller {
                        username: c.desc.caller.username.clone(),
                        role: c.desc.caller.role.as_str().into(),
                        bypass: c.desc.caller.bypass,
                    },
                    state: match c.state {
                        MaintenanceState::Deactivated => sdk::MaintenanceState::Deactivated,
                        MaintenanceState::Activating => sdk::MaintenanceState::Activating,
                        MaintenanceState::Activated => sdk::MaintenanceState::Activated,
                    },
                    executions: sdk::Executions {
                        total: snap.executions.total(),
                        by_status: snap.executions.by_status.iter().map(|&(s, n)| (sdk_status(s), n)).collect(),
                    },
                    attributes: c.desc.attributes.clone(),
                }
            })
            .collect();
        Native { inputs }
    }
}

fn sdk_status(s: drydock_engine::ExecutionStatus) -> drydock_policy_sdk::ExecutionStatus {
    use drydock_engine::ExecutionStatus as H;
    use drydock_policy_sdk::ExecutionStatus as G;
    match s {
        H::Pending => G::Pending,
        H::Started => G::Started,
        H::Cancelling => G::Cancelling,
        H::ForceCancelling => G::ForceCancelling,
        H::KillCancelling => G::KillCancelling,
        H::Queued => G::Queued,
        H::Scheduled => G::Scheduled,
        H::Terminated | H::Failed | H::Cancelled => unreachable!("the mix counts unfinished executions only"),
    }
}

impl Decider for Native {
    fn name(&self) -> &str {
        "native Rust"
    }
    fn what(&self) -> String {
        "policy-wasm/default's rules compiled into the host (no sandbox)".into()
    }
    fn decide(&mut self, i: usize) -> bool {
        matches!(drydock_policy_default::rules::decide(black_box(&self.inputs[i])), drydock_policy_sdk::Decision::Allow)
    }
    fn verdict(&mut self, i: usize) -> Verdict {
        match drydock_policy_default::rules::decide(&self.inputs[i]) {
            drydock_policy_sdk::Decision::Allow => None,
            drydock_policy_sdk::Decision::Deny(d) => Some(d.error_code),
        }
    }
}

/// Cedar: principal `User::"<name>"` with its role, action `Action::"<METHOD>"`,
/// resource `Route::"<template>"`, the state and request details as the context.
pub struct Cedar {
    authorizer: cedar_policy::Authorizer,
    policies: cedar_policy::PolicySet,
    /// Each forbid's `@id`, the error code it stands for.
    codes: HashMap<cedar_policy::PolicyId, String>,
    requests: Vec<(cedar_policy::Request, cedar_policy::Entities)>,
}

pub const CEDAR_POLICIES: &str = include_str!("../policies/maintenance.cedar");
pub const REGO_POLICY: &str = include_str!("../policies/maintenance.rego");

impl Cedar {
    pub fn new(cases: &[Case]) -> Self {
        use cedar_policy::{Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet, Request, RestrictedExpression as E};
        let policies = PolicySet::from_str(CEDAR_POLICIES).expect("the Cedar policies parse");
        let codes = policies
            .policies()
            .filter_map(|p| p.annotation("id").map(|code| (p.id().clone(), code.to_string())))
            .collect();
        let uid = |ty: &str, id: &str| EntityUid::from_type_name_and_id(EntityTypeName::from_str(ty).unwrap(), EntityId::new(id));
        let requests = cases
            .iter()
            .map(|c| {
                let d = &c.desc;
                let principal = uid("User", &d.caller.username);
                let attrs = HashMap::from([("role".to_string(), E::new_string(d.caller.role.as_str().into()))]);
                let user = Entity::new(principal.clone(), attrs, Default::default()).unwrap();
                let entities = Entities::from_entities([user], None).unwrap();
                let parent = d.attributes.iter().find(|(k, _)| k == "parent-execution").map_or("", |(_, v)| v.as_str());
                let context = Context::from_pairs([
                    ("state".to_string(), E::new_string(state_name(c.state).into())),
                    ("bypass".to_string(), E::new_bool(d.caller.bypass)),
                    ("method".to_string(), E::new_string(d.method.clone())),
                    ("route".to_string(), E::new_string(d.route.clone())),
                    ("first_segment".to_string(), E::new_string(d.first_segment.clone())),
                    ("parent".to_string(), E::new_string(parent.into())),
                ])
                .unwrap();
                let request =
                    Request::new(principal, uid("Action", &d.method), uid("Route", &d.route), context, None).unwrap();
                (request, entities)
            })
            .collect();
        Cedar { authorizer: cedar_policy::Authorizer::new(), policies, codes, requests }
    }
}

impl Decider for Cedar {
    fn name(&self) -> &str {
        "Cedar"
    }
    fn what(&self) -> String {
        "cedar-policy 4.14, `Authorizer::is_authorized` (bench/peers/policies/maintenance.cedar)".into()
    }
    fn decide(&mut self, i: usize) -> bool {
        let (req, entities) = &self.requests[i];
        self.authorizer.is_authorized(req, &self.policies, entities).decision() == cedar_policy::Decision::Allow
    }
    fn verdict(&mut self, i: usize) -> Verdict {
        let (req, entities) = &self.requests[i];
        let resp = self.authorizer.is_authorized(req, &self.policies, entities);
        assert!(resp.diagnostics().errors().next().is_none(), "Cedar evaluation errors");
        match resp.decision() {
            cedar_policy::Decision::Allow => None,
            cedar_policy::Decision::Deny => {
                let mut codes: Vec<&String> = resp.diagnostics().reason().filter_map(|id| self.codes.get(id)).collect();
                codes.sort();
                Some(codes.first().map_or_else(|| "denied without a forbid".into(), |c| c.to_string()))
            }
        }
    }
}

/// Rego on regorus' interpreter: `data.drydock.code` under the request as `input`.
pub struct Rego {
    engine: regorus::Engine,
    inputs: Vec<regorus::Value>,
}

impl Rego {
    pub fn new(cases: &[Case]) -> Self {
        let mut engine = regorus::Engine::new();
        engine.add_policy("maintenance.rego".into(), REGO_POLICY.into()).expect("the Rego policy parses");
        let inputs = cases
            .iter()
            .map(|c| {
                let d = &c.desc;
                let attributes: serde_json::Map<String, serde_json::Value> = d
                    .attributes
                    .iter()
                    .map(|(k, v)| (if k == "parent-execution" { "parent".into() } else { k.clone() }, v.clone().into()))
                    .collect();
                let json = serde_json::json!({
                    "state": state_name(c.state),
                    "request": { "method": d.method, "path": d.path, "route": d.route, "first_segment": d.first_segment },
                    "caller": { "username": d.caller.username, "role": d.caller.role.as_str(), "bypass": d.caller.bypass },
                    "executions": { "total": if c.state == MaintenanceState::Activating { 2 } else { 0 } },
                    "attributes": attributes,
                });
                regorus::Value::from_json_str(&json.to_string()).unwrap()
            })
            .collect();
        Rego { engine, inputs }
    }

    fn code(&mut self, i: usize) -> regorus::Value {
        self.engine.set_input(self.inputs[i].clone());
        self.engine.eval_rule("data.drydock.code".into()).expect("Rego evaluation")
    }
}

impl Decider for Rego {
    fn name(&self) -> &str {
        "Rego (regorus)"
    }
    fn what(&self) -> String {
        "regorus 0.14 interpreter, `set_input` + `eval_rule` (bench/peers/policies/maintenance.rego)".into()
    }
    fn decide(&mut self, i: usize) -> bool {
        self.code(i) == regorus::Value::from("")
    }
    fn verdict(&mut self, i: usize) -> Verdict {
        let code = self.code(i);
        let code = code.as_string().expect("code is a string").to_string();
        (!code.is_empty()).then_some(code)
    }
}
