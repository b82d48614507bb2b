//! The live policy lifecycle over real HTTP: upload, list, activate, roll back,
//! restart, refused uploads, shadow evaluation, delete, metrics.

use std::time::{Duration, Instant};

use drydock_engine::{DEFAULT_POLICY, STRICT_POLICY};
use drydock_e2e::{Client, Resp, Server};
use serde_json::{Value, json};

const P: &str = "/api/v3.1/policies";

fn upload(c: &Client, bytes: &[u8]) -> Resp {
    c.req("POST", P).header("Content-Type", "application/wasm").body(bytes.to_vec()).send()
}

fn label_of(r: &Resp) -> String {
    r.header("x-drydock-policy").unwrap_or_else(|| panic!("no X-Drydock-Policy: {:?}", r.headers)).to_string()
}

/// Upload the strict policy; returns (id, label).
fn push_strict(admin: &Client) -> (String, String) {
    let r = upload(admin, STRICT_POLICY);
    assert_eq!(r.status, 201, "{}", r.text);
    let v = r.json();
    assert_eq!(v["name"], "cloudify-strict");
    assert_eq!(v["builtin"], false);
    assert_eq!(v["active"], false);
    assert_eq!(v["uploaded_by"], "admin");
    (v["id"].as_str().unwrap().to_string(), v["label"].as_str().unwrap().to_string())
}

fn builtin_label(c: &Client) -> String {
    let r = c.get(&format!("{P}/builtin"));
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["label"].as_str().unwrap().to_string()
}

fn active_id(c: &Client) -> String {
    let r = c.get(&format!("{P}/active"));
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_string()
}

