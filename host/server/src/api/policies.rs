//! `/policies`: upload, list, show, activate, roll back, shadow, delete.
//!
//! Changes need sys_admin; any authenticated user may read. Everything that may
//! load or compile a component runs on the blocking pool, never on the
//! runtime's workers.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use super::json::{QueryPairs, list_response};
use super::{App, blocking, require_admin};
use drydock_engine::Fault;
use crate::error::{Error, Result};
use drydock_gate::{Caller, Decision};
use crate::registry::{Disagreement, RECENT_DISAGREEMENTS, ShadowReport, Swap, Version};
use crate::store::{Page, PolicyState};

/// Largest component an upload may carry (the rest of the API takes 1 MiB).
pub const MAX_POLICY_BYTES: usize = 16 * 1024 * 1024;

pub fn version_json(v: &Version, st: &PolicyState) -> Value {
    let (by, at) = match &v.uploaded {
        Some((by, at)) => (json!(by), json!(at)),
        None => (Value::Null, Value::Null),
    };
    json!({
        "id": v.id,
        "name": v.name,
        "version": v.version,
        "sha256": v.sha256,
        "label": v.label(),
        "size": v.size,
        "builtin": v.is_builtin(),
        "uploaded_by": by,
        "uploaded_at": at,
        "active": st.active_id == v.id,
        "previous": st.previous_id.as_deref() == Some(v.id.as_str()),
        "shadow": st.shadow.as_ref().is_some_and(|(id, _, _)| *id == v.id),
    })
}

pub fn decision_json(d: &std::result::Result<Decision, Fault>) -> Value {
    match d {
        Ok(Decision::Allow) => json!({ "verdict": "allow" }),
        Ok(Decision::Deny(d)) => json!({
            "verdict": "deny",
            "status": d.status,
            "error_code": d.error_code,
            "message": d.message,
            "retry_after": d.retry_after,
        }),
        Err(fault) => json!({ "verdict": "fault", "fault": fault.to_string() }),
    }
}

fn disagreement_json(d: &Disagreement, candidate_label: &str) -> Value {
    let snap = &d.published.snapshot;
    json!({
        "at": d.at,
        "request": {
            "method": d.request.method,
            "path": d.request.path,
            "route": d.request.route,
            "username": d.request.caller.username,
            "role": d.request.caller.role.as_str(),
            "bypass": d.request.caller.bypass,
            "maintenance": snap.state.as_str(),
            "unfinished_executions": snap.executions.total(),
        },
        "active": { "policy": d.active_label, "decision": decision_json(&Ok(d.active.clone())) },
        "candidate": { "policy": candidate_label, "decision": decision_json(&d.candidate) },
        "differs_in": d.differs_in,
    })
}

pub fn report_json(r: Option<&ShadowReport>, st: &PolicyState) -> Value {
    let Some(r) = r else {
        return json!({
            "running": false, "candidate": null, "started_at": null, "started_by": null,
            "stopped_at": null, "stopped_by": null, "evaluated": 0, "agreements": 0,
            "disagreements": 0, "candidate_faults": 0, "skipped": 0, "recent_disagreements": [],
        });
    };
    let label = r.candidate.label();
    json!({
        "running": r.running,
        "candidate": version_json(&r.candidate, st),
        "started_at": r.started_at,
        "started_by": r.started_by,
        "stopped_at": r.stopped.as_ref().map(|(at, _)| at),
        "stopped_by": r.stopped.as_ref().map(|(_, by)| by),
        "evaluated": r.agreements + r.disagreements,
        "agreements": r.agreements,
        "disagreements": r.disagreements,
        "candidate_faults": r.candidate_faults,
        "skipped": r.skipped,
        "recent_disagreements": r.recent.iter().map(|d| disagreement_json(d, &label)).collect::<Vec<_>>(),
    })
}

fn swap_json(s: &Swap, st: &PolicyState) -> Value {
    json!({
        "swapped": s.swapped,
        "active": version_json(&s.active, st),
        "previous": s.previous.as_ref().map(|p| version_json(p, st)),
    })
}

#[utoipa::path(
    get,
    path = "/api/v3.1/policies",
    tag = "policies",
    summary = "The policy versions",
    responses(
        (status = 200, description = "OK", body = super::schema::PolicyList)
    )
)]
pub async fn list(State(app): State<Arc<App>>) -> Result<Json<Value>> {
    let st = app.policies.state();
    let items: Vec<Value> = app.policies.list()?.iter().map(|v| version_json(v, &st)).collect();
    let total = items.len() as u64;
    let page = Page { offset: 0, size: items.len() as u32, sort: None };
    Ok(Json(list_response(items, total, &page)))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/policies/{id}",
    tag = "policies",
    summary = "One policy version",
    params(("id" = String, Path, description = "`builtin`, a policy version's sha256, or a unique prefix of it")),
    responses(
        (status = 200, description = "OK", body = super::schema::PolicyVersion),
        (status = 400, description = "An ambiguous prefix", body = super::schema::ErrorBody),
        (status = 404, description = "No such policy version", body = super::schema::ErrorBody)
    )
)]
pub async fn get(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Value>> {
    Ok(Json(version_json(&app.policies.get(&id)?, &app.policies.state())))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/policies/active",
    tag = "policies",
    summary = "The active policy version",
    responses(
        (status = 200, description = "OK", body = super::schema::ActivePolicy)
    )
)]
pub async fn active(State(app): State<Arc<App>>) -> Result<Json<Value>> {
    let active = app.policies.active()?;
    let st = app.policies.state();
    let mut body = version_json(&active.version, &st);
    body["active_since"] = json!(active.since);
    body["activated_by"] = json!(active.by);
    body["previous_version"] = active.previous.as_ref().map_or(Value::Null, |p| version_json(p, &st));
    Ok(Json(body))
}

