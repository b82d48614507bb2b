//! The storage contract, run against both backends: what is written reads back the
//! same, a state transaction checks its version and lands whole or not at all, the
//! generations move with what changed, and (PostgreSQL) two hosts on one database
//! cannot both commit under one state version.

use std::sync::Arc;

use drydock_engine::{ExecutionStatus, MaintenanceState, Role};
use serde_json::json;

use super::testing::{backends, pg_host, postgres};
use super::*;
use crate::error::Error;

fn execution(id: &str, deployment: &str, created_at: &str) -> Execution {
    Execution {
        id: id.into(),
        deployment_id: Some(deployment.into()),
        workflow_id: "install".into(),
        status: ExecutionStatus::Pending,
        parameters: json!({"k": [1, "two"]}),
        error: String::new(),
        is_system_workflow: false,
        created_at: created_at.into(),
        started_at: None,
        ended_at: None,
        created_by: "admin".into(),
        tenant_name: "default_tenant".into(),
        visibility: Visibility::Tenant,
        vouched: false,
    }
}

fn event(kind: &str) -> NewEvent {
    NewEvent {
        timestamp: "2026-01-01T00:00:00.000Z".into(),
        event_type: kind.into(),
        message: format!("{kind} happened"),
    }
}

fn deployment(id: &str) -> Deployment {
    Deployment {
        id: id.into(),
        blueprint_id: Some("bp".into()),
        inputs: json!({"a": 1}),
        created_at: "2026-01-01T00:00:00.000Z".into(),
        updated_at: "2026-01-01T00:00:00.000Z".into(),
        created_by: "admin".into(),
        tenant_name: "default_tenant".into(),
        visibility: Visibility::Tenant,
    }
}

fn all() -> Page {
    Page {
        offset: 0,
        size: 100,
        sort: None,
    }
}

/// Run `body` unconditionally; panics on an error.
fn write(store: &dyn Store, mut body: impl FnMut(&mut dyn StateTx) -> Result<()>) -> ManagerState {
    store.transact(Lock::Exclusive, &mut |tx| Ok(body(tx)?)).unwrap()
}

