//! Manager-level reads: status, version, ok, provider context, and the cluster
//! topology (`managers`, `brokers`, `db-nodes`) the real `cfy profiles use` lists.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{App, blocking};
use super::json::QueryPairs;
use crate::error::{Error, Result};
use crate::store::Page;

/// The Cloudify release whose REST API drydock speaks (the real client compares it).
pub const COMPATIBLE_CLOUDIFY_VERSION: &str = "7.0.5";
pub const DRYDOCK_VERSION: &str = env!("CARGO_PKG_VERSION");

// The version the real client reads (keys in the reference's order).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Version)]
pub struct VersionBody {
    pub edition: String,
    /// The Cloudify release whose REST API drydock speaks.
    pub version: String,
    #[schema(value_type = Option<String>)]
    pub build: Option<()>,
    #[schema(value_type = Option<String>)]
    pub date: Option<()>,
    #[schema(value_type = Option<String>)]
    pub commit: Option<()>,
    pub distribution: String,
    pub distro_release: String,
    pub drydock_version: String,
}

impl VersionBody {
    pub fn current() -> VersionBody {
        VersionBody {
            edition: "community".into(),
            version: COMPATIBLE_CLOUDIFY_VERSION.into(),
            build: None,
            date: None,
            commit: None,
            distribution: "drydock".into(),
            distro_release: DRYDOCK_VERSION.into(),
            drydock_version: DRYDOCK_VERSION.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Ok)]
pub struct OkBody {
    pub status: String,
}

/// `OK` when the database answers, else `Fail`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Status)]
pub struct StatusBody {
    pub status: String,
    pub services: Services,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Services {
    #[serde(rename = "drydock REST API")]
    pub rest: Service,
    #[serde(rename = "Database (SQLite)")]
    pub database: Service,
    #[serde(rename = "Policy engine")]
    pub policy: Service,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    #[schema(value_type = super::schema::ServiceStatus)]
    pub status: String,
    pub is_remote: bool,
    /// What the service says about itself (version and uptime, database path, policy).
    #[schema(value_type = Object)]
    pub extra_info: Value,
}

impl Service {
    /// A local service, `Active` or not.
    fn local(active: bool, extra_info: Value) -> Service {
        Service { status: if active { "Active" } else { "Inactive" }.into(), is_remote: false, extra_info }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Networks {
    pub default: String,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagerNode {
    pub id: u32,
    pub hostname: String,
    pub private_ip: String,
    pub public_ip: String,
    pub networks: Networks,
    pub version: String,
    pub edition: String,
    pub distribution: String,
    pub distro_release: String,
    pub fs_sync_node_id: String,
    #[schema(value_type = Option<String>)]
    pub last_seen: Option<()>,
    #[schema(value_type = Option<u32>)]
    pub status_report_frequency: Option<()>,
    pub node_id: String,
    #[schema(value_type = Option<String>)]
    pub ca_cert_content: Option<()>,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrokerNode {
    pub name: String,
    pub host: String,
    pub management_host: String,
    pub port: u16,
    pub networks: Networks,
    pub is_external: bool,
    pub node_id: String,
    #[schema(value_type = Option<String>)]
    pub ca_cert_content: Option<()>,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DbNode {
    pub name: String,
    pub host: String,
    pub is_external: bool,
    pub node_id: String,
}

super::json::list!(ManagerList, ManagerNode);
super::json::list!(BrokerList, BrokerNode);
super::json::list!(DbNodeList, DbNode);

#[utoipa::path(get, path = "/api/v3.1/version", tag = "manager", summary = "The version",
    responses((status = 200, description = "OK", body = VersionBody)))]
pub async fn version() -> Json<VersionBody> {
    Json(VersionBody::current())
}

/// The same at the unversioned path the real client probes first, without credentials.
#[utoipa::path(get, path = "/api/version", tag = "manager", summary = "The version (no credentials needed)",
    security(()), responses((status = 200, description = "OK", body = VersionBody)))]
pub async fn unversioned() -> Json<VersionBody> {
    Json(VersionBody::current())
}

#[utoipa::path(
    get,
    path = "/api/v3.1/ok",
    tag = "manager",
    summary = "Liveness (no credentials needed)",
    security(()),
    responses(
        (status = 200, description = "OK", body = OkBody)
    )
)]
pub async fn ok() -> Json<OkBody> {
    Json(OkBody { status: "OK".into() })
}

#[utoipa::path(
    get,
    path = "/api/v3.1/status",
    tag = "manager",
    summary = "The manager's services",
    responses(
        (status = 200, description = "OK", body = StatusBody)
    )
)]
pub async fn status(State(app): State<Arc<App>>) -> Json<StatusBody> {
    let policy = app.slots.active();
    let db_ok = {
        let app = app.clone();
        blocking(move || app.manager.user("")).await.is_ok()
    };
    Json(StatusBody {
        status: if db_ok { "OK" } else { "Fail" }.into(),
        services: Services {
            rest: Service::local(
                true,
                json!({ "version": DRYDOCK_VERSION, "uptime_seconds": app.started.elapsed().as_secs() }),
            ),
            database: Service::local(db_ok, json!({ "path": app.database })),
            policy: Service::local(
                true,
                json!({
                    "policy": policy.label(),
                    "name": policy.name(),
                    "version": policy.version(),
                    "sha256": policy.sha256(),
                }),
            ),
        },
    })
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

/// The one node of a node list, paged as the real client asks.
fn node_page(q: &QueryPairs) -> Result<Page> {
    q.page(&["id", "name", "hostname"])
}

#[utoipa::path(
    get,
    path = "/api/v3.1/managers",
    tag = "manager",
    summary = "The manager nodes (one)",
    params(super::schema::PageQuery, super::schema::NodeSort),
    responses(
        (status = 200, description = "OK", body = ManagerList),
        (status = 400, description = "Bad paging parameters", body = super::schema::ErrorBody)
    )
)]
pub async fn managers(State(app): State<Arc<App>>, q: QueryPairs) -> Result<Json<ManagerList>> {
    let page = node_page(&q)?;
    let node = ManagerNode {
        id: 1,
        hostname: "drydock".into(),
        private_ip: app.advertised_host.clone(),
        public_ip: app.advertised_host.clone(),
        networks: Networks { default: app.advertised_host.clone() },
        version: COMPATIBLE_CLOUDIFY_VERSION.into(),
        edition: "community".into(),
        distribution: "drydock".into(),
        distro_release: DRYDOCK_VERSION.into(),
        fs_sync_node_id: String::new(),
        last_seen: None,
        status_report_frequency: None,
        node_id: "drydock".into(),
        ca_cert_content: None,
    };
    Ok(Json(ManagerList::new(vec![node], 1, &page)))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/brokers",
    tag = "manager",
    summary = "The message brokers (one, nominal)",
    params(super::schema::PageQuery, super::schema::NodeSort),
    responses(
        (status = 200, description = "OK", body = BrokerList),
        (status = 400, description = "Bad paging parameters", body = super::schema::ErrorBody)
    )
)]
pub async fn brokers(State(app): State<Arc<App>>, q: QueryPairs) -> Result<Json<BrokerList>> {
    let page = node_page(&q)?;
    let node = BrokerNode {
        name: "drydock".into(),
        host: app.advertised_host.clone(),
        management_host: app.advertised_host.clone(),
        port: 0,
        networks: Networks { default: app.advertised_host.clone() },
        is_external: false,
        node_id: "drydock".into(),
        ca_cert_content: None,
    };
    Ok(Json(BrokerList::new(vec![node], 1, &page)))
}

#[utoipa::path(
    get,
    path = "/api/v3.1/db-nodes",
    tag = "manager",
    summary = "The database nodes (one)",
    params(super::schema::PageQuery, super::schema::NodeSort),
    responses(
        (status = 200, description = "OK", body = DbNodeList),
        (status = 400, description = "Bad paging parameters", body = super::schema::ErrorBody)
    )
)]
pub async fn db_nodes(State(app): State<Arc<App>>, q: QueryPairs) -> Result<Json<DbNodeList>> {
    let page = node_page(&q)?;
    let node = DbNode {
        name: "drydock-sqlite".into(),
        host: app.advertised_host.clone(),
        is_external: false,
        node_id: "drydock-sqlite".into(),
    };
    Ok(Json(DbNodeList::new(vec![node], 1, &page)))
}
