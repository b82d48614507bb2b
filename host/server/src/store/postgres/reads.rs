//! Reads, and rows to records: the parse at the storage edge (as `sqlite/rows.rs`).

use deadpool_postgres::GenericClient;
use drydock_engine::{ExecutionStatus, Role};
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::PgResult;
use crate::store::{
    Deployment, Event, Execution, Page, PolicyLogEntry, PolicyRecord, PolicyState, Scope, Tenant, TenantRole, Transition, User,
    Visibility, Window, WindowStatus,
};

fn json_col(row: &Row, idx: &str) -> Value {
    serde_json::from_str(row.get::<_, &str>(idx)).unwrap_or(Value::Null)
}

fn execution_from_row(row: &Row) -> Execution {
    Execution {
        id: row.get("id"),
        deployment_id: row.get("deployment_id"),
        workflow_id: row.get("workflow_id"),
        // Only ever written from the enum; an unknown value means a foreign writer,
        // and "failed" keeps it from holding maintenance forever.
        status: ExecutionStatus::parse(row.get("status")).unwrap_or(ExecutionStatus::Failed),
        parameters: json_col(row, "parameters"),
        error: row.get("error"),
        is_system_workflow: row.get("is_system_workflow"),
        created_at: row.get("created_at"),
        started_at: row.get("started_at"),
        ended_at: row.get("ended_at"),
        created_by: row.get("created_by"),
        tenant_name: row.get("tenant_name"),
        visibility: visibility_col(row),
        vouched: row.get("vouched"),
    }
}

/// Only ever written from the enum (and a CHECK holds it there).
fn visibility_col(row: &Row) -> Visibility {
    Visibility::parse(row.get("visibility")).unwrap_or(Visibility::Private)
}

/// The clause keeping a list to what `scope` sees (see [`Scope::sees`]), its
/// arguments pushed onto `args`.
fn scope_filter<'a>(scope: Option<&'a Scope>, args: &mut Vec<&'a (dyn ToSql + Sync)>) -> String {
    let Some(s) = scope else { return String::new() };
    args.push(&s.tenant);
    let mut clause = format!(" AND (tenant_name = ${} OR visibility = 'global')", args.len());
    if !s.sees_private {
        args.push(&s.username);
        clause.push_str(&format!(" AND (visibility <> 'private' OR created_by = ${})", args.len()));
    }
    clause
}

fn user_from_row(r: &Row) -> User {
    User {
        username: r.get("username"),
        password_hash: r.get("password_hash"),
        role: Role::parse(r.get("role")).unwrap_or(Role::User),
        created_at: r.get("created_at"),
    }
}

fn deployment_from_row(row: &Row) -> Deployment {
    Deployment {
        id: row.get("id"),
        blueprint_id: row.get("blueprint_id"),
        inputs: json_col(row, "inputs"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        created_by: row.get("created_by"),
        tenant_name: row.get("tenant_name"),
        visibility: visibility_col(row),
    }
}

const POLICY_COLUMNS: &str = "id, sha256, name, version, size, uploaded_by, uploaded_at, memory_mib, deadline_ms";

fn policy_from_row(r: &Row) -> PolicyRecord {
    PolicyRecord {
        id: r.get(0),
        sha256: r.get(1),
        name: r.get(2),
        version: r.get(3),
        size: r.get::<_, i64>(4) as u64,
        uploaded_by: r.get(5),
        uploaded_at: r.get(6),
        budget: crate::store::Budget {
            memory_mib: r.get::<_, Option<i32>>(7).map(|v| v as u32),
            deadline_ms: r.get::<_, Option<i32>>(8).map(|v| v as u32),
        },
    }
}

/// The sort column comes from the edge's fixed set, never from the client's text.
fn order_by(page: &Page, default: &str) -> String {
    match page.sort {
        Some((col, desc)) => format!(" ORDER BY {col} {}, seq", if desc { "DESC" } else { "ASC" }),
        None => format!(" ORDER BY {default}, seq"),
    }
}

const EXECUTION_COLUMNS: &str = "id, deployment_id, workflow_id, status, parameters, error, is_system_workflow, \
     created_at, started_at, ended_at, created_by, tenant_name, visibility, vouched";

pub(super) async fn execution(
    client: &impl GenericClient,
    id: &str,
) -> PgResult<Option<Execution>> {
    let st = client
        .prepare_cached(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = $1"
        ))
        .await?;
    Ok(client
        .query_opt(&st, &[&id])
        .await?
        .as_ref()
        .map(execution_from_row))
}

