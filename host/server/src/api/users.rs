//! `/users`: a sys_admin creates users; anyone reads who they are.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::json::{JsonBody, QueryPairs};
use super::{Admitted, App, blocking, require_admin};
use crate::auth::hash_password;
use crate::error::{Error, Result};
use drydock_gate::{Caller, Role};
use crate::store::{TenantRole, User};
use crate::timestamp;

// A user as the real client reads it, with its tenants (`tenants`, and
// `tenant_roles.direct`, which `cfy users list` shows); keys in the reference's order.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = User)]
pub struct UserBody {
    pub username: String,
    // The real client's role names: `sys_admin` and `default`.
    #[schema(value_type = super::schema::RoleName)]
    pub role: String,
    pub created_at: String,
    pub active: bool,
    pub is_locked: bool,
    /// `{tenant: {"tenant-role": role, "roles": [role]}}`
    #[schema(value_type = Object)]
    pub tenants: Value,
    /// `{"direct": {tenant: role}, "groups": {}}`
    #[schema(value_type = Object)]
    pub tenant_roles: Value,
    pub groups: Vec<String>,
    #[schema(value_type = Option<String>)]
    pub first_login_at: Option<()>,
    #[schema(value_type = Option<String>)]
    pub last_login_at: Option<()>,
}

impl UserBody {
    /// `u`, a member of `tenants` with these roles (in this order).
    pub(crate) fn of(u: &User, tenants: &[(String, TenantRole)]) -> UserBody {
        let roles: serde_json::Map<String, Value> =
            tenants.iter().map(|(t, r)| (t.clone(), json!({"tenant-role": r.as_str(), "roles": [r.as_str()]}))).collect();
        let direct: serde_json::Map<String, Value> = tenants.iter().map(|(t, r)| (t.clone(), json!(r.as_str()))).collect();
        UserBody {
            username: u.username.clone(),
            role: if u.role.is_admin() { "sys_admin" } else { "default" }.into(),
            created_at: u.created_at.clone(),
            active: true,
            is_locked: false,
            tenants: Value::Object(roles),
            tenant_roles: json!({ "direct": direct, "groups": {} }),
            groups: Vec::new(),
            first_login_at: None,
            last_login_at: None,
        }
    }
}

super::json::list!(UserList, UserBody);

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = NewUser)]
pub struct CreateBody {
    /// 1-128 characters, not all blank, no `:` and no control characters.
    #[schema(max_length = 128, pattern = "^[^:\\x00-\\x1f\\x7f-\\x9f]*[^:\\s\\x00-\\x1f\\x7f-\\x9f][^:\\x00-\\x1f\\x7f-\\x9f]*$")]
    username: String,
    /// At least 5 characters.
    #[schema(min_length = 5)]
    password: String,
    #[serde(default)]
    #[schema(value_type = Option<super::schema::RoleRequest>)]
    role: Option<String>,
}

fn parse_role(name: &str) -> Result<Role> {
    Role::parse(name)
        .ok_or_else(|| Error::BadRequest(format!("Invalid role `{name}`: use `sys_admin` or `default` (alias `user`)")))
}

/// A new password, checked and hashed (off the runtime's workers: argon2 is slow).
async fn hashed(password: String) -> Result<String> {
    if password.chars().count() < 5 {
        return Err(Error::BadRequest("`password` must be at least 5 characters".into()));
    }
    blocking(move || Ok(hash_password(&password)?)).await
}

#[utoipa::path(put, path = "/api/v3.1/users", tag = "users", summary = "Create a user",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Created", body = UserBody),
        (status = 400, description = "A bad name, password or role", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 409, description = "The user exists", body = super::schema::ErrorBody)))]
pub async fn create(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    admitted: Admitted,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(http::StatusCode, Json<UserBody>)> {
    require_admin(&caller, "create users")?;
    let name = body.username.trim();
    if name.is_empty() || name.chars().count() > 128 || name.contains(':') || name.chars().any(char::is_control) {
        return Err(Error::BadRequest(
            "`username` must be 1-128 printable characters without `:`".into(),
        ));
    }
    let role = parse_role(body.role.as_deref().unwrap_or("default"))?;
    let hash = hashed(body.password).await?;
    let user = User { username: name.to_string(), password_hash: hash, role, created_at: timestamp::now() };
    let user = blocking(move || app.manager.create_user(user, admitted.get())).await?;
    Ok((http::StatusCode::CREATED, Json(UserBody::of(&user, &[]))))
}

/// `POST /users`, as some clients send it: the same as `PUT`.
#[utoipa::path(post, path = "/api/v3.1/users", tag = "users", summary = "Create a user (as `PUT`)",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Created", body = UserBody),
        (status = 400, description = "A bad name, password or role", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 409, description = "The user exists", body = super::schema::ErrorBody)))]
