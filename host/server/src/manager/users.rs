//! Users: create (admitted), reads.

use drydock_gate::Admission;

use drydock_engine::Role;

use super::{Manager, not_found};
use crate::error::{Error, Result};
use crate::store::User;

impl Manager {
    pub fn user(&self, username: &str) -> Result<Option<User>> {
        Ok(self.store.user(username)?)
    }

    pub fn users(&self) -> Result<Vec<User>> {
        Ok(self.store.users()?)
    }

    pub fn create_user(&self, user: User, admission: Option<&dyn Admission>) -> Result<User> {
        let _inner = self.admit(admission)?;
        if self.store.user(&user.username)?.is_some() {
            return Err(Error::Conflict(format!("user `{}` already exists", user.username)));
        }
        self.store.insert_user(&user)?;
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
        let _inner = self.admit(admission)?;
        let mut user = self.store.user(username)?.ok_or_else(|| not_found("User", username))?;
        if let Some(hash) = password_hash {
            user.password_hash = hash;
        }
        if let Some(role) = role {
            user.role = role;
        }
        self.store.update_user(&user)?;
        Ok(user)
    }

    pub fn delete_user(&self, username: &str, admission: Option<&dyn Admission>) -> Result<User> {
        let _inner = self.admit(admission)?;
        let user = self.store.user(username)?.ok_or_else(|| not_found("User", username))?;
        self.store.delete_user(username)?;
        Ok(user)
    }
}