#[test]
fn what_is_written_reads_back_the_same_on_both_backends() {
    for b in backends() {
        let s = &*b.store;
        let name = b.name;
        let fresh = s.manager_state().unwrap();
        assert_eq!(
            (fresh.maintenance.clone(), fresh.counts.total()),
            (None, 0),
            "{name}"
        );

        write(s, |tx| {
            tx.insert_deployment(&deployment("d1"))?;
            tx.insert_deployment(&deployment("d2"))?;
            tx.insert_execution(
                &execution("e1", "d1", "2026-01-01T00:00:01.000Z"),
                &event("workflow_queued"),
            )?;
            tx.insert_execution(
                &execution("e2", "d2", "2026-01-01T00:00:02.000Z"),
                &event("workflow_queued"),
            )?;
            tx.insert_user(&User {
                username: "ann".into(),
                password_hash: "h1".into(),
                role: Role::User,
                created_at: "t".into(),
            })
        });
        let d = s.deployment("d1").unwrap().expect(name);
        assert_eq!(
            (d.blueprint_id.as_deref(), d.inputs.clone()),
            (Some("bp"), json!({"a": 1})),
            "{name}"
        );
        assert_eq!(s.deployments(None, &all()).unwrap().1, 2, "{name}");
        let e = s.execution("e1").unwrap().expect(name);
        assert_eq!(
            (e.status, e.parameters.clone()),
            (ExecutionStatus::Pending, json!({"k": [1, "two"]})),
            "{name}"
        );

        // A status change and its event; the list filters, sorts and pages.
        let mut started = e.clone();
        started.status = ExecutionStatus::Started;
        started.started_at = Some("2026-01-01T00:00:03.000Z".into());
        let state = write(s, |tx| {
            tx.update_execution(&started, ExecutionStatus::Pending, &event("workflow_started"))
        });
        assert_eq!(
            (state.counts.get(ExecutionStatus::Started), state.counts.get(ExecutionStatus::Pending)),
            (1, 1),
            "{name}: the counts moved with the status"
        );
        assert_eq!(s.manager_state().unwrap().counts, state.counts, "{name}");
        let remaining = s.remaining(100).unwrap();
        let statuses: Vec<_> = remaining
            .iter()
            .map(|r| (r.id.as_str(), r.status))
            .collect();
        assert_eq!(
            statuses,
            [
                ("e1", ExecutionStatus::Started),
                ("e2", ExecutionStatus::Pending)
            ],
            "{name}"
        );
        let (only_d2, n) = s.executions(None, Some("d2"), &[], &all()).unwrap();
        assert_eq!(
            (only_d2.len(), n, only_d2[0].id.as_str()),
            (1, 1, "e2"),
            "{name}"
        );
        let (started_only, _) = s
            .executions(None, None, &[ExecutionStatus::Started], &all())
            .unwrap();
        assert_eq!(
            started_only
                .iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>(),
            ["e1"],
            "{name}"
        );
        let newest_first = Page {
            offset: 0,
            size: 1,
            sort: Some(("created_at", true)),
        };
        let (page, total) = s.executions(None, None, &[], &newest_first).unwrap();
        assert_eq!((page[0].id.as_str(), total), ("e2", 2), "{name}");
        let (events, n) = s.events("e1", &all()).unwrap();
        assert_eq!(n, 2, "{name}");
        assert_eq!(
            events
                .iter()
                .map(|e| e.event_type.as_str())
                .collect::<Vec<_>>(),
            ["workflow_queued", "workflow_started"],
            "{name}"
        );

        // Users: update and delete.
        let mut ann = s.user("ann").unwrap().expect(name);
        ann.role = Role::SysAdmin;
        ann.password_hash = "h2".into();
        write(s, |tx| tx.update_user(&ann));
        let back = s.user("ann").unwrap().expect(name);
        assert_eq!(
            (back.role, back.password_hash.as_str()),
            (Role::SysAdmin, "h2"),
            "{name}"
        );
        let mut deleted = None;
        write(s, |tx| {
            deleted = Some(tx.delete_user("ann")?);
            Ok(())
        });
        assert_eq!(deleted, Some(true), "{name}");
        assert!(s.users().unwrap().is_empty(), "{name}");

        // Policies: dedup by sha256, state, log, artifacts.
        let new = NewPolicy {
            sha256: "ab".repeat(32),
            name: "p".into(),
            version: "1".into(),
            size: 3,
            uploaded_by: "admin".into(),
            uploaded_at: "t".into(),
            budget: crate::store::Budget { memory_mib: Some(19), deadline_ms: None },
        };
        let (rec, created) = s.insert_policy(&new, b"abc").unwrap();
        assert!(created, "{name}");
        assert_eq!(rec.id, "ab".repeat(6), "{name}");
        assert_eq!(s.policy(&rec.id).unwrap().unwrap().budget, new.budget, "{name}: the budget is kept");
        assert!(
            !s.insert_policy(&new, b"abc").unwrap().1,
            "{name}: the same bytes again are not new"
        );
        assert_eq!(
            s.policy_component(&rec.id).unwrap().as_deref(),
            Some(&b"abc"[..]),
            "{name}"
        );
        assert_eq!(s.policies().unwrap(), vec![rec.clone()], "{name}");
        let before = s.generations().unwrap();
        let st = PolicyState {
            active_id: rec.id.clone(),
            active_since: "t".into(),
            activated_by: "admin".into(),
            previous_id: Some("builtin".into()),
            shadow: Some(("builtin".into(), "t".into(), "admin".into())),
        };
        let line = PolicyChange {
            at: "t".into(),
            username: "admin".into(),
            action: "activate".into(),
            policy_id: rec.id.clone(),
            detail: String::new(),
        };
        s.set_policy_state(&st, &[line]).unwrap();
        assert_eq!(s.policy_state().unwrap(), Some(st), "{name}");
        let after = s.generations().unwrap();
        assert_eq!(
            (after.policy, after.state, after.users),
            (before.policy + 1, before.state, before.users),
            "{name}"
        );
        let log = s.policy_log(10).unwrap();
        assert_eq!(
            log.iter().map(|l| l.action.as_str()).collect::<Vec<_>>(),
            ["activate", "upload"],
            "{name}: newest first"
        );
        s.record_artifact("c", "e", "d1").unwrap();
        s.record_artifact("c", "e", "d2").unwrap();
        assert_eq!(
            s.artifact_digest("c", "e").unwrap().as_deref(),
            Some("d2"),
            "{name}"
        );
    }
}

#[test]
fn a_state_transaction_moves_the_version_with_maintenance_and_lands_whole_or_not_at_all() {
    for b in backends() {
        let s = &*b.store;
        let name = b.name;
        let v0 = s.manager_state().unwrap().version;
        // A maintenance change commits and the version moves by one.
        // Every column of the row round-trips, the plan's too.
        let rec = MaintenanceRecord {
            reason: Some("disk swap".into()),
            until: Some("2030-01-01T00:00:00.000Z".into()),
            deadline: Some(("2029-12-31T23:00:00.000Z".into(), OnDeadline::ForceCancel)),
            ..MaintenanceRecord::requested(MaintenanceState::Activating, "t", "admin")
        };
        let state = s
            .transact(Lock::Exclusive, &mut |tx| Ok(tx.set_maintenance(Some(&rec))?))
            .unwrap();
        assert_eq!(
            (state.version, state.maintenance.as_ref()),
            (v0 + 1, Some(&rec)),
            "{name}"
        );
        assert_eq!(
            s.manager_state().unwrap(),
            state,
            "{name}: the answer is what the database holds"
        );

        // A body that fails after writing leaves nothing behind.
        let err = s
            .transact(Lock::Exclusive, &mut |tx| {
                tx.insert_deployment(&deployment("half"))?;
                tx.set_maintenance(None)?;
                Err(Error::Conflict("changed my mind".into()))
            })
            .unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{name}");
        assert!(
            s.deployment("half").unwrap().is_none(),
            "{name}: half a transaction landed"
        );
        assert_eq!(s.manager_state().unwrap(), state, "{name}");

        // Writes outside the maintenance state (a deployment, an execution) do not
        // move its version; an execution moves the counts; users move theirs.
        let g = s.generations().unwrap();
        write(s, |tx| tx.insert_deployment(&deployment("d9")));
        let after = s
            .transact(Lock::Shared, &mut |tx| {
                Ok(tx.insert_execution(&execution("e9", "d9", "2026-01-01T00:00:09.000Z"), &event("workflow_queued"))?)
            })
            .unwrap();
        assert_eq!((after.version, after.counts.total()), (state.version, 1), "{name}");
        write(s, |tx| {
            tx.insert_user(&User {
                username: "u".into(),
                password_hash: "h".into(),
                role: Role::User,
                created_at: "t".into(),
            })
        });
        let g2 = s.generations().unwrap();
        assert_eq!((g2.state, g2.users), (g.state, g.users + 1), "{name}");
    }
}

