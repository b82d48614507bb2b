//! The shared backend: one PostgreSQL database for several hosts, the other place
//! with SQL.
//!
//! tokio-postgres with a bounded deadpool pool (statements prepared once per
//! connection and cached), driven from the store's own small runtime so the
//! blocking [`Store`] calls work from any thread. Every call has a deadline, and a
//! database that cannot be reached, or a pool with no connection free within the
//! wait, is an [`Unavailable`] error the HTTP edge answers with 503 — fast, not at
//! the request timeout. Changes are announced with `NOTIFY drydock` in the
//! transaction that makes them; [`feed`] listens and reconnects on its own.

mod feed;
mod reads;
mod state;

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use drydock_engine::ExecutionStatus;
use tokio::sync::mpsc;
use tokio_postgres::NoTls;

use super::{
    Change, Deployment, Event, Execution, Generations, Lock, ManagerState, NewPolicy, Page, Remaining,
    PolicyBody, PolicyChange, PolicyLogEntry, PolicyRecord, PolicyState, Result, Scope, Tenant, TenantRole, Store, Transition, TxBody, Unavailable,
    User, Window,
};

/// Migrations, applied in order; the `drydock_schema` table records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_schema.sql"),
    include_str!("../../../migrations/postgres/0002_planning.sql"),
    include_str!("../../../migrations/postgres/0003_backlog.sql"),
    include_str!("../../../migrations/postgres/0004_policy_selection.sql"),
    include_str!("../../../migrations/postgres/0005_tenants.sql"),
    include_str!("../../../migrations/postgres/0006_decisions.sql"),
    include_str!("../../../migrations/postgres/0007_signatures.sql"),
    include_str!("../../../migrations/postgres/0008_budgets.sql"),
    include_str!("../../../migrations/postgres/0009_execution_totals.sql"),
];

/// The one channel every host listens on; see [`notify_sql`] for the payloads.
pub const CHANNEL: &str = "drydock";
/// Arbitrary, fixed: the advisory lock key schema migrations take.
const MIGRATION_LOCK: i64 = 0x6472_7964_6f63_6b01;
/// Serialises policy writes across hosts (upload dedup, state changes).
const POLICY_LOCK: i64 = 0x6472_7964_6f63_6b02;

/// How the store talks to the database.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections in the pool, at most.
    pub pool_size: usize,
    /// How long a call waits for a free connection, or for a new one to connect.
    pub wait: Duration,
    /// Deadline of one store call (all its statements; a state transaction's steps
    /// and body together), enforced on the server too (`lock_timeout`, `statement_timeout`).
    pub deadline: Duration,
    /// Listen for other hosts' changes (`LISTEN/NOTIFY`). Off behind a connection
    /// pooler that does not pass notifications (pgbouncer in transaction mode):
    /// other hosts' changes are then seen only at the poll.
    pub feed: bool,
}

impl Default for PgOptions {
    fn default() -> PgOptions {
        PgOptions {
            pool_size: 16,
            wait: Duration::from_secs(2),
            deadline: Duration::from_secs(5),
            feed: true,
        }
    }
}

pub struct PgStore {
    /// Owned so the store works from any thread; shut down without blocking on drop.
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    /// Names the database in messages, without the password.
    target: String,
    /// This host's compiled-artifact cache is its own: its digests are keyed by it.
    host: String,
    options: PgOptions,
    changes: Mutex<Option<mpsc::Receiver<Change>>>,
    /// Execution writes committed: `announce_executions` tells other hosts.
    announce: std::sync::Arc<tokio::sync::Notify>,
}

/// What a database call can fail with, before it is sorted into "retry later" and
/// "fault".
#[derive(Debug)]
pub(super) enum Fault {
    Pg(tokio_postgres::Error),
    Pool(PoolError),
    Other(anyhow::Error),
}

impl From<tokio_postgres::Error> for Fault {
    fn from(e: tokio_postgres::Error) -> Fault {
        Fault::Pg(e)
    }
}

impl From<PoolError> for Fault {
    fn from(e: PoolError) -> Fault {
        Fault::Pool(e)
    }
}

impl From<anyhow::Error> for Fault {
    fn from(e: anyhow::Error) -> Fault {
        Fault::Other(e)
    }
}

pub(super) type PgResult<T> = std::result::Result<T, Fault>;

