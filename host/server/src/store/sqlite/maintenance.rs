//! The `maintenance` row (present while activating or activated), the state the
//! race-free rule decides under, and the generations.

use rusqlite::{OptionalExtension, params};

use super::Tx;
use drydock_engine::MaintenanceState;

use crate::store::{Generations, MaintenanceRecord, ManagerState, Remaining};

impl Tx<'_> {
    pub(super) fn maintenance(&self) -> anyhow::Result<Option<MaintenanceRecord>> {
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

    pub(super) fn set_maintenance(&self, rec: Option<&MaintenanceRecord>) -> anyhow::Result<()> {
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

    pub(super) fn generations(&self) -> anyhow::Result<Generations> {
        Ok(self.tx.query_row("SELECT state, policy, users FROM generations WHERE id = 1", [], |r| {
            Ok(Generations { state: r.get(0)?, policy: r.get(1)?, users: r.get(2)? })
        })?)
    }

    pub(super) fn bump(&self, state: bool, policy: bool, users: bool) -> anyhow::Result<()> {
        self.tx.execute(
            "UPDATE generations SET state = state + ?1, policy = policy + ?2, users = users + ?3 WHERE id = 1",
            params![state as i64, policy as i64, users as i64],
        )?;
        Ok(())
    }

    pub(super) fn manager_state(&self) -> anyhow::Result<ManagerState> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT id, created_at, status, deployment_id, workflow_id FROM executions
             WHERE status NOT IN ('terminated', 'failed', 'cancelled') ORDER BY created_at, id",
        )?;
        let unfinished = stmt
            .query_map([], |r| {
                let status: String = r.get(2)?;
                Ok(Remaining {
                    id: r.get(0)?,
                    created_at: r.get(1)?,
                    status: drydock_engine::ExecutionStatus::parse(&status).unwrap_or(drydock_engine::ExecutionStatus::Failed),
                    deployment_id: r.get(3)?,
                    workflow_id: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        // A foreign status value reads as failed (see rows.rs): not unfinished.
        let unfinished = unfinished.into_iter().filter(|r| !r.status.is_terminal()).collect();
        Ok(ManagerState { version: self.generations()?.state, maintenance: self.maintenance()?, unfinished })
    }
}
