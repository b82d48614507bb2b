//! Tenants, over real HTTP: one tenant's work is invisible and untouchable from
//! another (answered exactly as work that does not exist), tenant roles decide who
//! may change what, `private` and `global` visibility widen or narrow that, a
//! sys_admin manages tenants and their members (changes in force at the next
//! request), maintenance waits for every tenant but lists their work only to a
//! sys_admin, a parent execution must be vouched for and of the request's tenant,
//! and the CLI does the same through `drydock tenants`.

use drydock_e2e::{ADMIN_PASSWORD, CliOutput, Client, Resp, Server, run_cli};
use serde_json::{Value, json};

// ---- helpers ----

/// A user who belongs to `tenant` alone, with `role` there (unlike `Server::user`,
/// which also makes a member of `default_tenant`); its client acts in `tenant`.
fn member_of(s: &Server, name: &str, tenant: &str, role: &str) -> Client {
    let password = format!("{name}-secret");
    let r = s.admin().put("/api/v3.1/users", &json!({"username": name, "password": password, "role": "default"}));
    assert_eq!(r.status, 201, "create user {name}: {}", r.text);
    s.member(name, tenant, role);
    s.client(name, &password).in_tenant(tenant)
}

/// The id of what a 201 answer created.
fn id_of(r: &Resp) -> String {
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()["id"].as_str().unwrap_or_else(|| panic!("no id: {}", r.text)).to_string()
}

/// The `key`s of a list answer's items (after checking it is a 200 list).
fn items(r: &Resp, key: &str) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {}", r.text))
        .iter()
        .map(|i| i[key].as_str().unwrap_or_default().to_string())
        .collect()
}

fn ids(r: &Resp) -> Vec<String> {
    items(r, "id")
}

/// A list answer's `metadata.pagination.total`.
fn total(r: &Resp) -> u64 {
    r.json()["metadata"]["pagination"]["total"].as_u64().unwrap_or_else(|| panic!("no total: {}", r.text))
}

/// A refusal with this status and error code whose message says each of `says`.
fn refused(r: &Resp, status: u16, code: &str, says: &[&str], what: &str) {
    assert_eq!((r.status, r.error_code().as_str()), (status, code), "{what}: {}", r.text);
    let message = r.json()["message"].as_str().unwrap_or_default().to_string();
    for s in says {
        assert!(message.contains(s), "{what}: the message should say {s:?}: {message}");
    }
}

fn message(r: &Resp) -> String {
    r.json()["message"].as_str().unwrap_or_default().to_string()
}

fn execution(c: &Client, id: &str) -> Resp {
    c.get(&format!("/api/v3.1/executions/{id}"))
}

fn execution_status(c: &Client, id: &str) -> String {
    let r = execution(c, id);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["status"].as_str().unwrap().to_string()
}

fn report(c: &Client, id: &str, status: &str) -> Resp {
    c.patch(&format!("/api/v3.1/executions/{id}"), &json!({"status": status}))
}

fn cancel(c: &Client, id: &str) -> Resp {
    c.post(&format!("/api/v3.1/executions/{id}"), &json!({"action": "cancel"}))
}

fn events(c: &Client, id: &str) -> Resp {
    c.get(&format!("/api/v3.1/events?execution_id={id}"))
}

/// `DELETE` with a JSON body (`/tenants/users`).
fn delete_with(c: &Client, path: &str, body: &Value) -> Resp {
    c.req("DELETE", path).json(body).send()
}

/// Start an `install` of `deployment`, as child work of `parent` when given.
fn start_child(c: &Client, deployment: &str, parent: Option<&str>) -> Resp {
    let req = c.req("POST", "/api/v3.1/executions").json(&json!({"deployment_id": deployment, "workflow_id": "install"}));
    match parent {
        Some(p) => req.header("X-Drydock-Parent-Execution", p).send(),
        None => req.send(),
    }
}

fn maintenance_status(c: &Client) -> String {
    c.maintenance()["status"].as_str().unwrap_or_default().to_string()
}

