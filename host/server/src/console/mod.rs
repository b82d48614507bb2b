//! The operator's console at `/console`: maintenance and policies at a glance in a
//! browser, live. Server-rendered HTML ([`page`]) with one small script of our own
//! (no framework, nothing to build): an `EventSource` on the maintenance events that
//! swaps in the state fragment when it changes.
//!
//! Sign-in is a form; the session is an `HttpOnly`, `SameSite=Strict` cookie that
//! expires (and is `Secure` under HTTPS); every change is a POST carrying the
//! session's CSRF token, a form posted from another site (its `Origin`) is refused,
//! sign-in included, pages refuse to be framed, and only a sys_admin's session may
//! change anything. Sessions live in this host's memory (a
//! restart signs everyone out). The console is not behind the gate: like the API's
//! admin floor, it must let an admin end maintenance whatever the policy says.

mod page;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use drydock_engine::Role;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::api::App;
use crate::api::maintenance::PlanBody;
use crate::error::Error;
use crate::manager::blocking;

/// How long a session lasts.
const SESSION: Duration = Duration::from_secs(8 * 3600);
/// Sessions held at once; the oldest go first past this.
const MAX_SESSIONS: usize = 10_000;
/// Sessions one user holds at once; their oldest goes first past this (one user
/// signing in again and again cannot push everyone else out).
const MAX_SESSIONS_PER_USER: usize = 16;
const COOKIE: &str = "drydock_session";

#[derive(Clone)]
pub struct Session {
    pub username: String,
    pub role: Role,
    pub csrf: String,
    /// The user's password hash at sign-in, digested: a new password ends the session.
    stamp: [u8; 32],
    expires: Instant,
}

/// What a session remembers of the password hash it was opened under.
fn stamp(password_hash: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(password_hash.as_bytes()).into()
}

impl Session {
    pub fn is_admin(&self) -> bool {
        self.role == Role::SysAdmin
    }
}

#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

/// The console's own state on this host: who is signed in, and the samples of the
/// decision counters its chart draws.
#[derive(Default)]
pub struct Console {
    pub sessions: Sessions,
    chart: page::Chart,
}

fn token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

impl Sessions {
    fn open(&self, user: &crate::store::User) -> (String, Session) {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        all.retain(|_, s| s.expires > now);
        let theirs = all.values().filter(|s| s.username == user.username).count();
        let full = |all: &HashMap<String, Session>| {
            if theirs >= MAX_SESSIONS_PER_USER {
                all.iter().filter(|(_, s)| s.username == user.username).min_by_key(|(_, s)| s.expires)
            } else if all.len() >= MAX_SESSIONS {
                all.iter().min_by_key(|(_, s)| s.expires)
            } else {
                None
            }
            .map(|(k, _)| k.clone())
        };
        if let Some(oldest) = full(&all) {
            all.remove(&oldest);
        }
        let session = Session {
            username: user.username.clone(),
            role: user.role.clone(),
            csrf: token(),
            stamp: stamp(&user.password_hash),
            expires: now + SESSION,
        };
        let id = token();
        all.insert(id.clone(), session.clone());
        (id, session)
    }

    fn get(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers)?;
        let all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        all.get(&id).filter(|s| s.expires > Instant::now()).cloned()
    }

    /// End every session of `username` (on this host).
    fn end_user(&self, username: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).retain(|_, s| s.username != username);
    }

    fn close(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers) {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        }
    }
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

fn form(body: &Bytes) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The console's forms, as the document describes them (the handlers read the
/// fields by name).
mod forms {
    #![allow(dead_code)] // described, never built: the handlers read fields by name
    #[derive(utoipa::ToSchema)]
    #[schema(as = ConsoleSignIn)]
    pub struct SignIn {
        pub username: String,
        pub password: String,
    }

    /// Every change carries the session's CSRF token.
    #[derive(utoipa::ToSchema)]
    #[schema(as = ConsoleChange)]
    pub struct Change {
        pub csrf: String,
    }

