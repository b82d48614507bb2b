//! Users: create (admitted), reads.

use drydock_gate::Admission;

use super::Manager;
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
}