/// Two hosts on one database: each of many threads on host A creates executions,
/// sharing the state lock, each refused once the state it finds there left
/// `deactivated`; host B activates meanwhile (alone). Nothing is created after the
/// activation commits: what the activation reported as remaining is everything.
#[test]
fn two_hosts_on_one_database_cannot_both_commit_under_one_version() {
    let b = postgres();
    let url = b.url.clone().unwrap();
    let host_a = b.store.clone();
    let host_b = pg_host(&url, "host-b");
    write(&*host_a, |tx| tx.insert_deployment(&deployment("d")));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for t in 0..4 {
        let (store, stop) = (host_a.clone(), stop.clone());
        workers.push(std::thread::spawn(move || {
            let mut created = 0u32;
            for i in 0..400 {
                let e = execution(&format!("t{t}-{i}"), "d", "2026-01-01T00:00:00.000Z");
                let refused = store.transact(Lock::Shared, &mut |tx| {
                    if tx.state().maintenance.is_some() {
                        return Err(Error::Conflict("refused: the state left `deactivated`".into()));
                    }
                    Ok(tx.insert_execution(&e, &event("workflow_queued"))?)
                });
                match refused {
                    Ok(_) => created += 1,
                    Err(Error::Conflict(_)) => break,
                    Err(e) => panic!("{e}"),
                }
                if stop.load(std::sync::atomic::Ordering::Relaxed) && i > 1000 {
                    break;
                }
            }
            created
        }));
    }
    std::thread::sleep(std::time::Duration::from_millis(150));
    let rec = MaintenanceRecord::requested(MaintenanceState::Activating, "t", "admin");
    let activated = write(&*host_b, |tx| tx.set_maintenance(Some(&rec)));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let created: u32 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let total = host_a
        .executions(None, 
            None,
            &[],
            &Page {
                offset: 0,
                size: 1,
                sort: None,
            },
        )
        .unwrap()
        .1;
    assert!(
        created > 0,
        "the hammer created nothing before the activation; the test proved nothing"
    );
    assert_eq!(total, u64::from(created));
    assert_eq!(
        activated.counts.total(),
        total,
        "executions were created on host A after host B's activation committed"
    );
}

/// A pool with every connection in use answers "busy" within its wait, in words
/// that say so, instead of queueing a request until its timeout.
#[test]
fn an_exhausted_pool_is_a_clear_retry_later_within_the_wait() {
    use super::postgres::{PgOptions, PgStore};
    let url = super::testing::fresh_database();
    let options = PgOptions {
        pool_size: 1,
        wait: std::time::Duration::from_millis(200),
        ..PgOptions::default()
    };
    let store = Arc::new(PgStore::open(&url, "host-a", options).unwrap());
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let holder = {
        let store = store.clone();
        std::thread::spawn(move || {
            store
                .transact(Lock::Exclusive, &mut |_| {
                    held_tx.send(()).unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(1500));
                    Ok(())
                })
                .unwrap();
        })
    };
    held_rx.recv().unwrap();
    let asked = std::time::Instant::now();
    let err = crate::error::Error::from(store.generations().unwrap_err());
    let took = asked.elapsed();
    assert!(
        matches!(&err, Error::Unavailable(m) if m.contains("All 1 connections to the database are busy")),
        "{err:?}"
    );
    assert!(
        took < std::time::Duration::from_millis(1200),
        "waited {took:?}, past the pool's wait"
    );
    holder.join().unwrap();
    assert!(
        store.generations().is_ok(),
        "served again once the connection was free"
    );
}

/// A database that is not there fails at open, naming it and what to do.
#[test]
fn an_unreachable_database_is_named_at_open() {
    use super::postgres::{PgOptions, PgStore};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://drydock:secret@127.0.0.1:{port}/nowhere");
    let err = PgStore::open(&url, "h", PgOptions::default())
        .err()
        .expect("opened a database that is not there");
    let text = format!("{err:#}");
    assert!(
        text.contains(&format!("127.0.0.1:{port}/nowhere")) && text.contains("Cannot connect"),
        "{text}"
    );
    assert!(
        !text.contains("secret"),
        "the password is in the message: {text}"
    );
}