/// Whether a driver error means the connection or the server is gone (as opposed
/// to a statement's own failure): the connection closed or failed at the socket,
/// SQLSTATE class 08 (connection exception) or 57P (the server is shutting down or
/// starting), or 55P03 (the state lock was not had within `lock_timeout`).
fn is_connection_loss(e: &tokio_postgres::Error) -> bool {
    match e.as_db_error() {
        None => e.is_closed() || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08") || code.starts_with("57P") || code == "55P03"
        }
    }
}

/// `postgres://user:secret@host:5432/db?x` → `host:5432/db`, for messages.
fn describe(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split('?').next().unwrap_or(rest).to_string()
}

/// `postgres://user@host:port/db?query` with the database `name` instead.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = base[scheme_end..].find('/').map_or(base, |i| &base[..scheme_end + i]);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Create database `name` on the server at `url` (tests and benchmarks make
/// throwaway ones); its URL. `name` must be a plain identifier.
pub fn create_database(url: &str, name: &str) -> anyhow::Result<String> {
    anyhow::ensure!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "`{name}` is not a plain database name");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, NoTls).await?;
        tokio::spawn(conn);
        client.batch_execute(&format!("CREATE DATABASE {name}")).await
    })
    .with_context(|| format!("cannot create database {name} on {}", describe(url)))?;
    Ok(with_database(url, name))
}

