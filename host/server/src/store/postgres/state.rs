//! The state transaction on PostgreSQL: the `generations` row is the race-free
//! rule's lock across hosts. Maintenance transitions take it `FOR UPDATE` (alone);
//! execution writes take it `FOR SHARE`, so they commit side by side (and
//! PostgreSQL's group commit shares their flushes) while no transition can run
//! under them. Their counts (of unfinished executions by status, and the lists'
//! totals, migration 9) go to one of [`SHARDS`] rows per key, written last in the
//! transaction in one order, so two writers rarely wait for each other and never
//! deadlock. Those last writes are prepared statements sent at once: a create
//! costs the database no parsing or planning.

use deadpool_postgres::{GenericClient, Object};
use futures_util::future::try_join;
use drydock_engine::ExecutionStatus;

use super::reads;
use super::{PgResult, PgStore, notify_sql};
use crate::store::{
    Counts, Deployment, Execution, Lock, MaintenanceRecord, ManagerState, NewEvent, OnDeadline, Remaining, StateTx, Tenant, TenantRole,
    Transition, TxBody, User, Window, WindowStatus,
};

const VERSION: &str = "SELECT state FROM generations WHERE id = 1";
const LOCK: &str = "SELECT state FROM generations WHERE id = 1 FOR UPDATE";
const SHARE: &str = "SELECT state FROM generations WHERE id = 1 FOR SHARE";
/// The partial indexes' condition (migration 3): a query must say it the same way.
const IS_UNFINISHED: &str = "status NOT IN ('terminated', 'failed', 'cancelled')";

/// Rows per status the counts are spread over.
const SHARDS: u64 = 16;
/// The rest of the state in one statement, one row per part, tagged: `m` the
/// maintenance row, `c` a count by status, `w` a window not ended. (One statement,
/// not three: PostgreSQL answers each with messages of its own.)
const STATE_ROWS: &str = "SELECT 'm', status, activation_requested_at, activated_at, requested_by, reason, until_at,
        deadline_at, on_deadline, NULL::BIGINT FROM maintenance WHERE id = 1
     UNION ALL SELECT 'c', status, NULL, NULL, NULL, NULL, NULL, NULL, NULL, SUM(n)::BIGINT FROM execution_counts GROUP BY status
     UNION ALL SELECT 'w', id, start_at, end_at, reason, created_by, created_at, status, NULL, NULL FROM maintenance_windows
        WHERE status IN ('scheduled', 'started')";

/// The state the race-free rule decides under: the version, then the rest — two
/// statements sent at once (tokio-postgres pipelines concurrent queries on one
/// connection; the server runs them in order), so one round trip. With `lock`, the
/// first takes the state lock and the second reads after it (in a snapshot of its
/// own: one statement could not see what the lock waited for).
pub(super) async fn read_state(client: &impl GenericClient, lock: Option<Lock>) -> PgResult<ManagerState> {
    let first = match lock {
        None => VERSION,
        Some(Lock::Exclusive) => LOCK,
        Some(Lock::Shared) => SHARE,
    };
    let (v, rest) = try_join(client.prepare_cached(first), client.prepare_cached(STATE_ROWS)).await?;
    let (version, rows) = try_join(client.query_one(&v, &[]), client.query(&rest, &[])).await?;
    let (mut maintenance, mut counts, mut windows) = (None, Counts::default(), Vec::new());
    for r in &rows {
        match r.get::<_, &str>(0) {
            "m" => {
                maintenance = Some(MaintenanceRecord {
                    status: drydock_engine::MaintenanceState::parse(r.get(1)).unwrap_or(drydock_engine::MaintenanceState::Activated),
                    activation_requested_at: r.get(2),
                    activated_at: r.get(3),
                    requested_by: r.get(4),
                    reason: r.get(5),
                    until: r.get(6),
                    deadline: match (r.get::<_, Option<String>>(7), r.get::<_, Option<String>>(8)) {
                        (Some(at), Some(on)) => OnDeadline::parse(&on).map(|on| (at, on)),
                        _ => None,
                    },
                })
            }
            // A foreign status is not counted (it reads as failed, see reads.rs).
            "c" => {
                if let Some(status) = ExecutionStatus::parse(r.get(1)) {
                    counts.add(status, r.get::<_, i64>(9));
                }
            }
            _ => windows.push(reads::window_at(r, 1)),
        }
    }
    windows.sort_by(|a: &Window, b: &Window| (&a.start_at, &a.id).cmp(&(&b.start_at, &b.id)));
    Ok(ManagerState { version: version.get::<_, i64>(0) as u64, maintenance, counts, windows })
}

