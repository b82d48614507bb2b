//! The `drydock` command's library: the client commands, the offline policy tools
//! and the pieces of them that read what a server (or a file) sends — public so the
//! fuzz targets (`fuzz/`) reach the same code the binary runs.

pub mod args;
pub mod client;
pub mod deployments;
pub mod executions;
pub mod maintenance;
pub mod output;
pub mod policy;
pub mod offline;
pub mod profiles;
pub mod serve;
pub mod status;
pub mod tenants;
pub mod users;
pub mod decisions;
