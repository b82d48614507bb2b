//! The request's tenant: which tenant a request acts in (its `Tenant` header), the
//! caller's role there, and what that role may do — Cloudify's default permissions
//! for deployments, executions and events.
//!
//! [`attach`] runs for every request once its caller is known: it notes the tenant
//! and role, and hands both to the policy as the `tenant` and `tenant-role`
//! attributes (so a policy may, say, let one tenant's operations through while
//! activating). It refuses nothing: only the routes that act in a tenant ask
//! [`Tenancy::permit`], which answers Cloudify's 403s. Elsewhere (maintenance,
//! policies, users, tenants) the header means nothing, so a profile naming a
//! deleted tenant cannot lock an admin out of `/maintenance*` and `/policies*`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::middleware::Next;
use axum::response::Response;
use drydock_gate::{Caller, RequestAttributes};
use http::request::Parts;

use super::{App, blocking};
use crate::auth::Memberships;
use crate::error::{Error, Result};
use crate::store::{DEFAULT_TENANT, Scope, TenantRole};

/// Longest tenant name (Cloudify's limit on names).
pub const MAX_TENANT_NAME: usize = 256;
/// The attributes the policy sees.
pub const TENANT_ATTRIBUTE: &str = "tenant";
pub const TENANT_ROLE_ATTRIBUTE: &str = "tenant-role";

/// What a request may do in a tenant (Cloudify's permission names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    DeploymentList,
    DeploymentGet,
    DeploymentCreate,
    DeploymentDelete,
    ExecutionList,
    ExecutionGet,
    ExecutionStart,
    ExecutionCancel,
    ExecutionStatusUpdate,
    EventList,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::DeploymentList => "deployment_list",
            Action::DeploymentGet => "deployment_get",
            Action::DeploymentCreate => "deployment_create",
            Action::DeploymentDelete => "deployment_delete",
            Action::ExecutionList => "execution_list",
            Action::ExecutionGet => "execution_get",
            Action::ExecutionStart => "execution_start",
            Action::ExecutionCancel => "execution_cancel",
            Action::ExecutionStatusUpdate => "execution_status_update",
            Action::EventList => "event_list",
        }
    }

    /// Cloudify's defaults: a viewer reads; user, operations and manager also change.
    pub fn allowed(self, role: TenantRole) -> bool {
        let reads = matches!(self, Action::DeploymentList | Action::DeploymentGet | Action::ExecutionList | Action::ExecutionGet | Action::EventList);
        reads || role != TenantRole::Viewer
    }
}

/// The tenant a request names and the caller's role there (none: not a member).
#[derive(Debug, Clone)]
pub struct TenantRequest {
    pub name: String,
    pub role: Option<TenantRole>,
}

/// Middleware, after authentication and before the gate: note the request's tenant
/// and the caller's role there, for the handlers and for the policy.
pub async fn attach(mut req: Request<Body>, next: Next) -> Response {
    if req.extensions().get::<Caller>().is_none() {
        return next.run(req).await;
    }
    let name = match req.headers().get("tenant").map(|v| v.to_str().map(str::trim)) {
        None => DEFAULT_TENANT.to_string(),
        Some(Ok("")) => DEFAULT_TENANT.to_string(),
        Some(Ok(name)) => name.to_string(),
        // Not text: names no tenant (`permit` says so).
        Some(Err(_)) => String::from_utf8_lossy(req.headers()["tenant"].as_bytes()).into_owned(),
    };
    let role = req.extensions().get::<Arc<Memberships>>().and_then(|m| m.0.get(&name).copied());
    if name.len() <= MAX_TENANT_NAME {
        let attributes = [
            (TENANT_ATTRIBUTE.to_string(), name.clone()),
            (TENANT_ROLE_ATTRIBUTE.to_string(), role.map(|r| r.as_str().to_string()).unwrap_or_default()),
        ];
        RequestAttributes::append(req.extensions_mut(), attributes);
    }
    req.extensions_mut().insert(TenantRequest { name, role });
    next.run(req).await
}

/// A tenant that does not exist, named the way Cloudify's authorization names it.
pub fn invalid_tenant(name: &str) -> Error {
    let shown: String = name.chars().take(MAX_TENANT_NAME).collect();
    Error::Forbidden(format!("Authorization failed: Tried to authenticate with invalid tenant name: {shown}"))
}

/// A handler's view of the request's tenant: [`Tenancy::permit`] before acting.
pub struct Tenancy {
    pub caller: Caller,
    pub tenant: TenantRequest,
}

