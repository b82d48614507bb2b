//! The REST API: thin axum handlers per resource, Cloudify's paths and shapes.

pub mod access_log;
pub mod decisions;
pub mod deployments;
pub mod error;
pub mod events;
pub mod executions;
pub mod json;
pub mod limits;
pub mod maintenance;
pub mod openapi;
mod parent;
pub mod policies;
pub mod schema;
pub mod status;
pub mod tenancy;
pub mod tenants;
pub mod users;
pub mod watchers;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::middleware::from_fn_with_state;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use http::request::Parts;

use crate::auth::{Authenticator, identify, require_caller};
use drydock_engine::{Engine, Slots};
use crate::error::Error;
use axum::response::IntoResponse;
use drydock_gate::{Admission, AdmissionTicket, Caller, FailMode, Gate, GateConfig};
use crate::manager::Manager;
pub use crate::manager::blocking;

/// The API version prefix the real client uses by default.
pub const API_PREFIX: &str = "/api/v3.1";
/// First path segments a sys_admin always reaches, whatever the policy says, so a
/// broken policy can always be rolled back (and its decisions read: why was this
/// refused, by which version).
pub const ADMIN_FLOOR: &[&str] = &["maintenance", "policies", "decisions"];

/// The gate as the server configures it: Cloudify's API prefix, the admin floor, and
/// refusals in the reference's error shape. `drydock policy test` evaluates under the
/// same, so a case behaves the same offline as in the server.
pub fn gate_config(fail_mode: FailMode) -> GateConfig {
    GateConfig::default()
        .with_prefix(API_PREFIX)
        .with_admin_floor(ADMIN_FLOOR)
        .with_refusal(|denial| Error::Denied(denial.clone()).into_response())
        .with_fail_mode(fail_mode)
}

/// Largest JSON body the API accepts.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler can reach.
pub struct App {
    pub manager: Arc<Manager>,
    pub engine: Engine,
    pub slots: Arc<Slots>,
    /// Policy versions: upload, activate, roll back, shadow (it swaps `slots`).
    pub policies: Arc<crate::registry::Registry>,
    pub started: Instant,
    /// The database, for `status`: the SQLite file, or `postgres://host:port/db`.
    pub database: String,
    /// Who is asking (and how many logins failed, for `/metrics`).
    pub auth: Arc<Authenticator>,
    /// The address the manager reports for itself (`managers`, `brokers`, `db-nodes`).
    pub advertised_host: String,
    /// The console's sessions and chart samples.
    pub console: crate::console::Console,
    /// How long one event stream is served before it ends (its client reconnects).
    pub event_stream_lifetime: std::time::Duration,
    /// The server speaks HTTPS: the console's cookie is `Secure`.
    pub secure_cookies: bool,
    /// The decision log, when kept.
    pub decisions: Option<Arc<crate::decisions::DecisionLog>>,
}

/// How the gate admitted this request, for the race-free rule: a write handler
/// hands it to the manager, which decides the request again if the state moved.
/// Absent on routes outside the gate.
pub struct Admitted(pub Option<Arc<dyn Admission>>);

impl Admitted {
    pub fn get(&self) -> Option<&dyn Admission> {
        self.0.as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Admitted {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let ticket = parts.extensions.get::<AdmissionTicket>();
        Ok(Admitted(ticket.map(|t| t.admission(parts))))
    }
}

pub fn require_admin(caller: &Caller, what: &str) -> Result<(), Error> {
    if caller.role.is_admin() {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "User `{}` is not permitted to {what}: it needs the sys_admin role",
            caller.username
        )))
    }
}

async fn not_found(uri: http::Uri) -> Error {
    Error::NotFound(format!("Requested URL {} was not found on this server", uri.path()))
}

async fn method_not_allowed(method: http::Method, uri: http::Uri) -> impl axum::response::IntoResponse {
    let body = self::error::ErrorBody::new(format!("Method {method} is not allowed for {}", uri.path()), "method_not_allowed_error");
    (http::StatusCode::METHOD_NOT_ALLOWED, axum::Json(body))
}

/// The route table: every route with its handlers and its description, in one
/// place. The router and the OpenAPI document ([`openapi::document`]) are both
/// built from it, so neither can have a route the other lacks.
pub struct Routes {
    /// Below [`API_PREFIX`]: credentials first, then the gate.
    pub authenticated: OpenApiRouter<Arc<App>>,
    /// Gated, without credentials (the real client probes them before logging in).
    pub public: OpenApiRouter<Arc<App>>,
    /// Neither authenticated nor gated: read in every maintenance state.
    pub unguarded: OpenApiRouter<Arc<App>>,
}

