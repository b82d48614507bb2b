//! `drydock deployments create|list|get|delete`.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::args::{GetArgs, JsonArg};
use super::client::{API, CliResult, Client, ConnArgs, seg};
use super::output::{Table, field, print_json, print_record};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Create a deployment.
    #[command(after_help = "Example:\n  drydock deployments create dep1 -b my-blueprint")]
    Create(CreateArgs),
    /// List deployments.
    #[command(after_help = "Examples:\n  drydock deployments list\n  drydock deployments list --json")]
    List(JsonArg),
    /// Show one deployment.
    #[command(after_help = "Example:\n  drydock deployments get dep1")]
    Get(GetArgs),
    /// Delete a deployment.
    #[command(after_help = "Example:\n  drydock deployments delete dep1")]
    Delete(IdArg),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The new deployment's id (letters, digits, `-`, `_`, `.`, `@`).
    pub id: String,
    /// The blueprint it comes from.
    #[arg(short = 'b', long = "blueprint-id", value_name = "BLUEPRINT")]
    pub blueprint: Option<String>,
}

#[derive(Debug, Args)]
pub struct IdArg {
    pub id: String,
}

pub fn run(conn: &ConnArgs, cmd: Cmd) -> CliResult {
    let client = Client::connect(conn)?;
    match cmd {
        Cmd::Create(args) => {
            println!("Creating deployment `{}`...", args.id);
            let body = json!({"blueprint_id": args.blueprint, "inputs": {}});
            let d = client.call("PUT", &format!("{API}/deployments/{}", seg(&args.id)), Some(&body))?;
            println!("Deployment `{}` created.", field(&d, "id"));
            Ok(())
        }
        Cmd::List(args) => {
            let resp = client.get(&format!("{API}/deployments?_sort=created_at&_size=1000"))?;
            if args.json {
                print_json(&resp);
                return Ok(());
            }
            let items = resp.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
            let cols = ["id", "blueprint_id", "created_at", "created_by", "tenant_name"];
            let mut t = Table::new(&cols);
            for d in &items {
                t.row_from(d, &cols);
            }
            t.print_titled("Deployments:");
            let total =
                resp.pointer("/metadata/pagination/total").and_then(Value::as_u64).unwrap_or(items.len() as u64);
            println!("Showing {} of {total} deployments", items.len());
            Ok(())
        }
        Cmd::Get(args) => {
            let d = client.get(&format!("{API}/deployments/{}", seg(&args.id)))?;
            if args.json {
                print_json(&d);
            } else {
                print_record(
                    "Deployment:",
                    &d,
                    &["id", "blueprint_id", "created_by", "created_at", "updated_at", "tenant_name"],
                );
            }
            Ok(())
        }
        Cmd::Delete(args) => {
            println!("Deleting deployment `{}`...", args.id);
            client.call("DELETE", &format!("{API}/deployments/{}", seg(&args.id)), None)?;
            println!("Deployment `{}` deleted.", args.id);
            Ok(())
        }
    }
}
