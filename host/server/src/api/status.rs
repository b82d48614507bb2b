//! Manager-level reads: status, version, ok, provider context, and the cluster
//! topology (`managers`, `brokers`, `db-nodes`) the real `cfy profiles use` lists.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::{App, blocking};
use super::json::{QueryPairs, list_response};
use crate::error::{Error, Result};

/// The Cloudify release whose REST API drydock speaks (the real client compares it).
pub const COMPATIBLE_CLOUDIFY_VERSION: &str = "7.0.5";
pub const DRYDOCK_VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn version_json() -> Value {
    json!({
        "edition": "community",
        "version": COMPATIBLE_CLOUDIFY_VERSION,
        "build": null,
        "date": null,
        "commit": null,
        "distribution": "drydock",
        "distro_release": DRYDOCK_VERSION,
        "drydock_version": DRYDOCK_VERSION,
    })
}

#[utoipa::path(get, path = "/api/v3.1/version", tag = "manager", summary = "The version",
    responses((status = 200, description = "OK", body = super::schema::Version)))]
pub async fn version() -> Json<Value> {
    Json(version_json())
}

/// The same at the unversioned path the real client probes first, without credentials.
#[utoipa::path(get, path = "/api/version", tag = "manager", summary = "The version (no credentials needed)",
    security(()), responses((status = 200, description = "OK", body = super::schema::Version)))]
pub async fn unversioned() -> Json<Value> {
    Json(version_json())
}

#[utoipa::path(
    get,
    path = "/api/v3.1/ok",
    tag = "manager",
    summary = "Liveness (no credentials needed)",
    security(()),
    responses(
        (status = 200, description = "OK", body = super::schema::Ok)
    )
)]
pub async fn ok() -> Json<Value> {
    Json(json!({ "status": "OK" }))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/status",
    tag = "manager",
    summary = "The manager's services",
    responses(
        (status = 200, description = "OK", body = super::schema::Status)
    )
)]
pub async fn status(State(app): State<Arc<App>>) -> Json<Value> {
    let policy = app.slots.active();
    let db_ok = {
        let app = app.clone();
        blocking(move || app.manager.user("")).await.is_ok()
    };
    let active = |ok: bool| if ok { "Active" } else { "Inactive" };
    Json(json!({
        "status": if db_ok { "OK" } else { "Fail" },
        "services": {
            "drydock REST API": {
                "status": "Active",
                "is_remote": false,
                "extra_info": { "version": DRYDOCK_VERSION, "uptime_seconds": app.started.elapsed().as_secs() },
            },
            "Database (SQLite)": {
                "status": active(db_ok),
                "is_remote": false,
                "extra_info": { "path": app.database },
            },
            "Policy engine": {
                "status": "Active",
                "is_remote": false,
                "extra_info": {
                    "policy": policy.label(),
                    "name": policy.name(),
                    "version": policy.version(),
                    "sha256": policy.sha256(),
                },
            },
        },
    }))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/provider/context",
    tag = "manager",
    summary = "The provider context (never set on drydock)",
    responses(
        (status = 404, description = "No such provider context (it is never set)", body = super::schema::ErrorBody)
    )
)]
pub async fn provider_context() -> Result<Json<Value>> {
    Err(Error::NotFound("Provider context not set".into()))
}

fn one_node(q: &QueryPairs, node: Value) -> Result<Json<Value>> {
    let page = q.page(&["id", "name", "hostname"])?;
    Ok(Json(list_response(vec![node], 1, &page)))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/managers",
    tag = "manager",
    summary = "The manager nodes (one)",
    params(super::schema::PageQuery, super::schema::NodeSort),
    responses(
        (status = 200, description = "OK", body = super::schema::ManagerList),
        (status = 400, description = "Bad paging parameters", body = super::schema::ErrorBody)
    )
)]
pub async fn managers(State(app): State<Arc<App>>, q: QueryPairs) -> Result<Json<Value>> {
    one_node(&q, json!({
        "id": 1,
        "hostname": "drydock",
        "private_ip": app.advertised_host,
        "public_ip": app.advertised_host,
        "networks": { "default": app.advertised_host },
        "version": COMPATIBLE_CLOUDIFY_VERSION,
        "edition": "community",
        "distribution": "drydock",
        "distro_release": DRYDOCK_VERSION,
        "fs_sync_node_id": "",
        "last_seen": null,
        "status_report_frequency": null,
        "node_id": "drydock",
        "ca_cert_content": null,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/brokers",
    tag = "manager",
    summary = "The message brokers (one, nominal)",
    params(super::schema::PageQuery, super::schema::NodeSort),
    responses(
        (status = 200, description = "OK", body = super::schema::BrokerList),
        (status = 400, description = "Bad paging parameters", body = super::schema::ErrorBody)
    )
)]
pub async fn brokers(State(app): State<Arc<App>>, q: QueryPairs) -> Result<Json<Value>> {
    one_node(&q, json!({
        "name": "drydock",
        "host": app.advertised_host,
        "management_host": app.advertised_host,
        "port": 0,
        "networks": { "default": app.advertised_host },
        "is_external": false,
        "node_id": "drydock",
        "ca_cert_content": null,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/db-nodes",
    tag = "manager",
    summary = "The database nodes (one)",
    params(super::schema::PageQuery, super::schema::NodeSort),
    responses(
        (status = 200, description = "OK", body = super::schema::DbNodeList),
        (status = 400, description = "Bad paging parameters", body = super::schema::ErrorBody)
    )
)]
pub async fn db_nodes(State(app): State<Arc<App>>, q: QueryPairs) -> Result<Json<Value>> {
    one_node(&q, json!({
        "name": "drydock-sqlite",
        "host": app.advertised_host,
        "is_external": false,
        "node_id": "drydock-sqlite",
    }))
}
