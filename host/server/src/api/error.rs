//! The one place where errors become HTTP responses in the reference's shape:
//! `{"message": ..., "error_code": ..., "server_traceback": null}`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Error;

/// The reference's error body: every refusal and failure has it.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// What went wrong, and what to do about it.
    pub message: String,
    /// Which error (the real client maps these to exception classes):
    /// `bad_parameters_error`, `unauthorized_error`, `forbidden_error`,
    /// `not_found_error`, `conflict_error`, `invalid_execution_status_update`,
    /// `unsupported_media_type_error`, `payload_too_large_error`,
    /// `method_not_allowed_error`, `request_timeout_error`,
    /// `request_header_fields_too_large_error`, `maintenance_mode_active`,
    /// `entering_maintenance_mode`, `policy_error`, `server_busy_error`,
    /// `database_unavailable_error`, `internal_server_error`, or whatever code an
    /// uploaded policy's refusal names.
    pub error_code: String,
    /// Always null (Cloudify sends a traceback here; drydock never does).
    #[schema(value_type = Option<String>)]
    pub server_traceback: Option<()>,
}

impl ErrorBody {
    pub fn new(message: impl Into<String>, error_code: impl Into<String>) -> ErrorBody {
        ErrorBody { message: message.into(), error_code: error_code.into(), server_traceback: None }
    }
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) | Error::IllegalTransition(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) | Error::Untrusted(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Denied(d) => StatusCode::from_u16(d.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            Error::PolicyFault(_) | Error::Busy(_) | Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::NotModified => StatusCode::NOT_MODIFIED,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The reference's `error_code` (the real client maps these to exception classes).
    pub fn code(&self) -> &str {
        match self {
            Error::BadRequest(_) => "bad_parameters_error",
            Error::IllegalTransition(_) => "invalid_execution_status_update",
            Error::Unauthorized(_) => "unauthorized_error",
            Error::Forbidden(_) => "forbidden_error",
            Error::Untrusted(_) => "policy_not_trusted_error",
            Error::NotFound(_) => "not_found_error",
            Error::Conflict(_) => "conflict_error",
            Error::UnsupportedMediaType(_) => "unsupported_media_type_error",
            Error::PayloadTooLarge(_) => "payload_too_large_error",
            Error::Denied(d) => &d.error_code,
            Error::PolicyFault(_) => "policy_error",
            Error::Busy(_) => "server_busy_error",
            Error::Unavailable(_) => "database_unavailable_error",
            Error::NotModified => "",
            Error::Internal(_) => "internal_server_error",
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.as_response()
    }
}

impl Error {
    /// The response for this error, in the reference's shape.
    pub fn as_response(&self) -> Response {
        let status = self.status();
        if status == StatusCode::NOT_MODIFIED {
            return status.into_response();
        }
        if let Error::Internal(e) = self {
            tracing::error!(error = %format!("{e:#}"), "internal error");
        }
        let message = match self {
            Error::Internal(_) => "Internal error in drydock; see the server log".to_string(),
            other => other.to_string(),
        };
        let mut resp = (status, Json(ErrorBody::new(message, self.code()))).into_response();
        if let Error::Denied(d) = self
            && let Some(secs) = d.retry_after
        {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Error::Busy(_) | Error::Unavailable(_) = self {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"drydock\""));
        }
        resp
    }
}