pub(super) async fn executions(
    client: &impl GenericClient,
    scope: Option<&Scope>,
    deployment_id: Option<&str>,
    statuses: &[ExecutionStatus],
    page: &Page,
) -> PgResult<(Vec<Execution>, u64)> {
    let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
    let mut filter = format!(" WHERE TRUE{}", scope_filter(scope, &mut args));
    if let Some(dep) = &deployment_id {
        args.push(dep);
        filter.push_str(&format!(" AND deployment_id = ${}", args.len()));
    }
    if !statuses.is_empty() {
        args.push(&statuses);
        filter.push_str(&format!(" AND status = ANY(${})", args.len()));
    }
    let total: i64 = client
        // The counts the triggers keep (migration 0009), under the same filter.
        .query_one(&format!("SELECT COALESCE(SUM(n), 0)::BIGINT FROM execution_totals{filter}"), &args)
        .await?
        .get(0);
    let (limit, offset) = (i64::from(page.size), i64::from(page.offset));
    let n = args.len();
    args.push(&limit);
    args.push(&offset);
    let sql = format!(
        "SELECT {EXECUTION_COLUMNS} FROM executions{filter}{} LIMIT ${} OFFSET ${}",
        order_by(page, "created_at"),
        n + 1,
        n + 2
    );
    let items = client
        .query(&sql, &args)
        .await?
        .iter()
        .map(execution_from_row)
        .collect();
    Ok((items, total as u64))
}

pub(super) async fn events(
    client: &impl GenericClient,
    execution_id: &str,
    page: &Page,
) -> PgResult<(Vec<Event>, u64)> {
    let (limit, offset) = (i64::from(page.size), i64::from(page.offset));
    let rows = client
        .query(
            "SELECT id, execution_id, timestamp, event_type, message FROM events
             WHERE execution_id = $1 ORDER BY id LIMIT $2 OFFSET $3",
            &[&execution_id, &limit, &offset],
        )
        .await?;
    let items = rows
        .iter()
        .map(|r| Event {
            id: r.get(0),
            execution_id: r.get(1),
            timestamp: r.get(2),
            event_type: r.get(3),
            message: r.get(4),
        })
        .collect();
    let total: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM events WHERE execution_id = $1",
            &[&execution_id],
        )
        .await?
        .get(0);
    Ok((items, total as u64))
}

pub(super) async fn deployment(
    client: &impl GenericClient,
    id: &str,
) -> PgResult<Option<Deployment>> {
    let st = client
        .prepare_cached("SELECT * FROM deployments WHERE id = $1")
        .await?;
    Ok(client
        .query_opt(&st, &[&id])
        .await?
        .as_ref()
        .map(deployment_from_row))
}

pub(super) async fn deployments(
    client: &impl GenericClient,
    scope: Option<&Scope>,
    page: &Page,
) -> PgResult<(Vec<Deployment>, u64)> {
    let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
    let filter = format!(" WHERE TRUE{}", scope_filter(scope, &mut args));
    let total: i64 = client.query_one(&format!("SELECT COUNT(*) FROM deployments{filter}"), &args).await?.get(0);
    let (limit, offset) = (i64::from(page.size), i64::from(page.offset));
    let n = args.len();
    args.push(&limit);
    args.push(&offset);
    let sql = format!("SELECT * FROM deployments{filter}{} LIMIT ${} OFFSET ${}", order_by(page, "created_at"), n + 1, n + 2);
    let items = client.query(&sql, &args).await?.iter().map(deployment_from_row).collect();
    Ok((items, total as u64))
}

