//! Cloudify Manager's maintenance-mode admission rules (reference spec §2), as
//! pure functions over plain data, and drydock's additions: a refusal names the
//! operator's reason and says when to come back; work a running execution starts (a
//! child workflow) still passes while activating.

use drydock_policy_sdk::{Decision, Denial, Input, MaintenanceState, Request};

/// What a refused client reads (Cloudify says "Cloudify manager" here).
pub const MESSAGE: &str =
    "Your request was rejected since drydock is currently in maintenance mode";
/// Error code while activated (the client raises `MaintenanceModeActiveError`).
pub const ACTIVE: &str = "maintenance_mode_active";
/// Error code while activating (`MaintenanceModeActivatingError`).
pub const ACTIVATING: &str = "entering_maintenance_mode";

/// `Retry-After` when the host announces no end of maintenance: a minute.
pub const RETRY_DEFAULT: u32 = 60;
/// The attributes the host sends (drydock's host: the maintenance row's reason,
/// the seconds until its announced end, the verified parent of a new execution).
pub const REASON: &str = "maintenance.reason";
pub const RETRY_AFTER: &str = "maintenance.retry-after";
pub const PARENT: &str = "parent-execution";

/// First path segments still served while activated: what the CLI needs to
/// look at the manager and to leave maintenance mode, and snapshots.
pub const ALLOWED_WHILE_ACTIVATED: &[&str] = &[
    "status",
    "version",
    "ok",
    "maintenance",
    "license",
    "config",
    "managers",
    "brokers",
    "db-nodes",
    "cluster",
    "cluster-status",
    "file-server-auth",
    "snapshots",
    "snapshot-status",
];

pub fn decide(input: &Input) -> Decision {
    if admin_bypass(input) {
        return Decision::Allow;
    }
    match input.state {
        MaintenanceState::Deactivated => Decision::Allow,
        MaintenanceState::Activated if !allowed_while_activated(&input.request) => refuse(input, ACTIVE),
        // A running execution's child execution is part of what activating waits for.
        MaintenanceState::Activating if starts_work(&input.request) && !is_child_execution(input) => {
            refuse(input, ACTIVATING)
        }
        _ => Decision::Allow,
    }
}

/// A new execution started by a running one: the host verified the parent and
/// names it. Only an execution: other work (a deployment update) waits like any.
pub fn is_child_execution(input: &Input) -> bool {
    input.attribute(PARENT).is_some_and(|p| !p.is_empty())
        && input.request.method == "POST"
        && input.request.route.trim_matches('/') == "executions"
}

/// The seconds until the announced end, as the host counts them.
pub fn announced_retry(input: &Input) -> Option<u32> {
    input.attribute(RETRY_AFTER).and_then(|s| s.parse().ok()).filter(|s| *s > 0)
}

/// A maintenance refusal: the operator's reason in the message, and when to retry
/// (the announced end, else [`RETRY_DEFAULT`]).
pub fn refuse(input: &Input, error_code: &str) -> Decision {
    let message = match input.attribute(REASON).filter(|r| !r.is_empty()) {
        Some(reason) => format!("{MESSAGE}: {reason}"),
        None => MESSAGE.into(),
    };
    Decision::Deny(Denial {
        status: 503,
        error_code: error_code.into(),
        message,
        retry_after: Some(announced_retry(input).unwrap_or(RETRY_DEFAULT)),
    })
}

/// The bypass header counts only from someone who may toggle maintenance.
pub fn admin_bypass(input: &Input) -> bool {
    input.caller.bypass && input.caller.role == "sys_admin"
}

/// Exact first-segment match: `snapshot-status` is allowed on its own
/// merits, `statusx` is not allowed because `status` is.
pub fn allowed_while_activated(req: &Request) -> bool {
    ALLOWED_WHILE_ACTIVATED.contains(&req.first_segment.as_str())
}

/// Requests that would start new work, refused while running work drains.
/// Reads, execution cancel (`POST executions/{id}`), worker progress
/// (`PATCH executions/{id}`) and deployment delete still pass.
pub fn starts_work(req: &Request) -> bool {
    // Matched segment by segment, without collecting them: this runs per decision.
    let mut segments = req.route.trim_matches('/').split('/');
    match [segments.next(), segments.next(), segments.next(), segments.next()] {
        [Some("snapshots"), Some(_), Some("restore"), None] => true,
        [Some("executions"), None, ..] | [Some("deployments" | "snapshots"), Some(_), None, _] => writes(req),
        [Some("deployment-modifications"), ..] => writes(req),
        _ => false,
    }
}

/// POST, PUT or PATCH.
pub fn writes(req: &Request) -> bool {
    matches!(req.method.as_str(), "POST" | "PUT" | "PATCH")
}


/// Builders shared with other policies' tests (the strict policy reuses them).
pub mod test_support {
    use drydock_policy_sdk::{Caller, Executions, Input, MaintenanceState, Request};