    /// `activate` also reads the plan (blank fields are absent).
    #[derive(utoipa::ToSchema)]
    #[schema(as = ConsoleMaintenance)]
    pub struct Maintenance {
        pub csrf: String,
        pub reason: Option<String>,
        pub until: Option<String>,
        pub deadline: Option<String>,
        pub on_deadline: Option<String>,
    }
}

/// The console's routes (mounted beside the API, outside the gate), described for
/// the API's OpenAPI document like every other route.
pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(home))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(state_fragment))
        .routes(routes!(shadow_fragment))
        .routes(routes!(chart_fragment))
        .routes(routes!(controls_fragment))
        .routes(routes!(events))
        .routes(routes!(maintenance_action))
        .routes(routes!(policy_upload))
        .routes(routes!(policy_rollback))
        .routes(routes!(policy_shadow_stop))
        .routes(routes!(policy_replay))
        .routes(routes!(policy_action))
}

/// A page answer that is never cached (it shows live state and a CSRF token) and
/// never shown inside another site's frame (clickjacking a sys_admin's buttons).
fn html(body: String) -> Response {
    let mut r = Html(body).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors 'none'"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

/// The session cookie's attributes: `Secure` when the server speaks HTTPS, so a
/// browser never sends it over plain HTTP.
fn set_cookie(app: &App, value: &str, max_age: u64) -> HeaderValue {
    let secure = if app.secure_cookies { "; Secure" } else { "" };
    let c = format!("{COOKIE}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&c).expect("an ASCII cookie")
}

/// Whether a browser's `Origin` names this server (the `Host` it was asked as). A
/// form posted from another site, a sign-in included (logging a victim into the
/// attacker's account), carries that site's origin; clients other than browsers
/// send none, and are not refused for it.
fn same_origin(headers: &HeaderMap, uri: &http::Uri) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()).or_else(|| uri.authority().map(|a| a.as_str())) else {
        return false;
    };
    let origin = origin.to_str().unwrap_or("");
    let authority = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
}

#[utoipa::path(get, path = "/console", tag = "console", summary = "The console (the sign-in form when not signed in)", params(("notice" = Option<String>, Query, description = "A message to show")), security((), ("console_session" = [])), responses((status = 200, description = "The dashboard, or the sign-in form", content_type = "text/html", body = String)))]
async fn home(State(app): State<Arc<App>>, headers: HeaderMap, req: Request) -> Response {
    let notice = req.uri().query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "notice").map(|(_, v)| v.into_owned())
    });
    let Ok(session) = viewer(&app, &headers).await else {
        return html(page::login(notice.as_deref()));
    };
    let (app2, admin) = (app.clone(), session.is_admin());
    let gathered = blocking(move || match admin {
        true => page::Dashboard::gather(&app2, admin)?.for_page(&app2),
        false => page::Dashboard::gather(&app2, admin),
    });
    match gathered.await {
        Ok(d) => html(page::dashboard(&d, &session, notice.as_deref())),
        Err(e) => html(page::dashboard_error(&session, &e.to_string())),
    }
}

#[utoipa::path(post, path = "/console/login", tag = "console", summary = "Sign in", request_body(content = forms::SignIn, content_type = "application/x-www-form-urlencoded"), security(()), responses((status = 303, description = "Signed in: the session cookie is set", headers(("Location" = String, description = "Where to go next"))), (status = 401, description = "Wrong user name or password", content_type = "text/html", body = String), (status = 413, description = "The form is larger than 4 KiB", content_type = "text/plain", body = String), (status = 503, description = "No turn to check the password now, or too many sign-ins at once; try again", content_type = "text/html", body = String)))]
async fn login(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let f = form(&body);
    let (user, password) = (f.get("username").cloned().unwrap_or_default(), f.get("password").cloned().unwrap_or_default());
    match app.auth.check(&user, &password).await {
        Ok(Some(caller)) => {
            // The user as stored, which every later use of the session is checked against.
            let (a, name) = (app.clone(), caller.username.clone());
            let user = match blocking(move || a.manager.user(&name)).await {
                Ok(Some(user)) => user,
                Ok(None) => return (StatusCode::UNAUTHORIZED, html(page::login(Some("Wrong username or password.")))).into_response(),
                Err(e) => return (e.status(), html(page::login(Some(&e.to_string())))).into_response(),
            };
            let (id, _) = app.console.sessions.open(&user);
            let mut r = Redirect::to("/console").into_response();
            r.headers_mut().insert(header::SET_COOKIE, set_cookie(&app, &id, SESSION.as_secs()));
            r
        }
        Ok(None) => (StatusCode::UNAUTHORIZED, html(page::login(Some("Wrong username or password.")))).into_response(),
        Err(e) => (e.status(), html(page::login(Some(&e.to_string())))).into_response(),
    }
}

