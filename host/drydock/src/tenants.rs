//! `drydock tenants list|get|create|delete|add-user|update-user|remove-user`.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::args::JsonArg;
use super::client::{API, CliResult, Client, ConnArgs, seg};
use super::output::{Table, field, print_json, text};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// List the tenants (a sys_admin sees all of them, anyone else the ones they belong to).
    #[command(after_help = "Examples:\n  drydock tenants list\n  drydock tenants list --json")]
    List(JsonArg),
    /// Show a tenant and its members with their roles (sys_admin only).
    #[command(after_help = "Example:\n  drydock tenants get team-a")]
    Get(GetArgs),
    /// Create a tenant (sys_admin only).
    #[command(after_help = "Example:\n  drydock tenants create team-a")]
    Create(NameArg),
    /// Delete a tenant that has no deployments or executions left (sys_admin only).
    #[command(after_help = "Example:\n  drydock tenants delete team-a")]
    Delete(NameArg),
    /// Make a user a member of a tenant, with a role (sys_admin only).
    #[command(name = "add-user", after_help = "Example:\n  drydock tenants add-user alice -t team-a -r viewer")]
    AddUser(UserRoleArgs),
    /// Give a member of a tenant another role there (sys_admin only).
    #[command(name = "update-user", after_help = "Example:\n  drydock tenants update-user alice -t team-a -r manager")]
    UpdateUser(UserRoleArgs),
    /// Take a user out of a tenant (sys_admin only).
    #[command(name = "remove-user", after_help = "Example:\n  drydock tenants remove-user alice -t team-a")]
    RemoveUser(UserArgs),
}

#[derive(Debug, Args)]
pub struct NameArg {
    /// The tenant's name (letters, digits, `-`, `.`, `_`; starting with a letter).
    pub name: String,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The tenant's name.
    pub name: String,
    /// Print the server's JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UserRoleArgs {
    /// The user's name.
    // Its own id: `username` is the global `-u` (clap would fill that one).
    #[arg(id = "member", value_name = "USER")]
    pub username: String,
    /// The tenant's name.
    #[arg(short = 't', long = "tenant-name", value_name = "TENANT")]
    pub tenant_name: String,
    /// A tenant role: viewer reads; user, operations and manager also change.
    #[arg(short = 'r', long, value_parser = ["viewer", "user", "operations", "manager"])]
    pub role: String,
}

#[derive(Debug, Args)]
pub struct UserArgs {
    /// The user's name.
    // Its own id: `username` is the global `-u` (clap would fill that one).
    #[arg(id = "member", value_name = "USER")]
    pub username: String,
    /// The tenant's name.
    #[arg(short = 't', long = "tenant-name", value_name = "TENANT")]
    pub tenant_name: String,
}

/// The number of users in a tenant object: a count, or (with `_get_data`) a map.
fn user_count(tenant: &Value) -> String {
    match tenant.get("users") {
        Some(Value::Object(m)) => m.len().to_string(),
        Some(v) => text(v),
        None => String::new(),
    }
}

/// The members of a tenant object fetched with `_get_data=true`, as (user, role), by name.
fn members(tenant: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = tenant
        .get("users")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(user, info)| (user.clone(), field(info, "tenant-role"))).collect())
        .unwrap_or_default();
    out.sort();
    out
}

pub fn run(conn: &ConnArgs, cmd: Cmd) -> CliResult {
    let client = Client::connect(conn)?;
    match cmd {
        Cmd::List(args) => {
            let resp = client.get(&format!("{API}/tenants?_size=1000"))?;
            let items = resp.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
            if args.json {
                print_json(&Value::Array(items));
                return Ok(());
            }
            let mut t = Table::new(&["name", "users"]);
            for tenant in &items {
                t.row(vec![field(tenant, "name"), user_count(tenant)]);
            }
            t.print_titled("Tenants:");
            let total =
                resp.pointer("/metadata/pagination/total").and_then(Value::as_u64).unwrap_or(items.len() as u64);
            println!("Showing {} of {total} tenants", items.len());
            Ok(())
        }
        Cmd::Get(args) => {
            let tenant = client.get(&format!("{API}/tenants/{}?_get_data=true", seg(&args.name)))?;
            if args.json {
                print_json(&tenant);
                return Ok(());
            }
            let name = tenant.get("name").and_then(Value::as_str).unwrap_or(&args.name);
            println!("Tenant: {name}");
            let members = members(&tenant);
            if members.is_empty() {
                println!("No members.");
            } else {
                let mut t = Table::new(&["user", "role"]);
                for (user, role) in members {
                    t.row(vec![user, role]);
                }
                t.print_titled("Members:");
            }
            Ok(())
        }
        Cmd::Create(args) => {
            client.call("POST", &format!("{API}/tenants/{}", seg(&args.name)), Some(&json!({})))?;
            println!("Tenant `{}` created", args.name);
            Ok(())
        }
        Cmd::Delete(args) => {
            client.call("DELETE", &format!("{API}/tenants/{}", seg(&args.name)), None)?;
            println!("Tenant `{}` removed", args.name);
            Ok(())
        }
        Cmd::AddUser(args) => {
            let body = json!({"username": args.username, "tenant_name": args.tenant_name, "role": args.role});
            client.call("PUT", &format!("{API}/tenants/users"), Some(&body))?;
            println!(
                "User `{}` added successfully to tenant `{}` with `{}` role",
                args.username, args.tenant_name, args.role
            );
            Ok(())
        }
        Cmd::UpdateUser(args) => {
            let body = json!({"username": args.username, "tenant_name": args.tenant_name, "role": args.role});
            client.call("PATCH", &format!("{API}/tenants/users"), Some(&body))?;
            println!("User `{}` now has role `{}` in tenant `{}`", args.username, args.role, args.tenant_name);
            Ok(())
        }
        Cmd::RemoveUser(args) => {
            let body = json!({"username": args.username, "tenant_name": args.tenant_name});
            client.call("DELETE", &format!("{API}/tenants/users"), Some(&body))?;
            println!("User `{}` removed from tenant `{}`", args.username, args.tenant_name);
            Ok(())
        }
    }
}
