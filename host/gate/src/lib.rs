//! drydock's gate: builds a request descriptor, asks the active policy, admits or
//! refuses.
//!
//! It is a tower layer, so drydock's server and any embedding axum application put
//! it in front of their routes the same way. It needs two things from its host: the
//! policy slots (which component decides) and a [`StateSource`] (what state it
//! decides under). It knows no routes but the ones it is shown, no database and no
//! particular product: the admin floor and the refusal body are the host's choice
//! ([`GateConfig`]).
//!
//! # Embedding it in your own axum application
//!
//! 1. Build an [`Engine`](drydock_engine::Engine) with [`Limits`](drydock_engine::Limits)
//!    and load a policy component once (validation, compilation and a smoke test
//!    happen here, never on the request path). Put it in
//!    [`Slots`](drydock_engine::Slots): replacing it later is one atomic store.
//! 2. Give the gate a [`StateSource`]: [`SharedState`] is a ready one, or implement
//!    the trait over your own state (it is called once per request; keep it a
//!    pointer load).
//! 3. Describe your routes with a [`GateConfig`]: `api_prefix` is stripped from
//!    paths and route templates before the policy sees them (`""` for none), the
//!    floor names what is admitted without asking the policy (for example the first
//!    path segments a `sys_admin` always reaches), and the refusal turns a denial
//!    into your API's error response.
//! 4. Add [`Gate::layer`] with `route_layer`, so the policy sees the matched route
//!    template (`todos/{id}`), not only the concrete path.
//! 5. Tell the gate who is calling: insert a [`Caller`] into the request extensions
//!    in a middleware that runs before the gate (your authentication). Without one
//!    the caller is anonymous (role `anonymous`). The gate fills in
//!    [`Caller::bypass`] itself from the `X-Bypass-Maintenance` header.
//!
//! Every response the policy decided carries `X-Drydock-Policy: name@version#sha`;
//! a refusal is, by default, a JSON body `{"message", "error_code"}` with the
//! policy's status (and `Retry-After` when it gives one).
//!
//! ```
//! use std::sync::Arc;
//!
//! use axum::{Router, body::Body, extract::Request, middleware::{self, Next}, routing::get};
//! use drydock_engine::{DEFAULT_POLICY, Engine, Limits, STRICT_POLICY, Slots};
//! use drydock_gate::{Caller, Gate, GateConfig, MaintenanceState, Role, SharedState};
//! use tower::ServiceExt;
//!
//! /// Your authentication: here, trust an `X-User` header (a demo, not a scheme).
//! async fn identify(mut req: Request, next: Next) -> axum::response::Response {
//!     if let Some(user) = req.headers().get("x-user").and_then(|v| v.to_str().ok()) {
//!         let role = if user == "root" { Role::SysAdmin } else { Role::User };
//!         let caller = Caller { username: user.to_owned(), role, bypass: false };
//!         req.extensions_mut().insert(caller);
//!     }
//!     next.run(req).await
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! let engine = Engine::new(Limits::default())?;
//! let slots = Arc::new(Slots::new(Arc::new(engine.load(DEFAULT_POLICY)?)));
//! let state = Arc::new(SharedState::new());
//! let gate = Gate::new(slots.clone(), state.clone(), GateConfig::default());
//!
//! let app: Router = Router::new()
//!     .route("/todos", get(|| async { "[]" }))
//!     .route_layer(gate.layer())                      // decides...
//!     .route_layer(middleware::from_fn(identify));    // ...after this ran
//!
//! let get_todos = || Request::get("/todos").header("x-user", "alice").body(Body::empty()).unwrap();
//! let resp = app.clone().oneshot(get_todos()).await?;
//! assert_eq!(resp.status(), 200);
//! assert!(resp.headers()["x-drydock-policy"].to_str()?.starts_with("cloudify-default@"));
//!
//! // Maintenance: the default policy refuses `todos` (not on its allow-list) with 503.
//! state.set_state(MaintenanceState::Activated);
//! let resp = app.clone().oneshot(get_todos()).await?;
//! assert_eq!(resp.status(), 503);
//!
//! // Swap the policy live: loading is the slow part, do it off the request path.
//! let strict = Arc::new(engine.load(STRICT_POLICY)?);
//! slots.set_active(strict);
//! let resp = app.oneshot(get_todos()).await?;
//! assert!(resp.headers()["x-drydock-policy"].to_str()?.starts_with("cloudify-strict@"));
//! assert!(resp.headers().contains_key("retry-after"));
//! # Ok(())
//! # }
//! ```
//!
//! `host/gate/examples/todo.rs` is a complete program built this way, watching a
//! policy file and swapping it live:
//! `cargo run --release -p drydock-gate --example todo -- --policy my-policy.wasm`.

mod admission;
mod config;
mod label;
mod layer;
mod memo;
pub mod metrics;
mod state;

pub use admission::{Admission, AdmissionTicket, Ticket};
pub use config::{FailMode, Floor, GateConfig, Refusal, json_refusal};
pub use layer::{Answered, DECISION_HEADER, Gate, GateFuture, GateLayer, GateService, Observer, Origin, RequestAttributes};
pub use state::{SharedState, StateSource};

/// The engine the gate runs policies on, and the plain types it shares with it.
pub use drydock_engine as engine;
pub use drydock_engine::{
    Caller, CallerView, Decision, Denial, ExecutionCounts, ExecutionStatus, MaintenanceState, Published, RequestDescriptor,
    RequestView, Role, Snapshot,
};

/// The header that names the policy version behind a response.
pub const POLICY_HEADER: &str = "x-drydock-policy";
/// The header by which a sys_admin skips the maintenance check.
pub const BYPASS_HEADER: &str = "x-bypass-maintenance";
/// The value of [`POLICY_HEADER`] when the floor admitted without asking.
pub const FLOOR_LABEL: &str = "host-floor";