#[test]
fn history_and_windows_read_back_on_both_backends() {
    for b in backends() {
        let s = &*b.store;
        let name = b.name;
        let t = |to: MaintenanceState, by: &str| Transition {
            at: "2026-01-01T00:00:00.000Z".into(),
            by: by.into(),
            from: MaintenanceState::Deactivated,
            to,
            reason: Some("why".into()),
            detail: "d".into(),
        };
        write(s, |tx| tx.record_transition(&t(MaintenanceState::Activating, "ann")));
        write(s, |tx| tx.record_transition(&t(MaintenanceState::Activated, "schedule")));
        let (items, total) = s.history(&Page { offset: 0, size: 1, sort: None }).unwrap();
        assert_eq!((total, items), (2, vec![t(MaintenanceState::Activated, "schedule")]), "{name}: newest first, paged");

        let w = Window {
            id: "w1".into(),
            start_at: "2030-01-01T00:00:00.000Z".into(),
            end_at: Some("2030-01-01T01:00:00.000Z".into()),
            reason: None,
            created_by: "ann".into(),
            created_at: "t".into(),
            status: WindowStatus::Scheduled,
        };
        let v = s.manager_state().unwrap().version;
        let state = write(s, |tx| tx.insert_window(&w));
        assert_eq!((state.version, state.windows.clone()), (v + 1, vec![w.clone()]), "{name}: a window moves the state");
        assert_eq!(s.manager_state().unwrap(), state, "{name}");
        let state = write(s, |tx| tx.set_window_status("w1", WindowStatus::Cancelled));
        assert!(state.windows.is_empty(), "{name}: a cancelled window is not live");
        assert_eq!(s.manager_state().unwrap(), state, "{name}");
        assert_eq!(s.all_windows().unwrap()[0].status, WindowStatus::Cancelled, "{name}");
    }
}

/// The change feed, without the poll: what another host commits is announced to
/// this one (after a resync when it connects); this host's own commits are not.
#[test]
fn another_hosts_commits_are_announced_and_ones_own_are_not() {
    let b = postgres();
    let url = b.url.clone().unwrap();
    let here = b.store.clone();
    let mut feed = here.subscribe().expect("PostgreSQL announces changes");
    assert!(here.subscribe().is_none(), "one subscriber: the follower");
    let next = |feed: &mut tokio::sync::mpsc::Receiver<Change>| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match feed.try_recv() {
                Ok(c) => return c,
                Err(_) if std::time::Instant::now() < deadline => std::thread::sleep(std::time::Duration::from_millis(5)),
                Err(e) => panic!("no announcement within 10 s: {e:?}"),
            }
        }
    };
    assert_eq!(next(&mut feed), Change::Resync, "connected: re-read everything");
    // Our own write: nothing to follow.
    write(&*here, |tx| tx.set_maintenance(Some(&MaintenanceRecord::requested(MaintenanceState::Activated, "t", "a"))));
    let there = pg_host(&url, "host-b");
    write(&*there, |tx| tx.set_maintenance(None));
    assert_eq!(next(&mut feed), Change::State, "another host's state change (and not ours before it)");
    write(&*there, |tx| tx.insert_user(&User { username: "zoe".into(), password_hash: "h".into(), role: Role::User, created_at: "t".into() }));
    assert_eq!(next(&mut feed), Change::User("zoe".into()));
    let st = PolicyState { active_id: "builtin".into(), active_since: "t".into(), activated_by: "b".into(), previous_id: None, shadow: None };
    there.set_policy_state(&st, &[]).unwrap();
    assert_eq!(next(&mut feed), Change::Policy);
}

/// A database that accepts connections and never answers (a hung server, a
/// blackholed route) fails fast: within the pool's wait, saying so.
#[test]
fn a_database_that_never_answers_fails_within_the_wait() {
    use super::postgres::{PgOptions, PgStore};
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hole.local_addr().unwrap().port();
    // Accept and hold every connection, answering nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in hole.incoming().flatten() {
            held.push(conn);
        }
    });
    let options = PgOptions { wait: std::time::Duration::from_millis(500), ..PgOptions::default() };
    let asked = std::time::Instant::now();
    let err = PgStore::open(&format!("postgres://drydock@127.0.0.1:{port}/db"), "h", options).err().expect("opened a silent server");
    let took = asked.elapsed();
    assert!(format!("{err:#}").contains("Cannot connect"), "{err:#}");
    assert!(took < std::time::Duration::from_secs(4), "took {took:?} to give up on a silent server");
}

/// Writers that arrive together share a commit (SQLite's group commit): every
/// acknowledged write is stored, a writer whose body fails leaves nothing of its
/// own and takes nothing of the others' with it, and the counts match.
#[test]
fn concurrent_writers_share_commits_and_a_failing_one_undoes_only_itself() {
    for b in backends() {
        let name = b.name;
        let store = b.store.clone();
        write(&*store, |tx| tx.insert_deployment(&deployment("g")));
        let workers: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let mut kept = Vec::new();
                    for i in 0..40 {
                        let id = format!("g{t}-{i}");
                        let e = execution(&id, "g", "2026-01-01T00:00:00.000Z");
                        let r = store.transact(Lock::Shared, &mut |tx| {
                            tx.insert_execution(&e, &event("workflow_queued"))?;
                            if i % 10 == 3 {
                                return Err(Error::Conflict("changed my mind".into()));
                            }
                            Ok(())
                        });
                        match r {
                            Ok(_) => kept.push(id),
                            Err(Error::Conflict(_)) => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                    kept
                })
            })
            .collect();
        let kept: Vec<String> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
        assert_eq!(kept.len(), 8 * 36, "{name}");
        for id in &kept {
            assert!(store.execution(id).unwrap().is_some(), "{name}: acknowledged {id} is not stored");
        }
        for t in 0..8 {
            for i in (3..40).step_by(10) {
                assert!(store.execution(&format!("g{t}-{i}")).unwrap().is_none(), "{name}: a failed write landed");
            }
        }
        assert_eq!(store.manager_state().unwrap().counts.get(ExecutionStatus::Pending), 8 * 36, "{name}");
    }
}

