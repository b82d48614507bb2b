//! drydock's no-race promise, hammered from both sides and checked in the database:
//! no execution is created after activation began, and `activated` is never recorded
//! while an unfinished execution exists.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use drydock_e2e::Server;
use serde_json::json;

#[test]
fn no_execution_is_created_after_activation_began() {
    let s = Server::start();
    let admin = s.admin();
    admin.create_deployment("d");

    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(5));
    let creators: Vec<_> = (0..4)
        .map(|_| {
            let client = s.admin();
            let stop = stop.clone();
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                let (mut created, mut refused) = (Vec::new(), 0);
                while !stop.load(Ordering::Relaxed) {
                    let r = client.start_execution("d", "install", json!({}));
                    match r.status {
                        201 => created.push(r.json()["id"].as_str().unwrap().to_string()),
                        503 => refused += 1,
                        other => panic!("unexpected {other}: {}", r.text),
                    }
                }
                (created, refused)
            })
        })
        .collect();

    start.wait();
    thread::sleep(std::time::Duration::from_millis(300));
    let m = admin.post("/api/v3.1/maintenance/activate", &json!({})).json();
    assert_eq!(m["status"], "activating");
    // The unfinished set at the instant activation was recorded (read under the same
    // lock). Nothing ends in this test (no worker runs `install`), so every execution
    // that ever exists must be in it: one that is not was created after activation.
    let at_activation: std::collections::BTreeSet<String> = m["remaining_executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);

    let mut created = Vec::new();
    let mut refused = 0;
    for c in creators {
        let (ids, n) = c.join().unwrap();
        created.extend(ids);
        refused += n;
    }
    assert!(!created.is_empty() && refused > 0, "both sides of the race ran: {} created, {refused} refused", created.len());

    let db = s.database();
    let mut stmt = db.prepare("SELECT id FROM executions").unwrap();
    let stored: std::collections::BTreeSet<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    let late: Vec<_> = stored.difference(&at_activation).collect();
    assert!(late.is_empty(), "{} executions were created after activation: {late:?}", late.len());
    // And by the clock: as instants (julianday), none was created after the request.
    let late_by_clock: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM executions, maintenance
             WHERE julianday(executions.created_at) > julianday(maintenance.activation_requested_at)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(late_by_clock, 0, "executions created after activation was requested");
    assert_eq!(stored.len(), created.len(), "every 201 is one row, and no refused request left one");
    let answered: std::collections::BTreeSet<String> = created.into_iter().collect();
    assert_eq!(stored, answered, "the rows are exactly the executions answered 201");
}

#[test]
fn activated_is_never_recorded_while_work_is_unfinished() {
    let s = Server::start();
    let admin = s.admin();
    admin.create_deployment("d");
    let ids: Vec<String> = (0..40)
        .map(|_| admin.start_execution("d", "install", json!({})).json()["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(admin.post("/api/v3.1/maintenance/activate", &json!({})).json()["status"], "activating");

    // Finish them from several threads at once, while another thread keeps reading.
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let mut db = s.database();
        let done = done.clone();
        thread::spawn(move || {
            let (mut looks, mut violations) = (0u32, Vec::new());
            while !done.load(Ordering::Relaxed) {
                // One read transaction: the maintenance row and the executions as of
                // one commit (WAL gives a reader a consistent snapshot).
                let tx = db.transaction().unwrap();
                let status: Option<String> =
                    tx.query_row("SELECT status FROM maintenance", [], |r| r.get(0)).ok();
                let unfinished: i64 = tx
                    .query_row(
                        "SELECT COUNT(*) FROM executions WHERE status NOT IN ('terminated', 'failed', 'cancelled')",
                        [],
                        |r| r.get(0),
                    )
                    .unwrap();
                drop(tx);
                looks += 1;
                if status.as_deref() == Some("activated") && unfinished > 0 {
                    violations.push(unfinished);
                }
            }
            (looks, violations)
        })
    };
    let workers: Vec<_> = ids
        .chunks(10)
        .map(|chunk| {
            let client = s.admin();
            let chunk = chunk.to_vec();
            thread::spawn(move || {
                for id in chunk {
                    let r = client.patch(&format!("/api/v3.1/executions/{id}"), &json!({"status": "started"}));
                    assert_eq!(r.status, 200, "{}", r.text);
                    let r = client.patch(&format!("/api/v3.1/executions/{id}"), &json!({"status": "terminated"}));
                    assert_eq!(r.status, 200, "{}", r.text);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let (looks, violations) = watcher.join().unwrap();
    assert!(looks > 10, "the watcher looked only {looks} times");
    assert!(violations.is_empty(), "`activated` recorded while executions were unfinished: {violations:?}");

    let db = s.database();
    let (status, activated_at): (String, String) = db
        .query_row("SELECT status, activated_at FROM maintenance", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(status, "activated");
    // Instants, not strings: the flip is the very instant the last execution ended.
    let (last_end, same): (String, bool) = db
        .query_row(
            "SELECT MAX(ended_at), julianday(?1) = julianday(MAX(ended_at)) FROM executions",
            [&activated_at],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(same, "activated at {activated_at}, but the last execution ended at {last_end}");
    let unfinished: i64 = db
        .query_row("SELECT COUNT(*) FROM executions WHERE status NOT IN ('terminated','failed','cancelled')", [], |r| r.get(0))
        .unwrap();
    assert_eq!(unfinished, 0);
}

#[test]
fn a_kill_9_during_writes_leaves_a_clean_database() {
    let mut s = Server::start();
    let admin = s.admin();
    admin.create_deployment("d");
    let writer = {
        let client = s.admin();
        thread::spawn(move || {
            let mut ok = 0;
            for _ in 0..400 {
                match client.req("POST", "/api/v3.1/executions")
                    .json(&json!({"deployment_id": "d", "workflow_id": "install"}))
                    .try_send()
                {
                    Ok(r) if r.status == 201 => ok += 1,
                    _ => break,
                }
            }
            ok
        })
    };
    thread::sleep(std::time::Duration::from_millis(400));
    s.kill9();
    let acknowledged = writer.join().unwrap();
    {
        let db = s.database();
        let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
    }
    s.spawn().unwrap();
    let list = s.admin().get("/api/v3.1/executions?_size=10000").json();
    let stored = list["metadata"]["pagination"]["total"].as_u64().unwrap();
    // Every acknowledged write survived; at most the one in flight may also have landed.
    assert!(stored >= acknowledged as u64 && stored <= acknowledged as u64 + 1, "{stored} stored, {acknowledged} acknowledged");
    assert_eq!(s.admin().maintenance()["status"], "deactivated");
}
