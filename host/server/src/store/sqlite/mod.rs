//! The embedded backend: one SQLite file in the data directory, the one place with
//! SQL. One connection writes (behind a mutex: SQLite has one writer anyway), another
//! reads; in WAL mode a read sees the last commit and never waits for a write's fsync.
//!
//! Group commit: writers that arrive while another holds the connection join its
//! transaction, each in a savepoint of its own (an error undoes only its own writes),
//! and the last of them commits for all: 8 writers cost about one fsync a batch, not
//! one each. Nobody is answered before the commit that holds their writes is on
//! disk (`synchronous=FULL`), so an acknowledged write survives `kill -9`. SQLite's
//! transactions live on one connection, so there is no library to do this for us.
//!
//! The store is the only writer of its file, so it keeps the manager's state (the
//! maintenance row, the windows, the counts of unfinished executions) as it commits,
//! and reads it whole only when it opens.

mod decisions;
mod deployments;
mod executions;
mod maintenance;
mod policies;
mod rows;
mod tenants;
mod users;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex, MutexGuard};

use anyhow::Context;
use drydock_engine::ExecutionStatus;
use rusqlite::Connection;

use super::{
    Deployment, Event, Execution, Generations, Lock, ManagerState, MaintenanceRecord, NewEvent, NewPolicy, Page,
    PolicyBody, PolicyLogEntry, PolicyRecord, PolicyState, Remaining, Result, Scope, StateTx, Store, Tenant, TenantRole,
    Transition, TxBody, User, Window, WindowStatus,
};

/// Migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/0001_init.sql"),
    include_str!("../../../migrations/0002_policies.sql"),
    include_str!("../../../migrations/0003_artifacts.sql"),
    include_str!("../../../migrations/0004_generations.sql"),
    include_str!("../../../migrations/0005_planning.sql"),
    include_str!("../../../migrations/0006_backlog.sql"),
    include_str!("../../../migrations/0007_policy_selection.sql"),
    include_str!("../../../migrations/0008_tenants.sql"),
    include_str!("../../../migrations/0009_decisions.sql"),
    include_str!("../../../migrations/0010_signatures.sql"),
    include_str!("../../../migrations/0011_budgets.sql"),
    include_str!("../../../migrations/0012_execution_totals.sql"),
];

/// Writers one commit may answer at most: a steady stream of arrivals still gets
/// its commits.
const MAX_BATCH: usize = 64;

/// The database file inside the data directory.
pub const FILE_NAME: &str = "drydock.sqlite3";

pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Writer>,
    /// Writers waiting for the writer connection: while there are some, a writer
    /// leaves the batch open for them, and the last one commits it.
    queued: AtomicUsize,
    /// Batches committed (or failed) so far: a writer whose batch another commits
    /// waits here for it.
    commits: Mutex<Commits>,
    committed: Condvar,
    /// The state as of the last commit.
    state: Mutex<ManagerState>,
    reader: Mutex<Connection>,
}

struct Writer {
    conn: Connection,
    /// The batch transaction open on `conn`, if any.
    batch: Option<Batch>,
    batches: u64,
}

struct Batch {
    id: u64,
    /// Writers whose writes it holds.
    members: usize,
    /// The state with those writes.
    state: ManagerState,
}

