use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use drydock_engine::{
    Caller, DEFAULT_POLICY, Decision, Denial, ExecutionCounts, Fault, Limits, MaintenanceState, Published, RequestDescriptor, Role, STRICT_POLICY,
    Snapshot,
};
use drydock_gate::Observer;
use drydock_gate::metrics::Scrape;

use super::shadow::differences;
use super::*;
use crate::store::sqlite::SqliteStore;

struct Fixture {
    _dir: tempfile::TempDir,
    registry: Arc<Registry>,
    engine: Engine,
    cache: PathBuf,
}

fn store(dir: &Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(dir).unwrap())
}

fn open(dir: &Path, engine: &Engine, startup: Option<StartupPolicy<'_>>) -> Arc<Registry> {
    Registry::open(engine.clone(), store(dir), Arc::new(Metrics::new()), Some(dir.join("cache")), startup, crate::trust::Trust::none(), Default::default()).unwrap()
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let engine = Engine::new(Limits::default()).unwrap().with_cache_dir(cache.clone());
    let registry = open(dir.path(), &engine, None);
    Fixture { _dir: dir, registry, engine, cache }
}

#[test]
fn builtin_is_active_and_listed_first() {
    let f = fixture();
    let list = f.registry.list().unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].is_builtin());
    assert_eq!(f.registry.active().unwrap().version.id, BUILTIN);
    assert_eq!(f.registry.slots().active().sha256(), list[0].sha256);
    assert!(f.registry.rollback("admin").is_err(), "nothing to roll back to");
}

#[test]
fn upload_is_validated_idempotent_and_addressable() {
    let f = fixture();
    let err = f.registry.upload(b"not wasm at all", Default::default(), &[], "admin").unwrap_err();
    assert!(matches!(&err, Error::BadRequest(m) if m.contains("not a WebAssembly component")), "{err}");
    assert_eq!(f.registry.list().unwrap().len(), 1);

    let up = f.registry.upload(STRICT_POLICY, Default::default(), &[], "admin").unwrap();
    assert!(up.created);
    assert_eq!(up.version.id.len(), 12);
    assert_eq!(up.version.name, "cloudify-strict");
    assert_eq!(up.version.uploaded.as_ref().unwrap().0, "admin");
    let again = f.registry.upload(STRICT_POLICY, Default::default(), &[], "bob").unwrap();
    assert!(!again.created);
    assert_eq!(again.version, up.version);
    // The builtin's bytes are the builtin.
    assert_eq!(f.registry.upload(DEFAULT_POLICY, Default::default(), &[], "admin").unwrap().version.id, BUILTIN);
    assert_eq!(f.registry.get(&up.version.sha256[..16]).unwrap().id, up.version.id);
    assert!(matches!(f.registry.get("nope"), Err(Error::NotFound(_))));
}

#[test]
fn activate_rollback_toggle_and_survive_reopen() {
    let f = fixture();
    let strict = f.registry.upload(STRICT_POLICY, Default::default(), &[], "admin").unwrap().version;
    let swap = f.registry.activate(&strict.id, "admin").unwrap();
    assert!(swap.swapped);
    assert_eq!(swap.previous.unwrap().id, BUILTIN);
    assert_eq!(f.registry.slots().active().sha256(), strict.sha256);
    assert_eq!(f.registry.metrics().swaps(), 1);
    assert!(!f.registry.activate(&strict.id, "admin").unwrap().swapped, "already active");

    let back = f.registry.rollback("admin").unwrap();
    assert_eq!(back.active.id, BUILTIN);
    assert_eq!(back.previous.unwrap().id, strict.id);
    assert_eq!(f.registry.slots().active().sha256(), f.registry.get(BUILTIN).unwrap().sha256);
    let forth = f.registry.rollback("admin").unwrap();
    assert_eq!(forth.active.id, strict.id);

    // Reopen on the same database: the active version is restored, from the
    // compiled cache.
    let artifacts = std::fs::read_dir(&f.cache).unwrap().count();
    assert!(artifacts >= 2, "builtin and strict are cached");
    drop(f.registry);
    let registry = open(f._dir.path(), &f.engine, None);
    assert_eq!(registry.active().unwrap().version.id, strict.id);
    assert_eq!(registry.slots().active().sha256(), strict.sha256);
    assert_eq!(registry.active().unwrap().previous.unwrap().id, BUILTIN);
    let log = registry.history(10).unwrap();
    assert_eq!(log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["rollback", "rollback", "activate", "upload"]);
}

