//! The shapes of the API's response bodies, as the OpenAPI document describes them.
//!
//! Handlers build their bodies with `json!` in the reference's key order (the real
//! client prints some of them in the order sent); these types say the same shapes
//! to the document. They deny unknown fields, so the tests below (each `*_json`
//! function's output read back through its type) and schemathesis' response checks
//! catch a field added to one and not the other. Request bodies need no such
//! twins: their handlers' own types derive the schema.

#![allow(dead_code)] // read by the document and the tests, never built in handlers

use serde::Deserialize;
use utoipa::ToSchema;

/// The reference's error body: every refusal and failure has it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// What went wrong, and what to do about it.
    pub message: String,
    /// Which error (the real client maps these to exception classes):
    /// `bad_parameters_error`, `unauthorized_error`, `forbidden_error`,
    /// `not_found_error`, `conflict_error`, `invalid_execution_status_update`,
    /// `unsupported_media_type_error`, `payload_too_large_error`,
    /// `method_not_allowed_error`, `request_timeout_error`,
    /// `request_header_fields_too_large_error`, `maintenance_mode_active`,
    /// `entering_maintenance_mode`, `policy_error`, `server_busy_error`,
    /// `database_unavailable_error`, `internal_server_error`, or whatever code an
    /// uploaded policy's refusal names.
    pub error_code: String,
    /// Always null (Cloudify sends a traceback here; drydock never does).
    #[schema(value_type = Option<String>)]
    pub server_traceback: Option<()>,
}

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

/// One unfinished execution that activating waits for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemainingExecution {
    pub id: String,
    pub status: ExecutionStatus,
    pub deployment_id: Option<String>,
    pub workflow_id: String,
}

/// The maintenance state: Cloudify's object, then drydock's additions (null unless set).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceState {
    pub status: MaintenanceStatus,
    /// When maintenance became active: an empty string before any activation, null
    /// while activating.
    pub activated_at: Option<String>,
    /// When activation was asked for (empty before any activation).
    pub activation_requested_at: String,
    /// While activating, the executions it waits for; null otherwise.
    pub remaining_executions: Option<Vec<RemainingExecution>>,
    pub requested_by: String,
    pub reason: Option<String>,
    /// The announced end, which `Retry-After` counts down to.
    pub until: Option<String>,
    /// While activating: when it stops waiting.
    pub deadline: Option<String>,
    pub on_deadline: Option<OnDeadline>,
    pub next_window: Option<Window>,
    /// While activating, how many executions it waits for (every tenant's), when
    /// they are not listed: to anyone but a sys_admin, and in every event (which
    /// lists at most 100); null otherwise.
    pub remaining_count: Option<u64>,
}

/// A maintenance window scheduled ahead.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub id: String,
    pub start_at: String,
    pub end_at: Option<String>,
    pub reason: Option<String>,
    pub status: WindowStatus,
    pub created_by: String,
    pub created_at: String,
}

/// One change of the maintenance state.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    pub at: String,
    /// A user, or who acted on its own: `schedule`, `deadline`, `serve`, `drydock`.
    pub by: String,
    pub from: MaintenanceStatus,
    pub to: MaintenanceStatus,
    pub reason: Option<String>,
    pub detail: String,
}

#[derive(Deserialize, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pagination {
    pub total: u64,
    pub size: u32,
    pub offset: u32,
}

#[derive(Deserialize, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListMetadata {
    pub pagination: Pagination,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub filtered: Option<()>,
}

/// The paginated list shape the real client reads: `items` and `metadata`.
macro_rules! list {
    ($name:ident, $item:ty) => {
        #[derive(Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            pub items: Vec<$item>,
            pub metadata: ListMetadata,
        }
    };
}