/// The ids `GET /maintenance` lists as remaining.
fn remaining_ids(view: &Value) -> Vec<String> {
    let mut ids: Vec<String> = view["remaining_executions"]
        .as_array()
        .unwrap_or_else(|| panic!("no remaining_executions list: {view}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    ids
}

/// Whether a table in `stdout` has a row with these cells side by side.
fn has_row(stdout: &str, cells: &[&str]) -> bool {
    stdout.lines().any(|l| {
        let row: Vec<&str> = l.split('|').map(str::trim).collect();
        row.windows(cells.len()).any(|w| w == cells)
    })
}

// ---- the tests ----

/// Ann works in tenant `red`, Bob in `blue`. Bob sees none of Ann's deployments or
/// executions, not in lists (totals 0) nor by id: asking for them, cancelling,
/// reporting, deleting or reading their events all answer 404 exactly as for
/// something that never existed, and nothing of Ann's inputs or parameters ever
/// reaches him; none of it changes Ann's work. Naming Ann's tenant himself he is
/// refused (403, naming the action and the tenant); a tenant that does not exist is
/// refused as Cloudify refuses it. A sys_admin acting in `red` sees Ann's work.
#[test]
fn two_tenants_cannot_see_or_touch_each_others_work() {
    let s = Server::start();
    s.tenant("red");
    s.tenant("blue");
    let ann = member_of(&s, "ann", "red", "user");
    let bob = member_of(&s, "bob", "blue", "user");

    let r = ann.put("/api/v3.1/deployments/red-d", &json!({"blueprint_id": "bp", "inputs": {"db_password": "hunter2"}}));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["tenant_name"], "red", "{}", r.text);
    let exec = id_of(&ann.start_execution("red-d", "install", json!({"api_token": "s3cr3t"})));
    assert_eq!(execution(&ann, &exec).json()["parameters"]["api_token"], "s3cr3t", "Ann sees her own parameters");

    // Every answer Bob gets, to look for Ann's secrets in at the end.
    let mut bobs_answers: Vec<String> = Vec::new();

    for path in ["/api/v3.1/deployments", "/api/v3.1/executions", "/api/v3.1/executions?deployment_id=red-d"] {
        let r = bob.get(path);
        let listed = ids(&r);
        assert!(listed.is_empty(), "{path}: Bob sees {listed:?}");
        assert_eq!(total(&r), 0, "{path}: the total counts nothing of red's: {}", r.text);
        bobs_answers.push(r.text);
    }

    // By id: the very answer an id that does not exist gets.
    let r = bob.get("/api/v3.1/deployments/red-d");
    refused(&r, 404, "not_found_error", &["red-d"], "GET another tenant's deployment");
    let nothing = bob.get("/api/v3.1/deployments/no-such-d");
    assert_eq!(message(&r), message(&nothing).replace("no-such-d", "red-d"), "the same as a deployment that does not exist");
    bobs_answers.push(r.text);

    let unknown = "00000000-0000-0000-0000-000000000000";
    let nothing = execution(&bob, unknown);
    assert_eq!(nothing.status, 404, "{}", nothing.text);
    for (what, r) in [
        ("GET the execution", execution(&bob, &exec)),
        ("cancel it", cancel(&bob, &exec)),
        ("report it failed", report(&bob, &exec, "failed")),
        ("read its events", events(&bob, &exec)),
    ] {
        refused(&r, 404, "not_found_error", &[exec.as_str()], what);
        assert_eq!(message(&r), message(&nothing).replace(unknown, &exec), "{what}: the same as an execution that does not exist");
        bobs_answers.push(r.text);
    }
    let r = bob.delete("/api/v3.1/deployments/red-d");
    refused(&r, 404, "not_found_error", &["red-d"], "delete another tenant's deployment");
    bobs_answers.push(r.text);
    let r = bob.start_execution("red-d", "install", json!({}));
    refused(&r, 404, "not_found_error", &["red-d"], "start an execution of another tenant's deployment");
    bobs_answers.push(r.text);

    for answer in &bobs_answers {
        for secret in ["hunter2", "s3cr3t"] {
            assert!(!answer.contains(secret), "Bob was shown {secret:?}: {answer}");
        }
    }

    // Nothing Bob tried changed Ann's work.
    assert_eq!(execution_status(&ann, &exec), "pending", "Bob's cancel and report did nothing");
    let r = ann.get("/api/v3.1/deployments/red-d");
    assert_eq!((r.status, r.json()["inputs"]["db_password"].as_str()), (200, Some("hunter2")), "{}", r.text);
    let r = ann.get("/api/v3.1/executions");
    assert_eq!((ids(&r), total(&r)), (vec![exec.clone()], 1), "Bob's start created nothing in red: {}", r.text);

    // Bob naming red himself: not a member.
    let bob_in_red = s.client("bob", "bob-secret").in_tenant("red");
    let r = bob_in_red.get("/api/v3.1/deployments");
    refused(&r, 403, "forbidden_error", &["bob", "deployment_list", "`red`"], "Bob in red");
    assert!(!r.text.contains("hunter2"), "{}", r.text);
    let r = bob_in_red.get(&format!("/api/v3.1/executions/{exec}"));
    refused(&r, 403, "forbidden_error", &["execution_get", "`red`"], "Bob reads red's execution");
    assert!(!r.text.contains("s3cr3t"), "{}", r.text);

    // A tenant that does not exist.
    let r = s.client("bob", "bob-secret").in_tenant("nowhere").get("/api/v3.1/deployments");
    refused(&r, 403, "forbidden_error", &["invalid tenant name", "nowhere"], "a tenant that does not exist");

    // The sys_admin, acting in red, sees both.
    let admin_in_red = s.admin().in_tenant("red");
    assert_eq!(ids(&admin_in_red.get("/api/v3.1/deployments")), ["red-d"]);
    assert_eq!(ids(&admin_in_red.get("/api/v3.1/executions")), [exec.clone()]);
    assert_eq!(execution_status(&admin_in_red, &exec), "pending");
    // Across every tenant with `_all_tenants` (Cloudify's): the sys_admin sees red's
    // and blue's; bob asking the same still sees only blue's.
    assert_eq!(bob.create_deployment("blue-d").status, 201);
    let mut all = ids(&s.admin().get("/api/v3.1/deployments?_all_tenants=true"));
    all.sort();
    assert_eq!(all, ["blue-d", "red-d"], "the admin across tenants");
    assert_eq!(ids(&bob.get("/api/v3.1/deployments?_all_tenants=true")), ["blue-d"], "bob is no admin");
}

/// A viewer of `red` reads its deployments, executions and events, and every change
/// is refused with a 403 naming the action it may not do; nothing changes.
#[test]
fn a_viewer_reads_but_cannot_change() {
    let s = Server::start();
    s.tenant("red");
    let admin = s.admin().in_tenant("red");
    assert_eq!(admin.create_deployment("d").status, 201);
    let exec = id_of(&admin.start_execution("d", "install", json!({})));
    let vera = member_of(&s, "vera", "red", "viewer");

    // Reads.
    assert_eq!(ids(&vera.get("/api/v3.1/deployments")), ["d"]);
    let r = vera.get("/api/v3.1/deployments/d");
    assert_eq!((r.status, r.json()["id"].as_str()), (200, Some("d")), "{}", r.text);
    assert_eq!(ids(&vera.get("/api/v3.1/executions")), [exec.clone()]);
    assert_eq!(execution_status(&vera, &exec), "pending");
    let r = events(&vera, &exec);
    assert!(!ids(&r).is_empty(), "the execution's events (its `workflow_queued` at least): {}", r.text);

    // Changes.
    for (action, r) in [
        ("deployment_create", vera.create_deployment("vera-d")),
        ("execution_start", vera.start_execution("d", "install", json!({}))),
        ("execution_cancel", cancel(&vera, &exec)),
        ("execution_status_update", report(&vera, &exec, "started")),
        ("deployment_delete", vera.delete("/api/v3.1/deployments/d")),
    ] {
        refused(&r, 403, "forbidden_error", &["vera", action, "`red`"], action);
    }
    // A viewer may not read the tenant itself either (a member whose role is not viewer may).
    refused(&vera.get("/api/v3.1/tenants/red"), 403, "forbidden_error", &[], "a viewer reads the tenant");

    // Nothing changed.
    assert_eq!(admin.get("/api/v3.1/deployments/vera-d").status, 404, "no deployment was created");
    assert_eq!(admin.get("/api/v3.1/deployments/d").status, 200, "the deployment is still there");
    assert_eq!(total(&admin.get("/api/v3.1/executions")), 1, "no execution was started");
    assert_eq!(execution_status(&admin, &exec), "pending", "neither cancelled nor reported");
}

/// A `private` deployment of Ann's is hidden from another member of her tenant (as
/// if it did not exist, and its executions with it) but seen by the tenant's
/// manager and by a sys_admin; only a sys_admin may make a resource `global`, which
/// every tenant then reads but only its own tenant changes.
#[test]
fn private_and_global_visibility() {
    let s = Server::start();
    s.tenant("red");
    let ann = member_of(&s, "ann", "red", "user");
    let carl = member_of(&s, "carl", "red", "user");
    let mia = member_of(&s, "mia", "red", "manager");
    let admin_in_red = s.admin().in_tenant("red");

    let r = ann.put("/api/v3.1/deployments/ann-d", &json!({"blueprint_id": "bp", "visibility": "private"}));
    assert_eq!((r.status, r.json()["visibility"].as_str()), (201, Some("private")), "{}", r.text);
    let exec = id_of(&ann.start_execution("ann-d", "install", json!({})));
    assert!(ids(&ann.get("/api/v3.1/deployments")).contains(&"ann-d".to_string()), "its creator sees it");

    // Another user of red: nothing.
    assert!(!ids(&carl.get("/api/v3.1/deployments")).contains(&"ann-d".to_string()), "carl lists it");
    refused(&carl.get("/api/v3.1/deployments/ann-d"), 404, "not_found_error", &["ann-d"], "carl gets it");
    assert!(!ids(&carl.get("/api/v3.1/executions")).contains(&exec), "carl lists its execution");
    refused(&execution(&carl, &exec), 404, "not_found_error", &[], "carl gets its execution (private, as its deployment)");
    refused(&cancel(&carl, &exec), 404, "not_found_error", &[], "carl cancels its execution");

    // The tenant's manager and the sys_admin: everything.
    for (who, c) in [("the manager", &mia), ("the sys_admin", &admin_in_red)] {
        assert!(ids(&c.get("/api/v3.1/deployments")).contains(&"ann-d".to_string()), "{who} lists it");
        assert_eq!(c.get("/api/v3.1/deployments/ann-d").status, 200, "{who} gets it");
        assert!(ids(&c.get("/api/v3.1/executions")).contains(&exec), "{who} lists its execution");
        assert_eq!(execution(c, &exec).status, 200, "{who} gets its execution");
    }
    assert_eq!(execution_status(&ann, &exec), "pending", "carl's cancel did nothing");

    // `global` is a sys_admin's.
    let r = ann.put("/api/v3.1/deployments/ann-global", &json!({"blueprint_id": "bp", "visibility": "global"}));
    refused(&r, 403, "forbidden_error", &["global resource"], "a user asks for global");
    assert_eq!(admin_in_red.get("/api/v3.1/deployments/ann-global").status, 404, "not created");
    let admin = s.admin();
    let r = admin.put("/api/v3.1/deployments/shared-d", &json!({"blueprint_id": "bp", "visibility": "global"}));
    assert_eq!((r.status, r.json()["visibility"].as_str()), (201, Some("global")), "{}", r.text);
    assert_eq!(r.json()["tenant_name"], "default_tenant", "{}", r.text);

    // Read from red (carl is not a member of default_tenant at all), not changed from there.
    assert!(ids(&carl.get("/api/v3.1/deployments")).contains(&"shared-d".to_string()), "a global one is in red's list");
    let r = carl.get("/api/v3.1/deployments/shared-d");
    assert_eq!((r.status, r.json()["tenant_name"].as_str()), (200, Some("default_tenant")), "{}", r.text);
    let r = carl.delete("/api/v3.1/deployments/shared-d");
    refused(&r, 400, "bad_parameters_error", &["Can't modify the global resource"], "delete a global one from red");
    assert_eq!(admin.get("/api/v3.1/deployments/shared-d").status, 200, "still there");
}

/// A sys_admin creates tenants (checking their names), makes users members with a
/// role, changes and removes that role — each in force at the member's very next
/// request — and deletes tenants once they hold nothing; everyone else lists only
/// their own tenants and may change none of it.
#[test]
fn tenants_are_managed_by_the_admin() {
    let s = Server::start();
    let admin = s.admin();

    // Creating.
    let r = admin.post("/api/v3.1/tenants/red", &json!({}));
    assert_eq!(r.status, 201, "{}", r.text);
    let t = r.json();
    assert_eq!((t["name"].as_str(), t["users"].as_u64(), t["groups"].as_u64()), (Some("red"), Some(0), Some(0)), "{t}");
    assert!(t["user_roles"].is_null(), "{t}");
    refused(&admin.post("/api/v3.1/tenants/red", &json!({})), 409, "conflict_error", &["red"], "create red again");
    let too_long = "x".repeat(257);
    for bad in ["1abc", "a%20b", "user-groups", too_long.as_str()] {
        let r = admin.post(&format!("/api/v3.1/tenants/{bad}"), &json!({}));
        assert_eq!((r.status, r.error_code().as_str()), (400, "bad_parameters_error"), "name {bad:?}: {}", r.text);
    }
    // `users` is the route of memberships: POST there is refused, and creates nothing.
    let r = admin.post("/api/v3.1/tenants/users", &json!({}));
    assert!(matches!(r.status, 400 | 405), "a tenant named `users`: {} {}", r.status, r.text);
    let r = admin.post("/api/v3.1/tenants/blue", &json!({"rabbitmq_password": ""}));
    assert_eq!(r.status, 201, "the real client's body is accepted: {}", r.text);
    assert_eq!(items(&admin.get("/api/v3.1/tenants"), "name"), ["blue", "default_tenant", "red"], "by name, and nothing else");

    // A member: lists its own tenants only, may not ask for members.
    let r = admin.put("/api/v3.1/users", &json!({"username": "ann", "password": "ann-secret", "role": "default"}));
    assert_eq!(r.status, 201, "{}", r.text);
    let ann = s.client("ann", "ann-secret").in_tenant("red");
    assert!(items(&ann.get("/api/v3.1/tenants"), "name").is_empty(), "a new user belongs to no tenant");
    let add = json!({"tenant_name": "red", "username": "ann", "role": "user"});
    let r = admin.put("/api/v3.1/tenants/users", &add);
    assert_eq!((r.status, r.json()["users"].as_u64()), (200, Some(1)), "{}", r.text);
    let r = ann.get("/api/v3.1/tenants");
    assert_eq!((items(&r, "name"), total(&r)), (vec!["red".to_string()], 1), "{}", r.text);
    refused(&ann.get("/api/v3.1/tenants?_get_data=true"), 403, "forbidden_error", &[], "a member asks for members");
    refused(&ann.get("/api/v3.1/tenants/red?_get_data=true"), 403, "forbidden_error", &[], "a member asks for red's members");
    let r = admin.get("/api/v3.1/tenants/red?_get_data=true");
    assert_eq!(r.status, 200, "{}", r.text);
    let t = r.json();
    assert_eq!(t["users"], json!({"ann": {"tenant-role": "user", "roles": ["user"]}}), "{t}");
    assert_eq!(t["user_roles"]["direct"], json!({"ann": "user"}), "{t}");
    let listed = admin.get("/api/v3.1/tenants?_get_data=true").json();
    let red = listed["items"].as_array().unwrap().iter().find(|t| t["name"] == "red").cloned().unwrap_or_default();
    assert_eq!(red["users"]["ann"]["tenant-role"], "user", "{listed}");

    // Memberships that cannot be.
    refused(&admin.put("/api/v3.1/tenants/users", &add), 409, "conflict_error", &["ann", "red"], "add ann twice");
    for role in ["boss", "sys_admin"] {
        let r = admin.put("/api/v3.1/tenants/users", &json!({"tenant_name": "blue", "username": "ann", "role": role}));
        refused(&r, 400, "bad_parameters_error", &[role], &format!("role {role}"));
    }
    let r = admin.put("/api/v3.1/tenants/users", &json!({"tenant_name": "blue", "username": "nobody", "role": "user"}));
    assert_eq!(r.status, 404, "an unknown user: {}", r.text);
    let r = admin.put("/api/v3.1/tenants/users", &json!({"tenant_name": "nowhere", "username": "ann", "role": "user"}));
    assert_eq!(r.status, 404, "an unknown tenant: {}", r.text);
    assert_eq!(items(&ann.get("/api/v3.1/tenants"), "name"), ["red"], "none of them made ann a member of anything");

    // A new role, in force at once.
    assert_eq!(ann.create_deployment("red-a").status, 201, "a user creates");
    assert_eq!(ann.get("/api/v3.1/tenants/red").status, 200, "a user reads its tenant");
    let r = admin.patch("/api/v3.1/tenants/users", &json!({"tenant_name": "red", "username": "ann", "role": "viewer"}));
    assert_eq!(r.status, 200, "{}", r.text);
    refused(&ann.create_deployment("red-b"), 403, "forbidden_error", &["deployment_create"], "a viewer now");
    refused(&ann.get("/api/v3.1/tenants/red"), 403, "forbidden_error", &[], "a viewer reads its tenant");
    let u = admin.get("/api/v3.1/users/ann").json();
    assert_eq!(u["tenants"]["red"]["tenant-role"], "viewer", "{u}");
    assert_eq!(u["tenant_roles"]["direct"]["red"], "viewer", "{u}");
    let r = admin.patch("/api/v3.1/tenants/users", &json!({"tenant_name": "red", "username": "ann", "role": "manager"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(admin.get("/api/v3.1/users/ann").json()["tenants"]["red"]["tenant-role"], "manager");
    assert_eq!(ann.get("/api/v3.1/tenants/red").status, 200, "a manager reads its tenant");
    let r = admin.patch("/api/v3.1/tenants/users", &json!({"tenant_name": "blue", "username": "ann", "role": "user"}));
    refused(&r, 404, "not_found_error", &[], "a new role where ann is no member");

    // Removed, out at once (though her credentials were just cached).
    assert_eq!(ann.get("/api/v3.1/deployments").status, 200);
    let removal = json!({"tenant_name": "red", "username": "ann"});
    let r = delete_with(&admin, "/api/v3.1/tenants/users", &removal);
    assert_eq!((r.status, r.text.as_str()), (204, ""), "{}", r.text);
    refused(&ann.get("/api/v3.1/deployments"), 403, "forbidden_error", &["ann", "deployment_list", "`red`"], "removed from red");
    assert!(items(&ann.get("/api/v3.1/tenants"), "name").is_empty());
    assert_eq!(admin.get("/api/v3.1/users/ann").json()["tenants"], json!({}));
    refused(&delete_with(&admin, "/api/v3.1/tenants/users", &removal), 404, "not_found_error", &[], "remove ann twice");

    // Deleting: only what holds nothing, never default_tenant.
    let r = admin.delete("/api/v3.1/tenants/red");
    refused(&r, 409, "conflict_error", &["red"], "delete red while red-a is in it");
    let admin_in_red = s.admin().in_tenant("red");
    assert_eq!(admin_in_red.delete("/api/v3.1/deployments/red-a").status, 200);
    let r = admin.delete("/api/v3.1/tenants/red");
    assert_eq!((r.status, r.text.as_str()), (204, ""), "{}", r.text);
    refused(&admin.delete("/api/v3.1/tenants/red"), 404, "not_found_error", &["red"], "delete red twice");
    assert_eq!(items(&admin.get("/api/v3.1/tenants"), "name"), ["blue", "default_tenant"]);
    refused(&admin_in_red.get("/api/v3.1/deployments"), 403, "forbidden_error", &["invalid tenant name"], "act in a deleted tenant");
    refused(&admin.delete("/api/v3.1/tenants/default_tenant"), 409, "conflict_error", &[], "delete default_tenant");

    // Not a sys_admin: none of it.
    let ann = s.user("ann2");
    refused(&ann.post("/api/v3.1/tenants/green", &json!({})), 403, "forbidden_error", &[], "a user creates a tenant");
    refused(&ann.delete("/api/v3.1/tenants/blue"), 403, "forbidden_error", &[], "a user deletes a tenant");
    let r = ann.put("/api/v3.1/tenants/users", &json!({"tenant_name": "blue", "username": "ann2", "role": "manager"}));
    refused(&r, 403, "forbidden_error", &[], "a user makes itself a member");
    assert_eq!(items(&admin.get("/api/v3.1/tenants"), "name"), ["blue", "default_tenant"], "nothing was created");
    assert_eq!(admin.get("/api/v3.1/tenants/blue?_get_data=true").json()["users"], json!({}), "nobody joined blue");
}

/// Activating maintenance waits for every tenant's unfinished executions. A sys_admin
/// sees which they are; anyone else only how many (in `GET /maintenance` and in the
/// event stream), not other tenants' ids. New work is refused in every tenant, and
/// maintenance is activated only once the last tenant's execution has ended.
#[test]
fn maintenance_waits_for_every_tenant_and_lists_them_only_to_an_admin() {
    // Event streams end after a second, so one can be read whole.
    let s = Server::start_with(&["--event-stream-lifetime", "1"]);
    let admin = s.admin();
    s.tenant("red");
    s.tenant("blue");
    let ann = member_of(&s, "ann", "red", "user");
    let bob = member_of(&s, "bob", "blue", "user");
    assert_eq!(ann.create_deployment("red-d").status, 201);
    assert_eq!(bob.create_deployment("blue-d").status, 201);
    let red = id_of(&ann.start_execution("red-d", "install", json!({})));
    let blue = id_of(&bob.start_execution("blue-d", "install", json!({})));

    let r = admin.post("/api/v3.1/maintenance/activate", &json!({}));
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("activating")), "{}", r.text);

    let view = admin.maintenance();
    let mut both = vec![red.clone(), blue.clone()];
    both.sort();
    assert_eq!(remaining_ids(&view), both, "the sys_admin sees every tenant's: {view}");
    assert_eq!(view["remaining_count"], json!(null), "listed, so not counted apart (the real CLI prints every key set): {view}");
    let view = ann.maintenance();
    assert_eq!(view["status"], "activating", "{view}");
    assert_eq!(view["remaining_executions"], json!([]), "ann is told no ids: {view}");
    assert_eq!(view["remaining_count"].as_u64(), Some(2), "but how many: {view}");
    let text = ann.get("/api/v3.1/maintenance").text;
    assert!(!text.contains(&blue) && !text.contains("blue-d"), "nothing of blue's: {text}");

    // The event stream says the same.
    let first_event = |c: &Client| -> Value {
        let r = c.get("/api/v3.1/maintenance/events");
        assert_eq!(r.status, 200, "{}", r.text);
        let data = r.text.lines().find_map(|l| l.strip_prefix("data:")).unwrap_or_else(|| panic!("no event: {}", r.text));
        serde_json::from_str(data.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {data}"))
    };
    let e = first_event(&ann);
    assert_eq!((e["remaining_executions"].clone(), e["remaining_count"].as_u64()), (json!([]), Some(2)), "ann's stream: {e}");
    let e = first_event(&admin);
    assert_eq!((remaining_ids(&e), e["remaining_count"].as_u64()), (both.clone(), Some(2)), "the sys_admin's stream: {e}");

    // No new work, in any tenant.
    let r = bob.start_execution("blue-d", "install", json!({}));
    refused(&r, 503, "entering_maintenance_mode", &[], "bob starts work in blue");

    // Red's ends: blue's is still awaited.
    let r = report(&ann, &red, "terminated");
    assert_eq!(r.status, 200, "{}", r.text);
    let view = admin.maintenance();
    assert_eq!((view["status"].as_str(), remaining_ids(&view)), (Some("activating"), vec![blue.clone()]), "{view}");
    assert_eq!(ann.maintenance()["remaining_count"].as_u64(), Some(1));
    // Blue's ends: activated.
    let r = report(&bob, &blue, "terminated");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(maintenance_status(&admin), "activated");

    let r = admin.post("/api/v3.1/maintenance/deactivate", &json!({}));
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("deactivated")), "{}", r.text);
}

/// While activating, child work is admitted only under a parent a worker or a
/// sys_admin reported started: an execution its own user marked `started` is no
/// parent (so a user cannot keep activation open by itself), and neither is an
/// execution of another tenant (answered as one that does not exist).
#[test]
fn a_self_certified_parent_does_not_keep_activation_open() {
    let s = Server::start();
    let admin = s.admin();
    let ann = s.user("ann");
    s.tenant("blue");
    let bob = member_of(&s, "bob", "blue", "user");
    assert_eq!(ann.create_deployment("d").status, 201);
    assert_eq!(bob.create_deployment("blue-d").status, 201);

    // Marked started by ann herself.
    let self_started = id_of(&ann.start_execution("d", "install", json!({})));
    let r = report(&ann, &self_started, "started");
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("started")), "{}", r.text);
    // Ann's, reported started by the sys_admin.
    let vouched = id_of(&ann.start_execution("d", "install", json!({})));
    let r = report(&admin, &vouched, "started");
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("started")), "{}", r.text);
    // Bob's in blue, reported started by the sys_admin.
    let blues = id_of(&bob.start_execution("blue-d", "install", json!({})));
    let r = report(&s.admin().in_tenant("blue"), &blues, "started");
    assert_eq!(r.status, 200, "{}", r.text);

    let r = admin.post("/api/v3.1/maintenance/activate", &json!({}));
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("activating")), "{}", r.text);

    refused(&start_child(&ann, "d", None), 503, "entering_maintenance_mode", &[], "no parent");
    let r = start_child(&ann, "d", Some(&self_started));
    refused(&r, 400, "bad_parameters_error", &[self_started.as_str(), "not by a worker or a sys_admin"], "a self-certified parent");
    let r = start_child(&ann, "d", Some(&blues));
    refused(&r, 400, "bad_parameters_error", &["there is no execution"], "a parent in another tenant");
    let r = start_child(&ann, "d", Some(&vouched));
    let child = id_of(&r);
    // Bob's own, in its own tenant, is a parent there.
    let bobs_child = id_of(&start_child(&bob, "blue-d", Some(&blues)));

    let view = admin.maintenance();
    assert_eq!(view["status"], "activating", "{view}");
    let mut expected = vec![self_started, vouched, blues, child, bobs_child];
    expected.sort();
    assert_eq!(remaining_ids(&view), expected, "only the admitted children were added: {view}");
}