/// Unfinished executions, oldest first, at most `limit` (the partial index).
pub(super) async fn remaining(client: &impl GenericClient, limit: usize) -> PgResult<Vec<Remaining>> {
    let st = client
        .prepare_cached(&format!(
            "SELECT id, created_at, status, deployment_id, workflow_id FROM executions
             WHERE {IS_UNFINISHED} ORDER BY created_at, id LIMIT $1"
        ))
        .await?;
    let rows = client.query(&st, &[&i64::try_from(limit).unwrap_or(i64::MAX)]).await?;
    Ok(rows
        .iter()
        .map(|r| Remaining {
            id: r.get(0),
            created_at: r.get(1),
            // A foreign value reads as failed (see reads.rs), which is not unfinished.
            status: ExecutionStatus::parse(r.get(2)).unwrap_or(ExecutionStatus::Failed),
            deployment_id: r.get(3),
            workflow_id: r.get(4),
        })
        .filter(|r| !r.status.is_terminal())
        .collect())
}

/// This thread's shard: a blocking-pool thread keeps one, given in turn (from a
/// random start, so hosts differ), so up to [`SHARDS`] concurrent writers (on
/// different threads) write different rows and never wait for each other's flush.
fn shard() -> i32 {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: std::sync::OnceLock<AtomicU64> = std::sync::OnceLock::new();
    thread_local! {
        static SHARD: i32 = {
            let next = NEXT.get_or_init(|| AtomicU64::new(std::collections::hash_map::RandomState::new().hash_one(0u8)));
            (next.fetch_add(1, Ordering::Relaxed) % SHARDS) as i32
        };
    }
    SHARD.with(|s| *s)
}

struct PgStateTx<'s> {
    store: &'s PgStore,
    /// The whole transaction's deadline.
    by: std::time::Instant,
    /// The connection, inside the transaction `transact` began.
    tx: &'s Object,
    lock: Lock,
    state: ManagerState,
    state_changed: bool,
    /// What the execution writes add to the counts, written at the end.
    counted: Counts,
    uncounted: Counts,
    /// What the execution writes add to the lists' totals, written at the end.
    totals: std::collections::BTreeMap<TotalsKey, i64>,
    executions_changed: bool,
    users_changed: Vec<String>,
}

/// A row of `execution_totals` but its shard: tenant, visibility, creator,
/// deployment ('' for none), status.
type TotalsKey = (String, &'static str, String, String, &'static str);

fn totals_key(e: &Execution, status: ExecutionStatus) -> TotalsKey {
    (
        e.tenant_name.clone(),
        e.visibility.as_str(),
        e.created_by.clone(),
        e.deployment_id.clone().unwrap_or_default(),
        status.as_str(),
    )
}

impl PgStateTx<'_> {
    fn total(&mut self, key: TotalsKey, n: i64) {
        *self.totals.entry(key).or_default() += n;
    }

    fn run<T>(
        &self,
        fut: impl std::future::Future<Output = PgResult<T>>,
    ) -> crate::store::Result<T> {
        self.store.run_by(self.by, fut)
    }
}

