//! The wasm side: bindings generated from `wit/` and the conversions between
//! them and the plain types. Only `export_policy!` uses this module.

pub use std::string::String;

pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "drydock:policy/policy",
        // Expanded in the policy's crate, so it must be reachable from there.
        pub_export_macro: true,
        export_macro_name: "__drydock_export_world",
        runtime_path: "::drydock_policy_sdk::__guest::rt",
    });
}

pub use wit_bindgen::rt;

use crate::{
    Caller, Decision, ExecutionStatus, Executions, Input, MaintenanceState, Policy, Request,
};
use bindings as wit;

/// Convert, decide, convert back.
pub fn decide<P: Policy>(input: wit::Input) -> wit::Decision {
    match P::decide(&from_wit(input)) {
        Decision::Allow => wit::Decision::Allow,
        Decision::Deny(d) => wit::Decision::Deny(wit::Denial {
            status: d.status,
            error_code: d.error_code,
            message: d.message,
            retry_after: d.retry_after,
        }),
    }
}

fn from_wit(i: wit::Input) -> Input {
    Input {
        request: Request {
            method: i.request.method,
            path: i.request.path,
            route: i.request.route,
            first_segment: i.request.first_segment,
        },
        caller: Caller {
            username: i.caller.username,
            role: i.caller.role,
            bypass: i.caller.bypass,
        },
        state: match i.state {
            wit::MaintenanceState::Deactivated => MaintenanceState::Deactivated,
            wit::MaintenanceState::Activating => MaintenanceState::Activating,
            wit::MaintenanceState::Activated => MaintenanceState::Activated,
        },
        executions: Executions {
            total: i.executions.total,
            by_status: i
                .executions
                .by_status
                .into_iter()
                .map(|c| (status(c.status), c.count))
                .collect(),
        },
        attributes: i.attributes,
    }
}

fn status(s: wit::ExecutionStatus) -> ExecutionStatus {
    use wit::ExecutionStatus as W;
    match s {
        W::Pending => ExecutionStatus::Pending,
        W::Started => ExecutionStatus::Started,
        W::Cancelling => ExecutionStatus::Cancelling,
        W::ForceCancelling => ExecutionStatus::ForceCancelling,
        W::KillCancelling => ExecutionStatus::KillCancelling,
        W::Queued => ExecutionStatus::Queued,
        W::Scheduled => ExecutionStatus::Scheduled,
    }
}