#[test]
fn startup_file_is_stored_and_activated() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(Limits::default()).unwrap();
    let path = dir.path().join("strict.wasm");
    let registry = open(dir.path(), &engine, Some(StartupPolicy { path: &path, bytes: STRICT_POLICY.to_vec(), signatures: Vec::new() }));
    let active = registry.active().unwrap();
    assert_eq!(active.version.name, "cloudify-strict");
    assert_eq!(active.by, "serve --policy");
    assert_eq!(active.previous.unwrap().id, BUILTIN);
    drop(registry);
    let bad = Registry::open(
        engine.clone(),
        store(dir.path()),
        Arc::new(Metrics::new()),
        None,
        Some(StartupPolicy { path: &path, bytes: b"\0asm\x01\0\0\0".to_vec(), signatures: Vec::new() }),
        crate::trust::Trust::none(),
        Default::default(),
    );
    let err = format!("{:#}", bad.err().unwrap());
    assert!(err.contains("refusing to start") && err.contains("core wasm module"), "{err}");
}

#[test]
fn delete_refuses_active_shadow_and_builtin() {
    let f = fixture();
    let strict = f.registry.upload(STRICT_POLICY, Default::default(), &[], "admin").unwrap().version;
    assert!(matches!(f.registry.delete(BUILTIN, "admin"), Err(Error::Conflict(_))));
    f.registry.activate(&strict.id, "admin").unwrap();
    assert!(matches!(f.registry.delete(&strict.id, "admin"), Err(Error::Conflict(_))));
    f.registry.activate(BUILTIN, "admin").unwrap();
    f.registry.shadow(&strict.id, "admin").unwrap();
    assert!(matches!(f.registry.delete(&strict.id, "admin"), Err(Error::Conflict(_))));
    f.registry.stop_shadow("admin").unwrap();
    let gone = f.registry.delete(&strict.id, "admin").unwrap();
    assert_eq!(gone.id, strict.id);
    assert_eq!(f.registry.list().unwrap().len(), 1);
    assert_eq!(f.registry.state().previous_id, None, "the rollback target went with it");
    let prefix = format!("{}-", strict.sha256);
    assert!(
        std::fs::read_dir(&f.cache).unwrap().flatten().all(|e| !e.file_name().to_string_lossy().starts_with(&prefix)),
        "its compiled artifact is gone"
    );
}

fn request(method: &str, route: &str) -> RequestDescriptor {
    RequestDescriptor {
        method: method.into(),
        path: format!("/api/v3.1/{route}"),
        route: route.into(),
        first_segment: route.split('/').next().unwrap().into(),
        caller: Caller { username: "alice".into(), role: Role::User, bypass: false },
        attributes: vec![],
    }
}

