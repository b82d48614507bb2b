//! `/tenants`: a sys_admin creates and deletes tenants and says who is a member with
//! which tenant role, as the real client's `tenants` calls do; anyone lists the
//! tenants they are a member of. The bodies are typed: each struct below is both
//! what is sent and its OpenAPI schema (in the reference's key order).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use drydock_gate::Caller;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::json::{JsonBody, QueryPairs};
use super::tenancy::{MAX_TENANT_NAME, invalid_tenant};
use super::{App, blocking, require_admin};
use crate::auth::Memberships;
use crate::error::{Error, Result};
use crate::store::{Page, Tenant, TenantRole};

/// A tenant as the real client reads it. Without `_get_data`, `users` and `groups`
/// are counts and `user_roles` is null; with it, they name who holds which role.
#[derive(Serialize, ToSchema)]
#[schema(as = Tenant)]
pub struct TenantBody {
    pub name: String,
    pub groups: Groups,
    pub users: Users,
    pub user_roles: Option<UserRoles>,
    /// drydock has no message broker: always null.
    #[schema(value_type = Option<String>)]
    pub rabbitmq_username: Option<()>,
    #[schema(value_type = Option<String>)]
    pub rabbitmq_password: Option<()>,
    #[schema(value_type = Option<String>)]
    pub rabbitmq_vhost: Option<()>,
}

/// User groups: drydock has none (a count of 0, or an empty map).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum Groups {
    Count(u64),
    ByName(BTreeMap<String, String>),
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum Users {
    Count(u64),
    ByName(BTreeMap<String, MemberRoles>),
}

#[derive(Serialize, ToSchema)]
pub struct MemberRoles {
    #[serde(rename = "tenant-role")]
    pub tenant_role: String,
    pub roles: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserRoles {
    pub direct: BTreeMap<String, String>,
    pub groups: BTreeMap<String, String>,
}

super::json::list!(TenantList, TenantBody);

impl TenantBody {
    pub(crate) fn of(t: &Tenant, detailed: bool) -> TenantBody {
        let (groups, users, user_roles) = match detailed {
            false => (Groups::Count(0), Users::Count(t.members.len() as u64), None),
            true => {
                let users = t
                    .members
                    .iter()
                    .map(|(u, r)| (u.clone(), MemberRoles { tenant_role: r.as_str().into(), roles: vec![r.as_str().into()] }))
                    .collect();
                let direct = t.members.iter().map(|(u, r)| (u.clone(), r.as_str().to_string())).collect();
                (Groups::ByName(BTreeMap::new()), Users::ByName(users), Some(UserRoles { direct, groups: BTreeMap::new() }))
            }
        };
        TenantBody {
            name: t.name.clone(),
            groups,
            users,
            user_roles,
            rabbitmq_username: None,
            rabbitmq_password: None,
            rabbitmq_vhost: None,
        }
    }
}

/// `_get_data=true`: members by name, a sys_admin's to ask for (as in Cloudify).
fn detailed(caller: &Caller, q: &QueryPairs) -> Result<bool> {
    let wants = q.flag("_get_data")?;
    if wants {
        require_admin(caller, "list tenants with their members (`_get_data`)")?;
    }
    Ok(wants)
}

/// Cloudify's rule for names: 1-256 letters, digits, `-`, `.`, `_`, starting with a
/// letter; `users` and `user-groups` are routes of their own.
fn valid_name(name: &str) -> Result<()> {
    let problem = if name.is_empty() {
        "is empty"
    } else if name.len() > MAX_TENANT_NAME {
        "is too long"
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) {
        "contains illegal characters"
    } else if !name.as_bytes()[0].is_ascii_alphabetic() {
        "must begin with a letter"
    } else if name == "users" || name == "user-groups" {
        "is reserved"
    } else {
        return Ok(());
    };
    Err(Error::BadRequest(format!("The `tenant_name` argument {problem}")))
}

fn tenant_role(role: &str) -> Result<TenantRole> {
    if role == "sys_admin" || role == "default" {
        return Err(Error::BadRequest(format!("Role `{role}` is a system_role and cannot be assigned as a tenant_role")));
    }
    TenantRole::parse(role)
        .ok_or_else(|| Error::BadRequest(format!("Invalid role: `{role}`. Valid tenant roles are: manager, operations, user, viewer")))
}

#[utoipa::path(get, path = "/api/v3.1/tenants", tag = "tenants", summary = "List tenants (a sys_admin sees all, anyone else their own)",
    params(super::schema::PageQuery, ("_get_data" = Option<bool>, Query, description = "Members by name (a sys_admin's)")),
    responses(
        (status = 200, description = "OK", body = TenantList),
        (status = 400, description = "Bad paging parameters, or `_get_data` not true or false", body = super::schema::ErrorBody),
        (status = 403, description = "`_get_data` by a non-admin", body = super::schema::ErrorBody)))]
