//! The default rules, tightened: while activating, uploads of blueprints and
//! plugins are refused too (they usually precede new work), and every refusal
//! says when to retry.

use drydock_policy_default::rules as default;
use drydock_policy_sdk::{Decision, Input, MaintenanceState, Request};

/// `Retry-After` while activated with no end announced: maintenance usually lasts a while.
pub const RETRY_ACTIVATED: u32 = 300;
/// `Retry-After` while activating: running executions are draining.
pub const RETRY_ACTIVATING: u32 = 30;

pub fn decide(input: &Input) -> Decision {
    let decision = match default::decide(input) {
        Decision::Allow
            if input.state == MaintenanceState::Activating
                && !default::admin_bypass(input)
                && uploads(&input.request) =>
        {
            default::refuse(input, default::ACTIVATING)
        }
        decision => decision,
    };
    match decision {
        Decision::Deny(mut d) => {
            // The announced end when there is one; otherwise its own estimates.
            d.retry_after = Some(default::announced_retry(input).unwrap_or(match input.state {
                MaintenanceState::Activated => RETRY_ACTIVATED,
                _ => RETRY_ACTIVATING,
            }));
            Decision::Deny(d)
        }
        allow => allow,
    }
}

/// PUT or POST on `blueprints/{id}` (and below) or on `plugins` (and below).
pub fn uploads(req: &Request) -> bool {
    let mut segments = req.route.trim_matches('/').split('/');
    let target = matches!(
        (segments.next(), segments.next()),
        (Some("blueprints"), Some(_)) | (Some("plugins"), _)
    );
    target && matches!(req.method.as_str(), "PUT" | "POST")
}

#[cfg(test)]
mod tests {
    use super::*;
    use MaintenanceState::*;
    use drydock_policy_default::rules::test_support::{as_caller, input};
    use drydock_policy_sdk::Denial;

    const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

    fn denial(state: MaintenanceState, method: &str, route: &str) -> Option<Denial> {
        match decide(&input(state, method, route)) {
            Decision::Allow => None,
            Decision::Deny(d) => Some(d),
        }
    }

    #[test]
    fn activating_refuses_blueprint_uploads() {
        for route in ["blueprints/{id}", "blueprints/{id}/archive"] {
            for m in ["PUT", "POST"] {
                let d =
                    denial(Activating, m, route).unwrap_or_else(|| panic!("{m} {route} allowed"));
                assert_eq!(
                    (d.status, d.error_code.as_str(), d.retry_after),
                    (503, default::ACTIVATING, Some(30))
                );
            }
            for m in ["GET", "PATCH", "DELETE"] {
                assert_eq!(denial(Activating, m, route), None, "{m} {route}");
            }
        }
        // Listing blueprints is not an upload.
        for m in METHODS {
            assert_eq!(denial(Activating, m, "blueprints"), None, "{m}");
        }
    }

    #[test]
    fn activating_refuses_plugin_uploads() {
        for route in ["plugins", "plugins/{id}"] {
            for m in ["PUT", "POST"] {
                assert!(denial(Activating, m, route).is_some(), "{m} {route}");
            }
            for m in ["GET", "PATCH", "DELETE"] {
                assert_eq!(denial(Activating, m, route), None, "{m} {route}");
            }
        }
    }

    #[test]
    fn activating_keeps_the_default_refusals_with_retry_after() {
        for (m, route) in [
            ("POST", "executions"),
            ("PUT", "deployments/{id}"),
            ("PATCH", "deployment-modifications"),
            ("POST", "snapshots/{id}"),
            ("GET", "snapshots/{id}/restore"),
        ] {
            let d = denial(Activating, m, route).unwrap_or_else(|| panic!("{m} {route} allowed"));
            assert_eq!(
                (
                    d.status,
                    d.error_code.as_str(),
                    d.message.as_str(),
                    d.retry_after
                ),
                (
                    503,
                    default::ACTIVATING,
                    default::MESSAGE,
                    Some(RETRY_ACTIVATING)
                )
            );
        }
        for (m, route) in [
            ("POST", "executions/{id}"),
            ("PATCH", "executions/{id}"),
            ("DELETE", "deployments/{id}"),
            ("GET", "executions"),
        ] {
            assert_eq!(denial(Activating, m, route), None, "{m} {route}");
        }
    }

    #[test]
    fn activated_refusals_carry_retry_after_300() {
        for route in ["executions", "blueprints/{id}", "plugins", "users"] {
            let d = denial(Activated, "GET", route).unwrap();
            assert_eq!(
                (d.status, d.error_code.as_str(), d.retry_after),
                (503, default::ACTIVE, Some(RETRY_ACTIVATED))
            );
        }
        for seg in default::ALLOWED_WHILE_ACTIVATED {
            assert_eq!(denial(Activated, "POST", seg), None, "{seg}");
        }
        assert!(denial(Activated, "GET", "statusx").is_some());
    }

    #[test]
    fn deactivated_allows_everything() {
        for route in [
            "executions",
            "blueprints/{id}",
            "plugins",
            "snapshots/{id}/restore",
        ] {
            for m in METHODS {
                assert_eq!(denial(Deactivated, m, route), None, "{m} {route}");
            }
        }
    }

    #[test]
    fn admin_bypass_skips_the_extra_rules_too() {
        for route in ["blueprints/{id}", "plugins", "executions"] {
            let i = as_caller(input(Activating, "PUT", route), "sys_admin", true);
            assert_eq!(decide(&i), Decision::Allow, "{route}");
        }
        let i = as_caller(input(Activated, "GET", "users"), "sys_admin", true);
        assert_eq!(decide(&i), Decision::Allow);
    }

    #[test]
    fn bypass_from_a_non_admin_is_ignored() {
        let i = as_caller(input(Activating, "PUT", "blueprints/{id}"), "user", true);
        assert!(matches!(decide(&i), Decision::Deny(_)));
        let i = as_caller(input(Activated, "GET", "users"), "user", true);
        assert!(matches!(decide(&i), Decision::Deny(_)));
    }
}
