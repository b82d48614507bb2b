//! `/users`: a sys_admin creates users; anyone reads who they are.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::{JsonBody, QueryPairs, list_response};
use super::{Admitted, App, blocking, require_admin};
use crate::auth::hash_password;
use crate::error::{Error, Result};
use drydock_gate::{Caller, Role};
use crate::store::{TenantRole, User};
use crate::timestamp;

/// A user as the real client reads it, with its tenants (`tenants`, and
/// `tenant_roles.direct`, which `cfy users list` shows).
pub(crate) fn user_json(u: &User, tenants: &[(String, TenantRole)]) -> Value {
    let roles: serde_json::Map<String, Value> =
        tenants.iter().map(|(t, r)| (t.clone(), json!({"tenant-role": r.as_str(), "roles": [r.as_str()]}))).collect();
    let direct: serde_json::Map<String, Value> = tenants.iter().map(|(t, r)| (t.clone(), json!(r.as_str()))).collect();
    json!({
        "username": u.username,
        // The real client's role names: `sys_admin` and `default`.
        "role": if u.role.is_admin() { "sys_admin" } else { "default" },
        "created_at": u.created_at,
        "active": true,
        "is_locked": false,
        "tenants": roles,
        "tenant_roles": { "direct": direct, "groups": {} },
        "groups": [],
        "first_login_at": null,
        "last_login_at": null,
    })
}

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
        (status = 201, description = "Created", body = super::schema::User),
        (status = 400, description = "A bad name, password or role", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 409, description = "The user exists", body = super::schema::ErrorBody)))]
pub async fn create(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    admitted: Admitted,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(http::StatusCode, Json<Value>)> {
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
    Ok((http::StatusCode::CREATED, Json(user_json(&user, &[]))))
}

/// `POST /users`, as some clients send it: the same as `PUT`.
#[utoipa::path(post, path = "/api/v3.1/users", tag = "users", summary = "Create a user (as `PUT`)",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Created", body = super::schema::User),
        (status = 400, description = "A bad name, password or role", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 409, description = "The user exists", body = super::schema::ErrorBody)))]
pub async fn create_by_post(
    state: State<Arc<App>>,
    caller: Extension<Caller>,
    admitted: Admitted,
    body: JsonBody<CreateBody>,
) -> Result<(http::StatusCode, Json<Value>)> {
    create(state, caller, admitted, body).await
}

#[utoipa::path(
    get,
    path = "/api/v3.1/users",
    tag = "users",
    summary = "List users",
    params(super::schema::PageQuery, super::schema::UserSort),
    responses(
        (status = 200, description = "OK", body = super::schema::UserList),
        (status = 400, description = "Bad paging parameters", body = super::schema::ErrorBody)
    )
)]
pub async fn list(State(app): State<Arc<App>>, q: QueryPairs) -> Result<Json<Value>> {
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
        .map(|u| user_json(u, of.get(u.username.as_str()).map(Vec::as_slice).unwrap_or_default()))
        .collect();
    Ok(Json(list_response(items, total, &page)))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/users/{name}",
    tag = "users",
    summary = "One user",
    params(("name" = String, Path, description = "The user name")),
    responses(
        (status = 200, description = "OK", body = super::schema::User),
        (status = 404, description = "No such user", body = super::schema::ErrorBody)
    )
)]
pub async fn get(State(app): State<Arc<App>>, Path(name): Path<String>) -> Result<Json<Value>> {
    let (u, tenants) = blocking(move || {
        let u = app.manager.user(&name)?.ok_or_else(|| Error::NotFound(format!("Requested `User` with ID `{name}` was not found")))?;
        Ok((u, app.manager.memberships(&name)?))
    })
    .await?;
    Ok(Json(user_json(&u, &tenants)))
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
        (status = 200, description = "Changed", body = super::schema::User),
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
) -> Result<Json<Value>> {
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
    Ok(Json(user_json(&user, &tenants)))
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
        (status = 200, description = "Deleted", body = super::schema::User),
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
) -> Result<Json<Value>> {
    require_admin(&caller, "delete users")?;
    if name == caller.username {
        return Err(Error::Conflict(format!("User `{name}` cannot delete itself; sign in as another sys_admin")));
    }
    let (manager, who) = (app.manager.clone(), name.clone());
    let user = blocking(move || manager.delete_user(&who, admitted.get())).await?;
    app.auth.forget(&name);
    tracing::info!(user = %name, by = %caller.username, "user deleted");
    Ok(Json(user_json(&user, &[])))
}
