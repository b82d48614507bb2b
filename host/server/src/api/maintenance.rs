//! `/maintenance`: read, activate (with an optional plan), deactivate, history.

use std::sync::Arc;

use axum::extract::{FromRequest, Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{HeaderValue, header};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::json::{JsonBody, QueryPairs};
use super::{Admitted, App, blocking, require_admin};
use crate::error::{Error, Result};
use drydock_gate::Caller;
use crate::manager::{MaintenanceView, Plan};
use crate::store::{OnDeadline, Transition, Window};
use crate::timestamp;

/// Longest reason an operator may give (it is shown in every refusal).
pub const MAX_REASON: usize = 500;

/// The maintenance state: Cloudify's object, then drydock's additions (null unless set).
// Keys in the reference's order (the real CLI prints them in the order sent).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MaintenanceState)]
pub struct MaintenanceStateBody {
    #[schema(value_type = super::schema::MaintenanceStatus)]
    pub status: String,
    /// When maintenance became active: an empty string before any activation, null
    /// while activating.
    pub activated_at: Option<String>,
    /// When activation was asked for (empty before any activation).
    pub activation_requested_at: String,
    /// While activating, the executions it waits for; null otherwise.
    pub remaining_executions: Option<Vec<RemainingExecutionBody>>,
    pub requested_by: String,
    // drydock's additions (the real client ignores what it does not know; they
    // are null, and so not printed by it, unless set).
    pub reason: Option<String>,
    /// The announced end, which `Retry-After` counts down to.
    pub until: Option<String>,
    /// While activating: when it stops waiting.
    pub deadline: Option<String>,
    #[schema(value_type = Option<super::schema::OnDeadline>)]
    pub on_deadline: Option<String>,
    pub next_window: Option<ScheduledWindow>,
    /// While activating, how many executions it waits for (every tenant's), when
    /// they are not listed: to anyone but a sys_admin, and in every event (which
    /// lists at most 100); null otherwise.
    pub remaining_count: Option<u64>,
}

/// One unfinished execution that activating waits for.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RemainingExecution)]
pub struct RemainingExecutionBody {
    pub id: String,
    #[schema(value_type = super::schema::ExecutionStatus)]
    pub status: String,
    pub deployment_id: Option<String>,
    pub workflow_id: String,
}

impl MaintenanceStateBody {
    /// The state as `view` has it. While deactivated with no history, the three text
    /// fields are empty strings. The remaining executions are every tenant's: listed
    /// for a sys_admin (`listed`), and to anyone else only counted (`remaining_count`),
    /// since their ids, deployments and workflows are other tenants' business.
    pub fn of(view: &MaintenanceView, listed: bool) -> MaintenanceStateBody {
        // (`remaining_count` is null for a sys_admin here, so the real CLI, which prints
        // every key that is set, shows what it always did.)
        let rec = view.record.as_ref();
        MaintenanceStateBody {
            status: view.state().as_str().into(),
            activated_at: match rec {
                None => Some(String::new()),
                Some(r) => r.activated_at.clone(),
            },
            activation_requested_at: rec.map_or_else(String::new, |r| r.activation_requested_at.clone()),
            remaining_executions: view.remaining.as_ref().map(|list| {
                list.iter()
                    .filter(|_| listed)
                    .map(|r| RemainingExecutionBody {
                        id: r.id.clone(),
                        status: r.status.as_str().into(),
                        deployment_id: r.deployment_id.clone(),
                        workflow_id: r.workflow_id.clone(),
                    })
                    .collect()
            }),
            requested_by: rec.map_or_else(String::new, |r| r.requested_by.clone()),
            reason: rec.and_then(|r| r.reason.clone()),
            until: rec.and_then(|r| r.until.clone()),
            deadline: rec.and_then(|r| r.deadline.as_ref().map(|(at, _)| at.clone())),
            on_deadline: rec.and_then(|r| r.deadline.as_ref().map(|(_, on)| on.as_str().to_string())),
            next_window: view.next_window.as_ref().map(ScheduledWindow::from),
            // While activating, to whoever is not shown the list: how many it waits for.
            remaining_count: view.remaining.as_ref().filter(|_| !listed).map(|_| view.unfinished),
        }
    }
}

/// A maintenance window scheduled ahead.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Window)]
pub struct ScheduledWindow {
    pub id: String,
    pub start_at: String,
    pub end_at: Option<String>,
    pub reason: Option<String>,
    #[schema(value_type = super::schema::WindowStatus)]
    pub status: String,
    pub created_by: String,
    pub created_at: String,
}

impl From<&Window> for ScheduledWindow {
    fn from(w: &Window) -> ScheduledWindow {
        ScheduledWindow {
            id: w.id.clone(),
            start_at: w.start_at.clone(),
            end_at: w.end_at.clone(),
            reason: w.reason.clone(),
            status: w.status.as_str().into(),
            created_by: w.created_by.clone(),
            created_at: w.created_at.clone(),
        }
    }
}

/// One change of the maintenance state.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Transition)]
pub struct TransitionBody {
    pub at: String,
    /// A user, or who acted on its own: `schedule`, `deadline`, `serve`, `drydock`.
    pub by: String,
    #[schema(value_type = super::schema::MaintenanceStatus)]
    pub from: String,
    #[schema(value_type = super::schema::MaintenanceStatus)]
    pub to: String,
    pub reason: Option<String>,
    pub detail: String,
}

impl From<&Transition> for TransitionBody {
    fn from(t: &Transition) -> TransitionBody {
        TransitionBody {
            at: t.at.clone(),
            by: t.by.clone(),
            from: t.from.as_str().into(),
            to: t.to.as_str().into(),
            reason: t.reason.clone(),
            detail: t.detail.clone(),
        }
    }
}

super::json::list!(TransitionList, TransitionBody);
super::json::list!(WindowList, ScheduledWindow);

/// The optional plan of `POST /maintenance/activate`.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MaintenancePlan)]
pub struct PlanBody {
    pub reason: Option<String>,
    /// The expected end: an RFC 3339 time or a duration from now (`45m`).
    pub until: Option<String>,
    /// How long activating may wait for unfinished executions (a duration or a time).
    pub deadline: Option<String>,
    /// What happens then: `wait` (default), `cancel`, `force-cancel`, `revert`.
    #[schema(value_type = Option<super::schema::OnDeadline>)]
    pub on_deadline: Option<String>,
}

/// `POST /maintenance/deactivate` takes no body (or `{}`).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Nothing {}

/// A reason as an operator may give it: trimmed, non-empty, short, one line of text.
pub fn parse_reason(reason: Option<&str>) -> Result<Option<String>> {
    let Some(reason) = reason.map(str::trim).filter(|r| !r.is_empty()) else { return Ok(None) };
    if reason.chars().count() > MAX_REASON {
        return Err(Error::BadRequest(format!("`reason` is longer than {MAX_REASON} characters")));
    }
    if reason.chars().any(char::is_control) {
        return Err(Error::BadRequest("`reason` must be one line of text (no control characters)".into()));
    }
    Ok(Some(reason.to_string()))
}

/// A time that must lie ahead.
pub fn parse_future(field: &str, text: &str) -> Result<String> {
    let at = timestamp::parse_time(text).map_err(|e| Error::BadRequest(format!("`{field}`: {e}")))?;
    if timestamp::seconds_until(&at).is_none_or(|s| s <= 0.0) {
        return Err(Error::BadRequest(format!("`{field}` ({at}) is not in the future")));
    }
    Ok(at)
}

impl PlanBody {
    pub fn parse(&self) -> Result<Plan> {
        let on = match self.on_deadline.as_deref() {
            None => OnDeadline::Wait,
            Some(s) => OnDeadline::parse(s).ok_or_else(|| {
                Error::BadRequest(format!("`on_deadline` must be one of wait, cancel, force-cancel, revert; got `{s}`"))
            })?,
        };
        if self.on_deadline.is_some() && self.deadline.is_none() {
            return Err(Error::BadRequest("`on_deadline` needs a `deadline`".into()));
        }
        Ok(Plan {
            reason: parse_reason(self.reason.as_deref())?,
            until: self.until.as_deref().map(|t| parse_future("until", t)).transpose()?,
            deadline: self.deadline.as_deref().map(|t| parse_future("deadline", t).map(|at| (at, on))).transpose()?,
        })
    }
}

/// The state as the database has it. When the database cannot answer, the last
/// state this host saw, and headers that say so (`Warning: 110` is HTTP's "stale").
#[utoipa::path(
    get,
    path = "/api/v3.1/maintenance",
    tag = "maintenance",
    summary = "The maintenance state",
    responses(
        (status = 200, description = "The state (with `Warning: 110` and `X-Drydock-Stale` when the database cannot answer and this is the last state seen)", body = MaintenanceStateBody)
    )
)]
pub async fn get(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Result<Response> {
    let view = blocking(move || Ok(app.manager.maintenance())).await?;
    let mut resp = Json(MaintenanceStateBody::of(&view, caller.role.is_admin())).into_response();
    if view.stale {
        let h = resp.headers_mut();
        h.insert(header::WARNING, HeaderValue::from_static("110 drydock \"Response is Stale\""));
        h.insert("x-drydock-stale", HeaderValue::from_static("database unreachable; the last state this host saw"));
    }
    Ok(resp)
}

#[utoipa::path(
    post,
    path = "/api/v3.1/maintenance/{action}",
    tag = "maintenance",
    summary = "Activate or deactivate maintenance mode",
    params(("action" = super::schema::MaintenanceAction, Path, description = "What to do")),
    request_body = Option<PlanBody>,
    responses(
        (status = 200, description = "The new state", body = MaintenanceStateBody),
        (status = 304, description = "Already in the state asked for (no body)"),
        (status = 400, description = "Unknown action, or a bad plan", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody)
    )
)]
pub async fn action(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    admitted: Admitted,
    Path(action): Path<String>,
    req: axum::extract::Request,
) -> Result<Json<MaintenanceStateBody>> {
    require_admin(&caller, "change the maintenance mode")?;
    let username = caller.username.clone();
    let view = match action.as_str() {
        "activate" => {
            // Read only once the caller may activate: a refusal costs no body.
            let JsonBody(body) = JsonBody::<PlanBody>::from_request(req, &()).await?;
            let plan = body.parse()?;
            blocking(move || app.manager.activate(&username, &plan, admitted.get())).await?
        }
        "deactivate" => {
            // No fields: a plan (or anything else) sent here is a mistake, not ignored.
            let JsonBody(Nothing {}) = JsonBody::<Nothing>::from_request(req, &()).await?;
            blocking(move || app.manager.deactivate(&username, admitted.get())).await?
        }
        other => {
            return Err(Error::BadRequest(format!(
                "Invalid action: {other}, Valid action values are: ['activate', 'deactivate']"
            )));
        }
    };
    tracing::info!(user = %caller.username, %action, state = view.state().as_str(), "maintenance mode");
    Ok(Json(MaintenanceStateBody::of(&view, true)))
}

