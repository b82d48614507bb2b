//! The state transaction on PostgreSQL: `SELECT ... FROM generations FOR UPDATE`
//! is the race-free rule's lock across hosts. A second host's transaction waits
//! there until the first commits, then reads the state the first left.

use drydock_engine::ExecutionStatus;
use deadpool_postgres::{GenericClient, Transaction};

use super::reads;
use super::{PgResult, PgStore, notify_sql};
use crate::store::{Deployment, Execution, MaintenanceRecord, ManagerState, NewEvent, Outcome, Remaining, StateTx, TxBody, User};

/// The state the race-free rule decides under: version, maintenance row, unfinished executions.
pub(super) async fn read_state(client: &impl GenericClient) -> PgResult<ManagerState> {
    let st = client.prepare_cached("SELECT state FROM generations WHERE id = 1").await?;
    let version: i64 = client.query_one(&st, &[]).await?.get(0);
    read_rest(client, version as u64).await
}

async fn read_rest(client: &impl GenericClient, version: u64) -> PgResult<ManagerState> {
    let st = client
        .prepare_cached("SELECT status, activation_requested_at, activated_at, requested_by FROM maintenance WHERE id = 1")
        .await?;
    let maintenance = client
        .query_opt(&st, &[])
        .await?
        .map(|r| MaintenanceRecord {
            status: drydock_engine::MaintenanceState::parse(r.get(0)).unwrap_or(drydock_engine::MaintenanceState::Activated),
            activation_requested_at: r.get(1),
            activated_at: r.get(2),
            requested_by: r.get(3),
        });
    let st = client
        .prepare_cached(
            "SELECT id, created_at, status, deployment_id, workflow_id FROM executions
             WHERE status NOT IN ('terminated', 'failed', 'cancelled') ORDER BY created_at, id",
        )
        .await?;
    let rows = client.query(&st, &[]).await?;
    let unfinished = rows
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
        .collect();
    Ok(ManagerState { version, maintenance, unfinished })
}

struct PgStateTx<'s, 't> {
    store: &'s PgStore,
    tx: &'s Transaction<'t>,
    state: ManagerState,
    state_changed: bool,
    users_changed: Vec<String>,
}

impl PgStateTx<'_, '_> {
    fn run<T>(&self, fut: impl std::future::Future<Output = PgResult<T>>) -> crate::store::Result<T> {
        self.store.run(fut)
    }
}

impl StateTx for PgStateTx<'_, '_> {
    fn state(&self) -> &ManagerState {
        &self.state
    }

    fn execution(&mut self, id: &str) -> crate::store::Result<Option<Execution>> {
        self.run(reads::execution(self.tx, id))
    }

