//! The `users` table.

use rusqlite::{OptionalExtension, params};

use super::Tx;
use super::rows::user_from_row;
use crate::store::User;

impl Tx<'_> {
    pub(super) fn user(&self, username: &str) -> anyhow::Result<Option<User>> {
        Ok(self
            .tx
            .query_row(
                "SELECT username, password_hash, role, created_at FROM users WHERE username = ?1",
                [username],
                user_from_row,
            )
            .optional()?)
    }

    pub(super) fn insert_user(&self, user: &User) -> anyhow::Result<()> {
        self.tx.execute(
            "INSERT INTO users (username, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![user.username, user.password_hash, user.role.as_str(), user.created_at],
        )?;
        Ok(())
    }

    pub(super) fn users(&self) -> anyhow::Result<Vec<User>> {
        let mut stmt = self
            .tx
            .prepare("SELECT username, password_hash, role, created_at FROM users ORDER BY username")?;
        let rows = stmt.query_map([], user_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(super) fn update_user(&self, user: &User) -> anyhow::Result<()> {
        self.tx.execute(
            "UPDATE users SET password_hash = ?2, role = ?3 WHERE username = ?1",
            params![user.username, user.password_hash, user.role.as_str()],
        )?;
        Ok(())
    }

    pub(super) fn delete_user(&self, username: &str) -> anyhow::Result<bool> {
        Ok(self.tx.execute("DELETE FROM users WHERE username = ?1", [username])? > 0)
    }
}
