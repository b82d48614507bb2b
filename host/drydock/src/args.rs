//! Argument groups that several client commands share.

use clap::Args;

/// `--json` alone (list commands).
#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print the server's JSON.
    #[arg(long)]
    pub json: bool,
}

/// An id and `--json` (get commands).
#[derive(Debug, Args)]
pub struct GetArgs {
    pub id: String,
    /// Print the server's JSON.
    #[arg(long)]
    pub json: bool,
}
