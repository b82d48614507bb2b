//! The maintenance endpoints over real HTTP: fields, 304s, 403, 400, 401, the eager
//! transition, and state that survives restarts.

use drydock_e2e::Server;
use serde_json::json;

#[test]
fn deactivated_state_has_empty_text_fields() {
    let s = Server::start();
    let m = s.admin().maintenance();
    assert_eq!(m["status"], "deactivated");
    assert_eq!(m["activated_at"], "");
    assert_eq!(m["activation_requested_at"], "");
    assert_eq!(m["requested_by"], "");
    assert!(m["remaining_executions"].is_null());
}

#[test]
fn activate_deactivate_and_their_repeats() {
    let s = Server::start();
    let admin = s.admin();

    let r = admin.post("/api/v3.1/maintenance/activate", &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let m = r.json();
    assert_eq!(m["status"], "activated");
    assert_eq!(m["requested_by"], "admin");
    let at = m["activated_at"].as_str().unwrap();
    // ISO 8601 UTC with milliseconds and Z, e.g. 2017-04-04T05:16:21.407Z
    assert_eq!(at.len(), 24, "{at}");
    assert!(at.ends_with('Z') && at.as_bytes()[19] == b'.', "{at}");
    assert_eq!(m["activation_requested_at"], m["activated_at"]);

    let again = admin.post("/api/v3.1/maintenance/activate", &json!({}));
    assert_eq!(again.status, 304);
    assert_eq!(again.text, "");

    let r = admin.post("/api/v3.1/maintenance/deactivate", &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let d = r.json();
    assert_eq!(d["status"], "deactivated");
    assert_eq!(d["activated_at"], m["activated_at"], "deactivate returns the previous fields");
    assert_eq!(d["requested_by"], "admin");

    let again = admin.post("/api/v3.1/maintenance/deactivate", &json!({}));
    assert_eq!(again.status, 304);
    assert_eq!(admin.maintenance()["status"], "deactivated");
}

#[test]
fn only_admins_change_the_mode_and_only_known_actions() {
    let s = Server::start();
    let user = s.user("alice");
    let r = user.post("/api/v3.1/maintenance/activate", &json!({}));
    assert_eq!(r.status, 403);
    assert_eq!(r.error_code(), "forbidden_error");
    assert_eq!(user.maintenance()["status"], "deactivated", "any user may read");

    let r = s.admin().post("/api/v3.1/maintenance/sideways", &json!({}));
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "bad_parameters_error");
    assert_eq!(
        r.json()["message"],
        "Invalid action: sideways, Valid action values are: ['activate', 'deactivate']"
    );
    assert_eq!(s.admin().maintenance()["status"], "deactivated");
}

#[test]
fn credentials_are_checked_first() {
    let s = Server::start();
    let r = s.anon().get("/api/v3.1/maintenance");
    assert_eq!(r.status, 401);
    assert_eq!(r.error_code(), "unauthorized_error");
    let r = s.client("admin", "wrong").get("/api/v3.1/maintenance");
    assert_eq!(r.status, 401);
    // Even in maintenance, a bad password is a 401, not a 503.
    s.admin().post("/api/v3.1/maintenance/activate", &json!({}));
    let r = s.client("admin", "wrong").get("/api/v3.1/deployments");
    assert_eq!(r.status, 401);
    // The two unauthenticated routes.
    assert_eq!(s.anon().get("/api/version").status, 200);
    assert_eq!(s.anon().get("/api/v3.1/ok").status, 200);
}

#[test]
fn activating_waits_for_executions_and_flips_the_moment_the_last_ends() {
    let s = Server::start();
    let admin = s.admin();
    admin.create_deployment("web");
    // A workflow no built-in worker runs: it stays pending until reported on.
    let e1 = admin.start_execution("web", "install", json!({})).json();
    let e2 = admin.start_execution("web", "install", json!({})).json();

    let m = admin.post("/api/v3.1/maintenance/activate", &json!({})).json();
    assert_eq!(m["status"], "activating");
    assert!(m["activated_at"].is_null());
    let remaining = m["remaining_executions"].as_array().unwrap();
    assert_eq!(remaining.len(), 2, "a flat list: {m}");
    assert_eq!(remaining[0]["workflow_id"], "install");
    assert_eq!(remaining[0]["deployment_id"], "web");
    assert_eq!(remaining[0]["status"], "pending");

    let p = |id: &serde_json::Value, status: &str| {
        let r = admin.patch(&format!("/api/v3.1/executions/{}", id.as_str().unwrap()), &json!({"status": status}));
        assert_eq!(r.status, 200, "{}", r.text);
    };
    p(&e1["id"], "started");
    p(&e1["id"], "terminated");
    let m = admin.maintenance();
    assert_eq!(m["status"], "activating");
    assert_eq!(m["remaining_executions"].as_array().unwrap().len(), 1);

    p(&e2["id"], "failed");
    // Eager: the very next read shows activated, with the moment of the flip.
    let m = admin.maintenance();
    assert_eq!(m["status"], "activated", "{m}");
    assert!(m["remaining_executions"].is_null());
    let ended = admin.get(&format!("/api/v3.1/executions/{}", e2["id"].as_str().unwrap()));
    // Executions are blocked now; the admin reads with the bypass header.
    assert_eq!(ended.status, 503);
    let ended = admin
        .req("GET", &format!("/api/v3.1/executions/{}", e2["id"].as_str().unwrap()))
        .header("X-BYPASS-MAINTENANCE", "true")
        .send()
        .json();
    assert!(m["activated_at"].as_str().unwrap() >= ended["ended_at"].as_str().unwrap());
}

#[test]
fn the_built_in_sleep_workflow_holds_activation_until_it_ends() {
    let s = Server::start();
    let admin = s.admin();
    admin.create_deployment("d");
    let e = admin.start_execution("d", "sleep", json!({"seconds": "1"}));
    assert_eq!(e.status, 201, "{}", e.text);
    let m = admin.post("/api/v3.1/maintenance/activate", &json!({})).json();
    assert_eq!(m["status"], "activating");
    admin.wait_for(20, "activation", |c| c.maintenance()["status"] == "activated");
    let events = admin
        .req("GET", &format!("/api/v3.1/events?execution_id={}", e.json()["id"].as_str().unwrap()))
        .header("X-BYPASS-MAINTENANCE", "1")
        .send()
        .json();
    let types: Vec<_> = events["items"].as_array().unwrap().iter().map(|e| e["event_type"].clone()).collect();
    assert_eq!(types, vec![json!("workflow_queued"), json!("workflow_started"), json!("workflow_terminated")]);
}

#[test]
fn state_survives_a_restart_even_mid_activating() {
    let mut s = Server::start();
    let admin = s.admin();
    admin.create_deployment("d");
    let e = admin.start_execution("d", "install", json!({})).json();
    admin.post("/api/v3.1/maintenance/activate", &json!({}));

    s.restart();
    let admin = s.admin();
    let m = admin.maintenance();
    assert_eq!(m["status"], "activating", "{m}");
    assert_eq!(m["remaining_executions"][0]["id"], e["id"]);
    // Still refusing new work after the restart.
    assert_eq!(admin.start_execution("d", "install", json!({})).status, 503);

    let r = admin.patch(&format!("/api/v3.1/executions/{}", e["id"].as_str().unwrap()), &json!({"status": "cancelled"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(admin.maintenance()["status"], "activated");

    s.restart();
    let m = s.admin().maintenance();
    assert_eq!(m["status"], "activated");
    assert_eq!(m["requested_by"], "admin");
}

#[test]
fn a_sleep_started_before_a_restart_finishes_after_it() {
    let mut s = Server::start();
    let admin = s.admin();
    admin.create_deployment("d");
    let e = admin.start_execution("d", "sleep", json!({"seconds": 2})).json();
    admin.post("/api/v3.1/maintenance/activate", &json!({}));
    s.restart();
    let admin = s.admin();
    admin.wait_for(20, "the resumed sleep to end", |c| c.maintenance()["status"] == "activated");
    let got = admin
        .req("GET", &format!("/api/v3.1/executions/{}", e["id"].as_str().unwrap()))
        .header("X-BYPASS-MAINTENANCE", "1")
        .send()
        .json();
    assert_eq!(got["status"], "terminated");
}
