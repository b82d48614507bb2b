//! Changing a user takes effect at once: a new password, a new role or a deletion
//! is in force on the very next request, though the old credentials were cached.

use drydock_e2e::Server;
use serde_json::json;

#[test]
fn password_role_and_deletion_take_effect_on_the_next_request() {
    let s = Server::start();
    let admin = s.admin();
    let frank = s.user("frank"); // password "user-secret"
    assert_eq!(frank.get("/api/v3.1/status").status, 200, "verified, and so cached");
    assert_eq!(frank.post("/api/v3.1/users/frank", &json!({"password": "anything"})).status, 403, "sys_admin only");

    let r = admin.post("/api/v3.1/users/frank", &json!({"password": "new-secret"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(frank.get("/api/v3.1/status").status, 401, "the old password no longer works, cached or not");
    let frank = s.client("frank", "new-secret");
    assert_eq!(frank.get("/api/v3.1/status").status, 200);

    assert_eq!(frank.post("/api/v3.1/maintenance/activate", &json!({})).status, 403);
    let r = admin.post("/api/v3.1/users/frank", &json!({"role": "sys_admin"}));
    assert_eq!((r.status, r.json()["role"].as_str()), (200, Some("sys_admin")), "{}", r.text);
    assert_eq!(frank.post("/api/v3.1/maintenance/activate", &json!({})).status, 200, "the new role at once");
    assert_eq!(frank.post("/api/v3.1/maintenance/deactivate", &json!({})).status, 200);
    assert_eq!(admin.post("/api/v3.1/users/frank", &json!({"role": "default"})).status, 200);
    assert_eq!(frank.post("/api/v3.1/maintenance/activate", &json!({})).status, 403, "and the old one back");

    assert_eq!(admin.post("/api/v3.1/users/frank", &json!({})).status, 400, "nothing to change");
    assert_eq!(admin.post("/api/v3.1/users/frank", &json!({"role": "root"})).status, 400);
    assert_eq!(admin.post("/api/v3.1/users/nobody", &json!({"role": "default"})).status, 404);
    assert_eq!(admin.delete("/api/v3.1/users/admin").status, 409, "not oneself");
    let r = admin.delete("/api/v3.1/users/frank");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(frank.get("/api/v3.1/status").status, 401, "deleted: out at once");
    assert_eq!(admin.get("/api/v3.1/users/frank").status, 404);
}


#[test]
fn the_cli_changes_and_deletes_users() {
    let s = Server::start();
    s.user("gina");
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(drydock_e2e::binary())
            .args(["--manager", &s.base(), "-u", "admin", "--password", drydock_e2e::ADMIN_PASSWORD])
            .args(args)
            .env("DRYDOCK_CONFIG_DIR", std::env::temp_dir().join(format!("drydock-users-cfg-{}", std::process::id())))
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
    };
    let (code, text) = cli(&["users", "set-password", "gina", "-p", "gina-new-secret"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("User `gina` has a new password."), "{text}");
    assert_eq!(s.client("gina", "gina-new-secret").get("/api/v3.1/status").status, 200);
    let (code, text) = cli(&["users", "set-role", "gina", "-r", "sys_admin"]);
    assert_eq!((code, text.contains("`sys_admin` security role")), (Some(0), true), "{text}");
    let (code, text) = cli(&["users", "delete", "gina"]);
    assert_eq!((code, text.contains("User `gina` deleted.")), (Some(0), true), "{text}");
    assert_eq!(s.client("gina", "gina-new-secret").get("/api/v3.1/status").status, 401);
    let (code, text) = cli(&["users", "delete", "admin"]);
    assert_eq!(code, Some(1), "{text}");
}

/// Cloudify's default permissions give the tenant role `user` both
/// `execution_cancel` and `execution_status_update` (with sys_admin, manager and
/// operations) on the tenant's executions, whose visibility is `tenant` whoever
/// started them; `viewer` gets neither. drydock's non-admin role is that `user`.
#[test]
fn a_user_may_cancel_and_report_the_tenants_executions_as_cloudify_allows() {
    let s = Server::start();
    let admin = s.admin();
    let helen = s.user("helen");
    admin.create_deployment("d");
    let by_admin = |wf: &str| admin.start_execution("d", wf, json!({})).json()["id"].as_str().unwrap().to_string();
    let (reported, cancelled) = (by_admin("install"), by_admin("install"));
    let r = helen.patch(&format!("/api/v3.1/executions/{reported}"), &json!({"status": "started"}));
    assert_eq!((r.status, r.json()["created_by"].as_str()), (200, Some("admin")), "{}", r.text);
    let r = helen.post(&format!("/api/v3.1/executions/{cancelled}"), &json!({"action": "cancel"}));
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("cancelled")), "{}", r.text);
}

/// The last sys_admin can neither be demoted nor deleted (nobody could change
/// anything after, and a restart does not make a new one); with another sys_admin
/// it can.
#[test]
fn the_last_sys_admin_stays() {
    let s = Server::start();
    let admin = s.admin();
    for (what, r) in [
        ("demoted", admin.post("/api/v3.1/users/admin", &json!({"role": "default"}))),
        ("deleted", admin.delete("/api/v3.1/users/admin")),
    ] {
        assert_eq!((r.status, r.error_code().as_str()), (409, "conflict_error"), "{what}: {}", r.text);
        // Deleting oneself is refused anyway; demoting oneself names the reason.
        let message = r.json()["message"].as_str().unwrap().to_string();
        assert!(message.contains("last sys_admin") || what == "deleted", "{what}: {message}");
        assert_eq!(admin.get("/api/v3.1/users/admin").json()["role"], "sys_admin", "{what}");
    }
    let r = admin.put("/api/v3.1/users", &json!({"username": "second", "password": "second-secret", "role": "sys_admin"}));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(admin.post("/api/v3.1/users/admin", &json!({"role": "default"})).status, 200, "another sys_admin exists");
    let second = s.client("second", "second-secret");
    let r = second.post("/api/v3.1/users/second", &json!({"role": "default"}));
    assert_eq!(r.status, 409, "now `second` is the last: {}", r.text);
    assert_eq!(second.get("/api/v3.1/users/second").json()["role"], "sys_admin");
}
