//! The `maintenance` row (present while activating or activated), its history and
//! the scheduled windows; the state the race-free rule decides under, and the
//! generations.

use rusqlite::{OptionalExtension, Row, params};

use super::Tx;
use drydock_engine::MaintenanceState;

use crate::store::{Generations, MaintenanceRecord, ManagerState, OnDeadline, Page, Transition, Window, WindowStatus};

const WINDOW_COLUMNS: &str = "id, start_at, end_at, reason, created_by, created_at, status";

fn window_from_row(r: &Row) -> rusqlite::Result<Window> {
    let status: String = r.get(6)?;
    Ok(Window {
        id: r.get(0)?,
        start_at: r.get(1)?,
        end_at: r.get(2)?,
        reason: r.get(3)?,
        created_by: r.get(4)?,
        created_at: r.get(5)?,
        status: WindowStatus::parse(&status).unwrap_or(WindowStatus::Cancelled),
    })
}

fn state_of(s: &str) -> MaintenanceState {
    MaintenanceState::parse(s).unwrap_or(MaintenanceState::Deactivated)
}

impl Tx<'_> {
    pub(super) fn maintenance(&self) -> anyhow::Result<Option<MaintenanceRecord>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT status, activation_requested_at, activated_at, requested_by, reason, until_at, deadline_at, on_deadline
             FROM maintenance WHERE id = 1",
        )?;
        Ok(stmt
            .query_row([], |r| {
                let status: String = r.get(0)?;
                let deadline = match (r.get::<_, Option<String>>(6)?, r.get::<_, Option<String>>(7)?) {
                    (Some(at), Some(on)) => OnDeadline::parse(&on).map(|on| (at, on)),
                    _ => None,
                };
                Ok(MaintenanceRecord {
                    status: MaintenanceState::parse(&status).unwrap_or(MaintenanceState::Activated),
                    activation_requested_at: r.get(1)?,
                    activated_at: r.get(2)?,
                    requested_by: r.get(3)?,
                    reason: r.get(4)?,
                    until: r.get(5)?,
                    deadline,
                })
            })
            .optional()?)
    }

    pub(super) fn set_maintenance(&self, rec: Option<&MaintenanceRecord>) -> anyhow::Result<()> {
        match rec {
            None => {
                self.tx.execute("DELETE FROM maintenance", [])?;
            }
            Some(rec) => {
                let (deadline_at, on_deadline) = match &rec.deadline {
                    Some((at, on)) => (Some(at.as_str()), Some(on.as_str())),
                    None => (None, None),
                };
                self.tx.execute(
                    "INSERT INTO maintenance (id, status, activation_requested_at, activated_at, requested_by,
                        reason, until_at, deadline_at, on_deadline)
                     VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (id) DO UPDATE SET status = ?1, activation_requested_at = ?2,
                        activated_at = ?3, requested_by = ?4, reason = ?5, until_at = ?6,
                        deadline_at = ?7, on_deadline = ?8",
                    params![
                        rec.status.as_str(),
                        rec.activation_requested_at,
                        rec.activated_at,
                        rec.requested_by,
                        rec.reason,
                        rec.until,
                        deadline_at,
                        on_deadline
                    ],
                )?;
            }
        }
        Ok(())
    }

    pub(super) fn record_transition(&self, t: &Transition) -> anyhow::Result<()> {
        self.tx.execute(
            "INSERT INTO maintenance_history (at, username, from_state, to_state, reason, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![t.at, t.by, t.from.as_str(), t.to.as_str(), t.reason, t.detail],
        )?;
        Ok(())
    }

    pub(super) fn history(&self, page: &Page) -> anyhow::Result<(Vec<Transition>, u64)> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT at, username, from_state, to_state, reason, detail FROM maintenance_history
             ORDER BY seq DESC LIMIT ?1 OFFSET ?2",
        )?;
        let items = stmt
            .query_map(params![page.size, page.offset], |r| {
                Ok(Transition {
                    at: r.get(0)?,
                    by: r.get(1)?,
                    from: state_of(&r.get::<_, String>(2)?),
                    to: state_of(&r.get::<_, String>(3)?),
                    reason: r.get(4)?,
                    detail: r.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let total = self.tx.query_row("SELECT COUNT(*) FROM maintenance_history", [], |r| r.get(0))?;
        Ok((items, total))
    }

    pub(super) fn insert_window(&self, w: &Window) -> anyhow::Result<()> {
        self.tx.execute(
            "INSERT INTO maintenance_windows (id, start_at, end_at, reason, created_by, created_at, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![w.id, w.start_at, w.end_at, w.reason, w.created_by, w.created_at, w.status.as_str()],
        )?;
        Ok(())
    }

    pub(super) fn set_window_status(&self, id: &str, status: WindowStatus) -> anyhow::Result<()> {
        self.tx.execute("UPDATE maintenance_windows SET status = ?2 WHERE id = ?1", params![id, status.as_str()])?;
        Ok(())
    }

    /// Scheduled or under way (`live`), or every one.
    pub(super) fn windows(&self, live: bool) -> anyhow::Result<Vec<Window>> {
        let filter = if live { " WHERE status IN ('scheduled', 'started')" } else { "" };
        let mut stmt =
            self.tx.prepare_cached(&format!("SELECT {WINDOW_COLUMNS} FROM maintenance_windows{filter} ORDER BY start_at, id"))?;
        Ok(stmt.query_map([], window_from_row)?.collect::<Result<_, _>>()?)
    }

    pub(super) fn generations(&self) -> anyhow::Result<Generations> {
        Ok(self.tx.query_row("SELECT state, policy, users FROM generations WHERE id = 1", [], |r| {
            Ok(Generations { state: r.get(0)?, policy: r.get(1)?, users: r.get(2)?, executions: 0 })
        })?)
    }

    pub(super) fn bump(&self, state: bool, policy: bool, users: bool) -> anyhow::Result<()> {
        self.tx.execute(
            "UPDATE generations SET state = state + ?1, policy = policy + ?2, users = users + ?3 WHERE id = 1",
            params![state as i64, policy as i64, users as i64],
        )?;
        Ok(())
    }

    /// The state as the database holds it: read in whole when the store opens; after
    /// that the store keeps it as it commits.
    pub(super) fn manager_state(&self) -> anyhow::Result<ManagerState> {
        Ok(ManagerState {
            version: self.generations()?.state,
            maintenance: self.maintenance()?,
            counts: self.counts()?,
            windows: self.windows(true)?,
        })
    }
}