#[test]
fn shadow_records_disagreements_off_the_response_path() {
    let f = fixture();
    let strict = f.registry.upload(STRICT_POLICY, Default::default(), &[], "admin").unwrap().version;
    let report = f.registry.shadow(&strict.id, "admin").unwrap();
    assert!(report.running);
    assert_eq!(f.registry.slots().shadow().unwrap().sha256(), strict.sha256);

    let recorder = f.registry.recorder(None);
    let active = f.registry.slots().active();
    let published = Arc::new(Published { facts: 0,
        version: 1,
        snapshot: Snapshot {
            facts: Vec::new(),
            state: MaintenanceState::Activating,
            executions: ExecutionCounts { by_status: vec![(drydock_engine::ExecutionStatus::Started, 1)] },
        },
    });
    // Activating: the strict policy also refuses uploads, and retries sooner (30 s, not 60).
    let cases = [("GET", "status"), ("PUT", "blueprints/{id}"), ("POST", "executions"), ("GET", "version")];
    for (m, r) in cases {
        let req = request(m, r);
        let d = active.decide(&req, &published.snapshot).unwrap();
        recorder.decided(&active, &req.view(), &published, &d, Some(Duration::from_micros(1)));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let report = loop {
        let r = f.registry.shadow_report(10).unwrap();
        if r.agreements + r.disagreements == 4 || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!((report.agreements, report.disagreements), (2, 2));
    let mut routes: Vec<&str> = report.recent.iter().map(|d| d.request.route.as_str()).collect();
    routes.sort();
    assert_eq!(routes, ["blueprints/{id}", "executions"]);
    let executions = report.recent.iter().find(|d| d.request.route == "executions").unwrap();
    assert_eq!(executions.differs_in, ["retry_after"]);

    let last = f.registry.stop_shadow("admin").unwrap();
    assert!(!last.running);
    assert!(f.registry.slots().shadow().is_none());
    assert!(!f.registry.shadow_report(10).unwrap().running);
    assert!(matches!(f.registry.stop_shadow("admin"), Err(Error::Conflict(_))));
}

#[test]
fn differences_name_what_differs() {
    let deny = |retry| Decision::Deny(Denial { status: 503, error_code: "c".into(), message: "m".into(), retry_after: retry });
    assert!(differences(&Decision::Allow, &Ok(Decision::Allow)).is_empty());
    assert!(differences(&deny(None), &Ok(deny(None))).is_empty());
    assert_eq!(differences(&deny(None), &Ok(deny(Some(30)))), ["retry_after"]);
    assert_eq!(differences(&Decision::Allow, &Ok(deny(None))), ["verdict"]);
    assert_eq!(differences(&Decision::Allow, &Err(Fault::Deadline)), ["fault"]);
}

#[test]
fn the_shadow_queue_is_bounded_in_bytes() {
    use super::shadow::{SHADOW_QUEUE_BYTES, ShadowBoard};
    let board = ShadowBoard::default();
    assert!(board.reserve(SHADOW_QUEUE_BYTES - 10));
    assert!(!board.reserve(11), "past the byte bound");
    assert!(board.reserve(10), "up to it");
    board.release(SHADOW_QUEUE_BYTES);
    assert!(board.reserve(1), "room again once the worker took the jobs");
}

/// The default policy as built for contract 1.0.0: a third version, deciding like the builtin.
const DEFAULT_POLICY_CONTRACT_1: &[u8] = include_bytes!("../../../engine/testdata/cloudify-default-1.1.0-contract-1.0.0.wasm");

/// Requests for the shadow: under [`activating`], the strict candidate agrees with the
/// builtin on `status` and `version`, and disagrees on the other two.
const CASES: [(&str, &str); 4] = [("GET", "status"), ("PUT", "blueprints/{id}"), ("POST", "executions"), ("GET", "version")];

/// Activating, one execution started.
fn activating() -> Arc<Published> {
    Arc::new(Published {
        facts: 0,
        version: 1,
        snapshot: Snapshot {
            facts: Vec::new(),
            state: MaintenanceState::Activating,
            executions: ExecutionCounts { by_status: vec![(drydock_engine::ExecutionStatus::Started, 1)] },
        },
    })
}

/// An active decision `candidate` is sure to disagree with on `req`: the opposite of its own verdict.
fn opposite(candidate: &Policy, req: &RequestDescriptor, published: &Published) -> Decision {
    match candidate.decide(req, &published.snapshot).unwrap() {
        Decision::Allow => Decision::Deny(Denial { status: 503, error_code: "opposite".into(), message: "opposite".into(), retry_after: None }),
        Decision::Deny(_) => Decision::Allow,
    }
}

/// Decide each of [`CASES`] with `active` and show it to `recorder`.
fn decide_cases(recorder: &Recorder, active: &Arc<Policy>, published: &Arc<Published>) {
    for (m, r) in CASES {
        let req = request(m, r);
        let d = active.decide(&req, &published.snapshot).unwrap();
        recorder.decided(active, &req.view(), published, &d, Some(Duration::from_micros(1)));
    }
}

fn compared(report: &ShadowReport) -> u64 {
    report.agreements + report.disagreements
}

/// Poll until `done` holds; fail after 30 s.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The versions the registry keeps loaded, sorted.
fn loaded(registry: &Registry) -> Vec<String> {
    let mut ids: Vec<String> = registry.lock().keys().cloned().collect();
    ids.sort();
    ids
}

/// What the stalling tests below share: the strict policy shadowed, the recorder the
/// gate reports to, the active version, an activating state, the shadow session, and
/// a request the candidate decides otherwise (`blocker`, decided `against` by the
/// active side): recording that disagreement is where the worker waits while the
/// session's list is held.
struct Stall {
    recorder: Arc<Recorder>,
    active: Arc<Policy>,
    published: Arc<Published>,
    session: Arc<super::shadow::ShadowSession>,
    blocker: RequestDescriptor,
    against: Decision,
}

fn shadowing_strict(f: &Fixture) -> Stall {
    let strict = f.registry.upload(STRICT_POLICY, Default::default(), &[], "admin").unwrap().version;
    f.registry.shadow(&strict.id, "admin").unwrap();
    let published = activating();
    let session = f.registry.board.current.load_full().unwrap();
    let blocker = request("PUT", "blueprints/{id}");
    let against = opposite(&session.policy, &blocker, &published);
    Stall { recorder: f.registry.recorder(None), active: f.registry.slots().active(), published, session, blocker, against }
}

/// Off the response path, shown by events, not by a clock: the shadow worker is
/// stalled on a disagreement it is recording (its session's list is held), and still
/// every decision the gate reports returns, its job waiting in the queue; once the
/// worker goes on, all of them are counted.
#[test]
fn decisions_return_while_the_shadow_worker_is_stalled_and_are_counted_after() {
    let f = fixture();
    let Stall { recorder, active, published, session, blocker, against } = shadowing_strict(&f);

    let held = session.hold_recent();
    // On another thread: a gate that waited for the candidate would wait for ever
    // here, and the test says so rather than hang.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let _detached = std::thread::spawn({
        let (recorder, active, published) = (recorder.clone(), active.clone(), published.clone());
        move || {
            // The worker stops on this one until `held` is dropped.
            recorder.decided(&active, &blocker.view(), &published, &against, Some(Duration::from_micros(1)));
            decide_cases(&recorder, &active, &published);
            done_tx.send(()).unwrap();
        }
    });
    let returned = done_rx.recv_timeout(Duration::from_secs(30));
    assert!(returned.is_ok(), "every decision returns while the shadow candidate is stalled");
    assert!(f.registry.board.queued_bytes.load(Relaxed) > 0, "the decisions behind the stalled one are still queued");
    drop(held);

    wait_until("the shadow counted all five", || compared(&f.registry.shadow_report(0).unwrap()) >= 5);
    let report = f.registry.shadow_report(10).unwrap();
    assert_eq!((report.agreements, report.disagreements, report.skipped), (2, 3, 0));
    assert_eq!(report.recent.len(), 3);
    assert_eq!(f.registry.board.queued_bytes.load(Relaxed), 0, "every job's bytes given back");
}

