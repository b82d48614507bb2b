//! The library's error type. `api::error` maps it to the reference's JSON shape,
//! in one place.

use drydock_gate::Denial;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client sent something malformed or out of range.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A policy version not signed by enough trusted keys (`--require-signed`).
    #[error("{0}")]
    Untrusted(String),
    /// A status update the execution lifecycle does not allow.
    #[error("{0}")]
    IllegalTransition(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The request was refused by the policy.
    #[error("{}", .0.message)]
    Denied(Denial),
    /// The policy could not decide and the host fails closed.
    #[error("{0}")]
    PolicyFault(String),
    /// The server has no turn for this request right now (e.g. password checks);
    /// the client should retry shortly.
    #[error("{0}")]
    Busy(String),
    /// The database cannot be reached right now; the client should retry.
    #[error("{0}")]
    Unavailable(String),
    /// The request asked for what already is (the reference answers 304, empty).
    #[error("not modified")]
    NotModified,
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for Error {
    /// A store's failure: "the database is unreachable" is the client's to retry,
    /// anything else is a fault.
    fn from(e: anyhow::Error) -> Error {
        match e.downcast_ref::<crate::store::Unavailable>() {
            Some(u) => Error::Unavailable(u.0.clone()),
            None => Error::Internal(e),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
