//! The `executions` and `events` tables.

use rusqlite::{OptionalExtension, params};

use super::Tx;
use drydock_engine::ExecutionStatus;

use super::rows::{execution_from_row, order_by, scope_filter};
use crate::store::{Counts, Event, Execution, NewEvent, Page, Remaining, Scope};

/// The partial indexes' condition (migration 0006): a query must say it the same way.
const UNFINISHED: &str = "status NOT IN ('terminated', 'failed', 'cancelled')";

impl Tx<'_> {
    pub(super) fn execution(&self, id: &str) -> anyhow::Result<Option<Execution>> {
        Ok(self
            .tx
            .prepare_cached("SELECT * FROM executions WHERE id = ?1")?
            .query_row([id], execution_from_row)
            .optional()?)
    }

    pub(super) fn insert_execution(&self, e: &Execution) -> anyhow::Result<()> {
        // Cached: these run on every create and report.
        self.tx.prepare_cached(
            "INSERT INTO executions (id, deployment_id, workflow_id, status, parameters, error,
                is_system_workflow, created_at, started_at, ended_at, created_by, tenant_name, visibility, vouched)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?
        .execute(params![
                e.id,
                e.deployment_id,
                e.workflow_id,
                e.status.as_str(),
                e.parameters.to_string(),
                e.error,
                e.is_system_workflow,
                e.created_at,
                e.started_at,
                e.ended_at,
                e.created_by,
                e.tenant_name,
                e.visibility.as_str(),
                e.vouched
            ])?;
        Ok(())
    }

    pub(super) fn update_execution(&self, e: &Execution) -> anyhow::Result<()> {
        self.tx
            .prepare_cached("UPDATE executions SET status = ?2, error = ?3, started_at = ?4, ended_at = ?5, vouched = ?6 WHERE id = ?1")?
            .execute(params![e.id, e.status.as_str(), e.error, e.started_at, e.ended_at, e.vouched])?;
        Ok(())
    }

    /// Unfinished executions, oldest first, at most `limit` (the partial index).
    pub(super) fn remaining(&self, limit: usize) -> anyhow::Result<Vec<Remaining>> {
        let mut stmt = self.tx.prepare_cached(&format!(
            "SELECT id, created_at, status, deployment_id, workflow_id FROM executions
             WHERE {UNFINISHED} ORDER BY created_at, id LIMIT ?1"
        ))?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            let status: String = r.get(2)?;
            Ok(Remaining {
                id: r.get(0)?,
                created_at: r.get(1)?,
                // A foreign value reads as failed (see rows.rs), which is not unfinished.
                status: ExecutionStatus::parse(&status).unwrap_or(ExecutionStatus::Failed),
                deployment_id: r.get(3)?,
                workflow_id: r.get(4)?,
            })
        })?;
        Ok(rows.filter(|r| r.as_ref().map_or(true, |r| !r.status.is_terminal())).collect::<Result<_, _>>()?)
    }

    pub(super) fn has_unfinished(&self, deployment: &str) -> anyhow::Result<bool> {
        let mut stmt = self
            .tx
            .prepare_cached(&format!("SELECT EXISTS (SELECT 1 FROM executions WHERE deployment_id = ?1 AND {UNFINISHED})"))?;
        Ok(stmt.query_row([deployment], |r| r.get(0))?)
    }

    /// What the store keeps counting from then on: read once, when it opens.
    pub(super) fn counts(&self) -> anyhow::Result<Counts> {
        let mut stmt = self.tx.prepare(&format!("SELECT status, COUNT(*) FROM executions WHERE {UNFINISHED} GROUP BY status"))?;
        let mut counts = Counts::default();
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (status, n) = row?;
            if let Some(status) = ExecutionStatus::parse(&status) {
                counts.add(status, n);
            }
        }
        Ok(counts)
    }

    /// Executions, optionally of one deployment and/or with given statuses.
    pub(super) fn executions(
        &self,
        scope: Option<&Scope>,
        deployment_id: Option<&str>,
        statuses: &[ExecutionStatus],
        page: &Page,
    ) -> anyhow::Result<(Vec<Execution>, u64)> {
        let (scoped, mut args) = scope_filter(scope, 1);
        let mut filter = format!(" WHERE 1 = 1{scoped}");
        if let Some(dep) = deployment_id {
            args.push(dep.to_string());
            filter.push_str(&format!(" AND deployment_id = ?{}", args.len()));
        }
        if !statuses.is_empty() {
            let marks: Vec<String> = statuses
                .iter()
                .map(|s| {
                    args.push(s.as_str().to_string());
                    format!("?{}", args.len())
                })
                .collect();
            filter.push_str(&format!(" AND status IN ({})", marks.join(", ")));
        }
        let n = args.len();
        let sql = format!(
            "SELECT * FROM executions{filter}{} LIMIT ?{} OFFSET ?{}",
            order_by(page, "created_at"),
            n + 1,
            n + 2
        );
        let mut bound: Vec<&dyn rusqlite::ToSql> =
            args.iter().map(|a| a as &dyn rusqlite::ToSql).collect();
        // The total from the counts the triggers keep (migration 0012), under the
        // same filter: never a count of the executions themselves.
        let total = self.tx.prepare_cached(&format!("SELECT COALESCE(SUM(n), 0) FROM execution_totals{filter}"))?.query_row(
            bound.as_slice(),
            |r| r.get(0),
        )?;
        bound.push(&page.size);
        bound.push(&page.offset);
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let items = stmt
            .query_map(bound.as_slice(), execution_from_row)?
            .collect::<Result<_, _>>()?;
        Ok((items, total))
    }

    pub(super) fn insert_event(&self, execution_id: &str, event: &NewEvent) -> anyhow::Result<()> {
        self.tx
            .prepare_cached("INSERT INTO events (execution_id, timestamp, event_type, message) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![execution_id, event.timestamp, event.event_type, event.message])?;
        Ok(())
    }

    pub(super) fn events(&self, execution_id: &str, page: &Page) -> anyhow::Result<(Vec<Event>, u64)> {
        let mut stmt = self.tx.prepare(
            "SELECT id, execution_id, timestamp, event_type, message FROM events
             WHERE execution_id = ?1 ORDER BY id LIMIT ?2 OFFSET ?3",
        )?;
        let items = stmt
            .query_map(params![execution_id, page.size, page.offset], |r| {
                Ok(Event {
                    id: r.get(0)?,
                    execution_id: r.get(1)?,
                    timestamp: r.get(2)?,
                    event_type: r.get(3)?,
                    message: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let total = self.tx.query_row(
            "SELECT COUNT(*) FROM events WHERE execution_id = ?1",
            [execution_id],
            |r| r.get(0),
        )?;
        Ok((items, total))
    }
}
