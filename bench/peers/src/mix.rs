//! The request mix every engine decides: 3 states × 5 methods × 16 routes × 4
//! callers = 960 requests, in one fixed shuffled order.

use drydock_engine::{Caller, ExecutionCounts, ExecutionStatus, MaintenanceState, RequestDescriptor, Role, Snapshot};

pub const STATES: [MaintenanceState; 3] =
    [MaintenanceState::Deactivated, MaintenanceState::Activating, MaintenanceState::Activated];
pub const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/// Route templates below `/api/v3.1`: allow-listed, work-starting and plain ones.
pub const ROUTES: [&str; 16] = [
    "status",
    "version",
    "maintenance/{action}",
    "snapshots",
    "snapshots/{id}",
    "snapshots/{id}/restore",
    "snapshot-status",
    "executions",
    "executions/{id}",
    "deployments",
    "deployments/{id}",
    "deployment-modifications",
    "deployment-modifications/{id}/finish",
    "blueprints/{id}",
    "users",
    "tenants",
];
/// (user name, role, bypass header).
pub const CALLERS: [(&str, Role, bool); 4] = [
    ("admin", Role::SysAdmin, true),
    ("admin", Role::SysAdmin, false),
    ("alice", Role::User, true),
    ("alice", Role::User, false),
];

/// One request of the mix, as drydock's host describes it.
pub struct Case {
    pub state: MaintenanceState,
    pub desc: RequestDescriptor,
}

pub fn cases() -> Vec<Case> {
    let mut out = Vec::with_capacity(960);
    for state in STATES {
        for method in METHODS {
            for route in ROUTES {
                for (user, role, bypass) in &CALLERS {
                    let path = format!("/api/v3.1/{}", route.replace("{id}", "42").replace("{action}", "activate"));
                    let caller = Caller { username: (*user).into(), role: role.clone(), bypass: *bypass };
                    let mut desc =
                        RequestDescriptor::new(method, &path, &format!("/api/v3.1/{route}"), "/api/v3.1", caller);
                    // Every fourth POST of an execution names its running parent.
                    if route == "executions" && *bypass && *user == "alice" {
                        desc.attributes.push(("parent-execution".into(), "e1".into()));
                    }
                    out.push(Case { state, desc });
                }
            }
        }
    }
    // A fixed shuffle (xorshift): neighbours differ, as in real traffic.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..out.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.swap(i, (x % (i as u64 + 1)) as usize);
    }
    out
}

/// The state each decision is made under: two executions running while activating.
pub fn snapshot(state: MaintenanceState) -> Snapshot {
    let running = match state {
        MaintenanceState::Activating => vec![(ExecutionStatus::Started, 2)],
        _ => vec![],
    };
    Snapshot::new(state, ExecutionCounts { by_status: running })
}
