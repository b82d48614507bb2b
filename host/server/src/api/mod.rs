//! The REST API: thin axum handlers per resource, Cloudify's paths and shapes.

pub mod access_log;
pub mod deployments;
pub mod error;
pub mod events;
pub mod executions;
pub mod json;
pub mod limits;
pub mod maintenance;
mod parent;
pub mod policies;
pub mod status;
pub mod users;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, get, post, put};
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
/// broken policy can always be rolled back.
pub const ADMIN_FLOOR: &[&str] = &["maintenance", "policies"];

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
}

/// The `Tenant` header (the real client always sends one); `default_tenant` if absent.
pub struct Tenant(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let t = parts
            .headers
            .get("tenant")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or("default_tenant");
        Ok(Tenant(t.to_string()))
    }
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
        Ok(Admitted(ticket.map(|t| t.0.clone() as Arc<dyn Admission>)))
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
    let body = serde_json::json!({
        "message": format!("Method {method} is not allowed for {}", uri.path()),
        "error_code": "method_not_allowed_error",
        "server_traceback": null,
    });
    (http::StatusCode::METHOD_NOT_ALLOWED, axum::Json(body))
}

/// Every authenticated route, below [`API_PREFIX`]. The one list both the router and
/// [`route_template`] read, so offline policy tests resolve a path exactly as the
/// server routes it.
pub const ROUTES: &[&str] = &[
    "/maintenance",
    "/maintenance/events",
    "/maintenance/history",
    "/maintenance/windows",
    "/maintenance/windows/{id}",
    "/maintenance/{action}",
    "/status",
    "/version",
    "/provider/context",
    "/managers",
    "/brokers",
    "/db-nodes",
    "/deployments",
    "/deployments/{id}",
    "/executions",
    "/executions/{id}",
    "/events",
    "/users",
    "/users/{name}",
    "/policies",
    "/policies/active",
    "/policies/history",
    "/policies/rollback",
    "/policies/shadow",
    "/policies/{id}",
    "/policies/{id}/activate",
    "/policies/{id}/shadow",
];

/// Routes that need no credentials (full paths).
pub const PUBLIC_ROUTES: &[&str] = &["/api/version", "/api/v3.1/ok"];

fn handlers(template: &str) -> MethodRouter<Arc<App>> {
    match template {
        "/maintenance" => get(maintenance::get),
        "/maintenance/events" => get(maintenance::events),
        "/maintenance/history" => get(maintenance::history),
        "/maintenance/windows" => get(maintenance::windows).post(maintenance::schedule),
        "/maintenance/windows/{id}" => axum::routing::delete(maintenance::cancel_window),
        "/maintenance/{action}" => post(maintenance::action),
        "/status" => get(status::status),
        "/version" => get(status::version),
        "/provider/context" => get(status::provider_context),
        "/managers" => get(status::managers),
        "/brokers" => get(status::brokers),
        "/db-nodes" => get(status::db_nodes),
        "/deployments" => get(deployments::list),
        "/deployments/{id}" => put(deployments::create).get(deployments::get).delete(deployments::delete),
        "/executions" => get(executions::list).post(executions::start),
        "/executions/{id}" => get(executions::get).post(executions::cancel).patch(executions::update),
        "/events" => get(events::list),
        "/users" => get(users::list).put(users::create).post(users::create),
        "/users/{name}" => get(users::get).post(users::update).delete(users::delete),
        "/policies" => get(policies::list).post(policies::upload),
        "/policies/active" => get(policies::active),
        "/policies/history" => get(policies::history),
        "/policies/rollback" => post(policies::rollback),
        "/policies/shadow" => get(policies::shadow_report).delete(policies::shadow_stop),
        "/policies/{id}" => get(policies::get).delete(policies::delete),
        "/policies/{id}/activate" => post(policies::activate),
        "/policies/{id}/shadow" => post(policies::shadow_start),
        "/api/version" => get(status::version),
        "/api/v3.1/ok" => get(status::ok),
        other => unreachable!("route {other} has no handlers"),
    }
}

/// The full route template the server would match for `path` (e.g.
/// `/api/v3.1/executions/42` → `/api/v3.1/executions/{id}`), if any.
pub fn route_template(path: &str) -> Option<String> {
    static TABLE: std::sync::OnceLock<matchit::Router<String>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = matchit::Router::new();
        for r in ROUTES {
            let full = format!("{API_PREFIX}{r}");
            t.insert(full.clone(), full).expect("route table");
        }
        for r in PUBLIC_ROUTES {
            t.insert(*r, r.to_string()).expect("route table");
        }
        t
    });
    table.at(path).ok().map(|m| m.value.clone())
}

/// The whole API. Authentication runs first, then the gate, then the handler;
/// unrouted paths never reach either (404, not a maintenance 503).
pub fn router(app: Arc<App>, gate: &Gate) -> Router {
    let auth = app.auth.clone();
    let authenticated = ROUTES
        .iter()
        .fold(Router::new(), |r, t| r.route(&format!("{API_PREFIX}{t}"), handlers(t)))
        .route_layer(gate.layer())
        .route_layer(axum::middleware::from_fn(require_caller));
    let public = PUBLIC_ROUTES
        .iter()
        .fold(Router::new(), |r, t| r.route(t, handlers(t)))
        .route_layer(gate.layer());
    // Neither authenticated nor gated: a scraper reads it in every state.
    let unguarded = Router::new().route("/metrics", get(policies::metrics)).merge(crate::console::router());
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