/// The byte bound as the server wires it (the gate's observer, the queue, the worker):
/// with the worker stalled, requests whose jobs would take the queue past
/// `SHADOW_QUEUE_BYTES` are skipped, and the report and the metrics count them; once
/// the worker has drained the queue there is room again.
#[test]
fn a_shadow_queue_full_in_bytes_skips_requests_and_counts_them() {
    use super::shadow::SHADOW_QUEUE_BYTES;
    // Denials carrying a 5 MiB message: three such jobs fit, a fourth does not.
    const MESSAGE: usize = 5 << 20;
    const _: () = assert!(3 * (MESSAGE + 4096) <= SHADOW_QUEUE_BYTES && 4 * MESSAGE > SHADOW_QUEUE_BYTES, "the sizes here assume the bound");
    let f = fixture();
    let Stall { recorder, active, published, session, blocker, against } = shadowing_strict(&f);
    let big = Decision::Deny(Denial { status: 503, error_code: "big".into(), message: "x".repeat(MESSAGE), retry_after: None });
    let status = request("GET", "status");

    let held = session.hold_recent();
    // The worker stops on this one (queued or taken, it holds at most a few bytes).
    recorder.decided(&active, &blocker.view(), &published, &against, None);
    for _ in 0..5 {
        recorder.decided(&active, &status.view(), &published, &big, None);
    }
    let queued = f.registry.board.queued_bytes.load(Relaxed);
    assert!((3 * MESSAGE..=SHADOW_QUEUE_BYTES).contains(&queued), "{queued} bytes queued");
    drop(held);

    wait_until("the worker took every queued job", || compared(&f.registry.shadow_report(0).unwrap()) >= 4);
    let report = f.registry.shadow_report(0).unwrap();
    assert_eq!((compared(&report), report.skipped), (4, 2), "the blocker and three big ones seen, two skipped");
    let metrics = f.registry.metrics().render(&Scrape { snapshot: &published.snapshot, active: &*active, shadow: None });
    assert!(metrics.lines().any(|l| l == "drydock_shadow_skipped_total 2"), "{metrics}");
    assert_eq!(f.registry.board.queued_bytes.load(Relaxed), 0, "every job's bytes given back");

    recorder.decided(&active, &status.view(), &published, &big, None);
    wait_until("the next big one was seen", || compared(&f.registry.shadow_report(0).unwrap()) >= 5);
    assert_eq!(f.registry.shadow_report(0).unwrap().skipped, 2, "room again");
}

