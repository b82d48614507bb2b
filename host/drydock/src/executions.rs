//! `drydock executions start|list|get|cancel`.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use super::args::GetArgs;
use super::client::{API, CliError, CliResult, Client, ConnArgs, seg};
use super::output::{Table, field, print_json, print_record};

const POLL: Duration = Duration::from_millis(500);
const EVENTS_PAGE: usize = 100;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Start a workflow on a deployment.
    #[command(after_help = "\
Examples:
  drydock executions start sleep -d dep1 -p seconds=5 --wait
  drydock executions start install -d dep1")]
    Start(StartArgs),
    /// List executions (optionally of one deployment).
    #[command(after_help = "Examples:\n  drydock executions list\n  drydock executions list -d dep1 --json")]
    List(ListArgs),
    /// Show one execution.
    #[command(after_help = "Example:\n  drydock executions get 3f0c1a52-7d4e-4b8e-9a55-0f1d2c3b4a59")]
    Get(GetArgs),
    /// Ask for an execution to be cancelled (or force-cancelled, or killed).
    #[command(after_help = "\
Examples:
  drydock executions cancel 3f0c1a52-7d4e-4b8e-9a55-0f1d2c3b4a59
  drydock executions cancel 3f0c1a52-7d4e-4b8e-9a55-0f1d2c3b4a59 --kill")]
    Cancel(CancelArgs),
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The workflow to run, e.g. `sleep`.
    pub workflow: String,
    /// The deployment to run it on.
    #[arg(short = 'd', long = "deployment-id", value_name = "DEPLOYMENT")]
    pub deployment: String,
    /// A workflow parameter, KEY=VALUE (values are sent as strings), or a JSON object;
    /// repeat for more.
    #[arg(short = 'p', long = "parameter", value_name = "KEY=VALUE")]
    pub parameters: Vec<String>,
    /// Wait until the execution ends, printing its events.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: stop waiting after this many seconds (0: forever).
    #[arg(long, value_name = "SECONDS", requires = "wait")]
    pub timeout: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this deployment's executions.
    #[arg(short = 'd', long = "deployment-id", value_name = "DEPLOYMENT")]
    pub deployment: Option<String>,
    /// Print the server's JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    pub id: String,
    /// Force-cancel: also when it is already cancelling.
    #[arg(short = 'f', long, conflicts_with = "kill")]
    pub force: bool,
    /// Kill it: always allowed, ends it at once.
    #[arg(short = 'k', long)]
    pub kill: bool,
}

pub fn run(conn: &ConnArgs, cmd: Cmd) -> CliResult {
    let client = Client::connect(conn)?;
    match cmd {
        Cmd::Start(args) => start(&client, args),
        Cmd::List(args) => list(&client, args),
        Cmd::Get(args) => get(&client, args),
        Cmd::Cancel(args) => cancel(&client, args),
    }
}

fn parse_parameters(raw: &[String]) -> CliResult<Map<String, Value>> {
    let mut out = Map::new();
    for p in raw {
        if p.trim_start().starts_with('{') {
            match serde_json::from_str::<Value>(p) {
                Ok(Value::Object(o)) => out.extend(o),
                _ => return Err(CliError::usage(format!("-p `{p}` is not a JSON object"))),
            }
            continue;
        }
        match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                out.insert(k.trim().to_string(), Value::String(v.to_string()));
            }
            _ => {
                return Err(CliError::usage(format!("-p `{p}` is not KEY=VALUE"))
                    .hint("E.g. drydock executions start sleep -d dep1 -p seconds=5"));
            }
        }
    }
    Ok(out)
}

fn is_ended(status: &str) -> bool {
    matches!(status, "terminated" | "failed" | "cancelled")
}

fn start(client: &Client, args: StartArgs) -> CliResult {
    let parameters = parse_parameters(&args.parameters)?;
    let (wf, dep) = (&args.workflow, &args.deployment);
    println!("Executing workflow `{wf}` on deployment `{dep}`");
    let body = json!({"deployment_id": dep, "workflow_id": wf, "parameters": parameters});
    let exec = client.call("POST", &format!("{API}/executions"), Some(&body))?;
    let id = field(&exec, "id");
    if !args.wait {
        println!("Started execution {id} ({}).", field(&exec, "status"));
        println!("Run 'drydock executions get {id}' to follow it.");
        return Ok(());
    }
    println!("Waiting for execution {id} to end...");
    let deadline = args.timeout.filter(|t| *t > 0).map(|t| Instant::now() + Duration::from_secs(t));
    let mut offset = 0usize;
    let mut exec = exec;
    loop {
        let ended = is_ended(&field(&exec, "status"));
        offset = drain_events(client, &id, offset)?;
        if ended {
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(CliError::failed(format!(
                "Timed out waiting for workflow `{wf}` of deployment `{dep}` to end. The execution may still be running properly."
            ))
            .hint(format!("Run 'drydock executions get {id}' to see its status"))
            .hint(format!("Run 'drydock executions cancel {id}' to cancel it")));
        }
        std::thread::sleep(POLL);
        exec = client.get(&format!("{API}/executions/{}", seg(&id)))?;
    }
    match field(&exec, "status").as_str() {
        "terminated" => {
            println!("Finished executing workflow `{wf}` on deployment `{dep}`");
            Ok(())
        }
        "cancelled" => {
            Err(CliError::failed(format!("Execution {id} of workflow `{wf}` on deployment `{dep}` was cancelled.")))
        }
        _ => Err(CliError::failed(format!(
            "Execution of workflow `{wf}` on deployment `{dep}` failed. [error={}]",
            field(&exec, "error")
        ))
        .hint(format!("Run 'drydock executions get {id}' for details"))),
    }
}

