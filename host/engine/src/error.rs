//! The engine's errors: it could not start, or a component is not a policy.

use crate::load::LoadError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// wasmtime could not be configured, or the epoch ticker thread not started.
    #[error("cannot start the WebAssembly engine: {0}")]
    Setup(String),
    /// The component was refused (see [`LoadError`]).
    #[error(transparent)]
    Load(#[from] LoadError),
}
