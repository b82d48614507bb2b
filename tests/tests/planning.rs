//! Maintenance an operator can plan, over real HTTP: a reason and an expected end
//! that every refused client is told (Retry-After counting down), scheduled windows
//! that start and end by themselves (also across a restart), a deadline for
//! activating (cancel, force-cancel, revert), the history of every transition,
//! starting in maintenance, and a running execution's child work while activating.

use std::time::{Duration, Instant};

use drydock_e2e::{Client, Server, run_cli};
use serde_json::{Value, json};

fn until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out ({secs} s) waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn status(c: &Client) -> String {
    c.maintenance()["status"].as_str().unwrap().to_string()
}

fn history(c: &Client) -> Vec<Value> {
    let r = c.get("/api/v3.1/maintenance/history");
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["items"].as_array().unwrap().clone()
}

fn retry_after(c: &Client) -> u64 {
    let r = c.get("/api/v3.1/deployments");
    assert_eq!(r.status, 503, "{}", r.text);
    r.header("retry-after").expect("a maintenance refusal carries Retry-After").parse().unwrap()
}

#[test]
fn a_reason_and_an_expected_end_reach_every_refused_client() {
    let s = Server::start();
    let admin = s.admin();
    let user = s.user("rita");
    // Bad plans are refused, and change nothing.
    for (body, says) in [
        (json!({"until": "soon"}), "neither an RFC 3339 time"),
        (json!({"until": "2001-01-01T00:00:00Z"}), "not in the future"),
        (json!({"reason": "x".repeat(501)}), "longer than 500"),
        (json!({"reason": "two\nlines"}), "one line"),
        (json!({"on_deadline": "cancel"}), "needs a `deadline`"),
        (json!({"deadline": "5m", "on_deadline": "panic"}), "one of wait, cancel"),
        (json!({"reasn": "typo"}), "unknown field"),
    ] {
        let r = admin.post("/api/v3.1/maintenance/activate", &body);
        assert_eq!((r.status, r.error_code().as_str()), (400, "bad_parameters_error"), "{body}: {}", r.text);
        assert!(r.text.contains(says), "{body}: {}", r.text);
    }
    assert_eq!(status(&admin), "deactivated");

    let r = admin.post("/api/v3.1/maintenance/activate", &json!({"reason": "storage upgrade", "until": "10m"}));
    assert_eq!(r.status, 200, "{}", r.text);
    let view = r.json();
    assert_eq!((view["status"].as_str(), view["reason"].as_str()), (Some("activated"), Some("storage upgrade")));
    assert!(view["until"].as_str().is_some_and(|u| u.ends_with('Z')), "{view}");
    assert_eq!(admin.maintenance()["reason"], "storage upgrade");

    let refused = user.get("/api/v3.1/deployments");
    assert_eq!(refused.status, 503);
    assert_eq!(
        refused.json()["message"],
        "Your request was rejected since drydock is currently in maintenance mode: storage upgrade"
    );
    let first = retry_after(&user);
    assert!((590..=600).contains(&first), "Retry-After {first}: the seconds until the announced end");
    // It counts down (the clock publishes it anew each second; no remembered
    // decision keeps the old value).
    until(5, "Retry-After to count down", || retry_after(&user) < first);

    // The CLI shows them; deactivating keeps who and why in the history.
    let env = [("DRYDOCK_URL", s.base()), ("DRYDOCK_USERNAME", "admin".into()), ("DRYDOCK_PASSWORD", drydock_e2e::ADMIN_PASSWORD.into())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run_cli(&env, &["maintenance-mode", "status"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("\tReason:\tstorage upgrade") && out.stdout.contains("\tUntil:\t"), "{}", out.stdout);
    let out = run_cli(&env, &["status"]);
    assert!(out.stdout.contains("Maintenance mode is activated.\nReason: storage upgrade\nExpected to end: "), "{}", out.stdout);
    let out = run_cli(&env, &["status", "--json"]);
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!((json["maintenance_mode"].as_str(), json["maintenance_reason"].as_str()), (Some("activated"), Some("storage upgrade")));
    assert_eq!(admin.post("/api/v3.1/maintenance/deactivate", &json!({})).status, 200);
    let h = history(&admin);
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!((h[0]["by"].as_str(), h[0]["from"].as_str(), h[0]["to"].as_str()), (Some("admin"), Some("activated"), Some("deactivated")));
    assert_eq!((h[1]["to"].as_str(), h[1]["reason"].as_str()), (Some("activated"), Some("storage upgrade")));

    // Without an end: a minute; the CLI's flags say the same as the REST fields.
    let out = run_cli(&env, &["maintenance-mode", "activate", "--reason", "kernel patch"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(retry_after(&user), 60);
    assert_eq!(user.get("/api/v3.1/deployments").json()["message"].as_str().map(|m| m.ends_with(": kernel patch")), Some(true));
    let out = run_cli(&env, &["maintenance-mode", "history"]);
    assert!(out.stdout.contains("kernel patch") && out.stdout.contains("3 of 3"), "{}", out.stdout);
}

#[test]
fn a_scheduled_window_starts_and_ends_by_itself() {
    let s = Server::start();
    let admin = s.admin();
    let r = admin.post("/api/v3.1/maintenance/windows", &json!({"at": "2s", "until": "4s", "reason": "switch swap"}));
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_string();
    // Shown ahead of time.
    let view = admin.maintenance();
    assert_eq!((view["status"].as_str(), view["next_window"]["id"].as_str()), (Some("deactivated"), Some(id.as_str())));
    until(10, "the window to start", || status(&admin) == "activated");
    let view = admin.maintenance();
    assert_eq!((view["requested_by"].as_str(), view["reason"].as_str()), (Some("schedule"), Some("switch swap")));
    until(10, "the window to end", || status(&admin) == "deactivated");
    let h = history(&admin);
    assert_eq!(h.iter().map(|t| t["by"].as_str().unwrap()).collect::<Vec<_>>(), ["schedule", "schedule"]);
    assert!(h[0]["detail"].as_str().unwrap().contains(&format!("window {id} ended")), "{h:?}");
    let all = admin.get("/api/v3.1/maintenance/windows").json();
    assert_eq!(all["items"][0]["status"], "ended");

    // A cancelled window never starts; a bad one is refused.
    let r = admin.post("/api/v3.1/maintenance/windows", &json!({"at": "1s"}));
    let late = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(admin.delete(&format!("/api/v3.1/maintenance/windows/{late}")).status, 200);
    assert_eq!(admin.delete(&format!("/api/v3.1/maintenance/windows/{late}")).status, 404);
    assert_eq!(admin.post("/api/v3.1/maintenance/windows", &json!({"at": "5m", "until": "2026-01-01T00:00:00Z"})).status, 400);
    // A duration for the end counts from the start.
    let w = admin.post("/api/v3.1/maintenance/windows", &json!({"at": "2030-06-01T10:00:00Z", "until": "2h"})).json();
    assert_eq!(w["end_at"], "2030-06-01T12:00:00.000Z", "{w}");
    assert_eq!(admin.delete(&format!("/api/v3.1/maintenance/windows/{}", w["id"].as_str().unwrap())).status, 200);
    assert_eq!(admin.post("/api/v3.1/maintenance/windows", &json!({"until": "1m"})).status, 400);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(status(&admin), "deactivated");
    assert_eq!(s.user("uma").post("/api/v3.1/maintenance/windows", &json!({"at": "1h"})).status, 403);
}

#[test]
fn a_window_whose_start_passed_while_the_server_was_down_starts_when_it_is_back() {
    let mut s = Server::start();
    let r = s.admin().post("/api/v3.1/maintenance/windows", &json!({"at": "1s", "until": "1h", "reason": "rack move"}));
    assert_eq!(r.status, 201, "{}", r.text);
    s.kill9();
    std::thread::sleep(Duration::from_millis(1500));
    s.spawn().unwrap_or_else(|e| panic!("{e}"));
    let admin = s.admin();
    until(5, "the missed window to start", || status(&admin) == "activated");
    assert_eq!(admin.maintenance()["reason"], "rack move");
}

/// A `sleep` execution the built-in worker runs, started.
fn sleeping(admin: &Client, deployment: &str, seconds: u32) -> String {
    let r = admin.start_execution(deployment, "sleep", json!({"seconds": seconds}));
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_string();
    until(10, "the sleep to start", || admin.get(&format!("/api/v3.1/executions/{id}")).json()["status"] == "started");
    id
}

/// An `install` execution reported started by hand: no worker ends it on its own.
fn started_by_hand(admin: &Client, deployment: &str) -> String {
    let id = admin.start_execution(deployment, "install", json!({})).json()["id"].as_str().unwrap().to_string();
    let r = admin.patch(&format!("/api/v3.1/executions/{id}"), &json!({"status": "started"}));
    assert_eq!(r.status, 200, "{}", r.text);
    id
}

fn execution_status(s: &Server, id: &str) -> String {
    let bypass = s.admin().with_header("X-BYPASS-MAINTENANCE", "true");
    bypass.get(&format!("/api/v3.1/executions/{id}")).json()["status"].as_str().unwrap().to_string()
}

#[test]
fn a_deadline_cancels_what_is_left_and_activates_once_it_has_ended() {
    let s = Server::start();
    let admin = s.admin();
    admin.create_deployment("d");
    let held = started_by_hand(&admin, "d");
    let asleep = sleeping(&admin, "d", 600);
    let r = admin.post("/api/v3.1/maintenance/activate", &json!({"deadline": "2s", "on_deadline": "cancel"}));
    assert_eq!((r.json()["status"].as_str(), r.json()["on_deadline"].as_str()), (Some("activating"), Some("cancel")), "{}", r.text);
    // Cancelled: the built-in worker stops its sleep at once; the other execution is
    // asked to stop and activation waits until it has.
    until(15, "the deadline to cancel", || execution_status(&s, &held) == "cancelling");
    until(10, "the sleep to be cancelled", || execution_status(&s, &asleep) == "cancelled");
    assert_eq!(status(&admin), "activating", "activating waits for the cancelled work to end");
    assert!(admin.maintenance()["deadline"].is_null(), "the deadline is spent");
    admin.patch(&format!("/api/v3.1/executions/{held}"), &json!({"status": "cancelled"}));
    assert_eq!(status(&admin), "activated");
    let h = history(&admin);
    let by: Vec<&str> = h.iter().map(|t| t["by"].as_str().unwrap()).collect();
    assert_eq!(by, ["drydock", "deadline", "admin"], "{h:#?}");
    assert!(h[1]["detail"].as_str().unwrap().contains("passed with 2 unfinished; cancel"), "{h:#?}");
}

#[test]
fn a_deadline_can_force_cancel_wait_or_give_up() {
    let s = Server::start();
    let admin = s.admin();
    admin.create_deployment("d");
    // Force-cancel: what is left ends at once, and maintenance is activated.
    let held = started_by_hand(&admin, "d");
    admin.post("/api/v3.1/maintenance/activate", &json!({"deadline": "1s", "on_deadline": "force-cancel"}));
    until(10, "force-cancel to end it and activate", || status(&admin) == "activated");
    assert_eq!(execution_status(&s, &held), "cancelled");
    assert_eq!(admin.post("/api/v3.1/maintenance/deactivate", &json!({})).status, 200);

    // Wait: recorded, nothing else changes.
    let held = started_by_hand(&admin, "d");
    admin.post("/api/v3.1/maintenance/activate", &json!({"deadline": "1s"}));
    until(10, "the deadline to be recorded", || history(&admin)[0]["by"] == "deadline");
    assert!(history(&admin)[0]["detail"].as_str().unwrap().ends_with("wait"));
    assert_eq!((status(&admin), execution_status(&s, &held)), ("activating".to_string(), "started".to_string()));
    assert_eq!(admin.post("/api/v3.1/maintenance/deactivate", &json!({})).status, 200);

    // Revert: the wait is given up, the executions go on.
    let r = admin.post("/api/v3.1/maintenance/activate", &json!({"deadline": "1s", "on_deadline": "revert", "reason": "try"}));
    assert_eq!(r.json()["status"], "activating");
    until(10, "the deadline to revert", || status(&admin) == "deactivated");
    assert_eq!(execution_status(&s, &held), "started");
    let h = history(&admin);
    assert_eq!((h[0]["by"].as_str(), h[0]["to"].as_str()), (Some("deadline"), Some("deactivated")), "{h:#?}");
    assert!(h[0]["detail"].as_str().unwrap().ends_with("revert"), "{h:#?}");
}

#[test]
fn a_window_ends_only_the_maintenance_it_began_and_one_under_way_can_be_cancelled() {
    let s = Server::start();
    let admin = s.admin();
    // Maintenance by hand first: the window's start and end leave it alone.
    admin.post("/api/v3.1/maintenance/activate", &json!({"reason": "by hand"}));
    let w = admin.post("/api/v3.1/maintenance/windows", &json!({"at": "1s", "until": "1s"})).json();
    until(10, "the window to pass", || {
        admin.get("/api/v3.1/maintenance/windows").json()["items"][0]["status"] == "ended"
    });
    let view = admin.maintenance();
    assert_eq!((view["status"].as_str(), view["requested_by"].as_str()), (Some("activated"), Some("admin")), "{w}");
    assert_eq!(admin.post("/api/v3.1/maintenance/deactivate", &json!({})).status, 200);

    // A window with no end, under way, is cancelled: it ends, and its maintenance too.
    let w = admin.post("/api/v3.1/maintenance/windows", &json!({"at": "1s", "reason": "open-ended"})).json();
    let id = w["id"].as_str().unwrap().to_string();
    until(10, "the window to start", || status(&admin) == "activated");
    let r = admin.delete(&format!("/api/v3.1/maintenance/windows/{id}"));
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("ended")), "{}", r.text);
    assert_eq!(status(&admin), "deactivated");
    assert!(admin.maintenance()["next_window"].is_null());
}

#[test]
fn serve_can_start_in_maintenance() {
    let s = Server::start_with(&["--start-in-maintenance", "--maintenance-reason", "upgrading to 2.0"]);
    let admin = s.admin();
    let view = admin.maintenance();
    assert_eq!((view["status"].as_str(), view["requested_by"].as_str(), view["reason"].as_str()), (Some("activated"), Some("serve"), Some("upgrading to 2.0")));
    let h = history(&admin);
    assert_eq!((h.len(), h[0]["by"].as_str()), (1, Some("serve")));
    assert!(h[0]["detail"].as_str().unwrap().contains("--start-in-maintenance"));
}

#[test]
fn a_running_execution_starts_child_work_while_activating() {
    let s = Server::start();
    let admin = s.admin();
    admin.create_deployment("d");
    let parent = sleeping(&admin, "d", 600);
    let pending = admin.start_execution("d", "install", json!({})).json()["id"].as_str().unwrap().to_string();
    assert_eq!(admin.post("/api/v3.1/maintenance/activate", &json!({})).json()["status"], "activating");
    let start = |c: &Client, parent: Option<&str>| {
        let req = c.req("POST", "/api/v3.1/executions").json(&json!({"deployment_id": "d", "workflow_id": "install"}));
        match parent {
            Some(p) => req.header("X-Drydock-Parent-Execution", p).send(),
            None => req.send(),
        }
    };
    assert_eq!(start(&admin, None).error_code(), "entering_maintenance_mode");
    let child = start(&admin, Some(&parent));
    assert_eq!(child.status, 201, "{}", child.text);
    // What does not check out is a clear 400 (or 403), never a silent pass.
    let r = start(&admin, Some("no-such-execution"));
    assert_eq!((r.status, r.text.contains("there is no execution")), (400, true), "{}", r.text);
    let r = start(&admin, Some(&pending));
    assert_eq!((r.status, r.text.contains("not running")), (400, true), "{}", r.text);
    let r = start(&admin, Some("a b"));
    assert_eq!(r.status, 400, "{}", r.text);
    let other = s.user("otto");
    assert_eq!(start(&other, Some(&parent)).status, 403, "someone else's execution is not your parent");
    // The child is unfinished work activation waits for too.
    let remaining: Vec<String> = admin.maintenance()["remaining_executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert!(remaining.contains(&child.json()["id"].as_str().unwrap().to_string()), "{remaining:?}");
}

/// A client follows the live event stream (`drydock maintenance-mode watch --json`
/// reads `GET /maintenance/events`): the state at once, then each transition and each
/// change of what activation waits for, as they happen.
#[test]
fn the_event_stream_shows_transitions_and_remaining_work_as_they_happen() {
    let s = Server::start();
    let admin = s.admin();
    admin.create_deployment("d");
    let (mut child, rx) = drydock_e2e::watching(&s);
    let next = |what: &str| rx.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| panic!("no event: {what}"));
    let e = next("the state now");
    assert_eq!((e["event"].as_str(), e["state"]["status"].as_str()), (Some("state"), Some("deactivated")));

    let a = admin.start_execution("d", "install", json!({})).json()["id"].as_str().unwrap().to_string();
    let b = admin.start_execution("d", "install", json!({})).json()["id"].as_str().unwrap().to_string();
    admin.post("/api/v3.1/maintenance/activate", &json!({"reason": "watch me"}));
    let e = next("activating");
    assert_eq!((e["event"].as_str(), e["state"]["status"].as_str()), (Some("transition"), Some("activating")), "{e}");
    assert_eq!((e["state"]["remaining_executions"].as_array().map(Vec::len), e["state"]["reason"].as_str()), (Some(2), Some("watch me")));
    admin.patch(&format!("/api/v3.1/executions/{a}"), &json!({"status": "cancelled"}));
    let e = next("one execution ended");
    assert_eq!((e["event"].as_str(), e["state"]["remaining_executions"].as_array().map(Vec::len)), (Some("remaining"), Some(1)), "{e}");
    admin.patch(&format!("/api/v3.1/executions/{b}"), &json!({"status": "failed"}));
    let e = next("activated");
    assert_eq!((e["event"].as_str(), e["state"]["status"].as_str()), (Some("transition"), Some("activated")), "{e}");
    admin.post("/api/v3.1/maintenance/deactivate", &json!({}));
    assert_eq!(next("deactivated")["state"]["status"], "deactivated");
    let _ = child.kill();
    let _ = child.wait();
}

/// The server ends an event stream after its lifetime (`--event-stream-lifetime`);
/// `maintenance-mode watch` follows again without a word, showing nothing twice, and
/// the next change arrives as if nothing had happened.
#[test]
fn watch_follows_again_when_the_server_ends_a_stream() {
    let s = Server::start_with(&["--event-stream-lifetime", "1"]);
    let (mut child, rx) = drydock_e2e::watching(&s);
    let e = rx.recv_timeout(Duration::from_secs(10)).expect("the state now");
    assert_eq!((e["event"].as_str(), e["state"]["status"].as_str()), (Some("state"), Some("deactivated")));
    // Three lifetimes pass: the streams end and are followed again, and nothing is shown.
    match rx.recv_timeout(Duration::from_millis(3500)) {
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        other => panic!("watch showed something while nothing changed, or stopped: {other:?}"),
    }
    s.admin().post("/api/v3.1/maintenance/activate", &json!({"reason": "later"}));
    let e = rx.recv_timeout(Duration::from_secs(10)).expect("the activation, on a stream followed again");
    assert_eq!(e["event"], "transition", "{e}");
    assert_eq!(e["state"]["reason"], "later", "{e}");
    let _ = child.kill();
    let _ = child.wait();
}

/// Overlapping windows are refused, naming the window in the way (the first one's
/// end would otherwise end the maintenance the second still needs); windows that
/// touch end to start do not overlap, and an open-ended window overlaps all after it.
#[test]
fn overlapping_windows_are_refused_naming_the_one_in_the_way() {
    let s = Server::start();
    let admin = s.admin();
    let schedule = |at: &str, until: Option<&str>| {
        let mut body = json!({"at": at});
        if let Some(u) = until {
            body["until"] = json!(u);
        }
        admin.post("/api/v3.1/maintenance/windows", &body)
    };
    let first = schedule("2030-06-01T10:00:00Z", Some("2030-06-01T12:00:00Z"));
    assert_eq!(first.status, 201, "{}", first.text);
    let first = first.json()["id"].as_str().unwrap().to_string();
    let r = schedule("2030-06-01T11:00:00Z", Some("2030-06-01T13:00:00Z"));
    assert_eq!((r.status, r.error_code()), (409, "conflict_error".to_string()), "{}", r.text);
    assert!(r.json()["message"].as_str().unwrap().contains(&first), "{}", r.text);
    assert_eq!(schedule("2030-06-01T09:00:00Z", None).status, 409, "an open-ended window from before it");
    assert_eq!(schedule("2030-06-01T12:00:00Z", Some("2030-06-01T13:00:00Z")).status, 201, "end to start touches, no overlap");
    assert_eq!(schedule("2030-07-01T00:00:00Z", None).status, 201, "open-ended, after all");
    assert_eq!(schedule("2031-01-01T00:00:00Z", Some("1h")).status, 409, "inside the open-ended one");
    // Cancelled, the window is no longer in the way.
    assert_eq!(admin.delete(&format!("/api/v3.1/maintenance/windows/{first}")).status, 200);
    assert_eq!(schedule("2030-06-01T11:00:00Z", Some("2030-06-01T11:30:00Z")).status, 201);
}