list!(TransitionList, Transition);
list!(WindowList, Window);
list!(DeploymentList, Deployment);
list!(ExecutionList, Execution);
list!(EventList, Event);
list!(UserList, User);
list!(PolicyList, PolicyVersion);
list!(PolicyHistoryList, PolicyHistoryEntry);
list!(ManagerList, ManagerNode);
list!(BrokerList, BrokerNode);
list!(DbNodeList, DbNode);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Version {
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ok {
    pub status: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub enum ServiceStatus {
    Active,
    Inactive,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub status: ServiceStatus,
    pub is_remote: bool,
    /// What the service says about itself (version and uptime, database path, policy).
    #[schema(value_type = Object)]
    pub extra_info: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Services {
    #[serde(rename = "drydock REST API")]
    pub rest: Service,
    #[serde(rename = "Database (SQLite)")]
    pub database: Service,
    #[serde(rename = "Policy engine")]
    pub policy: Service,
}

/// `OK` when the database answers, else `Fail`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub status: String,
    pub services: Services,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Networks {
    pub default: String,
}

#[derive(Deserialize, ToSchema)]
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

#[derive(Deserialize, ToSchema)]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DbNode {
    pub name: String,
    pub host: String,
    pub is_external: bool,
    pub node_id: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    pub name: String,
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    pub plugin: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    pub id: String,
    pub display_name: String,
    pub blueprint_id: Option<String>,
    #[schema(value_type = Object)]
    pub inputs: serde_json::Value,
    #[schema(value_type = Object)]
    pub outputs: serde_json::Value,
    #[schema(value_type = Object)]
    pub capabilities: serde_json::Value,
    #[schema(value_type = Option<String>)]
    pub description: Option<()>,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    pub tenant_name: String,
    pub visibility: String,
    pub private_resource: bool,
    pub resource_availability: String,
    #[schema(value_type = Option<String>)]
    pub site_name: Option<()>,
    #[schema(value_type = Vec<Object>)]
    pub labels: Vec<serde_json::Value>,
    pub installation_status: String,
    pub deployment_status: String,
    #[schema(value_type = Option<String>)]
    pub latest_execution_status: Option<()>,
    pub workflows: Vec<Workflow>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Execution {
    pub id: String,
    pub workflow_id: String,
    pub deployment_id: Option<String>,
    #[schema(value_type = Option<String>)]
    pub blueprint_id: Option<()>,
    pub status: ExecutionStatus,
    /// What the real CLI shows: `completed` for `terminated`, else the status.
    pub status_display: String,
    pub error: String,
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    pub is_system_workflow: bool,
    pub is_dry_run: bool,
    pub created_at: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    #[schema(value_type = Option<String>)]
    pub scheduled_for: Option<()>,
    pub created_by: String,
    pub tenant_name: String,
    pub visibility: String,
    pub private_resource: bool,
    pub resource_availability: String,
    pub total_operations: u32,
    pub finished_operations: u32,
    #[schema(value_type = Option<String>)]
    pub execution_group_id: Option<()>,
    pub allow_custom_parameters: bool,
}

/// One lifecycle step of an execution.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub username: String,
    pub role: RoleName,
    pub created_at: String,
    pub active: bool,
    pub is_locked: bool,
    /// `{tenant: {"tenant-role": role, "roles": [role]}}`
    #[schema(value_type = Object)]
    pub tenants: serde_json::Value,
    /// `{"direct": {tenant: role}, "groups": {}}`
    #[schema(value_type = Object)]
    pub tenant_roles: serde_json::Value,
    #[schema(value_type = Vec<String>)]
    pub groups: Vec<serde_json::Value>,
    #[schema(value_type = Option<String>)]
    pub first_login_at: Option<()>,
    #[schema(value_type = Option<String>)]
    pub last_login_at: Option<()>,
}

/// One policy version the registry holds.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyVersion {
    /// `builtin`, or the component's sha256.
    pub id: String,
    pub name: String,
    pub version: String,
    pub sha256: String,
    /// `name@version#sha-prefix`, as in `X-Drydock-Policy`.
    pub label: String,
    pub size: u64,
    pub builtin: bool,
    pub uploaded_by: Option<String>,
    pub uploaded_at: Option<String>,
    pub active: bool,
    pub previous: bool,
    pub shadow: bool,
}

/// The active version, when and by whom it became so, and the one a rollback returns to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivePolicy {
    pub id: String,
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub label: String,
    pub size: u64,
    pub builtin: bool,
    pub uploaded_by: Option<String>,
    pub uploaded_at: Option<String>,
    pub active: bool,
    pub previous: bool,
    pub shadow: bool,
    pub active_since: String,
    pub activated_by: String,
    pub previous_version: Option<PolicyVersion>,
}

/// The outcome of an activation or a rollback.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Swap {
    /// False when the version was already active (nothing changed).
    pub swapped: bool,
    pub active: PolicyVersion,
    pub previous: Option<PolicyVersion>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyHistoryEntry {
    pub seq: i64,
    pub at: String,
    pub username: String,
    pub action: String,
    pub policy_id: String,
    pub detail: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allow,
    Deny,
    Fault,
}

