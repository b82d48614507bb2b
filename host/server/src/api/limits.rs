//! Request-side limits: what a client may send and how long it may take, so a
//! flood or a slow client costs the host bounded memory and threads.

use std::time::Duration;

use axum::body::Body;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Request, StatusCode};
use serde_json::json;

/// Total size of all request headers accepted.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// How long one request (reading its body included) may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests handled at once; more wait their turn (back-pressure, not errors).
pub const MAX_IN_FLIGHT: usize = 512;

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message, "error_code": code, "server_traceback": null }))).into_response()
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
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => refuse(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout_error",
            &format!("The request took longer than {} s and was abandoned", REQUEST_TIMEOUT.as_secs()),
        ),
    }
}

/// Read a small request body whole before routing. A handler or a middleware that
/// answers without reading the body (a 401, a 403, a 404) would otherwise leave
/// bytes on a keep-alive connection, and hyper closes it without saying so; the
/// client's next request on it fails. Larger bodies stream to their handlers.
pub async fn read_small_bodies(req: Request<Body>, next: Next) -> Response {
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match declared {
        Some(len) if len > 0 && len <= super::MAX_BODY_BYTES => {
            let (parts, body) = req.into_parts();
            match axum::body::to_bytes(body, len).await {
                Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
                Err(_) => refuse(StatusCode::BAD_REQUEST, "bad_parameters_error", "The request body could not be read"),
            }
        }
        _ => next.run(req).await,
    }
}
