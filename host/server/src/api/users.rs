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
use crate::store::User;
use crate::timestamp;

fn user_json(u: &User) -> Value {
    json!({
        "username": u.username,
        // The real client's role names: `sys_admin` and `default`.
        "role": if u.role.is_admin() { "sys_admin" } else { "default" },
        "created_at": u.created_at,
        "active": true,
        "is_locked": false,
        "tenants": {},
        "groups": [],
        "first_login_at": null,
        "last_login_at": null,
    })
}

#[derive(Deserialize)]
pub struct CreateBody {
    username: String,
    password: String,
    #[serde(default)]
    role: Option<String>,
}

fn parse_role(name: &str) -> Result<Role> {
    Role::parse(name)
        .ok_or_else(|| Error::BadRequest(format!("Invalid role `{name}`: use `sys_admin` or `default` (alias `user`)")))
}

/// A new password, checked and hashed (off the runtime's workers: argon2 is slow).
async fn hashed(password: String) -> Result<String> {
    if password.len() < 5 {
        return Err(Error::BadRequest("`password` must be at least 5 characters".into()));
    }
    blocking(move || Ok(hash_password(&password)?)).await
}

pub async fn create(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    admitted: Admitted,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(http::StatusCode, Json<Value>)> {
    require_admin(&caller, "create users")?;
    let name = body.username.trim();
    if name.is_empty() || name.len() > 128 || name.contains(':') || name.chars().any(char::is_control) {
        return Err(Error::BadRequest(
            "`username` must be 1-128 printable characters without `:`".into(),
        ));
    }
    let role = parse_role(body.role.as_deref().unwrap_or("default"))?;
    let hash = hashed(body.password).await?;
    let user = User { username: name.to_string(), password_hash: hash, role, created_at: timestamp::now() };
    let user = blocking(move || app.manager.create_user(user, admitted.get())).await?;
    Ok((http::StatusCode::CREATED, Json(user_json(&user))))
}

pub async fn list(State(app): State<Arc<App>>, q: QueryPairs) -> Result<Json<Value>> {
    let page = q.page(&["username", "created_at"])?;
    let users = blocking(move || app.manager.users()).await?;
    let total = users.len() as u64;
    let items = users
        .iter()
        .skip(page.offset as usize)
        .take(page.size as usize)
        .map(user_json)
        .collect();
    Ok(Json(list_response(items, total, &page)))
}

pub async fn get(State(app): State<Arc<App>>, Path(name): Path<String>) -> Result<Json<Value>> {
    let u = blocking(move || {
        app.manager.user(&name)?.ok_or_else(|| Error::NotFound(format!("Requested `User` with ID `{name}` was not found")))
    })
    .await?;
    Ok(Json(user_json(&u)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    role: Option<String>,
}

/// `POST /users/{name}` with `{"password": ...}` or `{"role": ...}` (the real
/// client's `users.set_password` and `users.set_role`): sys_admin only. The user's
/// cached credentials are forgotten at once.
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
    let user = blocking(move || manager.update_user(&who, hash, role, admitted.get())).await?;
    app.auth.forget(&name);
    tracing::info!(user = %name, by = %caller.username, "user changed");
    Ok(Json(user_json(&user)))
}

/// `DELETE /users/{name}`: sys_admin only, and not oneself (someone must stay able to
/// change things). The user's cached credentials are forgotten at once.
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
    Ok(Json(user_json(&user)))
}
