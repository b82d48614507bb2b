//! drydock's policy engine: runs admission policies, WebAssembly components
//! exporting the `drydock:policy/policy` world, sandboxed. Two contracts are
//! loaded side by side: `2.0.0` (`wit/v2/policy.wit`, the request packed into one
//! byte list: one copy into the guest) and `1.0.0` (`wit/policy.wit`, a record of
//! strings); [`Policy::contract`] says which a component was built for.
//!
//! Loading does all the slow and risky work once (validate, compile, type-check,
//! smoke-test); a decision only borrows a warm instance from a pool, calls it
//! under a deadline and a memory cap, and gives it back. An instance that
//! faulted is dropped, never reused.
//!
//! The engine knows wasmtime and nothing else: no HTTP, no storage. The request
//! descriptor, the snapshot and the decision are the plain types of [`types`],
//! re-exported here.
//!
//! ```
//! use drydock_engine::{Caller, DEFAULT_POLICY, Decision, Engine, Limits, MaintenanceState, RequestDescriptor, Role, Snapshot};
//!
//! let engine = Engine::new(Limits::default())?;
//! let policy = engine.load(DEFAULT_POLICY)?;          // validate, compile, smoke-test: once
//! let alice = Caller { username: "alice".into(), role: Role::User, bypass: false };
//! let request = RequestDescriptor::new("POST", "/api/v3.1/executions", "/api/v3.1/executions", "/api/v3.1", alice);
//! let activated = Snapshot::new(MaintenanceState::Activated, Default::default());
//! assert!(matches!(policy.decide(&request, &activated), Ok(Decision::Deny(_))));
//! # Ok::<(), drydock_engine::Error>(())
//! ```

mod bindings;
mod cache;
mod convert;
mod error;
mod fault;
mod inspect;
mod limits;
mod load;
mod policy;
mod runtime;
mod slots;
pub mod types;
#[cfg(test)]
mod tests;

pub use cache::{ArtifactLedger, Compilations, MemoryLedger};
pub use error::Error;
pub use fault::Fault;
pub use inspect::{Inspection, inspect};
pub use limits::Limits;
pub use load::LoadError;
pub use policy::Policy;
pub use runtime::Engine;
pub use slots::Slots;
pub use types::{
    CancelKind, Caller, CallerView, Decision, Denial, ExecutionCounts, ExecutionStatus, MaintenanceState, Published,
    RequestDescriptor, RequestView, Role, Snapshot,
};

/// The bundled default policy (`policy-wasm/default`, Cloudify's rules), as built
/// by `drydock policy build` and committed under `policy-wasm/builtin/` (a test
/// rebuilds it from source and compares the bytes).
pub const DEFAULT_POLICY: &[u8] = include_bytes!("../builtin/cloudify-default.wasm");
/// The bundled strict policy (`policy-wasm/strict`), built the same way.
pub const STRICT_POLICY: &[u8] = include_bytes!("../builtin/cloudify-strict.wasm");