impl PgStore {
    /// Connect, bring the schema up to date (once per database, even with several
    /// hosts starting at once), and start listening for other hosts' changes.
    /// `host` names this host's compiled-artifact cache.
    pub fn open(url: &str, host: &str, options: PgOptions) -> anyhow::Result<PgStore> {
        let target = describe(url);
        let mut config: tokio_postgres::Config = url.parse().with_context(|| {
            format!("`{target}` is not a PostgreSQL URL (postgres://USER@HOST:PORT/DB)")
        })?;
        config
            .connect_timeout(options.wait)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10));
        config.application_name("drydock");
        // Server-side bounds too: a statement queued behind the state lock, or a
        // statement that runs away, ends on the server when the call's deadline passes.
        let ms = options.deadline.as_millis();
        config.options(format!("-c lock_timeout={ms} -c statement_timeout={ms}"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("drydock-pg")
            .enable_all()
            .build()
            .context("cannot start the database client's threads")?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .wait_timeout(Some(options.wait))
            .create_timeout(Some(options.wait))
            .recycle_timeout(Some(options.wait))
            .runtime(Runtime::Tokio1)
            .build()
            .context("cannot set up the database connection pool")?;
        let (tx, rx) = mpsc::channel(1024);
        let feed = options.feed;
        let store = PgStore {
            runtime: Some(runtime),
            pool,
            target,
            host: host.to_string(),
            options,
            changes: Mutex::new(feed.then_some(rx)),
            announce: Default::default(),
        };
        store
            .run(store.migrate())
            .with_context(|| format!("cannot prepare the database at {}", store.target))?;
        store.handle().spawn(Self::announce_executions(store.pool.clone(), store.host.clone(), store.announce.clone()));
        if store.options.feed {
            store.handle().spawn(feed::listen(
                config,
                store.target.clone(),
                store.host.clone(),
                tx,
            ));
        }
        Ok(store)
    }

    /// Tell other hosts that executions changed, after the commits, at most once per
    /// [`ANNOUNCE_EVERY`]: one `NOTIFY` for all the writes in between. A lost one
    /// (this host stops first) is caught by their poll of `execution_changes`.
    async fn announce_executions(pool: Pool, host: String, announce: std::sync::Arc<tokio::sync::Notify>) {
        let sql = notify_sql(&host, "state");
        loop {
            announce.notified().await;
            tokio::time::sleep(ANNOUNCE_EVERY).await;
            if let Ok(client) = pool.get().await {
                if let Err(e) = client.batch_execute(&sql).await {
                    tracing::debug!("cannot announce execution writes (other hosts poll for them): {e}");
                }
            }
        }
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the store")
            .handle()
    }

    /// The database this store uses (no password), for messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Run one store call to its end or its deadline, from any thread.
    pub(super) fn run<T>(&self, fut: impl Future<Output = PgResult<T>>) -> Result<T> {
        self.run_by(std::time::Instant::now() + self.options.deadline, fut)
    }

    /// Run one step of a call whose deadline is `by` (a transaction's steps share one).
    pub(super) fn run_by<T>(&self, by: std::time::Instant, fut: impl Future<Output = PgResult<T>>) -> Result<T> {
        let deadline = by.saturating_duration_since(std::time::Instant::now());
        // Made inside the store's runtime: its timer is the one that fires it.
        let fut = async move { tokio::time::timeout(deadline, fut).await };
        let handle = self.handle();
        // On a runtime worker thread, step out of it first: blocking there is not allowed.
        let out = if tokio::runtime::Handle::try_current().is_ok() {
            tokio::task::block_in_place(|| handle.block_on(fut))
        } else {
            handle.block_on(fut)
        };
        match out {
            Err(_) => Err(Unavailable(format!(
                "The database at {} did not answer within {} s; try again shortly",
                self.target,
                self.options.deadline.as_secs()
            ))
            .into()),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(fault)) => Err(self.sort(fault)),
        }
    }

    /// "Retry later" or a fault.
    fn sort(&self, fault: Fault) -> anyhow::Error {
        match fault {
            Fault::Pool(PoolError::Timeout(deadpool_postgres::TimeoutType::Wait)) => {
                Unavailable(format!(
                    "All {} connections to the database are busy (waited {} ms); try again shortly",
                    self.options.pool_size,
                    self.options.wait.as_millis()
                ))
                .into()
            }
            Fault::Pool(PoolError::Timeout(_)) => Unavailable(format!(
                "Cannot connect to the database at {} (no answer within {} ms); try again shortly",
                self.target,
                self.options.wait.as_millis()
            ))
            .into(),
            Fault::Pool(PoolError::Backend(e)) => Unavailable(format!(
                "Cannot connect to the database at {}: {e}; try again shortly",
                self.target
            ))
            .into(),
            Fault::Pool(e) => {
                Unavailable(format!("Cannot use the database at {}: {e}", self.target)).into()
            }
            Fault::Pg(e) if is_connection_loss(&e) => Unavailable(format!(
                "Lost the connection to the database at {}: {e}; try again shortly",
                self.target
            ))
            .into(),
            Fault::Pg(e) => anyhow::Error::new(e).context(format!(
                "a statement failed on the database at {}",
                self.target
            )),
            Fault::Other(e) => e,
        }
    }

    async fn migrate(&self) -> PgResult<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // One host at a time; the others wait here and then find nothing to do.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS drydock_schema (version INTEGER NOT NULL)")
            .await?;
        let applied: i32 = match tx
            .query_opt("SELECT version FROM drydock_schema", &[])
            .await?
        {
            Some(row) => row.get(0),
            None => {
                tx.execute("INSERT INTO drydock_schema (version) VALUES (0)", &[])
                    .await?;
                0
            }
        };
        let known = MIGRATIONS.len() as i32;
        if applied > known {
            return Err(Fault::Other(anyhow::anyhow!(
                "the database schema is version {applied}, newer than this drydock knows ({known}); use a newer drydock"
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            tx.batch_execute(sql).await.map_err(|e| {
                Fault::Other(anyhow::Error::new(e).context(format!("migration {} failed", i + 1)))
            })?;
            tx.execute("UPDATE drydock_schema SET version = $1", &[&(i as i32 + 1)])
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which is not allowed on another runtime's thread.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// How often, at most, execution writes are announced to other hosts.
const ANNOUNCE_EVERY: Duration = Duration::from_millis(5);

/// `NOTIFY` with `HOST KIND`: the host, so it can skip its own announcements; the
/// kind is `state`, `policy` or `user:NAME`.
fn notify_sql(host: &str, kind: &str) -> String {
    // Payloads are ours (a uuid, a kind, a user name), but quoted as SQL literals regardless.
    format!(
        "NOTIFY {CHANNEL}, '{} {}';",
        host.replace('\'', "''"),
        kind.replace('\'', "''")
    )
}

impl Store for PgStore {
    fn shared(&self) -> bool {
        true
    }

    fn subscribe(&self) -> Option<mpsc::Receiver<Change>> {
        self.changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    fn generations(&self) -> Result<Generations> {
        self.run(async {
            let client = self.pool.get().await?;
            let st = client
                .prepare_cached(
                    "SELECT g.state, g.policy, g.users, c.last_value FROM generations g, execution_changes c WHERE g.id = 1",
                )
                .await?;
            let row = client.query_one(&st, &[]).await?;
            Ok(Generations {
                state: row.get::<_, i64>(0) as u64,
                policy: row.get::<_, i64>(1) as u64,
                users: row.get::<_, i64>(2) as u64,
                executions: row.get::<_, i64>(3) as u64,
            })
        })
    }

    fn manager_state(&self) -> Result<ManagerState> {
        self.run(async {
            let client = self.pool.get().await?;
            state::read_state(&client, None).await
        })
    }

    fn transact(&self, lock: Lock, body: TxBody<'_>) -> crate::error::Result<ManagerState> {
        state::transact(self, lock, body)
    }

    fn remaining(&self, limit: usize) -> Result<Vec<Remaining>> {
        self.run(async { state::remaining(&self.pool.get().await?, limit).await })
    }

    fn execution(&self, id: &str) -> Result<Option<Execution>> {
        self.run(async { reads::execution(&self.pool.get().await?, id).await })
    }

    fn executions(
        &self,
        scope: Option<&Scope>,
        deployment_id: Option<&str>,
        statuses: &[ExecutionStatus],
        page: &Page,
    ) -> Result<(Vec<Execution>, u64)> {
        self.run(async {
            reads::executions(&self.pool.get().await?, scope, deployment_id, statuses, page).await
        })
    }

    fn events(&self, execution_id: &str, page: &Page) -> Result<(Vec<Event>, u64)> {
        self.run(async { reads::events(&self.pool.get().await?, execution_id, page).await })
    }

    fn deployment(&self, id: &str) -> Result<Option<Deployment>> {
        self.run(async { reads::deployment(&self.pool.get().await?, id).await })
    }

    fn deployments(&self, scope: Option<&Scope>, page: &Page) -> Result<(Vec<Deployment>, u64)> {
        self.run(async { reads::deployments(&self.pool.get().await?, scope, page).await })
    }

    fn tenants(&self) -> Result<Vec<Tenant>> {
        self.run(async { reads::tenants(&self.pool.get().await?).await })
    }

    fn tenant(&self, name: &str) -> Result<Option<Tenant>> {
        self.run(async { reads::tenant(&self.pool.get().await?, name).await })
    }

    fn tenant_exists(&self, name: &str) -> Result<bool> {
        self.run(async {
            let client = self.pool.get().await?;
            let st = client.prepare_cached("SELECT EXISTS (SELECT 1 FROM tenants WHERE name = $1)").await?;
            Ok(client.query_one(&st, &[&name]).await?.get(0))
        })
    }

    fn memberships(&self, username: &str) -> Result<Vec<(String, TenantRole)>> {
        self.run(async { reads::memberships(&self.pool.get().await?, username).await })
    }

    fn user(&self, username: &str) -> Result<Option<User>> {
        self.run(async { reads::user(&self.pool.get().await?, username).await })
    }

    fn users(&self) -> Result<Vec<User>> {
        self.run(async { reads::users(&self.pool.get().await?).await })
    }

    fn history(&self, page: &Page) -> Result<(Vec<Transition>, u64)> {
        self.run(async { reads::history(&self.pool.get().await?, page).await })
    }

    fn all_windows(&self) -> Result<Vec<Window>> {
        self.run(async { reads::all_windows(&self.pool.get().await?).await })
    }

    fn policies(&self) -> Result<Vec<PolicyRecord>> {
        self.run(async { reads::policies(&self.pool.get().await?).await })
    }

    fn policy(&self, id: &str) -> Result<Option<PolicyRecord>> {
        self.run(async { reads::policy(&self.pool.get().await?, "id", id).await })
    }

    fn policy_component(&self, id: &str) -> Result<Option<Vec<u8>>> {
        self.run(async {
            let client = self.pool.get().await?;
            let st = client
                .prepare_cached("SELECT component FROM policies WHERE id = $1")
                .await?;
            Ok(client.query_opt(&st, &[&id]).await?.map(|r| r.get(0)))
        })
    }

    fn insert_policy(&self, new: &NewPolicy, component: &[u8]) -> Result<(PolicyRecord, bool)> {
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&POLICY_LOCK]).await?;
            if let Some(rec) = reads::policy(&tx, "sha256", &new.sha256).await? {
                return Ok((rec, false));
            }
            let short_is_taken = reads::policy(&tx, "id", new.id(false)).await?.is_some();
            let rec = new.record(new.id(short_is_taken));
            tx.execute(
                "INSERT INTO policies (id, sha256, name, version, size, component, uploaded_by, uploaded_at, memory_mib, deadline_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &rec.id,
                    &rec.sha256,
                    &rec.name,
                    &rec.version,
                    &(rec.size as i64),
                    &component,
                    &rec.uploaded_by,
                    &rec.uploaded_at,
                    &rec.budget.memory_mib.map(|v| v as i32),
                    &rec.budget.deadline_ms.map(|v| v as i32),
                ],
            )
            .await?;
            log_policy(&tx, &new.upload_line(&rec)).await?;
            tx.commit().await?;
            Ok((rec, true))
        })
    }

    fn policy_state(&self) -> Result<Option<PolicyState>> {
        self.run(async { reads::policy_state(&self.pool.get().await?).await })
    }

    fn edit_policy_state(&self, body: PolicyBody<'_>) -> crate::error::Result<Option<PolicyState>> {
        let by = std::time::Instant::now() + self.options.deadline;
        let mut client = self.run_by(by, async { Ok(self.pool.get().await?) })?;
        let tx = self.run_by(by, async { Ok(client.transaction().await?) })?;
        // Every writer of the selection and of `policies` takes this lock first, so
        // the selection `body` sees is the one its change replaces, on any host.
        let current = self.run_by(by, async {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&POLICY_LOCK]).await?;
            reads::policy_state(&tx).await
        })?;
        let Some(edit) = body(current.as_ref())? else { return Ok(current) };
        self.run_by(by, async {
            for id in edit.state.stored_ids() {
                if reads::policy(&tx, "id", id).await?.is_none() {
                    return Ok(Err(super::no_longer_stored(id)));
                }
            }
            // The selection before the deletion: the trigger refuses deleting a selected version.
            set_policy_state(&tx, &self.host, &edit.state).await?;
            if let Some(id) = &edit.delete
                && tx.execute("DELETE FROM policies WHERE id = $1", &[id]).await? == 0
            {
                return Ok(Err(super::not_stored(id)));
            }
            for line in &edit.log {
                log_policy(&tx, line).await?;
            }
            Ok(Ok(()))
        })??;
        self.run_by(by, async { Ok(tx.commit().await?) })?;
        Ok(Some(edit.state))
    }

    fn insert_decisions(&self, records: &[crate::decisions::DecisionRecord]) -> Result<()> {
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let st = tx
                .prepare_cached(
                    "INSERT INTO decisions (id, at, verdict, origin, username, path, policy_sha256, record)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .await?;
            for r in records {
                let text = serde_json::to_string(r).map_err(|e| Fault::Other(e.into()))?;
                let sha = r.policy.as_ref().map(|p| p.sha256.as_str());
                tx.execute(&st, &[&r.id, &r.at, &r.verdict.as_str(), &r.origin.as_str(), &r.input.request.user, &r.input.request.path, &sha, &text])
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn decisions(&self, filter: &super::DecisionFilter, page: &Page) -> Result<(Vec<crate::decisions::DecisionRecord>, u64)> {
        self.run(async {
            let client = self.pool.get().await?;
            let (cond, args) = filter.conditions(1, |n| format!("${n}"));
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = args.iter().map(|a| a as _).collect();
            let count = format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM decisions WHERE TRUE{cond} LIMIT {}) AS matched",
                super::DECISIONS_COUNTED
            );
            let total: i64 = client.query_one(&count, &params).await?.get(0);
            let (limit, offset) = (i64::from(page.size), i64::from(page.offset));
            let mut params = params;
            let n = params.len();
            params.push(&limit);
            params.push(&offset);
            let sql = format!("SELECT record FROM decisions WHERE TRUE{cond} ORDER BY seq DESC LIMIT ${} OFFSET ${}", n + 1, n + 2);
            let mut items = Vec::new();
            for row in client.query(&sql, &params).await? {
                items.push(serde_json::from_str(row.get::<_, &str>(0)).map_err(|e| Fault::Other(e.into()))?);
            }
            Ok((items, total as u64))
        })
    }

    fn decisions_after(
        &self,
        filter: &super::DecisionFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, crate::decisions::DecisionRecord)>> {
        self.run(async {
            let client = self.pool.get().await?;
            let (cond, args) = filter.conditions(3, |n| format!("${n}"));
            let limit = i64::from(limit);
            let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&after, &limit];
            params.extend(args.iter().map(|a| a as &(dyn tokio_postgres::types::ToSql + Sync)));
            let sql = format!("SELECT seq, record FROM decisions WHERE seq > $1{cond} ORDER BY seq LIMIT $2");
            let mut rows = Vec::new();
            for row in client.query(&sql, &params).await? {
                let record = serde_json::from_str(row.get::<_, &str>(1)).map_err(|e| Fault::Other(e.into()))?;
                rows.push((row.get(0), record));
            }
            Ok(rows)
        })
    }

    fn decision(&self, id: &str) -> Result<Option<crate::decisions::DecisionRecord>> {
        self.run(async {
            let client = self.pool.get().await?;
            match client.query_opt("SELECT record FROM decisions WHERE id = $1", &[&id]).await? {
                Some(row) => Ok(Some(serde_json::from_str(row.get::<_, &str>(0)).map_err(|e| Fault::Other(e.into()))?)),
                None => Ok(None),
            }
        })
    }

    fn prune_decisions(&self, max_rows: u64, before: &str) -> Result<u64> {
        self.run(async {
            let client = self.pool.get().await?;
            let old = client.execute("DELETE FROM decisions WHERE at < $1", &[&before]).await?;
            let over = client
                .execute(
                    "DELETE FROM decisions WHERE seq <= (SELECT seq FROM decisions ORDER BY seq DESC LIMIT 1 OFFSET $1)",
                    &[&(max_rows as i64)],
                )
                .await?;
            Ok(old + over)
        })
    }

    fn policy_log(&self, limit: u32) -> Result<Vec<PolicyLogEntry>> {
        self.run(async { reads::policy_log(&self.pool.get().await?, limit).await })
    }

    fn add_signatures(&self, signatures: &[super::StoredSignature], log: &[PolicyChange]) -> Result<()> {
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            for s in signatures {
                tx.execute(
                    "INSERT INTO policy_signatures (sha256, key_id, line, added_by, added_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (sha256, key_id) DO UPDATE SET line = excluded.line, added_by = excluded.added_by, added_at = excluded.added_at",
                    &[&s.sha256, &s.key_id, &s.line, &s.added_by, &s.added_at],
                )
                .await?;
            }
            for line in log {
                log_policy(&tx, line).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn signatures(&self, sha256: &str) -> Result<Vec<super::StoredSignature>> {
        self.run(async { reads::signatures(&self.pool.get().await?, Some(sha256)).await })
    }

    fn all_signatures(&self) -> Result<Vec<super::StoredSignature>> {
        self.run(async { reads::signatures(&self.pool.get().await?, None).await })
    }

    fn artifact_digest(&self, component_sha256: &str, engine: &str) -> Result<Option<String>> {
        self.run(async {
            let client = self.pool.get().await?;
            let st = client
                .prepare_cached(
                    "SELECT artifact_sha256 FROM policy_artifacts WHERE host = $1 AND component_sha256 = $2 AND engine = $3",
                )
                .await?;
            Ok(client.query_opt(&st, &[&self.host, &component_sha256, &engine]).await?.map(|r| r.get(0)))
        })
    }

    fn record_artifact(
        &self,
        component_sha256: &str,
        engine: &str,
        artifact_sha256: &str,
    ) -> Result<()> {
        self.run(async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "INSERT INTO policy_artifacts (host, component_sha256, engine, artifact_sha256) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (host, component_sha256, engine) DO UPDATE SET artifact_sha256 = $4",
                    &[&self.host, &component_sha256, &engine, &artifact_sha256],
                )
                .await?;
            Ok(())
        })
    }
}

