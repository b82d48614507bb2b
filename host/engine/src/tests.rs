use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::types::ExecutionStatus;
use crate::types::{Caller, Decision, ExecutionCounts, RequestDescriptor, Role, Snapshot};
use crate::types::MaintenanceState::{self, *};

use super::*;

/// A fixture: `testdata/<name>.wat` as wasm. A core module there is a hand-written
/// policy: it gets the policy world embedded and is componentized, so the engine's
/// fault handling is tested against a real component.
fn fixture(name: &str) -> &'static [u8] {
    static BUILT: Mutex<BTreeMap<String, &'static [u8]>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap();
    built.entry(name.to_string()).or_insert_with(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut wasm = wat::parse_file(dir.join("testdata").join(name).with_extension("wat")).unwrap();
        if wasm.get(4..8) == Some(&[1, 0, 0, 0]) {
            let mut resolve = wit_parser::Resolve::default();
            let (package, _) = resolve.push_dir(dir.join("wit")).unwrap();
            let world = resolve.select_world(&[package], Some("policy")).unwrap();
            wit_component::embed_component_metadata(&mut wasm, &resolve, world, wit_component::StringEncoding::UTF8, false)
                .unwrap();
            wasm = wit_component::ComponentEncoder::default().module(&wasm).unwrap().validate(true).encode().unwrap();
        }
        Vec::leak(wasm)
    })
}

/// Traps, loops, eats memory or answers garbage on request: see testdata/misbehave.wat.
fn misbehave() -> &'static [u8] {
    fixture("misbehave")
}
/// The smallest valid core module: magic and version 1.
const CORE_MODULE: &[u8] = b"\0asm\x01\0\0\0";

fn engine() -> Engine {
    // Debug builds of the guest bindings are slow: a deadline this test
    // machine's load cannot trip by accident.
    Engine::new(Limits {
        deadline: Duration::from_millis(500),
        ..Limits::default()
    })
    .unwrap()
}

fn request(method: &str, route: &str, role: Role, bypass: bool) -> RequestDescriptor {
    RequestDescriptor {
        method: method.into(),
        path: format!("/api/v3.1/{}", route.replace("{id}", "42")),
        route: route.into(),
        first_segment: route.split('/').next().unwrap().into(),
        caller: Caller {
            username: "alice".into(),
            role,
            bypass,
        },
        attributes: vec![("tenant".into(), "default_tenant".into())],
    }
}

fn user(method: &str, route: &str) -> RequestDescriptor {
    request(method, route, Role::User, false)
}

fn snapshot(state: MaintenanceState) -> Snapshot {
    Snapshot { facts: Vec::new(),
        state,
        executions: ExecutionCounts {
            by_status: vec![
                (ExecutionStatus::Started, 2),
                (ExecutionStatus::Terminated, 5),
            ],
        },
    }
}

fn error_code(decision: Decision) -> Option<String> {
    match decision {
        Decision::Allow => None,
        Decision::Deny(d) => Some(d.error_code),
    }
}

#[test]
fn bundled_policies_import_nothing_and_export_the_world() {
    for bytes in [DEFAULT_POLICY, STRICT_POLICY] {
        let inspection = inspect(bytes).unwrap();
        assert_eq!(inspection.imports, Vec::<String>::new(), "a policy imports nothing, not even types");
        assert_eq!(inspection.world_error, None);
        for export in ["name", "version", "decide"] {
            assert!(
                inspection.exports.iter().any(|e| e == export),
                "{export} in {:?}",
                inspection.exports
            );
        }
        assert_eq!(inspection.size, bytes.len());
        assert_eq!(inspection.sha256.len(), 64);
    }
}

