//! The `decisions` table: the decision log (records as JSON, indexed columns for
//! the filters).

use rusqlite::{OptionalExtension, params, params_from_iter};

use super::Tx;
use crate::decisions::DecisionRecord;
use crate::store::{DecisionFilter, Page};

fn parse(text: String) -> rusqlite::Result<DecisionRecord> {
    serde_json::from_str(&text).map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

impl Tx<'_> {
    pub(super) fn insert_decisions(&self, records: &[DecisionRecord]) -> anyhow::Result<()> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO decisions (id, at, verdict, origin, username, path, policy_sha256, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for r in records {
            stmt.execute(params![
                r.id,
                r.at,
                r.verdict.as_str(),
                r.origin.as_str(),
                r.input.request.user,
                r.input.request.path,
                r.policy.as_ref().map(|p| &p.sha256),
                serde_json::to_string(r)?
            ])?;
        }
        Ok(())
    }

    pub(super) fn decisions(&self, filter: &DecisionFilter, page: &Page) -> anyhow::Result<(Vec<DecisionRecord>, u64)> {
        let (cond, mut args) = filter.conditions(1, |n| format!("?{n}"));
        let total = self.tx.query_row(
            &format!("SELECT COUNT(*) FROM (SELECT 1 FROM decisions WHERE 1 = 1{cond} LIMIT {})", crate::store::DECISIONS_COUNTED),
            params_from_iter(&args),
            |r| r.get(0),
        )?;
        let n = args.len();
        args.push(page.size.to_string());
        args.push(page.offset.to_string());
        let sql = format!("SELECT record FROM decisions WHERE 1 = 1{cond} ORDER BY seq DESC LIMIT ?{} OFFSET ?{}", n + 1, n + 2);
        let items = self.tx.prepare(&sql)?.query_map(params_from_iter(&args), |r| parse(r.get(0)?))?.collect::<Result<_, _>>()?;
        Ok((items, total))
    }

    pub(super) fn decisions_after(&self, filter: &DecisionFilter, after: i64, limit: u32) -> anyhow::Result<Vec<(i64, DecisionRecord)>> {
        let (cond, mut args) = filter.conditions(3, |n| format!("?{n}"));
        let sql = format!("SELECT seq, record FROM decisions WHERE seq > ?1{cond} ORDER BY seq LIMIT ?2");
        args.insert(0, limit.to_string());
        args.insert(0, after.to_string());
        let rows = self.tx.prepare(&sql)?.query_map(params_from_iter(&args), |r| Ok((r.get(0)?, parse(r.get(1)?)?)))?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    pub(super) fn decision(&self, id: &str) -> anyhow::Result<Option<DecisionRecord>> {
        Ok(self.tx.query_row("SELECT record FROM decisions WHERE id = ?1", [id], |r| parse(r.get(0)?)).optional()?)
    }

    pub(super) fn prune_decisions(&self, max_rows: u64, before: &str) -> anyhow::Result<u64> {
        let old = self.tx.execute("DELETE FROM decisions WHERE at < ?1", [before])?;
        let over = self.tx.execute(
            "DELETE FROM decisions WHERE seq <= (SELECT seq FROM decisions ORDER BY seq DESC LIMIT 1 OFFSET ?1)",
            [max_rows as i64],
        )?;
        Ok((old + over) as u64)
    }
}