impl StateTx for PgStateTx<'_> {
    fn state(&self) -> &ManagerState {
        &self.state
    }

    fn exclusive(&self) -> bool {
        self.lock == Lock::Exclusive
    }

    fn has_unfinished(&mut self, deployment: &str) -> crate::store::Result<bool> {
        self.run(async {
            let sql = format!("SELECT EXISTS (SELECT 1 FROM executions WHERE deployment_id = $1 AND {IS_UNFINISHED})");
            Ok(self.tx.query_one(&sql, &[&deployment]).await?.get(0))
        })
    }

    fn unfinished_ids(&mut self) -> crate::store::Result<Vec<String>> {
        self.run(async { Ok(remaining(self.tx, usize::MAX).await?.into_iter().map(|r| r.id).collect()) })
    }

    fn execution(&mut self, id: &str) -> crate::store::Result<Option<Execution>> {
        self.run(reads::execution(self.tx, id))
    }

    fn insert_execution(&mut self, e: &Execution, event: &NewEvent) -> crate::store::Result<()> {
        self.run(async {
            let parameters = e.parameters.to_string();
            // Prepared once per connection: every create and report runs these.
            let insert = self.tx.prepare_cached(INSERT_EXECUTION).await?;
            self.tx
                .execute(
                    &insert,
                    &[
                        &e.id,
                        &e.deployment_id,
                        &e.workflow_id,
                        &e.status.as_str(),
                        &parameters,
                        &e.error,
                        &e.is_system_workflow,
                        &e.created_at,
                        &e.started_at,
                        &e.ended_at,
                        &e.created_by,
                        &e.tenant_name,
                        &e.visibility.as_str(),
                        &e.vouched,
                        &event.timestamp,
                        &event.event_type,
                        &event.message,
                    ],
                )
                .await?;
            Ok(())
        })?;
        self.executions_changed = true;
        self.state.counts.moved(None, e.status);
        self.counted.add(e.status, 1);
        self.total(totals_key(e, e.status), 1);
        Ok(())
    }

    fn update_execution(&mut self, e: &Execution, from: ExecutionStatus, event: &NewEvent) -> crate::store::Result<()> {
        self.run(async {
            let update = self.tx.prepare_cached(UPDATE_EXECUTION).await?;
            self.tx
                .execute(
                    &update,
                    &[
                        &e.id,
                        &e.status.as_str(),
                        &e.error,
                        &e.started_at,
                        &e.ended_at,
                        &e.vouched,
                        &event.timestamp,
                        &event.event_type,
                        &event.message,
                    ],
                )
                .await?;
            Ok(())
        })?;
        self.executions_changed = true;
        self.state.counts.moved(Some(from), e.status);
        self.uncounted.add(from, 1);
        self.counted.add(e.status, 1);
        // An update changes no column of the key but the status.
        self.total(totals_key(e, from), -1);
        self.total(totals_key(e, e.status), 1);
        Ok(())
    }

    fn set_maintenance(&mut self, rec: Option<&MaintenanceRecord>) -> crate::store::Result<()> {
        self.state_changed = true;
        self.state.maintenance = rec.cloned();
        self.run(async {
            match rec {
                None => {
                    self.tx.execute("DELETE FROM maintenance", &[]).await?;
                }
                Some(rec) => {
                    self.tx
                        .execute(
                            "INSERT INTO maintenance (id, status, activation_requested_at, activated_at, requested_by,
                                reason, until_at, deadline_at, on_deadline)
                             VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8)
                             ON CONFLICT (id) DO UPDATE SET status = $1, activation_requested_at = $2,
                                activated_at = $3, requested_by = $4, reason = $5, until_at = $6,
                                deadline_at = $7, on_deadline = $8",
                            &[
                                &rec.status.as_str(),
                                &rec.activation_requested_at,
                                &rec.activated_at,
                                &rec.requested_by,
                                &rec.reason,
                                &rec.until,
                                &rec.deadline.as_ref().map(|(at, _)| at.as_str()),
                                &rec.deadline.as_ref().map(|(_, on)| on.as_str()),
                            ],
                        )
                        .await?;
                }
            }
            Ok(())
        })
    }

    fn deployment(&mut self, id: &str) -> crate::store::Result<Option<Deployment>> {
        self.run(reads::deployment(self.tx, id))
    }

    fn insert_deployment(&mut self, d: &Deployment) -> crate::store::Result<()> {
        self.run(async {
            self.tx
                .execute(
                    "INSERT INTO deployments (id, blueprint_id, inputs, created_at, updated_at, created_by, tenant_name, visibility)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[
                        &d.id,
                        &d.blueprint_id,
                        &d.inputs.to_string(),
                        &d.created_at,
                        &d.updated_at,
                        &d.created_by,
                        &d.tenant_name,
                        &d.visibility.as_str(),
                    ],
                )
                .await?;
            Ok(())
        })
    }

    fn delete_deployment(&mut self, id: &str) -> crate::store::Result<bool> {
        self.run(async {
            Ok(self
                .tx
                .execute("DELETE FROM deployments WHERE id = $1", &[&id])
                .await?
                > 0)
        })
    }

    fn user(&mut self, username: &str) -> crate::store::Result<Option<User>> {
        self.run(reads::user(self.tx, username))
    }

    fn admins(&mut self) -> crate::store::Result<u64> {
        self.run(async {
            let n: i64 = self
                .tx
                .query_one("SELECT COUNT(*) FROM users WHERE role = $1", &[&drydock_engine::Role::SysAdmin.as_str()])
                .await?
                .get(0);
            Ok(n as u64)
        })
    }

    fn has_users(&mut self) -> crate::store::Result<bool> {
        self.run(async {
            Ok(self
                .tx
                .query_one("SELECT EXISTS (SELECT 1 FROM users)", &[])
                .await?
                .get(0))
        })
    }

    fn insert_user(&mut self, user: &User) -> crate::store::Result<()> {
        self.users_changed.push(user.username.clone());
        self.run(async {
            self.tx
                .execute(
                    "INSERT INTO users (username, password_hash, role, created_at) VALUES ($1, $2, $3, $4)",
                    &[&user.username, &user.password_hash, &user.role.as_str(), &user.created_at],
                )
                .await?;
            Ok(())
        })
    }

    fn update_user(&mut self, user: &User) -> crate::store::Result<()> {
        self.users_changed.push(user.username.clone());
        self.run(async {
            self.tx
                .execute(
                    "UPDATE users SET password_hash = $2, role = $3 WHERE username = $1",
                    &[&user.username, &user.password_hash, &user.role.as_str()],
                )
                .await?;
            Ok(())
        })
    }

    fn delete_user(&mut self, username: &str) -> crate::store::Result<bool> {
        self.users_changed.push(username.to_string());
        self.run(async {
            Ok(self
                .tx
                .execute("DELETE FROM users WHERE username = $1", &[&username])
                .await?
                > 0)
        })
    }

    fn tenant(&mut self, name: &str) -> crate::store::Result<Option<Tenant>> {
        self.run(reads::tenant(self.tx, name))
    }

    fn insert_tenant(&mut self, name: &str, created_at: &str) -> crate::store::Result<()> {
        self.run(async {
            self.tx.execute("INSERT INTO tenants (name, created_at) VALUES ($1, $2)", &[&name, &created_at]).await?;
            Ok(())
        })
    }

    fn delete_tenant(&mut self, name: &str) -> crate::store::Result<()> {
        let members = self.run(async {
            let members = reads::tenant(self.tx, name).await?.map(|t| t.members).unwrap_or_default();
            // Its ended executions and their events go with it (unfinished ones and
            // deployments keep it from being deleted: `tenant_usage`).
            self.tx
                .execute("DELETE FROM events WHERE execution_id IN (SELECT id FROM executions WHERE tenant_name = $1)", &[&name])
                .await?;
            self.tx.execute("DELETE FROM executions WHERE tenant_name = $1", &[&name]).await?;
            self.tx.execute("DELETE FROM tenants WHERE name = $1", &[&name]).await?;
            Ok(members)
        })?;
        // Every host forgets what it cached of each former member.
        self.users_changed.extend(members.into_iter().map(|(u, _)| u));
        Ok(())
    }

    fn tenant_usage(&mut self, name: &str) -> crate::store::Result<u64> {
        self.run(async {
            let n: i64 = self
                .tx
                .query_one(
                    "SELECT (SELECT COUNT(*) FROM deployments WHERE tenant_name = $1)
                          + (SELECT COUNT(*) FROM executions WHERE tenant_name = $1
                             AND status NOT IN ('terminated', 'failed', 'cancelled'))",
                    &[&name],
                )
                .await?
                .get(0);
            Ok(n as u64)
        })
    }

    fn set_member(&mut self, tenant: &str, username: &str, role: Option<TenantRole>) -> crate::store::Result<()> {
        self.users_changed.push(username.to_string());
        self.run(async {
            match role {
                Some(role) => {
                    self.tx
                        .execute(
                            "INSERT INTO tenant_members (tenant, username, role) VALUES ($1, $2, $3)
                             ON CONFLICT (tenant, username) DO UPDATE SET role = $3",
                            &[&tenant, &username, &role.as_str()],
                        )
                        .await?
                }
                None => {
                    self.tx
                        .execute("DELETE FROM tenant_members WHERE tenant = $1 AND username = $2", &[&tenant, &username])
                        .await?
                }
            };
            Ok(())
        })
    }

    fn record_transition(&mut self, t: &Transition) -> crate::store::Result<()> {
        self.run(async {
            self.tx
                .execute(
                    "INSERT INTO maintenance_history (at, username, from_state, to_state, reason, detail)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[&t.at, &t.by, &t.from.as_str(), &t.to.as_str(), &t.reason, &t.detail],
                )
                .await?;
            Ok(())
        })
    }

    fn insert_window(&mut self, w: &Window) -> crate::store::Result<()> {
        self.run(async {
            self.tx
                .execute(
                    "INSERT INTO maintenance_windows (id, start_at, end_at, reason, created_by, created_at, status)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[&w.id, &w.start_at, &w.end_at, &w.reason, &w.created_by, &w.created_at, &w.status.as_str()],
                )
                .await?;
            Ok(())
        })?;
        self.state_changed = true;
        self.state.windows.push(w.clone());
        self.state.windows.sort_by(|a, b| (&a.start_at, &a.id).cmp(&(&b.start_at, &b.id)));
        Ok(())
    }

    fn set_window_status(&mut self, id: &str, status: WindowStatus) -> crate::store::Result<()> {
        self.run(async {
            self.tx.execute("UPDATE maintenance_windows SET status = $2 WHERE id = $1", &[&id, &status.as_str()]).await?;
            Ok(())
        })?;
        self.state_changed = true;
        self.state.set_window_status(id, status);
        Ok(())
    }
}

