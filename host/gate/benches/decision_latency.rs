//! Latency percentiles of one admission decision through the real default policy
//! component (criterion reports means; this reports the tail), and of the whole gate
//! as a request pays for it (descriptor, state load, decision, policy header).
//!
//! `cargo bench -p drydock-gate --bench decision_latency` (or `scripts/bench.sh`).
//! Each decision is timed on its own with `Instant::now()`; the timer's own cost is
//! measured and printed, and not subtracted. Lines starting with `@@` are for the
//! script that builds the results table.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::get;
use drydock_engine::{DEFAULT_POLICY, Engine, Limits, Slots};
use drydock_gate::{
    Caller, Decision, ExecutionCounts, ExecutionStatus, Gate, GateConfig, MaintenanceState, RequestDescriptor, Role,
    SharedState, Snapshot,
};
use http::Request;
use tower::Service;

/// Iterations, scaled by `DRYDOCK_BENCH_SCALE` (default 1.0; the CI build check
/// never runs this).
fn iterations(base: usize) -> usize {
    let scale: f64 = std::env::var("DRYDOCK_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    ((base as f64 * scale) as usize).max(1000)
}

struct Summary {
    n: usize,
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
    mean: f64,
}

fn summarise(mut ns: Vec<u64>) -> Summary {
    ns.sort_unstable();
    let at = |q: f64| ns[((ns.len() as f64 * q) as usize).min(ns.len() - 1)] as f64;
    Summary {
        n: ns.len(),
        p50: at(0.50),
        p99: at(0.99),
        p999: at(0.999),
        max: *ns.last().unwrap() as f64,
        mean: ns.iter().sum::<u64>() as f64 / ns.len() as f64,
    }
}

/// Time `f` `n` times, each call on its own, after `n / 10` warm-up calls.
fn sample(n: usize, mut f: impl FnMut()) -> Vec<u64> {
    for _ in 0..n / 10 {
        f();
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f();
        out.push(t.elapsed().as_nanos() as u64);
    }
    out
}

fn report(key: &str, what: &str, s: &Summary) {
    println!(
        "{what:<52} n={:>8}  p50 {:>8.0} ns  p99 {:>8.0} ns  p99.9 {:>8.0} ns  max {:>9.0} ns  mean {:>8.0} ns",
        s.n, s.p50, s.p99, s.p999, s.max, s.mean
    );
    println!(
        "@@ {key} n={} p50_ns={:.0} p99_ns={:.0} p999_ns={:.0} max_ns={:.0} mean_ns={:.0}",
        s.n, s.p50, s.p99, s.p999, s.max, s.mean
    );
}

fn caller() -> Caller {
    Caller { username: "alice".into(), role: Role::User, bypass: false }
}

/// Poll a future that is ready at once (a tower call whose inner handler never
/// waits) without a runtime, so the runtime's own cost is not measured.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the benchmarked service was expected to be ready at once"),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    println!("One admission decision through the real component ({} cores)", cores());

    let timer = summarise(sample(iterations(1_000_000), || {
        black_box(Instant::now());
    }));
    report("timer", "timer overhead (Instant::now pair, not subtracted)", &timer);

    // A generous deadline: measure the call, not the odds of this thread being
    // descheduled for long on a busy machine (which would fault the decision).
    let limits = Limits { deadline: Duration::from_secs(1), ..Limits::default() };
    let engine = Engine::new(limits).expect("engine");
    let reused = engine.load(DEFAULT_POLICY).expect("default policy");

    // What the gated HTTP route asks: a read of a todo, no maintenance.
    let allow_req = RequestDescriptor::new("GET", "/todos/42", "/todos/{id}", "", caller());
    let allow_snap = Snapshot { facts: Vec::new(), state: MaintenanceState::Deactivated, executions: ExecutionCounts::default() };
    // The criterion bench's case: a refusal, which carries strings back.
    let mut deny_req = RequestDescriptor::new("POST", "/api/v3.1/executions", "/api/v3.1/executions", "/api/v3.1", caller());
    deny_req.attributes.push(("tenant".into(), "default_tenant".into()));
    let deny_snap = Snapshot { facts: Vec::new(),
        state: MaintenanceState::Activating,
        executions: ExecutionCounts { by_status: vec![(ExecutionStatus::Started, 3)] },
    };

    assert_eq!(reused.decide(&allow_req, &allow_snap).unwrap(), Decision::Allow);
    assert!(matches!(reused.decide(&deny_req, &deny_snap).unwrap(), Decision::Deny(_)));

    let allow = summarise(sample(iterations(1_000_000), || {
        black_box(reused.decide(black_box(&allow_req), black_box(&allow_snap)).unwrap());
    }));
    report("decide_reused_allow", "decide, reused instance, allow (GET todos/{id})", &allow);

    let deny = summarise(sample(iterations(1_000_000), || {
        black_box(reused.decide(black_box(&deny_req), black_box(&deny_snap)).unwrap());
    }));
    report("decide_reused_deny", "decide, reused instance, deny (POST executions)", &deny);

    // Throughput view of the same: no per-call timer at all.
    let n = iterations(1_000_000);
    let t = Instant::now();
    for _ in 0..n {
        black_box(reused.decide(black_box(&allow_req), black_box(&allow_snap)).unwrap());
    }
    let per = t.elapsed().as_nanos() as f64 / n as f64;
    println!("{:<52} {per:.0} ns per decision over {n} back-to-back calls", "decide, reused instance, allow, untimed loop");
    println!("@@ decide_reused_loop mean_ns={per:.0}");

    let fresh = Engine::new(Limits { pool_size: 0, ..limits })
        .expect("engine")
        .load(DEFAULT_POLICY)
        .expect("default policy");
    let fresh_s = summarise(sample(iterations(20_000), || {
        black_box(fresh.decide(black_box(&allow_req), black_box(&allow_snap)).unwrap());
    }));
    report("decide_fresh_allow", "decide, fresh instance per decision, allow", &fresh_s);

    // The whole gate as a request pays for it: the same axum route with and
    // without the gate layer, called in-process, interleaved.
    let slots = Arc::new(Slots::new(Arc::new(reused)));
    let gate = Gate::new(slots, Arc::new(SharedState::new()), GateConfig::default());
    let plain: Router = Router::new().route("/todos/{id}", get(|| async { "{}" }));
    let gated: Router = plain.clone().route_layer(gate.layer());
    let call = |router: &Router| {
        let mut svc = router.clone();
        let req = Request::get("/todos/42").extension(caller()).body(Body::empty()).unwrap();
        let resp: Result<Response, Infallible> = ready(svc.call(req));
        assert_eq!(resp.unwrap().status(), 200);
    };
    let n = iterations(500_000);
    let (mut with, mut without) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n / 10 {
        call(&gated);
        call(&plain);
    }
    for _ in 0..n {
        let t = Instant::now();
        call(&gated);
        with.push(t.elapsed().as_nanos() as u64);
        let t = Instant::now();
        call(&plain);
        without.push(t.elapsed().as_nanos() as u64);
    }
    let (with, without) = (summarise(with), summarise(without));
    report("route_ungated", "axum route, in-process, without the gate", &without);
    report("route_gated", "axum route, in-process, with the gate", &with);
    println!(
        "{:<52} p50 +{:.0} ns  p99 +{:.0} ns",
        "gate added per request (in-process)",
        with.p50 - without.p50,
        with.p99 - without.p99
    );
    println!("@@ gate_added p50_ns={:.0} p99_ns={:.0}", with.p50 - without.p50, with.p99 - without.p99);

    let us = |ns: f64| ns / 1000.0;
    let yes = |ok: bool| if ok { "yes" } else { "**no**" };
    println!();
    println!("| one decision (default policy, timed one by one) | result | target | met |");
    println!("|---|---|---|---|");
    println!(
        "| reused instance, allow: p50 / p99 / p99.9 | **{:.2} / {:.2}** / {:.2} µs | p50 ≤ 1 µs, p99 ≤ 5 µs | {} |",
        us(allow.p50),
        us(allow.p99),
        us(allow.p999),
        yes(allow.p50 <= 1000.0 && allow.p99 <= 5000.0)
    );
    println!(
        "| reused instance, deny: p50 / p99 / p99.9 | **{:.2} / {:.2}** / {:.2} µs | p50 ≤ 1 µs, p99 ≤ 5 µs | {} |",
        us(deny.p50),
        us(deny.p99),
        us(deny.p999),
        yes(deny.p50 <= 1000.0 && deny.p99 <= 5000.0)
    );
    println!(
        "| fresh instance per decision (for comparison): p50 / p99 / p99.9 | {:.1} / {:.1} / {:.1} µs ({:.0}× the reused p50) | — | — |",
        us(fresh_s.p50),
        us(fresh_s.p99),
        us(fresh_s.p999),
        fresh_s.p50 / allow.p50
    );
    println!(
        "| whole gate in-process (descriptor, state, decision, header): added p50 / p99 | {:.2} / {:.2} µs | — | — |",
        us(with.p50 - without.p50),
        us(with.p99 - without.p99)
    );
    println!("| timer overhead included above (not subtracted): p50 | {:.0} ns | — | — |", timer.p50);
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