pub fn routes() -> Routes {
    let authenticated = OpenApiRouter::new()
        .routes(routes!(maintenance::get))
        .routes(routes!(maintenance::events))
        .routes(routes!(maintenance::history))
        .routes(routes!(maintenance::windows, maintenance::schedule))
        .routes(routes!(maintenance::cancel_window))
        .routes(routes!(maintenance::action))
        .routes(routes!(status::status))
        .routes(routes!(status::version))
        .routes(routes!(status::provider_context))
        .routes(routes!(status::managers))
        .routes(routes!(status::brokers))
        .routes(routes!(status::db_nodes))
        .routes(routes!(deployments::list))
        .routes(routes!(deployments::create, deployments::get, deployments::delete))
        .routes(routes!(executions::list, executions::start))
        .routes(routes!(executions::get, executions::cancel, executions::update))
        .routes(routes!(events::list))
        .routes(routes!(users::list, users::create, users::create_by_post))
        .routes(routes!(users::get, users::update, users::delete))
        .routes(routes!(tenants::list))
        .routes(routes!(tenants::add_member, tenants::update_member, tenants::remove_member))
        .routes(routes!(tenants::get, tenants::create, tenants::delete))
        .routes(routes!(policies::list, policies::upload))
        .routes(routes!(policies::active))
        .routes(routes!(policies::history))
        .routes(routes!(policies::rollback))
        .routes(routes!(policies::shadow_report, policies::shadow_stop))
        .routes(routes!(policies::get, policies::delete))
        .routes(routes!(policies::activate))
        .routes(routes!(policies::shadow_start))
        .routes(routes!(policies::add_signatures))
        .routes(routes!(decisions::replay))
        .routes(routes!(decisions::list))
        .routes(routes!(decisions::get));
    let public = OpenApiRouter::new().routes(routes!(status::unversioned)).routes(routes!(status::ok));
    let unguarded = OpenApiRouter::new()
        .routes(routes!(policies::metrics))
        .routes(routes!(openapi::serve))
        .merge(crate::console::routes());
    Routes { authenticated, public, unguarded }
}

/// The full route template the server would match for `path` (e.g.
/// `/api/v3.1/executions/42` → `/api/v3.1/executions/{id}`), if any.
pub fn route_template(path: &str) -> Option<String> {
    static TABLE: std::sync::OnceLock<matchit::Router<String>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let Routes { authenticated, public, .. } = routes();
        let mut t = matchit::Router::new();
        for doc in [authenticated.into_openapi(), public.into_openapi()] {
            for path in doc.paths.paths.keys() {
                t.insert(path.clone(), path.clone()).expect("route table");
            }
        }
        t
    });
    table.at(path).ok().map(|m| m.value.clone())
}

/// The whole API. Authentication runs first, then the gate, then the handler;
/// unrouted paths never reach either (404, not a maintenance 503).
pub fn router(app: Arc<App>, gate: &Gate) -> Router {
    let auth = app.auth.clone();
    let Routes { authenticated, public, unguarded } = routes();
    let authenticated = Router::from(authenticated)
        .route_layer(gate.layer())
        .route_layer(axum::middleware::from_fn(require_caller));
    let public = Router::from(public).route_layer(gate.layer());
    // The console's callers are known by its session, checked before any body.
    let unguarded = Router::from(unguarded)
        .route_layer(from_fn_with_state(app.clone(), crate::console::guard_bodies));
    authenticated
        .merge(public)
        .merge(unguarded)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Outermost last: the in-flight cap, the header size, then the request
        // timeout around everything below, authentication before any body is read,
        // and only then the (small) body.
        .layer(axum::middleware::from_fn(limits::read_small_bodies))
        .layer(axum::middleware::from_fn(access_log::access_log))
        // After authentication (it needs the caller), before the gate (it adds what
        // the policy sees).
        .layer(from_fn_with_state(app.clone(), parent::verify))
        // After authentication: the request's tenant and the caller's role there,
        // for the handlers and the policy (and the parent check).
        .layer(axum::middleware::from_fn(tenancy::attach))
        .layer(from_fn_with_state(auth, identify))
        .layer(axum::middleware::from_fn(limits::timeout))
        .layer(axum::middleware::from_fn(limits::header_size))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(limits::MAX_IN_FLIGHT))
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::route_template;

    #[test]
    fn paths_resolve_to_the_routes_the_server_matches() {
        assert_eq!(route_template("/api/v3.1/executions/42").as_deref(), Some("/api/v3.1/executions/{id}"));
        assert_eq!(route_template("/api/v3.1/executions").as_deref(), Some("/api/v3.1/executions"));
        assert_eq!(route_template("/api/version").as_deref(), Some("/api/version"));
        assert_eq!(route_template("/api/v3.1/snapshots/x"), None);
    }
}