/// Who changed which policy when: for sys_admins only.
#[utoipa::path(
    get,
    path = "/api/v3.1/policies/history",
    tag = "policies",
    summary = "Who changed which policy when",
    params(super::schema::SizeQuery),
    responses(
        (status = 200, description = "OK", body = super::schema::PolicyHistoryList),
        (status = 400, description = "A bad `_size`", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody)
    )
)]
pub async fn history(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, q: QueryPairs) -> Result<Json<Value>> {
    require_admin(&caller, "read the policy history")?;
    let size = match q.get("_size").filter(|v| !v.is_empty()) {
        None => 100,
        Some(v) => super::json::count("_size", v)?,
    };
    let items: Vec<Value> = app
        .policies
        .history(size.min(10_000))?
        .into_iter()
        .map(|e| json!({ "seq": e.seq, "at": e.at, "username": e.username, "action": e.action, "policy_id": e.policy_id, "detail": e.detail }))
        .collect();
    let total = items.len() as u64;
    let page = Page { offset: 0, size, sort: None };
    Ok(Json(list_response(items, total, &page)))
}

/// The body is the component itself (`application/wasm` or
/// `application/octet-stream`), validated completely before it is stored.
#[utoipa::path(
    post,
    path = "/api/v3.1/policies",
    tag = "policies",
    summary = "Upload a policy component (validated completely before it is stored)",
    request_body(description = "The component's bytes", content((Vec<u8> = "application/wasm"), (Vec<u8> = "application/octet-stream"))),
    responses(
        (status = 201, description = "Stored", body = super::schema::PolicyVersion),
        (status = 200, description = "Already stored", body = super::schema::PolicyVersion),
        (status = 400, description = "Not a policy component drydock accepts (the reason says why)", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 413, description = "Larger than 16 MiB", body = super::schema::ErrorBody),
        (status = 415, description = "Not `application/wasm` or `application/octet-stream`", body = super::schema::ErrorBody)
    )
)]
pub async fn upload(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    // Refusals first, from the headers alone: a caller who may not upload cannot
    // make the server buffer 16 MiB. Their body stays unread, so the answer ends
    // the connection (an unread body would make hyper drop a keep-alive connection
    // without a word; small bodies were read before routing, see `api::limits`).
    if let Err(e) = require_admin(&caller, "upload policies").and_then(|()| upload_content_type(&headers)) {
        return Ok(closing(e.into_response()));
    }
    let bytes = axum::body::to_bytes(body, MAX_POLICY_BYTES).await;
    let Ok(bytes) = bytes else {
        // The rest of the body is unread: say that the connection ends.
        let err = Error::PayloadTooLarge(format!("A policy component may be at most {} MiB", MAX_POLICY_BYTES >> 20));
        return Ok(closing(err.into_response()));
    };
    if bytes.is_empty() {
        return Err(Error::BadRequest("The request body is empty: send the policy component's bytes".into()));
    }
    let registry = app.policies.clone();
    let who = caller.username.clone();
    let up = blocking(move || registry.upload(&bytes, &who)).await?;
    let status = if up.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(version_json(&up.version, &app.policies.state()))).into_response())
}

/// A policy upload is the component's bytes.
fn upload_content_type(headers: &HeaderMap) -> Result<()> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else { return Ok(()) };
    let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
    let mime = ct.split(';').next().unwrap_or("").trim().to_string();
    match mime.as_str() {
        "application/wasm" | "application/octet-stream" => Ok(()),
        _ => Err(Error::UnsupportedMediaType(format!(
            "A policy upload is the component's bytes: Content-Type must be application/wasm or application/octet-stream, not `{mime}`"
        ))),
    }
}

/// An answer sent with the rest of the request's body unread: say the connection ends.
fn closing(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::CONNECTION, http::HeaderValue::from_static("close"));
    resp
}

#[utoipa::path(
    post,
    path = "/api/v3.1/policies/{id}/activate",
    tag = "policies",
    summary = "Make a version active (live, no restart)",
    params(("id" = String, Path, description = "`builtin`, a policy version's sha256, or a unique prefix of it")),
    responses(
        (status = 200, description = "OK", body = super::schema::Swap),
        (status = 400, description = "An ambiguous prefix", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 404, description = "No such policy version", body = super::schema::ErrorBody),
        (status = 409, description = "The stored version can no longer be loaded", body = super::schema::ErrorBody)
    )
)]
pub async fn activate(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    require_admin(&caller, "activate policies")?;
    let registry = app.policies.clone();
    let swap = blocking(move || registry.activate(&id, &caller.username)).await?;
    Ok(Json(swap_json(&swap, &app.policies.state())))
}