#[test]
fn default_policy_decides_like_the_reference() {
    let policy = engine().load(DEFAULT_POLICY).unwrap();
    assert_eq!(
        (policy.name(), policy.version()),
        ("cloudify-default", "1.2.0")
    );
    assert_eq!(
        policy.label(),
        format!("cloudify-default@1.2.0#{}", &policy.sha256()[..8])
    );
    let cases: &[(MaintenanceState, RequestDescriptor, Option<&str>)] = &[
        (Deactivated, user("POST", "executions"), None),
        (
            Activated,
            user("GET", "executions"),
            Some("maintenance_mode_active"),
        ),
        (Activated, user("GET", "status"), None),
        (Activated, user("GET", "snapshot-status"), None),
        (
            Activated,
            user("GET", "statusx"),
            Some("maintenance_mode_active"),
        ),
        (
            Activated,
            request("GET", "users", Role::SysAdmin, true),
            None,
        ),
        (
            Activated,
            request("GET", "users", Role::User, true),
            Some("maintenance_mode_active"),
        ),
        (
            Activating,
            user("POST", "executions"),
            Some("entering_maintenance_mode"),
        ),
        (Activating, user("POST", "executions/{id}"), None),
        (Activating, user("PATCH", "executions/{id}"), None),
        (
            Activating,
            user("PUT", "deployments/{id}"),
            Some("entering_maintenance_mode"),
        ),
        (Activating, user("DELETE", "deployments/{id}"), None),
        (
            Activating,
            user("GET", "snapshots/{id}/restore"),
            Some("entering_maintenance_mode"),
        ),
        (Activating, user("PUT", "blueprints/{id}"), None),
    ];
    for (state, req, want) in cases {
        let got = policy.decide(req, &snapshot(*state)).unwrap();
        if let Decision::Deny(d) = &got {
            assert_eq!((d.status, d.retry_after), (503, Some(60)), "a minute when no end is announced");
            assert!(d.message.contains("maintenance mode"), "{}", d.message);
        }
        assert_eq!(
            error_code(got).as_deref(),
            *want,
            "{} {} in {state:?}",
            req.method,
            req.route
        );
    }
}

#[test]
fn strict_policy_adds_uploads_and_retry_after() {
    let policy = engine().load(STRICT_POLICY).unwrap();
    assert_eq!(
        (policy.name(), policy.version()),
        ("cloudify-strict", "1.2.0")
    );
    let Decision::Deny(d) = policy
        .decide(&user("PUT", "blueprints/{id}"), &snapshot(Activating))
        .unwrap()
    else {
        panic!("blueprint upload allowed while activating");
    };
    assert_eq!(
        (d.error_code.as_str(), d.retry_after),
        ("entering_maintenance_mode", Some(30))
    );
    let Decision::Deny(d) = policy
        .decide(&user("GET", "users"), &snapshot(Activated))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(d.retry_after, Some(300));
}

#[test]
fn refuses_what_is_not_a_component() {
    let engine = engine();
    for bytes in [&b""[..], b"hello, world", &[0u8; 64][..]] {
        assert!(
            matches!(engine.load(bytes), Err(LoadError::NotAComponent(_))),
            "{bytes:?}"
        );
    }
    let Err(LoadError::NotAComponent(why)) = engine.load(CORE_MODULE) else {
        panic!("core module accepted")
    };
    assert!(why.contains("core wasm module"), "{why}");
    // A component header followed by junk does not compile.
    assert!(matches!(
        engine.load(b"\0asm\x0d\0\x01\0junk"),
        Err(LoadError::Compile(_))
    ));
}

#[test]
fn refuses_imports_naming_each() {
    let engine = engine();
    let Err(LoadError::Imports(names)) = engine.load(fixture("imports")) else {
        panic!("imports accepted")
    };
    // Every import counts, even one of type names only.
    assert_eq!(names, ["log", "wasi:clocks/wall-clock@0.2.0", "only-types"]);
    // Read before compiling: no compilation is spent on it.
    assert_eq!(engine.compilations().compiled, 0);
    assert!(!inspect(fixture("imports")).unwrap().world_ok());
}

