//! The embedded backend: one SQLite file in the data directory, the one place with
//! SQL. One connection writes (behind a mutex: SQLite has one writer anyway), another
//! reads; in WAL mode a read sees the last commit and never waits for a write's fsync.

mod deployments;
mod executions;
mod maintenance;
mod policies;
mod rows;
mod users;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use anyhow::Context;
use drydock_engine::ExecutionStatus;
use rusqlite::Connection;

use super::{
    Deployment, Event, Execution, Generations, ManagerState, MaintenanceRecord, NewEvent, NewPolicy, Outcome, Page,
    PolicyChange, PolicyLogEntry, PolicyRecord, PolicyState, Result, StateTx, Store, Transition, TxBody, User, Window,
    WindowStatus,
};

/// Migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/0001_init.sql"),
    include_str!("../../../migrations/0002_policies.sql"),
    include_str!("../../../migrations/0003_artifacts.sql"),
    include_str!("../../../migrations/0004_generations.sql"),
    include_str!("../../../migrations/0005_planning.sql"),
];

/// The database file inside the data directory.
pub const FILE_NAME: &str = "drydock.sqlite3";

pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

/// Statements, usable inside a transaction or on the bare connection.
struct Tx<'a> {
    tx: &'a Connection,
}

fn connect(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path).with_context(|| format!("cannot open database {}", path.display()))?;
    // WAL: readers never block the writer; a crash mid-write leaves the last
    // committed state. synchronous=FULL: a commit is on disk when it returns.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

#[cfg(unix)]
fn owner_only(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot make {} readable by its owner only", path.display()))
}

#[cfg(not(unix))]
fn owner_only(_: &Path, _: u32) -> anyhow::Result<()> {
    Ok(())
}

fn locked(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic mid-transaction rolls it back when the transaction drops: the
    // connection itself is still sound.
    conn.lock().unwrap_or_else(|p| p.into_inner())
}

