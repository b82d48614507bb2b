//! One admission decision through the real default policy component: on a
//! reused (pooled) instance, as the server runs it, and on a fresh instance
//! per decision for comparison.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use drydock_engine::{
    Caller, DEFAULT_POLICY, Engine, ExecutionCounts, ExecutionStatus, Limits, MaintenanceState, RequestDescriptor, Role,
    Snapshot,
};

fn decision(c: &mut Criterion) {
    let req = RequestDescriptor {
        method: "POST".into(),
        path: "/api/v3.1/executions".into(),
        route: "executions".into(),
        first_segment: "executions".into(),
        caller: Caller {
            username: "alice".into(),
            role: Role::User,
            bypass: false,
        },
        attributes: vec![("tenant".into(), "default_tenant".into())],
    };
    let snap = Snapshot { facts: Vec::new(),
        state: MaintenanceState::Activating,
        executions: ExecutionCounts {
            by_status: vec![(ExecutionStatus::Started, 3)],
        },
    };

    // A generous deadline: measure the call alone, never a deadline fault
    // and the fresh instance that follows it.
    let limits = Limits {
        deadline: Duration::from_secs(1),
        ..Limits::default()
    };
    let reused = Engine::new(limits).unwrap().load(DEFAULT_POLICY).unwrap();
    c.bench_function("decide/reused-instance", |b| {
        b.iter(|| reused.decide(black_box(&req), black_box(&snap)).unwrap())
    });

    let fresh = Engine::new(Limits {
        pool_size: 0,
        ..limits
    })
    .unwrap()
    .load(DEFAULT_POLICY)
    .unwrap();
    c.bench_function("decide/fresh-instance", |b| {
        b.iter(|| fresh.decide(black_box(&req), black_box(&snap)).unwrap())
    });
}

criterion_group!(benches, decision);
criterion_main!(benches);
