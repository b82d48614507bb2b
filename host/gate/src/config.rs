//! How the gate turns a request into a descriptor, what it admits without asking the
//! policy (the floor), how it words a refusal, and what it does when the policy
//! cannot decide.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use drydock_engine::{Denial, RequestView};
use http::{HeaderValue, StatusCode, header};

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

/// Which requests are admitted without asking the policy, so a bad policy can always
/// be replaced. Called on every request: keep it a few comparisons.
pub type Floor = Arc<dyn Fn(&RequestView<'_>) -> bool + Send + Sync>;

/// How a denial becomes a response: the status, headers and body your API's clients
/// expect. The gate adds `X-Drydock-Policy` itself.
pub type Refusal = Arc<dyn Fn(&Denial) -> Response + Send + Sync>;

/// The default refusal: the policy's status, `Retry-After` when it gives one, and a
/// JSON body `{"message": ..., "error_code": ...}`.
pub fn json_refusal(denial: &Denial) -> Response {
    let status = StatusCode::from_u16(denial.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let body = serde_json::json!({ "message": denial.message, "error_code": denial.error_code });
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(secs) = denial.retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// How the gate describes requests, what it never refuses, and how it refuses.
///
/// The [`Default`] suits an embedding application: no prefix, no floor, the JSON
/// refusal, fail closed. With a prefix, `/v1/todos/{id}` reaches the policy as route
/// `todos/{id}`; an admin floor lets a `sys_admin` always reach `/v1/admin/...`:
///
/// ```
/// use drydock_gate::{FailMode, GateConfig};
///
/// let config = GateConfig::default()
///     .with_prefix("/v1")
///     .with_admin_floor(&["admin"])
///     .with_fail_mode(FailMode::Closed);
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct GateConfig {
    /// The prefix stripped from paths and route templates, e.g. `/api/v3.1`.
    pub api_prefix: String,
    /// What is admitted without asking the policy.
    pub floor: Floor,
    /// How a denial (the policy's, or the fail mode's) becomes a response.
    pub refusal: Refusal,
    /// What to do when the policy cannot decide (trap, deadline, garbage answer).
    pub fail_mode: FailMode,
}

impl GateConfig {
    /// Strip `prefix` from paths and route templates.
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.api_prefix = prefix.to_string();
        self
    }

    /// A `sys_admin` always reaches these first path segments (below the prefix),
    /// whatever the policy says.
    pub fn with_admin_floor(self, segments: &[&str]) -> Self {
        let segments: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
        self.with_floor(move |desc| desc.caller.role.is_admin() && segments.iter().any(|s| s == desc.first_segment))
    }

    /// Admit whatever `floor` says yes to, without asking the policy.
    pub fn with_floor(mut self, floor: impl Fn(&RequestView<'_>) -> bool + Send + Sync + 'static) -> Self {
        self.floor = Arc::new(floor);
        self
    }

    /// Word refusals with `refusal` instead of [`json_refusal`].
    pub fn with_refusal(mut self, refusal: impl Fn(&Denial) -> Response + Send + Sync + 'static) -> Self {
        self.refusal = Arc::new(refusal);
        self
    }

    pub fn with_fail_mode(mut self, fail_mode: FailMode) -> Self {
        self.fail_mode = fail_mode;
        self
    }

    /// Whether the floor admits `desc` without asking the policy.
    pub fn on_floor(&self, desc: &RequestView<'_>) -> bool {
        (self.floor)(desc)
    }

    /// The response for a denial.
    pub fn refuse(&self, denial: &Denial) -> Response {
        (self.refusal)(denial)
    }
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            api_prefix: String::new(),
            floor: Arc::new(|_| false),
            refusal: Arc::new(json_refusal),
            fail_mode: FailMode::Closed,
        }
    }
}

impl std::fmt::Debug for GateConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateConfig")
            .field("api_prefix", &self.api_prefix)
            .field("fail_mode", &self.fail_mode)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use drydock_engine::{Caller, RequestDescriptor, Role};

    use super::*;

    fn request(role: Role, path: &str) -> RequestDescriptor {
        let caller = Caller { username: "u".into(), role, bypass: false };
        RequestDescriptor::new("GET", path, path, "/v1", caller)
    }

    #[test]
    fn the_admin_floor_admits_only_admins_on_its_segments() {
        let config = GateConfig::default().with_prefix("/v1").with_admin_floor(&["admin"]);
        assert!(config.on_floor(&request(Role::SysAdmin, "/v1/admin/x").view()));
        assert!(!config.on_floor(&request(Role::User, "/v1/admin/x").view()));
        assert!(!config.on_floor(&request(Role::SysAdmin, "/v1/todos").view()));
        assert!(!GateConfig::default().on_floor(&request(Role::SysAdmin, "/v1/admin/x").view()));
    }

    #[test]
    fn the_default_refusal_is_json_with_retry_after() {
        let denial = Denial { status: 503, error_code: "closed".into(), message: "later".into(), retry_after: Some(30) };
        let resp = GateConfig::default().refuse(&denial);
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "30");
        let custom = GateConfig::default().with_refusal(|d| {
            let mut resp = Response::new(Body::from(d.message.clone()));
            *resp.status_mut() = StatusCode::IM_A_TEAPOT;
            resp
        });
        assert_eq!(custom.refuse(&denial).status(), 418);
    }
}
