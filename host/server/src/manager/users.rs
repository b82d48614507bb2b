//! Users: create (admitted), reads.

use drydock_gate::Admission;

use drydock_engine::Role;

use super::{Manager, not_found};
use crate::error::{Error, Result};
use crate::store::{DEFAULT_TENANT, Lock, TenantRole, User};

impl Manager {
    pub fn user(&self, username: &str) -> Result<Option<User>> {
        Ok(self.store.user(username)?)
    }

    pub fn users(&self) -> Result<Vec<User>> {
        Ok(self.store.users()?)
    }

    pub fn create_user(&self, user: User, admission: Option<&dyn Admission>) -> Result<User> {
        self.change(admission, Lock::Exclusive, |tx| {
            if tx.user(&user.username)?.is_some() {
                return Err(Error::Conflict(format!("user `{}` already exists", user.username)));
            }
            Ok(tx.insert_user(&user)?)
        })?;
        Ok(user)
    }

    /// Change a user's password hash and/or role.
    pub fn update_user(
        &self,
        username: &str,
        password_hash: Option<String>,
        role: Option<Role>,
        admission: Option<&dyn Admission>,
    ) -> Result<User> {
        let (user, _) = self.change(admission, Lock::Exclusive, |tx| {
            let mut user = tx.user(username)?.ok_or_else(|| not_found("User", username))?;
            if role.as_ref().is_some_and(|r| !r.is_admin()) && user.role.is_admin() {
                keep_an_admin(tx, username, "demoted")?;
            }
            if let Some(hash) = &password_hash {
                user.password_hash = hash.clone();
            }
            if let Some(role) = &role {
                user.role = role.clone();
            }
            tx.update_user(&user)?;
            Ok(user)
        })?;
        Ok(user)
    }

    pub fn delete_user(&self, username: &str, admission: Option<&dyn Admission>) -> Result<User> {
        let (user, _) = self.change(admission, Lock::Exclusive, |tx| {
            let user = tx.user(username)?.ok_or_else(|| not_found("User", username))?;
            if user.role.is_admin() {
                keep_an_admin(tx, username, "deleted")?;
            }
            tx.delete_user(username)?;
            Ok(user)
        })?;
        Ok(user)
    }
}

/// Refuse to leave nobody who can change anything: the first admin is created only
/// in an empty users table, so a manager without a sys_admin stays that way.
fn keep_an_admin(tx: &mut dyn crate::store::StateTx, username: &str, what: &str) -> Result<()> {
    if tx.admins()? <= 1 {
        return Err(Error::Conflict(format!(
            "`{username}` is the last sys_admin and cannot be {what}: make another user sys_admin first"
        )));
    }
    Ok(())
}

impl Manager {
    /// Create the first user unless one exists (several hosts may start at once on
    /// one database: only one of them creates it). Returns whether it was created.
    pub fn create_first_user(&self, user: &User) -> Result<bool> {
        let (created, _) = self.change(None, Lock::Exclusive, |tx| {
            if tx.has_users()? {
                return Ok(false);
            }
            tx.insert_user(user)?;
            // As Cloudify's bootstrap admin: a member of the default tenant.
            tx.set_member(DEFAULT_TENANT, &user.username, Some(TenantRole::User))?;
            Ok(true)
        })?;
        Ok(created)
    }
}
