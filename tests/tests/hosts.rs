//! Several hosts, one PostgreSQL database, one manager: three real `drydock serve`
//! processes on one database (a fresh one on the test server, or a private server
//! for the test that stops and starts it). What one host changes is in force on the
//! others within moments; the race-free rule holds across them; `kill -9` of one
//! loses nothing; the database going away and coming back ends consistent.
//!
//! Two paths carry a change to the other hosts: the `LISTEN/NOTIFY` feed and the
//! poll of the generations. Each is proven on its own: these hosts poll once an
//! hour, so only the feed can meet [`WITHIN`]; one test turns the feed off, so only
//! the poll can pass it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use drydock_e2e::postgres::{Cluster, fresh_database};
use drydock_e2e::{Client, Server};
use drydock_engine::STRICT_POLICY;
use serde_json::{Value, json};

/// The feed takes milliseconds; the margin is for a loaded machine (a host that
/// follows a policy compiles it first) and is still far below [`NO_POLL`].
const WITHIN: Duration = Duration::from_secs(5);

/// The poll interval of hosts that must follow by the feed alone.
const NO_POLL: &str = "3600";

/// `n` hosts on one database that follow each other by the feed alone.
fn hosts(n: usize, url: &str) -> Vec<Server> {
    Server::start_many(n, &["--database-url", url, "--follow-poll", NO_POLL])
}

/// Poll until `f` holds; how long it took. Panics past `limit`.
fn until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
    start.elapsed()
}

/// The gate refuses reads once maintenance is `activated`: a host's own published
/// state shows in it, with no database read on the way.
fn refuses_reads(c: &Client) -> bool {
    let r = c.get("/api/v3.1/deployments");
    r.status == 503 && r.error_code() == "maintenance_mode_active"
}

fn status_of(c: &Client) -> String {
    c.maintenance()["status"].as_str().unwrap().to_string()
}

