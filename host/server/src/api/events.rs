//! `/events`: the lifecycle steps of an execution, as `cfy executions start` tails them.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::tenancy::{Action, Tenancy};
use super::{App, blocking};
use super::json::QueryPairs;
use crate::error::{Error, Result};
use crate::store::Event;

/// One lifecycle step of an execution.
// Keys in the reference's order.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Event)]
pub struct EventBody {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub event_type: String,
    pub message: String,
    pub timestamp: String,
    pub reported_timestamp: String,
    pub execution_id: String,
    pub deployment_id: Option<String>,
    pub workflow_id: String,
    #[schema(value_type = Option<String>)]
    pub blueprint_id: Option<()>,
    #[schema(value_type = Option<String>)]
    pub node_instance_id: Option<()>,
    #[schema(value_type = Option<String>)]
    pub node_name: Option<()>,
    #[schema(value_type = Option<String>)]
    pub operation: Option<()>,
    #[schema(value_type = Option<String>)]
    pub level: Option<()>,
    #[schema(value_type = Option<String>)]
    pub logger: Option<()>,
    #[schema(value_type = Option<Object>)]
    pub error_causes: Option<()>,
    #[schema(value_type = Option<String>)]
    pub source_id: Option<()>,
    #[schema(value_type = Option<String>)]
    pub target_id: Option<()>,
}

impl EventBody {
    /// An event of the execution with this deployment and workflow.
    pub(crate) fn of(e: &Event, deployment_id: Option<&str>, workflow_id: &str) -> EventBody {
        EventBody {
            id: e.id,
            kind: "cloudify_event".into(),
            event_type: e.event_type.clone(),
            message: e.message.clone(),
            timestamp: e.timestamp.clone(),
            reported_timestamp: e.timestamp.clone(),
            execution_id: e.execution_id.clone(),
            deployment_id: deployment_id.map(str::to_owned),
            workflow_id: workflow_id.to_owned(),
            blueprint_id: None,
            node_instance_id: None,
            node_name: None,
            operation: None,
            level: None,
            logger: None,
            error_causes: None,
            source_id: None,
            target_id: None,
        }
    }
}

super::json::list!(EventList, EventBody);

#[utoipa::path(
    get,
    path = "/api/v3.1/events",
    tag = "events",
    summary = "An execution's events",
    params(super::schema::PageQuery, super::schema::EventSort, super::schema::EventFilter, super::schema::TenantHeader),
    responses(
        (status = 200, description = "OK", body = EventList),
        (status = 400, description = "No `execution_id`, or bad paging parameters", body = super::schema::ErrorBody),
        (status = 403, description = "Not permitted in this tenant, or no such tenant", body = super::schema::ErrorBody),
        (status = 404, description = "No such execution (in this tenant's reach)", body = super::schema::ErrorBody)
    )
)]
pub async fn list(State(app): State<Arc<App>>, tenancy: Tenancy, q: QueryPairs) -> Result<Json<EventList>> {
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
        .map(|e| EventBody::of(e, exec.deployment_id.as_deref(), &exec.workflow_id))
        .collect();
    Ok(Json(EventList::new(items, total, &page)))
}