pub async fn list(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    tenants: Option<Extension<Arc<Memberships>>>,
    q: QueryPairs,
) -> Result<Json<TenantList>> {
    let page = q.page(&["name"])?;
    let detailed = detailed(&caller, &q)?;
    let mut all = blocking(move || app.manager.tenants()).await?;
    if !caller.role.is_admin() {
        let mine = tenants.map(|Extension(m)| m).unwrap_or_default();
        all.retain(|t| mine.0.contains_key(&t.name));
    }
    if page.sort.is_some_and(|(_, desc)| desc) {
        all.reverse();
    }
    Ok(Json(listed(&all, detailed, &page)))
}

fn listed(all: &[Tenant], detailed: bool, page: &Page) -> TenantList {
    let items = all.iter().skip(page.offset as usize).take(page.size as usize).map(|t| TenantBody::of(t, detailed)).collect();
    TenantList::new(items, all.len() as u64, page)
}

#[utoipa::path(get, path = "/api/v3.1/tenants/{name}", tag = "tenants", summary = "One tenant (a sys_admin, or a member who is not a viewer)",
    params(("name" = String, Path, description = "The tenant"), ("_get_data" = Option<bool>, Query, description = "Members by name (a sys_admin's)")),
    responses(
        (status = 200, description = "OK", body = TenantBody),
        (status = 400, description = "`_get_data` not true or false", body = super::schema::ErrorBody),
        (status = 403, description = "No such tenant, or not permitted (Cloudify answers both 403)", body = super::schema::ErrorBody)))]
pub async fn get(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    tenants: Option<Extension<Arc<Memberships>>>,
    Path(name): Path<String>,
    q: QueryPairs,
) -> Result<Json<TenantBody>> {
    let detailed = detailed(&caller, &q)?;
    let lookup = name.clone();
    let Some(t) = blocking(move || app.manager.tenant(&lookup)).await? else {
        return Err(invalid_tenant(&name));
    };
    let role = tenants.and_then(|Extension(m)| m.0.get(&name).copied());
    let allowed = caller.role.is_admin() || role.is_some_and(|r| r != TenantRole::Viewer);
    if !allowed {
        return Err(Error::Forbidden(format!(
            "User `{}` is not permitted to perform the action tenant_get in the tenant `{name}`",
            caller.username
        )));
    }
    Ok(Json(TenantBody::of(&t, detailed)))
}

/// `POST /tenants/{name}` takes an optional `{"rabbitmq_password": ...}` (ignored).
#[derive(Deserialize, ToSchema)]
#[schema(as = NewTenant)]
pub struct CreateBody {
    #[serde(default)]
    #[allow(dead_code)]
    rabbitmq_password: Option<String>,
}

#[utoipa::path(post, path = "/api/v3.1/tenants/{name}", tag = "tenants", summary = "Create a tenant",
    params(("name" = String, Path, description = "1-256 letters, digits, `-`, `.`, `_`, starting with a letter")),
    request_body = Option<CreateBody>,
    responses(
        (status = 201, description = "Created", body = TenantBody),
        (status = 400, description = "A bad name", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 409, description = "The tenant exists", body = super::schema::ErrorBody)))]
pub async fn create(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    JsonBody(_body): JsonBody<CreateBody>,
) -> Result<(http::StatusCode, Json<TenantBody>)> {
    require_admin(&caller, "create tenants")?;
    valid_name(&name)?;
    let t = blocking(move || app.manager.create_tenant(&name)).await?;
    tracing::info!(tenant = %t.name, user = %caller.username, "tenant created");
    Ok((http::StatusCode::CREATED, Json(TenantBody::of(&t, false))))
}