/// `GET /maintenance/history`: every transition, newest first, paginated.
#[utoipa::path(
    get,
    path = "/api/v3.1/maintenance/history",
    tag = "maintenance",
    summary = "Every maintenance transition, newest first",
    params(super::schema::PageQuery),
    responses(
        (status = 200, description = "OK", body = TransitionList),
        (status = 400, description = "Bad paging parameters", body = super::schema::ErrorBody)
    )
)]
pub async fn history(State(app): State<Arc<App>>, query: QueryPairs) -> Result<Json<TransitionList>> {
    let page = query.page(&[])?;
    let (items, total) = {
        let page = page.clone();
        blocking(move || app.manager.history(&page)).await?
    };
    Ok(Json(TransitionList::new(items.iter().map(TransitionBody::from).collect(), total, &page)))
}

/// `POST /maintenance/windows`: `{"at": TIME, "until": TIME?, "reason": TEXT?}`.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MaintenanceWindow)]
pub struct WindowBody {
    /// When it starts: an RFC 3339 time or a duration from now (`2h`).
    #[schema(value_type = String, required = true)]
    pub at: Option<String>,
    pub until: Option<String>,
    pub reason: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v3.1/maintenance/windows",
    tag = "maintenance",
    summary = "The maintenance windows scheduled ahead (and their outcomes)",
    responses(
        (status = 200, description = "OK", body = WindowList)
    )
)]
pub async fn windows(State(app): State<Arc<App>>) -> Result<Json<WindowList>> {
    let all = blocking(move || app.manager.windows()).await?;
    let page = crate::store::Page { offset: 0, size: all.len() as u32, sort: None };
    Ok(Json(WindowList::new(all.iter().map(ScheduledWindow::from).collect(), all.len() as u64, &page)))
}

