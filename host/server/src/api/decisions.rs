//! `/decisions`: the decision log, a sys_admin's to read (it quotes every user's
//! requests); and `POST /policies/{id}/replay`, which asks a range of it again of
//! another version.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use drydock_gate::Caller;
use serde::Deserialize;
use utoipa::ToSchema;

use super::json::{JsonBody, QueryPairs};
use super::{App, blocking, require_admin};
use crate::decisions::DecisionRecord;
use crate::decisions::replay::{Replay, ReplayReport};
use crate::error::{Error, Result};
use crate::store::DecisionFilter;
use crate::timestamp;

super::json::list!(DecisionList, DecisionRecord);

/// Decisions one replay reads at most (the oldest in its range).
pub const REPLAY_MAX: u64 = 200_000;

/// A time as the API takes it: a timestamp, or a duration ago (`7d`, `24h`, `30m`).
fn when(name: &str, v: &str) -> Result<String> {
    let v = v.trim();
    let unit = |c: char| match c {
        's' => Some(1),
        'm' => Some(60),
        'h' => Some(3600),
        'd' => Some(86_400),
        _ => None,
    };
    if let Some(last) = v.chars().last()
        && let Some(secs) = unit(last)
        && let Ok(n) = v[..v.len() - 1].parse::<i64>()
        && n >= 0
    {
        let at = chrono::Utc::now() - chrono::Duration::seconds(n.saturating_mul(secs).min(100 * 365 * 86_400));
        return Ok(at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
    }
    let at = timestamp::parse(v).ok_or_else(|| Error::BadRequest(format!("`{name}`: `{v}` is neither a time (2026-12-06T10:00:00Z) nor a duration ago (7d, 24h, 30m)")))?;
    Ok(at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

fn filter(q: &QueryPairs) -> Result<DecisionFilter> {
    let pick = |k: &str| q.get(k).filter(|v| !v.is_empty()).map(str::to_string);
    let verdict = pick("verdict");
    if verdict.as_deref().is_some_and(|v| v != "allow" && v != "deny") {
        return Err(Error::BadRequest("`verdict` is allow or deny".into()));
    }
    let origin = pick("origin");
    if origin.as_deref().is_some_and(|o| !["policy", "memo", "fail-mode", "floor"].contains(&o)) {
        return Err(Error::BadRequest("`origin` is policy, memo, fail-mode or floor".into()));
    }
    Ok(DecisionFilter {
        since: pick("since").map(|v| when("since", &v)).transpose()?,
        until: pick("until").map(|v| when("until", &v)).transpose()?,
        verdict,
        origin,
        user: pick("user"),
        path_prefix: pick("path"),
        policy: pick("policy"),
    })
}

#[utoipa::path(get, path = "/api/v3.1/decisions", tag = "decisions", summary = "The decision log, newest first (a sys_admin's)",
    params(super::schema::PageQuery,
        ("since" = Option<String>, Query, description = "A time, or a duration ago (`7d`, `24h`)"),
        ("until" = Option<String>, Query, description = "A time, or a duration ago"),
        ("verdict" = Option<String>, Query, description = "`allow` or `deny`"),
        ("origin" = Option<String>, Query, description = "`policy`, `memo`, `fail-mode` or `floor`"),
        ("user" = Option<String>, Query, description = "The caller (as the log keeps it)"),
        ("path" = Option<String>, Query, description = "A path prefix"),
        ("policy" = Option<String>, Query, description = "The deciding version's sha256")),
    responses(
        (status = 200, description = "OK", body = DecisionList),
        (status = 400, description = "A bad filter or paging parameter", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody)))]
pub async fn list(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, q: QueryPairs) -> Result<Json<DecisionList>> {
    require_admin(&caller, "read the decision log")?;
    let page = q.page(&[])?;
    let f = filter(&q)?;
    let (items, total) = {
        let page = page.clone();
        blocking(move || app.manager.decisions(&f, &page)).await?
    };
    Ok(Json(DecisionList::new(items, total, &page)))
}

#[utoipa::path(get, path = "/api/v3.1/decisions/{id}", tag = "decisions", summary = "One kept decision (the `X-Drydock-Decision-Id` of a response)",
    params(("id" = String, Path, description = "The decision's id")),
    responses(
        (status = 200, description = "OK", body = DecisionRecord),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 404, description = "Not in the log (never kept, or pruned)", body = super::schema::ErrorBody)))]
pub async fn get(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> Result<Json<DecisionRecord>> {
    require_admin(&caller, "read the decision log")?;
    Ok(Json(blocking(move || app.manager.decision(&id)).await?))
}

/// What to replay.
#[derive(Deserialize, ToSchema)]
#[schema(as = ReplayRequest)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    /// A time, or a duration ago (`7d`); default `24h`.
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
    /// Compare with this version's answers instead of the answers as decided.
    #[serde(default)]
    against: Option<String>,
}

#[utoipa::path(post, path = "/api/v3.1/policies/{id}/replay", tag = "policies",
    summary = "What this version would have answered to the logged decisions of a range (a sys_admin's)",
    params(("id" = String, Path, description = "`builtin`, a policy version's sha256, or a unique prefix of it")),
    request_body = Option<ReplayBody>,
    responses(
        (status = 200, description = "The report", body = ReplayReport),
        (status = 400, description = "A bad time", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 404, description = "No such version", body = super::schema::ErrorBody),
        (status = 503, description = "Another replay is running; try again shortly", body = super::schema::ErrorBody)))]
pub async fn replay(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReplayBody>,
) -> Result<Json<ReplayReport>> {
    require_admin(&caller, "replay the decision log")?;
    // One at a time: a replay is bounded, but it is CPU the requests also need.
    static ONE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
    let _turn = ONE.try_acquire().map_err(|_| Error::Busy("Another replay is running; try again shortly".into()))?;
    let f = DecisionFilter {
        since: Some(when("since", body.since.as_deref().unwrap_or("24h"))?),
        until: body.until.as_deref().map(|u| when("until", u)).transpose()?,
        ..DecisionFilter::default()
    };
    let report = blocking(move || {
        let candidate = app.policies.policy(&id)?;
        let against = body.against.as_deref().map(|a| app.policies.policy(a)).transpose()?;
        let mut replay = Replay::new(&candidate, against.as_deref());
        let (mut after, mut read) = (0i64, 0u64);
        loop {
            let rows = app.manager.decisions_after(&f, after, 1000)?;
            if rows.is_empty() {
                return Ok(replay.finish(false));
            }
            for (seq, record) in &rows {
                if read == REPLAY_MAX {
                    return Ok(replay.finish(true));
                }
                replay.add(record);
                after = *seq;
                read += 1;
            }
        }
    })
    .await?;
    Ok(Json(report))
}
