//! drydock's no-race promise, hammered from both sides and checked in the database,
//! on both backends: no execution is created after activation began, `activated` is
//! never recorded while an unfinished execution exists, and `kill -9` under
//! concurrent writers loses nothing acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use drydock_e2e::Server;
use serde_json::json;

/// Where a server keeps its state, read after the fact (or alongside).
enum Db {
    Sqlite(std::path::PathBuf),
    /// The URL, and one `psql` kept open for the queries (a process per query is
    /// too slow for the watcher below).
    Postgres(String, std::sync::Mutex<Option<Psql>>),
}

struct Psql {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
}

impl Drop for Psql {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Db {
    /// Each row of `sql`'s answer, as text.
    fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        match self {
            Db::Sqlite(path) => {
                let db = rusqlite::Connection::open(path).unwrap();
                let mut stmt = db.prepare(sql).unwrap();
                let n = stmt.column_count();
                stmt.query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            Ok(match r.get::<_, rusqlite::types::Value>(i)? {
                                rusqlite::types::Value::Null => String::new(),
                                rusqlite::types::Value::Integer(v) => v.to_string(),
                                rusqlite::types::Value::Real(v) => v.to_string(),
                                rusqlite::types::Value::Text(v) => v,
                                rusqlite::types::Value::Blob(_) => "<blob>".into(),
                            })
                        })
                        .collect()
                })
                .unwrap()
                .map(Result::unwrap)
                .collect()
            }
            Db::Postgres(url, psql) => {
                use std::io::{BufRead, Write};
                let mut psql = psql.lock().unwrap();
                let p = psql.get_or_insert_with(|| {
                    let mut child = std::process::Command::new("psql")
                        .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-F", "\t", url])
                        .stdin(std::process::Stdio::piped())
                        .stdout(std::process::Stdio::piped())
                        .spawn()
                        .expect("run psql");
                    let input = child.stdin.take().unwrap();
                    let output = std::io::BufReader::new(child.stdout.take().unwrap());
                    Psql { child, input, output }
                });
                // One line per statement; a marker line ends the answer.
                writeln!(p.input, "{};\n\\echo __end__", sql.replace('\n', " ")).unwrap();
                p.input.flush().unwrap();
                let mut rows = Vec::new();
                loop {
                    let mut line = String::new();
                    assert!(p.output.read_line(&mut line).unwrap() > 0, "psql ended at {sql}");
                    let line = line.trim_end_matches('\n');
                    if line == "__end__" {
                        break;
                    }
                    if !line.is_empty() {
                        rows.push(line.split('\t').map(str::to_string).collect());
                    }
                }
                rows
            }
        }
    }

    fn one(&self, sql: &str) -> String {
        self.rows(sql).into_iter().next().and_then(|r| r.into_iter().next()).unwrap_or_default()
    }

    /// A timestamp column as an instant both databases compare.
    fn instant(&self, column: &str) -> String {
        match self {
            Db::Sqlite(_) => format!("julianday({column})"),
            Db::Postgres(..) => format!("({column})::timestamptz"),
        }
    }
}

/// A server on each backend, with its database.
fn servers() -> Vec<(&'static str, Server, Db)> {
    let sqlite = Server::start();
    let db = Db::Sqlite(sqlite.data_dir().join("drydock.sqlite3"));
    let url = drydock_e2e::postgres::fresh_database();
    let pg = Server::start_with(&["--database-url", &url]);
    vec![("sqlite", sqlite, db), ("postgres", pg, Db::Postgres(url, Default::default()))]
}

#[test]
fn no_execution_is_created_after_activation_began() {
    for (name, s, db) in servers() {
        eprintln!("backend: {name}");
        created_after_activation_on(&s, &db);
    }
}

fn created_after_activation_on(s: &Server, db: &Db) {
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
    // The unfinished set the activation answered with (read right after it committed).
    // Nothing ends in this test (no worker runs `install`), so every execution that
    // ever exists must be in it: one that is not was created after activation.
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

    let stored: std::collections::BTreeSet<String> =
        db.rows("SELECT id FROM executions").into_iter().map(|mut r| r.remove(0)).collect();
    let late: Vec<_> = stored.difference(&at_activation).collect();
    assert!(late.is_empty(), "{} executions were created after activation: {late:?}", late.len());
    // And by the clock: as instants, none was created after the request.
    let late_by_clock = db.one(&format!(
        "SELECT COUNT(*) FROM executions, maintenance WHERE {} > {}",
        db.instant("executions.created_at"),
        db.instant("maintenance.activation_requested_at")
    ));
    assert_eq!(late_by_clock, "0", "executions created after activation was requested");
    assert_eq!(stored.len(), created.len(), "every 201 is one row, and no refused request left one");
    let answered: std::collections::BTreeSet<String> = created.into_iter().collect();
    assert_eq!(stored, answered, "the rows are exactly the executions answered 201");
}