#[utoipa::path(
    post,
    path = "/api/v3.1/maintenance/windows",
    tag = "maintenance",
    summary = "Schedule a maintenance window",
    request_body = WindowBody,
    responses(
        (status = 201, description = "Scheduled", body = ScheduledWindow),
        (status = 400, description = "A missing or bad time or reason", body = super::schema::ErrorBody),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 409, description = "The window overlaps one scheduled or under way (windows may not overlap; the message names it)", body = super::schema::ErrorBody)
    )
)]
pub async fn schedule(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    JsonBody(body): JsonBody<WindowBody>,
) -> Result<(http::StatusCode, Json<ScheduledWindow>)> {
    require_admin(&caller, "schedule maintenance")?;
    let at = body.at.as_deref().ok_or_else(|| Error::BadRequest("`at` (when the window starts) is required".into()))?;
    let start = parse_future("at", at)?;
    // A duration for the end counts from the start: `--at 18:00 --until 2h` ends at 20:00.
    let base = timestamp::parse(&start).unwrap_or_else(chrono::Utc::now);
    let end = body
        .until
        .as_deref()
        .map(|t| timestamp::parse_time_after(t, base).map_err(|e| Error::BadRequest(format!("`until`: {e}"))))
        .transpose()?;
    let reason = parse_reason(body.reason.as_deref())?;
    let by = caller.username.clone();
    let w = blocking(move || app.manager.schedule(&by, start, end, reason)).await?;
    Ok((http::StatusCode::CREATED, Json(ScheduledWindow::from(&w))))
}

