//! `/maintenance`: read, activate, deactivate.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{HeaderValue, header};
use serde_json::{Value, json};

use super::{Admitted, App, blocking, require_admin};
use crate::error::{Error, Result};
use drydock_gate::Caller;
use crate::manager::MaintenanceView;

/// The reference's state object, keys in the reference's order (the real CLI prints
/// them in the order sent). While deactivated with no history, the three text
/// fields are empty strings.
pub fn state_json(view: &MaintenanceView) -> Value {
    let rec = view.record.as_ref();
    json!({
        "status": view.state().as_str(),
        "activated_at": rec.map_or(Value::String(String::new()), |r| json!(r.activated_at)),
        "activation_requested_at": rec.map_or("", |r| &r.activation_requested_at),
        "remaining_executions": view.remaining.as_ref().map(|list| {
            list.iter().map(|r| json!({
                "id": r.id,
                "status": r.status.as_str(),
                "deployment_id": r.deployment_id,
                "workflow_id": r.workflow_id,
            })).collect::<Vec<_>>()
        }),
        "requested_by": rec.map_or("", |r| &r.requested_by),
    })
}

/// The state as the database has it. When the database cannot answer, the last
/// state this host saw, and headers that say so (`Warning: 110` is HTTP's "stale").
pub async fn get(State(app): State<Arc<App>>) -> Result<Response> {
    let view = blocking(move || Ok(app.manager.maintenance())).await?;
    let mut resp = Json(state_json(&view)).into_response();
    if view.stale {
        let h = resp.headers_mut();
        h.insert(header::WARNING, HeaderValue::from_static("110 drydock \"Response is Stale\""));
        h.insert("x-drydock-stale", HeaderValue::from_static("database unreachable; the last state this host saw"));
    }
    Ok(resp)
}

pub async fn action(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    admitted: Admitted,
    Path(action): Path<String>,
) -> Result<Json<Value>> {
    require_admin(&caller, "change the maintenance mode")?;
    let username = caller.username.clone();
    let view = match action.as_str() {
        "activate" => blocking(move || app.manager.activate(&username, admitted.get())).await?,
        "deactivate" => blocking(move || app.manager.deactivate(admitted.get())).await?,
        other => {
            return Err(Error::BadRequest(format!(
                "Invalid action: {other}, Valid action values are: ['activate', 'deactivate']"
            )));
        }
    };
    tracing::info!(user = %caller.username, %action, state = view.state().as_str(), "maintenance mode");
    Ok(Json(state_json(&view)))
}