#[utoipa::path(delete, path = "/api/v3.1/tenants/{name}", tag = "tenants", summary = "Delete a tenant that holds no deployment or unfinished execution",
    params(("name" = String, Path, description = "The tenant")),
    responses(
        (status = 204, description = "Deleted (its memberships and ended executions with it)"),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 404, description = "No such tenant", body = super::schema::ErrorBody),
        (status = 409, description = "The default tenant, or one that still holds deployments or unfinished executions", body = super::schema::ErrorBody)))]
pub async fn delete(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(name): Path<String>) -> Result<Response> {
    require_admin(&caller, "delete tenants")?;
    let a = app.clone();
    let t = blocking(move || a.manager.delete_tenant(&name)).await?;
    for (member, _) in &t.members {
        app.auth.forget(member);
    }
    tracing::info!(tenant = %t.name, user = %caller.username, "tenant deleted");
    Ok(http::StatusCode::NO_CONTENT.into_response())
}

/// A user's membership of a tenant.
#[derive(Deserialize, ToSchema)]
#[schema(as = TenantMember)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    tenant_name: String,
    username: String,
    /// `viewer`, `user`, `operations` or `manager`.
    #[schema(value_type = super::schema::TenantRoleName)]
    role: String,
}

/// Removing a membership names no role.
#[derive(Deserialize, ToSchema)]
#[schema(as = TenantMemberRemoval)]
#[serde(deny_unknown_fields)]
pub struct RemovalBody {
    tenant_name: String,
    username: String,
}

async fn set_member(app: Arc<App>, caller: &Caller, body: MemberBody, adding: bool) -> Result<Json<TenantBody>> {
    require_admin(caller, "change who is a member of a tenant")?;
    let role = tenant_role(&body.role)?;
    let a = app.clone();
    let (tenant, user) = (body.tenant_name, body.username);
    let who = user.clone();
    let t = blocking(move || a.manager.set_member(&tenant, &who, role, adding)).await?;
    // Its cached credentials carry its tenants: read them again at its next request.
    app.auth.forget(&user);
    tracing::info!(tenant = %t.name, member = %user, role = role.as_str(), by = %caller.username, "tenant membership set");
    Ok(Json(TenantBody::of(&t, false)))
}

#[utoipa::path(put, path = "/api/v3.1/tenants/users", tag = "tenants", summary = "Add a user to a tenant with a tenant role",
    request_body = MemberBody,
    responses(
        (status = 200, description = "The tenant", body = TenantBody),
        (status = 400, description = "A bad role", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 404, description = "No such user or tenant", body = super::schema::ErrorBody),
        (status = 409, description = "Already a member", body = super::schema::ErrorBody)))]
pub async fn add_member(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, JsonBody(body): JsonBody<MemberBody>) -> Result<Json<TenantBody>> {
    set_member(app, &caller, body, true).await
}

#[utoipa::path(patch, path = "/api/v3.1/tenants/users", tag = "tenants", summary = "Change a member's tenant role",
    request_body = MemberBody,
    responses(
        (status = 200, description = "The tenant", body = TenantBody),
        (status = 400, description = "A bad role", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 404, description = "No such user or tenant, or not a member", body = super::schema::ErrorBody)))]
pub async fn update_member(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, JsonBody(body): JsonBody<MemberBody>) -> Result<Json<TenantBody>> {
    set_member(app, &caller, body, false).await
}

#[utoipa::path(delete, path = "/api/v3.1/tenants/users", tag = "tenants", summary = "Remove a user from a tenant",
    request_body = RemovalBody,
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 404, description = "No such tenant, or not a member", body = super::schema::ErrorBody)))]
pub async fn remove_member(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, JsonBody(body): JsonBody<RemovalBody>) -> Result<Response> {
    require_admin(&caller, "change who is a member of a tenant")?;
    let a = app.clone();
    let (tenant, user) = (body.tenant_name, body.username);
    let who = user.clone();
    let t = blocking(move || a.manager.remove_member(&tenant, &who)).await?;
    app.auth.forget(&user);
    tracing::info!(tenant = %t.name, member = %user, by = %caller.username, "tenant membership removed");
    Ok(http::StatusCode::NO_CONTENT.into_response())
}