/// SQLite's group commit answers a writer only once the commit that holds its
/// write is done: writer A finishes while B is queued behind it, so A leaves the
/// batch to B; A must not be answered before B's commit (which is A's too).
#[test]
fn a_writer_is_answered_only_once_the_commit_holding_its_write_is_done() {
    use std::time::{Duration, Instant};
    let b = super::testing::sqlite();
    let slow = |store: Arc<dyn Store>, id: &'static str| {
        std::thread::spawn(move || {
            store
                .transact(Lock::Shared, &mut |tx| {
                    tx.insert_deployment(&deployment(id))?;
                    std::thread::sleep(Duration::from_millis(300));
                    Ok(())
                })
                .unwrap();
            Instant::now()
        })
    };
    let a = slow(b.store.clone(), "a");
    // A holds the writer (its body sleeps); B queues behind it.
    std::thread::sleep(Duration::from_millis(100));
    let later = slow(b.store.clone(), "b");
    let (a_answered, b_answered) = (a.join().unwrap(), later.join().unwrap());
    let early = b_answered.saturating_duration_since(a_answered);
    assert!(early < Duration::from_millis(150), "A was answered {early:?} before the commit that holds its write");
    assert!(b.store.deployment("a").unwrap().is_some() && b.store.deployment("b").unwrap().is_some());
}

/// The policy selection changes by compare-and-set and never names a version that
/// is not stored: the store refuses such an edit in words, and the database's own
/// triggers refuse it even when the store's check is bypassed.
#[test]
fn the_policy_selection_never_names_a_version_that_is_not_stored() {
    for b in backends() {
        let s = &*b.store;
        let name = b.name;
        let new = NewPolicy {
            sha256: "cd".repeat(32),
            name: "p".into(),
            version: "1".into(),
            size: 3,
            uploaded_by: "admin".into(),
            uploaded_at: "t".into(),
            budget: Default::default(),
        };
        let (rec, _) = s.insert_policy(&new, b"abc").unwrap();
        let select = |active: &str| PolicyState {
            active_id: active.into(),
            active_since: "t".into(),
            activated_by: "admin".into(),
            previous_id: Some("builtin".into()),
            shadow: None,
        };
        let line = |action: &str| PolicyChange {
            at: "t".into(),
            username: "admin".into(),
            action: action.into(),
            policy_id: rec.id.clone(),
            detail: String::new(),
        };
        // The body sees what is committed, and its `None` changes nothing.
        s.set_policy_state(&select(&rec.id), &[line("activate")]).unwrap();
        let mut seen = None;
        let kept = s
            .edit_policy_state(&mut |current| {
                seen = current.cloned();
                Ok(None)
            })
            .unwrap();
        assert_eq!(seen, Some(select(&rec.id)), "{name}");
        assert_eq!(kept, Some(select(&rec.id)), "{name}");

        // Deleting the active version: the database refuses, whatever the caller says.
        let refused = s.edit_policy_state(&mut |current| {
            Ok(Some(PolicyEdit { state: current.unwrap().clone(), log: vec![line("delete")], delete: Some(rec.id.clone()) }))
        });
        assert!(matches!(refused, Err(Error::Internal(_))), "{name}: {refused:?}");
        assert!(s.policy(&rec.id).unwrap().is_some(), "{name}: still stored");

        // Selecting a version that is not stored: refused in words, nothing changes.
        let refused = s.edit_policy_state(&mut |_| {
            Ok(Some(PolicyEdit { state: select("0123456789ab"), log: vec![line("activate")], delete: None }))
        });
        assert!(
            matches!(&refused, Err(Error::Conflict(m)) if m.contains("0123456789ab") && m.contains("no longer stored")),
            "{name}: {refused:?}"
        );
        assert_eq!(s.policy_state().unwrap(), Some(select(&rec.id)), "{name}");

        // Deleting an unselected version, then deleting it again.
        let deleted = s
            .edit_policy_state(&mut |_| {
                Ok(Some(PolicyEdit { state: select("builtin"), log: vec![line("delete")], delete: Some(rec.id.clone()) }))
            })
            .unwrap();
        assert_eq!(deleted, Some(select("builtin")), "{name}");
        assert!(s.policy(&rec.id).unwrap().is_none(), "{name}");
        let again = s.edit_policy_state(&mut |_| {
            Ok(Some(PolicyEdit { state: select("builtin"), log: vec![line("delete")], delete: Some(rec.id.clone()) }))
        });
        assert!(matches!(again, Err(Error::NotFound(_))), "{name}: {again:?}");
        assert_eq!(
            s.policy_log(10).unwrap().iter().map(|l| l.action.as_str()).collect::<Vec<_>>(),
            ["delete", "activate", "upload"],
            "{name}: refusals leave no audit line"
        );
    }
}