fn role_col(r: &Row, idx: usize) -> TenantRole {
    // A CHECK holds the column to the four names; a foreign one reads as the least.
    TenantRole::parse(r.get(idx)).unwrap_or(TenantRole::Viewer)
}

pub(super) async fn tenants(client: &impl GenericClient) -> PgResult<Vec<Tenant>> {
    let mut tenants: Vec<Tenant> = client
        .query("SELECT name, created_at FROM tenants ORDER BY name", &[])
        .await?
        .iter()
        .map(|r| Tenant { name: r.get(0), created_at: r.get(1), members: Vec::new() })
        .collect();
    for r in client.query("SELECT tenant, username, role FROM tenant_members ORDER BY tenant, username", &[]).await? {
        let tenant: &str = r.get(0);
        if let Ok(i) = tenants.binary_search_by(|t| t.name.as_str().cmp(tenant)) {
            tenants[i].members.push((r.get(1), role_col(&r, 2)));
        }
    }
    Ok(tenants)
}

pub(super) async fn tenant(client: &impl GenericClient, name: &str) -> PgResult<Option<Tenant>> {
    let Some(row) = client.query_opt("SELECT created_at FROM tenants WHERE name = $1", &[&name]).await? else {
        return Ok(None);
    };
    let st = client.prepare_cached("SELECT username, role FROM tenant_members WHERE tenant = $1 ORDER BY username").await?;
    let members = client.query(&st, &[&name]).await?.iter().map(|r| (r.get(0), role_col(r, 1))).collect();
    Ok(Some(Tenant { name: name.to_string(), created_at: row.get(0), members }))
}

pub(super) async fn memberships(client: &impl GenericClient, username: &str) -> PgResult<Vec<(String, TenantRole)>> {
    let st = client.prepare_cached("SELECT tenant, role FROM tenant_members WHERE username = $1 ORDER BY tenant").await?;
    Ok(client.query(&st, &[&username]).await?.iter().map(|r| (r.get(0), role_col(r, 1))).collect())
}

pub(super) async fn user(client: &impl GenericClient, username: &str) -> PgResult<Option<User>> {
    let st = client
        .prepare_cached(
            "SELECT username, password_hash, role, created_at FROM users WHERE username = $1",
        )
        .await?;
    Ok(client
        .query_opt(&st, &[&username])
        .await?
        .as_ref()
        .map(user_from_row))
}

pub(super) async fn users(client: &impl GenericClient) -> PgResult<Vec<User>> {
    let rows = client
        .query(
            "SELECT username, password_hash, role, created_at FROM users ORDER BY username",
            &[],
        )
        .await?;
    Ok(rows.iter().map(user_from_row).collect())
}

pub(super) async fn policies(client: &impl GenericClient) -> PgResult<Vec<PolicyRecord>> {
    let rows = client
        .query(
            &format!("SELECT {POLICY_COLUMNS} FROM policies ORDER BY uploaded_at, seq"),
            &[],
        )
        .await?;
    Ok(rows.iter().map(policy_from_row).collect())
}

/// One version by `id` or by `sha256` (the column name is ours, not the client's).
pub(super) async fn policy(
    client: &impl GenericClient,
    column: &'static str,
    value: &str,
) -> PgResult<Option<PolicyRecord>> {
    let st = client
        .prepare_cached(&format!(
            "SELECT {POLICY_COLUMNS} FROM policies WHERE {column} = $1"
        ))
        .await?;
    Ok(client
        .query_opt(&st, &[&value])
        .await?
        .as_ref()
        .map(policy_from_row))
}

