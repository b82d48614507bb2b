//! What the OpenAPI document needs besides the response bodies: the value types
//! the bodies name (statuses, role names, actions), the request-side query, header
//! and path parameters, and helpers for their schemas.
//!
//! Each response body is one typed struct next to its handler (`DeploymentBody` in
//! `deployments`, `ErrorBody` in `error`, …): what is sent and its schema at once,
//! its fields in the reference's key order (the real client prints some bodies in
//! the order sent). The tests below pin that order.
//! (`#[serde(deny_unknown_fields)]` on those serialise-only structs does nothing
//! to what is sent: it makes the document say `additionalProperties: false`.)

#![allow(dead_code)] // the enums are read by the document only, never built

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The error body, built where errors become responses (`api::error`).
pub use super::error::ErrorBody;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MaintenanceStatus {
    Deactivated,
    Activating,
    Activated,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Pending,
    Started,
    Cancelling,
    ForceCancelling,
    KillCancelling,
    Queued,
    Scheduled,
    Terminated,
    Failed,
    Cancelled,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnDeadline {
    Wait,
    Cancel,
    ForceCancel,
    Revert,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WindowStatus {
    Scheduled,
    Started,
    Ended,
    Cancelled,
}

/// `metadata.pagination` of a list.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pagination {
    pub total: u64,
    pub size: u32,
    pub offset: u32,
}

/// A list's `metadata` (see `api::json::list!`).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListMetadata {
    pub pagination: Pagination,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub filtered: Option<()>,
}

impl ListMetadata {
    /// One page of `total` items.
    pub fn of(total: u64, page: &crate::store::Page) -> ListMetadata {
        ListMetadata { pagination: Pagination { total, size: page.size, offset: page.offset }, filtered: None }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub enum ServiceStatus {
    Active,
    Inactive,
}

/// A tenant role (Cloudify's).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantRoleName {
    Viewer,
    User,
    Operations,
    Manager,
}

/// Who sees a deployment or execution besides its tenant.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VisibilityName {
    Private,
    Tenant,
    Global,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    SysAdmin,
    Default,
}

/// `POST /maintenance/{action}`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MaintenanceAction {
    Activate,
    Deactivate,
}

/// `POST /executions/{id}` `action`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CancelAction {
    Cancel,
    ForceCancel,
    Kill,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleRequest {
    SysAdmin,
    Default,
    /// Another name for `default`.
    User,
}

/// The paging the real client sends.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items to skip.
    #[param(schema_with = count)]
    pub _offset: Option<u32>,
    /// How many items to return: 1,000 by default; more than 10,000 reads as 10,000.
    #[param(schema_with = count)]
    pub _size: Option<u32>,
}

/// `_sort`: one of the list's sortable fields, `-` before it for descending.
macro_rules! sort {
    ($name:ident, $pattern:literal) => {
        #[derive(Deserialize, utoipa::IntoParams)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            /// A field to sort by, `-` before it for descending (`+` or nothing: ascending);
            /// empty is the same as absent.
            #[param(pattern = $pattern)]
            pub _sort: Option<String>,
        }
    };
}