/// What one policy decided: allow, deny (with its refusal), or a fault.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub verdict: Verdict,
    pub status: Option<u16>,
    pub error_code: Option<String>,
    pub message: Option<String>,
    pub retry_after: Option<u32>,
    pub fault: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecidedBy {
    pub policy: String,
    pub decision: Decision,
}

/// The request two policies disagreed on, as the policies saw it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadowedRequest {
    pub method: String,
    pub path: String,
    pub route: String,
    pub username: String,
    pub role: String,
    pub bypass: bool,
    pub maintenance: MaintenanceStatus,
    pub unfinished_executions: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Disagreement {
    pub at: String,
    pub request: ShadowedRequest,
    pub active: DecidedBy,
    pub candidate: DecidedBy,
    pub differs_in: Vec<String>,
}

/// A shadow run: a candidate decides every request beside the active version,
/// without effect, and disagreements are counted and kept.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadowReport {
    pub running: bool,
    pub candidate: Option<PolicyVersion>,
    pub started_at: Option<String>,
    pub started_by: Option<String>,
    pub stopped_at: Option<String>,
    pub stopped_by: Option<String>,
    pub evaluated: u64,
    pub agreements: u64,
    pub disagreements: u64,
    pub candidate_faults: u64,
    pub skipped: u64,
    pub recent_disagreements: Vec<Disagreement>,
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
    //! What the handlers send, read back through the documented shapes: a field in
    //! one and not the other fails here.

    use serde::de::DeserializeOwned;
    use serde_json::json;

    use crate::api::{deployments, events, executions, maintenance, status, users};
    use crate::manager::MaintenanceView;
    use crate::store::{Deployment, Event, Execution, MaintenanceRecord, OnDeadline, Remaining, Transition, User, Window, WindowStatus};
    use drydock_engine::{ExecutionStatus, MaintenanceState, Role};

    fn conforms<T: DeserializeOwned>(v: serde_json::Value) {
        if let Err(e) = serde_json::from_value::<T>(v.clone()) {
            panic!("{} does not match its documented shape ({e}): {v:#}", std::any::type_name::<T>());
        }
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
            visibility: crate::store::Visibility::Tenant,
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

    #[test]
    fn maintenance_bodies_match_the_document() {
        conforms::<super::MaintenanceState>(maintenance::state_json(&MaintenanceView {
            record: None,
            remaining: None,
            unfinished: 0,
            next_window: None,
            stale: false,
        }, true));
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
        conforms::<super::MaintenanceState>(maintenance::state_json(&activating, true));
        conforms::<super::MaintenanceState>(maintenance::state_json(&activating, false));
        conforms::<super::Window>(maintenance::window_json(&window()));
        conforms::<super::Transition>(maintenance::transition_json(&Transition {
            at: "2026-12-02T00:00:00.000Z".into(),
            by: "schedule".into(),
            from: MaintenanceState::Deactivated,
            to: MaintenanceState::Activating,
            reason: None,
            detail: "window w1".into(),
        }));
    }

    #[test]
    fn resource_bodies_match_the_document() {
        for status in ExecutionStatus::ALL {
            conforms::<super::Execution>(executions::execution_json(&execution(status)));
        }
        conforms::<super::Deployment>(deployments::deployment_json(&Deployment {
            id: "d".into(),
            blueprint_id: None,
            inputs: json!({}),
            created_at: "t".into(),
            updated_at: "t".into(),
            created_by: "admin".into(),
            tenant_name: "default_tenant".into(),
            visibility: crate::store::Visibility::Private,
        }));
        let event = Event { id: 1, execution_id: "e1".into(), timestamp: "t".into(), event_type: "workflow_started".into(), message: "m".into() };
        conforms::<super::Event>(events::event_json(&event, None, "sleep"));
        for role in [Role::SysAdmin, Role::User] {
            let u = User { username: "u".into(), password_hash: String::new(), role, created_at: "t".into() };
            conforms::<super::User>(users::user_json(&u, &[("t".into(), crate::store::TenantRole::Operations)]));
        }
        conforms::<super::Version>(status::version_json());
    }

    #[test]
    fn error_bodies_match_the_document() {
        use axum::response::IntoResponse;
        let resp = crate::error::Error::Conflict("x".into()).into_response();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let bytes = rt.block_on(axum::body::to_bytes(resp.into_body(), 1 << 16)).unwrap();
        conforms::<super::ErrorBody>(serde_json::from_slice(&bytes).unwrap());
    }
}
