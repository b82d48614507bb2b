//! The policy engine: runs the active admission policy, a wasm component
//! exporting the `drydock:policy/policy` world (`wit/policy.wit`), sandboxed.
//!
//! Loading does all the slow and risky work once (validate, compile, type-check,
//! smoke-test); a decision only borrows a warm instance from a pool, calls it
//! under a deadline and a memory cap, and gives it back. An instance that
//! faulted is dropped, never reused.

mod bindings;
mod cache;
mod convert;
mod fault;
mod inspect;
mod limits;
mod load;
mod policy;
mod runtime;
mod slots;
#[cfg(test)]
mod tests;

pub use fault::Fault;
pub use inspect::{Inspection, inspect};
pub use limits::Limits;
pub use load::LoadError;
pub use policy::Policy;
pub use runtime::Engine;
pub use slots::Slots;

/// The bundled default policy (`policy-wasm/default`, Cloudify's rules).
pub const DEFAULT_POLICY: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/cloudify-default.wasm"));
/// The bundled strict policy (`policy-wasm/strict`).
pub const STRICT_POLICY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/cloudify-strict.wasm"));
