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

#[derive(Deserialize)]
pub struct StartBody {
    deployment_id: Option<String>,
    workflow_id: String,
    #[serde(default)]
    parameters: Option<Value>,
    #[serde(default)]
    is_system_workflow: Option<Value>,
}

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

pub async fn get(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Value>> {
    Ok(Json(execution_json(&blocking(move || app.manager.execution(&id)).await?)))
}

#[derive(Deserialize)]
pub struct ActionBody {
    action: String,
}

/// `POST /executions/{id}` with `{"action": "cancel" | "force-cancel" | "kill"}`.
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

#[derive(Deserialize)]
pub struct StatusBody {
    status: String,
    #[serde(default)]
    error: Option<String>,
}

/// `PATCH /executions/{id}` with `{"status": ...}`: how a worker reports progress.
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
