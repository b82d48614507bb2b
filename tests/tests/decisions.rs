//! The decision log and replay against the real binary: refusals are kept with the
//! input the policy saw and the id the response carried; allows are sampled; the log
//! keeps to its bounds and counts what it let go; a candidate version replayed over
//! the log reports exactly the requests it would answer otherwise, over REST and
//! offline from an export, and an export as cases is a test table the deciding
//! version passes.

use std::time::{Duration, Instant};

use drydock_e2e::{ADMIN_PASSWORD, Client, Server, run_cli};
use drydock_engine::STRICT_POLICY;
use serde_json::{Value, json};

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(30), "not within 30 s: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn total(admin: &Client, query: &str) -> u64 {
    let r = admin.get(&format!("/api/v3.1/decisions?{query}"));
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["metadata"]["pagination"]["total"].as_u64().unwrap()
}

fn metric(s: &Server, line: &str) -> u64 {
    let text = s.anon().get("/metrics").text;
    text.lines().find(|l| l.starts_with(line)).and_then(|l| l.rsplit(' ').next()?.parse().ok()).unwrap_or(0)
}

/// A refusal is kept with its id, the complete input the policy saw, the answer
/// and the deciding version; allows are kept as sampled (here: none, and all).
#[test]
fn a_refusal_is_kept_with_what_the_policy_saw_and_its_id() {
    let s = Server::start_with(&["--decision-log-sample", "off"]);
    let admin = s.admin();
    let ann = s.user("ann");
    let r = ann.get("/api/v3.1/deployments");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-drydock-decision-id"), None, "an allow, not sampled: no record");
    assert_eq!(admin.post("/api/v3.1/maintenance/activate", &json!({"reason": "disk swap"})).status, 200);
    let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let r = ann.req("GET", "/api/v3.1/deployments").header("traceparent", trace).send();
    assert_eq!(r.status, 503, "{}", r.text);
    let id = r.header("x-drydock-decision-id").expect("a refusal names its record").to_string();
    let mut record = Value::Null;
    until("the refusal is in the log", || {
        let r = admin.get(&format!("/api/v3.1/decisions/{id}"));
        record = r.json();
        r.status == 200
    });
    assert_eq!((record["verdict"].as_str(), record["origin"].as_str()), (Some("deny"), Some("policy")), "{record}");
    let input = &record["input"];
    assert_eq!(input["state"], "activated", "{record}");
    assert_eq!(input["request"]["path"], "/api/v3.1/deployments");
    assert_eq!(input["request"]["user"], "ann");
    assert!(input["facts"].to_string().contains("disk swap"), "the facts it saw: {record}");
    assert!(input["request"]["attributes"].to_string().contains("default_tenant"), "the tenant it saw: {record}");
    assert_eq!((record["answer"]["status"].as_u64(), record["answer"]["error_code"].as_str()), (Some(503), Some("maintenance_mode_active")));
    assert!(record["policy"]["label"].as_str().unwrap().starts_with("cloudify-default@"), "{record}");
    assert_eq!(record["traceparent"], trace, "the request's trace is kept with it");
    // Admin-floor passes are kept; the log is a sys_admin's to read.
    let r = admin.get("/api/v3.1/maintenance");
    assert!(r.header("x-drydock-decision-id").is_some(), "a floor pass is kept");
    assert_eq!(total(&admin, "verdict=deny&user=ann"), 1);
    // The console lists it among the recent refusals (a sys_admin's page).
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let login = agent
        .post(&format!("{}/console/login", s.base()))
        .content_type("application/x-www-form-urlencoded")
        .send(format!("username=admin&password={ADMIN_PASSWORD}"))
        .unwrap();
    let cookie = login.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
    let page = agent.get(&format!("{}/console", s.base())).header("Cookie", &cookie).call().unwrap().body_mut().read_to_string().unwrap();
    assert!(page.contains("Recent refusals") && page.contains(&id), "the console shows the refusal:\n{page}");
    assert_eq!(admin.post("/api/v3.1/maintenance/deactivate", &json!({})).status, 200);
    assert_eq!(ann.get("/api/v3.1/decisions").status, 403, "not ann's to read");
    assert!(metric(&s, "drydock_decisions_not_kept_total{reason=\"sampled_out\"}") >= 1, "the unsampled allow is counted");
}

