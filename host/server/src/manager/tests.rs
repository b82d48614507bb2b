//! The race-free rule, write kind by write kind and without timing: a write admitted
//! under one state version, when the state moved before it commits, is decided again
//! under the new state; and the eager flip's timestamps. On both backends.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use drydock_engine::{CancelKind, Decision, Denial, ExecutionStatus, MaintenanceState, Role, Snapshot};
use drydock_gate::Admission;
use serde_json::json;

use super::{Actor, Manager, NewExecution};
use crate::error::{Error, Result};
use crate::store::testing::{Backend, backends};
use crate::store::{Deployment, Page, Store, User};

/// How a request was admitted: under `version`; decided again, it answers `again`.
struct Ticket {
    version: u64,
    again: Decision,
    asked: AtomicU32,
    seen: Mutex<Vec<MaintenanceState>>,
}

impl Ticket {
    fn new(version: u64, again: Decision) -> Ticket {
        Ticket { version, again, asked: AtomicU32::new(0), seen: Mutex::new(Vec::new()) }
    }

    fn asked(&self) -> u32 {
        self.asked.load(Ordering::SeqCst)
    }
}

impl Admission for Ticket {
    fn version(&self) -> u64 {
        self.version
    }

    fn decide_again(&self, snapshot: &Snapshot) -> Decision {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.seen.lock().unwrap().push(snapshot.state);
        self.again.clone()
    }
}

fn refused() -> Decision {
    Decision::Deny(Denial {
        status: 503,
        error_code: "entering_maintenance_mode".into(),
        message: "decided again: refused".into(),
        retry_after: None,
    })
}

fn open(b: &Backend) -> (Arc<Manager>, Arc<dyn Store>) {
    let (manager, _worker_queue) = Manager::open(b.store.clone()).unwrap();
    (manager, b.store.clone())
}

fn execution(deployment: &str) -> NewExecution {
    NewExecution {
        deployment_id: Some(deployment.into()),
        workflow_id: "install".into(),
        parameters: json!({}),
        is_system_workflow: false,
        created_by: "admin".into(),
        tenant_name: "default_tenant".into(),
    }
}

fn deployment(id: &str) -> Deployment {
    Deployment {
        id: id.into(),
        blueprint_id: None,
        inputs: json!({}),
        created_at: crate::timestamp::now(),
        updated_at: crate::timestamp::now(),
        created_by: "admin".into(),
        tenant_name: "default_tenant".into(),
        visibility: crate::store::Visibility::Tenant,
    }
}

fn user(name: &str) -> User {
    User { username: name.into(), password_hash: "x".into(), role: Role::User, created_at: crate::timestamp::now() }
}

/// Everything a write could change, as the database has it.
fn contents(store: &dyn Store) -> String {
    let page = Page { offset: 0, size: 1000, sort: None };
    let executions: Vec<_> = store.executions(None, None, &[], &page).unwrap().0.into_iter().map(|e| (e.id, e.status)).collect();
    let deployments: Vec<_> = store.deployments(None, &page).unwrap().0.into_iter().map(|d| d.id).collect();
    let users: Vec<_> = store.users().unwrap().into_iter().map(|u| u.username).collect();
    let maintenance = store.manager_state().unwrap().maintenance.map(|m| m.status);
    format!("{executions:?} {deployments:?} {users:?} {maintenance:?}")
}

/// Move the state (a new version): activation begins, or ends.
fn move_state(m: &Manager) {
    match m.state() {
        MaintenanceState::Deactivated => m.activate("admin", &Default::default(), None).map(drop).unwrap(),
        _ => m.deactivate("admin", None).map(drop).unwrap(),
    }
}

/// A manager with deployments `d1` and `d2` and one pending execution on `d1` (no
/// worker runs it: activation waits, so the state can move both ways).
fn with_work(b: &Backend) -> (Arc<Manager>, Arc<dyn Store>, String) {
    let (m, store) = open(b);
    m.create_deployment(deployment("d1"), None).unwrap();
    m.create_deployment(deployment("d2"), None).unwrap();
    let held = m.create_execution(execution("d1"), Actor::System, None).unwrap().id;
    (m, store, held)
}

type Write = Box<dyn Fn(&Manager, &dyn Admission) -> Result<()>>;

