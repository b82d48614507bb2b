//! `/executions`: start, list, get, cancel, and worker status reports.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::json::{JsonBody, QueryPairs, loose_bool, object_or_empty};
use super::tenancy::{Action, Tenancy};
use super::{Admitted, App, blocking};
use crate::error::{Error, Result};
use crate::manager::{Actor, NewExecution};
use crate::store::{Execution, Visibility};
use drydock_engine::{CancelKind, ExecutionStatus};

const SORTABLE: &[&str] = &["created_at", "started_at", "ended_at", "id", "status", "workflow_id", "deployment_id"];

// Execution fields as the real client reads them, keys in the reference's order.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Execution)]
pub struct ExecutionBody {
    pub id: String,
    pub workflow_id: String,
    pub deployment_id: Option<String>,
    #[schema(value_type = Option<String>)]
    pub blueprint_id: Option<()>,
    #[schema(value_type = super::schema::ExecutionStatus)]
    pub status: String,
    /// What the real CLI shows: `completed` for `terminated`, else the status.
    pub status_display: String,
    pub error: String,
    #[schema(value_type = Object)]
    pub parameters: Value,
    pub is_system_workflow: bool,
    pub is_dry_run: bool,
    pub created_at: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    #[schema(value_type = Option<String>)]
    pub scheduled_for: Option<()>,
    pub created_by: String,
    pub tenant_name: String,
    pub visibility: String,
    pub private_resource: bool,
    pub resource_availability: String,
    pub total_operations: u32,
    pub finished_operations: u32,
    #[schema(value_type = Option<String>)]
    pub execution_group_id: Option<()>,
    pub allow_custom_parameters: bool,
}

impl From<&Execution> for ExecutionBody {
    fn from(e: &Execution) -> ExecutionBody {
        ExecutionBody {
            id: e.id.clone(),
            workflow_id: e.workflow_id.clone(),
            deployment_id: e.deployment_id.clone(),
            blueprint_id: None,
            status: e.status.as_str().into(),
            // What the real CLI shows in its status column.
            status_display: if e.status == ExecutionStatus::Terminated { "completed" } else { e.status.as_str() }.into(),
            error: e.error.clone(),
            parameters: e.parameters.clone(),
            is_system_workflow: e.is_system_workflow,
            is_dry_run: false,
            created_at: e.created_at.clone(),
            started_at: e.started_at.clone(),
            ended_at: e.ended_at.clone(),
            scheduled_for: None,
            created_by: e.created_by.clone(),
            tenant_name: e.tenant_name.clone(),
            visibility: e.visibility.as_str().into(),
            private_resource: e.visibility == Visibility::Private,
            resource_availability: e.visibility.as_str().into(),
            total_operations: 0,
            finished_operations: 0,
            execution_group_id: None,
            allow_custom_parameters: false,
        }
    }
}

super::json::list!(ExecutionList, ExecutionBody);

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
        (status = 201, description = "Started", body = ExecutionBody),
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
) -> Result<(StatusCode, Json<ExecutionBody>)> {
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
    Ok((StatusCode::CREATED, Json(ExecutionBody::from(&exec))))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/executions",
    tag = "executions",
    summary = "List executions",
    params(super::schema::PageQuery, super::schema::ExecutionSort, super::schema::ExecutionFilter, super::schema::AllTenants, super::schema::TenantHeader),
    responses(
        (status = 200, description = "OK: the tenant's executions (and global ones)", body = ExecutionList),
        (status = 400, description = "Bad paging parameters or an unknown status", body = super::schema::ErrorBody),
        (status = 403, description = "Not permitted in this tenant, or no such tenant", body = super::schema::ErrorBody)
    )
)]
pub async fn list(State(app): State<Arc<App>>, tenancy: Tenancy, q: QueryPairs) -> Result<Json<ExecutionList>> {
    let page = q.page(SORTABLE)?;
    let statuses = q
        .all("status")
        .map(|s| ExecutionStatus::parse(s).ok_or_else(|| Error::BadRequest(format!("unknown execution status `{s}`"))))
        .collect::<Result<Vec<_>>>()?;
    let deployment = q.get("deployment_id").map(str::to_owned);
    let scope = tenancy.list_scope(&app, Action::ExecutionList, q.flag("_all_tenants")?).await?;
    let (items, total) = {
        let page = page.clone();
        blocking(move || app.manager.executions(scope.as_ref(), deployment.as_deref(), &statuses, &page)).await?
    };
    Ok(Json(ExecutionList::new(items.iter().map(ExecutionBody::from).collect(), total, &page)))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/executions/{id}",
    tag = "executions",
    summary = "One execution",
    params(("id" = String, Path, description = "The execution's id"), super::schema::TenantHeader),
    responses(
        (status = 200, description = "OK", body = ExecutionBody),
        (status = 403, description = "Not permitted in this tenant, or no such tenant", body = super::schema::ErrorBody),
        (status = 404, description = "No such execution (in this tenant's reach)", body = super::schema::ErrorBody)
    )
)]
pub async fn get(State(app): State<Arc<App>>, tenancy: Tenancy, Path(id): Path<String>) -> Result<Json<ExecutionBody>> {
    let scope = tenancy.permit(&app, Action::ExecutionGet).await?;
    let exec = blocking(move || app.manager.execution(&id, Some(&scope))).await?;
    Ok(Json(ExecutionBody::from(&exec)))
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
        (status = 200, description = "The execution, being cancelled", body = ExecutionBody),
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
) -> Result<Json<ExecutionBody>> {
    let scope = tenancy.permit(&app, Action::ExecutionCancel).await?;
    let kind = CancelKind::parse(&body.action).ok_or_else(|| {
        Error::BadRequest(format!(
            "Invalid action: {}, Valid action values are: ['cancel', 'force-cancel', 'kill']",
            body.action
        ))
    })?;
    let exec = blocking(move || app.manager.cancel_execution(&id, kind, Actor::Request { scope: &scope, vouches: false }, admitted.get())).await?;
    Ok(Json(ExecutionBody::from(&exec)))
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
        (status = 200, description = "Updated", body = ExecutionBody),
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
) -> Result<Json<ExecutionBody>> {
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
    Ok(Json(ExecutionBody::from(&exec)))
}