#[test]
fn refuses_the_wrong_world_naming_the_export() {
    let Err(LoadError::WrongWorld(why)) = engine().load(fixture("empty")) else {
        panic!("empty component accepted")
    };
    assert!(why.contains("no export `"), "{why}");
    let Err(LoadError::WrongWorld(why)) = engine().load(fixture("mistyped")) else {
        panic!("mistyped component accepted")
    };
    assert!(why.contains("type-checking export func `"), "{why}");
}

#[test]
fn a_trap_drops_the_instance_and_later_decisions_work() {
    let policy = engine().load(misbehave()).unwrap();
    assert_eq!(policy.name(), "misbehave");
    let snap = snapshot(Activated);
    assert_eq!(policy.decide(&user("GET", "x"), &snap), Ok(Decision::Allow));
    let idle = policy.idle_instances();
    assert!(matches!(
        policy.decide(&user("TRAP", "x"), &snap),
        Err(Fault::Trap(_))
    ));
    assert_eq!(
        policy.idle_instances(),
        idle - 1,
        "the trapped instance went back to the pool"
    );
    assert_eq!(policy.decide(&user("GET", "x"), &snap), Ok(Decision::Allow));
    assert_eq!(policy.idle_instances(), idle);
}

#[test]
fn faults_are_told_apart() {
    let engine = Engine::new(Limits {
        deadline: Duration::from_millis(100),
        ..Limits::default()
    })
    .unwrap();
    let policy = engine.load(misbehave()).unwrap();
    let snap = snapshot(Activated);
    assert_eq!(
        policy.decide(&user("LOOP", "x"), &snap),
        Err(Fault::Deadline)
    );
    assert_eq!(
        policy.decide(&user("MEMORY", "x"), &snap),
        Err(Fault::Memory)
    );
    let Err(Fault::Garbage(why)) = policy.decide(&user("WEIRD", "x"), &snap) else {
        panic!("garbage accepted")
    };
    assert!(why.contains("200"), "{why}");
    assert_eq!(policy.decide(&user("GET", "x"), &snap), Ok(Decision::Allow));
}

#[test]
fn a_default_policy_input_too_big_for_its_memory_is_a_memory_fault() {
    let policy = engine().load(DEFAULT_POLICY).unwrap();
    let mut req = user("GET", "status");
    req.path = "x".repeat(8 << 20);
    assert_eq!(
        policy.decide(&req, &snapshot(Activated)),
        Err(Fault::Memory)
    );
    assert_eq!(
        policy.decide(&user("GET", "status"), &snapshot(Activated)),
        Ok(Decision::Allow)
    );
}


#[test]
fn a_policy_that_faults_in_the_smoke_test_is_refused() {
    let Err(LoadError::SmokeFailed { case, reason }) = engine().load(fixture("always-traps")) else {
        panic!("loaded")
    };
    assert!(case.contains("GET status"), "{case}");
    assert!(reason.contains("trapped"), "{reason}");
}

#[test]
fn a_policy_that_cannot_start_under_the_limits_is_refused() {
    let engine = Engine::new(Limits {
        memory_bytes: 0,
        ..Limits::default()
    })
    .unwrap();
    let Err(LoadError::Metadata(why)) = engine.load(DEFAULT_POLICY) else {
        panic!("loaded without memory")
    };
    assert_eq!(why, Fault::Memory.to_string());
}

#[test]
fn pool_size_zero_means_fresh_instances() {
    let engine = Engine::new(Limits {
        pool_size: 0,
        deadline: Duration::from_millis(500),
        ..Limits::default()
    })
    .unwrap();
    let policy = engine.load(DEFAULT_POLICY).unwrap();
    assert_eq!(policy.idle_instances(), 0);
    assert_eq!(
        policy.decide(&user("GET", "status"), &snapshot(Activated)),
        Ok(Decision::Allow)
    );
    assert_eq!(policy.idle_instances(), 0);
}