fn writes(held: String) -> Vec<(&'static str, Write)> {
    let (a, b) = (held.clone(), held);
    vec![
        ("create an execution", Box::new(|m, t| m.create_execution(execution("d1"), Actor::System, Some(t)).map(drop))),
        (
            "report an execution's status",
            Box::new(move |m, t| m.set_execution_status(&a, ExecutionStatus::Started, None, Actor::System, Some(t)).map(drop)),
        ),
        ("cancel an execution", Box::new(move |m, t| m.cancel_execution(&b, CancelKind::Kill, Actor::System, Some(t)).map(drop))),
        ("create a deployment", Box::new(|m, t| m.create_deployment(deployment("d3"), Some(t)).map(drop))),
        ("delete a deployment", Box::new(|m, t| m.delete_deployment("d2", Actor::System, Some(t)).map(drop))),
        ("create a user", Box::new(|m, t| m.create_user(user("u1"), Some(t)).map(drop))),
        ("activate", Box::new(|m, t| m.activate("admin", &Default::default(), Some(t)).map(drop))),
        ("deactivate", Box::new(|m, t| m.deactivate("admin", Some(t)).map(drop))),
    ]
}

#[test]
fn a_write_admitted_under_an_older_state_is_decided_again_and_a_refusal_writes_nothing() {
    for b in backends() {
    let (m, store, held) = with_work(&b);
    for (kind, write) in writes(held) {
        let kind = format!("{}: {kind}", b.name);
        let ticket = Ticket::new(m.published().version, refused());
        move_state(&m);
        let before = contents(&*store);
        let err = write(&m, &ticket).expect_err(&kind);
        assert!(matches!(&err, Error::Denied(d) if d.message == "decided again: refused"), "{kind}: {err:?}");
        assert_eq!(ticket.asked(), 1, "{kind}: decided again once");
        assert_eq!(*ticket.seen.lock().unwrap(), [m.state()], "{kind}: under the state as it is now");
        assert_eq!(contents(&*store), before, "{kind}: a refused write changed the database");
    }
    }
}

#[test]
fn a_write_admitted_under_the_current_state_is_not_decided_again() {
    for b in backends() {
    let (m, store, held) = with_work(&b);
    for (kind, write) in writes(held) {
        let kind = format!("{}: {kind}", b.name);
        let current = Ticket::new(m.published().version, refused());
        let outcome = write(&m, &current);
        assert_eq!(current.asked(), 0, "{kind}: admitted under this very state, not asked again");
        assert!(outcome.is_ok(), "{kind}: {outcome:?}");
    }
    // The commits happened: a user and a deployment exist that only the writes made.
    assert!(store.user("u1").unwrap().is_some());
    assert!(store.deployment("d3").unwrap().is_some());
    assert!(store.deployment("d2").unwrap().is_none());
    }
}

/// On a fresh manager with work ([`with_work`]) on each backend: a request is
/// admitted under the state as it is (after `activate_first`, which moves it to
/// activating), the state moves, and `write` runs with that admission, which
/// allows it again. Asserts it was decided again exactly once, under the state it
/// moved to; `write` asserts what it returned and what the store holds.
fn allowed_again(kind: &str, activate_first: bool, write: impl Fn(&str, &Manager, &dyn Store, &str, &dyn Admission)) {
    for b in backends() {
        let (m, store, held) = with_work(&b);
        if activate_first {
            move_state(&m);
        }
        let older = Ticket::new(m.published().version, Decision::Allow);
        move_state(&m);
        let moved_to = m.state();
        let kind = format!("{}: {kind}", b.name);
        write(kind.as_str(), &*m, &*store, held.as_str(), &older as &dyn Admission);
        assert_eq!(older.asked(), 1, "{kind}: decided again once");
        assert_eq!(*older.seen.lock().unwrap(), [moved_to], "{kind}: under the state as it moved");
    }
}

fn maintenance_status(store: &dyn Store) -> Option<MaintenanceState> {
    store.manager_state().unwrap().maintenance.map(|m| m.status)
}