fn new_execution(c: &Client, deployment: &str) -> Value {
    // `install` waits for an external worker: it stays unfinished until reported.
    let r = c.start_execution(deployment, "install", json!({}));
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

#[test]
fn an_activation_on_one_host_is_in_force_on_the_others_over_the_feed() {
    let url = fresh_database();
    let s = hosts(3, &url);
    let (a, b, c) = (s[0].admin(), s[1].admin(), s[2].admin());
    assert_eq!(a.create_deployment("d").status, 201);
    assert_eq!(
        b.get("/api/v3.1/deployments/d").status,
        200,
        "a deployment made on A is on B"
    );
    assert!(!refuses_reads(&b) && !refuses_reads(&c));

    let r = a.post("/api/v3.1/maintenance/activate", &json!({}));
    assert_eq!(
        (r.status, r.json()["status"].as_str()),
        (200, Some("activated")),
        "{}",
        r.text
    );
    until(WITHIN, "B's gate refuses once A activated", || {
        refuses_reads(&b)
    });
    until(WITHIN, "C's gate refuses once A activated", || {
        refuses_reads(&c)
    });
    let refused = c.start_execution("d", "install", json!({}));
    assert_eq!(
        (refused.status, refused.error_code().as_str()),
        (503, "maintenance_mode_active"),
        "{}",
        refused.text
    );

    // And back, from another host.
    assert_eq!(
        c.post("/api/v3.1/maintenance/deactivate", &json!({}))
            .status,
        200
    );
    until(WITHIN, "A serves again once C deactivated", || {
        !refuses_reads(&a)
    });
    until(WITHIN, "B serves again once C deactivated", || {
        !refuses_reads(&b)
    });
    assert_eq!(b.start_execution("d", "install", json!({})).status, 201);
}

#[test]
fn the_last_execution_ending_on_one_host_flips_every_host_to_activated() {
    let url = fresh_database();
    let s = hosts(3, &url);
    let (a, b, c) = (s[0].admin(), s[1].admin(), s[2].admin());
    assert_eq!(a.create_deployment("d").status, 201);
    let first = new_execution(&a, "d");
    let last = new_execution(&b, "d");
    let r = b.post("/api/v3.1/maintenance/activate", &json!({}));
    assert_eq!(r.json()["status"], "activating", "{}", r.text);
    assert_eq!(
        r.json()["remaining_executions"].as_array().map(Vec::len),
        Some(2),
        "{}",
        r.text
    );
    // Activating everywhere: new executions refused on every host.
    for h in [&a, &b, &c] {
        assert_eq!(
            h.start_execution("d", "install", json!({})).error_code(),
            "entering_maintenance_mode"
        );
    }
    let report = |h: &Client, e: &Value| {
        let r = h.patch(
            &format!("/api/v3.1/executions/{}", e["id"].as_str().unwrap()),
            &json!({"status": "terminated"}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
    };
    report(&c, &first);
    assert_eq!(
        status_of(&a),
        "activating",
        "one execution is still unfinished"
    );
    report(&a, &last);
    // The gates first: reading the state on a host would also teach it the flip.
    until(WITHIN, "B's gate has the flip", || refuses_reads(&b));
    until(WITHIN, "C's gate has the flip", || refuses_reads(&c));
    for h in [&a, &b, &c] {
        assert_eq!(status_of(h), "activated", "the flip is in the database");
    }
}

/// An execution write that moves no maintenance state (one of the two executions
/// activation waits for ends) reaches the other hosts over the feed: a host
/// announces its execution writes after they commit (one `NOTIFY` for a few
/// milliseconds of them), and the others' event streams show what activation still
/// waits for.
#[test]
fn an_execution_ending_on_one_host_shows_on_the_others_event_streams() {
    let url = fresh_database();
    let s = hosts(2, &url);
    let a = s[0].admin();
    assert_eq!(a.create_deployment("d").status, 201);
    let first = new_execution(&a, "d");
    new_execution(&a, "d");
    assert_eq!(a.post("/api/v3.1/maintenance/activate", &json!({})).json()["status"], "activating");
    let (mut watch, events) = drydock_e2e::watching(&s[1]);
    let remaining = |n: usize, what: &str| {
        let start = Instant::now();
        loop {
            let left = WITHIN.saturating_sub(start.elapsed());
            let e = events.recv_timeout(left).unwrap_or_else(|_| panic!("not within {WITHIN:?}: {what}"));
            if e["state"]["status"] == "activating" && e["state"]["remaining_executions"].as_array().map(Vec::len) == Some(n) {
                return;
            }
        }
    };
    remaining(2, "B's stream shows the activation waiting for two");
    let r = a.patch(&format!("/api/v3.1/executions/{}", first["id"].as_str().unwrap()), &json!({"status": "terminated"}));
    assert_eq!(r.status, 200, "{}", r.text);
    remaining(1, "B's stream shows one left, ended on A");
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn a_policy_activated_on_one_host_decides_on_the_others_over_the_feed() {
    let url = fresh_database();
    let s = hosts(3, &url);
    let (a, b, c) = (s[0].admin(), s[1].admin(), s[2].admin());
    let up = a
        .req("POST", "/api/v3.1/policies")
        .header("Content-Type", "application/wasm")
        .body(STRICT_POLICY.to_vec())
        .send();
    assert_eq!(up.status, 201, "{}", up.text);
    let (id, strict) = (
        up.json()["id"].as_str().unwrap().to_string(),
        up.json()["label"].as_str().unwrap().to_string(),
    );
    assert_eq!(
        b.get(&format!("/api/v3.1/policies/{id}")).status,
        200,
        "a version uploaded on A is listed on B"
    );
    let label = |h: &Client| {
        h.get("/api/v3.1/status")
            .header("x-drydock-policy")
            .unwrap_or_default()
            .to_string()
    };
    assert_ne!(label(&b), strict);

    assert_eq!(
        a.post(&format!("/api/v3.1/policies/{id}/activate"), &json!({}))
            .status,
        200
    );
    until(WITHIN, "B decides with the version A activated", || {
        label(&b) == strict
    });
    until(WITHIN, "C decides with the version A activated", || {
        label(&c) == strict
    });
    assert_eq!(c.get("/api/v3.1/policies/active").json()["id"], id.as_str());

    // A shadow started on B shadows on A too; a rollback on C is in force on A and B.
    assert_eq!(
        b.post("/api/v3.1/policies/builtin/shadow", &json!({}))
            .status,
        200
    );
    until(WITHIN, "A shadows what B started", || {
        a.get("/api/v3.1/policies/shadow").json()["candidate"]["id"] == "builtin"
    });
    assert_eq!(
        c.post("/api/v3.1/policies/rollback", &json!({})).status,
        200
    );
    until(WITHIN, "A decides with the builtin again", || {
        label(&a) != strict
    });
    until(WITHIN, "B decides with the builtin again", || {
        label(&b) != strict
    });
}

#[test]
fn users_and_credential_changes_reach_every_host() {
    let url = fresh_database();
    let s = hosts(3, &url);
    let frank_on = |h: &Server, password: &str| h.client("frank", password);
    let a = s[0].admin();
    let r = a.put(
        "/api/v3.1/users",
        &json!({"username": "frank", "password": "old-secret", "role": "default"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    // Logs in everywhere, and each host now has the credentials cached.
    for h in &s {
        assert_eq!(
            frank_on(h, "old-secret").get("/api/v3.1/status").status,
            200
        );
    }
    assert_eq!(
        a.post("/api/v3.1/users/frank", &json!({"password": "new-secret"}))
            .status,
        200
    );
    for h in &s[1..] {
        until(
            WITHIN,
            "the old password is refused on another host",
            || frank_on(h, "old-secret").get("/api/v3.1/status").status == 401,
        );
        assert_eq!(
            frank_on(h, "new-secret").get("/api/v3.1/status").status,
            200
        );
    }
    // A role change: frank may change maintenance on B as soon as A made him an admin.
    assert_eq!(
        frank_on(&s[1], "new-secret")
            .post("/api/v3.1/maintenance/activate", &json!({}))
            .status,
        403
    );
    assert_eq!(
        a.post("/api/v3.1/users/frank", &json!({"role": "sys_admin"}))
            .status,
        200
    );
    until(WITHIN, "B knows frank's new role", || {
        frank_on(&s[1], "new-secret")
            .post("/api/v3.1/maintenance/activate", &json!({}))
            .status
            == 200
    });
}

/// Tenants are one set for every host: a tenant made on A is used on B, and a
/// membership given or taken away on A holds on B at the user's next request (B had
/// the user's tenants cached with its credentials).
#[test]
fn tenants_and_memberships_reach_every_host() {
    let url = fresh_database();
    let s = hosts(2, &url);
    let (a, b) = (s[0].admin(), &s[1]);
    assert_eq!(a.put("/api/v3.1/users", &json!({"username": "gail", "password": "gail-secret"})).status, 201);
    assert_eq!(a.post("/api/v3.1/tenants/red", &json!({})).status, 201);
    let gail_on_b = || b.client("gail", "gail-secret").in_tenant("red");
    assert_eq!(gail_on_b().get("/api/v3.1/deployments").status, 403, "not a member yet (and now cached on B)");
    let member = json!({"username": "gail", "tenant_name": "red", "role": "user"});
    assert_eq!(a.put("/api/v3.1/tenants/users", &member).status, 200);
    until(WITHIN, "B lets gail into red", || gail_on_b().get("/api/v3.1/deployments").status == 200);
    assert_eq!(gail_on_b().put("/api/v3.1/deployments/on-b", &json!({"blueprint_id": "bp"})).status, 201);
    let removal = json!({"username": "gail", "tenant_name": "red"});
    assert_eq!(a.req("DELETE", "/api/v3.1/tenants/users").json(&removal).send().status, 204);
    until(WITHIN, "B keeps gail out of red", || gail_on_b().get("/api/v3.1/deployments").status == 403);
    assert_eq!(a.in_tenant("red").get("/api/v3.1/deployments/on-b").status, 200, "what she made stays");
}

/// Two hosts hammer execution creation while a third activates: nothing is created
/// after the activation commits. What the activation reported as remaining is every
/// execution there is.
#[test]
fn the_race_hammer_over_two_hosts_while_a_third_activates_creates_nothing_late() {
    let url = fresh_database();
    let s = hosts(3, &url);
    assert_eq!(s[0].admin().create_deployment("d").status, 201);
    let stop = Arc::new(AtomicBool::new(false));
    let mut hammers = Vec::new();
    for i in 0..6 {
        let (client, stop) = (s[i % 2].admin(), stop.clone());
        hammers.push(std::thread::spawn(move || {
            let mut created = 0u32;
            for _ in 0..2000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let r = client.start_execution("d", "install", json!({}));
                match r.status {
                    201 => created += 1,
                    503 => assert_eq!(r.error_code(), "entering_maintenance_mode", "{}", r.text),
                    other => panic!("unexpected {other}: {}", r.text),
                }
            }
            created
        }));
    }
    std::thread::sleep(Duration::from_millis(400));
    let r = s[2]
        .admin()
        .post("/api/v3.1/maintenance/activate", &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let remaining = r.json()["remaining_executions"]
        .as_array()
        .map_or(0, Vec::len);
    // Keep hammering a moment after: every one of these must be refused.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let created: u32 = hammers.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(
        created > 0,
        "nothing was created before the activation; the test proved nothing"
    );
    let listed = s[1].admin().get("/api/v3.1/executions?_size=1").json()["metadata"]["pagination"]
        ["total"]
        .as_u64()
        .unwrap();
    assert_eq!(
        listed,
        u64::from(created),
        "every 201 is an execution in the database"
    );
    assert_eq!(
        remaining as u64, listed,
        "executions were created after the activation committed"
    );
}

#[test]
fn kill_9_of_one_host_loses_nothing_and_the_others_go_on() {
    let url = fresh_database();
    let mut s = hosts(3, &url);
    let a = s[0].admin();
    assert_eq!(a.create_deployment("d").status, 201);
    let e = new_execution(&a, "d");
    assert_eq!(
        a.put(
            "/api/v3.1/users",
            &json!({"username": "gina", "password": "gina-secret", "role": "default"})
        )
        .status,
        201
    );
    assert_eq!(
        a.post("/api/v3.1/maintenance/activate", &json!({})).json()["status"],
        "activating"
    );
    s[0].kill9();

    let b = s[1].admin();
    let view = b.maintenance();
    assert_eq!(view["status"], "activating");
    assert_eq!(view["remaining_executions"][0]["id"], e["id"]);
    assert_eq!(
        s[2].client("gina", "gina-secret")
            .get("/api/v3.1/status")
            .status,
        200,
        "gina logs in on C"
    );
    let r = b.patch(
        &format!("/api/v3.1/executions/{}", e["id"].as_str().unwrap()),
        &json!({"status": "failed"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    until(WITHIN, "C has the flip B made", || {
        refuses_reads(&s[2].admin())
    });

    // The killed host comes back to the state the others made.
    s[0].spawn().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status_of(&s[0].admin()), "activated");
    assert!(refuses_reads(&s[0].admin()));
}

/// With the feed off (a pooler that drops notifications) the poll alone carries
/// every kind of change: the state, the policy selection, a user's credentials.
#[test]
fn with_the_feed_off_the_poll_alone_follows() {
    let url = fresh_database();
    let s = Server::start_many(2, &["--database-url", &url, "--follow-feed", "off", "--follow-poll", "1"]);
    let (a, b) = (s[0].admin(), s[1].admin());
    // A poll a second; the bound allows for a machine several times slower.
    let by_poll = Duration::from_secs(15);
    assert_eq!(a.create_deployment("d").status, 201);
    assert_eq!(a.post("/api/v3.1/maintenance/activate", &json!({})).status, 200);
    until(by_poll, "B's gate refuses once A activated", || refuses_reads(&b));
    assert_eq!(b.post("/api/v3.1/maintenance/deactivate", &json!({})).status, 200);
    until(by_poll, "A's gate serves again once B deactivated", || !refuses_reads(&a));

    let up = a.req("POST", "/api/v3.1/policies").header("Content-Type", "application/wasm").body(STRICT_POLICY.to_vec()).send();
    assert_eq!(up.status, 201, "{}", up.text);
    let (id, strict) = (up.json()["id"].as_str().unwrap().to_string(), up.json()["label"].as_str().unwrap().to_string());
    assert_eq!(a.post(&format!("/api/v3.1/policies/{id}/activate"), &json!({})).status, 200);
    until(by_poll, "B decides with the version A activated", || {
        b.get("/api/v3.1/status").header("x-drydock-policy") == Some(strict.as_str())
    });

    // A password changed on A: B forgets the old one it had cached.
    let old = s[1].user("carol");
    assert_eq!(old.get("/api/v3.1/deployments").status, 200, "B caches carol's credentials");
    let r = a.post("/api/v3.1/users/carol", &json!({"password": "new-secret-1"}));
    assert_eq!(r.status, 200, "{}", r.text);
    until(by_poll, "B refuses carol's old password", || old.get("/api/v3.1/deployments").status == 401);
}

/// The database stops mid-run: writes fail fast with a clear 503, reads that can be
/// answered from the last state say so, no host dies; when it is back every host
/// serves again, without a restart, and all agree.
#[test]
fn postgres_stopping_and_starting_mid_run_ends_consistent() {
    let mut pg = Cluster::start();
    let url = pg.create_database("drydock");
    let s = hosts(3, &url);
    let (a, b, c) = (s[0].admin(), s[1].admin(), s[2].admin());
    assert_eq!(a.create_deployment("d").status, 201);
    assert_eq!(
        b.post("/api/v3.1/maintenance/activate", &json!({})).status,
        200
    );
    until(WITHIN, "C has the activation", || refuses_reads(&c));

    pg.stop();
    let asked = Instant::now();
    let r = a.post("/api/v3.1/maintenance/deactivate", &json!({}));
    let took = asked.elapsed();
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (503, "database_unavailable_error"),
        "{}",
        r.text
    );
    assert!(
        r.json()["message"].as_str().unwrap().contains("database"),
        "{}",
        r.text
    );
    assert!(
        took < Duration::from_secs(10),
        "a write waited {took:?} for a database that is gone"
    );
    let read = c.get("/api/v3.1/maintenance");
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.json()["status"], "activated", "the last state seen");
    assert!(
        read.header("warning").is_some_and(|w| w.starts_with("110")),
        "{:?}",
        read.headers
    );
    assert!(
        refuses_reads(&b),
        "the gate keeps deciding under the last state"
    );

    pg.start_again();
    // Every host writes again (pool connections are replaced), and the feeds
    // reconnect: a change made on one is followed by the others.
    until(Duration::from_secs(30), "A writes again", || {
        a.post("/api/v3.1/maintenance/deactivate", &json!({}))
            .status
            == 200
    });
    until(
        Duration::from_secs(10),
        "B follows A's deactivation",
        || !refuses_reads(&b),
    );
    until(
        Duration::from_secs(10),
        "C follows A's deactivation",
        || !refuses_reads(&c),
    );
    for h in [&a, &b, &c] {
        assert_eq!(status_of(h), "deactivated");
        assert_eq!(
            h.get("/api/v3.1/deployments/d").status,
            200,
            "nothing was lost"
        );
    }
    assert_eq!(
        c.post("/api/v3.1/maintenance/activate", &json!({})).status,
        200
    );
    until(
        WITHIN,
        "A follows C's activation over the reconnected feed",
        || refuses_reads(&a),
    );
}

/// A window scheduled on one host starts and ends once, whichever host's clock gets
/// there first; every host's gate follows it.
#[test]
fn a_window_scheduled_on_one_host_starts_and_ends_once_on_all() {
    let url = fresh_database();
    let s = hosts(3, &url);
    let (a, b, c) = (s[0].admin(), s[1].admin(), s[2].admin());
    let r = a.post("/api/v3.1/maintenance/windows", &json!({"at": "2s", "until": "4s", "reason": "rack move"}));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(c.maintenance()["next_window"]["reason"], "rack move", "C shows the window ahead of time");
    until(Duration::from_secs(10), "B's gate refuses once the window started", || refuses_reads(&b));
    // C too, before it is asked to serve again: a C that had not yet learned of the
    // start would pass the next check at once, before the end.
    until(Duration::from_secs(10), "C's gate refuses once the window started", || refuses_reads(&c));
    until(Duration::from_secs(10), "C's gate serves again once it ended", || !refuses_reads(&c));
    let h = a.get("/api/v3.1/maintenance/history").json();
    let details: Vec<&str> = h["items"].as_array().unwrap().iter().map(|t| t["detail"].as_str().unwrap()).collect();
    assert_eq!(details.len(), 2, "started once and ended once: {details:?}");
    assert!(details[0].ends_with("ended") && details[1].ends_with("started"), "{details:?}");
}

/// The decision log is the database's: a refusal on one host is read, by the id
/// its response carried, on another, and each record names the host that decided.
#[test]
fn several_hosts_share_one_decision_log() {
    let url = fresh_database();
    let s = Server::start_many(2, &["--database-url", &url, "--follow-poll", NO_POLL, "--decision-log-sample", "off"]);
    let (a, b) = (s[0].admin(), s[1].admin());
    assert_eq!(a.create_deployment("d").status, 201);
    new_execution(&a, "d");
    assert_eq!(a.post("/api/v3.1/maintenance/activate", &json!({})).json()["status"], "activating");
    until(WITHIN, "B is activating", || status_of(&b) == "activating");
    let ann_a = s[0].user("ann");
    let ann_b = s[1].client("ann", "user-secret");
    let mut ids = Vec::new();
    for (host, ann) in [(&s[0], &ann_a), (&s[1], &ann_b)] {
        let r = ann.start_execution("d", "install", json!({}));
        assert_eq!(r.status, 503, "{}", r.text);
        let id = r.header("x-drydock-decision-id").expect("a refusal carries its decision id").to_string();
        ids.push((host.base(), id));
    }
    let host_of = |c: &Client, id: &str| {
        let mut record = Value::Null;
        until(Duration::from_secs(10), "the record is in the shared log", || {
            let r = c.get(&format!("/api/v3.1/decisions/{id}"));
            record = r.json();
            r.status == 200
        });
        record["host"].as_str().unwrap().to_string()
    };
    // Each host reads the other's record, and the hosts' records name two hosts.
    let (from_a, from_b) = (host_of(&b, &ids[0].1), host_of(&a, &ids[1].1));
    assert_ne!(from_a, from_b, "each record names the host that decided");
    let listed = a.get("/api/v3.1/decisions?user=ann&verdict=deny").json();
    let listed: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    for (_, id) in &ids {
        assert!(listed.contains(&id.as_str()), "{id} is listed on A: {listed:?}");
    }
}