/// Print the events after `offset`; return the new offset.
fn drain_events(client: &Client, id: &str, mut offset: usize) -> CliResult<usize> {
    loop {
        let page = client.get(&format!(
            "{API}/events?execution_id={}&_offset={offset}&_size={EVENTS_PAGE}&_sort=reported_timestamp",
            seg(id)
        ))?;
        let items = page.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
        for e in &items {
            let ts =
                Some(field(e, "reported_timestamp")).filter(|t| !t.is_empty()).unwrap_or_else(|| field(e, "timestamp"));
            match field(e, "deployment_id") {
                d if d.is_empty() => println!("{ts}  {}", field(e, "message")),
                d => println!("{ts}  <{d}> {}", field(e, "message")),
            }
        }
        offset += items.len();
        if items.len() < EVENTS_PAGE {
            return Ok(offset);
        }
    }
}

const LIST_COLUMNS: [&str; 7] =
    ["id", "workflow_id", "status", "deployment_id", "created_by", "created_at", "ended_at"];

/// The original shows `status_display` (`completed` for `terminated`) as the status.
fn shown_status(e: &Value) -> String {
    Some(field(e, "status_display")).filter(|s| !s.is_empty()).unwrap_or_else(|| field(e, "status"))
}

fn list(client: &Client, args: ListArgs) -> CliResult {
    let mut path = format!("{API}/executions?_sort=created_at&_size=1000");
    if let Some(d) = &args.deployment {
        path.push_str(&format!("&deployment_id={}", seg(d)));
    }
    let resp = client.get(&path)?;
    if args.json {
        print_json(&resp);
        return Ok(());
    }
    let items = resp.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut t = Table::new(&LIST_COLUMNS);
    for e in &items {
        let mut row: Vec<String> = LIST_COLUMNS.iter().map(|k| field(e, k)).collect();
        row[2] = shown_status(e);
        t.row(row);
    }
    t.print_titled("Executions:");
    let total = resp.pointer("/metadata/pagination/total").and_then(Value::as_u64).unwrap_or(items.len() as u64);
    println!("Showing {} of {total} executions", items.len());
    if items.iter().any(|e| field(e, "status").ends_with("cancelling")) {
        println!("NOTE: executions that are cancelling may take a while to become cancelled.");
    }
    Ok(())
}

fn get(client: &Client, args: GetArgs) -> CliResult {
    let e = client.get(&format!("{API}/executions/{}", seg(&args.id)))?;
    if args.json {
        print_json(&e);
        return Ok(());
    }
    let mut shown = e.clone();
    shown["status"] = Value::String(shown_status(&e));
    print_record(
        "Execution:",
        &shown,
        &[
            "id",
            "workflow_id",
            "status",
            "deployment_id",
            "created_by",
            "created_at",
            "started_at",
            "ended_at",
            "error",
            "tenant_name",
        ],
    );
    if let Some(params) = e.get("parameters").and_then(Value::as_object).filter(|p| !p.is_empty()) {
        println!("Execution Parameters:");
        for (k, v) in params {
            println!("  {k}: {}", super::output::text(v));
        }
    }
    Ok(())
}

fn cancel(client: &Client, args: CancelArgs) -> CliResult {
    let (action, doing) = match (args.force, args.kill) {
        (_, true) => ("kill", "Killing"),
        (true, _) => ("force-cancel", "Force-cancelling"),
        _ => ("cancel", "Cancelling"),
    };
    let id = &args.id;
    println!("{doing} execution {id}");
    client.call("POST", &format!("{API}/executions/{}", seg(id)), Some(&json!({"action": action})))?;
    println!("A cancel request for execution {id} has been sent. To track the execution's status, use:");
    println!("drydock executions get {id}");
    Ok(())
}
