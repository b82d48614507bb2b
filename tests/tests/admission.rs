//! Admission by the default policy component, over real HTTP: each maintenance state
//! against each class of route, the bypass header, unrouted paths.

use drydock_e2e::{Client, Resp, Server};
use serde_json::json;

fn blocked(r: &Resp, code: &str) {
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.error_code(), code, "{}", r.text);
    assert!(r.json()["message"].as_str().unwrap().contains("maintenance mode"), "{}", r.text);
    assert!(r.header("x-drydock-policy").unwrap().starts_with("cloudify-default@"), "{:?}", r.headers);
}

/// Admitted by the policy and served: exactly the status the handler answers.
fn passed(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "expected the request to pass the gate and be served: {}", r.text);
    assert!(r.header("x-drydock-policy").unwrap().starts_with("cloudify-default@"), "{:?}", r.headers);
}

/// A deployment with one pending execution that no worker runs: keeps the manager activating.
fn hold_activation(admin: &Client) -> String {
    admin.create_deployment("held");
    let e = admin.start_execution("held", "install", json!({}));
    assert_eq!(e.status, 201, "{}", e.text);
    e.json()["id"].as_str().unwrap().to_string()
}

#[test]
fn deactivated_blocks_nothing() {
    let s = Server::start();
    let admin = s.admin();
    let r = admin.create_deployment("d1");
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.header("x-drydock-policy").is_some());
    passed(&admin.start_execution("d1", "install", json!({})), 201);
    passed(&admin.get("/api/v3.1/executions"), 200);
    passed(&admin.get("/api/v3.1/deployments"), 200);
    passed(&admin.get("/api/v3.1/status"), 200);
}

#[test]
fn activating_blocks_only_what_starts_work() {
    let s = Server::start();
    let admin = s.admin();
    let held = hold_activation(&admin);
    admin.create_deployment("other");
    assert_eq!(admin.post("/api/v3.1/maintenance/activate", &json!({})).json()["status"], "activating");

    blocked(&admin.start_execution("held", "install", json!({})), "entering_maintenance_mode");
    blocked(&admin.create_deployment("new-one"), "entering_maintenance_mode");

    // Reads, cancels, worker reports and deletes pass.
    passed(&admin.get("/api/v3.1/executions"), 200);
    passed(&admin.get(&format!("/api/v3.1/executions/{held}")), 200);
    passed(&admin.get("/api/v3.1/deployments"), 200);
    passed(&admin.get("/api/v3.1/deployments/held"), 200);
    passed(&admin.get("/api/v3.1/status"), 200);
    passed(&admin.get(&format!("/api/v3.1/events?execution_id={held}")), 200);
    let r = admin.delete("/api/v3.1/deployments/other");
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin.patch(&format!("/api/v3.1/executions/{held}"), &json!({"status": "started"}));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin.post(&format!("/api/v3.1/executions/{held}"), &json!({"action": "cancel"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "cancelling");
}

#[test]
fn activated_allows_only_the_allow_list() {
    let s = Server::start();
    let user = s.user("carol");
    let admin = s.admin();
    admin.create_deployment("d");
    assert_eq!(admin.post("/api/v3.1/maintenance/activate", &json!({})).json()["status"], "activated");

    for path in ["/api/v3.1/deployments", "/api/v3.1/deployments/d", "/api/v3.1/executions", "/api/v3.1/users", "/api/v3.1/events?execution_id=x"] {
        blocked(&admin.get(path), "maintenance_mode_active");
    }
    blocked(&admin.create_deployment("e"), "maintenance_mode_active");
    blocked(&admin.start_execution("d", "install", json!({})), "maintenance_mode_active");

    for path in ["/api/v3.1/status", "/api/v3.1/version", "/api/v3.1/maintenance", "/api/v3.1/managers", "/api/v3.1/brokers", "/api/v3.1/db-nodes", "/api/version", "/api/v3.1/ok"] {
        let r = admin.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
    // Non-admins are refused too; the allow-list is for everyone.
    blocked(&user.get("/api/v3.1/deployments"), "maintenance_mode_active");
    assert_eq!(user.get("/api/v3.1/status").status, 200);
}

#[test]
fn bypass_works_for_admins_only() {
    let s = Server::start();
    let user = s.user("bob");
    let admin = s.admin();
    admin.create_deployment("d");
    admin.post("/api/v3.1/maintenance/activate", &json!({}));

    let r = admin.req("GET", "/api/v3.1/deployments").header("X-BYPASS-MAINTENANCE", "true").send();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin
        .req("PUT", "/api/v3.1/deployments/by-admin")
        .header("X-BYPASS-MAINTENANCE", "yes")
        .json(&json!({}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text);

    let r = user.req("GET", "/api/v3.1/deployments").header("X-BYPASS-MAINTENANCE", "true").send();
    blocked(&r, "maintenance_mode_active");
    // An empty header is no bypass.
    let r = admin.req("GET", "/api/v3.1/deployments").header("X-BYPASS-MAINTENANCE", "").send();
    blocked(&r, "maintenance_mode_active");
}

#[test]
fn unrouted_paths_are_404_not_503() {
    let s = Server::start();
    let admin = s.admin();
    admin.post("/api/v3.1/maintenance/activate", &json!({}));
    for path in ["/api/v3.1/no-such-thing", "/api/v3.1/statusx", "/nowhere"] {
        let r = admin.get(path);
        assert_eq!(r.status, 404, "{path}: {}", r.text);
        assert_eq!(r.error_code(), "not_found_error");
    }
}