pub async fn create_by_post(
    state: State<Arc<App>>,
    caller: Extension<Caller>,
    admitted: Admitted,
    body: JsonBody<CreateBody>,
) -> Result<(http::StatusCode, Json<UserBody>)> {
    create(state, caller, admitted, body).await
}

#[utoipa::path(
    get,
    path = "/api/v3.1/users",
    tag = "users",
    summary = "List users",
    params(super::schema::PageQuery, super::schema::UserSort),
    responses(
        (status = 200, description = "OK", body = UserList),
        (status = 400, description = "Bad paging parameters", body = super::schema::ErrorBody)
    )
)]
pub async fn list(State(app): State<Arc<App>>, q: QueryPairs) -> Result<Json<UserList>> {
    let page = q.page(&["username", "created_at"])?;
    let (users, tenants) = blocking(move || Ok((app.manager.users()?, app.manager.tenants()?))).await?;
    // Each user's tenants, from one read of them all.
    let mut of: std::collections::HashMap<&str, Vec<(String, TenantRole)>> = std::collections::HashMap::new();
    for t in &tenants {
        for (u, r) in &t.members {
            of.entry(u.as_str()).or_default().push((t.name.clone(), *r));
        }
    }
    let total = users.len() as u64;
    let items = users
        .iter()
        .skip(page.offset as usize)
        .take(page.size as usize)
        .map(|u| UserBody::of(u, of.get(u.username.as_str()).map(Vec::as_slice).unwrap_or_default()))
        .collect();
    Ok(Json(UserList::new(items, total, &page)))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/users/{name}",
    tag = "users",
    summary = "One user",
    params(("name" = String, Path, description = "The user name")),
    responses(
        (status = 200, description = "OK", body = UserBody),
        (status = 404, description = "No such user", body = super::schema::ErrorBody)
    )
)]
pub async fn get(State(app): State<Arc<App>>, Path(name): Path<String>) -> Result<Json<UserBody>> {
    let (u, tenants) = blocking(move || {
        let u = app.manager.user(&name)?.ok_or_else(|| Error::NotFound(format!("Requested `User` with ID `{name}` was not found")))?;
        Ok((u, app.manager.memberships(&name)?))
    })
    .await?;
    Ok(Json(UserBody::of(&u, &tenants)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UserChange)]
pub struct UpdateBody {
    /// At least 5 characters.
    #[serde(default)]
    #[schema(min_length = 5)]
    password: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<super::schema::RoleRequest>)]
    role: Option<String>,
}

/// `POST /users/{name}` with `{"password": ...}` or `{"role": ...}` (the real
/// client's `users.set_password` and `users.set_role`): sys_admin only. The user's
/// cached credentials are forgotten at once.
#[utoipa::path(
    post,
    path = "/api/v3.1/users/{name}",
    tag = "users",
    summary = "Change a user's password or role",
    params(("name" = String, Path, description = "The user name")),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "Changed", body = UserBody),
        (status = 400, description = "Nothing to change, or a bad password or role", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 404, description = "No such user", body = super::schema::ErrorBody)
    )
)]
pub async fn update(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    admitted: Admitted,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Json<UserBody>> {
    require_admin(&caller, "change users")?;
    let role = body.role.as_deref().map(parse_role).transpose()?;
    let hash = match body.password {
        Some(p) => Some(hashed(p).await?),
        None => None,
    };
    if hash.is_none() && role.is_none() {
        return Err(Error::BadRequest("Nothing to change: give `password` or `role`".into()));
    }
    let (manager, who) = (app.manager.clone(), name.clone());
    let (user, tenants) = blocking(move || Ok((manager.update_user(&who, hash, role, admitted.get())?, manager.memberships(&who)?))).await?;
    app.auth.forget(&name);
    tracing::info!(user = %name, by = %caller.username, "user changed");
    Ok(Json(UserBody::of(&user, &tenants)))
}

/// `DELETE /users/{name}`: sys_admin only, and not oneself (someone must stay able to
/// change things). The user's cached credentials are forgotten at once.
#[utoipa::path(
    delete,
    path = "/api/v3.1/users/{name}",
    tag = "users",
    summary = "Delete a user",
    params(("name" = String, Path, description = "The user name")),
    responses(
        (status = 200, description = "Deleted", body = UserBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 404, description = "No such user", body = super::schema::ErrorBody),
        (status = 409, description = "A user cannot delete itself", body = super::schema::ErrorBody)
    )
)]
pub async fn delete(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    admitted: Admitted,
    Path(name): Path<String>,
) -> Result<Json<UserBody>> {
    require_admin(&caller, "delete users")?;
    if name == caller.username {
        return Err(Error::Conflict(format!("User `{name}` cannot delete itself; sign in as another sys_admin")));
    }
    let (manager, who) = (app.manager.clone(), name.clone());
    let user = blocking(move || manager.delete_user(&who, admitted.get())).await?;
    app.auth.forget(&name);
    tracing::info!(user = %name, by = %caller.username, "user deleted");
    Ok(Json(UserBody::of(&user, &[])))
}
