//! `/events`: the lifecycle steps of an execution, as `cfy executions start` tails them.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::tenancy::{Action, Tenancy};
use super::{App, blocking};
use super::json::{QueryPairs, list_response};
use crate::error::{Error, Result};
use crate::store::Event;

pub(crate) fn event_json(e: &Event, deployment_id: Option<&str>, workflow_id: &str) -> Value {
    json!({
        "id": e.id,
        "type": "cloudify_event",
        "event_type": e.event_type,
        "message": e.message,
        "timestamp": e.timestamp,
        "reported_timestamp": e.timestamp,
        "execution_id": e.execution_id,
        "deployment_id": deployment_id,
        "workflow_id": workflow_id,
        "blueprint_id": null,
        "node_instance_id": null,
        "node_name": null,
        "operation": null,
        "level": null,
        "logger": null,
        "error_causes": null,
        "source_id": null,
        "target_id": null,
    })
}

#[utoipa::path(
    get,
    path = "/api/v3.1/events",
    tag = "events",
    summary = "An execution's events",
    params(super::schema::PageQuery, super::schema::EventSort, super::schema::EventFilter, super::schema::TenantHeader),
    responses(
        (status = 200, description = "OK", body = super::schema::EventList),
        (status = 400, description = "No `execution_id`, or bad paging parameters", body = super::schema::ErrorBody),
        (status = 403, description = "Not permitted in this tenant, or no such tenant", body = super::schema::ErrorBody),
        (status = 404, description = "No such execution (in this tenant's reach)", body = super::schema::ErrorBody)
    )
)]
pub async fn list(State(app): State<Arc<App>>, tenancy: Tenancy, q: QueryPairs) -> Result<Json<Value>> {
    let page = q.page(&["reported_timestamp", "timestamp", "@timestamp", "id"])?;
    let exec_id = q
        .get("execution_id")
        .ok_or_else(|| Error::BadRequest("`execution_id` is required".into()))?;
    // Only `cloudify_event`s exist; a query for logs alone gets none.
    let wants_events = q.all("type").next().is_none() || q.all("type").any(|t| t == "cloudify_event");
    let exec_id = exec_id.to_owned();
    let scope = tenancy.permit(&app, Action::EventList).await?;
    let (exec, (items, total)) = {
        let page = page.clone();
        blocking(move || {
            let exec = app.manager.execution(&exec_id, Some(&scope))?;
            let events = if wants_events { app.manager.events(&exec_id, &page)? } else { (Vec::new(), 0) };
            Ok((exec, events))
        })
        .await?
    };
    let items = items
        .iter()
        .map(|e| event_json(e, exec.deployment_id.as_deref(), &exec.workflow_id))
        .collect();
    Ok(Json(list_response(items, total, &page)))
}