// Each write is one statement with its event (PostgreSQL answers each statement
// with a message of its own: fewer statements, fewer wake-ups on both sides).
const INSERT_EXECUTION: &str = "WITH e AS (
        INSERT INTO executions (id, deployment_id, workflow_id, status, parameters, error,
            is_system_workflow, created_at, started_at, ended_at, created_by, tenant_name, visibility, vouched)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id)
     INSERT INTO events (execution_id, timestamp, event_type, message) SELECT id, $15, $16, $17 FROM e";
const UPDATE_EXECUTION: &str = "WITH e AS (
        UPDATE executions SET status = $2, error = $3, started_at = $4, ended_at = $5, vouched = $6 WHERE id = $1 RETURNING id)
     INSERT INTO events (execution_id, timestamp, event_type, message) SELECT id, $7, $8, $9 FROM e";
/// What an execution write adds to the counts, last: the lists' totals' rows (the
/// arrays are their keys' columns and what each adds), then the unfinished counts'
/// rows (statuses, what each adds), each in key order, all in this writer's shard
/// ($1); then the change counter moves. One statement; the main query reads the
/// two inserts in order, so every writer takes its rows' locks in one order.
const COUNT_CHANGES: &str = "WITH totals AS (
        INSERT INTO execution_totals (tenant_name, visibility, created_by, deployment_id, status, shard, n)
        SELECT t, v, c, d, s, $1, n FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) AS u (t, v, c, d, s, n)
        ORDER BY t, v, c, d, s
        ON CONFLICT (tenant_name, visibility, created_by, deployment_id, status, shard)
        DO UPDATE SET n = execution_totals.n + EXCLUDED.n
        RETURNING 1),
     counts AS (
        INSERT INTO execution_counts (status, shard, n)
        SELECT s, $1, n FROM UNNEST($8::text[], $9::bigint[]) AS u (s, n) ORDER BY s
        ON CONFLICT (status, shard) DO UPDATE SET n = execution_counts.n + EXCLUDED.n
        RETURNING 1)
     SELECT (SELECT COUNT(*) FROM totals), (SELECT COUNT(*) FROM counts), nextval('execution_changes')";

