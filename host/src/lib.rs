//! drydock: a maintenance-mode gate whose admission rules are a sandboxed
//! WebAssembly component.
//!
//! The request flow: `auth` (who is asking) → `gate` (descriptor + snapshot →
//! `engine` → the policy component) → `api` handler → `manager` (state, race-free
//! rule) → `store` (SQLite).

pub mod api;
pub mod auth;
pub mod cases;
pub mod cli;
pub mod engine;
pub mod error;
pub mod executions;
pub mod gate;
pub mod maintenance;
pub mod manager;
pub mod metrics;
pub mod policies;
pub mod server;
pub mod store;
pub mod timestamp;
pub mod worker;