#[test]
fn a_write_admitted_under_an_older_state_and_allowed_again_commits() {
    allowed_again("create an execution", false, |kind, m, store, _, t| {
        let e = m.create_execution(execution("d1"), Actor::System, Some(t)).unwrap_or_else(|e| panic!("{kind}: {e:?}"));
        assert_eq!((e.deployment_id.as_deref(), e.status), (Some("d1"), ExecutionStatus::Pending), "{kind}");
        let stored = store.execution(&e.id).unwrap().unwrap_or_else(|| panic!("{kind}: the execution it returned is not stored"));
        assert_eq!((stored.workflow_id.as_str(), stored.status), ("install", ExecutionStatus::Pending), "{kind}");
        assert_eq!(maintenance_status(store), Some(MaintenanceState::Activating), "{kind}: one more to wait for");
    });
    allowed_again("report an execution's status", false, |kind, m, store, held, t| {
        let e = m.set_execution_status(held, ExecutionStatus::Started, None, Actor::System, Some(t)).unwrap_or_else(|e| panic!("{kind}: {e:?}"));
        assert_eq!((e.id.as_str(), e.status), (held, ExecutionStatus::Started), "{kind}");
        assert!(e.started_at.is_some(), "{kind}");
        let stored = store.execution(held).unwrap().unwrap();
        assert_eq!((stored.status, &stored.started_at), (ExecutionStatus::Started, &e.started_at), "{kind}");
    });
    allowed_again("cancel an execution", false, |kind, m, store, held, t| {
        let e = m.cancel_execution(held, CancelKind::Kill, Actor::System, Some(t)).unwrap_or_else(|e| panic!("{kind}: {e:?}"));
        assert_eq!((e.id.as_str(), e.status), (held, ExecutionStatus::Cancelled), "{kind}");
        assert!(e.ended_at.is_some(), "{kind}");
        let stored = store.execution(held).unwrap().unwrap();
        assert_eq!((stored.status, &stored.ended_at), (ExecutionStatus::Cancelled, &e.ended_at), "{kind}");
        // The last unfinished execution ended while activating: the eager flip, in
        // the same commit.
        assert_eq!(maintenance_status(store), Some(MaintenanceState::Activated), "{kind}");
        assert_eq!(m.state(), MaintenanceState::Activated, "{kind}: published");
    });
    allowed_again("create a deployment", false, |kind, m, store, _, t| {
        let d = m.create_deployment(deployment("d3"), Some(t)).unwrap_or_else(|e| panic!("{kind}: {e:?}"));
        assert_eq!(d.id, "d3", "{kind}");
        assert!(store.deployment("d3").unwrap().is_some(), "{kind}: not stored");
    });
    allowed_again("delete a deployment", false, |kind, m, store, _, t| {
        let d = m.delete_deployment("d2", Actor::System, Some(t)).unwrap_or_else(|e| panic!("{kind}: {e:?}"));
        assert_eq!(d.id, "d2", "{kind}");
        assert!(store.deployment("d2").unwrap().is_none(), "{kind}: still stored");
        assert!(store.deployment("d1").unwrap().is_some(), "{kind}: the other one went too");
    });
    allowed_again("create a user", false, |kind, m, store, _, t| {
        let u = m.create_user(user("u1"), Some(t)).unwrap_or_else(|e| panic!("{kind}: {e:?}"));
        assert_eq!(u.username, "u1", "{kind}");
        assert!(store.user("u1").unwrap().is_some(), "{kind}: not stored");
    });
    // Admitted while activating; the state moved to deactivated; activate again.
    allowed_again("activate", true, |kind, m, store, _, t| {
        let view = m.activate("admin", &Default::default(), Some(t)).unwrap_or_else(|e| panic!("{kind}: {e:?}"));
        assert_eq!(view.state(), MaintenanceState::Activating, "{kind}: the pending execution holds it");
        assert_eq!(maintenance_status(store), Some(MaintenanceState::Activating), "{kind}");
        assert_eq!(m.state(), MaintenanceState::Activating, "{kind}: published");
    });
    allowed_again("deactivate", false, |kind, m, store, _, t| {
        let view = m.deactivate("admin", Some(t)).unwrap_or_else(|e| panic!("{kind}: {e:?}"));
        assert_eq!(view.state(), MaintenanceState::Deactivated, "{kind}");
        assert_eq!(maintenance_status(store), None, "{kind}");
        assert_eq!(m.state(), MaintenanceState::Deactivated, "{kind}: published");
    });
}

#[test]
fn activated_at_is_the_instant_the_last_execution_ended() {
    for b in backends() {
    let (m, store) = open(&b);
    m.create_deployment(deployment("d1"), None).unwrap();
    for round in 0..60 {
        let first = m.create_execution(execution("d1"), Actor::System, None).unwrap().id;
        let last = m.create_execution(execution("d1"), Actor::System, None).unwrap().id;
        assert_eq!(m.activate("admin", &Default::default(), None).unwrap().state(), MaintenanceState::Activating);
        m.set_execution_status(&first, ExecutionStatus::Failed, None, Actor::System, None).unwrap();
        assert_eq!(m.state(), MaintenanceState::Activating, "round {round}: one execution is left");
        let ended = m.set_execution_status(&last, ExecutionStatus::Terminated, None, Actor::System, None).unwrap().ended_at;
        let record = store.manager_state().unwrap().maintenance.expect("a maintenance row");
        assert_eq!(record.status, MaintenanceState::Activated, "round {round}");
        assert!(ended.is_some(), "round {round}");
        assert_eq!(record.activated_at, ended, "round {round}: activated_at and the last ended_at differ");
        assert_eq!(store.execution(&last).unwrap().unwrap().ended_at, ended, "round {round}");
        m.deactivate("admin", None).unwrap();
    }
}
}
