//! Request-side limits: what a client may send and how long it may take, so a
//! flood or a slow client costs the host bounded memory and threads.

use std::time::Duration;

use axum::body::Body;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Request, StatusCode};

use super::error::ErrorBody;

/// Total size of all request headers accepted.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// How long one request (reading its body included) may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a policy upload may take: compiling a Python or JavaScript component
/// takes 20–35 s (release build) the first time, off the async workers; requests,
/// swaps and other uploads go on meanwhile.
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a request body may take to arrive, once its headers are in.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Bodies of requests whose credentials were wrong read at once; more are not read.
pub const STRANGER_READS: usize = 32;
/// Requests handled at once; more wait their turn (back-pressure, not errors).
pub const MAX_IN_FLIGHT: usize = 512;

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(ErrorBody::new(message, code))).into_response()
}

pub async fn header_size(req: Request<Body>, next: Next) -> Response {
    let bytes: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if bytes > MAX_HEADER_BYTES {
        return refuse(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request_header_fields_too_large_error",
            &format!("The request headers are {bytes} bytes; at most {MAX_HEADER_BYTES} are accepted"),
        );
    }
    next.run(req).await
}

pub async fn timeout(req: Request<Body>, next: Next) -> Response {
    let upload = req.method() == http::Method::POST && matches!(req.uri().path().trim_end_matches('/'), "/api/v3.1/policies" | "/console/policies/upload");
    let limit = if upload { UPLOAD_TIMEOUT } else { REQUEST_TIMEOUT };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => refuse(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout_error",
            &format!("The request took longer than {} s and was abandoned", limit.as_secs()),
        ),
    }
}

/// Read a small request body whole before routing, for an authenticated caller. A
/// handler or a middleware that answers without reading the body (a 403, a 404)
/// would otherwise leave bytes on a keep-alive connection, and hyper closes it
/// without saying so; the client's next request on it fails. Larger bodies stream to
/// their handlers. The body must arrive within [`BODY_TIMEOUT`].
///
/// A request without credentials gets no body read at all: its answer (401, 404)
/// says `Connection: close` instead, so a stranger cannot hold the server reading a
/// slow body. One whose credentials were wrong (a client that mistyped, and will
/// reuse the connection) has its body read only while few such reads are under way
/// ([`STRANGER_READS`]), else it is closed too.
pub async fn read_small_bodies(req: Request<Body>, next: Next) -> Response {
    static STRANGERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(STRANGER_READS);
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let authenticated = req.extensions().get::<drydock_gate::Caller>().is_some();
    let mistyped = req.extensions().get::<crate::auth::Refused>().is_some();
    let _stranger = (!authenticated && mistyped).then(|| STRANGERS.try_acquire().ok()).flatten();
    if !authenticated && _stranger.is_none() {
        let has_body = declared.is_some_and(|n| n > 0) || req.headers().contains_key(http::header::TRANSFER_ENCODING);
        let mut resp = next.run(req).await;
        if has_body {
            resp.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        }
        return resp;
    }
    match declared {
        Some(len) if len > 0 && len <= super::MAX_BODY_BYTES => {
            let (parts, body) = req.into_parts();
            match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, len)).await {
                Ok(Ok(bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
                Ok(Err(_)) => refuse(StatusCode::BAD_REQUEST, "bad_parameters_error", "The request body could not be read"),
                Err(_) => {
                    let mut resp = refuse(
                        StatusCode::REQUEST_TIMEOUT,
                        "request_timeout_error",
                        &format!("The request body did not arrive within {} s", BODY_TIMEOUT.as_secs()),
                    );
                    resp.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
                    resp
                }
            }
        }
        _ => next.run(req).await,
    }
}