pub(super) async fn policy_state(client: &impl GenericClient) -> PgResult<Option<PolicyState>> {
    let st = client
        .prepare_cached(
            "SELECT active_id, active_since, activated_by, previous_id, shadow_id, shadow_since, shadow_by
             FROM policy_state WHERE id = 1",
        )
        .await?;
    Ok(client.query_opt(&st, &[]).await?.map(|r| {
        let shadow = match (
            r.get::<_, Option<String>>(4),
            r.get::<_, Option<String>>(5),
            r.get::<_, Option<String>>(6),
        ) {
            (Some(id), Some(since), Some(by)) => Some((id, since, by)),
            _ => None,
        };
        PolicyState {
            active_id: r.get(0),
            active_since: r.get(1),
            activated_by: r.get(2),
            previous_id: r.get(3),
            shadow,
        }
    }))
}

pub(super) async fn policy_log(
    client: &impl GenericClient,
    limit: u32,
) -> PgResult<Vec<PolicyLogEntry>> {
    let rows = client
        .query(
            "SELECT seq, at, username, action, policy_id, detail FROM policy_log ORDER BY seq DESC LIMIT $1",
            &[&i64::from(limit)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| PolicyLogEntry {
            seq: r.get(0),
            at: r.get(1),
            username: r.get(2),
            action: r.get(3),
            policy_id: r.get(4),
            detail: r.get(5),
        })
        .collect())
}

/// The signatures over `sha256` (every one, with `None`), by key id.
pub(super) async fn signatures(client: &impl GenericClient, sha256: Option<&str>) -> PgResult<Vec<crate::store::StoredSignature>> {
    let rows = client
        .query(
            "SELECT sha256, key_id, line, added_by, added_at FROM policy_signatures
             WHERE $1::TEXT IS NULL OR sha256 = $1 ORDER BY sha256, key_id",
            &[&sha256],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| crate::store::StoredSignature { sha256: r.get(0), key_id: r.get(1), line: r.get(2), added_by: r.get(3), added_at: r.get(4) })
        .collect())
}

pub(super) fn window_from_row(r: &Row) -> Window {
    window_at(r, 0)
}

/// A window from the row's columns `first..first + 7` (id, start_at, end_at, reason,
/// created_by, created_at, status).
pub(super) fn window_at(r: &Row, first: usize) -> Window {
    Window {
        id: r.get(first),
        start_at: r.get(first + 1),
        end_at: r.get(first + 2),
        reason: r.get(first + 3),
        created_by: r.get(first + 4),
        created_at: r.get(first + 5),
        status: WindowStatus::parse(r.get(first + 6)).unwrap_or(WindowStatus::Cancelled),
    }
}

pub(super) async fn all_windows(client: &impl GenericClient) -> PgResult<Vec<Window>> {
    let rows = client
        .query(
            "SELECT id, start_at, end_at, reason, created_by, created_at, status FROM maintenance_windows ORDER BY start_at, id",
            &[],
        )
        .await?;
    Ok(rows.iter().map(window_from_row).collect())
}

pub(super) async fn history(client: &impl GenericClient, page: &Page) -> PgResult<(Vec<Transition>, u64)> {
    let state = |s: &str| drydock_engine::MaintenanceState::parse(s).unwrap_or(drydock_engine::MaintenanceState::Deactivated);
    let (limit, offset) = (i64::from(page.size), i64::from(page.offset));
    let rows = client
        .query(
            "SELECT at, username, from_state, to_state, reason, detail FROM maintenance_history
             ORDER BY seq DESC LIMIT $1 OFFSET $2",
            &[&limit, &offset],
        )
        .await?;
    let items = rows
        .iter()
        .map(|r| Transition {
            at: r.get(0),
            by: r.get(1),
            from: state(r.get(2)),
            to: state(r.get(3)),
            reason: r.get(4),
            detail: r.get(5),
        })
        .collect();
    let total: i64 = client.query_one("SELECT COUNT(*) FROM maintenance_history", &[]).await?.get(0);
    Ok((items, total as u64))
}
