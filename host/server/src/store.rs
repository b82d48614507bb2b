//! SQLite persistence: the one place that knows SQL.
//!
//! A `Store` owns one connection. The `Manager` keeps it behind its lock, so every
//! write happens inside the same critical section as the in-memory state it mirrors.

use std::path::Path;

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

use drydock_engine::ExecutionStatus;
use drydock_gate::Role;
use drydock_engine::MaintenanceState;

/// Migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_policies.sql"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceRecord {
    pub status: MaintenanceState,
    pub activation_requested_at: String,
    pub activated_at: Option<String>,
    pub requested_by: String,
}

#[derive(Debug, Clone)]
pub struct User {
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: String,
    pub blueprint_id: Option<String>,
    pub inputs: Value,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    pub tenant_name: String,
}

#[derive(Debug, Clone)]
pub struct Execution {
    pub id: String,
    pub deployment_id: Option<String>,
    pub workflow_id: String,
    pub status: ExecutionStatus,
    pub parameters: Value,
    pub error: String,
    pub is_system_workflow: bool,
    pub created_at: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub created_by: String,
    pub tenant_name: String,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub execution_id: String,
    pub timestamp: String,
    pub event_type: String,
    pub message: String,
}

/// Which slice of a list to return, already validated at the edge.
#[derive(Debug, Clone)]
pub struct Page {
    pub offset: u32,
    pub size: u32,
    /// A column name from the table's sortable set, and whether descending.
    pub sort: Option<(&'static str, bool)>,
}

pub struct Store {
    conn: Connection,
}

fn json_col(row: &Row, idx: &str) -> rusqlite::Result<Value> {
    let text: String = row.get(idx)?;
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn execution_from_row(row: &Row) -> rusqlite::Result<Execution> {
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
    })
}

fn user_from_row(r: &Row) -> rusqlite::Result<User> {
    let role: String = r.get("role")?;
    Ok(User {
        username: r.get("username")?,
        password_hash: r.get("password_hash")?,
        role: Role::parse(&role).unwrap_or(Role::User),
        created_at: r.get("created_at")?,
    })
}

fn deployment_from_row(row: &Row) -> rusqlite::Result<Deployment> {
    Ok(Deployment {
        id: row.get("id")?,
        blueprint_id: row.get("blueprint_id")?,
        inputs: json_col(row, "inputs")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        created_by: row.get("created_by")?,
        tenant_name: row.get("tenant_name")?,
    })
}

fn order_by(page: &Page, default: &str) -> String {
    match page.sort {
        Some((col, desc)) => format!(" ORDER BY {col} {}, rowid", if desc { "DESC" } else { "ASC" }),
        None => format!(" ORDER BY {default}, rowid"),
    }
}

impl Store {
    /// Open (creating if needed) the database in `dir`, and bring its schema up to date.
    pub fn open(dir: &Path) -> anyhow::Result<Store> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        let path = dir.join("drydock.sqlite3");
        let conn = Connection::open(&path)
            .with_context(|| format!("cannot open database {}", path.display()))?;
        Self::init(conn)
    }

    /// An in-memory database, for unit tests of code above the store.
    pub fn open_in_memory() -> anyhow::Result<Store> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> anyhow::Result<Store> {
        // WAL: readers never block the writer; a crash mid-write leaves the last
        // committed state. synchronous=FULL: a commit is on disk when it returns.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> anyhow::Result<()> {
        let applied: usize = self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if applied > MIGRATIONS.len() {
            anyhow::bail!(
                "the database schema is version {applied}, newer than this drydock knows ({}); use a newer drydock",
                MIGRATIONS.len()
            );
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql).with_context(|| format!("migration {} failed", i + 1))?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Run `f` in one transaction: everything it writes lands, or nothing does.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&Tx<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let tx = self.conn.transaction()?;
        let out = f(&Tx { tx: &tx })?;
        tx.commit()?;
        Ok(out)
    }

    /// Read-only access (no transaction needed for single statements).
    pub fn read(&self) -> Tx<'_> {
        Tx { tx: &self.conn }
    }
}

/// Statements, usable inside a transaction or on the bare connection.
pub struct Tx<'a> {
    tx: &'a Connection,
}