#[test]
fn push_list_activate_rollback_restart_delete() {
    let mut s = Server::start();
    let admin = s.admin();
    let user = s.user("carol");
    let default = builtin_label(&admin);
    assert!(default.starts_with("cloudify-default@"), "{default}");
    assert_eq!(label_of(&admin.get("/api/v3.1/status")), default);
    assert_eq!(active_id(&admin), "builtin");

    // Push: 201 the first time, 200 (same version) after.
    let (strict_id, strict) = push_strict(&admin);
    assert!(strict.starts_with("cloudify-strict@"), "{strict}");
    let again = upload(&admin, STRICT_POLICY);
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json()["id"], strict_id.as_str());
    // The builtin's own bytes are the builtin.
    assert_eq!(upload(&admin, DEFAULT_POLICY).json()["id"], "builtin");

    // List: the builtin first, then the upload; any user may read.
    let list = user.get(P);
    assert_eq!(list.status, 200, "{}", list.text);
    let items = list.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!((items[0]["id"].as_str(), items[0]["active"].as_bool()), (Some("builtin"), Some(true)));
    assert_eq!((items[1]["id"].as_str(), items[1]["active"].as_bool()), (Some(strict_id.as_str()), Some(false)));
    assert_eq!(user.get(&format!("{P}/{strict_id}")).json()["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(user.get(&format!("{P}/nope")).status, 404);

    // Changes need sys_admin.
    for r in [
        upload(&user, STRICT_POLICY),
        user.post(&format!("{P}/{strict_id}/activate"), &json!({})),
        user.post(&format!("{P}/rollback"), &json!({})),
        user.post(&format!("{P}/{strict_id}/shadow"), &json!({})),
        user.delete(&format!("{P}/{strict_id}")),
        // The history and the shadow report quote other users: admins only too.
        user.get(&format!("{P}/history")),
        user.get(&format!("{P}/shadow")),
    ] {
        assert_eq!(r.status, 403, "{}", r.text);
    }
    // Nothing to roll back to yet.
    assert_eq!(admin.post(&format!("{P}/rollback"), &json!({})).status, 409);

    // Activate: the very next response names the new version.
    let r = admin.post(&format!("{P}/{strict_id}/activate"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["swapped"], true);
    assert_eq!(r.json()["active"]["id"], strict_id.as_str());
    assert_eq!(r.json()["previous"]["id"], "builtin");
    assert_eq!(label_of(&user.get("/api/v3.1/status")), strict);
    assert_eq!(active_id(&user), strict_id);
    let again = admin.post(&format!("{P}/{strict_id}/activate"), &json!({}));
    assert_eq!(again.json()["swapped"], false, "activating the active version changes nothing");

    // And it decides as the strict policy does: refusals carry Retry-After.
    assert_eq!(maintenance_on(&admin)["status"], "activated");
    let r = user.get("/api/v3.1/deployments");
    assert_eq!((r.status, r.error_code().as_str(), r.header("retry-after")), (503, "maintenance_mode_active", Some("300")));
    assert_eq!(label_of(&r), strict);

    // Rollback: the old one again, in one call; a second rollback returns.
    let r = admin.post(&format!("{P}/rollback"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["active"]["id"], "builtin");
    let r = user.get("/api/v3.1/deployments");
    assert_eq!((r.status, r.header("retry-after")), (503, Some("60")), "no end announced: a minute");
    assert_eq!(label_of(&r), default);
    assert_eq!(admin.post(&format!("{P}/rollback"), &json!({})).json()["active"]["id"], strict_id.as_str());
    assert_eq!(label_of(&user.get("/api/v3.1/status")), strict);

    // Restart: the active version survives.
    s.restart();
    let admin = s.admin();
    let user = s.client("carol", "user-secret");
    assert_eq!(active_id(&admin), strict_id);
    let r = user.get("/api/v3.1/deployments");
    assert_eq!(label_of(&r), strict);
    assert_eq!(r.header("retry-after"), Some("300"));
    let active = admin.get(&format!("{P}/active")).json();
    assert_eq!(active["previous_version"]["id"], "builtin");
    assert_eq!(active["activated_by"], "admin");
    // Compiled once, loaded from the cache since.
    let cache: Vec<String> = std::fs::read_dir(s.data_dir.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let sha = admin.get(&format!("{P}/{strict_id}")).json()["sha256"].as_str().unwrap().to_string();
    assert!(cache.iter().any(|f| f.starts_with(&sha) && f.ends_with(".cwasm")), "{cache:?}");

    // Delete: never the active one (409), then fine once it is not.
    assert_eq!(admin.delete(&format!("{P}/{strict_id}")).status, 409);
    assert_eq!(admin.delete(&format!("{P}/builtin")).status, 409);
    admin.post(&format!("{P}/builtin/activate"), &json!({}));
    let r = admin.delete(&format!("{P}/{strict_id}"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(admin.get(P).json()["items"].as_array().unwrap().len(), 1);
    assert_eq!(admin.get(&format!("{P}/{strict_id}")).status, 404);
    assert_eq!(admin.post(&format!("{P}/rollback"), &json!({})).status, 409, "the rollback target went with it");

    // The audit log, newest first.
    let log = admin.get(&format!("{P}/history")).json();
    let actions: Vec<&str> = log["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["delete", "activate", "rollback", "rollback", "activate", "upload"]);
}

/// A WASI import: the component asks the host for the time.
const WASI_IMPORT: &str = r#"(component
  (import "wasi:clocks/monotonic-clock@0.2.0" (instance
    (export "now" (func (result u64)))
  ))
)"#;

/// A component of another world: it exports `run`, not name/version/decide.
const OTHER_WORLD: &str = r#"(component
  (core module $m (func (export "run") (result i32) i32.const 0))
  (core instance $i (instantiate $m))
  (func (export "run") (result u32) (canon lift (core func $i "run")))
)"#;

/// Deterministic noise (no RNG dependency needed).
fn random_bytes(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn invalid_uploads_are_refused_with_their_reasons_and_change_nothing() {
    let s = Server::start();
    let admin = s.admin();
    let default = builtin_label(&admin);
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("random bytes", random_bytes(4096), &["not a WebAssembly component", "no wasm magic number"]),
        ("a core module", wat::parse_str("(module (func (export \"decide\")))").unwrap(), &["core wasm module"]),
        ("a component with a WASI import", wat::parse_str(WASI_IMPORT).unwrap(), &["may import nothing", "wasi:clocks/monotonic-clock@0.2.0"]),
        ("a component of another world", wat::parse_str(OTHER_WORLD).unwrap(), &["does not export the drydock:policy/policy world"]),
    ];
    for (what, bytes, reasons) in cases {
        let r = upload(&admin, &bytes);
        assert_eq!(r.status, 400, "{what}: {}", r.text);
        assert_eq!(r.error_code(), "bad_parameters_error", "{what}");
        let message = r.json()["message"].as_str().unwrap().to_string();
        for reason in reasons {
            assert!(message.contains(reason), "{what}: {message:?} does not say {reason:?}");
        }
        // Nothing changed.
        assert_eq!(admin.get(P).json()["items"].as_array().unwrap().len(), 1, "{what}");
        assert_eq!(active_id(&admin), "builtin", "{what}");
        assert_eq!(label_of(&admin.get("/api/v3.1/status")), default, "{what}");
    }

    let r = admin.req("POST", P).header("Content-Type", "application/wasm").send();
    assert_eq!(r.status, 400, "empty: {}", r.text);
    let r = admin.req("POST", P).header("Content-Type", "application/json").body(STRICT_POLICY.to_vec()).send();
    assert_eq!(r.status, 415, "{}", r.text);
    // Too big: 413 with `Connection: close`, unless the server's early answer and
    // close beat the client's writing (then the client sees a broken pipe).
    let big = admin.req("POST", P).header("Content-Type", "application/wasm").body(vec![0u8; 65 * 1024 * 1024]).try_send();
    if let Ok(r) = big {
        assert_eq!(r.status, 413, "{}", r.text);
        assert_eq!(r.header("connection"), Some("close"));
    }
    // A component bigger than the 1 MiB JSON limit is fine below 64 MiB (this
    // one is refused for what it is, not for its size).
    let mut big = b"\0asm\x0d\0\x01\0".to_vec();
    big.resize(2 * 1024 * 1024, 0);
    let r = upload(&admin, &big);
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(admin.get(P).json()["items"].as_array().unwrap().len(), 1);
}

/// One request during the shadow test, and whether the two policies decide it differently.
struct Sent {
    method: &'static str,
    path: String,
    differs: bool,
}

#[test]
fn shadow_reports_disagreements_exactly_where_the_policies_differ() {
    let s = Server::start();
    let admin = s.admin();
    let user = s.user("dave");
    let default = builtin_label(&admin);
    let (strict_id, strict) = push_strict(&admin);
    // Before shadowing: an execution that nobody runs keeps maintenance activating.
    admin.create_deployment("held");
    let held = admin.start_execution("held", "install", json!({})).json()["id"].as_str().unwrap().to_string();
    assert_eq!(maintenance_on(&admin)["status"], "activating");

    let r = admin.post(&format!("{P}/{strict_id}/shadow"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let started = r.json();
    assert_eq!((started["running"].as_bool(), started["evaluated"].as_u64()), (Some(true), Some(0)));
    assert_eq!(started["candidate"]["shadow"], true);

    let mut sent: Vec<Sent> = Vec::new();
    let mut send = |c: &Client, method: &'static str, path: &str, body: Option<Value>, differs: bool| {
        let req = c.req(method, path);
        let r = match body {
            Some(b) => req.json(&b).send(),
            None => req.send(),
        };
        // The candidate never affects a response.
        assert_eq!(label_of(&r), default, "{method} {path}");
        // The default policy's own Retry-After (a minute, no end announced), never the candidate's.
        assert_eq!(r.header("retry-after"), (r.status == 503).then_some("60"), "{method} {path}");
        sent.push(Sent { method, path: path.to_string(), differs });
        r
    };

    // Activating: both allow reads and worker reports; both refuse new work, but
    // the strict policy says to retry sooner (30 s, not 60).
    for path in ["/api/v3.1/status", "/api/v3.1/version", "/api/v3.1/executions", "/api/v3.1/deployments", "/api/v3.1/deployments/held", "/api/v3.1/maintenance", "/api/v3.1/policies", "/api/v3.1/events?execution_id=x"] {
        assert!(send(&user, "GET", path, None, false).status < 500, "{path}");
    }
    let r = send(&user, "POST", "/api/v3.1/executions", Some(json!({"deployment_id": "held", "workflow_id": "install"})), true);
    assert_eq!(r.status, 503);
    let r = send(&user, "PUT", "/api/v3.1/deployments/new-one", Some(json!({"blueprint_id": "bp"})), true);
    assert_eq!(r.status, 503);
    // The last execution ends (a decision too): activated.
    let r = send(&admin, "PATCH", &format!("/api/v3.1/executions/{held}"), Some(json!({"status": "cancelled"})), false);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(admin.maintenance()["status"], "activated");

    // Activated: the allow-list passes under both; everything else is refused by
    // both, the strict policy saying to come back later (300 s, not 60).
    for path in ["/api/v3.1/status", "/api/v3.1/version", "/api/v3.1/maintenance"] {
        assert_eq!(send(&user, "GET", path, None, false).status, 200, "{path}");
    }
    for path in ["/api/v3.1/deployments", "/api/v3.1/executions", "/api/v3.1/policies"] {
        assert_eq!(send(&user, "GET", path, None, true).status, 503, "{path}");
    }
    // Never decided, so never shadowed: unrouted paths, and the admin floor.
    assert_eq!(user.get("/api/v3.1/no-such-thing").status, 404);
    assert_eq!(admin.get(&format!("{P}/shadow")).status, 200);

    let expected = sent.len() as u64;
    let expected_disagreements = sent.iter().filter(|s| s.differs).count() as u64;
    let deadline = Instant::now() + Duration::from_secs(20);
    let report = loop {
        let r = admin.get(&format!("{P}/shadow")).json();
        if r["evaluated"].as_u64() == Some(expected) || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(200));
    let report_after = admin.get(&format!("{P}/shadow")).json();
    assert_eq!(report_after["evaluated"], report["evaluated"], "nothing else was evaluated");
    assert_eq!(report["evaluated"].as_u64(), Some(expected), "{report:#}");
    assert_eq!(report["disagreements"].as_u64(), Some(expected_disagreements), "{report:#}");
    assert_eq!(report["agreements"].as_u64(), Some(expected - expected_disagreements), "{report:#}");
    assert_eq!(report["skipped"], 0);
    assert_eq!(report["candidate_faults"], 0);

    // Exactly the requests where the policies differ, newest first.
    let mut want: Vec<(String, String)> =
        sent.iter().filter(|s| s.differs).map(|s| (s.method.to_string(), s.path.clone())).collect();
    want.reverse();
    let recent = report["recent_disagreements"].as_array().unwrap();
    let got: Vec<(String, String)> = recent
        .iter()
        .map(|d| (d["request"]["method"].as_str().unwrap().to_string(), d["request"]["path"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(got, want);
    for d in recent {
        assert_eq!(d["differs_in"], json!(["retry_after"]), "{d:#}");
        assert_eq!(d["active"]["policy"], default.as_str());
        assert_eq!(d["candidate"]["policy"], strict.as_str());
        assert_eq!(d["active"]["decision"]["verdict"], "deny");
        assert_eq!(d["active"]["decision"]["retry_after"], 60, "the default policy: a minute, no end announced");
        assert_eq!(d["candidate"]["decision"]["verdict"], "deny");
        let retry = d["candidate"]["decision"]["retry_after"].as_u64().unwrap();
        let state = d["request"]["maintenance"].as_str().unwrap();
        assert_eq!(retry, if state == "activated" { 300 } else { 30 }, "{d:#}");
        assert_eq!(d["request"]["username"], "dave");
        assert!(d["at"].as_str().unwrap().ends_with('Z'));
    }
    // `_size` limits the list to the most recent.
    let two = admin.get(&format!("{P}/shadow?_size=2")).json();
    assert_eq!(two["recent_disagreements"].as_array().unwrap().len(), 2);
    assert_eq!(two["recent_disagreements"][0], recent[0]);

    // The shadow candidate cannot be deleted; stop, and the report stays readable.
    assert_eq!(admin.delete(&format!("{P}/{strict_id}")).status, 409);
    let stopped = admin.delete(&format!("{P}/shadow"));
    assert_eq!(stopped.status, 200, "{}", stopped.text);
    assert_eq!(stopped.json()["running"], false);
    assert_eq!(stopped.json()["stopped_by"], "admin");
    assert_eq!(admin.delete(&format!("{P}/shadow")).status, 409, "nothing left to stop");
    user.get("/api/v3.1/deployments");
    std::thread::sleep(Duration::from_millis(100));
    let last = admin.get(&format!("{P}/shadow")).json();
    assert_eq!((last["running"].as_bool(), last["evaluated"].as_u64()), (Some(false), Some(expected)));

    // The same figures in /metrics, with the maintenance state.
    let m = s.anon().get("/metrics");
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    for line in [
        format!("drydock_shadow_disagreements_total {expected_disagreements}"),
        format!("drydock_shadow_agreements_total {}", expected - expected_disagreements),
        "drydock_maintenance_state{state=\"activated\"} 1".to_string(),
        format!("drydock_policy_active{{policy=\"{default}\"}} 1"),
    ] {
        assert!(m.text.lines().any(|l| l == line), "missing {line:?} in\n{}", m.text);
    }
}

#[test]
fn metrics_count_decisions_by_version_and_verdict() {
    let s = Server::start();
    let admin = s.admin();
    let default = builtin_label(&admin);
    let (strict_id, strict) = push_strict(&admin);
    for _ in 0..3 {
        admin.get("/api/v3.1/status");
    }
    admin.post(&format!("{P}/{strict_id}/activate"), &json!({}));
    maintenance_on(&admin);
    for _ in 0..2 {
        assert_eq!(admin.get("/api/v3.1/deployments").status, 503);
    }
    admin.get("/api/v3.1/status");
    // During maintenance, without credentials: a scraper always reads it.
    let m = s.anon().get("/metrics");
    assert_eq!(m.status, 200, "{}", m.text);
    let value = |line_start: &str| -> u64 {
        m.text
            .lines()
            .find_map(|l| l.strip_prefix(line_start).map(|v| v.trim().parse::<u64>().unwrap()))
            .unwrap_or_else(|| panic!("no {line_start:?} in\n{}", m.text))
    };
    assert!(value(&format!("drydock_decisions_total{{policy=\"{default}\",verdict=\"allow\"}}")) >= 3);
    assert_eq!(value(&format!("drydock_decisions_total{{policy=\"{strict}\",verdict=\"deny\"}}")), 2);
    assert_eq!(value(&format!("drydock_decisions_total{{policy=\"{strict}\",verdict=\"allow\"}}")), 1);
    // Three decisions: each either timed (the policy was called) or remembered (the
    // gate's per-thread memo answered a repeat), never both.
    let timed = value(&format!("drydock_decision_duration_seconds_count{{policy=\"{strict}\"}}"));
    let remembered = value(&format!("drydock_decisions_remembered_total{{policy=\"{strict}\"}}"));
    assert_eq!((timed + remembered, timed >= 2), (3, true), "{timed} timed, {remembered} remembered");
    assert_eq!(value(&format!("drydock_decision_duration_seconds_bucket{{policy=\"{strict}\",le=\"+Inf\"}}")), timed);
    assert_eq!(value("drydock_policy_swaps_total"), 1);
    assert!(value("drydock_floor_admissions_total") >= 2);
    assert_eq!(value("drydock_maintenance_state{state=\"activated\"}"), 1);
    assert_eq!(value("drydock_unfinished_executions{status=\"started\"}"), 0);
    assert!(m.text.contains("# TYPE drydock_decision_duration_seconds histogram"));
}

#[test]
fn serve_policy_file_is_stored_and_activated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strict.wasm");
    std::fs::write(&path, STRICT_POLICY).unwrap();
    let s = Server::start_with(&["--policy", path.to_str().unwrap()]);
    let admin = s.admin();
    let active = admin.get(&format!("{P}/active")).json();
    assert_eq!(active["name"], "cloudify-strict");
    assert_eq!(active["activated_by"], "serve --policy");
    assert_eq!(label_of(&admin.get("/api/v3.1/status")), active["label"].as_str().unwrap());
    assert_eq!(admin.get(P).json()["items"].as_array().unwrap().len(), 2);
}

/// Turn maintenance mode on. Without a body: the maintenance handler does not
/// read one, and hyper then drops the keep-alive connection under the client.
fn maintenance_on(admin: &Client) -> Value {
    let r = admin.req("POST", "/api/v3.1/maintenance/activate").send();
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

#[test]
fn the_cli_drives_the_lifecycle() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("strict.wasm");
    std::fs::write(&file, STRICT_POLICY).unwrap();
    let drydock = |args: &[&str]| {
        let o = std::process::Command::new(drydock_e2e::binary())
            .args(args)
            .env("DRYDOCK_URL", s.base())
            .env("DRYDOCK_USERNAME", "admin")
            .env("DRYDOCK_PASSWORD", drydock_e2e::ADMIN_PASSWORD)
            .env("HOME", dir.path())
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        (o.status.code().unwrap_or(-1), text)
    };
    let admin = s.admin();

    let (code, out) = drydock(&["policy", "push", file.to_str().unwrap(), "--activate"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Uploaded policy version") && out.contains("cloudify-strict@"), "{out}");
    let strict_id = active_id(&admin);
    assert_ne!(strict_id, "builtin");
    let (code, out) = drydock(&["policy", "list"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&strict_id) && out.contains("builtin") && out.contains("previous"), "{out}");
    let (code, out) = drydock(&["policy", "rollback"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(active_id(&admin), "builtin");
    let (code, out) = drydock(&["policy", "show", "active", "--json"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["id"], "builtin");

    let (code, out) = drydock(&["policy", "shadow", &strict_id]);
    assert_eq!(code, 0, "{out}");
    maintenance_on(&admin);
    admin.get("/api/v3.1/deployments");
    admin.wait_for(10, "the candidate's verdict", |a| a.get(&format!("{P}/shadow")).json()["evaluated"] == 1);
    let (code, out) = drydock(&["policy", "shadow", "report"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 disagreements") && out.contains("GET /api/v3.1/deployments") && out.contains("retry_after"), "{out}");
    let (code, out) = drydock(&["policy", "shadow", "stop"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("stopped"), "{out}");

    let (code, out) = drydock(&["policy", "delete", "builtin"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cannot be deleted"), "{out}");
    let (code, out) = drydock(&["policy", "delete", &strict_id]);
    assert_eq!(code, 0, "{out}");
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm\x01\0\0\0").unwrap();
    let (code, out) = drydock(&["policy", "push", junk.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("core wasm module"), "{out}");
    let (code, out) = drydock(&["policy", "shadow"]);
    assert_eq!(code, 2, "{out}");
}
