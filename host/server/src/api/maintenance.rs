//! `/maintenance`: read, activate, deactivate.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
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

pub async fn get(State(app): State<Arc<App>>) -> Json<Value> {
    Json(state_json(&app.manager.maintenance()))
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
