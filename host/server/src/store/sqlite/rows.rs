//! Rows to records: the parse at the storage edge.

use rusqlite::Row;
use serde_json::Value;

use drydock_engine::{ExecutionStatus, Role};

use crate::store::{Budget, Deployment, Execution, Page, PolicyRecord, Scope, User, Visibility};

pub(super) fn json_col(row: &Row, idx: &str) -> rusqlite::Result<Value> {
    let text: String = row.get(idx)?;
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub(super) fn execution_from_row(row: &Row) -> rusqlite::Result<Execution> {
    let status: String = row.get("status")?;
    Ok(Execution {
        id: row.get("id")?,
        deployment_id: row.get("deployment_id")?,
        workflow_id: row.get("workflow_id")?,
        // The column is only ever written from the enum; an unknown value means a
        // foreign writer, and "failed" keeps it from holding maintenance forever.
        status: ExecutionStatus::parse(&status).unwrap_or(ExecutionStatus::Failed),
        parameters: json_col(row, "parameters")?,
        error: row.get("error")?,
        is_system_workflow: row.get("is_system_workflow")?,
        created_at: row.get("created_at")?,
        started_at: row.get("started_at")?,
        ended_at: row.get("ended_at")?,
        created_by: row.get("created_by")?,
        tenant_name: row.get("tenant_name")?,
        visibility: visibility_col(row)?,
        vouched: row.get("vouched")?,
    })
}

/// The column is only ever written from the enum (and a CHECK holds it there).
fn visibility_col(row: &Row) -> rusqlite::Result<Visibility> {
    let v: String = row.get("visibility")?;
    Ok(Visibility::parse(&v).unwrap_or(Visibility::Private))
}

pub(super) fn user_from_row(r: &Row) -> rusqlite::Result<User> {
    let role: String = r.get("role")?;
    Ok(User {
        username: r.get("username")?,
        password_hash: r.get("password_hash")?,
        role: Role::parse(&role).unwrap_or(Role::User),
        created_at: r.get("created_at")?,
    })
}

pub(super) fn deployment_from_row(row: &Row) -> rusqlite::Result<Deployment> {
    Ok(Deployment {
        id: row.get("id")?,
        blueprint_id: row.get("blueprint_id")?,
        inputs: json_col(row, "inputs")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        created_by: row.get("created_by")?,
        tenant_name: row.get("tenant_name")?,
        visibility: visibility_col(row)?,
    })
}

/// The clause (and its arguments, numbered from `first`) that keeps a list of
/// deployments or executions to what `scope` sees (see [`Scope::sees`]).
pub(super) fn scope_filter(scope: Option<&Scope>, first: usize) -> (String, Vec<String>) {
    match scope {
        None => (String::new(), Vec::new()),
        Some(s) => {
            let private = if s.sees_private { String::new() } else { format!(" AND (visibility <> 'private' OR created_by = ?{})", first + 1) };
            let clause = format!(" AND (tenant_name = ?{first} OR visibility = 'global'){private}");
            let mut args = vec![s.tenant.clone()];
            if !s.sees_private {
                args.push(s.username.clone());
            }
            (clause, args)
        }
    }
}

pub(super) fn order_by(page: &Page, default: &str) -> String {
    match page.sort {
        Some((col, desc)) => format!(" ORDER BY {col} {}, rowid", if desc { "DESC" } else { "ASC" }),
        None => format!(" ORDER BY {default}, rowid"),
    }
}


pub(super) const POLICY_COLUMNS: &str = "id, sha256, name, version, size, uploaded_by, uploaded_at, memory_mib, deadline_ms";

pub(super) fn policy_from_row(r: &Row) -> rusqlite::Result<PolicyRecord> {
    Ok(PolicyRecord {
        id: r.get(0)?,
        sha256: r.get(1)?,
        name: r.get(2)?,
        version: r.get(3)?,
        size: r.get(4)?,
        uploaded_by: r.get(5)?,
        uploaded_at: r.get(6)?,
        budget: Budget { memory_mib: r.get(7)?, deadline_ms: r.get(8)? },
    })
}