    /// A request on `route` (a template below the API version); the concrete
    /// path substitutes `42` for each `{...}`.
    pub fn input(state: MaintenanceState, method: &str, route: &str) -> Input {
        let path: Vec<&str> = route
            .split('/')
            .map(|s| if s.starts_with('{') { "42" } else { s })
            .collect();
        Input {
            request: Request {
                method: method.into(),
                path: format!("/api/v3.1/{}", path.join("/")),
                route: route.into(),
                first_segment: route.split('/').next().unwrap_or_default().into(),
            },
            caller: Caller {
                username: "alice".into(),
                role: "user".into(),
                bypass: false,
            },
            state,
            executions: Executions::default(),
            attributes: vec![],
        }
    }

    pub fn as_caller(mut input: Input, role: &str, bypass: bool) -> Input {
        input.caller.role = role.into();
        input.caller.bypass = bypass;
        input
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{as_caller, input};
    use super::*;
    use MaintenanceState::*;

    const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

    fn allowed(state: MaintenanceState, method: &str, route: &str) -> bool {
        decide(&input(state, method, route)) == Decision::Allow
    }

    fn refused_with(state: MaintenanceState, method: &str, route: &str) -> Option<String> {
        match decide(&input(state, method, route)) {
            Decision::Allow => None,
            Decision::Deny(d) => {
                assert_eq!(
                    (d.status, d.message.as_str(), d.retry_after),
                    (503, MESSAGE, Some(RETRY_DEFAULT))
                );
                Some(d.error_code)
            }
        }
    }

    #[test]
    fn deactivated_allows_everything() {
        for route in [
            "executions",
            "executions/{id}",
            "deployments/{id}",
            "snapshots/{id}/restore",
            "users",
            "blueprints/{id}",
        ] {
            for m in METHODS {
                assert!(allowed(Deactivated, m, route), "{m} {route}");
            }
        }
    }

    #[test]
    fn activated_allows_each_listed_first_segment_with_any_method() {
        for seg in ALLOWED_WHILE_ACTIVATED {
            for route in [
                seg.to_string(),
                format!("{seg}/{{id}}"),
                format!("{seg}/{{id}}/restore"),
            ] {
                for m in METHODS {
                    assert!(allowed(Activated, m, &route), "{m} {route}");
                }
            }
        }
    }

    #[test]
    fn activated_refuses_everything_else_even_reads() {
        for route in [
            "executions",
            "executions/{id}",
            "deployments/{id}",
            "blueprints/{id}",
            "users",
            "tokens",
            "events",
            "deployment-modifications",
            "plugins",
        ] {
            for m in METHODS {
                assert_eq!(
                    refused_with(Activated, m, route).as_deref(),
                    Some(ACTIVE),
                    "{m} {route}"
                );
            }
        }
    }

    #[test]
    fn activated_matches_first_segment_exactly() {
        // `snapshot-status` is listed itself; near-misses of listed names are not.
        assert!(allowed(Activated, "GET", "snapshot-status"));
        for seg in [
            "statusx",
            "xstatus",
            "stat",
            "Status",
            "snapshot",
            "cluster-statusx",
            "okay",
            "versions",
            "",
        ] {
            assert_eq!(
                refused_with(Activated, "GET", seg).as_deref(),
                Some(ACTIVE),
                "{seg:?}"
            );
        }
    }

    #[test]
    fn activated_decides_on_first_segment_not_route() {
        let mut i = input(Activated, "GET", "status");
        i.request.first_segment = "executions".into();
        assert!(matches!(decide(&i), Decision::Deny(_)));
    }

    #[test]
    fn activating_refuses_starting_an_execution() {
        for m in ["POST", "PUT", "PATCH"] {
            assert_eq!(
                refused_with(Activating, m, "executions").as_deref(),
                Some(ACTIVATING),
                "{m}"
            );
        }
        for m in ["GET", "DELETE"] {
            assert!(allowed(Activating, m, "executions"), "{m}");
        }
    }

    #[test]
    fn activating_lets_running_executions_finish() {
        // cancel (POST), worker status updates (PATCH), reads.
        for m in METHODS {
            assert!(allowed(Activating, m, "executions/{id}"), "{m}");
        }
    }

    #[test]
    fn activating_refuses_deployment_create_and_update_only() {
        for m in ["POST", "PUT", "PATCH"] {
            assert_eq!(
                refused_with(Activating, m, "deployments/{id}").as_deref(),
                Some(ACTIVATING),
                "{m}"
            );
        }
        for m in ["GET", "DELETE"] {
            assert!(allowed(Activating, m, "deployments/{id}"), "{m}");
        }
        for m in METHODS {
            assert!(allowed(Activating, m, "deployments"), "{m}");
        }
    }

    #[test]
    fn activating_refuses_deployment_modifications_and_below() {
        for route in [
            "deployment-modifications",
            "deployment-modifications/{id}",
            "deployment-modifications/{id}/finish",
        ] {
            for m in ["POST", "PUT", "PATCH"] {
                assert_eq!(
                    refused_with(Activating, m, route).as_deref(),
                    Some(ACTIVATING),
                    "{m} {route}"
                );
            }
            for m in ["GET", "DELETE"] {
                assert!(allowed(Activating, m, route), "{m} {route}");
            }
        }
    }

    #[test]
    fn activating_refuses_snapshot_create() {
        for m in ["POST", "PUT", "PATCH"] {
            assert_eq!(
                refused_with(Activating, m, "snapshots/{id}").as_deref(),
                Some(ACTIVATING),
                "{m}"
            );
        }
        for m in ["GET", "DELETE"] {
            assert!(allowed(Activating, m, "snapshots/{id}"), "{m}");
        }
        for m in METHODS {
            assert!(allowed(Activating, m, "snapshots"), "{m}");
        }
    }

    #[test]
    fn activating_refuses_snapshot_restore_with_any_method() {
        for m in METHODS {
            assert_eq!(
                refused_with(Activating, m, "snapshots/{id}/restore").as_deref(),
                Some(ACTIVATING),
                "{m}"
            );
        }
    }

    #[test]
    fn activating_allows_everything_else() {
        for route in [
            "blueprints/{id}",
            "plugins",
            "users",
            "tokens",
            "events",
            "status",
            "maintenance/{action}",
            "snapshots/{id}/archive",
        ] {
            for m in METHODS {
                assert!(allowed(Activating, m, route), "{m} {route}");
            }
        }
    }

    #[test]
    fn admin_bypass_skips_every_check() {
        for state in [Activating, Activated] {
            for route in [
                "executions",
                "deployments/{id}",
                "snapshots/{id}/restore",
                "users",
            ] {
                let i = as_caller(input(state, "POST", route), "sys_admin", true);
                assert_eq!(decide(&i), Decision::Allow, "{state:?} {route}");
            }
        }
    }

    #[test]
    fn bypass_from_anyone_else_is_ignored() {
        for role in ["user", "default", "operator", ""] {
            let i = as_caller(input(Activated, "GET", "users"), role, true);
            assert!(matches!(decide(&i), Decision::Deny(_)), "{role}");
            let i = as_caller(input(Activating, "POST", "executions"), role, true);
            assert!(matches!(decide(&i), Decision::Deny(_)), "{role}");
        }
    }

    #[test]
    fn admin_without_bypass_is_refused_like_anyone() {
        let i = as_caller(input(Activated, "GET", "users"), "sys_admin", false);
        assert!(matches!(decide(&i), Decision::Deny(_)));
        let i = as_caller(
            input(Activating, "PUT", "deployments/{id}"),
            "sys_admin",
            false,
        );
        assert!(matches!(decide(&i), Decision::Deny(_)));
    }

    #[test]
    fn route_tolerates_surrounding_slashes() {
        assert_eq!(
            refused_with(Activating, "POST", "/executions/").as_deref(),
            Some(ACTIVATING)
        );
    }

    fn with(mut i: Input, attributes: &[(&str, &str)]) -> Input {
        i.attributes = attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        i
    }

    #[test]
    fn a_refusal_names_the_reason_and_the_announced_end() {
        let i = with(input(Activated, "GET", "deployments"), &[(REASON, "disk swap"), (RETRY_AFTER, "1800")]);
        let Decision::Deny(d) = decide(&i) else { panic!("allowed") };
        assert_eq!(d.message, format!("{MESSAGE}: disk swap"));
        assert_eq!(d.retry_after, Some(1800));
        // No end announced, or a nonsense one: a minute.
        let i = with(input(Activating, "POST", "executions"), &[(RETRY_AFTER, "soon")]);
        let Decision::Deny(d) = decide(&i) else { panic!("allowed") };
        assert_eq!((d.message.as_str(), d.retry_after), (MESSAGE, Some(RETRY_DEFAULT)));
    }

    #[test]
    fn a_child_of_a_running_execution_starts_while_activating_but_not_once_activated() {
        let child = with(input(Activating, "POST", "executions"), &[(PARENT, "e1")]);
        assert_eq!(decide(&child), Decision::Allow);
        let empty = with(input(Activating, "POST", "executions"), &[(PARENT, "")]);
        assert!(matches!(decide(&empty), Decision::Deny(_)), "an empty parent is no parent");
        let child = with(input(Activated, "POST", "executions"), &[(PARENT, "e1")]);
        assert!(matches!(decide(&child), Decision::Deny(d) if d.error_code == ACTIVE));
        let update = with(input(Activating, "PUT", "deployments/{id}"), &[(PARENT, "e1")]);
        assert!(matches!(decide(&update), Decision::Deny(d) if d.error_code == ACTIVATING), "only executions");
    }
}
