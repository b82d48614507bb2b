//! Two hosts on one PostgreSQL database change the policy selection at once: each
//! change is decided from what the database holds, so none is lost and the
//! selection never names a deleted version; a host whose copy went stale takes up
//! the database's on its next change.

use std::sync::{Arc, Barrier};

use drydock_engine::{Engine, Limits, STRICT_POLICY};
use drydock_gate::metrics::Metrics;

use super::{BUILTIN, Registry};
use crate::error::Error;
use crate::store::testing::{fresh_database, pg_host};

struct Hosts {
    a: Arc<Registry>,
    b: Arc<Registry>,
    _dir: tempfile::TempDir,
}

fn two_hosts() -> Hosts {
    let url = fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(Limits::default()).unwrap();
    let open = |host: &str| {
        let cache = dir.path().join(host);
        let engine = engine.clone().with_cache_dir(cache.clone());
        Registry::open(engine, pg_host(&url, host), Arc::new(Metrics::new()), Some(cache), None, crate::trust::Trust::none(), Default::default()).unwrap()
    };
    Hosts { a: open("host-a"), b: open("host-b"), _dir: dir }
}

/// Run `a` on host A and `b` on host B at the same moment; both results.
fn at_once<A: Send, B: Send>(
    h: &Hosts,
    a: impl FnOnce(&Registry) -> A + Send,
    b: impl FnOnce(&Registry) -> B + Send,
) -> (A, B) {
    let start = Barrier::new(2);
    std::thread::scope(|s| {
        let ta = s.spawn(|| {
            start.wait();
            a(&h.a)
        });
        let tb = s.spawn(|| {
            start.wait();
            b(&h.b)
        });
        (ta.join().unwrap(), tb.join().unwrap())
    })
}

#[test]
fn a_shadow_on_one_host_and_an_activation_on_another_are_both_kept() {
    let h = two_hosts();
    let strict = h.a.upload(STRICT_POLICY, Default::default(), &[], "admin").unwrap().version;
    for round in 0..6 {
        let (shadowed, activated) = at_once(&h, |a| a.shadow(&strict.id, "alice"), |b| b.activate(&strict.id, "bob"));
        shadowed.unwrap();
        assert!(activated.unwrap().swapped, "round {round}");
        let committed = h.a.store.policy_state().unwrap().unwrap();
        assert_eq!(committed.active_id, strict.id, "round {round}: the activation was kept");
        assert_eq!(committed.shadow.as_ref().map(|s| s.0.as_str()), Some(strict.id.as_str()), "round {round}: the shadow was kept");
        // Back to the start, from host B (A catches up on its next change).
        h.b.activate(BUILTIN, "bob").unwrap();
        h.b.stop_shadow("bob").unwrap();
        h.a.follow().unwrap();
    }
}

#[test]
fn a_deletion_racing_an_activation_never_leaves_the_selection_dangling() {
    let h = two_hosts();
    let (mut deleted, mut activated) = (0, 0);
    for round in 0..6 {
        let strict = h.a.upload(STRICT_POLICY, Default::default(), &[], "admin").unwrap().version;
        let (delete, activate) = at_once(&h, |a| a.delete(&strict.id, "alice"), |b| b.activate(&strict.id, "bob"));
        let committed = h.a.store.policy_state().unwrap().unwrap();
        let stored = h.a.store.policy(&strict.id).unwrap().is_some();
        match (delete, activate) {
            (Ok(_), Err(Error::Conflict(_) | Error::NotFound(_))) => {
                deleted += 1;
                assert!(!stored, "round {round}");
                assert_eq!(committed.active_id, BUILTIN, "round {round}");
                assert_eq!(h.b.slots().active().sha256(), h.b.get(BUILTIN).unwrap().sha256, "round {round}: B runs what is committed");
            }
            (Err(Error::Conflict(_)), Ok(swap)) => {
                activated += 1;
                assert!(swap.swapped && stored, "round {round}");
                assert_eq!(committed.active_id, strict.id, "round {round}");
                // Back to the builtin on B; A's next change starts from the database.
                h.b.activate(BUILTIN, "bob").unwrap();
            }
            other => panic!("round {round}: one of the two must win, the other be refused: {other:?}"),
        }
        for id in h.a.store.policy_state().unwrap().unwrap().stored_ids() {
            assert!(h.a.store.policy(id).unwrap().is_some(), "round {round}: the selection names {id}, which is not stored");
        }
        // Whatever happened, activating the builtin on A answers from the database.
        let swap = h.a.activate(BUILTIN, "alice").unwrap();
        assert!(!swap.swapped, "round {round}: the builtin is active already");
        assert_eq!(h.a.slots().active().sha256(), h.a.get(BUILTIN).unwrap().sha256, "round {round}");
    }
    assert_eq!(deleted + activated, 6);
}

#[test]
fn a_host_with_a_stale_copy_changes_what_the_database_holds() {
    let h = two_hosts();
    let strict = h.a.upload(STRICT_POLICY, Default::default(), &[], "admin").unwrap().version;
    // B activates strict; A has not heard of it.
    h.b.activate(&strict.id, "bob").unwrap();
    assert_eq!(h.a.state().active_id, BUILTIN, "A's copy is stale (no follower runs here)");
    // A activates the builtin: from the database's selection, so this is a swap and
    // the rollback target is what B activated.
    let swap = h.a.activate(BUILTIN, "alice").unwrap();
    assert!(swap.swapped, "strict was active in the database");
    assert_eq!(swap.previous.map(|v| v.id), Some(strict.id.clone()));
    // A rolls back: to strict, the version B had activated.
    let back = h.a.rollback("alice").unwrap();
    assert_eq!(back.active.id, strict.id);
    assert_eq!(h.a.slots().active().sha256(), strict.sha256);
    // B, stale now, stops a shadow that A started meanwhile: it finds it.
    h.a.shadow(BUILTIN, "alice").unwrap();
    assert!(h.b.state().shadow.is_none(), "B's copy is stale");
    let report = h.b.stop_shadow("bob").unwrap();
    assert_eq!(report.candidate.id, BUILTIN);
    assert!(h.b.store.policy_state().unwrap().unwrap().shadow.is_none());
    // A, stale now, is told the shadow is stopped already, and takes that up.
    assert!(matches!(h.a.stop_shadow("alice"), Err(Error::Conflict(_))));
    assert!(h.a.state().shadow.is_none(), "A took up the database's selection");
}