/// Moving the shadow to another version prunes what the old candidate had: its
/// decisions still queued are dropped (not counted for the new candidate), the report
/// is the new candidate's, the registry no longer keeps the old one loaded, and
/// nothing holds it any more.
#[test]
fn moving_the_shadow_drops_the_old_candidates_queue_and_unloads_it() {
    let f = fixture();
    let strict = f.registry.upload(STRICT_POLICY, Default::default(), &[], "admin").unwrap().version;
    let older = f.registry.upload(DEFAULT_POLICY_CONTRACT_1, Default::default(), &[], "admin").unwrap().version;
    f.registry.shadow(&strict.id, "admin").unwrap();
    assert_eq!(loaded(&f.registry), [strict.id.clone()]);
    let recorder = f.registry.recorder(None);
    let active = f.registry.slots().active();
    let published = activating();
    let first = f.registry.board.current.load_full().unwrap();
    let strict_policy = Arc::downgrade(&first.policy);
    let blocker = request("PUT", "blueprints/{id}");
    let against = opposite(&first.policy, &blocker, &published);

    let held = first.hold_recent();
    recorder.decided(&active, &blocker.view(), &published, &against, None);
    decide_cases(&recorder, &active, &published);
    // While those wait for the worker, the shadow moves on.
    let moved = f.registry.shadow(&older.id, "admin").unwrap();
    assert_eq!((moved.candidate.id.as_str(), compared(&moved)), (older.id.as_str(), 0));
    assert_eq!(loaded(&f.registry), [older.id.clone()], "kept loaded: the active (builtin), previous (none) and shadow versions");
    drop(held);

    // Last in the queue, and unlike anything before it: once it is recorded, the
    // worker has taken every job queued for the old candidate.
    let last = request("GET", "deployments/{id}");
    let candidate = f.registry.slots().shadow().unwrap();
    let d = opposite(&candidate, &last, &published);
    drop(candidate);
    recorder.decided(&active, &last.view(), &published, &d, None);
    wait_until("the new candidate recorded the last decision", || {
        f.registry.shadow_report(10).unwrap().recent.iter().any(|d| d.request.route == "deployments/{id}")
    });
    let report = f.registry.shadow_report(10).unwrap();
    assert_eq!(report.candidate.id, older.id);
    assert!(report.running);
    assert_eq!((compared(&report), report.skipped), (1, 0), "none of the old candidate's jobs counted for the new one: {report:?}");
    let old = first.report(10);
    assert!(!old.running);
    assert!(compared(&old) <= 1, "at most the one it was recording when replaced: {old:?}");
    drop(first);
    assert!(strict_policy.upgrade().is_none(), "nothing keeps the replaced candidate");

    f.registry.stop_shadow("admin").unwrap();
    assert!(loaded(&f.registry).is_empty(), "the builtin is active, nothing else needs loading");
}

/// A version runs under its own budget: asked for at upload within the server's
/// maxima (refused below what it holds at start, or above the maxima), or, unasked,
/// the server's default for a lean component; kept with it across a restart.
#[test]
fn each_version_runs_under_its_own_budget_within_the_maxima() {
    use crate::store::Budget;
    let f = fixture();
    let asked = |memory_mib, deadline_ms| Budget { memory_mib, deadline_ms };
    let err = f.registry.upload(STRICT_POLICY, asked(Some(1), None), &[], "admin").unwrap_err().to_string();
    assert!(err.contains("at start, more than the 1 MiB budget"), "{err}");
    let err = f.registry.upload(STRICT_POLICY, asked(Some(33), None), &[], "admin").unwrap_err().to_string();
    assert!(err.contains("outside 1..=32 MiB"), "{err}");
    let err = f.registry.upload(STRICT_POLICY, asked(None, Some(51)), &[], "admin").unwrap_err().to_string();
    assert!(err.contains("outside 1..=50 ms"), "{err}");

    let up = f.registry.upload(STRICT_POLICY, asked(Some(6), Some(20)), &[], "admin").unwrap();
    assert_eq!(up.version.budget, asked(Some(6), Some(20)));
    f.registry.activate(&up.version.id, "admin").unwrap();
    let limits = *f.registry.slots().active().limits();
    assert_eq!((limits.memory_bytes, limits.deadline), (6 << 20, Duration::from_millis(20)), "the active version runs under its budget");
    drop(f.registry);
    let again = open(f._dir.path(), &f.engine, None);
    let limits = *again.slots().active().limits();
    assert_eq!((limits.memory_bytes, limits.deadline), (6 << 20, Duration::from_millis(20)), "and does so after a restart");

    // Unasked, a lean component gets the server's defaults, recorded.
    let g = fixture();
    let up = g.registry.upload(STRICT_POLICY, Budget::default(), &[], "admin").unwrap();
    assert_eq!(up.version.budget, asked(Some(4), Some(5)));
}
