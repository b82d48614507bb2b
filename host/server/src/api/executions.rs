//! `/executions`: start, list, get, cancel, and worker status reports.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::{JsonBody, QueryPairs, list_response, loose_bool, object_or_empty};
use super::tenancy::{Action, Tenancy};
use super::{Admitted, App, blocking};
use crate::error::{Error, Result};
use crate::manager::{Actor, NewExecution};
use crate::store::{Execution, Visibility};
use drydock_engine::{CancelKind, ExecutionStatus};

const SORTABLE: &[&str] = &["created_at", "started_at", "ended_at", "id", "status", "workflow_id", "deployment_id"];

/// Execution fields as the real client reads them.
pub fn execution_json(e: &Execution) -> Value {
    json!({
        "id": e.id,
        "workflow_id": e.workflow_id,
        "deployment_id": e.deployment_id,
        "blueprint_id": null,
        "status": e.status.as_str(),
        // What the real CLI shows in its status column.
        "status_display": if e.status == ExecutionStatus::Terminated { "completed" } else { e.status.as_str() },
        "error": e.error,
        "parameters": e.parameters,
        "is_system_workflow": e.is_system_workflow,
        "is_dry_run": false,
        "created_at": e.created_at,
        "started_at": e.started_at,
        "ended_at": e.ended_at,
        "scheduled_for": null,
        "created_by": e.created_by,
        "tenant_name": e.tenant_name,
        "visibility": e.visibility.as_str(),
        "private_resource": e.visibility == Visibility::Private,
        "resource_availability": e.visibility.as_str(),
        "total_operations": 0,
        "finished_operations": 0,
        "execution_group_id": null,
        "allow_custom_parameters": false,
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = NewExecution)]
pub struct StartBody {
    deployment_id: Option<String>,
    /// Not blank. `sleep` runs on drydock's own worker.
    #[schema(pattern = "\\S")]
    workflow_id: String,
    /// An object (null or absent: `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    parameters: Option<Value>,
    #[serde(default)]
    #[schema(schema_with = super::schema::loose_bool)]
    is_system_workflow: Option<Value>,
}

#[utoipa::path(
    post,
    path = "/api/v3.1/executions",
    tag = "executions",
    summary = "Start an execution",
    params(super::schema::TenantHeader, super::schema::ParentHeader),
    request_body = StartBody,
    responses(
        (status = 201, description = "Started", body = super::schema::Execution),
        (status = 400, description = "A bad body, a bad or unusable parent execution, or a global deployment of another tenant", body = super::schema::ErrorBody),
        (status = 403, description = "Not permitted in this tenant (or no such tenant), or the parent execution is another user's", body = super::schema::ErrorBody),
        (status = 404, description = "No such deployment (in this tenant's reach)", body = super::schema::ErrorBody)
    )
)]
pub async fn start(
    State(app): State<Arc<App>>,
    admitted: Admitted,
    tenancy: Tenancy,
    JsonBody(body): JsonBody<StartBody>,
) -> Result<(StatusCode, Json<Value>)> {
    let scope = tenancy.permit(&app, Action::ExecutionStart).await?;
    if body.workflow_id.trim().is_empty() {
        return Err(Error::BadRequest("`workflow_id` must not be empty".into()));
    }
    let parameters = object_or_empty(body.parameters, "parameters")?;
    let new = NewExecution {
        deployment_id: body.deployment_id.filter(|d| !d.is_empty()),
        workflow_id: body.workflow_id,
        parameters,
        is_system_workflow: loose_bool(body.is_system_workflow.as_ref())?,
        created_by: scope.username.clone(),
        tenant_name: scope.tenant.clone(),
    };
    let exec = blocking(move || app.manager.create_execution(new, Actor::Request { scope: &scope, vouches: false }, admitted.get())).await?;
    Ok((StatusCode::CREATED, Json(execution_json(&exec))))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/executions",
    tag = "executions",
    summary = "List executions",
    params(super::schema::PageQuery, super::schema::ExecutionSort, super::schema::ExecutionFilter, super::schema::TenantHeader),
    responses(
        (status = 200, description = "OK: the tenant's executions (and global ones)", body = super::schema::ExecutionList),
        (status = 400, description = "Bad paging parameters or an unknown status", body = super::schema::ErrorBody),
        (status = 403, description = "Not permitted in this tenant, or no such tenant", body = super::schema::ErrorBody)
    )
)]
pub async fn list(State(app): State<Arc<App>>, tenancy: Tenancy, q: QueryPairs) -> Result<Json<Value>> {
    let page = q.page(SORTABLE)?;
    let statuses = q
        .all("status")
        .map(|s| ExecutionStatus::parse(s).ok_or_else(|| Error::BadRequest(format!("unknown execution status `{s}`"))))
        .collect::<Result<Vec<_>>>()?;
    let deployment = q.get("deployment_id").map(str::to_owned);
    let scope = tenancy.permit(&app, Action::ExecutionList).await?;
    let (items, total) = {
        let page = page.clone();
        blocking(move || app.manager.executions(Some(&scope), deployment.as_deref(), &statuses, &page)).await?
    };
    Ok(Json(list_response(items.iter().map(execution_json).collect(), total, &page)))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/executions/{id}",
    tag = "executions",
    summary = "One execution",
    params(("id" = String, Path, description = "The execution's id"), super::schema::TenantHeader),
    responses(
        (status = 200, description = "OK", body = super::schema::Execution),
        (status = 403, description = "Not permitted in this tenant, or no such tenant", body = super::schema::ErrorBody),
        (status = 404, description = "No such execution (in this tenant's reach)", body = super::schema::ErrorBody)
    )
)]
pub async fn get(State(app): State<Arc<App>>, tenancy: Tenancy, Path(id): Path<String>) -> Result<Json<Value>> {
    let scope = tenancy.permit(&app, Action::ExecutionGet).await?;
    Ok(Json(execution_json(&blocking(move || app.manager.execution(&id, Some(&scope))).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = ExecutionAction)]
pub struct ActionBody {
    #[schema(value_type = super::schema::CancelAction)]
    action: String,
}

/// `POST /executions/{id}` with `{"action": "cancel" | "force-cancel" | "kill"}`.
#[utoipa::path(
    post,
    path = "/api/v3.1/executions/{id}",
    tag = "executions",
    summary = "Cancel, force-cancel or kill an execution",
    params(("id" = String, Path, description = "The execution's id"), super::schema::TenantHeader),
    request_body = ActionBody,
    responses(
        (status = 200, description = "The execution, being cancelled", body = super::schema::Execution),
        (status = 400, description = "Unknown action, the execution has ended, or it is another tenant's global one", body = super::schema::ErrorBody),
        (status = 403, description = "Not permitted in this tenant, or no such tenant", body = super::schema::ErrorBody),
        (status = 404, description = "No such execution (in this tenant's reach)", body = super::schema::ErrorBody)
    )
)]
pub async fn cancel(
    State(app): State<Arc<App>>,
    admitted: Admitted,
    tenancy: Tenancy,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ActionBody>,
) -> Result<Json<Value>> {
    let scope = tenancy.permit(&app, Action::ExecutionCancel).await?;
    let kind = CancelKind::parse(&body.action).ok_or_else(|| {
        Error::BadRequest(format!(
            "Invalid action: {}, Valid action values are: ['cancel', 'force-cancel', 'kill']",
            body.action
        ))
    })?;
    let exec = blocking(move || app.manager.cancel_execution(&id, kind, Actor::Request { scope: &scope, vouches: false }, admitted.get())).await?;
    Ok(Json(execution_json(&exec)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = ExecutionReport)]
pub struct StatusBody {
    #[schema(value_type = super::schema::ExecutionStatus)]
    status: String,
    #[serde(default)]
    error: Option<String>,
}

/// `PATCH /executions/{id}` with `{"status": ...}`: how a worker reports progress.
#[utoipa::path(
    patch,
    path = "/api/v3.1/executions/{id}",
    tag = "executions",
    summary = "Report an execution's progress (a worker)",
    params(("id" = String, Path, description = "The execution's id"), super::schema::TenantHeader),
    request_body = StatusBody,
    responses(
        (status = 200, description = "Updated", body = super::schema::Execution),
        (status = 400, description = "Unknown status, a transition the lifecycle does not allow, or another tenant's global execution", body = super::schema::ErrorBody),
        (status = 403, description = "Not permitted in this tenant, or no such tenant", body = super::schema::ErrorBody),
        (status = 404, description = "No such execution (in this tenant's reach)", body = super::schema::ErrorBody)
    )
)]
pub async fn update(
    State(app): State<Arc<App>>,
    admitted: Admitted,
    tenancy: Tenancy,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<StatusBody>,
) -> Result<Json<Value>> {
    let scope = tenancy.permit(&app, Action::ExecutionStatusUpdate).await?;
    let to = ExecutionStatus::parse(&body.status)
        .ok_or_else(|| Error::BadRequest(format!("unknown execution status `{}`", body.status)))?;
    // A sys_admin's word that it runs makes it a parent of child work; a user's does not.
    let vouches = tenancy.is_admin();
    let exec = blocking(move || {
        let actor = Actor::Request { scope: &scope, vouches };
        app.manager.set_execution_status(&id, to, body.error.as_deref(), actor, admitted.get())
    })
    .await?;
    Ok(Json(execution_json(&exec)))
}