#[test]
fn precompiled_cache_is_written_and_reused() {
    let dir = std::env::temp_dir().join(format!("drydock-engine-cache-{}", std::process::id()));
    let engine = engine().with_cache_dir(dir.clone());
    let first = engine.load(DEFAULT_POLICY).unwrap();
    let artifacts: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    assert!(artifacts[0].to_str().unwrap().starts_with(first.sha256()));
    assert_eq!(engine.compilations(), Compilations { compiled: 1, from_cache: 0, refused: 0 });
    let again = engine.load(DEFAULT_POLICY).unwrap();
    assert_eq!(
        again.decide(&user("GET", "users"), &snapshot(Deactivated)),
        Ok(Decision::Allow)
    );
    assert_eq!(engine.compilations(), Compilations { compiled: 1, from_cache: 1, refused: 0 }, "the second load took the artifact");
    // Another component's artifact (valid native code!) in its place is not trusted:
    // its digest is not the recorded one. Compiled again, and the artifact rewritten.
    let strict = engine.load(STRICT_POLICY).unwrap();
    let strict_artifact = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(strict.sha256()))
        .unwrap();
    std::fs::copy(&strict_artifact, dir.join(&artifacts[0])).unwrap();
    let third = engine.load(DEFAULT_POLICY).unwrap();
    assert_eq!(third.name(), "cloudify-default", "the default's own code, not the strict's");
    assert_eq!(engine.compilations(), Compilations { compiled: 3, from_cache: 1, refused: 1 });
    // Junk likewise; and a fresh ledger (a restart without a persistent one) trusts nothing.
    std::fs::write(dir.join(&artifacts[0]), b"not an artifact").unwrap();
    let fourth = engine.load(DEFAULT_POLICY).unwrap();
    assert_eq!(fourth.decide(&user("GET", "users"), &snapshot(Deactivated)), Ok(Decision::Allow));
    assert_eq!(engine.compilations(), Compilations { compiled: 4, from_cache: 1, refused: 2 });
    let restarted = self::engine().with_cache_dir(dir.clone());
    restarted.load(DEFAULT_POLICY).unwrap();
    assert_eq!(restarted.compilations(), Compilations { compiled: 1, from_cache: 0, refused: 1 });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn slots_swap_atomically() {
    let engine = engine();
    let default = Arc::new(engine.load(DEFAULT_POLICY).unwrap());
    let strict = Arc::new(engine.load(STRICT_POLICY).unwrap());
    let slots = Slots::new(default.clone());
    assert!(slots.shadow().is_none());
    assert!(Arc::ptr_eq(&slots.set_active(strict.clone()), &default));
    assert!(Arc::ptr_eq(&slots.active(), &strict));
    assert!(slots.set_shadow(Some(default.clone())).is_none());
    assert!(Arc::ptr_eq(&slots.shadow().unwrap(), &default));
    assert!(slots.set_shadow(None).is_some());
}

#[test]
fn the_deadline_is_checked_every_half_deadline() {
    let ticks = |us| {
        Limits {
            deadline: Duration::from_micros(us),
            ..Limits::default()
        }
        .window_ticks()
    };
    assert_eq!(
        (ticks(0), ticks(1000), ticks(2000), ticks(5000), ticks(10_000)),
        (1, 1, 1, 3, 5)
    );
}

/// The default policy as built for contract 1.0.0 (release 1.1.0, before 2.0.0).
const DEFAULT_POLICY_CONTRACT_1: &[u8] = include_bytes!("../testdata/cloudify-default-1.1.0-contract-1.0.0.wasm");

