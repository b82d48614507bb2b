//! drydock's strict policy: the default rules, plus no blueprint or plugin
//! uploads while activating, and a `Retry-After` on every refusal.

pub mod rules;

use drydock_policy_sdk::{Decision, Input, Policy};

pub struct CloudifyStrict;

impl Policy for CloudifyStrict {
    fn name() -> &'static str {
        "cloudify-strict"
    }
    fn version() -> &'static str {
        "1.2.0"
    }
    fn decide(input: &Input) -> Decision {
        rules::decide(input)
    }
}

drydock_policy_sdk::export_policy!(CloudifyStrict);