#[utoipa::path(
    post,
    path = "/api/v3.1/policies/rollback",
    tag = "policies",
    summary = "Return to the previously active version",
    responses(
        (status = 200, description = "OK", body = super::schema::Swap),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 409, description = "Nothing to roll back to", body = super::schema::ErrorBody)
    )
)]
pub async fn rollback(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Result<Json<Value>> {
    require_admin(&caller, "roll policies back")?;
    let registry = app.policies.clone();
    let swap = blocking(move || registry.rollback(&caller.username)).await?;
    Ok(Json(swap_json(&swap, &app.policies.state())))
}

#[utoipa::path(
    post,
    path = "/api/v3.1/policies/{id}/shadow",
    tag = "policies",
    summary = "Shadow a candidate beside the active version",
    params(("id" = String, Path, description = "`builtin`, a policy version's sha256, or a unique prefix of it")),
    responses(
        (status = 200, description = "OK", body = super::schema::ShadowReport),
        (status = 400, description = "An ambiguous prefix", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 404, description = "No such policy version", body = super::schema::ErrorBody),
        (status = 409, description = "The stored version can no longer be loaded", body = super::schema::ErrorBody)
    )
)]
pub async fn shadow_start(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    require_admin(&caller, "shadow policies")?;
    let registry = app.policies.clone();
    let report = blocking(move || registry.shadow(&id, &caller.username)).await?;
    Ok(Json(report_json(Some(&report), &app.policies.state())))
}

#[utoipa::path(
    delete,
    path = "/api/v3.1/policies/shadow",
    tag = "policies",
    summary = "Stop shadowing (the report is kept)",
    responses(
        (status = 200, description = "OK", body = super::schema::ShadowReport),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 409, description = "No shadow candidate is set", body = super::schema::ErrorBody)
    )
)]
pub async fn shadow_stop(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Result<Json<Value>> {
    require_admin(&caller, "stop shadowing")?;
    let registry = app.policies.clone();
    let report = blocking(move || registry.stop_shadow(&caller.username)).await?;
    Ok(Json(report_json(Some(&report), &app.policies.state())))
}

/// `?_size=N`: how many of the most recent disagreements to include (default all kept).
/// The shadow report quotes other users' requests (paths, names): for sys_admins only.
#[utoipa::path(
    get,
    path = "/api/v3.1/policies/shadow",
    tag = "policies",
    summary = "The shadow report",
    params(super::schema::SizeQuery),
    responses(
        (status = 200, description = "OK", body = super::schema::ShadowReport),
        (status = 400, description = "A bad `_size`", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody)
    )
)]
pub async fn shadow_report(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    q: QueryPairs,
) -> Result<Json<Value>> {
    require_admin(&caller, "read the shadow report")?;
    let recent = match q.get("_size").filter(|v| !v.is_empty()) {
        None => RECENT_DISAGREEMENTS,
        Some(v) => super::json::count("_size", v)? as usize,
    };
    let report = app.policies.shadow_report(recent);
    Ok(Json(report_json(report.as_ref(), &app.policies.state())))
}

#[utoipa::path(
    delete,
    path = "/api/v3.1/policies/{id}",
    tag = "policies",
    summary = "Delete a stored version (not the builtin, the active, the previous or the shadowed one)",
    params(("id" = String, Path, description = "`builtin`, a policy version's sha256, or a unique prefix of it")),
    responses(
        (status = 200, description = "Deleted", body = super::schema::PolicyVersion),
        (status = 400, description = "An ambiguous prefix", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 404, description = "No such policy version", body = super::schema::ErrorBody),
        (status = 409, description = "The version is in use", body = super::schema::ErrorBody)
    )
)]
pub async fn delete(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    require_admin(&caller, "delete policies")?;
    let registry = app.policies.clone();
    let gone = blocking(move || registry.delete(&id, &caller.username)).await?;
    Ok(Json(version_json(&gone, &app.policies.state())))
}

/// `GET /metrics`: Prometheus text. Outside authentication and the gate, so a
/// scraper reads it in every maintenance state.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "metrics",
    summary = "Prometheus metrics (no credentials, every state)",
    security(()),
    responses(
        (status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)
    )
)]
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    let published = app.manager.published();
    let active = app.slots.active();
    let shadow = app.slots.shadow();
    let mut text = app.policies.metrics().render(&drydock_gate::metrics::Scrape {
        snapshot: &published.snapshot,
        active: &active,
        shadow: shadow.as_deref(),
    });
    text.push_str("# HELP drydock_failed_logins_total Logins refused for a wrong user name or password.\n");
    text.push_str("# TYPE drydock_failed_logins_total counter\n");
    text.push_str(&format!("drydock_failed_logins_total {}\n", app.auth.failed_logins()));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}