/// The policy selection, its generation, and the announcement, in `tx`.
async fn set_policy_state(
    tx: &deadpool_postgres::Transaction<'_>,
    host: &str,
    st: &PolicyState,
) -> PgResult<()> {
    let (shadow_id, shadow_since, shadow_by) = match &st.shadow {
        Some((id, since, by)) => (Some(id), Some(since), Some(by)),
        None => (None, None, None),
    };
    tx.execute(
        "INSERT INTO policy_state (id, active_id, active_since, activated_by, previous_id, shadow_id, shadow_since, shadow_by)
         VALUES (1, $1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (id) DO UPDATE SET active_id = $1, active_since = $2, activated_by = $3,
            previous_id = $4, shadow_id = $5, shadow_since = $6, shadow_by = $7",
        &[&st.active_id, &st.active_since, &st.activated_by, &st.previous_id, &shadow_id, &shadow_since, &shadow_by],
    )
    .await?;
    tx.batch_execute(&format!(
        "UPDATE generations SET policy = policy + 1 WHERE id = 1;{}",
        notify_sql(host, "policy")
    ))
    .await?;
    Ok(())
}

async fn log_policy(tx: &deadpool_postgres::Transaction<'_>, line: &PolicyChange) -> PgResult<()> {
    tx.execute(
        "INSERT INTO policy_log (at, username, action, policy_id, detail) VALUES ($1, $2, $3, $4, $5)",
        &[&line.at, &line.username, &line.action, &line.policy_id, &line.detail],
    )
    .await?;
    Ok(())
}