sort!(DeploymentSort, "^([-+]?(created_at|updated_at|id|blueprint_id))?$");
sort!(ExecutionSort, "^([-+]?(created_at|started_at|ended_at|id|status|workflow_id|deployment_id))?$");
sort!(EventSort, "^([-+]?(reported_timestamp|timestamp|@timestamp|id))?$");
sort!(UserSort, "^([-+]?(username|created_at))?$");
sort!(NodeSort, "^([-+]?(id|name|hostname))?$");

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SizeQuery {
    /// How many entries to return, newest first.
    #[param(schema_with = count)]
    pub _size: Option<u32>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExecutionFilter {
    /// Only executions in these statuses (repeat the parameter for several).
    pub status: Option<Vec<ExecutionStatus>>,
    /// Only the executions of this deployment.
    pub deployment_id: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Whose events.
    pub execution_id: String,
    /// `cloudify_event` (the only kind drydock keeps) or `cloudify_log`.
    #[serde(rename = "type")]
    pub kind: Option<Vec<String>>,
}

/// A sys_admin's list across every tenant (Cloudify's `_all_tenants`).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AllTenants {
    /// `true`: a sys_admin lists every tenant's; anyone else, their tenant's still.
    #[serde(rename = "_all_tenants")]
    pub all_tenants: Option<bool>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct TenantHeader {
    /// The tenant (the real client always sends one); `default_tenant` if absent.
    #[serde(rename = "Tenant")]
    pub tenant: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct ParentHeader {
    /// A started execution this one is a step of (the caller's own, or any for a
    /// sys_admin): the default policy then admits it while maintenance is activating.
    #[serde(rename = "X-Drydock-Parent-Execution")]
    #[param(pattern = "\\S")]
    pub parent: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DeploymentId {
    /// The new deployment's id: letters, digits, `-`, `_`, `.` or `@`.
    #[param(pattern = "^[A-Za-z0-9._@-]{1,256}$")]
    pub id: String,
}

/// A count in a query: any integer ≥ 0 (no `format`: the server takes any size), or
/// empty, which is the same as absent.
pub fn count() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};
    let any_of = AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
        .item(ObjectBuilder::new().schema_type(Type::String).max_length(Some(0)))
        .build();
    utoipa::openapi::RefOr::T(Schema::AnyOf(any_of))
}

/// A boolean, or as the real client sends some: `"true"`, `"false"` (any case) or `""`.
pub fn loose_bool() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    let one_of = OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|)$")))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build();
    utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::OneOf(one_of))
}

#[cfg(test)]
mod tests {
    //! Each body's keys, in the order it sends them: the reference's order, which the
    //! real client prints and golden files compare byte for byte. A reordered,
    //! renamed, added or dropped field fails here.

    use serde::Serialize;
    use serde_json::{Value, json};

    use crate::api::{deployments, events, executions, maintenance, policies, status, tenants, users};
    use crate::manager::MaintenanceView;
    use crate::registry::Version;
    use crate::store::{
        Deployment, Event, Execution, MaintenanceRecord, OnDeadline, PolicyState, Remaining, Tenant, TenantRole, Transition, User,
        Visibility, Window, WindowStatus,
    };
    use drydock_engine::{Decision, Denial, ExecutionStatus, Fault, MaintenanceState, Role};

    /// The keys of a serialised object, in the order sent.
    fn keys(v: &Value) -> Vec<&str> {
        match v {
            Value::Object(m) => m.keys().map(String::as_str).collect(),
            other => panic!("not an object: {other}"),
        }
    }

    /// `body` serialised, after checking its keys are `expected`, in this order.
    fn sent<T: Serialize>(body: &T, expected: &[&str]) -> Value {
        let v = serde_json::to_value(body).expect("serialises");
        assert_eq!(keys(&v), expected, "{} sends other keys, or in another order: {v:#}", std::any::type_name::<T>());
        v
    }

    fn execution(status: ExecutionStatus) -> Execution {
        Execution {
            id: "e1".into(),
            deployment_id: Some("d".into()),
            workflow_id: "sleep".into(),
            status,
            parameters: json!({"seconds": 1}),
            error: String::new(),
            is_system_workflow: false,
            created_at: "2026-12-02T00:00:00.000Z".into(),
            started_at: None,
            ended_at: None,
            created_by: "admin".into(),
            tenant_name: "default_tenant".into(),
            visibility: Visibility::Tenant,
            vouched: false,
        }
    }

    fn window() -> Window {
        Window {
            id: "w1".into(),
            start_at: "2026-12-02T01:00:00.000Z".into(),
            end_at: None,
            reason: Some("upgrade".into()),
            created_by: "admin".into(),
            created_at: "2026-12-02T00:00:00.000Z".into(),
            status: WindowStatus::Scheduled,
        }
    }

    const STATE: &[&str] = &[
        "status",
        "activated_at",
        "activation_requested_at",
        "remaining_executions",
        "requested_by",
        "reason",
        "until",
        "deadline",
        "on_deadline",
        "next_window",
        "remaining_count",
    ];
    const WINDOW: &[&str] = &["id", "start_at", "end_at", "reason", "status", "created_by", "created_at"];
    const POLICY_VERSION: &[&str] =
        &["id", "name", "version", "sha256", "label", "size", "builtin", "uploaded_by", "uploaded_at", "active", "previous", "shadow", "signatures", "memory_mib", "deadline_ms"];

