//! `drydock users create|set-password|set-role|delete` (sys_admin only).

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
    /// Give a user a new password; its old one stops working at once.
    #[command(name = "set-password", after_help = "Example:\n  drydock users set-password alice -p 'new-secret'")]
    SetPassword(SetPasswordArgs),
    /// Give a user another role; in force on its next request.
    #[command(name = "set-role", after_help = "Example:\n  drydock users set-role alice -r sys_admin")]
    SetRole(SetRoleArgs),
    /// Delete a user (not yourself); its credentials stop working at once.
    #[command(after_help = "Example:\n  drydock users delete alice")]
    Delete(NameArg),
}

#[derive(Debug, Args)]
pub struct SetPasswordArgs {
    pub name: String,
    /// The new password (at least 5 characters).
    #[arg(short = 'p', long = "user-password", value_name = "PASSWORD")]
    pub user_password: String,
}

#[derive(Debug, Args)]
pub struct SetRoleArgs {
    pub name: String,
    /// `user` (alias `default`) or `sys_admin`.
    #[arg(short = 'r', long, value_parser = ["user", "default", "sys_admin"])]
    pub role: String,
}

#[derive(Debug, Args)]
pub struct NameArg {
    pub name: String,
}

/// The server's (and the original's) name for the non-admin role is `default`.
fn wire_role(role: &str) -> &'static str {
    if role == "sys_admin" { "sys_admin" } else { "default" }
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
            let role = wire_role(&args.role);
            let body = json!({"username": args.name, "password": args.user_password, "role": role});
            client.call("PUT", &format!("{API}/users"), Some(&body))?;
            println!("User `{}` created with `{role}` security role", args.name);
            Ok(())
        }
        Cmd::SetPassword(args) => {
            client.call("POST", &format!("{API}/users/{}", args.name), Some(&json!({"password": args.user_password})))?;
            println!("User `{}` has a new password.", args.name);
            Ok(())
        }
        Cmd::SetRole(args) => {
            let role = wire_role(&args.role);
            client.call("POST", &format!("{API}/users/{}", args.name), Some(&json!({"role": role})))?;
            println!("User `{}` now has the `{role}` security role.", args.name);
            Ok(())
        }
        Cmd::Delete(args) => {
            client.call("DELETE", &format!("{API}/users/{}", args.name), None)?;
            println!("User `{}` deleted.", args.name);
            Ok(())
        }
    }
}
