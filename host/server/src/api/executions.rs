//! `/executions`: start, list, get, cancel, and worker status reports.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::{JsonBody, QueryPairs, list_response, loose_bool, object_or_empty};
use super::{Admitted, App, Tenant, blocking};
use crate::error::{Error, Result};
use drydock_engine::{CancelKind, ExecutionStatus};
use drydock_gate::Caller;
use crate::manager::NewExecution;
use crate::store::Execution;

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
        "visibility": "tenant",
        "private_resource": false,
        "resource_availability": "tenant",
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
        (status = 400, description = "A bad body, or a bad or unusable parent execution", body = super::schema::ErrorBody),
        (status = 403, description = "The parent execution is another user's", body = super::schema::ErrorBody),
        (status = 404, description = "No such deployment", body = super::schema::ErrorBody)
    )
)]
pub async fn start(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    admitted: Admitted,
    tenant: Tenant,
    JsonBody(body): JsonBody<StartBody>,
) -> Result<(StatusCode, Json<Value>)> {
    if body.workflow_id.trim().is_empty() {
        return Err(Error::BadRequest("`workflow_id` must not be empty".into()));
    }
    let parameters = object_or_empty(body.parameters, "parameters")?;
    let new = NewExecution {
        deployment_id: body.deployment_id.filter(|d| !d.is_empty()),
        workflow_id: body.workflow_id,
        parameters,
        is_system_workflow: loose_bool(body.is_system_workflow.as_ref())?,
        created_by: caller.username.clone(),
        tenant_name: tenant.0,
    };
    let exec = blocking(move || app.manager.create_execution(new, admitted.get())).await?;
    Ok((StatusCode::CREATED, Json(execution_json(&exec))))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/executions",
    tag = "executions",
    summary = "List executions",
    params(super::schema::PageQuery, super::schema::ExecutionSort, super::schema::ExecutionFilter),
    responses(
        (status = 200, description = "OK", body = super::schema::ExecutionList),
        (status = 400, description = "Bad paging parameters or an unknown status", body = super::schema::ErrorBody)
    )
)]
pub async fn list(State(app): State<Arc<App>>, q: QueryPairs) -> Result<Json<Value>> {
    let page = q.page(SORTABLE)?;
    let statuses = q
        .all("status")
        .map(|s| ExecutionStatus::parse(s).ok_or_else(|| Error::BadRequest(format!("unknown execution status `{s}`"))))
        .collect::<Result<Vec<_>>>()?;
    let deployment = q.get("deployment_id").map(str::to_owned);
    let (items, total) = {
        let page = page.clone();
        blocking(move || app.manager.executions(deployment.as_deref(), &statuses, &page)).await?
    };
    Ok(Json(list_response(items.iter().map(execution_json).collect(), total, &page)))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/executions/{id}",
    tag = "executions",
    summary = "One execution",
    params(("id" = String, Path, description = "The execution's id")),
    responses(
        (status = 200, description = "OK", body = super::schema::Execution),
        (status = 404, description = "No such execution", body = super::schema::ErrorBody)
    )
)]
pub async fn get(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Value>> {
    Ok(Json(execution_json(&blocking(move || app.manager.execution(&id)).await?)))
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
    params(("id" = String, Path, description = "The execution's id")),
    request_body = ActionBody,
    responses(
        (status = 200, description = "The execution, being cancelled", body = super::schema::Execution),
        (status = 400, description = "Unknown action, or the execution has ended", body = super::schema::ErrorBody),
        (status = 404, description = "No such execution", body = super::schema::ErrorBody)
    )
)]
pub async fn cancel(
    State(app): State<Arc<App>>,
    admitted: Admitted,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ActionBody>,
) -> Result<Json<Value>> {
    let kind = CancelKind::parse(&body.action).ok_or_else(|| {
        Error::BadRequest(format!(
            "Invalid action: {}, Valid action values are: ['cancel', 'force-cancel', 'kill']",
            body.action
        ))
    })?;
    Ok(Json(execution_json(&blocking(move || app.manager.cancel_execution(&id, kind, admitted.get())).await?)))
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
    params(("id" = String, Path, description = "The execution's id")),
    request_body = StatusBody,
    responses(
        (status = 200, description = "Updated", body = super::schema::Execution),
        (status = 400, description = "Unknown status, or a transition the lifecycle does not allow", body = super::schema::ErrorBody),
        (status = 404, description = "No such execution", body = super::schema::ErrorBody)
    )
)]
pub async fn update(
    State(app): State<Arc<App>>,
    admitted: Admitted,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<StatusBody>,
) -> Result<Json<Value>> {
    let to = ExecutionStatus::parse(&body.status)
        .ok_or_else(|| Error::BadRequest(format!("unknown execution status `{}`", body.status)))?;
    let exec = blocking(move || app.manager.set_execution_status(&id, to, body.error.as_deref(), admitted.get())).await?;
    Ok(Json(execution_json(&exec)))
}
