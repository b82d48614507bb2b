//! Two gates on one policy each decide under their own state, and an observer hears
//! the truth: how long the policy took (or that the memo answered), and never a
//! fail-mode verdict as the policy's decision.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use drydock_engine::{DEFAULT_POLICY, Engine, Fault, Limits, Policy, Slots};
use drydock_gate::{Decision, FailMode, Gate, GateConfig, MaintenanceState, Observer, Published, RequestView, SharedState};
use http::Request;
use tower::ServiceExt;

fn app(gate: &Gate) -> Router {
    Router::new().route("/todos", get(|| async { "[]" })).route_layer(gate.layer())
}

async fn status(app: &Router) -> u16 {
    let req = Request::get("/todos").body(Body::empty()).unwrap();
    app.clone().oneshot(req).await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "current_thread")]
async fn two_gates_on_one_policy_never_answer_for_each_other() {
    let engine = Engine::new(Limits::default()).unwrap();
    let slots = Arc::new(Slots::new(Arc::new(engine.load(DEFAULT_POLICY).unwrap())));
    // Both states at version 1: only the gate tells their memo entries apart.
    let open = Arc::new(SharedState::new());
    let closed = Arc::new(SharedState::with_snapshot(drydock_gate::Snapshot { facts: Vec::new(),
        state: MaintenanceState::Activated,
        executions: Default::default(),
    }));
    let (a, b) = (
        app(&Gate::new(slots.clone(), open, GateConfig::default())),
        app(&Gate::new(slots, closed, GateConfig::default())),
    );
    // One thread, so both gates share one per-thread memo.
    for _ in 0..3 {
        assert_eq!(status(&a).await, 200);
        assert_eq!(status(&b).await, 503);
    }
}

#[derive(Default)]
struct Heard {
    decided: Mutex<Vec<Option<Duration>>>,
    faults: Mutex<u32>,
}

impl Observer for Heard {
    fn decided(&self, _: &Arc<Policy>, _: &RequestView<'_>, _: &Arc<Published>, _: &Decision, took: Option<Duration>) {
        self.decided.lock().unwrap().push(took);
    }

    fn faulted(&self, _: &Policy, _: &Fault) {
        *self.faults.lock().unwrap() += 1;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_observer_hears_policy_time_memo_hits_and_no_fail_mode_verdicts() {
    let engine = Engine::new(Limits::default()).unwrap();
    let slots = Arc::new(Slots::new(Arc::new(engine.load(DEFAULT_POLICY).unwrap())));
    let heard = Arc::new(Heard::default());
    let gate = Gate::new(slots, Arc::new(SharedState::new()), GateConfig::default()).with_observer(heard.clone());
    let app = app(&gate);
    assert_eq!(status(&app).await, 200);
    assert_eq!(status(&app).await, 200);
    let decided = heard.decided.lock().unwrap().clone();
    assert_eq!(decided.len(), 2, "{decided:?}");
    assert!(decided[0].is_some(), "the first was the policy's, timed: {decided:?}");
    assert_eq!(decided[1], None, "the second came from the memo, untimed: {decided:?}");

    // A request the policy cannot decide: a caller name too big for its memory.
    for (fail_mode, want) in [(FailMode::Closed, 503), (FailMode::Open, 200)] {
        let config = GateConfig::default().with_fail_mode(fail_mode);
        let gate = Gate::new(gate.slots.clone(), Arc::new(SharedState::new()), config).with_observer(heard.clone());
        let huge = Router::new()
            .route("/todos", get(|| async { "[]" }))
            .route_layer(gate.layer())
            .route_layer(axum::middleware::from_fn(|mut req: axum::extract::Request, next: axum::middleware::Next| async move {
                let name = "x".repeat(8 << 20);
                req.extensions_mut().insert(drydock_gate::Caller { username: name, role: drydock_gate::Role::User, bypass: false });
                next.run(req).await
            }));
        let before = heard.decided.lock().unwrap().len();
        assert_eq!(status(&huge).await, want, "{fail_mode:?}");
        assert_eq!(heard.decided.lock().unwrap().len(), before, "{fail_mode:?}: the fail mode's verdict is not the policy's");
    }
    assert_eq!(*heard.faults.lock().unwrap(), 2);
}