#[test]
fn activated_is_never_recorded_while_work_is_unfinished() {
    for (name, s, db) in servers() {
        eprintln!("backend: {name}");
        activated_while_unfinished_on(&s, db);
    }
}

fn activated_while_unfinished_on(s: &Server, db: Db) {
    let admin = s.admin();
    admin.create_deployment("d");
    let ids: Vec<String> = (0..200)
        .map(|_| admin.start_execution("d", "install", json!({})).json()["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(admin.post("/api/v3.1/maintenance/activate", &json!({})).json()["status"], "activating");

    // Finish them from several threads at once, while another thread keeps reading.
    let done = Arc::new(AtomicBool::new(false));
    let db = Arc::new(db);
    let watcher = {
        let db = db.clone();
        let done = done.clone();
        thread::spawn(move || {
            let (mut looks, mut violations) = (0u32, Vec::new());
            while !done.load(Ordering::Relaxed) {
                // One statement: the maintenance row and the executions as of one
                // commit (one snapshot, on either database).
                let row = db.rows(
                    "SELECT (SELECT status FROM maintenance),
                            (SELECT COUNT(*) FROM executions WHERE status NOT IN ('terminated', 'failed', 'cancelled'))",
                );
                looks += 1;
                if row[0][0] == "activated" && row[0][1] != "0" {
                    violations.push(row[0][1].clone());
                }
            }
            (looks, violations)
        })
    };
    let workers: Vec<_> = ids
        .chunks(50)
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

    let row = db.rows(&format!(
        "SELECT m.status, m.activated_at, e.last, CASE WHEN {} = {} THEN 1 ELSE 0 END
         FROM maintenance m, (SELECT MAX(ended_at) AS last FROM executions) e",
        db.instant("m.activated_at"),
        db.instant("e.last")
    ));
    let (status, activated_at, last_end, same) = (&row[0][0], &row[0][1], &row[0][2], &row[0][3]);
    assert_eq!(status, "activated");
    // Instants, not strings: the flip is the very instant the last execution ended.
    assert_eq!(same, "1", "activated at {activated_at}, but the last execution ended at {last_end}");
    let unfinished = db.one("SELECT COUNT(*) FROM executions WHERE status NOT IN ('terminated','failed','cancelled')");
    assert_eq!(unfinished, "0");
}

/// Writers share commits (SQLite's group commit, PostgreSQL's shared lock): a
/// `kill -9` while 4 of them write loses nothing any of them was told is stored.
#[test]
fn a_kill_9_during_concurrent_writes_loses_nothing_acknowledged() {
    const WRITERS: usize = 4;
    for (name, mut s, db) in servers() {
        eprintln!("backend: {name}");
        let admin = s.admin();
        admin.create_deployment("d");
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                let client = s.admin();
                thread::spawn(move || {
                    let mut acknowledged = Vec::new();
                    for _ in 0..2000 {
                        match client
                            .req("POST", "/api/v3.1/executions")
                            .json(&json!({"deployment_id": "d", "workflow_id": "install"}))
                            .try_send()
                        {
                            Ok(r) if r.status == 201 => acknowledged.push(r.json()["id"].as_str().unwrap().to_string()),
                            _ => break,
                        }
                    }
                    acknowledged
                })
            })
            .collect();
        thread::sleep(std::time::Duration::from_millis(600));
        s.kill9();
        let acknowledged: Vec<String> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
        assert!(!acknowledged.is_empty(), "{name}: nothing was written before the kill; the test proved nothing");
        if let Db::Sqlite(_) = db {
            assert_eq!(db.one("PRAGMA integrity_check"), "ok", "{name}");
        }
        let stored: std::collections::BTreeSet<String> =
            db.rows("SELECT id FROM executions").into_iter().map(|mut r| r.remove(0)).collect();
        let lost: Vec<_> = acknowledged.iter().filter(|id| !stored.contains(*id)).collect();
        assert!(lost.is_empty(), "{name}: {} acknowledged executions lost: {lost:?}", lost.len());
        // At most the writes in flight (one per writer) landed without an answer.
        assert!(stored.len() <= acknowledged.len() + WRITERS, "{name}: {} stored, {} acknowledged", stored.len(), acknowledged.len());
        s.spawn().unwrap();
        let admin = s.admin();
        let list = admin.get("/api/v3.1/executions?_size=1").json();
        assert_eq!(list["metadata"]["pagination"]["total"].as_u64(), Some(stored.len() as u64), "{name}");
        assert_eq!(admin.maintenance()["status"], "deactivated");
        // The counts the store keeps after the restart are the rows: activation waits for all.
        let m = admin.post("/api/v3.1/maintenance/activate", &json!({})).json();
        assert_eq!(m["remaining_executions"].as_array().map(Vec::len), Some(stored.len()), "{name}");
    }
}
