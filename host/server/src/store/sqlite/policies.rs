//! The `policies`, `policy_state` and `policy_log` tables.

use rusqlite::{OptionalExtension, params};

use super::Tx;
use super::rows::{POLICY_COLUMNS, policy_from_row};
use crate::store::{PolicyChange, PolicyLogEntry, PolicyRecord, PolicyState, StoredSignature};

impl Tx<'_> {
    /// Every uploaded version, oldest first.
    pub(super) fn policies(&self) -> anyhow::Result<Vec<PolicyRecord>> {
        let mut stmt = self.tx.prepare(&format!("SELECT {POLICY_COLUMNS} FROM policies ORDER BY uploaded_at, rowid"))?;
        let rows = stmt.query_map([], policy_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(super) fn policy(&self, id: &str) -> anyhow::Result<Option<PolicyRecord>> {
        Ok(self
            .tx
            .query_row(&format!("SELECT {POLICY_COLUMNS} FROM policies WHERE id = ?1"), [id], policy_from_row)
            .optional()?)
    }

    pub(super) fn policy_by_sha256(&self, sha256: &str) -> anyhow::Result<Option<PolicyRecord>> {
        Ok(self
            .tx
            .query_row(&format!("SELECT {POLICY_COLUMNS} FROM policies WHERE sha256 = ?1"), [sha256], policy_from_row)
            .optional()?)
    }

    /// The component bytes of an uploaded version.
    pub(super) fn policy_component(&self, id: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.tx.query_row("SELECT component FROM policies WHERE id = ?1", [id], |r| r.get(0)).optional()?)
    }

    pub(super) fn insert_policy(&self, rec: &PolicyRecord, component: &[u8]) -> anyhow::Result<()> {
        self.tx.execute(
            "INSERT INTO policies (id, sha256, name, version, size, component, uploaded_by, uploaded_at, memory_mib, deadline_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                rec.id,
                rec.sha256,
                rec.name,
                rec.version,
                rec.size,
                component,
                rec.uploaded_by,
                rec.uploaded_at,
                rec.budget.memory_mib,
                rec.budget.deadline_ms
            ],
        )?;
        Ok(())
    }

    pub(super) fn delete_policy(&self, id: &str) -> anyhow::Result<bool> {
        Ok(self.tx.execute("DELETE FROM policies WHERE id = ?1", [id])? > 0)
    }

    /// `None` until the first change: the builtin is active, nothing else is set.
    pub(super) fn policy_state(&self) -> anyhow::Result<Option<PolicyState>> {
        Ok(self
            .tx
            .query_row(
                "SELECT active_id, active_since, activated_by, previous_id, shadow_id, shadow_since, shadow_by
                 FROM policy_state WHERE id = 1",
                [],
                |r| {
                    let shadow = match (r.get::<_, Option<String>>(4)?, r.get::<_, Option<String>>(5)?, r.get::<_, Option<String>>(6)?) {
                        (Some(id), Some(since), Some(by)) => Some((id, since, by)),
                        _ => None,
                    };
                    Ok(PolicyState {
                        active_id: r.get(0)?,
                        active_since: r.get(1)?,
                        activated_by: r.get(2)?,
                        previous_id: r.get(3)?,
                        shadow,
                    })
                },
            )
            .optional()?)
    }

    pub(super) fn set_policy_state(&self, st: &PolicyState) -> anyhow::Result<()> {
        let (shadow_id, shadow_since, shadow_by) = match &st.shadow {
            Some((id, since, by)) => (Some(id), Some(since), Some(by)),
            None => (None, None, None),
        };
        self.tx.execute(
            "INSERT INTO policy_state (id, active_id, active_since, activated_by, previous_id, shadow_id, shadow_since, shadow_by)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET active_id = ?1, active_since = ?2, activated_by = ?3,
                previous_id = ?4, shadow_id = ?5, shadow_since = ?6, shadow_by = ?7",
            params![st.active_id, st.active_since, st.activated_by, st.previous_id, shadow_id, shadow_since, shadow_by],
        )?;
        Ok(())
    }

    pub(super) fn log_policy(&self, line: &PolicyChange) -> anyhow::Result<()> {
        self.tx.execute(
            "INSERT INTO policy_log (at, username, action, policy_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![line.at, line.username, line.action, line.policy_id, line.detail],
        )?;
        Ok(())
    }

    pub(super) fn add_signatures(&self, signatures: &[StoredSignature], log: &[PolicyChange]) -> anyhow::Result<()> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO policy_signatures (sha256, key_id, line, added_by, added_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (sha256, key_id) DO UPDATE SET line = excluded.line, added_by = excluded.added_by, added_at = excluded.added_at",
        )?;
        for s in signatures {
            stmt.execute(params![s.sha256, s.key_id, s.line, s.added_by, s.added_at])?;
        }
        for line in log {
            self.log_policy(line)?;
        }
        Ok(())
    }

    /// The signatures over `sha256` (every one, with `None`), by key id.
    pub(super) fn signatures(&self, sha256: Option<&str>) -> anyhow::Result<Vec<StoredSignature>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT sha256, key_id, line, added_by, added_at FROM policy_signatures WHERE ?1 IS NULL OR sha256 = ?1 ORDER BY sha256, key_id",
        )?;
        let rows = stmt.query_map([sha256], |r| {
            Ok(StoredSignature { sha256: r.get(0)?, key_id: r.get(1)?, line: r.get(2)?, added_by: r.get(3)?, added_at: r.get(4)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest `limit` audit entries, newest first.
    pub(super) fn policy_log(&self, limit: u32) -> anyhow::Result<Vec<PolicyLogEntry>> {
        let mut stmt = self.tx.prepare(
            "SELECT seq, at, username, action, policy_id, detail FROM policy_log ORDER BY seq DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok(PolicyLogEntry {
                seq: r.get(0)?,
                at: r.get(1)?,
                username: r.get(2)?,
                action: r.get(3)?,
                policy_id: r.get(4)?,
                detail: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(super) fn artifact_digest(&self, component_sha256: &str, engine: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .tx
            .query_row(
                "SELECT artifact_sha256 FROM policy_artifacts WHERE component_sha256 = ?1 AND engine = ?2",
                params![component_sha256, engine],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub(super) fn record_artifact(&self, component_sha256: &str, engine: &str, artifact_sha256: &str) -> anyhow::Result<()> {
        self.tx.execute(
            "INSERT INTO policy_artifacts (component_sha256, engine, artifact_sha256) VALUES (?1, ?2, ?3)
             ON CONFLICT (component_sha256, engine) DO UPDATE SET artifact_sha256 = ?3",
            params![component_sha256, engine, artifact_sha256],
        )?;
        Ok(())
    }
}