/// Tenants and their members read back on both backends, a member's change counts
/// as a change of the user, and lists show what a scope sees: its tenant's
/// resources, global ones from anywhere, private ones only to their creator and to
/// whoever sees private resources (a sys_admin, the tenant's managers).
#[test]
fn lists_show_what_a_tenant_scope_sees_on_both_backends() {
    for b in backends() {
        let s = &*b.store;
        let name = b.name;
        write(s, |tx| {
            for u in ["ann", "bob"] {
                tx.insert_user(&User { username: u.into(), password_hash: "h".into(), role: Role::User, created_at: "t".into() })?;
            }
            tx.insert_tenant("team", "t")?;
            tx.set_member("team", "ann", Some(TenantRole::Manager))?;
            tx.set_member("team", "bob", Some(TenantRole::Viewer))?;
            tx.set_member(DEFAULT_TENANT, "bob", Some(TenantRole::User))?;
            Ok(())
        });
        let team = s.tenant("team").unwrap().unwrap();
        assert_eq!(team.members, vec![("ann".into(), TenantRole::Manager), ("bob".into(), TenantRole::Viewer)], "{name}");
        assert_eq!(
            s.memberships("bob").unwrap(),
            vec![(DEFAULT_TENANT.into(), TenantRole::User), ("team".into(), TenantRole::Viewer)],
            "{name}"
        );
        assert_eq!(s.tenants().unwrap().iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), [DEFAULT_TENANT, "team"], "{name}");

        let made = |id: &str, tenant: &str, visibility: Visibility, by: &str| Deployment {
            tenant_name: tenant.into(),
            visibility,
            created_by: by.into(),
            ..deployment(id)
        };
        write(s, |tx| {
            tx.insert_deployment(&made("shared", "team", Visibility::Tenant, "ann"))?;
            tx.insert_deployment(&made("anns", "team", Visibility::Private, "ann"))?;
            tx.insert_deployment(&made("everyones", DEFAULT_TENANT, Visibility::Global, "admin"))?;
            tx.insert_deployment(&made("elsewhere", DEFAULT_TENANT, Visibility::Tenant, "admin"))?;
            tx.insert_execution(&Execution { tenant_name: "team".into(), created_by: "ann".into(), visibility: Visibility::Private, ..execution("e1", "anns", "2026-01-01T00:00:01.000Z") }, &event("queued"))?;
            Ok(())
        });
        let seen = |tenant: &str, user: &str, sees_private: bool| {
            let scope = Scope { tenant: tenant.into(), username: user.into(), sees_private };
            let (items, total) = s.deployments(Some(&scope), &all()).unwrap();
            let mut ids: Vec<String> = items.into_iter().map(|d| d.id).collect();
            ids.sort();
            assert_eq!(ids.len() as u64, total, "{name}: the total counts what the scope sees");
            ids
        };
        assert_eq!(seen("team", "bob", false), ["everyones", "shared"], "{name}: a viewer sees neither others' private ones nor another tenant's");
        assert_eq!(seen("team", "ann", true), ["anns", "everyones", "shared"], "{name}: a manager sees private ones");
        assert_eq!(seen("team", "ann", false), ["anns", "everyones", "shared"], "{name}: a creator sees its own");
        assert_eq!(seen(DEFAULT_TENANT, "bob", false), ["elsewhere", "everyones"], "{name}");
        let scope = Scope { tenant: "team".into(), username: "bob".into(), sees_private: false };
        assert_eq!(s.executions(Some(&scope), None, &[], &all()).unwrap().1, 0, "{name}: ann's private execution");
        let scope = Scope { username: "ann".into(), ..scope };
        assert_eq!(s.executions(Some(&scope), None, &[], &all()).unwrap().1, 1, "{name}");

        // Removing a member, then the tenant (with its ended executions).
        let before = s.generations().unwrap().users;
        write(s, |tx| tx.set_member("team", "bob", None));
        assert_eq!(s.memberships("bob").unwrap(), vec![(DEFAULT_TENANT.into(), TenantRole::User)], "{name}");
        assert!(s.generations().unwrap().users > before, "{name}: other hosts hear of it");
        write(s, |tx| {
            assert_eq!(tx.tenant_usage("team")?, 3, "{name}: two deployments and an unfinished execution");
            tx.delete_deployment("shared")?;
            tx.delete_deployment("anns")?;
            Ok(())
        });
        write(s, |tx| {
            let mut e = tx.execution("e1")?.unwrap();
            e.status = ExecutionStatus::Cancelled;
            tx.update_execution(&e, ExecutionStatus::Pending, &event("cancelled"))?;
            assert_eq!(tx.tenant_usage("team")?, 0, "{name}: ended executions do not hold it");
            tx.delete_tenant("team")
        });
        assert!(s.tenant("team").unwrap().is_none(), "{name}");
        assert!(s.execution("e1").unwrap().is_none(), "{name}: its ended executions went with it");
        assert_eq!(s.memberships("ann").unwrap(), vec![], "{name}");
    }
}