impl SqliteStore {
    /// Open (creating if needed) the database in `dir`, and bring its schema up to date.
    pub fn open(dir: &Path) -> anyhow::Result<SqliteStore> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create data directory {}", dir.display()))?;
        // Users' password hashes and the policies live here: the owner's alone.
        owner_only(dir, 0o700)?;
        let path = dir.join(FILE_NAME);
        let mut writer = connect(&path)?;
        // SQLite gives its -wal and -shm files the database file's mode.
        owner_only(&path, 0o600)?;
        migrate(&mut writer)?;
        let reader = connect(&path)?;
        Ok(SqliteStore { path, writer: Mutex::new(writer), reader: Mutex::new(reader) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` in one write transaction: everything it writes lands, or nothing does.
    fn write<T>(&self, f: impl FnOnce(&Tx<'_>) -> anyhow::Result<T>) -> Result<T> {
        let mut conn = locked(&self.writer);
        // IMMEDIATE: SQLite's write lock from the first statement, so what a
        // transaction reads is what it writes against.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&Tx { tx: &tx })?;
        tx.commit()?;
        Ok(out)
    }

    /// Run `f` on the reading connection.
    fn read<T>(&self, f: impl FnOnce(&Tx<'_>) -> anyhow::Result<T>) -> Result<T> {
        let conn = locked(&self.reader);
        f(&Tx { tx: &conn })
    }
}

fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let applied: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if applied > MIGRATIONS.len() {
        anyhow::bail!(
            "the database schema is version {applied}, newer than this drydock knows ({}); use a newer drydock",
            MIGRATIONS.len()
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql).with_context(|| format!("migration {} failed", i + 1))?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// The state transaction's writes, tracking which generations they move.
struct StateWrites<'a> {
    tx: Tx<'a>,
    state: ManagerState,
    state_changed: bool,
    users_changed: bool,
}

impl StateTx for StateWrites<'_> {
    fn state(&self) -> &ManagerState {
        &self.state
    }

    fn execution(&mut self, id: &str) -> Result<Option<Execution>> {
        self.tx.execution(id)
    }

    fn insert_execution(&mut self, e: &Execution, event: &NewEvent) -> Result<()> {
        self.tx.insert_execution(e)?;
        self.tx.insert_event(&e.id, event)?;
        self.state_changed = true;
        self.state.inserted(e);
        Ok(())
    }

    fn update_execution(&mut self, e: &Execution, event: &NewEvent) -> Result<()> {
        self.tx.update_execution(e)?;
        self.tx.insert_event(&e.id, event)?;
        self.state_changed = true;
        self.state.updated(e);
        Ok(())
    }

    fn set_maintenance(&mut self, rec: Option<&MaintenanceRecord>) -> Result<()> {
        self.tx.set_maintenance(rec)?;
        self.state_changed = true;
        self.state.maintenance = rec.cloned();
        Ok(())
    }

    fn deployment(&mut self, id: &str) -> Result<Option<Deployment>> {
        self.tx.deployment(id)
    }

    fn insert_deployment(&mut self, d: &Deployment) -> Result<()> {
        self.tx.insert_deployment(d)
    }

    fn delete_deployment(&mut self, id: &str) -> Result<bool> {
        self.tx.delete_deployment(id)
    }

    fn user(&mut self, username: &str) -> Result<Option<User>> {
        self.tx.user(username)
    }

    fn has_users(&mut self) -> Result<bool> {
        Ok(self.tx.tx.query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0))?)
    }

    fn insert_user(&mut self, user: &User) -> Result<()> {
        self.users_changed = true;
        self.tx.insert_user(user)
    }

    fn update_user(&mut self, user: &User) -> Result<()> {
        self.users_changed = true;
        self.tx.update_user(user)
    }

    fn delete_user(&mut self, username: &str) -> Result<bool> {
        self.users_changed = true;
        self.tx.delete_user(username)
    }

    fn record_transition(&mut self, t: &Transition) -> Result<()> {
        self.tx.record_transition(t)
    }

    fn insert_window(&mut self, w: &Window) -> Result<()> {
        self.tx.insert_window(w)?;
        self.state_changed = true;
        self.state.windows.push(w.clone());
        self.state.windows.sort_by(|a, b| (&a.start_at, &a.id).cmp(&(&b.start_at, &b.id)));
        Ok(())
    }

    fn set_window_status(&mut self, id: &str, status: WindowStatus) -> Result<()> {
        self.tx.set_window_status(id, status)?;
        self.state_changed = true;
        self.state.set_window_status(id, status);
        Ok(())
    }
}

impl Store for SqliteStore {
    fn generations(&self) -> Result<Generations> {
        self.read(|tx| tx.generations())
    }

    fn manager_state(&self) -> Result<ManagerState> {
        self.read(|tx| tx.manager_state())
    }

    fn transact(&self, expected: Option<u64>, body: TxBody<'_>) -> crate::error::Result<Outcome> {
        let mut conn = locked(&self.writer);
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(anyhow::Error::from)?;
        let state = Tx { tx: &tx }.manager_state()?;
        if expected.is_some_and(|v| v != state.version) {
            return Ok(Outcome::Moved(state));
        }
        let mut writes = StateWrites { tx: Tx { tx: &tx }, state, state_changed: false, users_changed: false };
        body(&mut writes)?;
        let StateWrites { mut state, state_changed, users_changed, .. } = writes;
        if state_changed || users_changed {
            Tx { tx: &tx }.bump(state_changed, false, users_changed)?;
        }
        // The writes kept `state` current; the lock held, the version moved by one.
        state.version += u64::from(state_changed);
        tx.commit().map_err(anyhow::Error::from)?;
        Ok(Outcome::Committed(state))
    }

    fn execution(&self, id: &str) -> Result<Option<Execution>> {
        self.read(|tx| tx.execution(id))
    }

    fn executions(&self, deployment_id: Option<&str>, statuses: &[ExecutionStatus], page: &Page) -> Result<(Vec<Execution>, u64)> {
        self.read(|tx| tx.executions(deployment_id, statuses, page))
    }

    fn events(&self, execution_id: &str, page: &Page) -> Result<(Vec<Event>, u64)> {
        self.read(|tx| tx.events(execution_id, page))
    }

    fn deployment(&self, id: &str) -> Result<Option<Deployment>> {
        self.read(|tx| tx.deployment(id))
    }

    fn deployments(&self, page: &Page) -> Result<(Vec<Deployment>, u64)> {
        self.read(|tx| tx.deployments(page))
    }

    fn user(&self, username: &str) -> Result<Option<User>> {
        self.read(|tx| tx.user(username))
    }

    fn users(&self) -> Result<Vec<User>> {
        self.read(|tx| tx.users())
    }

    fn history(&self, page: &Page) -> Result<(Vec<Transition>, u64)> {
        self.read(|tx| tx.history(page))
    }

    fn all_windows(&self) -> Result<Vec<Window>> {
        self.read(|tx| tx.windows(false))
    }

    fn policies(&self) -> Result<Vec<PolicyRecord>> {
        self.read(|tx| tx.policies())
    }

    fn policy(&self, id: &str) -> Result<Option<PolicyRecord>> {
        self.read(|tx| tx.policy(id))
    }

    fn policy_component(&self, id: &str) -> Result<Option<Vec<u8>>> {
        self.read(|tx| tx.policy_component(id))
    }

    fn insert_policy(&self, new: &NewPolicy, component: &[u8]) -> Result<(PolicyRecord, bool)> {
        self.write(|tx| {
            if let Some(rec) = tx.policy_by_sha256(&new.sha256)? {
                return Ok((rec, false));
            }
            let short_is_taken = tx.policy(new.id(false))?.is_some();
            let rec = new.record(new.id(short_is_taken));
            tx.insert_policy(&rec, component)?;
            tx.log_policy(&new.upload_line(&rec))?;
            Ok((rec, true))
        })
    }

    fn policy_state(&self) -> Result<Option<PolicyState>> {
        self.read(|tx| tx.policy_state())
    }

    fn set_policy_state(&self, state: &PolicyState, log: &[PolicyChange]) -> Result<()> {
        self.write(|tx| {
            tx.set_policy_state(state)?;
            tx.bump(false, true, false)?;
            log.iter().try_for_each(|line| tx.log_policy(line))
        })
    }

    fn delete_policy(&self, id: &str, state: &PolicyState, log: &PolicyChange) -> Result<()> {
        self.write(|tx| {
            tx.delete_policy(id)?;
            tx.set_policy_state(state)?;
            tx.bump(false, true, false)?;
            tx.log_policy(log)
        })
    }

    fn policy_log(&self, limit: u32) -> Result<Vec<PolicyLogEntry>> {
        self.read(|tx| tx.policy_log(limit))
    }

    fn artifact_digest(&self, component_sha256: &str, engine: &str) -> Result<Option<String>> {
        self.read(|tx| tx.artifact_digest(component_sha256, engine))
    }

    fn record_artifact(&self, component_sha256: &str, engine: &str, artifact_sha256: &str) -> Result<()> {
        self.write(|tx| tx.record_artifact(component_sha256, engine, artifact_sha256))
    }
}
