//! `/deployments`: create, get, list, delete.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::json::{JsonBody, QueryPairs, object_or_empty};
use super::tenancy::{Action, Tenancy};
use super::{Admitted, App, blocking};
use crate::error::{Error, Result};
use crate::manager::{Actor, SLEEP_WORKFLOW};
use crate::store::{Deployment, Visibility};
use crate::timestamp;

const SORTABLE: &[&str] = &["created_at", "updated_at", "id", "blueprint_id"];

// A deployment as the real client reads it, keys in the reference's order.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Deployment)]
pub struct DeploymentBody {
    pub id: String,
    pub display_name: String,
    pub blueprint_id: Option<String>,
    #[schema(value_type = Object)]
    pub inputs: Value,
    #[schema(value_type = Object)]
    pub outputs: Value,
    #[schema(value_type = Object)]
    pub capabilities: Value,
    #[schema(value_type = Option<String>)]
    pub description: Option<()>,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    pub tenant_name: String,
    pub visibility: String,
    pub private_resource: bool,
    pub resource_availability: String,
    #[schema(value_type = Option<String>)]
    pub site_name: Option<()>,
    #[schema(value_type = Vec<Object>)]
    pub labels: Vec<Value>,
    pub installation_status: String,
    pub deployment_status: String,
    #[schema(value_type = Option<String>)]
    pub latest_execution_status: Option<()>,
    pub workflows: Vec<WorkflowBody>,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Workflow)]
pub struct WorkflowBody {
    pub name: String,
    #[schema(value_type = Object)]
    pub parameters: Value,
    pub plugin: String,
}

impl From<&Deployment> for DeploymentBody {
    fn from(d: &Deployment) -> DeploymentBody {
        DeploymentBody {
            id: d.id.clone(),
            display_name: d.id.clone(),
            blueprint_id: d.blueprint_id.clone(),
            inputs: d.inputs.clone(),
            outputs: Value::Object(Default::default()),
            capabilities: Value::Object(Default::default()),
            description: None,
            created_at: d.created_at.clone(),
            updated_at: d.updated_at.clone(),
            created_by: d.created_by.clone(),
            tenant_name: d.tenant_name.clone(),
            visibility: d.visibility.as_str().into(),
            private_resource: d.visibility == Visibility::Private,
            resource_availability: d.visibility.as_str().into(),
            site_name: None,
            labels: Vec::new(),
            installation_status: "inactive".into(),
            deployment_status: "good".into(),
            latest_execution_status: None,
            workflows: vec![WorkflowBody {
                name: SLEEP_WORKFLOW.into(),
                parameters: json!({ "seconds": { "default": 10 } }),
                plugin: "drydock".into(),
            }],
        }
    }
}

super::json::list!(DeploymentList, DeploymentBody);

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
        (status = 201, description = "Created", body = DeploymentBody),
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
) -> Result<(http::StatusCode, Json<DeploymentBody>)> {
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
    Ok((http::StatusCode::CREATED, Json(DeploymentBody::from(&d))))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/deployments/{id}",
    tag = "deployments",
    summary = "One deployment",
    params(("id" = String, Path, description = "The deployment's id"), super::schema::TenantHeader),
    responses(
        (status = 200, description = "OK", body = DeploymentBody),
        (status = 403, description = "Not permitted in this tenant, or no such tenant", body = super::schema::ErrorBody),
        (status = 404, description = "No such deployment (in this tenant's reach)", body = super::schema::ErrorBody)
    )
)]
pub async fn get(State(app): State<Arc<App>>, tenancy: Tenancy, Path(id): Path<String>) -> Result<Json<DeploymentBody>> {
    let scope = tenancy.permit(&app, Action::DeploymentGet).await?;
    let d = blocking(move || app.manager.deployment(&id, Some(&scope))).await?;
    Ok(Json(DeploymentBody::from(&d)))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/deployments",
    tag = "deployments",
    summary = "List deployments",
    params(super::schema::PageQuery, super::schema::DeploymentSort, super::schema::AllTenants, super::schema::TenantHeader),
    responses(
        (status = 200, description = "OK: the tenant's deployments (and global ones)", body = DeploymentList),
        (status = 400, description = "Bad paging parameters", body = super::schema::ErrorBody),
        (status = 403, description = "Not permitted in this tenant, or no such tenant", body = super::schema::ErrorBody)
    )
)]
pub async fn list(State(app): State<Arc<App>>, tenancy: Tenancy, q: QueryPairs) -> Result<Json<DeploymentList>> {
    let page = q.page(SORTABLE)?;
    let scope = tenancy.list_scope(&app, Action::DeploymentList, q.flag("_all_tenants")?).await?;
    let (items, total) = {
        let page = page.clone();
        blocking(move || app.manager.deployments(scope.as_ref(), &page)).await?
    };
    Ok(Json(DeploymentList::new(items.iter().map(DeploymentBody::from).collect(), total, &page)))
}

#[utoipa::path(
    delete,
    path = "/api/v3.1/deployments/{id}",
    tag = "deployments",
    summary = "Delete a deployment",
    params(("id" = String, Path, description = "The deployment's id"), super::schema::TenantHeader),
    responses(
        (status = 200, description = "Deleted", body = DeploymentBody),
        (status = 400, description = "A global deployment of another tenant", body = super::schema::ErrorBody),
        (status = 403, description = "Not permitted in this tenant, or no such tenant", body = super::schema::ErrorBody),
        (status = 404, description = "No such deployment (in this tenant's reach)", body = super::schema::ErrorBody),
        (status = 409, description = "The deployment has unfinished executions", body = super::schema::ErrorBody)
    )
)]
pub async fn delete(State(app): State<Arc<App>>, admitted: Admitted, tenancy: Tenancy, Path(id): Path<String>) -> Result<Json<DeploymentBody>> {
    let scope = tenancy.permit(&app, Action::DeploymentDelete).await?;
    let d = blocking(move || app.manager.delete_deployment(&id, Actor::Request { scope: &scope, vouches: false }, admitted.get())).await?;
    Ok(Json(DeploymentBody::from(&d)))
}
