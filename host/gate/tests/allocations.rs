//! A request whose decision the gate remembers allocates nothing in the gate's
//! decision: counted with a global allocator, per thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::get;
use drydock_engine::{DEFAULT_POLICY, Engine, Limits, Slots};
use drydock_gate::{Caller, Decision, Gate, GateConfig, Origin, Role, SharedState};
use http::Request;
use tower::Service;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations_in<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (out, ALLOCATIONS.with(Cell::get) - before)
}

/// Poll a future that is ready at once, without a runtime.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("expected to be ready at once"),
    }
}

fn gate() -> Gate {
    let engine = Engine::new(Limits::default()).unwrap();
    let slots = Arc::new(Slots::new(Arc::new(engine.load(DEFAULT_POLICY).unwrap())));
    Gate::new(slots, Arc::new(SharedState::new()), GateConfig::default())
}

#[test]
fn a_remembered_decision_allocates_nothing() {
    let gate = gate();
    let alice = Caller { username: "alice".into(), role: Role::User, bypass: false };
    let req = Request::get("/todos/42").extension(alice).body(Body::empty()).unwrap();
    let published = gate.state.current();
    let policy = gate.slots.active();
    let ask = || {
        gate.describe(req.method(), req.uri(), req.headers(), req.extensions(), |desc| {
            gate.ask_published(&policy, desc, &published)
        })
    };
    let ((first, origin), _) = allocations_in(ask);
    assert_eq!((first, matches!(origin, Origin::Policy(_))), (Decision::Allow, true));
    let ((again, origin), allocated) = allocations_in(ask);
    assert_eq!((again, origin), (Decision::Allow, Origin::Memo));
    assert_eq!(allocated, 0, "describing the request and reading the memo allocate nothing");
}

#[test]
fn a_remembered_read_through_the_gate_layer_allocates_only_what_axum_does() {
    let gate = gate();
    let route: Router = Router::new().route("/todos/{id}", get(|| async { "{}" }));
    // The baseline has a layer too (one that does nothing), so axum's own cost of
    // layering a route is on both sides.
    let plain: Router = route.clone().route_layer(tower::layer::layer_fn(|s| s));
    let gated: Router = route.route_layer(gate.layer());
    let call = |router: &Router| {
        let mut svc = router.clone();
        let alice = Caller { username: "alice".into(), role: Role::User, bypass: false };
        let req = Request::get("/todos/42").extension(alice).body(Body::empty()).unwrap();
        allocations_in(|| {
            let resp: Result<Response, Infallible> = ready(svc.call(req));
            assert_eq!(resp.unwrap().status(), 200);
        })
        .1
    };
    for _ in 0..3 {
        call(&gated);
        call(&plain);
    }
    let (with, without) = (call(&gated), call(&plain));
    // axum clones a layered route's service for each request: the gate's service
    // holds the route's boxed service, so its clone is one box more than the
    // pass-through layer's. The gate itself (describing, the memo, the verdict, the
    // policy header, the future) adds none.
    assert!(with <= without + 1, "the gate added {} allocations ({with} against {without})", with.saturating_sub(without));
}
