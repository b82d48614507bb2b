//! The `maintenance` row: present while activating or activated.

use rusqlite::{OptionalExtension, params};

use super::Tx;
use drydock_engine::MaintenanceState;

use crate::store::MaintenanceRecord;

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

}