#[derive(Default)]
struct Commits {
    /// The newest batch that is over (batches end in order).
    done: u64,
    /// Batches whose commit failed, newest last (a few: their writers are waiting).
    failed: std::collections::VecDeque<(u64, String)>,
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
    // A page cache of 16 MiB per connection (SQLite's default is 2): with 100,000
    // executions stored, a list's pages evicted the hot ones, and a read by id
    // went to the file (0.17 → 0.30 ms; a memory map would also do, but turns a
    // disk's read error into SIGBUS).
    conn.pragma_update(None, "cache_size", -16_384i64)?;
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

fn locked<T>(conn: &Mutex<T>) -> MutexGuard<'_, T> {
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
        let state = Tx { tx: &writer }.manager_state()?;
        let reader = connect(&path)?;
        Ok(SqliteStore {
            path,
            writer: Mutex::new(Writer { conn: writer, batch: None, batches: 0 }),
            queued: AtomicUsize::new(0),
            commits: Mutex::default(),
            committed: Condvar::new(),
            state: Mutex::new(state),
            reader: Mutex::new(reader),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` in one write transaction: everything it writes lands, or nothing does.
    fn write<T>(&self, f: impl FnOnce(&Tx<'_>) -> anyhow::Result<T>) -> Result<T> {
        self.batched(|tx, _| Ok(f(tx)?)).map_err(|e| match e {
            crate::error::Error::Internal(e) => e,
            e => anyhow::Error::new(e),
        })
    }

    /// Run `f` as one member of a batch (see the module's doc): its writes land
    /// whole, in the batch's commit, or not at all; it returns once that commit is
    /// on disk. `f` sees and updates the state as the batch left it.
    fn batched<T>(
        &self,
        f: impl FnOnce(&Tx<'_>, &mut ManagerState) -> crate::error::Result<T>,
    ) -> crate::error::Result<T> {
        self.queued.fetch_add(1, SeqCst);
        let mut writer = locked(&self.writer);
        self.queued.fetch_sub(1, SeqCst);
        let w = &mut *writer;
        if w.batch.is_none() {
            // IMMEDIATE: SQLite's write lock from the first statement, so what a
            // transaction reads is what it writes against.
            w.conn.execute_batch("BEGIN IMMEDIATE").map_err(anyhow::Error::from)?;
            w.batches += 1;
            let state = self.state.lock().unwrap_or_else(|p| p.into_inner()).clone();
            w.batch = Some(Batch { id: w.batches, members: 0, state });
        }
        let Writer { conn, batch, .. } = w;
        let batch = batch.as_mut().expect("a batch is open");
        let id = batch.id;
        let out = match conn.prepare_cached("SAVEPOINT member").and_then(|mut s| s.execute([])).map(drop) {
            Err(e) => Err(anyhow::Error::from(e).into()),
            Ok(()) => {
                let mut state = batch.state.clone();
                let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&Tx { tx: conn }, &mut state)));
                let kept = matches!(out, Ok(Ok(_)));
                let end = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(drop);
                let ended = if kept { end("RELEASE member") } else { end("ROLLBACK TO member").and_then(|()| end("RELEASE member")) };
                match ended {
                    Ok(()) if kept => {
                        batch.state = state;
                        batch.members += 1;
                    }
                    Ok(()) => {}
                    // The connection cannot undo one member: the whole batch goes.
                    Err(e) => {
                        self.end_batch(w, Err(format!("cannot end a savepoint: {e}")));
                        drop(writer);
                        return match out {
                            Err(panic) => std::panic::resume_unwind(panic),
                            Ok(_) => Err(anyhow::anyhow!("the write was rolled back: cannot end a savepoint: {e}").into()),
                        };
                    }
                }
                match out {
                    Ok(out) => out,
                    Err(panic) => {
                        self.end_batch_if_last(w);
                        drop(writer);
                        std::panic::resume_unwind(panic)
                    }
                }
            }
        };
        let Ok(value) = out else {
            // Nothing of this writer's is in the batch; it may still be the one to end it.
            self.end_batch_if_last(w);
            return out;
        };
        if self.end_batch_if_last(w) {
            drop(writer);
            return self.outcome(id).map(|()| value);
        }
        drop(writer);
        // Another writer is queued to join: it, or the last after it, commits.
        let mut commits = self.commits.lock().unwrap_or_else(|p| p.into_inner());
        while commits.done < id {
            commits = self.committed.wait(commits).unwrap_or_else(|p| p.into_inner());
        }
        drop(commits);
        self.outcome(id).map(|()| value)
    }

    /// Commit the open batch unless another writer is queued to join it (and it is
    /// not full). Whether it ended.
    fn end_batch_if_last(&self, w: &mut Writer) -> bool {
        let Some(batch) = &w.batch else { return true };
        if self.queued.load(SeqCst) > 0 && batch.members < MAX_BATCH {
            return false;
        }
        let result = if batch.members == 0 {
            w.conn.execute_batch("ROLLBACK").map_err(|e| e.to_string())
        } else {
            w.conn.execute_batch("COMMIT").map_err(|e| format!("the commit failed: {e}"))
        };
        self.end_batch(w, result);
        true
    }

    /// The open batch is over: committed (`Ok`) or not; its writers are told.
    fn end_batch(&self, w: &mut Writer, result: std::result::Result<(), String>) {
        let Some(batch) = w.batch.take() else { return };
        match result {
            Ok(()) => *self.state.lock().unwrap_or_else(|p| p.into_inner()) = batch.state,
            Err(why) => {
                // Whatever is still open is undone; the state stays as last committed.
                if !w.conn.is_autocommit() {
                    let _ = w.conn.execute_batch("ROLLBACK");
                }
                let mut commits = self.commits.lock().unwrap_or_else(|p| p.into_inner());
                commits.failed.push_back((batch.id, why));
                while commits.failed.len() > 16 {
                    commits.failed.pop_front();
                }
            }
        }
        let mut commits = self.commits.lock().unwrap_or_else(|p| p.into_inner());
        commits.done = batch.id;
        drop(commits);
        self.committed.notify_all();
    }

    /// Whether batch `id`, which is over, committed.
    fn outcome(&self, id: u64) -> crate::error::Result<()> {
        let commits = self.commits.lock().unwrap_or_else(|p| p.into_inner());
        match commits.failed.iter().find(|(b, _)| *b == id) {
            Some((_, why)) => Err(anyhow::anyhow!("{why}; nothing of this write was stored").into()),
            None => Ok(()),
        }
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
    tx: &'a Tx<'a>,
    state: &'a mut ManagerState,
    state_changed: bool,
    users_changed: bool,
}

impl StateTx for StateWrites<'_> {
    fn state(&self) -> &ManagerState {
        self.state
    }

    fn exclusive(&self) -> bool {
        true
    }

    fn has_unfinished(&mut self, deployment: &str) -> Result<bool> {
        self.tx.has_unfinished(deployment)
    }

    fn unfinished_ids(&mut self) -> Result<Vec<String>> {
        Ok(self.tx.remaining(usize::MAX)?.into_iter().map(|r| r.id).collect())
    }

    fn execution(&mut self, id: &str) -> Result<Option<Execution>> {
        self.tx.execution(id)
    }

    fn insert_execution(&mut self, e: &Execution, event: &NewEvent) -> Result<()> {
        self.tx.insert_execution(e)?;
        self.tx.insert_event(&e.id, event)?;
        self.state.counts.moved(None, e.status);
        Ok(())
    }

    fn update_execution(&mut self, e: &Execution, from: ExecutionStatus, event: &NewEvent) -> Result<()> {
        self.tx.update_execution(e)?;
        self.tx.insert_event(&e.id, event)?;
        self.state.counts.moved(Some(from), e.status);
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

    fn admins(&mut self) -> Result<u64> {
        Ok(self.tx.tx.query_row(
            "SELECT COUNT(*) FROM users WHERE role = ?1",
            [drydock_engine::Role::SysAdmin.as_str()],
            |r| r.get(0),
        )?)
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

    fn tenant(&mut self, name: &str) -> Result<Option<Tenant>> {
        self.tx.tenant(name)
    }

    fn insert_tenant(&mut self, name: &str, created_at: &str) -> Result<()> {
        self.tx.insert_tenant(name, created_at)
    }

    fn delete_tenant(&mut self, name: &str) -> Result<()> {
        self.users_changed = true;
        self.tx.delete_tenant(name).map(|_| ())
    }

    fn tenant_usage(&mut self, name: &str) -> Result<u64> {
        self.tx.tenant_usage(name)
    }

    fn set_member(&mut self, tenant: &str, username: &str, role: Option<TenantRole>) -> Result<()> {
        self.users_changed = true;
        self.tx.set_member(tenant, username, role)
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
        Ok(self.state.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    fn transact(&self, _lock: Lock, body: TxBody<'_>) -> crate::error::Result<ManagerState> {
        self.batched(|tx, state| {
            let mut writes = StateWrites { tx, state, state_changed: false, users_changed: false };
            body(&mut writes)?;
            let StateWrites { state, state_changed, users_changed, .. } = writes;
            if state_changed || users_changed {
                tx.bump(state_changed, false, users_changed)?;
            }
            // The writes kept `state` current; the lock held, the version moved by one.
            state.version += u64::from(state_changed);
            Ok(state.clone())
        })
    }

    fn remaining(&self, limit: usize) -> Result<Vec<Remaining>> {
        self.read(|tx| tx.remaining(limit))
    }

    fn execution(&self, id: &str) -> Result<Option<Execution>> {
        self.read(|tx| tx.execution(id))
    }

    fn executions(
        &self,
        scope: Option<&Scope>,
        deployment_id: Option<&str>,
        statuses: &[ExecutionStatus],
        page: &Page,
    ) -> Result<(Vec<Execution>, u64)> {
        self.read(|tx| tx.executions(scope, deployment_id, statuses, page))
    }

    fn events(&self, execution_id: &str, page: &Page) -> Result<(Vec<Event>, u64)> {
        self.read(|tx| tx.events(execution_id, page))
    }

    fn deployment(&self, id: &str) -> Result<Option<Deployment>> {
        self.read(|tx| tx.deployment(id))
    }

    fn deployments(&self, scope: Option<&Scope>, page: &Page) -> Result<(Vec<Deployment>, u64)> {
        self.read(|tx| tx.deployments(scope, page))
    }

    fn tenants(&self) -> Result<Vec<Tenant>> {
        self.read(|tx| tx.tenants())
    }

    fn tenant(&self, name: &str) -> Result<Option<Tenant>> {
        self.read(|tx| tx.tenant(name))
    }

    fn tenant_exists(&self, name: &str) -> Result<bool> {
        self.read(|tx| Ok(tx.tx.query_row("SELECT EXISTS (SELECT 1 FROM tenants WHERE name = ?1)", [name], |r| r.get(0))?))
    }

    fn memberships(&self, username: &str) -> Result<Vec<(String, TenantRole)>> {
        self.read(|tx| tx.memberships(username))
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

    fn edit_policy_state(&self, body: PolicyBody<'_>) -> crate::error::Result<Option<PolicyState>> {
        // SQLite's one writer is the policy lock: nothing changes between the read
        // and the write.
        self.batched(|tx, _| {
            let current = tx.policy_state()?;
            let Some(edit) = body(current.as_ref())? else { return Ok(current) };
            for id in edit.state.stored_ids() {
                if tx.policy(id)?.is_none() {
                    return Err(super::no_longer_stored(id));
                }
            }
            // The selection before the deletion: the trigger refuses deleting a selected version.
            tx.set_policy_state(&edit.state)?;
            if let Some(id) = &edit.delete
                && !tx.delete_policy(id)?
            {
                return Err(super::not_stored(id));
            }
            tx.bump(false, true, false)?;
            edit.log.iter().try_for_each(|line| tx.log_policy(line))?;
            Ok(Some(edit.state))
        })
    }

    fn policy_log(&self, limit: u32) -> Result<Vec<PolicyLogEntry>> {
        self.read(|tx| tx.policy_log(limit))
    }

    fn add_signatures(&self, signatures: &[super::StoredSignature], log: &[super::PolicyChange]) -> Result<()> {
        self.write(|tx| tx.add_signatures(signatures, log))
    }

    fn signatures(&self, sha256: &str) -> Result<Vec<super::StoredSignature>> {
        self.read(|tx| tx.signatures(Some(sha256)))
    }

    fn all_signatures(&self) -> Result<Vec<super::StoredSignature>> {
        self.read(|tx| tx.signatures(None))
    }

    fn insert_decisions(&self, records: &[crate::decisions::DecisionRecord]) -> Result<()> {
        self.write(|tx| tx.insert_decisions(records))
    }

    fn decisions(&self, filter: &super::DecisionFilter, page: &Page) -> Result<(Vec<crate::decisions::DecisionRecord>, u64)> {
        self.read(|tx| tx.decisions(filter, page))
    }

    fn decisions_after(
        &self,
        filter: &super::DecisionFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, crate::decisions::DecisionRecord)>> {
        self.read(|tx| tx.decisions_after(filter, after, limit))
    }

    fn decision(&self, id: &str) -> Result<Option<crate::decisions::DecisionRecord>> {
        self.read(|tx| tx.decision(id))
    }

    fn prune_decisions(&self, max_rows: u64, before: &str) -> Result<u64> {
        self.write(|tx| tx.prune_decisions(max_rows, before))
    }

    fn artifact_digest(&self, component_sha256: &str, engine: &str) -> Result<Option<String>> {
        self.read(|tx| tx.artifact_digest(component_sha256, engine))
    }

    fn record_artifact(&self, component_sha256: &str, engine: &str, artifact_sha256: &str) -> Result<()> {
        self.write(|tx| tx.record_artifact(component_sha256, engine, artifact_sha256))
    }
}
