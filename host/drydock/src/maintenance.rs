//! `drydock maintenance-mode status|activate|deactivate`: the seed's commands, with the
//! original CLI's output (drydock's name where the original says Cloudify Manager).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::Value;

use super::client::{API, CliError, CliResult, Client, ConnArgs};
use super::output::{Table, field, plural, print_json, title_case, truthy};

/// How often `activate --wait` asks the server: the wait ends within this (plus one
/// round trip) of the activation, and a waiting CLI costs the server 4 requests/s.
const POLL: Duration = Duration::from_millis(250);

const STATUS_HELP: &str = "\
Examples:
  drydock maintenance-mode status
  drydock maintenance-mode status -v      # also list the executions it waits for
  drydock maintenance-mode status --json";
const ACTIVATE_HELP: &str = "\
Without running or pending executions drydock enters maintenance mode at once;
otherwise it is `activating` (new work is refused) until they have all ended.

Examples:
  drydock maintenance-mode activate
  drydock maintenance-mode activate --wait --timeout 600";

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Show the maintenance mode: its status, when and by whom it was requested, and
    /// what it still waits for.
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),
    /// Enter maintenance mode (sys_admin only).
    #[command(after_help = ACTIVATE_HELP)]
    Activate(ActivateArgs),
    /// Leave maintenance mode (sys_admin only).
    #[command(after_help = "Example:\n  drydock maintenance-mode deactivate")]
    Deactivate,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Also list the remaining executions.
    #[arg(short, long)]
    pub verbose: bool,
    /// Print the server's JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ActivateArgs {
    /// Wait until maintenance mode is activated, showing the executions that remain.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds (0: wait forever). The manager
    /// stays activating.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

pub fn run(conn: &ConnArgs, cmd: Cmd) -> CliResult {
    match cmd {
        Cmd::Status(args) => status(conn, args),
        Cmd::Activate(args) => activate(conn, args),
        Cmd::Deactivate => deactivate(conn),
    }
}

fn status(conn: &ConnArgs, args: StatusArgs) -> CliResult {
    let client = Client::connect(conn)?;
    let state = client.get(&format!("{API}/maintenance"))?;
    if args.json {
        print_json(&state);
    } else {
        print_state(&state, args.verbose);
    }
    Ok(())
}

fn remaining(state: &Value) -> Vec<Value> {
    state.get("remaining_executions").and_then(Value::as_array).cloned().unwrap_or_default()
}

/// The original's `maintenance-mode status` output: every non-empty field in the
/// server's order, the remaining-executions sentence (and table with `-v`), and the
/// INFO line once activated.
pub fn print_state(state: &Value, verbose: bool) {
    println!("\nMaintenance Mode Status:");
    if let Some(obj) = state.as_object() {
        for (k, v) in obj {
            if k != "remaining_executions" && truthy(v) {
                println!("\t{}:\t{}", title_case(k), super::output::text(v));
            }
        }
    }
    println!();
    let rem = remaining(state);
    if !rem.is_empty() {
        println!("{}", waiting_sentence(rem.len()));
        if verbose {
            let cols = ["id", "deployment_id", "workflow_id", "status"];
            let mut t = Table::new(&cols);
            for r in &rem {
                t.row_from(r, &cols);
            }
            t.print_titled("Remaining executions:");
        }
    }
    if field(state, "status") == "activated" {
        println!("INFO - drydock is currently in maintenance mode. Most requests will be blocked.\n");
    }
}

fn waiting_sentence(n: usize) -> String {
    if n == 1 {
        "drydock currently has one running or pending execution. Waiting for it to finish before entering maintenance mode.".into()
    } else {
        format!(
            "drydock currently has {n} running or pending executions. Waiting for all executions to finish before entering maintenance mode."
        )
    }
}

fn print_activated() {
    println!("drydock is in maintenance mode.");
    println!("While in maintenance mode most requests will be blocked.");
}

fn activate(conn: &ConnArgs, args: ActivateArgs) -> CliResult {
    if args.timeout.is_some() && !args.wait {
        return Err(CliError::usage("'--timeout' was used without '--wait'.")
            .hint("Add the '--wait' flag to the command in order to wait."));
    }
    let client = Client::connect(conn)?;
    println!("Entering maintenance mode...");
    let reply = client.send("POST", &format!("{API}/maintenance/activate"), None)?;
    if reply.status == 304 {
        return Err(CliError::failed("Maintenance mode is already on."));
    }
    if !(200..300).contains(&reply.status) {
        return Err(client.api_error(&reply));
    }
    let state = reply.body;
    if field(&state, "status") == "activated" {
        print_activated();
        return Ok(());
    }
    if !args.wait {
        println!("{}", waiting_sentence(remaining(&state).len().max(1)));
        println!("Run 'drydock maintenance-mode status -v' to see which executions remain.");
        return Ok(());
    }
    println!("drydock will enter maintenance mode once there are no running or pending executions...");
    wait_for_activation(&client, &state, args.timeout.unwrap_or(0))
}

