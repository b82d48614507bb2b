//! `drydock users create`.

use clap::{Args, Subcommand};
use serde_json::json;

use super::client::{API, CliResult, Client, ConnArgs};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Create a user (sys_admin only).
    #[command(after_help = "\
Examples:
  drydock users create alice -p 'alice-secret'             # role: user
  drydock users create bob -p 'bob-secret' -r sys_admin")]
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The new user's name.
    pub name: String,
    /// The new user's password (at least 5 characters).
    #[arg(short = 'p', long = "user-password", value_name = "PASSWORD")]
    pub user_password: String,
    /// The new user's role: `user` (alias `default`) or `sys_admin`.
    #[arg(short = 'r', long, default_value = "user", value_parser = ["user", "default", "sys_admin"])]
    pub role: String,
}

pub fn run(conn: &ConnArgs, cmd: Cmd) -> CliResult {
    let client = Client::connect(conn)?;
    match cmd {
        Cmd::Create(args) => {
            // The server's (and the original's) name for the non-admin role is `default`.
            let role = if args.role == "sys_admin" { "sys_admin" } else { "default" };
            let body = json!({"username": args.name, "password": args.user_password, "role": role});
            client.call("PUT", &format!("{API}/users"), Some(&body))?;
            println!("User `{}` created with `{role}` security role", args.name);
            Ok(())
        }
    }
}
