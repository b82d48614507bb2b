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
use crate::store::DEFAULT_TENANT;

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
    let manager = app.manager.clone();
    let lookup = id.clone();
    let parent = match blocking(move || manager.execution(&lookup, None)).await {
        Ok(e) => e,
        Err(Error::NotFound(_)) => {
            return Error::BadRequest(format!("`{PARENT_HEADER}`: there is no execution `{id}`")).into_response();
        }
        Err(e) => return e.into_response(),
    };
    // Another tenant's execution is no parent here (and is not named as existing).
    let tenant = req.extensions().get::<TenantRequest>().map(|t| t.name.as_str()).unwrap_or(DEFAULT_TENANT);
    if parent.tenant_name != tenant {
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
    let attribute = (PARENT_ATTRIBUTE.to_string(), id);
    match req.extensions_mut().get_mut::<RequestAttributes>() {
        Some(existing) => existing.0.push(attribute),
        None => {
            req.extensions_mut().insert(RequestAttributes(vec![attribute]));
        }
    }
    next.run(req).await
}
