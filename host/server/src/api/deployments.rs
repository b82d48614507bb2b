//! `/deployments`: create, get, list, delete.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::{JsonBody, QueryPairs, list_response, object_or_empty};
use super::{Admitted, App, Tenant, blocking};
use crate::error::{Error, Result};
use drydock_gate::Caller;
use crate::manager::SLEEP_WORKFLOW;
use crate::store::Deployment;
use crate::timestamp;

const SORTABLE: &[&str] = &["created_at", "updated_at", "id", "blueprint_id"];

pub fn deployment_json(d: &Deployment) -> Value {
    json!({
        "id": d.id,
        "display_name": d.id,
        "blueprint_id": d.blueprint_id,
        "inputs": d.inputs,
        "outputs": {},
        "capabilities": {},
        "description": null,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "created_by": d.created_by,
        "tenant_name": d.tenant_name,
        "visibility": "tenant",
        "private_resource": false,
        "resource_availability": "tenant",
        "site_name": null,
        "labels": [],
        "installation_status": "inactive",
        "deployment_status": "good",
        "latest_execution_status": null,
        "workflows": [
            { "name": SLEEP_WORKFLOW, "parameters": { "seconds": { "default": 10 } }, "plugin": "drydock" }
        ],
    })
}

/// Ids are path segments; keep them to what a URL and a shell carry safely.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 256 && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = NewDeployment)]
pub struct CreateBody {
    #[serde(default)]
    blueprint_id: Option<String>,
    /// An object (null or absent: `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    inputs: Option<Value>,
}

#[utoipa::path(
    put,
    path = "/api/v3.1/deployments/{id}",
    tag = "deployments",
    summary = "Create a deployment",
    params(super::schema::DeploymentId, super::schema::TenantHeader),
    request_body = Option<CreateBody>,
    responses(
        (status = 201, description = "Created", body = super::schema::Deployment),
        (status = 400, description = "A bad id or inputs", body = super::schema::ErrorBody),
        (status = 409, description = "A deployment with this id exists", body = super::schema::ErrorBody)
    )
)]
pub async fn create(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    admitted: Admitted,
    tenant: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(http::StatusCode, Json<Value>)> {
    if !valid_id(&id) {
        return Err(Error::BadRequest(format!(
            "Invalid deployment id `{id}`: use letters, digits, `-`, `_`, `.` or `@` (at most 256)"
        )));
    }
    let inputs = object_or_empty(body.inputs, "inputs")?;
    let now = timestamp::now();
    let d = Deployment {
        id,
        blueprint_id: body.blueprint_id,
        inputs,
        created_at: now.clone(),
        updated_at: now,
        created_by: caller.username.clone(),
        tenant_name: tenant.0,
    };
    let d = blocking(move || app.manager.create_deployment(d, admitted.get())).await?;
    Ok((http::StatusCode::CREATED, Json(deployment_json(&d))))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/deployments/{id}",
    tag = "deployments",
    summary = "One deployment",
    params(("id" = String, Path, description = "The deployment's id")),
    responses(
        (status = 200, description = "OK", body = super::schema::Deployment),
        (status = 404, description = "No such deployment", body = super::schema::ErrorBody)
    )
)]
pub async fn get(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Value>> {
    Ok(Json(deployment_json(&blocking(move || app.manager.deployment(&id)).await?)))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/deployments",
    tag = "deployments",
    summary = "List deployments",
    params(super::schema::PageQuery, super::schema::DeploymentSort),
    responses(
        (status = 200, description = "OK", body = super::schema::DeploymentList),
        (status = 400, description = "Bad paging parameters", body = super::schema::ErrorBody)
    )
)]
pub async fn list(State(app): State<Arc<App>>, q: QueryPairs) -> Result<Json<Value>> {
    let page = q.page(SORTABLE)?;
    let (items, total) = {
        let page = page.clone();
        blocking(move || app.manager.deployments(&page)).await?
    };
    Ok(Json(list_response(items.iter().map(deployment_json).collect(), total, &page)))
}

#[utoipa::path(
    delete,
    path = "/api/v3.1/deployments/{id}",
    tag = "deployments",
    summary = "Delete a deployment",
    params(("id" = String, Path, description = "The deployment's id")),
    responses(
        (status = 200, description = "Deleted", body = super::schema::Deployment),
        (status = 404, description = "No such deployment", body = super::schema::ErrorBody),
        (status = 409, description = "The deployment has unfinished executions", body = super::schema::ErrorBody)
    )
)]
pub async fn delete(State(app): State<Arc<App>>, admitted: Admitted, Path(id): Path<String>) -> Result<Json<Value>> {
    Ok(Json(deployment_json(&blocking(move || app.manager.delete_deployment(&id, admitted.get())).await?)))
}
