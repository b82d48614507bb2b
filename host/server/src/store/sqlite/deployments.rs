//! The `deployments` table.

use rusqlite::{OptionalExtension, params};

use super::Tx;
use super::rows::{deployment_from_row, order_by, scope_filter};
use crate::store::{Deployment, Page, Scope};

impl Tx<'_> {
    pub(super) fn deployment(&self, id: &str) -> anyhow::Result<Option<Deployment>> {
        Ok(self
            .tx
            .prepare_cached("SELECT * FROM deployments WHERE id = ?1")?
            .query_row([id], deployment_from_row)
            .optional()?)
    }

    pub(super) fn insert_deployment(&self, d: &Deployment) -> anyhow::Result<()> {
        self.tx.execute(
            "INSERT INTO deployments (id, blueprint_id, inputs, created_at, updated_at, created_by, tenant_name, visibility)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                d.id,
                d.blueprint_id,
                d.inputs.to_string(),
                d.created_at,
                d.updated_at,
                d.created_by,
                d.tenant_name,
                d.visibility.as_str()
            ],
        )?;
        Ok(())
    }

    pub(super) fn delete_deployment(&self, id: &str) -> anyhow::Result<bool> {
        Ok(self.tx.execute("DELETE FROM deployments WHERE id = ?1", [id])? > 0)
    }

    pub(super) fn deployments(&self, scope: Option<&Scope>, page: &Page) -> anyhow::Result<(Vec<Deployment>, u64)> {
        let (filter, args) = scope_filter(scope, 1);
        let n = args.len();
        let sql = format!(
            "SELECT * FROM deployments WHERE 1 = 1{filter}{} LIMIT ?{} OFFSET ?{}",
            order_by(page, "created_at"),
            n + 1,
            n + 2
        );
        let mut bound: Vec<&dyn rusqlite::ToSql> = args.iter().map(|a| a as &dyn rusqlite::ToSql).collect();
        let total = self.tx.query_row(&format!("SELECT COUNT(*) FROM deployments WHERE 1 = 1{filter}"), bound.as_slice(), |r| r.get(0))?;
        bound.push(&page.size);
        bound.push(&page.offset);
        let mut stmt = self.tx.prepare(&sql)?;
        let items = stmt.query_map(bound.as_slice(), deployment_from_row)?.collect::<Result<_, _>>()?;
        Ok((items, total))
    }
}