/// One remaining execution as the progress lines name it: `ID (sleep on dep1)`.
fn describe(r: &Value) -> String {
    let wf = field(r, "workflow_id");
    match field(r, "deployment_id") {
        d if d.is_empty() => format!("{} ({wf})", field(r, "id")),
        d => format!("{} ({wf} on {d})", field(r, "id")),
    }
}

fn list(rem: &[Value]) -> String {
    rem.iter().map(describe).collect::<Vec<_>>().join(", ")
}

/// Poll until activated, printing a line whenever the set of remaining executions
/// changes. A timeout or Ctrl-C ends the wait (exit 1 / 130); the manager stays
/// activating either way.
fn wait_for_activation(client: &Client, first: &Value, timeout_secs: u64) -> CliResult {
    let deadline = (timeout_secs > 0).then(|| Instant::now() + Duration::from_secs(timeout_secs));
    let interrupted = watch_ctrl_c();
    let mut rem = remaining(first);
    println!("Waiting for {}: {}", plural(rem.len(), "execution", "executions"), list(&rem));
    loop {
        let next = Instant::now() + POLL;
        while Instant::now() < next {
            if interrupted.load(Ordering::SeqCst) {
                return Err(CliError::failed(
                    "Interrupted: stopped waiting. Note that the manager is still entering maintenance mode in the background. You can run 'drydock maintenance-mode status' to check the status.",
                )
                .hint("Run 'drydock maintenance-mode deactivate' to cancel the activation")
                .with_code(130));
            }
            std::thread::sleep(Duration::from_millis(20).min(next.saturating_duration_since(Instant::now())));
        }
        let state = client.get(&format!("{API}/maintenance"))?;
        let now = match field(&state, "status").as_str() {
            "activated" => Vec::new(),
            "activating" => remaining(&state),
            _ => {
                return Err(CliError::failed(
                    "Maintenance mode was turned off while waiting (someone ran 'drydock maintenance-mode deactivate').",
                ));
            }
        };
        let ids = |v: &[Value]| v.iter().map(|r| field(r, "id")).collect::<Vec<_>>();
        let (before, after) = (ids(&rem), ids(&now));
        for r in rem.iter().filter(|r| !after.contains(&field(r, "id"))) {
            println!("Execution {} has ended.", describe(r));
        }
        if after.iter().any(|id| !before.contains(id)) {
            println!("Waiting for {}: {}", plural(now.len(), "execution", "executions"), list(&now));
        } else if after.len() < before.len() && !now.is_empty() {
            println!("{} remaining: {}", plural(now.len(), "execution", "executions"), list(&now));
        }
        rem = now;
        if field(&state, "status") == "activated" {
            print_activated();
            return Ok(());
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(CliError::failed(
                "Timed out while entering maintenance mode. Note that the manager is still entering maintenance mode in the background. You can run 'drydock maintenance-mode status' to check the status.",
            ));
        }
    }
}

/// From now on, Ctrl-C (SIGINT) sets the returned flag instead of killing the process.
fn watch_ctrl_c() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_io().build() else {
        return flag;
    };
    // Register synchronously, so a Ctrl-C right after this returns is already caught.
    #[cfg(unix)]
    let signal = {
        let _guard = rt.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
    };
    #[cfg(unix)]
    if let Ok(mut signal) = signal {
        let f = flag.clone();
        std::thread::spawn(move || {
            rt.block_on(async move {
                if signal.recv().await.is_some() {
                    f.store(true, Ordering::SeqCst);
                }
            })
        });
    }
    #[cfg(not(unix))]
    {
        let f = flag.clone();
        std::thread::spawn(move || {
            rt.block_on(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    f.store(true, Ordering::SeqCst);
                }
            })
        });
    }
    flag
}

fn deactivate(conn: &ConnArgs) -> CliResult {
    let client = Client::connect(conn)?;
    println!("Turning off maintenance mode...");
    let reply = client.send("POST", &format!("{API}/maintenance/deactivate"), None)?;
    if reply.status == 304 {
        return Err(CliError::failed("Maintenance mode is already off."));
    }
    if !(200..300).contains(&reply.status) {
        return Err(client.api_error(&reply));
    }
    println!("Maintenance mode is off.");
    Ok(())
}