#[utoipa::path(post, path = "/console/logout", tag = "console", summary = "Sign out", security((), ("console_session" = [])), responses((status = 303, description = "Signed out: the session cookie is cleared", headers(("Location" = String, description = "Where to go next")))))]
async fn logout(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    app.console.sessions.close(&headers);
    let mut r = Redirect::to("/console").into_response();
    r.headers_mut().insert(header::SET_COOKIE, set_cookie(&app, "", 0));
    r
}

/// Login bodies read at once; more are answered 503 at once, unread.
const LOGIN_READS: usize = 16;
/// A login form is a user name and a password: a few hundred bytes.
const LOGIN_BYTES: usize = 4 * 1024;
/// How long a login body may take to arrive.
const LOGIN_BODY_TIMEOUT: Duration = Duration::from_secs(5);

/// Middleware for the console's routes, before any body is read. The console's
/// callers are known by a cookie, not by the Basic credentials the API's limits go
/// by, so a stranger's body would otherwise be read with only the request's own
/// timeout, holding an in-flight slot meanwhile. Here: a change is refused before its
/// body unless it comes with a sys_admin's session (401 / 403, the body unread and
/// the connection closed); a sign-in form is read only while few are (the rest 503
/// at once), at most 4 KiB and within 5 s.
pub async fn guard_bodies(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    static LOGINS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(LOGIN_READS);
    // Signing out reads no body and needs no session (it only clears the cookie).
    if req.method() != axum::http::Method::POST || !req.uri().path().starts_with("/console/") || req.uri().path() == "/console/logout" {
        return next.run(req).await;
    }
    let close = |mut r: Response| {
        r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        r
    };
    if !same_origin(req.headers(), req.uri()) {
        let refused = "This form was sent from another site (its Origin is not this server); use the console itself";
        return close((StatusCode::FORBIDDEN, refused).into_response());
    }
    let (limit, within, _slot) = if req.uri().path() == "/console/login" {
        match LOGINS.try_acquire() {
            Ok(slot) => (LOGIN_BYTES, LOGIN_BODY_TIMEOUT, Some(slot)),
            Err(_) => {
                let busy = page::login(Some("Too many sign-ins at once; try again in a moment."));
                return close((StatusCode::SERVICE_UNAVAILABLE, html(busy)).into_response());
            }
        }
    } else {
        match app.console.sessions.get(req.headers()) {
            None => return close((StatusCode::UNAUTHORIZED, "Sign in at /console").into_response()),
            Some(s) if !s.is_admin() => {
                return close((StatusCode::FORBIDDEN, "Only a sys_admin may change maintenance mode and policies").into_response());
            }
            // A sys_admin: a component upload may be large, and has the request's time.
            Some(_) => (crate::api::policies::MAX_POLICY_BYTES, crate::api::limits::REQUEST_TIMEOUT, None),
        }
    };
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(within, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await,
        Ok(Err(_)) => close((StatusCode::PAYLOAD_TOO_LARGE, format!("The body is larger than {limit} bytes, or could not be read")).into_response()),
        Err(_) => close((StatusCode::REQUEST_TIMEOUT, "The body did not arrive in time").into_response()),
    }
}

