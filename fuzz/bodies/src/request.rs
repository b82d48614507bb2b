//! The request descriptor, from arbitrary method, path and header values as the
//! server would receive them: what the gate builds is decided by the shipped
//! default policy without a fault; while deactivated it admits everything, and a
//! refusal is always a 4xx or 5xx.

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use drydock_engine::{Caller, Decision, Engine, ExecutionCounts, ExecutionStatus, Limits, MaintenanceState, Policy, RequestDescriptor, Role, Snapshot};
use drydock_server::api::{API_PREFIX, route_template};

#[derive(Arbitrary, Debug)]
struct Input {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
    username: String,
    admin: bool,
    state: u8,
    pending: u8,
    started: u8,
}

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        // A deadline no load on the fuzzing or testing host trips: the subject is the
        // decision, not the clock.
        let engine = Engine::new(Limits { deadline: std::time::Duration::from_secs(1), ..Limits::default() }).expect("an engine");
        engine.load(drydock_engine::DEFAULT_POLICY).expect("the default policy loads")
    })
}

pub fn run(bytes: &[u8]) {
    // What libFuzzer's typed targets do with the bytes.
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(bytes)) else { return };
    // What hyper would accept as a request line and headers, through the same type.
    let mut builder = http::Request::builder().method(input.method.as_str()).uri(input.uri.as_str());
    for (k, v) in input.headers.iter().take(16) {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let Ok(req) = builder.body(()) else { return };
    let path = req.uri().path();
    let template = route_template(path).unwrap_or_else(|| path.to_string());
    let role = if input.admin { Role::SysAdmin } else { Role::User };
    let caller = Caller { username: input.username.clone(), role, bypass: false };
    let mut desc = RequestDescriptor::new(req.method().as_str(), path, &template, API_PREFIX, caller);
    for (k, v) in req.headers() {
        if let Ok(v) = v.to_str() {
            desc.attributes.push((k.as_str().to_string(), v.to_string()));
        }
    }
    let state = match input.state % 3 {
        0 => MaintenanceState::Deactivated,
        1 => MaintenanceState::Activating,
        _ => MaintenanceState::Activated,
    };
    let counts = ExecutionCounts {
        by_status: vec![(ExecutionStatus::Pending, input.pending as u32), (ExecutionStatus::Started, input.started as u32)],
    };
    let decision = policy().decide(&desc, &Snapshot::new(state, counts)).expect("the default policy decides every request");
    match decision {
        Decision::Allow => {}
        Decision::Deny(d) => {
            assert!((400..600).contains(&d.status), "refused with status {}", d.status);
            assert!(state != MaintenanceState::Deactivated, "refused while deactivated: {desc:?}");
        }
    }
}
