//! drydock's default policy: Cloudify Manager's maintenance-mode rules.

pub mod rules;

use drydock_policy_sdk::{Decision, Input, Policy};

pub struct CloudifyDefault;

impl Policy for CloudifyDefault {
    fn name() -> &'static str {
        "cloudify-default"
    }
    fn version() -> &'static str {
        "1.2.0"
    }
    fn decide(input: &Input) -> Decision {
        rules::decide(input)
    }
}

#[cfg(feature = "component")]
drydock_policy_sdk::export_policy!(CloudifyDefault);