/// A signed-in viewer, or 401. The session holds only while its user is as it was
/// at sign-in, as the database has it now (so on every host): deleted, given
/// another role or another password, every session of theirs ends.
async fn viewer(app: &Arc<App>, headers: &HeaderMap) -> Result<Session, Response> {
    let signed_out = || (StatusCode::UNAUTHORIZED, "Sign in at /console").into_response();
    let session = app.console.sessions.get(headers).ok_or_else(signed_out)?;
    let (a, name) = (app.clone(), session.username.clone());
    let now = blocking(move || a.manager.user(&name)).await.map_err(IntoResponse::into_response)?;
    match now {
        Some(user) if user.role == session.role && stamp(&user.password_hash) == session.stamp => Ok(session),
        _ => {
            app.console.sessions.end_user(&session.username);
            Err(signed_out())
        }
    }
}

/// A change: a sys_admin's session, and the session's CSRF token in the form.
async fn changer(app: &Arc<App>, headers: &HeaderMap, f: &HashMap<String, String>) -> Result<Session, Response> {
    let session = viewer(app, headers).await?;
    if f.get("csrf").map(String::as_str) != Some(session.csrf.as_str()) {
        return Err((StatusCode::FORBIDDEN, "This change does not carry the session's token; reload the console").into_response());
    }
    if !session.is_admin() {
        return Err((StatusCode::FORBIDDEN, "Only a sys_admin may change maintenance mode and policies").into_response());
    }
    Ok(session)
}

/// Back to the console, saying how it went.
fn done(outcome: Result<String, Error>) -> Response {
    let notice = match outcome {
        Ok(m) => m,
        Err(Error::NotModified) => "Nothing to change.".to_string(),
        Err(e) => format!("Refused: {e}"),
    };
    let q: String = form_urlencoded::Serializer::new(String::new()).append_pair("notice", &notice).finish();
    Redirect::to(&format!("/console?{q}")).into_response()
}

#[utoipa::path(get, path = "/console/state", tag = "console", summary = "The maintenance part of the dashboard", security(("console_session" = [])), responses((status = 200, description = "An HTML fragment", content_type = "text/html", body = String), (status = 401, description = "Not signed in", content_type = "text/plain", body = String)))]
async fn state_fragment(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    dashboard_fragment(&app, &headers, |d, _| page::state(d)).await
}