/// A connection inside a transaction `transact` sent without waiting for its
/// answer (`START TRANSACTION` goes out with the first reads, `COMMIT` with the
/// last writes: two round trips fewer than tokio-postgres's `Transaction`). If it
/// is dropped before the transaction ended (an error, a deadline, a panic), the
/// connection is closed rather than returned to the pool half-way through one;
/// PostgreSQL then rolls the transaction back.
struct Open {
    client: Option<Object>,
    ended: std::cell::Cell<bool>,
}

impl Open {
    fn client(&self) -> &Object {
        self.client.as_ref().expect("open until dropped")
    }

    /// The transaction is over (committed or rolled back): the connection may go back.
    fn ended(&self) {
        self.ended.set(true);
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && !self.ended.get()
        {
            drop(Object::take(client));
        }
    }
}

pub(super) fn transact(store: &PgStore, lock: Lock, body: TxBody<'_>) -> crate::error::Result<ManagerState> {
    let by = std::time::Instant::now() + store.options.deadline;
    let open = Open { client: Some(store.run_by(by, async { Ok(store.pool.get().await?) })?), ended: Default::default() };
    let client = open.client();
    let rollback = |open: &Open| {
        // Rolled back, the connection can go back to the pool (else `open` closes it).
        if store.run_by(by, async { Ok(client.batch_execute("ROLLBACK").await?) }).is_ok() {
            open.ended();
        }
    };
    // Sent in order on the one connection: the reads run inside the transaction.
    let begun = store.run_by(by, try_join(async { Ok(client.batch_execute("START TRANSACTION").await?) }, read_state(client, Some(lock))));
    let state = match begun {
        Ok(((), state)) => state,
        Err(e) => {
            rollback(&open);
            return Err(e.into());
        }
    };
    let mut writes = PgStateTx {
        by,
        store,
        tx: client,
        lock,
        state,
        state_changed: false,
        counted: Counts::default(),
        uncounted: Counts::default(),
        totals: Default::default(),
        executions_changed: false,
        users_changed: Vec::new(),
    };
    let done = body(&mut writes);
    let PgStateTx { mut state, state_changed, counted, uncounted, totals, executions_changed, users_changed, .. } = writes;
    let done = done.and_then(|()| {
        // Only an exclusive holder may write the locked row (two shared holders
        // waiting for each other's lock would deadlock).
        if (state_changed || !users_changed.is_empty()) && lock != Lock::Exclusive {
            return Err(anyhow::anyhow!("a shared state transaction changed the maintenance state or a user").into());
        }
        Ok(())
    });
    if let Err(e) = done {
        rollback(&open);
        return Err(e);
    }
    // The counts and the change counter: one prepared statement. Other hosts hear
    // of execution writes after the commit, from `announce` (a `NOTIFY` in the
    // transaction would serialise every writer's commit, flush included, behind
    // PostgreSQL's notification lock); of a maintenance change, in it.
    let shard = shard();
    let counts: Vec<(&str, i64)> = ExecutionStatus::ALL
        .iter()
        .map(|&s| (s.as_str(), counted.get(s) as i64 - uncounted.get(s) as i64))
        .filter(|(_, n)| *n != 0)
        .collect();
    let totals: Vec<(TotalsKey, i64)> = totals.into_iter().filter(|(_, n)| *n != 0).collect();
    let mut sql = String::new();
    if state_changed || !users_changed.is_empty() {
        sql.push_str(&format!(
            "UPDATE generations SET state = state + {}, users = users + {} WHERE id = 1;",
            u8::from(state_changed),
            u8::from(!users_changed.is_empty())
        ));
    }
    if state_changed {
        sql.push_str(&notify_sql(&store.host, "state"));
    }
    for name in &users_changed {
        sql.push_str(&notify_sql(&store.host, &format!("user:{name}")));
    }
    // Sent with what precedes it: if any of that fails, PostgreSQL ends the
    // transaction at this COMMIT without committing (and the error is returned).
    sql.push_str("COMMIT");
    let column = |f: fn(&(TotalsKey, i64)) -> &str| totals.iter().map(f).collect::<Vec<&str>>();
    let (tenants, visibilities, creators, deployments, statuses) = (
        column(|((t, ..), _)| t),
        column(|((_, v, ..), _)| v),
        column(|((_, _, c, ..), _)| c),
        column(|((_, _, _, d, _), _)| d),
        column(|((.., s), _)| s),
    );
    let added: Vec<i64> = totals.iter().map(|(_, n)| *n).collect();
    let (count_statuses, count_added): (Vec<&str>, Vec<i64>) = counts.iter().copied().unzip();
    store.run_by(by, async {
        let st = if executions_changed { Some(client.prepare_cached(COUNT_CHANGES).await?) } else { None };
        let counted = async {
            match &st {
                Some(st) => client
                    .query_one(st, &[&shard, &tenants, &visibilities, &creators, &deployments, &statuses, &added, &count_statuses, &count_added])
                    .await
                    .map(drop),
                None => Ok(()),
            }
        };
        // Both are awaited: the COMMIT's answer says the transaction is over either way.
        let (counted, committed) = futures_util::future::join(counted, client.batch_execute(&sql)).await;
        counted?;
        committed?;
        Ok(())
    })?;
    open.ended();
    if executions_changed && !state_changed {
        store.announce.notify_one();
    }
    // The writes kept `state` current; the lock held, the version moved by one.
    state.version += u64::from(state_changed);
    Ok(state)
}
