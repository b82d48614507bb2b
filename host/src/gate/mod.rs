//! The gate: builds a request descriptor, asks the active policy, admits or refuses.
//!
//! It is a tower layer, so the server and any embedding axum application put it in
//! front of their routes the same way. It needs two things from its host: the policy
//! slots (which component decides) and a [`StateSource`] (what state it decides under).
//!
//! # Embedding it in your own axum application
//!
//! 1. Build an [`Engine`](crate::engine::Engine) with [`Limits`](crate::engine::Limits)
//!    and load a policy component once (validation, compilation and a smoke test
//!    happen here, never on the request path). Put it in
//!    [`Slots`](crate::engine::Slots): replacing it later is one atomic store.
//! 2. Give the gate a [`StateSource`]: [`SharedState`] is a ready one, or implement
//!    the trait over your own state (it is called once per request; keep it a
//!    pointer load).
//! 3. Describe your routes with a [`GateConfig`]: `api_prefix` is stripped from
//!    paths and route templates before the policy sees them (`""` for none), and
//!    `admin_floor` names the first path segments a `sys_admin` always reaches.
//! 4. Add [`Gate::layer`] with `route_layer`, so the policy sees the matched route
//!    template (`todos/{id}`), not only the concrete path.
//! 5. Tell the gate who is calling: insert a [`Caller`] into the request extensions
//!    in a middleware that runs before the gate (your authentication). Without one
//!    the caller is anonymous (role `anonymous`). The gate fills in
//!    [`Caller::bypass`] itself from the `X-Bypass-Maintenance` header.
//!
//! Every response the policy decided carries `X-Drydock-Policy: name@version#sha`;
//! a refusal is a JSON body `{"message", "error_code", "server_traceback"}` with the
//! policy's status (and `Retry-After` when it gives one).
//!
//! ```
//! use std::sync::Arc;
//!
//! use axum::{Router, body::Body, extract::Request, middleware::{self, Next}, routing::get};
//! use drydock::engine::{DEFAULT_POLICY, Engine, Limits, Slots};
//! use drydock::gate::{Caller, Gate, GateConfig, Role, SharedState};
//! use drydock::maintenance::MaintenanceState;
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
//! let strict = Arc::new(engine.load(drydock::engine::STRICT_POLICY)?);
//! slots.set_active(strict);
//! let resp = app.oneshot(get_todos()).await?;
//! assert!(resp.headers()["x-drydock-policy"].to_str()?.starts_with("cloudify-strict@"));
//! assert!(resp.headers().contains_key("retry-after"));
//! # Ok(())
//! # }
//! ```
//!
//! `host/examples/todo.rs` is a complete program built this way, watching a policy
//! file and swapping it live.

pub mod descriptor;
pub mod layer;
mod memo;
mod state;

use std::sync::Arc;

pub use descriptor::{
    Caller, Decision, Denial, ExecutionCounts, Published, RequestDescriptor, Role, Snapshot,
};
pub use layer::{Gate, GateLayer, GateService, Observer};
pub use state::SharedState;

/// Where the gate reads the state it decides under. Called once per request: make it
/// cheap (the server's is a lock-free pointer load).
///
/// [`SharedState`] is a ready implementation. Your own only has to hand out an
/// immutable, versioned [`Published`] snapshot; bump the version on every change
/// (the server decides a write again when the version moved under it).
///
/// ```
/// use std::sync::Arc;
/// use drydock::gate::{ExecutionCounts, Published, Snapshot, StateSource};
/// use drydock::maintenance::MaintenanceState;
///
/// /// Never in maintenance: the policy still sees every request.
/// struct AlwaysOpen(Arc<Published>);
///
/// impl StateSource for AlwaysOpen {
///     fn current(&self) -> Arc<Published> {
///         self.0.clone()
///     }
/// }
///
/// let open = AlwaysOpen(Arc::new(Published {
///     version: 1,
///     snapshot: Snapshot { state: MaintenanceState::Deactivated, executions: ExecutionCounts::default() },
/// }));
/// assert_eq!(open.current().version, 1);
/// ```
pub trait StateSource: Send + Sync + 'static {
    /// The state to decide the current request under.
    fn current(&self) -> Arc<Published>;
}

/// How a write was admitted: the snapshot version the gate decided under, and a way
/// to decide the same request again should the state have moved since.
pub trait Admission: Send + Sync {
    fn version(&self) -> u64;
    fn decide_again(&self, snapshot: &Snapshot) -> Decision;
}

/// What the host does when the policy cannot decide (trap, deadline, garbage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailMode {
    /// Refuse with 503 `policy_error` (the default).
    #[default]
    Closed,
    /// Admit, for operators who prefer availability.
    Open,
}

impl FailMode {
    /// `closed` or `open`, as on the command line.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "closed" => Some(Self::Closed),
            "open" => Some(Self::Open),
            _ => None,
        }
    }
}

/// How the gate turns a request into a descriptor, and what it never refuses.
///
/// The [`Default`] suits an embedding application: no prefix, no admin floor, fail
/// closed. With a prefix, `/v1/todos/{id}` reaches the policy as route `todos/{id}`:
///
/// ```
/// use drydock::gate::{FailMode, GateConfig};
///
/// let config = GateConfig {
///     api_prefix: "/v1".into(),
///     // A sys_admin always reaches /v1/admin/..., whatever the policy says.
///     admin_floor: vec!["admin".into()],
///     fail_mode: FailMode::Closed,
/// };
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
pub struct GateConfig {
    /// The prefix stripped from paths and route templates, e.g. `/api/v3.1`.
    pub api_prefix: String,
    /// First path segments that a sys_admin always reaches, whatever the policy says,
    /// so a bad policy can always be replaced.
    pub admin_floor: Vec<String>,
    /// What to do when the policy cannot decide (trap, deadline, garbage answer).
    pub fail_mode: FailMode,
}

impl GateConfig {
    /// Whether the admin floor admits `desc` without asking the policy.
    pub fn on_floor(&self, desc: &RequestDescriptor) -> bool {
        desc.caller.role.is_admin() && self.admin_floor.iter().any(|s| *s == desc.first_segment)
    }

    /// The server's own configuration (also what `drydock policy test` evaluates
    /// under, so a case behaves the same offline as in the server).
    pub fn server(fail_mode: FailMode) -> GateConfig {
        GateConfig {
            api_prefix: crate::api::API_PREFIX.to_string(),
            admin_floor: vec!["maintenance".into(), "policies".into()],
            fail_mode,
        }
    }
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig { api_prefix: String::new(), admin_floor: Vec::new(), fail_mode: FailMode::Closed }
    }
}

/// The header that names the policy version behind a response.
pub const POLICY_HEADER: &str = "x-drydock-policy";
/// The header by which a sys_admin skips the maintenance check.
pub const BYPASS_HEADER: &str = "x-bypass-maintenance";
/// The value of [`POLICY_HEADER`] when the admin floor admitted without asking.
pub const FLOOR_LABEL: &str = "host-floor";