/// `drydock tenants` creates a tenant, adds a user with a role, lists and shows it,
/// changes the role, removes the user and deletes the tenant, saying so at each
/// step; a member listing sees its own tenants, and refusals reach the terminal.
#[test]
fn the_cli_manages_tenants() {
    let s = Server::start();
    let r = s.admin().put("/api/v3.1/users", &json!({"username": "ann", "password": "ann-secret", "role": "default"}));
    assert_eq!(r.status, 201, "{}", r.text);
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().to_string_lossy().into_owned();
    let base = s.base();
    let as_admin = [
        ("DRYDOCK_URL", base.as_str()),
        ("DRYDOCK_USERNAME", "admin"),
        ("DRYDOCK_PASSWORD", ADMIN_PASSWORD),
        ("DRYDOCK_CONFIG_DIR", config.as_str()),
    ];
    let as_ann = [
        ("DRYDOCK_URL", base.as_str()),
        ("DRYDOCK_USERNAME", "ann"),
        ("DRYDOCK_PASSWORD", "ann-secret"),
        ("DRYDOCK_CONFIG_DIR", config.as_str()),
    ];
    let cli = |args: &[&str]| run_cli(&as_admin, args);
    let ok = |out: &CliOutput, says: &str, what: &str| {
        assert_eq!(out.code, 0, "{what}: {out:?}");
        assert!(out.stdout.contains(says), "{what}: should say {says:?}: {}", out.stdout);
    };
    let failed = |out: &CliOutput, says: &str, what: &str| {
        assert_ne!(out.code, 0, "{what}: {out:?}");
        assert!(out.stderr.contains(says), "{what}: should say {says:?}: {}", out.stderr);
    };

    ok(&cli(&["tenants", "create", "green"]), "Tenant `green` created", "create");
    assert_eq!(s.admin().get("/api/v3.1/tenants/green").status, 200, "created on the server");
    failed(&cli(&["tenants", "create", "green"]), "already exists", "create twice");

    let out = cli(&["tenants", "add-user", "ann", "-t", "green", "-r", "viewer"]);
    ok(&out, "User `ann` added successfully to tenant `green` with `viewer` role", "add-user");
    let t = s.admin().get("/api/v3.1/tenants/green?_get_data=true").json();
    assert_eq!(t["users"]["ann"]["tenant-role"], "viewer", "{t}");
    let out = cli(&["tenants", "add-user", "ann", "-t", "green", "-r", "boss"]);
    assert_eq!(out.code, 2, "a role the CLI does not know is a usage error: {out:?}");

    let out = cli(&["tenants", "list"]);
    ok(&out, "Tenants:", "list");
    assert!(has_row(&out.stdout, &["green", "1"]), "green, with one user: {}", out.stdout);
    assert!(out.stdout.contains("Showing 2 of 2 tenants"), "default_tenant and green: {}", out.stdout);
    let out = cli(&["tenants", "list", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let listed: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    let names: Vec<&str> = listed.as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["default_tenant", "green"], "{listed}");

    let out = cli(&["tenants", "get", "green"]);
    ok(&out, "Tenant: green", "get");
    assert!(has_row(&out.stdout, &["ann", "viewer"]), "ann as viewer: {}", out.stdout);

    let out = cli(&["tenants", "update-user", "ann", "-t", "green", "-r", "manager"]);
    ok(&out, "User `ann` now has role `manager` in tenant `green`", "update-user");
    let out = cli(&["tenants", "get", "green"]);
    assert!(has_row(&out.stdout, &["ann", "manager"]), "ann as manager: {}", out.stdout);

    // Ann lists her own tenants only.
    let out = run_cli(&as_ann, &["tenants", "list"]);
    ok(&out, "Showing 1 of 1 tenants", "ann's list");
    assert!(has_row(&out.stdout, &["green", "1"]), "{}", out.stdout);
    failed(&run_cli(&as_ann, &["tenants", "create", "mine"]), "sys_admin", "ann creates a tenant");

    let out = cli(&["tenants", "remove-user", "ann", "-t", "green"]);
    ok(&out, "User `ann` removed from tenant `green`", "remove-user");
    ok(&cli(&["tenants", "get", "green"]), "No members.", "get after remove-user");
    failed(&cli(&["tenants", "remove-user", "ann", "-t", "green"]), "is not associated", "remove-user twice");

    ok(&cli(&["tenants", "delete", "green"]), "Tenant `green` removed", "delete");
    let out = cli(&["tenants", "list"]);
    ok(&out, "Showing 1 of 1 tenants", "list after delete");
    assert!(!out.stdout.contains("green"), "{}", out.stdout);
    failed(&cli(&["tenants", "delete", "green"]), "was not found", "delete twice");
    failed(&cli(&["tenants", "delete", "default_tenant"]), "default_tenant", "delete default_tenant");
}

/// Someone else's private execution is not named as existing, not even as a would-be
/// parent: the answer is the one for an id that does not exist.
#[test]
fn a_private_execution_is_not_named_to_another_user_as_a_parent() {
    let s = Server::start();
    let (ann, bob) = (s.user("ann"), s.user("bob"));
    let r = bob.put("/api/v3.1/deployments/bobs", &json!({"blueprint_id": "bp", "visibility": "private"}));
    assert_eq!(r.status, 201, "{}", r.text);
    let exec = bob.start_execution("bobs", "install", json!({}));
    let id = exec.json()["id"].as_str().unwrap().to_string();
    assert_eq!(s.admin().patch(&format!("/api/v3.1/executions/{id}"), &json!({"status": "started"})).status, 200);
    let r = ann
        .req("POST", "/api/v3.1/executions")
        .header("X-Drydock-Parent-Execution", &id)
        .json(&json!({"deployment_id": "bobs", "workflow_id": "install"}))
        .send();
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.json()["message"].as_str().unwrap().contains("there is no execution"), "{}", r.text);
}
