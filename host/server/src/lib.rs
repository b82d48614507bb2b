//! drydock's manager: Cloudify's maintenance mode over a REST API, with admission
//! decided by the gate's policy component.
//!
//! The layering, each arrow a dependency the compiler enforces inside this crate by
//! convention and across crates by `Cargo.toml`:
//!
//! ```text
//! api (axum handlers, auth, the one mapping of errors to HTTP)
//!  └─► manager (maintenance state, executions, the race-free rule)
//!       └─► store (SQLite or PostgreSQL; the only places with SQL)
//! follow (other hosts' changes, from the store's feed) ─► manager, registry, auth
//! registry (policy versions, shadow sessions, history) ─► drydock-engine, trust
//! trust (trusted keys and signatures; no network, no store)
//! api ─► drydock-gate (the tower layer in front of every route)
//! ```

pub mod api;
pub mod auth;
pub mod clock;
pub mod console;
pub mod decisions;
pub mod error;
pub mod follow;
pub mod listen;
pub mod manager;
pub mod registry;
pub mod server;
pub mod store;
pub mod timestamp;
pub mod trust;
pub mod worker;