/// With at most 50 rows, a flood of kept decisions leaves 50 in the log (the
/// oldest go first), and what went is counted.
#[test]
fn the_log_keeps_to_its_bounds_and_counts_what_it_let_go() {
    let s = Server::start_with(&["--decision-log-sample", "all", "--decision-log-max-rows", "50"]);
    let ann = s.user("ann");
    for _ in 0..200 {
        assert_eq!(ann.get("/api/v3.1/deployments").status, 200);
    }
    let admin = s.admin();
    // Written first (in batches, off the requests' way), then pruned (every 10 s): a
    // total under 50 before the writes are done would prove nothing.
    until("every decision written", || metric(&s, "drydock_decisions_kept_total") >= 200);
    until("pruned to 50", || metric(&s, "drydock_decisions_not_kept_total{reason=\"pruned\"}") >= 150);
    assert!(total(&admin, "") <= 50, "the log holds at most 50");
}

/// Replaying the strict policy over a log of traffic while activating reports
/// exactly the refused starts and creates (strict says when to retry otherwise) and
/// agrees on everything else: over REST, from the CLI, and offline from an export.
/// The export as cases is a table the deciding version passes.
#[test]
fn a_replay_reports_exactly_the_requests_a_candidate_answers_otherwise() {
    let s = Server::start_with(&["--decision-log-sample", "all"]);
    let admin = s.admin();
    assert_eq!(admin.create_deployment("d").status, 201);
    assert_eq!(admin.start_execution("d", "install", json!({})).status, 201);
    assert_eq!(admin.post("/api/v3.1/maintenance/activate", &json!({})).json()["status"], "activating");
    let ann = s.user("ann");
    for _ in 0..5 {
        assert_eq!(ann.get("/api/v3.1/deployments").status, 200);
    }
    for _ in 0..3 {
        assert_eq!(ann.start_execution("d", "install", json!({})).status, 503);
    }
    for i in 0..2 {
        assert_eq!(ann.create_deployment(&format!("new-{i}")).status, 503);
    }
    until("ann's ten requests are in the log", || total(&admin, "user=ann&path=/api/v3.1/") >= 10);
    let up = admin.req("POST", "/api/v3.1/policies").header("Content-Type", "application/wasm").body(STRICT_POLICY.to_vec()).send();
    assert_eq!(up.status, 201, "{}", up.text);
    let strict = up.json()["id"].as_str().unwrap().to_string();

    let check = |report: &Value, how: &str| {
        assert_eq!(report["allow_to_deny"], 0, "{how}: {report}");
        assert_eq!(report["deny_to_allow"], 0, "{how}: {report}");
        assert_eq!(report["faults"], 0, "{how}: {report}");
        assert_eq!(report["other_changes"], 5, "{how}: the three starts and two creates: {report}");
        let routes: Vec<(String, u64)> = report["routes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (format!("{} {}", r["method"].as_str().unwrap(), r["route"].as_str().unwrap()), r["changes"].as_u64().unwrap()))
            .collect();
        assert_eq!(routes, [("POST executions".to_string(), 3), ("PUT deployments/{id}".to_string(), 2)], "{how}: {report}");
        let sample = &report["routes"][0]["samples"][0];
        assert_eq!((sample["was"]["retry_after"].as_u64(), sample["now"]["retry_after"].as_u64()), (Some(60), Some(30)), "{how}: {sample}");
        assert!(report["agreements"].as_u64().unwrap() >= 5, "{how}: ann's reads, and what else was asked: {report}");
    };
    let r = admin.post(&format!("/api/v3.1/policies/{strict}/replay"), &json!({"since": "1h"}));
    assert_eq!(r.status, 200, "{}", r.text);
    let rest = r.json();
    check(&rest, "REST");

    let base = s.base();
    let dir = tempfile::tempdir().unwrap();
    let env = [("DRYDOCK_URL", base.as_str()), ("DRYDOCK_USERNAME", "admin"), ("DRYDOCK_PASSWORD", ADMIN_PASSWORD)];
    let out = run_cli(&env, &["policy", "replay", &strict, "--since", "1h", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    check(&serde_json::from_str(&out.stdout).unwrap(), "the CLI, on the server");
    let out = run_cli(&env, &["policy", "replay", &strict, "--since", "1h", "--fail-on-change"]);
    assert_eq!(out.code, 1, "--fail-on-change: {out:?}");
    assert!(out.stdout.contains("allow -> deny:\t0") && out.stdout.contains("POST executions: 3"), "{}", out.stdout);

    let log = dir.path().join("log.ndjson");
    let out = run_cli(&env, &["decisions", "export", "--since", "1h", "-o", log.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    let offline = run_cli(&[], &["policy", "replay", "builtin:strict", "--log", log.to_str().unwrap(), "--json"]);
    assert_eq!(offline.code, 0, "{offline:?}");
    let offline: Value = serde_json::from_str(&offline.stdout).unwrap();
    check(&offline, "offline");
    // The same changes; the export may hold more agreements (the CLI's own allowed
    // requests since, logged with every allow kept).
    let changes = |r: &Value| r["total"].as_u64().unwrap() - r["agreements"].as_u64().unwrap();
    assert_eq!(changes(&offline), changes(&rest), "the same changed decisions: {offline} / {rest}");
    assert!(offline["total"].as_u64() >= rest["total"].as_u64(), "{offline} / {rest}");

    let cases = dir.path().join("cases.yaml");
    let out = run_cli(&env, &["decisions", "export", "--since", "1h", "--as-cases", "-o", cases.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    let test = run_cli(&[], &["policy", "test", "builtin:default", cases.to_str().unwrap()]);
    assert_eq!(test.code, 0, "the deciding version passes its own traffic: {test:?}");
    let test = run_cli(&[], &["policy", "test", "builtin:strict", cases.to_str().unwrap()]);
    assert_eq!(test.code, 1, "the candidate fails where it answers otherwise: {test:?}");
}

/// A shadow candidate's disagreements are kept (its answer, beside what the active
/// version served), agreements are not, and a replay does not take them for
/// served decisions.
#[test]
fn a_shadow_candidates_disagreements_are_kept_beside_what_was_served() {
    let s = Server::start_with(&["--decision-log-sample", "off"]);
    let admin = s.admin();
    assert_eq!(admin.create_deployment("d").status, 201);
    assert_eq!(admin.start_execution("d", "install", json!({})).status, 201);
    assert_eq!(admin.post("/api/v3.1/maintenance/activate", &json!({})).json()["status"], "activating");
    let up = admin.req("POST", "/api/v3.1/policies").header("Content-Type", "application/wasm").body(STRICT_POLICY.to_vec()).send();
    assert_eq!(up.status, 201, "{}", up.text);
    let strict = up.json();
    let r = admin.post(&format!("/api/v3.1/policies/{}/shadow", strict["id"].as_str().unwrap()), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);

    let ann = s.user("ann");
    for _ in 0..4 {
        assert_eq!(ann.get("/api/v3.1/deployments").status, 200);
    }
    for _ in 0..3 {
        assert_eq!(ann.start_execution("d", "install", json!({})).status, 503);
    }
    until("the shadow candidate saw ann's seven requests", || {
        admin.get("/api/v3.1/policies/shadow").json()["evaluated"].as_u64().unwrap_or(0) >= 7
    });
    until("the three disagreements are in the log", || total(&admin, "origin=shadow") >= 3);
    std::thread::sleep(Duration::from_millis(500));
    let r = admin.get("/api/v3.1/decisions?origin=shadow");
    let items = r.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3, "the three starts, not the agreed reads: {}", r.text);
    for d in &items {
        assert_eq!(d["input"]["request"]["route"], "executions", "{d}");
        assert_eq!(d["policy"]["sha256"], strict["sha256"], "the candidate's record: {d}");
        assert_eq!((d["verdict"].as_str(), d["answer"]["retry_after"].as_u64()), (Some("deny"), Some(30)), "the candidate's answer: {d}");
        assert_eq!(d["served"]["answer"]["retry_after"], 60, "what the caller got: {d}");
        assert!(d["served"]["policy"]["label"].as_str().unwrap().starts_with("cloudify-default@"), "the active version: {d}");
    }
    // The served refusals are kept as such (from the policy or its memo), the
    // shadow records beside them; a replay skips the shadow records.
    assert_eq!(total(&admin, "verdict=deny&user=ann"), 6);
    let r = admin.post("/api/v3.1/policies/builtin/replay", &json!({"since": "1h"}));
    assert_eq!(r.status, 200, "{}", r.text);
    let report = r.json();
    assert_eq!((report["skipped_shadow"].as_u64(), report["agreements"].as_u64().map(|n| n >= 3)), (Some(3), Some(true)), "{report}");
    assert_eq!(report["allow_to_deny"].as_u64().unwrap() + report["deny_to_allow"].as_u64().unwrap() + report["other_changes"].as_u64().unwrap(), 0, "{report}");
}