impl<S: Send + Sync> FromRequestParts<S> for Tenancy {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let caller = parts.extensions.get::<Caller>().cloned().ok_or_else(|| Error::Unauthorized("User unauthorized: No authentication info provided".into()))?;
        let tenant = parts.extensions.get::<TenantRequest>().cloned().unwrap_or(TenantRequest { name: DEFAULT_TENANT.into(), role: None });
        Ok(Tenancy { caller, tenant })
    }
}

impl Tenancy {
    /// May the caller do `action` in the request's tenant? The scope it acts in, or
    /// Cloudify's 403: a tenant that does not exist, a caller who is not a member,
    /// or a role that may not. A sys_admin acts in any tenant that exists.
    pub async fn permit(&self, app: &Arc<App>, action: Action) -> Result<Scope> {
        let admin = self.caller.role.is_admin();
        let name = &self.tenant.name;
        let allowed = match self.tenant.role {
            Some(role) => admin || action.allowed(role),
            None => {
                // Not a member: whether the tenant exists decides the message (and,
                // for a sys_admin, whether it may act there).
                let (app, lookup) = (app.clone(), name.clone());
                let exists = name.len() <= MAX_TENANT_NAME && blocking(move || app.manager.tenant_exists(&lookup)).await?;
                if !exists {
                    return Err(invalid_tenant(name));
                }
                admin
            }
        };
        if !allowed {
            return Err(Error::Forbidden(format!(
                "User `{}` is not permitted to perform the action {} in the tenant `{name}`",
                self.caller.username,
                action.as_str()
            )));
        }
        Ok(Scope {
            tenant: name.clone(),
            username: self.caller.username.clone(),
            sees_private: admin || self.tenant.role == Some(TenantRole::Manager),
        })
    }

    /// [`Tenancy::permit`] for a list: a sys_admin asking `_all_tenants=true` lists
    /// every tenant's (`None`), as in Cloudify; anyone else lists the tenant's.
    pub async fn list_scope(&self, app: &Arc<App>, action: Action, all_tenants: bool) -> Result<Option<Scope>> {
        let scope = self.permit(app, action).await?;
        Ok(if all_tenants && self.is_admin() { None } else { Some(scope) })
    }

    /// Whether the caller is a sys_admin (whose word that an execution runs vouches for it).
    pub fn is_admin(&self) -> bool {
        self.caller.role.is_admin()
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use axum::{Extension, Router};
    use drydock_engine::Role;
    use tower::ServiceExt;

    use super::*;

    /// What the policy is told, as the handler behind `attach` sees it.
    async fn told(attributes: Option<Extension<RequestAttributes>>) -> String {
        format!("{:?}", attributes.map(|Extension(a)| a.0).unwrap_or_default())
    }

    async fn ask(caller: Option<Caller>, tenant: Option<&str>) -> String {
        let members = Arc::new(Memberships([("red".to_string(), TenantRole::Operations)].into_iter().collect()));
        let mut app = Router::new().route("/", get(told)).layer(axum::middleware::from_fn(attach)).layer(Extension(members));
        if let Some(caller) = caller {
            app = app.layer(Extension(caller));
        }
        let mut req = http::Request::builder().uri("/");
        if let Some(t) = tenant {
            req = req.header("tenant", t);
        }
        let resp = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        String::from_utf8(axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap().to_vec()).unwrap()
    }

    /// The policy is told the request's tenant and the caller's role there (empty
    /// where it is no member), so a policy can decide by them.
    #[tokio::test]
    async fn the_policy_is_told_the_tenant_and_the_callers_role_there() {
        let ann = Caller { username: "ann".into(), role: Role::User, bypass: false };
        assert_eq!(ask(Some(ann.clone()), Some("red")).await, r#"[("tenant", "red"), ("tenant-role", "operations")]"#);
        assert_eq!(ask(Some(ann.clone()), Some("blue")).await, r#"[("tenant", "blue"), ("tenant-role", "")]"#);
        assert_eq!(ask(Some(ann.clone()), None).await, r#"[("tenant", "default_tenant"), ("tenant-role", "")]"#);
        assert_eq!(ask(Some(ann), Some(&"x".repeat(300))).await, "[]", "a name no tenant can have is not passed on");
        assert_eq!(ask(None, Some("red")).await, "[]", "a stranger: nothing (the route answers 401)");
    }
}