impl Tx<'_> {
    // ---- maintenance ----

    pub fn maintenance(&self) -> anyhow::Result<Option<MaintenanceRecord>> {
        let row = self
            .tx
            .query_row(
                "SELECT status, activation_requested_at, activated_at, requested_by FROM maintenance WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()?;
        Ok(row.map(|(status, requested, activated, by)| MaintenanceRecord {
            status: MaintenanceState::parse(&status).unwrap_or(MaintenanceState::Activated),
            activation_requested_at: requested,
            activated_at: activated,
            requested_by: by,
        }))
    }

    pub fn set_maintenance(&self, rec: Option<&MaintenanceRecord>) -> anyhow::Result<()> {
        match rec {
            None => {
                self.tx.execute("DELETE FROM maintenance", [])?;
            }
            Some(rec) => {
                self.tx.execute(
                    "INSERT INTO maintenance (id, status, activation_requested_at, activated_at, requested_by)
                     VALUES (1, ?1, ?2, ?3, ?4)
                     ON CONFLICT (id) DO UPDATE SET status = ?1, activation_requested_at = ?2,
                        activated_at = ?3, requested_by = ?4",
                    params![
                        rec.status.as_str(),
                        rec.activation_requested_at,
                        rec.activated_at,
                        rec.requested_by
                    ],
                )?;
            }
        }
        Ok(())
    }

    // ---- users ----

    pub fn user(&self, username: &str) -> anyhow::Result<Option<User>> {
        Ok(self
            .tx
            .query_row(
                "SELECT username, password_hash, role, created_at FROM users WHERE username = ?1",
                [username],
                user_from_row,
            )
            .optional()?)
    }

    pub fn insert_user(&self, user: &User) -> anyhow::Result<()> {
        self.tx.execute(
            "INSERT INTO users (username, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![user.username, user.password_hash, user.role.as_str(), user.created_at],
        )?;
        Ok(())
    }

    pub fn users(&self) -> anyhow::Result<Vec<User>> {
        let mut stmt = self
            .tx
            .prepare("SELECT username, password_hash, role, created_at FROM users ORDER BY username")?;
        let rows = stmt.query_map([], user_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- deployments ----

    pub fn deployment(&self, id: &str) -> anyhow::Result<Option<Deployment>> {
        Ok(self
            .tx
            .query_row("SELECT * FROM deployments WHERE id = ?1", [id], deployment_from_row)
            .optional()?)
    }

    pub fn insert_deployment(&self, d: &Deployment) -> anyhow::Result<()> {
        self.tx.execute(
            "INSERT INTO deployments (id, blueprint_id, inputs, created_at, updated_at, created_by, tenant_name)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                d.id,
                d.blueprint_id,
                d.inputs.to_string(),
                d.created_at,
                d.updated_at,
                d.created_by,
                d.tenant_name
            ],
        )?;
        Ok(())
    }

    pub fn delete_deployment(&self, id: &str) -> anyhow::Result<bool> {
        Ok(self.tx.execute("DELETE FROM deployments WHERE id = ?1", [id])? > 0)
    }

    pub fn deployments(&self, page: &Page) -> anyhow::Result<(Vec<Deployment>, u64)> {
        let sql = format!(
            "SELECT * FROM deployments{} LIMIT ?1 OFFSET ?2",
            order_by(page, "created_at")
        );
        let mut stmt = self.tx.prepare(&sql)?;
        let items = stmt
            .query_map(params![page.size, page.offset], deployment_from_row)?
            .collect::<Result<_, _>>()?;
        let total = self.tx.query_row("SELECT COUNT(*) FROM deployments", [], |r| r.get(0))?;
        Ok((items, total))
    }

    // ---- executions ----

    pub fn execution(&self, id: &str) -> anyhow::Result<Option<Execution>> {
        Ok(self
            .tx
            .query_row("SELECT * FROM executions WHERE id = ?1", [id], execution_from_row)
            .optional()?)
    }

    pub fn insert_execution(&self, e: &Execution) -> anyhow::Result<()> {
        self.tx.execute(
            "INSERT INTO executions (id, deployment_id, workflow_id, status, parameters, error,
                is_system_workflow, created_at, started_at, ended_at, created_by, tenant_name)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                e.id,
                e.deployment_id,
                e.workflow_id,
                e.status.as_str(),
                e.parameters.to_string(),
                e.error,
                e.is_system_workflow,
                e.created_at,
                e.started_at,
                e.ended_at,
                e.created_by,
                e.tenant_name
            ],
        )?;
        Ok(())
    }

    pub fn update_execution(&self, e: &Execution) -> anyhow::Result<()> {
        self.tx.execute(
            "UPDATE executions SET status = ?2, error = ?3, started_at = ?4, ended_at = ?5 WHERE id = ?1",
            params![e.id, e.status.as_str(), e.error, e.started_at, e.ended_at],
        )?;
        Ok(())
    }

    /// Executions, optionally of one deployment and/or with given statuses.
    pub fn executions(
        &self,
        deployment_id: Option<&str>,
        statuses: &[ExecutionStatus],
        page: &Page,
    ) -> anyhow::Result<(Vec<Execution>, u64)> {
        let mut filter = String::from(" WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        if let Some(dep) = deployment_id {
            args.push(dep.to_string());
            filter.push_str(&format!(" AND deployment_id = ?{}", args.len()));
        }
        if !statuses.is_empty() {
            let marks: Vec<String> = statuses
                .iter()
                .map(|s| {
                    args.push(s.as_str().to_string());
                    format!("?{}", args.len())
                })
                .collect();
            filter.push_str(&format!(" AND status IN ({})", marks.join(", ")));
        }
        let n = args.len();
        let sql = format!(
            "SELECT * FROM executions{filter}{} LIMIT ?{} OFFSET ?{}",
            order_by(page, "created_at"),
            n + 1,
            n + 2
        );
        let mut bound: Vec<&dyn rusqlite::ToSql> =
            args.iter().map(|a| a as &dyn rusqlite::ToSql).collect();
        let total = self.tx.query_row(
            &format!("SELECT COUNT(*) FROM executions{filter}"),
            bound.as_slice(),
            |r| r.get(0),
        )?;
        bound.push(&page.size);
        bound.push(&page.offset);
        let mut stmt = self.tx.prepare(&sql)?;
        let items = stmt
            .query_map(bound.as_slice(), execution_from_row)?
            .collect::<Result<_, _>>()?;
        Ok((items, total))
    }

    /// Every execution not in an end state (the set that holds maintenance back).
    pub fn unfinished_executions(&self) -> anyhow::Result<Vec<Execution>> {
        let mut stmt = self.tx.prepare(
            "SELECT * FROM executions WHERE status NOT IN ('terminated', 'failed', 'cancelled') ORDER BY created_at, rowid",
        )?;
        let rows = stmt.query_map([], execution_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- events ----

    pub fn insert_event(
        &self,
        execution_id: &str,
        timestamp: &str,
        event_type: &str,
        message: &str,
    ) -> anyhow::Result<()> {
        self.tx.execute(
            "INSERT INTO events (execution_id, timestamp, event_type, message) VALUES (?1, ?2, ?3, ?4)",
            params![execution_id, timestamp, event_type, message],
        )?;
        Ok(())
    }

    pub fn events(&self, execution_id: &str, page: &Page) -> anyhow::Result<(Vec<Event>, u64)> {
        let mut stmt = self.tx.prepare(
            "SELECT id, execution_id, timestamp, event_type, message FROM events
             WHERE execution_id = ?1 ORDER BY id LIMIT ?2 OFFSET ?3",
        )?;
        let items = stmt
            .query_map(params![execution_id, page.size, page.offset], |r| {
                Ok(Event {
                    id: r.get(0)?,
                    execution_id: r.get(1)?,
                    timestamp: r.get(2)?,
                    event_type: r.get(3)?,
                    message: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let total = self.tx.query_row(
            "SELECT COUNT(*) FROM events WHERE execution_id = ?1",
            [execution_id],
            |r| r.get(0),
        )?;
        Ok((items, total))
    }
}

// ---- policies ----

/// An uploaded policy version (the component bytes are read separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRecord {
    pub id: String,
    pub sha256: String,
    pub name: String,
    pub version: String,
    pub size: u64,
    pub uploaded_by: String,
    pub uploaded_at: String,
}

/// Which version is active, which one a rollback returns to, and the shadow candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyState {
    pub active_id: String,
    pub active_since: String,
    pub activated_by: String,
    pub previous_id: Option<String>,
    /// (candidate id, since, by)
    pub shadow: Option<(String, String, String)>,
}

/// One line of the policy audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyLogEntry {
    pub seq: i64,
    pub at: String,
    pub username: String,
    pub action: String,
    pub policy_id: String,
    pub detail: String,
}

const POLICY_COLUMNS: &str = "id, sha256, name, version, size, uploaded_by, uploaded_at";

fn policy_from_row(r: &Row) -> rusqlite::Result<PolicyRecord> {
    Ok(PolicyRecord {
        id: r.get(0)?,
        sha256: r.get(1)?,
        name: r.get(2)?,
        version: r.get(3)?,
        size: r.get(4)?,
        uploaded_by: r.get(5)?,
        uploaded_at: r.get(6)?,
    })
}

impl Tx<'_> {
    /// Every uploaded version, oldest first.
    pub fn policies(&self) -> anyhow::Result<Vec<PolicyRecord>> {
        let mut stmt = self.tx.prepare(&format!("SELECT {POLICY_COLUMNS} FROM policies ORDER BY uploaded_at, rowid"))?;
        let rows = stmt.query_map([], policy_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn policy(&self, id: &str) -> anyhow::Result<Option<PolicyRecord>> {
        Ok(self
            .tx
            .query_row(&format!("SELECT {POLICY_COLUMNS} FROM policies WHERE id = ?1"), [id], policy_from_row)
            .optional()?)
    }

    pub fn policy_by_sha256(&self, sha256: &str) -> anyhow::Result<Option<PolicyRecord>> {
        Ok(self
            .tx
            .query_row(&format!("SELECT {POLICY_COLUMNS} FROM policies WHERE sha256 = ?1"), [sha256], policy_from_row)
            .optional()?)
    }

    /// The component bytes of an uploaded version.
    pub fn policy_component(&self, id: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.tx.query_row("SELECT component FROM policies WHERE id = ?1", [id], |r| r.get(0)).optional()?)
    }

    pub fn insert_policy(&self, rec: &PolicyRecord, component: &[u8]) -> anyhow::Result<()> {
        self.tx.execute(
            "INSERT INTO policies (id, sha256, name, version, size, component, uploaded_by, uploaded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![rec.id, rec.sha256, rec.name, rec.version, rec.size, component, rec.uploaded_by, rec.uploaded_at],
        )?;
        Ok(())
    }

    pub fn delete_policy(&self, id: &str) -> anyhow::Result<bool> {
        Ok(self.tx.execute("DELETE FROM policies WHERE id = ?1", [id])? > 0)
    }

    /// `None` until the first change: the builtin is active, nothing else is set.
    pub fn policy_state(&self) -> anyhow::Result<Option<PolicyState>> {
        Ok(self
            .tx
            .query_row(
                "SELECT active_id, active_since, activated_by, previous_id, shadow_id, shadow_since, shadow_by
                 FROM policy_state WHERE id = 1",
                [],
                |r| {
                    let shadow = match (r.get::<_, Option<String>>(4)?, r.get::<_, Option<String>>(5)?, r.get::<_, Option<String>>(6)?) {
                        (Some(id), Some(since), Some(by)) => Some((id, since, by)),
                        _ => None,
                    };
                    Ok(PolicyState {
                        active_id: r.get(0)?,
                        active_since: r.get(1)?,
                        activated_by: r.get(2)?,
                        previous_id: r.get(3)?,
                        shadow,
                    })
                },
            )
            .optional()?)
    }

    pub fn set_policy_state(&self, st: &PolicyState) -> anyhow::Result<()> {
        let (shadow_id, shadow_since, shadow_by) = match &st.shadow {
            Some((id, since, by)) => (Some(id), Some(since), Some(by)),
            None => (None, None, None),
        };
        self.tx.execute(
            "INSERT INTO policy_state (id, active_id, active_since, activated_by, previous_id, shadow_id, shadow_since, shadow_by)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET active_id = ?1, active_since = ?2, activated_by = ?3,
                previous_id = ?4, shadow_id = ?5, shadow_since = ?6, shadow_by = ?7",
            params![st.active_id, st.active_since, st.activated_by, st.previous_id, shadow_id, shadow_since, shadow_by],
        )?;
        Ok(())
    }

    pub fn log_policy(&self, at: &str, username: &str, action: &str, policy_id: &str, detail: &str) -> anyhow::Result<()> {
        self.tx.execute(
            "INSERT INTO policy_log (at, username, action, policy_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![at, username, action, policy_id, detail],
        )?;
        Ok(())
    }

    /// The newest `limit` audit entries, newest first.
    pub fn policy_log(&self, limit: u32) -> anyhow::Result<Vec<PolicyLogEntry>> {
        let mut stmt = self.tx.prepare(
            "SELECT seq, at, username, action, policy_id, detail FROM policy_log ORDER BY seq DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok(PolicyLogEntry {
                seq: r.get(0)?,
                at: r.get(1)?,
                username: r.get(2)?,
                action: r.get(3)?,
                policy_id: r.get(4)?,
                detail: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
