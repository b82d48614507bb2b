//! `/deployments`: create, get, list, delete.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::{JsonBody, QueryPairs, list_response, object_or_empty};
use super::tenancy::{Action, Tenancy};
use super::{Admitted, App, blocking};
use crate::error::{Error, Result};
use crate::manager::{Actor, SLEEP_WORKFLOW};
use crate::store::{Deployment, Visibility};
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
        "visibility": d.visibility.as_str(),
        "private_resource": d.visibility == Visibility::Private,
        "resource_availability": d.visibility.as_str(),
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
    /// Who sees it besides its tenant: `private` (its creator, sys_admins, the
    /// tenant's managers), `tenant` (the default) or `global` (everyone; a sys_admin's).
    #[serde(default)]
    #[schema(value_type = Option<super::schema::VisibilityName>)]
    visibility: Option<String>,
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
        (status = 400, description = "A bad id, inputs or visibility", body = super::schema::ErrorBody),
        (status = 403, description = "Not permitted in this tenant (or no such tenant), or `global` by a non-admin", body = super::schema::ErrorBody),
        (status = 409, description = "A deployment with this id exists (in any tenant)", body = super::schema::ErrorBody)
    )
)]
pub async fn create(
    State(app): State<Arc<App>>,
    admitted: Admitted,
    tenancy: Tenancy,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(http::StatusCode, Json<Value>)> {
    let scope = tenancy.permit(&app, Action::DeploymentCreate).await?;
    let visibility = match body.visibility.as_deref() {
        None => Visibility::Tenant,
        Some(v) => Visibility::parse(v)
            .ok_or_else(|| Error::BadRequest(format!("Invalid visibility `{v}`: use private, tenant or global")))?,
    };
    if visibility == Visibility::Global && !tenancy.is_admin() {
        return Err(Error::Forbidden(format!("User `{}` is not permitted to set or create a global resource", scope.username)));
    }
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
        created_by: scope.username,
        tenant_name: scope.tenant,
        visibility,
    };
    let d = blocking(move || app.manager.create_deployment(d, admitted.get())).await?;
    Ok((http::StatusCode::CREATED, Json(deployment_json(&d))))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/deployments/{id}",
    tag = "deployments",
    summary = "One deployment",
    params(("id" = String, Path, description = "The deployment's id"), super::schema::TenantHeader),
    responses(
        (status = 200, description = "OK", body = super::schema::Deployment),
        (status = 403, description = "Not permitted in this tenant, or no such tenant", body = super::schema::ErrorBody),
        (status = 404, description = "No such deployment (in this tenant's reach)", body = super::schema::ErrorBody)
    )
)]
pub async fn get(State(app): State<Arc<App>>, tenancy: Tenancy, Path(id): Path<String>) -> Result<Json<Value>> {
    let scope = tenancy.permit(&app, Action::DeploymentGet).await?;
    Ok(Json(deployment_json(&blocking(move || app.manager.deployment(&id, Some(&scope))).await?)))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/deployments",
    tag = "deployments",
    summary = "List deployments",
    params(super::schema::PageQuery, super::schema::DeploymentSort, super::schema::TenantHeader),
    responses(
        (status = 200, description = "OK: the tenant's deployments (and global ones)", body = super::schema::DeploymentList),
        (status = 400, description = "Bad paging parameters", body = super::schema::ErrorBody),
        (status = 403, description = "Not permitted in this tenant, or no such tenant", body = super::schema::ErrorBody)
    )
)]
pub async fn list(State(app): State<Arc<App>>, tenancy: Tenancy, q: QueryPairs) -> Result<Json<Value>> {
    let page = q.page(SORTABLE)?;
    let scope = tenancy.permit(&app, Action::DeploymentList).await?;
    let (items, total) = {
        let page = page.clone();
        blocking(move || app.manager.deployments(Some(&scope), &page)).await?
    };
    Ok(Json(list_response(items.iter().map(deployment_json).collect(), total, &page)))
}

#[utoipa::path(
    delete,
    path = "/api/v3.1/deployments/{id}",
    tag = "deployments",
    summary = "Delete a deployment",
    params(("id" = String, Path, description = "The deployment's id"), super::schema::TenantHeader),
    responses(
        (status = 200, description = "Deleted", body = super::schema::Deployment),
        (status = 400, description = "A global deployment of another tenant", body = super::schema::ErrorBody),
        (status = 403, description = "Not permitted in this tenant, or no such tenant", body = super::schema::ErrorBody),
        (status = 404, description = "No such deployment (in this tenant's reach)", body = super::schema::ErrorBody),
        (status = 409, description = "The deployment has unfinished executions", body = super::schema::ErrorBody)
    )
)]
pub async fn delete(State(app): State<Arc<App>>, admitted: Admitted, tenancy: Tenancy, Path(id): Path<String>) -> Result<Json<Value>> {
    let scope = tenancy.permit(&app, Action::DeploymentDelete).await?;
    let d = blocking(move || app.manager.delete_deployment(&id, Actor::Request { scope: &scope, vouches: false }, admitted.get())).await?;
    Ok(Json(deployment_json(&d)))
}
