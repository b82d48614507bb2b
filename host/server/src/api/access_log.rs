//! One line per request at info: method, path, status, who asked, which policy
//! version decided, and how long it took. Runs after authentication, so it knows
//! the caller; `/metrics` scrapes are not logged (a scraper polls every few seconds).

use std::time::Instant;

use axum::body::Body;
use axum::middleware::Next;
use axum::response::Response;
use drydock_gate::{Caller, POLICY_HEADER};
use http::Request;

pub async fn access_log(req: Request<Body>, next: Next) -> Response {
    if req.uri().path() == "/metrics" {
        return next.run(req).await;
    }
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let user = req.extensions().get::<Caller>().map(|c| c.username.clone()).unwrap_or_default();
    let resp = next.run(req).await;
    let policy = resp.headers().get(POLICY_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("-");
    tracing::info!(
        target: "drydock::access",
        %method,
        %path,
        status = resp.status().as_u16(),
        user = %if user.is_empty() { "-" } else { user.as_str() },
        %policy,
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    resp
}