/// A state transaction that fails or panics half-way leaves nothing behind, on the
/// database or on the connection it used: every later transaction (on whichever
/// pooled connection) lands whole, and the abandoned writes never do.
#[test]
fn a_write_that_fails_or_panics_half_way_leaves_nothing_on_its_connection() {
    for b in backends() {
        let s = &*b.store;
        let name = b.name;
        let err = s
            .transact(Lock::Shared, &mut |tx| {
                tx.insert_execution(&execution("failed", "d", "2026-01-01T00:00:01.000Z"), &event("queued"))?;
                Err(Error::Conflict("changed my mind".into()))
            })
            .unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{name}");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = s.transact(Lock::Shared, &mut |tx| {
                tx.insert_execution(&execution("panicked", "d", "2026-01-01T00:00:02.000Z"), &event("queued"))?;
                panic!("a bug half-way through a write");
            });
        }));
        assert!(panicked.is_err(), "{name}");
        for i in 0..40 {
            let id = format!("kept{i:02}");
            s.transact(Lock::Shared, &mut |tx| Ok(tx.insert_execution(&execution(&id, "d", "2026-01-01T00:00:03.000Z"), &event("queued"))?))
                .unwrap_or_else(|e| panic!("{name}: write {i} after the failures: {e}"));
        }
        let (items, total) = s.executions(None, None, &[], &all_page()).unwrap();
        let ids: Vec<&str> = items.iter().map(|e| e.id.as_str()).collect();
        assert_eq!((ids.len(), total), (40, 40), "{name}: {ids:?}");
        assert!(!ids.contains(&"failed") && !ids.contains(&"panicked"), "{name}: {ids:?}");
        assert_eq!(s.manager_state().unwrap().counts.total(), 40, "{name}");
    }
}

/// A list of executions says how many match its filter (Cloudify's client pages on
/// until it has read that many): the total, kept by the database as executions are
/// created, change status and go, is what the list itself holds, for every scope,
/// deployment and status filter, on both backends.
#[test]
fn an_execution_lists_total_is_what_its_filter_matches_on_both_backends() {
    for b in backends() {
        let s = &*b.store;
        let name = b.name;
        write(s, |tx| {
            tx.insert_user(&User { username: "ann".into(), password_hash: "h".into(), role: Role::User, created_at: "t".into() })?;
            tx.insert_tenant("ops", "t")?;
            Ok(())
        });
        // Tenants, visibilities, creators, deployments (and none) and statuses mixed.
        let made = |i: usize| {
            let (tenant, by) = if i % 3 == 0 { ("ops", "ann") } else { (DEFAULT_TENANT, if i % 2 == 0 { "ann" } else { "admin" }) };
            let visibility = [Visibility::Tenant, Visibility::Private, Visibility::Global][i % 5 % 3];
            let mut e = Execution {
                tenant_name: tenant.into(),
                created_by: by.into(),
                visibility,
                ..execution(&format!("t{i:02}"), ["d1", "d2"][i % 2], &format!("2026-01-01T00:00:{i:02}.000Z"))
            };
            if i % 7 == 0 {
                e.deployment_id = None;
            }
            e
        };
        write(s, |tx| (0..40).try_for_each(|i| tx.insert_execution(&made(i), &event("queued"))));
        let check = |when: &str| {
            let scopes = [
                None,
                Some(Scope { tenant: DEFAULT_TENANT.into(), username: "ann".into(), sees_private: false }),
                Some(Scope { tenant: DEFAULT_TENANT.into(), username: "bob".into(), sees_private: false }),
                Some(Scope { tenant: "ops".into(), username: "admin".into(), sees_private: true }),
            ];
            let filters: [&[ExecutionStatus]; 3] =
                [&[], &[ExecutionStatus::Pending], &[ExecutionStatus::Started, ExecutionStatus::Terminated]];
            for scope in &scopes {
                for dep in [None, Some("d1"), Some("d2")] {
                    for statuses in filters {
                        let (items, total) = s.executions(scope.as_ref(), dep, statuses, &all_page()).unwrap();
                        assert_eq!(
                            total,
                            items.len() as u64,
                            "{name} {when}: {scope:?} deployment {dep:?} statuses {statuses:?}"
                        );
                        let (page, paged_total) = s.executions(scope.as_ref(), dep, statuses, &Page { offset: 1, size: 2, sort: None }).unwrap();
                        assert_eq!((page.len().min(2), paged_total), (items.len().saturating_sub(1).min(2), total), "{name} {when}: a page");
                    }
                }
            }
        };
        check("created");
        assert_eq!(s.executions(None, None, &[], &all_page()).unwrap().1, 40, "{name}");
        write(s, |tx| {
            for i in (0..40).filter(|i| i % 2 == 1) {
                let mut e = tx.execution(&format!("t{i:02}"))?.unwrap();
                e.status = ExecutionStatus::Started;
                tx.update_execution(&e, ExecutionStatus::Pending, &event("started"))?;
                if i % 4 == 1 {
                    e.status = ExecutionStatus::Terminated;
                    tx.update_execution(&e, ExecutionStatus::Started, &event("terminated"))?;
                }
            }
            Ok(())
        });
        check("after status changes");
        assert_eq!(s.executions(None, None, &[ExecutionStatus::Terminated], &all_page()).unwrap().1, 10, "{name}");
        write(s, |tx| {
            for i in (0..40).filter(|i| i % 3 == 0) {
                let mut e = tx.execution(&format!("t{i:02}"))?.unwrap();
                if !e.status.is_terminal() {
                    let from = e.status;
                    e.status = ExecutionStatus::Cancelled;
                    tx.update_execution(&e, from, &event("cancelled"))?;
                }
            }
            tx.delete_tenant("ops")
        });
        check("after a tenant went");
        assert_eq!(s.executions(None, None, &[], &all_page()).unwrap().1, 26, "{name}: the tenant's 14 went with it");
    }
}