    #[test]
    fn maintenance_bodies_keep_the_reference_order() {
        let idle = MaintenanceView { record: None, remaining: None, unfinished: 0, next_window: None, stale: false };
        let v = sent(&maintenance::MaintenanceStateBody::of(&idle, true), STATE);
        assert_eq!(v["activated_at"], "", "{v}");
        assert_eq!(v["remaining_executions"], Value::Null, "{v}");
        let mut rec = MaintenanceRecord::requested(MaintenanceState::Activating, "2026-12-02T00:00:00.000Z", "admin");
        rec.reason = Some("upgrade".into());
        rec.until = Some("2026-12-02T02:00:00.000Z".into());
        rec.deadline = Some(("2026-12-02T00:10:00.000Z".into(), OnDeadline::ForceCancel));
        let activating = MaintenanceView {
            record: Some(rec),
            remaining: Some(std::sync::Arc::new(vec![Remaining::of(&execution(ExecutionStatus::Started))])),
            unfinished: 1,
            next_window: Some(window()),
            stale: false,
        };
        let listed = sent(&maintenance::MaintenanceStateBody::of(&activating, true), STATE);
        assert_eq!(keys(&listed["remaining_executions"][0]), ["id", "status", "deployment_id", "workflow_id"]);
        assert_eq!(keys(&listed["next_window"]), WINDOW);
        assert_eq!(listed["remaining_count"], Value::Null, "{listed}");
        let counted = sent(&maintenance::MaintenanceStateBody::of(&activating, false), STATE);
        assert_eq!(counted["remaining_executions"], json!([]), "{counted}");
        assert_eq!(counted["remaining_count"], 1, "{counted}");
        sent(&maintenance::ScheduledWindow::from(&window()), WINDOW);
        let t = Transition {
            at: "2026-12-02T00:00:00.000Z".into(),
            by: "schedule".into(),
            from: MaintenanceState::Deactivated,
            to: MaintenanceState::Activating,
            reason: None,
            detail: "window w1".into(),
        };
        sent(&maintenance::TransitionBody::from(&t), &["at", "by", "from", "to", "reason", "detail"]);
    }

