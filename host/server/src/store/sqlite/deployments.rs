//! The `deployments` table.

use rusqlite::{OptionalExtension, params};

use super::Tx;
use super::rows::{deployment_from_row, order_by};
use crate::store::{Deployment, Page};

impl Tx<'_> {
    pub(super) fn deployment(&self, id: &str) -> anyhow::Result<Option<Deployment>> {
        Ok(self
            .tx
            .query_row("SELECT * FROM deployments WHERE id = ?1", [id], deployment_from_row)
            .optional()?)
    }

    pub(super) fn insert_deployment(&self, d: &Deployment) -> anyhow::Result<()> {
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

    pub(super) fn delete_deployment(&self, id: &str) -> anyhow::Result<bool> {
        Ok(self.tx.execute("DELETE FROM deployments WHERE id = ?1", [id])? > 0)
    }

    pub(super) fn deployments(&self, page: &Page) -> anyhow::Result<(Vec<Deployment>, u64)> {
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
}
