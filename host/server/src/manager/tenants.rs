//! Tenants and their members: created and deleted by a sys_admin, each change one
//! transaction under the state lock alone (as users are). A membership change
//! counts as a change of its user: every host forgets what it cached of them.

use super::{Manager, not_found};
use crate::error::{Error, Result};
use crate::store::{DEFAULT_TENANT, Lock, StateTx, Tenant, TenantRole};
use crate::timestamp;

impl Manager {
    pub fn tenants(&self) -> Result<Vec<Tenant>> {
        Ok(self.store.tenants()?)
    }

    pub fn tenant(&self, name: &str) -> Result<Option<Tenant>> {
        Ok(self.store.tenant(name)?)
    }

    pub fn tenant_exists(&self, name: &str) -> Result<bool> {
        Ok(self.store.tenant_exists(name)?)
    }

    /// The tenants `username` is a member of, with the role there.
    pub fn memberships(&self, username: &str) -> Result<Vec<(String, TenantRole)>> {
        Ok(self.store.memberships(username)?)
    }

    pub fn create_tenant(&self, name: &str) -> Result<Tenant> {
        let (tenant, _) = self.change(None, Lock::Exclusive, |tx| {
            if tx.tenant(name)?.is_some() {
                return Err(Error::Conflict(format!("Tenant `{name}` already exists")));
            }
            tx.insert_tenant(name, &timestamp::now())?;
            existing(tx, name)
        })?;
        Ok(tenant)
    }

    /// Delete a tenant that holds no deployment or execution; returns it as it was
    /// (its members, so the caller can forget what it cached of them).
    pub fn delete_tenant(&self, name: &str) -> Result<Tenant> {
        let (tenant, _) = self.change(None, Lock::Exclusive, |tx| {
            let tenant = existing(tx, name)?;
            if name == DEFAULT_TENANT {
                return Err(Error::Conflict(format!("`{DEFAULT_TENANT}` is where users start and cannot be deleted")));
            }
            let held = tx.tenant_usage(name)?;
            if held > 0 {
                return Err(Error::Conflict(format!(
                    "Tenant `{name}` still holds {held} deployments and unfinished executions; end its executions and delete its deployments first"
                )));
            }
            tx.delete_tenant(name)?;
            Ok(tenant)
        })?;
        Ok(tenant)
    }

    /// Make `username` a member of `tenant` with `role`: `adding` refuses an existing
    /// member (409), else a non-member is refused (404, as Cloudify answers both).
    pub fn set_member(&self, tenant: &str, username: &str, role: TenantRole, adding: bool) -> Result<Tenant> {
        let (t, _) = self.change(None, Lock::Exclusive, |tx| {
            let t = existing(tx, tenant)?;
            tx.user(username)?.ok_or_else(|| not_found("User", username))?;
            let member = t.members.iter().any(|(u, _)| u == username);
            match (adding, member) {
                (true, true) => return Err(Error::Conflict(format!("User `{username}` is already associated with tenant `{tenant}`"))),
                (false, false) => return Err(not_member(username, tenant)),
                _ => {}
            }
            tx.set_member(tenant, username, Some(role))?;
            existing(tx, tenant)
        })?;
        Ok(t)
    }

    pub fn remove_member(&self, tenant: &str, username: &str) -> Result<Tenant> {
        let (t, _) = self.change(None, Lock::Exclusive, |tx| {
            let t = existing(tx, tenant)?;
            if !t.members.iter().any(|(u, _)| u == username) {
                return Err(not_member(username, tenant));
            }
            tx.set_member(tenant, username, None)?;
            existing(tx, tenant)
        })?;
        Ok(t)
    }
}

fn existing(tx: &mut dyn StateTx, name: &str) -> Result<Tenant> {
    tx.tenant(name)?.ok_or_else(|| not_found("Tenant", name))
}

fn not_member(username: &str, tenant: &str) -> Error {
    Error::NotFound(format!("User `{username}` is not associated with tenant `{tenant}`"))
}
