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
use crate::decisions::{DecisionOrigin, DecisionRecord, Verdict};
use crate::decisions::replay::{self, ReplayReport};
use crate::error::{Error, Result};
use crate::store::DecisionFilter;
use crate::timestamp;

super::json::list!(DecisionList, DecisionRecord);

/// The log's filters (every one narrows).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DecisionQuery {
    /// From this time, or this long ago (`7d`, `24h`, `30m`, `90s`).
    #[param(pattern = "^([0-9]{1,9}[smhd]|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?Z)$")]
    since: Option<String>,
    /// Until this time, or this long ago.
    #[param(pattern = "^([0-9]{1,9}[smhd]|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?Z)$")]
    until: Option<String>,
    #[param(inline)]
    verdict: Option<Verdict>,
    #[param(inline)]
    origin: Option<DecisionOrigin>,
    /// The caller, as the log keeps it.
    user: Option<String>,
    /// A path prefix.
    path: Option<String>,
    /// The deciding version's sha256.
    policy: Option<String>,
}


/// A time as the API takes it: a UTC timestamp (`2026-12-06T10:00:00Z`, with
/// fractions of a second or not), or a duration ago (`7d`, `24h`, `30m`, `90s`) — the
/// document's pattern, checked here by hand (no regex engine for one shape).
fn when(name: &str, v: &str) -> Result<String> {
    let bad = || Error::BadRequest(format!("`{name}`: `{v}` is neither a UTC time (2026-12-06T10:00:00Z) nor a duration ago (7d, 24h, 30m)"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(last) = v.chars().last()
        && let Some(secs) = match last {
            's' => Some(1i64),
            'm' => Some(60),
            'h' => Some(3600),
            'd' => Some(86_400),
            _ => None,
        }
    {
        let n = &v[..v.len() - 1];
        if !digits(n) || n.len() > 9 {
            return Err(bad());
        }
        let n: i64 = n.parse().map_err(|_| bad())?;
        let at = chrono::Utc::now() - chrono::Duration::seconds(n.saturating_mul(secs).min(100 * 365 * 86_400));
        return Ok(at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
    }
    // YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z
    let b = v.as_bytes();
    let shaped = v.is_ascii()
        && b.len() >= 20
        && v.ends_with('Z')
        && digits(&v[0..4]) && b[4] == b'-' && digits(&v[5..7]) && b[7] == b'-' && digits(&v[8..10])
        && b[10] == b'T' && digits(&v[11..13]) && b[13] == b':' && digits(&v[14..16]) && b[16] == b':' && digits(&v[17..19])
        && match &v[19..v.len() - 1] {
            "" => true,
            f => f.starts_with('.') && f.len() <= 10 && digits(&f[1..]),
        };
    if !shaped {
        return Err(bad());
    }
    let at = timestamp::parse(v).ok_or_else(bad)?;
    Ok(at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

fn filter(q: &QueryPairs) -> Result<DecisionFilter> {
    // Free text: empty is absent. A time, a verdict, an origin: empty is a mistake.
    let pick = |k: &str| q.get(k).filter(|v| !v.is_empty()).map(str::to_string);
    let exact = |k: &str| q.get(k).map(str::to_string);
    let verdict = exact("verdict")
        .map(|v| Verdict::parse(&v).ok_or_else(|| Error::BadRequest("`verdict` is allow or deny".into())))
        .transpose()?;
    let origin = exact("origin")
        .map(|o| {
            DecisionOrigin::parse(&o).ok_or_else(|| Error::BadRequest("`origin` is policy, memo, fail-mode, floor or shadow".into()))
        })
        .transpose()?;
    Ok(DecisionFilter {
        since: exact("since").map(|v| when("since", &v)).transpose()?,
        until: exact("until").map(|v| when("until", &v)).transpose()?,
        verdict,
        origin,
        user: pick("user"),
        path_prefix: pick("path"),
        policy: pick("policy"),
    })
}

#[utoipa::path(get, path = "/api/v3.1/decisions", tag = "decisions", summary = "The decision log, newest first (a sys_admin's)",
    params(super::schema::PageQuery, DecisionQuery),
    responses(
        (status = 200, description = "OK (`metadata.pagination.total` counts matches up to 10,000)", body = DecisionList),
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
    #[schema(pattern = "^([0-9]{1,9}[smhd]|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?Z)$")]
    since: Option<String>,
    #[serde(default)]
    #[schema(pattern = "^([0-9]{1,9}[smhd]|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?Z)$")]
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
    let f = DecisionFilter {
        since: Some(when("since", body.since.as_deref().unwrap_or("24h"))?),
        until: body.until.as_deref().map(|u| when("until", u)).transpose()?,
        ..DecisionFilter::default()
    };
    Ok(Json(run_replay(app, id, f, body.against).await?))
}

/// Replay the logged decisions `f` selects: one replay at a time on the server (a
/// replay is bounded, but it is CPU the requests also need), off the async workers.
pub async fn run_replay(app: Arc<App>, id: String, f: DecisionFilter, against: Option<String>) -> Result<ReplayReport> {
    static ONE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
    let _turn = ONE.try_acquire().map_err(|_| Error::Busy("Another replay is running; try again shortly".into()))?;
    blocking(move || {
        let candidate = app.policies.policy(&id)?;
        let against = against.as_deref().map(|a| app.policies.policy(a)).transpose()?;
        replay::over(&candidate, against.as_deref(), |after| app.manager.decisions_after(&f, after, 1000))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::when;

    #[test]
    fn times_are_utc_timestamps_or_durations_ago_and_nothing_else() {
        assert_eq!(when("since", "2026-12-06T10:00:00Z").unwrap(), "2026-12-06T10:00:00.000Z");
        assert_eq!(when("since", "2026-12-06T10:00:00.5Z").unwrap(), "2026-12-06T10:00:00.500Z");
        assert!(when("since", "7d").unwrap() < when("since", "1h").unwrap());
        for bad in ["", "7", "d", "7w", "1234567890s", "2026-12-06T10:00:00+01:00", "2026-02-30T10:00:00Z", "𓥟𓥟𓥟𓥟𓥟𓥟𓥟𓥟", "2026-12-06 10:00:00Z"] {
            assert!(when("since", bad).is_err(), "{bad:?} was taken");
        }
    }
}