#[test]
fn components_built_for_contract_1_still_load_and_decide_like_2() {
    let engine = engine();
    let old = engine.load(DEFAULT_POLICY_CONTRACT_1).unwrap();
    let new = engine.load(DEFAULT_POLICY).unwrap();
    assert_eq!((old.contract(), new.contract()), ("1.0.0", "2.0.0"));
    assert_eq!(inspect(DEFAULT_POLICY_CONTRACT_1).unwrap().contract, Some("1.0.0"));
    assert_eq!(inspect(DEFAULT_POLICY).unwrap().contract, Some("2.0.0"));
    let mut compared = 0;
    for state in [Deactivated, Activating, Activated] {
        for facts in [vec![], vec![("maintenance.reason".to_string(), "disk swap".to_string()), ("maintenance.retry-after".into(), "90".into())]] {
            let snap = Snapshot { state, executions: ExecutionCounts { by_status: vec![(ExecutionStatus::Started, 2), (ExecutionStatus::Queued, 1)] }, facts };
            for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                for route in ["status", "executions", "executions/{id}", "deployments/{id}", "snapshots/{id}/restore", "deployment-modifications", "users"] {
                    for (role, bypass) in [(Role::SysAdmin, true), (Role::SysAdmin, false), (Role::User, true), (Role::Other("robot".into()), false)] {
                        let mut req = request(method, route, role, bypass);
                        req.attributes.push(("parent-execution".into(), if route == "executions" { "e1".into() } else { String::new() }));
                        let (a, b) = (old.decide(&req, &snap).unwrap(), new.decide(&req, &snap).unwrap());
                        assert_eq!(a, b, "{state:?} {method} {route}");
                        compared += 1;
                    }
                }
            }
        }
    }
    assert_eq!(compared, 3 * 2 * 5 * 7 * 4);
}

/// The default deadline holds to a few times its value, also when the call finds
/// the ticker parked (the call must wake it: a parked ticker's own timeout is 1 s).
/// The median of five calls, so one stall of a loaded machine does not decide.
#[test]
fn the_default_deadline_cuts_a_loop_within_a_few_times_its_value() {
    use std::sync::atomic::Ordering::SeqCst;
    use std::time::Instant;
    const BOUND: Duration = Duration::from_millis(25);
    let engine = Engine::new(Limits::default()).unwrap();
    let policy = engine.load(misbehave()).unwrap();
    let snap = snapshot(Activated);
    let mut took = Vec::new();
    for _ in 0..5 {
        let parked = Instant::now();
        while !engine.shared.ticker.parked.load(SeqCst) {
            assert!(parked.elapsed() < Duration::from_secs(10), "the idle ticker never parked");
            std::thread::sleep(Duration::from_millis(10));
        }
        let start = Instant::now();
        assert_eq!(policy.decide(&user("LOOP", "x"), &snap), Err(Fault::Deadline));
        took.push(start.elapsed());
    }
    took.sort();
    assert!(took[2] <= BOUND, "a loop was cut after {:?} (median; all: {took:?}), the deadline is {:?}", took[2], Limits::default().deadline);
}

/// The memory cap holds for the whole instance, however many memories a component
/// declares: a hundred of 64 KiB (6.25 MiB), or two of 3 and 2 MiB, each under the
/// 4 MiB cap alone, are refused at load.
#[test]
fn the_memory_cap_is_on_all_of_an_instances_memories_together() {
    let engine = engine();
    for (name, fixture_name) in [("a hundred memories", "many-memories"), ("two memories", "two-memories")] {
        let Err(e) = engine.load(fixture(fixture_name)) else { panic!("{name}: loaded past the cap") };
        assert!(e.to_string().contains(&Fault::Memory.to_string()) || e.to_string().contains("memor"), "{name}: {e}");
    }
    // Under a cap that fits them all, the same components load: the refusal is the cap's.
    let roomy = Engine::new(Limits { memory_bytes: 8 << 20, deadline: Duration::from_millis(500), ..Limits::default() }).unwrap();
    roomy.load(fixture("two-memories")).unwrap_or_else(|e| panic!("two memories under an 8 MiB cap: {e}"));
}
