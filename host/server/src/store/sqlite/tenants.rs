//! The `tenants` and `tenant_members` tables.

use rusqlite::{OptionalExtension, params};

use super::Tx;
use crate::store::{Tenant, TenantRole};

fn role_col(r: &rusqlite::Row, idx: usize) -> rusqlite::Result<TenantRole> {
    let role: String = r.get(idx)?;
    // A CHECK holds the column to the four names; a foreign one reads as the least.
    Ok(TenantRole::parse(&role).unwrap_or(TenantRole::Viewer))
}

impl Tx<'_> {
    /// Every tenant with its members, by name.
    pub(super) fn tenants(&self) -> anyhow::Result<Vec<Tenant>> {
        let mut tenants: Vec<Tenant> = self
            .tx
            .prepare("SELECT name, created_at FROM tenants ORDER BY name")?
            .query_map([], |r| Ok(Tenant { name: r.get(0)?, created_at: r.get(1)?, members: Vec::new() }))?
            .collect::<Result<_, _>>()?;
        let mut stmt = self.tx.prepare("SELECT tenant, username, role FROM tenant_members ORDER BY tenant, username")?;
        let members = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, role_col(r, 2)?)))?;
        for m in members {
            let (tenant, user, role) = m?;
            if let Ok(i) = tenants.binary_search_by(|t| t.name.as_str().cmp(&tenant)) {
                tenants[i].members.push((user, role));
            }
        }
        Ok(tenants)
    }

    pub(super) fn tenant(&self, name: &str) -> anyhow::Result<Option<Tenant>> {
        let Some(created_at) = self
            .tx
            .query_row("SELECT created_at FROM tenants WHERE name = ?1", [name], |r| r.get::<_, String>(0))
            .optional()?
        else {
            return Ok(None);
        };
        let members = self
            .tx
            .prepare_cached("SELECT username, role FROM tenant_members WHERE tenant = ?1 ORDER BY username")?
            .query_map([name], |r| Ok((r.get(0)?, role_col(r, 1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(Some(Tenant { name: name.to_string(), created_at, members }))
    }

    /// The tenants `username` is a member of, with the role there.
    pub(super) fn memberships(&self, username: &str) -> anyhow::Result<Vec<(String, TenantRole)>> {
        let rows = self
            .tx
            .prepare_cached("SELECT tenant, role FROM tenant_members WHERE username = ?1 ORDER BY tenant")?
            .query_map([username], |r| Ok((r.get(0)?, role_col(r, 1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    pub(super) fn insert_tenant(&self, name: &str, created_at: &str) -> anyhow::Result<()> {
        self.tx.execute("INSERT INTO tenants (name, created_at) VALUES (?1, ?2)", params![name, created_at])?;
        Ok(())
    }

    /// Delete a tenant, its memberships and its ended executions with their events
    /// (what [`Tx::tenant_usage`] does not count); its members' names.
    pub(super) fn delete_tenant(&self, name: &str) -> anyhow::Result<Vec<String>> {
        let members = self.tenant(name)?.map(|t| t.members.into_iter().map(|(u, _)| u).collect()).unwrap_or_default();
        self.tx.execute("DELETE FROM events WHERE execution_id IN (SELECT id FROM executions WHERE tenant_name = ?1)", [name])?;
        self.tx.execute("DELETE FROM executions WHERE tenant_name = ?1", [name])?;
        self.tx.execute("DELETE FROM tenants WHERE name = ?1", [name])?;
        Ok(members)
    }

    /// What keeps a tenant from being deleted: its deployments and unfinished executions.
    pub(super) fn tenant_usage(&self, name: &str) -> anyhow::Result<u64> {
        Ok(self.tx.query_row(
            "SELECT (SELECT COUNT(*) FROM deployments WHERE tenant_name = ?1)
                  + (SELECT COUNT(*) FROM executions WHERE tenant_name = ?1
                     AND status NOT IN ('terminated', 'failed', 'cancelled'))",
            [name],
            |r| r.get(0),
        )?)
    }

    /// Make `username` a member of `tenant` with `role`, or (`None`) no member.
    pub(super) fn set_member(&self, tenant: &str, username: &str, role: Option<TenantRole>) -> anyhow::Result<()> {
        match role {
            Some(role) => self.tx.execute(
                "INSERT INTO tenant_members (tenant, username, role) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant, username) DO UPDATE SET role = ?3",
                params![tenant, username, role.as_str()],
            )?,
            None => self.tx.execute("DELETE FROM tenant_members WHERE tenant = ?1 AND username = ?2", params![tenant, username])?,
        };
        Ok(())
    }
}