    fn insert_execution(&mut self, e: &Execution, event: &NewEvent) -> crate::store::Result<()> {
        self.state_changed = true;
        self.run(async {
            self.tx
                .execute(
                    "INSERT INTO executions (id, deployment_id, workflow_id, status, parameters, error,
                        is_system_workflow, created_at, started_at, ended_at, created_by, tenant_name)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    &[
                        &e.id,
                        &e.deployment_id,
                        &e.workflow_id,
                        &e.status.as_str(),
                        &e.parameters.to_string(),
                        &e.error,
                        &e.is_system_workflow,
                        &e.created_at,
                        &e.started_at,
                        &e.ended_at,
                        &e.created_by,
                        &e.tenant_name,
                    ],
                )
                .await?;
            insert_event(self.tx, &e.id, event).await
        })
    }

    fn update_execution(&mut self, e: &Execution, event: &NewEvent) -> crate::store::Result<()> {
        self.state_changed = true;
        self.run(async {
            self.tx
                .execute(
                    "UPDATE executions SET status = $2, error = $3, started_at = $4, ended_at = $5 WHERE id = $1",
                    &[&e.id, &e.status.as_str(), &e.error, &e.started_at, &e.ended_at],
                )
                .await?;
            insert_event(self.tx, &e.id, event).await
        })
    }

    fn set_maintenance(&mut self, rec: Option<&MaintenanceRecord>) -> crate::store::Result<()> {
        self.state_changed = true;
        self.run(async {
            match rec {
                None => {
                    self.tx.execute("DELETE FROM maintenance", &[]).await?;
                }
                Some(rec) => {
                    self.tx
                        .execute(
                            "INSERT INTO maintenance (id, status, activation_requested_at, activated_at, requested_by)
                             VALUES (1, $1, $2, $3, $4)
                             ON CONFLICT (id) DO UPDATE SET status = $1, activation_requested_at = $2,
                                activated_at = $3, requested_by = $4",
                            &[&rec.status.as_str(), &rec.activation_requested_at, &rec.activated_at, &rec.requested_by],
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
                    "INSERT INTO deployments (id, blueprint_id, inputs, created_at, updated_at, created_by, tenant_name)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[&d.id, &d.blueprint_id, &d.inputs.to_string(), &d.created_at, &d.updated_at, &d.created_by, &d.tenant_name],
                )
                .await?;
            Ok(())
        })
    }

    fn delete_deployment(&mut self, id: &str) -> crate::store::Result<bool> {
        self.run(async { Ok(self.tx.execute("DELETE FROM deployments WHERE id = $1", &[&id]).await? > 0) })
    }

    fn user(&mut self, username: &str) -> crate::store::Result<Option<User>> {
        self.run(reads::user(self.tx, username))
    }

    fn has_users(&mut self) -> crate::store::Result<bool> {
        self.run(async { Ok(self.tx.query_one("SELECT EXISTS (SELECT 1 FROM users)", &[]).await?.get(0)) })
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
        self.run(async { Ok(self.tx.execute("DELETE FROM users WHERE username = $1", &[&username]).await? > 0) })
    }
}

async fn insert_event(tx: &Transaction<'_>, execution_id: &str, event: &NewEvent) -> PgResult<()> {
    tx.execute(
        "INSERT INTO events (execution_id, timestamp, event_type, message) VALUES ($1, $2, $3, $4)",
        &[&execution_id, &event.timestamp, &event.event_type, &event.message],
    )
    .await?;
    Ok(())
}

pub(super) fn transact(store: &PgStore, expected: Option<u64>, body: TxBody<'_>) -> crate::error::Result<Outcome> {
    let mut client = store.run(async { Ok(store.pool.get().await?) })?;
    let tx = store.run(async { Ok(client.transaction().await?) })?;
    let state = store.run(async {
        let st = tx.prepare_cached("SELECT state FROM generations WHERE id = 1 FOR UPDATE").await?;
        let version: i64 = tx.query_one(&st, &[]).await?.get(0);
        read_rest(&tx, version as u64).await
    })?;
    if expected.is_some_and(|v| v != state.version) {
        // Dropping the transaction rolls it back; it wrote nothing.
        return Ok(Outcome::Moved(state));
    }
    let mut writes = PgStateTx { store, tx: &tx, state, state_changed: false, users_changed: Vec::new() };
    body(&mut writes)?;
    let PgStateTx { state, state_changed, users_changed, .. } = writes;
    let state = store.run(async {
        if !state_changed && users_changed.is_empty() {
            return Ok(state);
        }
        let users_moved = i64::from(!users_changed.is_empty());
        let version: i64 = tx
            .query_one(
                "UPDATE generations SET state = state + $1, users = users + $2 WHERE id = 1 RETURNING state",
                &[&i64::from(state_changed), &users_moved],
            )
            .await?
            .get(0);
        // Delivered to every listening host when (and only if) this commits.
        if state_changed {
            tx.batch_execute(&notify_sql("state")).await?;
        }
        for name in &users_changed {
            tx.batch_execute(&notify_sql(&format!("user:{name}"))).await?;
        }
        if state_changed { read_rest(&tx, version as u64).await } else { Ok(state) }
    })?;
    store.run(async { Ok(tx.commit().await?) })?;
    Ok(Outcome::Committed(state))
}

