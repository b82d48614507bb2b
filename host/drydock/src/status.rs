//! `drydock status` and `drydock --version`.

use clap::Args as ClapArgs;
use serde_json::Value;

use super::client::{API, CliResult, Client, ConnArgs};
use super::output::{Align, Table, field, print_json};

pub const CLIENT_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, ClapArgs)]
#[command(after_help = "Examples:\n  drydock status\n  drydock status --json")]
pub struct Args {
    /// Print JSON: the server's status answer plus `maintenance_mode`.
    #[arg(long)]
    pub json: bool,
}

pub fn run(conn: &ConnArgs, args: Args) -> CliResult {
    let client = Client::connect(conn)?;
    if !args.json {
        println!("Retrieving drydock services status... [{}]", client.base());
    }
    let status = client.get(&format!("{API}/status"))?;
    let maintenance = client.get(&format!("{API}/maintenance"))?;
    let mode = field(&maintenance, "status");
    if args.json {
        let mut out = status;
        if let Value::Object(o) = &mut out {
            o.insert("maintenance_mode".into(), Value::String(mode));
            // drydock's planning fields, when set.
            for key in ["reason", "until"] {
                if let Some(v) = maintenance.get(key).filter(|v| !v.is_null()) {
                    o.insert(format!("maintenance_{key}"), v.clone());
                }
            }
        }
        print_json(&out);
        return Ok(());
    }
    let mut t = Table::new(&["service", "status"]).align(0, Align::Left);
    if let Some(services) = status.get("services").and_then(Value::as_object) {
        for (name, s) in services {
            t.row(vec![name.clone(), field(s, "status")]);
        }
    }
    t.print_titled("Services:");
    if !mode.is_empty() && mode != "deactivated" {
        // The seed's line, then what drydock knows more (only when set).
        println!("Maintenance mode is {mode}.");
        let (reason, until) = (field(&maintenance, "reason"), field(&maintenance, "until"));
        if !reason.is_empty() {
            println!("Reason: {reason}");
        }
        if !until.is_empty() {
            println!("Expected to end: {until}");
        }
        println!();
    }
    Ok(())
}

/// `drydock --version`: always the client's; the server's when it answers. Exit 0
/// unless the connection settings themselves are broken.
pub fn version(conn: &ConnArgs) -> i32 {
    println!("drydock CLI {CLIENT_VERSION}");
    let client = match Client::connect(conn) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    match client.send("GET", "/api/version", None) {
        Ok(r) if r.status == 200 => {
            let server = r
                .body
                .get("drydock_version")
                .or_else(|| r.body.get("distro_release"))
                .map(super::output::text)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "(unknown version)".into());
            println!(
                "drydock server {server} [{}], Cloudify REST API {} ({} edition)",
                client.base(),
                field(&r.body, "version"),
                field(&r.body, "edition"),
            );
        }
        Ok(r) => println!("drydock server at {}: version unknown ({})", client.base(), client.api_error(&r).message),
        Err(e) => println!("drydock server: {}", e.message),
    }
    0
}
