//! Child work: a request a running execution makes to start more work carries
//! `X-Drydock-Parent-Execution: ID`. The parent is verified here — it exists in the
//! request's tenant, it is running (`started`, as reported by the worker or a
//! sys_admin: its own user's word is not enough), and the caller started it or is
//! a sys_admin — and handed to
//! the policy as the `parent-execution` attribute; the default policy lets such work
//! start while activating (it is part of what activation waits for). A header that
//! does not check out is a 400, never silently ignored.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use drydock_engine::{ExecutionStatus, Role};
use drydock_gate::{Caller, RequestAttributes};

use super::tenancy::TenantRequest;
use super::{App, blocking};
use crate::error::Error;
use crate::store::{DEFAULT_TENANT, Scope, TenantRole};

pub const PARENT_HEADER: &str = "x-drydock-parent-execution";
/// The attribute the policy sees.
pub const PARENT_ATTRIBUTE: &str = "parent-execution";

fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn verify(State(app): State<Arc<App>>, mut req: Request<Body>, next: Next) -> Response {
    let Some(value) = req.headers().get(PARENT_HEADER) else { return next.run(req).await };
    // Only a new execution has a parent; elsewhere the header means nothing (and a
    // method the route lacks must still be its 405, not a 400 about the header).
    if req.method() != http::Method::POST {
        return next.run(req).await;
    }
    // Unauthenticated: the route's own check answers 401.
    let Some(caller) = req.extensions().get::<Caller>().cloned() else { return next.run(req).await };
    let id = match value.to_str() {
        Ok(id) if plausible_id(id.trim()) => id.trim().to_string(),
        _ => return Error::BadRequest(format!("`{PARENT_HEADER}` must be an execution id")).into_response(),
    };
    // Read as the caller may see it (another tenant's, or someone else's private
    // one, is not named as existing), and a parent only in the request's tenant.
    let tenant = req.extensions().get::<TenantRequest>().cloned();
    let scope = Scope {
        tenant: tenant.as_ref().map_or(DEFAULT_TENANT.to_string(), |t| t.name.clone()),
        username: caller.username.clone(),
        sees_private: caller.role == Role::SysAdmin || tenant.as_ref().is_some_and(|t| t.role == Some(TenantRole::Manager)),
    };
    let manager = app.manager.clone();
    let (lookup, seen_from) = (id.clone(), scope.clone());
    let parent = match blocking(move || manager.execution(&lookup, Some(&seen_from))).await {
        Ok(e) => e,
        Err(Error::NotFound(_)) => {
            return Error::BadRequest(format!("`{PARENT_HEADER}`: there is no execution `{id}`")).into_response();
        }
        Err(e) => return e.into_response(),
    };
    // A global execution of another tenant is seen, but is no parent here.
    if parent.tenant_name != scope.tenant {
        return Error::BadRequest(format!("`{PARENT_HEADER}`: there is no execution `{id}`")).into_response();
    }
    if parent.status != ExecutionStatus::Started {
        return Error::BadRequest(format!(
            "`{PARENT_HEADER}`: execution `{id}` is {}, not running; only a running execution starts child work",
            parent.status
        ))
        .into_response();
    }
    if caller.role != Role::SysAdmin && caller.username != parent.created_by {
        return Error::Forbidden(format!("`{PARENT_HEADER}`: execution `{id}` was not started by you")).into_response();
    }
    // A user's own report that it runs does not make it a parent: otherwise anyone
    // could mark an execution `started` and keep activation open with its children.
    if !parent.vouched {
        return Error::BadRequest(format!(
            "`{PARENT_HEADER}`: execution `{id}` was reported started by its own user, not by a worker or a sys_admin; it cannot start child work"
        ))
        .into_response();
    }
    // Beside the tenant attributes already there.
    RequestAttributes::append(req.extensions_mut(), [(PARENT_ATTRIBUTE.to_string(), id)]);
    next.run(req).await
}