/// The decision log reads back on both backends: newest first with filters and a
/// total, in order after a cursor, by id, and pruned to its bounds.
#[test]
fn the_decision_log_reads_back_and_prunes_on_both_backends() {
    use crate::decisions::{Answer, DecisionInput, DecisionOrigin, DecisionRecord, RequestInput, Verdict};
    let record = |i: u32, verdict: &str, user: &str| DecisionRecord {
        id: format!("d-{i}"),
        at: format!("2026-12-06T10:00:{i:02}.000Z"),
        host: "h".into(),
        verdict: Verdict::parse(verdict).unwrap(),
        origin: DecisionOrigin::Policy,
        policy: None,
        took_micros: Some(3),
        input: DecisionInput {
            state: MaintenanceState::Activated,
            executions: [(ExecutionStatus::Pending, 2)].into_iter().collect(),
            facts: vec![("maintenance.reason".into(), "r".into())],
            request: RequestInput {
                method: "GET".into(),
                path: format!("/api/v3.1/deployments/{i}"),
                route: "deployments/{id}".into(),
                first_segment: "deployments".into(),
                user: user.into(),
                role: "user".into(),
                bypass: false,
                attributes: vec![("tenant".into(), "default_tenant".into())],
            },
        },
        answer: Answer { status: (verdict == "deny").then_some(503), error_code: None, message: None, retry_after: None },
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        served: None,
    };
    for b in backends() {
        let s = &*b.store;
        let name = b.name;
        let all: Vec<DecisionRecord> = (0..10).map(|i| record(i, if i % 2 == 0 { "deny" } else { "allow" }, if i < 5 { "ann" } else { "bob" })).collect();
        s.insert_decisions(&all).unwrap();
        let page = Page { offset: 0, size: 3, sort: None };
        let (items, total) = s.decisions(&DecisionFilter::default(), &page).unwrap();
        assert_eq!((items.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), total), (vec!["d-9", "d-8", "d-7"], 10), "{name}: newest first");
        assert_eq!(items[0], all[9], "{name}: the record reads back whole");
        let f = DecisionFilter { verdict: Some(Verdict::Deny), user: Some("ann".into()), ..DecisionFilter::default() };
        assert_eq!(s.decisions(&f, &all_page()).unwrap().1, 3, "{name}: ann's refusals");
        let f = DecisionFilter { since: Some("2026-12-06T10:00:04.000Z".into()), until: Some("2026-12-06T10:00:06.000Z".into()), ..DecisionFilter::default() };
        assert_eq!(s.decisions(&f, &all_page()).unwrap().1, 2, "{name}: a range");
        let f = DecisionFilter { path_prefix: Some("/api/v3.1/deployments/7".into()), ..DecisionFilter::default() };
        assert_eq!(s.decisions(&f, &all_page()).unwrap().1, 1, "{name}: a path prefix");
        let first = s.decisions_after(&DecisionFilter::default(), 0, 4).unwrap();
        let next = s.decisions_after(&DecisionFilter::default(), first.last().unwrap().0, 100).unwrap();
        assert_eq!((first.len(), next.len(), next[0].1.id.as_str()), (4, 6, "d-4"), "{name}: in order after a cursor");
        assert_eq!(s.decision("d-3").unwrap(), Some(all[3].clone()), "{name}");
        assert_eq!(s.prune_decisions(6, "2026-12-06T10:00:02.000Z").unwrap(), 4, "{name}: two too old, then two over the count");
        assert_eq!(s.decisions(&DecisionFilter::default(), &all_page()).unwrap().1, 6, "{name}");
        assert_eq!(s.decision("d-3").unwrap(), None, "{name}: the oldest went");
    }
}

/// Signatures are kept by the bytes they sign, one per key (a key's new one
/// replaces its old one), each with its line in the policy history.
#[test]
fn signatures_are_kept_per_signed_bytes_and_key_on_both_backends() {
    use crate::store::{PolicyChange, StoredSignature};
    let sig = |sha: &str, key: &str, line: &str| StoredSignature {
        sha256: sha.into(),
        key_id: key.into(),
        line: line.into(),
        added_by: "admin".into(),
        added_at: "2026-12-06T10:00:00.000Z".into(),
    };
    let log = |key: &str| PolicyChange { at: "t".into(), username: "admin".into(), action: "sign".into(), policy_id: "p".into(), detail: key.into() };
    for b in backends() {
        let s = &*b.store;
        let name = b.name;
        s.add_signatures(&[sig("aa", "k1", "one"), sig("aa", "k2", "two"), sig("bb", "k1", "other bytes")], &[log("k1"), log("k2")]).unwrap();
        s.add_signatures(&[sig("aa", "k1", "one again")], &[]).unwrap();
        let lines: Vec<String> = s.signatures("aa").unwrap().into_iter().map(|x| x.line).collect();
        assert_eq!(lines, ["one again", "two"], "{name}: one per key, by key id");
        assert_eq!(s.all_signatures().unwrap().len(), 3, "{name}");
        assert!(s.signatures("cc").unwrap().is_empty(), "{name}");
        assert_eq!(s.policy_log(10).unwrap().iter().filter(|e| e.action == "sign").count(), 2, "{name}: the history says who signed");
    }
}

fn all_page() -> Page {
    Page { offset: 0, size: 1000, sort: None }
}