/// A piece of the dashboard, rendered from what it shows now, for a signed-in viewer.
async fn dashboard_fragment(app: &Arc<App>, headers: &HeaderMap, render: fn(&page::Dashboard, &Session) -> String) -> Response {
    let session = match viewer(app, headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (app, admin) = (app.clone(), session.is_admin());
    match blocking(move || page::Dashboard::gather(&app, admin)).await {
        Ok(d) => html(render(&d, &session)),
        Err(e) => html(format!("<p role=\"alert\">{}</p>", page::esc(&e.to_string()))),
    }
}

#[utoipa::path(get, path = "/console/shadow", tag = "console", summary = "The shadow report part of the dashboard", security(("console_session" = [])), responses((status = 200, description = "An HTML fragment", content_type = "text/html", body = String), (status = 401, description = "Not signed in", content_type = "text/plain", body = String)))]
async fn shadow_fragment(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    match viewer(&app, &headers).await {
        Err(r) => return r,
        // Other users' request paths: a sys_admin's, as in the API.
        Ok(s) if !s.is_admin() => return (StatusCode::FORBIDDEN, "The shadow report is for a sys_admin").into_response(),
        Ok(_) => {}
    }
    html(page::shadow(app.policies.shadow_report(10).as_ref()))
}

/// A bare `change` event whenever the state moves; the page fetches the fragment.
#[utoipa::path(get, path = "/console/events", tag = "console", summary = "A `change` event whenever the state moves", security(("console_session" = [])), responses((status = 200, description = "Server-sent events", content_type = "text/event-stream", body = String), (status = 401, description = "Not signed in", content_type = "text/plain", body = String), (status = 503, description = "Too many clients follow the events already", body = crate::api::schema::ErrorBody)))]
async fn events(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let session = match viewer(&app, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // Counted with the API's event streams: bounded together, shared per user.
    let permit = match crate::api::watchers::watch(&session.username) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let rx = app.manager.subscribe();
    let stream = futures_util::stream::unfold((rx, permit), |(mut rx, permit)| async move {
        loop {
            match rx.recv().await {
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    let event = Event::default().event("change").data("state");
                    return Some((Ok::<_, std::convert::Infallible>(event), (rx, permit)));
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    // Ends after its lifetime; the browser's EventSource reconnects by itself.
    let stream = futures_util::StreamExt::take_until(stream, tokio::time::sleep(app.event_stream_lifetime));
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

#[utoipa::path(post, path = "/console/maintenance/{action}", tag = "console", summary = "Activate or deactivate maintenance mode", params(("action" = String, Path, description = "`activate` or `deactivate`")), request_body(content = forms::Maintenance, content_type = "application/x-www-form-urlencoded"), security(("console_session" = [])), responses((status = 303, description = "Back to the console, with a notice saying how it went", headers(("Location" = String, description = "Where to go next"))), (status = 401, description = "Not signed in", content_type = "text/plain", body = String), (status = 403, description = "Not a sys_admin's session, or without its CSRF token", content_type = "text/plain", body = String)))]
async fn maintenance_action(State(app): State<Arc<App>>, headers: HeaderMap, Path(action): Path<String>, body: Bytes) -> Response {
    let f = form(&body);
    let session = match changer(&app, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let field = |k: &str| f.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let outcome = match action.as_str() {
        "activate" => {
            let plan = PlanBody { reason: field("reason"), until: field("until"), deadline: field("deadline"), on_deadline: field("deadline").and(field("on_deadline")) };
            match plan.parse() {
                Ok(plan) => {
                    let app = app.clone();
                    blocking(move || app.manager.activate(&session.username, &plan, None))
                        .await
                        .map(|v| format!("Maintenance mode is {}.", v.state().as_str()))
                }
                Err(e) => Err(e),
            }
        }
        "deactivate" => {
            let app = app.clone();
            blocking(move || app.manager.deactivate(&session.username, None)).await.map(|_| "Maintenance mode is off.".to_string())
        }
        other => Err(Error::NotFound(format!("no maintenance action `{other}`"))),
    };
    done(outcome)
}

#[utoipa::path(post, path = "/console/policies/{id}/{action}", tag = "console", summary = "Activate or shadow a policy version", params(("id" = String, Path, description = "The policy version"), ("action" = String, Path, description = "`activate` or `shadow`")), request_body(content = forms::Change, content_type = "application/x-www-form-urlencoded"), security(("console_session" = [])), responses((status = 303, description = "Back to the console, with a notice saying how it went", headers(("Location" = String, description = "Where to go next"))), (status = 401, description = "Not signed in", content_type = "text/plain", body = String), (status = 403, description = "Not a sys_admin's session, or without its CSRF token", content_type = "text/plain", body = String)))]
async fn policy_action(State(app): State<Arc<App>>, headers: HeaderMap, Path((id, action)): Path<(String, String)>, body: Bytes) -> Response {
    let f = form(&body);
    let session = match changer(&app, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let app = app.clone();
    let outcome = blocking(move || match action.as_str() {
        "activate" => app.policies.activate(&id, &session.username).map(|s| format!("{} decides now.", s.active.label())),
        "shadow" => app.policies.shadow(&id, &session.username).map(|r| format!("Shadowing {}.", r.candidate.label())),
        other => Err(Error::NotFound(format!("no policy action `{other}`"))),
    })
    .await;
    done(outcome)
}

#[utoipa::path(post, path = "/console/policies/{id}/replay", tag = "console", summary = "Replay the last day's logged decisions against a policy version", params(("id" = String, Path, description = "The policy version")), request_body(content = forms::Change, content_type = "application/x-www-form-urlencoded"), security(("console_session" = [])), responses((status = 303, description = "Back to the console, with the replay's report in a sentence", headers(("Location" = String, description = "Where to go next"))), (status = 401, description = "Not signed in", content_type = "text/plain", body = String), (status = 403, description = "Not a sys_admin's session, or without its CSRF token", content_type = "text/plain", body = String)))]
async fn policy_replay(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> Response {
    let f = form(&body);
    if let Err(r) = changer(&app, &headers, &f).await {
        return r;
    }
    let since = chrono::Utc::now() - chrono::Duration::hours(24);
    let filter = crate::store::DecisionFilter { since: Some(crate::timestamp::format(since.into())), ..Default::default() };
    done(crate::api::decisions::run_replay(app, id, filter, None).await.map(|r| r.summary()))
}

#[utoipa::path(post, path = "/console/policies/rollback", tag = "console", summary = "Roll the policy back", request_body(content = forms::Change, content_type = "application/x-www-form-urlencoded"), security(("console_session" = [])), responses((status = 303, description = "Back to the console, with a notice saying how it went", headers(("Location" = String, description = "Where to go next"))), (status = 401, description = "Not signed in", content_type = "text/plain", body = String), (status = 403, description = "Not a sys_admin's session, or without its CSRF token", content_type = "text/plain", body = String)))]
async fn policy_rollback(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let session = match changer(&app, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let app = app.clone();
    done(blocking(move || app.policies.rollback(&session.username).map(|s| format!("Rolled back: {} decides now.", s.active.label()))).await)
}

#[utoipa::path(post, path = "/console/policies/shadow/stop", tag = "console", summary = "Stop shadowing", request_body(content = forms::Change, content_type = "application/x-www-form-urlencoded"), security(("console_session" = [])), responses((status = 303, description = "Back to the console, with a notice saying how it went", headers(("Location" = String, description = "Where to go next"))), (status = 401, description = "Not signed in", content_type = "text/plain", body = String), (status = 403, description = "Not a sys_admin's session, or without its CSRF token", content_type = "text/plain", body = String)))]
async fn policy_shadow_stop(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let session = match changer(&app, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let app = app.clone();
    done(blocking(move || app.policies.stop_shadow(&session.username).map(|_| "Shadowing stopped.".to_string())).await)
}

/// The upload form's script posts the file's bytes as they are, with the session's
/// token in `X-CSRF-Token`; the answer is the server's own words (shown on the page).
#[utoipa::path(post, path = "/console/policies/upload", tag = "console", summary = "Upload a policy component", params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token")), request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The component's bytes"), security(("console_session" = [])), responses((status = 200, description = "Stored (the text says which version)", content_type = "text/plain", body = String), (status = 400, description = "Refused (the text says why)", content_type = "text/plain", body = String), (status = 401, description = "Not signed in", content_type = "text/plain", body = String), (status = 403, description = "Not a sys_admin's session, or without its CSRF token", content_type = "text/plain", body = String)))]
async fn policy_upload(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let f = HashMap::from([("csrf".to_string(), token)]);
    let session = match changer(&app, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let app = app.clone();
    match blocking(move || app.policies.upload(&body, Default::default(), &[], &session.username)).await {
        Ok(up) => {
            let what = if up.created { "Uploaded" } else { "Already stored" };
            (StatusCode::OK, format!("{what}: {} ({})", up.version.label(), up.version.id)).into_response()
        }
        Err(e) => (e.status(), e.to_string()).into_response(),
    }
}

/// The chart: decisions and faults per second, by version, over the last minutes.
/// Sampled when the page asks (every few seconds while it is open), so a host nobody
/// watches does no work for it.
#[utoipa::path(get, path = "/console/chart", tag = "console", summary = "The decisions chart", security(("console_session" = [])), responses((status = 200, description = "An SVG chart in an HTML fragment", content_type = "text/html", body = String), (status = 401, description = "Not signed in", content_type = "text/plain", body = String)))]
async fn chart_fragment(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(r) = viewer(&app, &headers).await {
        return r;
    }
    app.console.chart.sample(app.policies.metrics().totals());
    html(app.console.chart.render())
}

#[utoipa::path(get, path = "/console/controls", tag = "console", summary = "The maintenance controls", security(("console_session" = [])), responses((status = 200, description = "An HTML fragment", content_type = "text/html", body = String), (status = 401, description = "Not signed in", content_type = "text/plain", body = String)))]
async fn controls_fragment(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    dashboard_fragment(&app, &headers, page::controls).await
}