#[utoipa::path(
    delete,
    path = "/api/v3.1/maintenance/windows/{id}",
    tag = "maintenance",
    summary = "Cancel a maintenance window",
    params(("id" = String, Path, description = "The window's id")),
    responses(
        (status = 200, description = "Cancelled", body = ScheduledWindow),
        (status = 403, description = "The caller is not a sys_admin", body = super::schema::ErrorBody),
        (status = 404, description = "No such scheduled or started window", body = super::schema::ErrorBody)
    )
)]
pub async fn cancel_window(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<ScheduledWindow>> {
    require_admin(&caller, "cancel a maintenance window")?;
    let by = caller.username.clone();
    let w = blocking(move || app.manager.cancel_window(&id, &by)).await?;
    Ok(Json(ScheduledWindow::from(&w)))
}

/// Remaining executions an event lists at most (the oldest); `remaining_count`
/// says how many there are.
pub const EVENT_REMAINING: usize = 100;

/// The event data for a published state: the state object, listing at most
/// [`EVENT_REMAINING`] remaining executions, with `remaining_count` while activating.
/// Made once per state for every watcher (blocking: it may read the list).
/// Two makings per state at most: a sys_admin's (listed) and everyone else's.
fn event_data(app: &App, state: &Arc<crate::store::ManagerState>, listed: bool) -> Arc<(Value, String)> {
    type Made = Option<(Arc<crate::store::ManagerState>, Arc<(Value, String)>)>;
    static LAST: std::sync::Mutex<[Made; 2]> = std::sync::Mutex::new([None, None]);
    let slot = usize::from(listed);
    if let Some((s, made)) = LAST.lock().unwrap_or_else(|p| p.into_inner())[slot].as_ref()
        && Arc::ptr_eq(s, state)
    {
        return made.clone();
    }
    let view = app.manager.view(state, EVENT_REMAINING);
    let mut body = MaintenanceStateBody::of(&view, listed);
    // Events list at most [`EVENT_REMAINING`]: the count is in every event.
    body.remaining_count = view.remaining.as_ref().map(|_| view.unfinished);
    let object = serde_json::to_value(&body).expect("the state object serialises");
    let text = object.to_string();
    let made = Arc::new((object, text));
    LAST.lock().unwrap_or_else(|p| p.into_inner())[slot] = Some((state.clone(), made.clone()));
    made
}

/// `GET /maintenance/events`: server-sent events. First `state` (the state now),
/// then `transition` whenever the status changes and `remaining` whenever only the
/// executions it waits for (or the next window) do; each carries the state object
/// of `GET /maintenance`, listing the oldest [`EVENT_REMAINING`] remaining executions,
/// with `remaining_count` (how many there are). Each state's event is made once for
/// all watchers; a watcher that falls behind gets the newest state, not a backlog.
/// A comment every 15 s keeps proxies from closing it. Streams are shared fairly
/// and end after a lifetime (see `api::watchers`).
#[utoipa::path(
    get,
    path = "/api/v3.1/maintenance/events",
    tag = "maintenance",
    summary = "Follow the maintenance state (server-sent events)",
    responses(
        (status = 200, description = "A stream of `state` (first), `transition` and `remaining` events, each carrying the state object of `GET /maintenance` (at most 100 remaining executions listed, the oldest) with `remaining_count`", content_type = "text/event-stream", body = String),
        (status = 503, description = "Too many clients, or this user's share of them, follow the events already (`server_busy_error`)", body = super::schema::ErrorBody)
    )
)]
pub async fn events(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
) -> Result<Sse<impl futures_util::Stream<Item = std::result::Result<Event, std::convert::Infallible>>>> {
    // A stream holds a connection for as long as it is followed: bounded, so
    // watchers cannot crowd out everyone else.
    let permit = super::watchers::watch(&caller.username)?;
    let listed = caller.role.is_admin();
    // Subscribed before reading, so no change between the two is lost.
    let rx = app.manager.subscribe();
    let first = {
        let app = app.clone();
        blocking(move || {
            let state = app.manager.seen();
            Ok(event_data(&app, &state, listed))
        })
        .await?
    };
    let status = first.0["status"].as_str().unwrap_or_default().to_string();
    let opening = Event::default().event("state").data(first.1.as_str());
    struct Feed {
        rx: tokio::sync::broadcast::Receiver<Arc<crate::store::ManagerState>>,
        app: Arc<App>,
        last: Arc<(Value, String)>,
        status: String,
        listed: bool,
        _permit: super::watchers::Watch,
    }
    let lifetime = app.event_stream_lifetime;
    let feed = Feed { rx, app, last: first, status, listed, _permit: permit };
    let rest = futures_util::stream::unfold(feed, |mut f| async move {
        loop {
            let state = match f.rx.recv().await {
                Ok(state) => state,
                // Fell behind: what matters is the newest state.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => f.app.manager.seen(),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            };
            let app = f.app.clone();
            let listed = f.listed;
            let Ok(now) = blocking(move || Ok(event_data(&app, &state, listed))).await else { continue };
            if Arc::ptr_eq(&now, &f.last) || now.0 == f.last.0 {
                continue;
            }
            let status = now.0["status"].as_str().unwrap_or_default().to_string();
            let kind = if status != f.status { "transition" } else { "remaining" };
            let event = Event::default().event(kind).data(now.1.as_str());
            f.last = now;
            f.status = status;
            return Some((Ok(event), f));
        }
    });
    let stream = futures_util::StreamExt::chain(futures_util::stream::once(async move { Ok(opening) }), rest);
    let stream = futures_util::StreamExt::take_until(stream, tokio::time::sleep(lifetime));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15))))
}