    #[test]
    fn resource_bodies_keep_the_reference_order() {
        let d = Deployment {
            id: "d".into(),
            blueprint_id: None,
            inputs: json!({}),
            created_at: "t".into(),
            updated_at: "t".into(),
            created_by: "admin".into(),
            tenant_name: "default_tenant".into(),
            visibility: Visibility::Private,
        };
        let v = sent(
            &deployments::DeploymentBody::from(&d),
            &[
                "id",
                "display_name",
                "blueprint_id",
                "inputs",
                "outputs",
                "capabilities",
                "description",
                "created_at",
                "updated_at",
                "created_by",
                "tenant_name",
                "visibility",
                "private_resource",
                "resource_availability",
                "site_name",
                "labels",
                "installation_status",
                "deployment_status",
                "latest_execution_status",
                "workflows",
            ],
        );
        assert_eq!(keys(&v["workflows"][0]), ["name", "parameters", "plugin"]);
        assert_eq!(v["workflows"][0]["parameters"], json!({"seconds": {"default": 10}}));
        for status in ExecutionStatus::ALL {
            sent(
                &executions::ExecutionBody::from(&execution(status)),
                &[
                    "id",
                    "workflow_id",
                    "deployment_id",
                    "blueprint_id",
                    "status",
                    "status_display",
                    "error",
                    "parameters",
                    "is_system_workflow",
                    "is_dry_run",
                    "created_at",
                    "started_at",
                    "ended_at",
                    "scheduled_for",
                    "created_by",
                    "tenant_name",
                    "visibility",
                    "private_resource",
                    "resource_availability",
                    "total_operations",
                    "finished_operations",
                    "execution_group_id",
                    "allow_custom_parameters",
                ],
            );
        }
        let e = Event { id: 1, execution_id: "e1".into(), timestamp: "t".into(), event_type: "workflow_started".into(), message: "m".into() };
        sent(
            &events::EventBody::of(&e, None, "sleep"),
            &[
                "id",
                "type",
                "event_type",
                "message",
                "timestamp",
                "reported_timestamp",
                "execution_id",
                "deployment_id",
                "workflow_id",
                "blueprint_id",
                "node_instance_id",
                "node_name",
                "operation",
                "level",
                "logger",
                "error_causes",
                "source_id",
                "target_id",
            ],
        );
        for role in [Role::SysAdmin, Role::User] {
            let u = User { username: "u".into(), password_hash: String::new(), role, created_at: "t".into() };
            let v = sent(
                &users::UserBody::of(&u, &[("t".into(), TenantRole::Operations)]),
                &[
                    "username",
                    "role",
                    "created_at",
                    "active",
                    "is_locked",
                    "tenants",
                    "tenant_roles",
                    "groups",
                    "first_login_at",
                    "last_login_at",
                ],
            );
            assert_eq!(v["tenants"], json!({"t": {"tenant-role": "operations", "roles": ["operations"]}}));
            assert_eq!(v["tenant_roles"], json!({"direct": {"t": "operations"}, "groups": {}}));
        }
        let t = Tenant { name: "t".into(), created_at: "t".into(), members: vec![("u".into(), TenantRole::User)] };
        for detailed in [false, true] {
            sent(
                &tenants::TenantBody::of(&t, detailed),
                &["name", "groups", "users", "user_roles", "rabbitmq_username", "rabbitmq_password", "rabbitmq_vhost"],
            );
        }
        let page = crate::store::Page { offset: 0, size: 1000, sort: None };
        let list = sent(&deployments::DeploymentList::new(vec![deployments::DeploymentBody::from(&d)], 1, &page), &["items", "metadata"]);
        assert_eq!(list["metadata"], json!({"pagination": {"total": 1, "size": 1000, "offset": 0}, "filtered": null}));
        assert_eq!(keys(&list["metadata"]), ["pagination", "filtered"]);
        assert_eq!(keys(&list["metadata"]["pagination"]), ["total", "size", "offset"]);
    }

    #[test]
    fn manager_and_policy_bodies_keep_their_order() {
        sent(
            &status::VersionBody::current(),
            &["edition", "version", "build", "date", "commit", "distribution", "distro_release", "drydock_version"],
        );
        let sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let v = Version { id: sha.into(), name: "p".into(), version: "1".into(), sha256: sha.into(), size: 1, uploaded: Some(("admin".into(), "t".into())), budget: Default::default() };
        let state = PolicyState {
            active_id: sha.into(),
            active_since: "t".into(),
            activated_by: "admin".into(),
            previous_id: None,
            shadow: None,
        };
        let st = policies::Now { state: std::sync::Arc::new(state), signers: Default::default() };
        sent(&policies::PolicyVersionBody::of(&v, &st), POLICY_VERSION);
        let report = sent(
            &policies::ShadowReportBody::of(None, &st),
            &[
                "running",
                "candidate",
                "started_at",
                "started_by",
                "stopped_at",
                "stopped_by",
                "evaluated",
                "agreements",
                "disagreements",
                "candidate_faults",
                "skipped",
                "recent_disagreements",
            ],
        );
        assert_eq!(report["recent_disagreements"], json!([]));
        sent(&policies::DecisionBody::of(&Ok(Decision::Allow)), &["verdict"]);
        let deny = Denial { status: 503, error_code: "maintenance_mode_active".into(), message: "m".into(), retry_after: None };
        let v = sent(&policies::DecisionBody::of(&Ok(Decision::Deny(deny))), &["verdict", "status", "error_code", "message", "retry_after"]);
        assert_eq!(v["verdict"], "deny");
        assert_eq!(v["retry_after"], Value::Null);
        sent(&policies::DecisionBody::of(&Err(Fault::Deadline)), &["verdict", "fault"]);
    }

    #[test]
    fn error_bodies_keep_the_reference_order() {
        use axum::response::IntoResponse;
        let resp = crate::error::Error::Conflict("x".into()).into_response();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let bytes = rt.block_on(axum::body::to_bytes(resp.into_body(), 1 << 16)).unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(keys(&v), ["message", "error_code", "server_traceback"], "{v}");
        assert_eq!(v["server_traceback"], Value::Null);
    }
}
