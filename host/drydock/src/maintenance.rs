//! `drydock maintenance-mode status|activate|deactivate`: the seed's commands, with the
//! original CLI's output (drydock's name where the original says Cloudify Manager);
//! and drydock's planning: a reason, an expected end and a deadline on `activate`,
//! scheduled windows, the history.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::Value;

use super::client::{API, CliError, CliResult, Client, ConnArgs};
use super::output::{Table, field, plural, print_json, title_case, truthy};

/// How often `activate --wait` asks the server when it cannot follow its event
/// stream (an older server): 4 requests/s.
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
  drydock maintenance-mode activate --wait --timeout 600
  drydock maintenance-mode activate --reason \"storage upgrade\" --until 45m
  drydock maintenance-mode activate --deadline 10m --on-deadline cancel";
const SCHEDULE_HELP: &str = "\
At --at drydock enters maintenance mode by itself (through activating, as a person
would); at --until it leaves it by itself. TIME is an RFC 3339 time
(2026-12-24T18:00:00Z) or a duration from now (90s, 45m, 2h, 1h30m, 1d).

Examples:
  drydock maintenance-mode schedule --at 2026-12-24T18:00:00Z --until 2h --reason \"storage upgrade\"
  drydock maintenance-mode schedule list
  drydock maintenance-mode schedule cancel 5f0c2a9e1b7d";

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
    /// Plan a maintenance window ahead; list or cancel windows.
    #[command(after_help = SCHEDULE_HELP, args_conflicts_with_subcommands = true)]
    Schedule(ScheduleArgs),
    /// Follow maintenance mode live: every transition and every change of what it
    /// waits for, as it happens (until Ctrl-C).
    #[command(after_help = "Examples:\n  drydock maintenance-mode watch\n  drydock maintenance-mode watch --json")]
    Watch(WatchArgs),
    /// Every transition: who, when, from and to, and why; newest first.
    #[command(after_help = "Examples:\n  drydock maintenance-mode history\n  drydock maintenance-mode history --size 50 --json")]
    History(HistoryArgs),
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub cmd: Option<ScheduleCmd>,
    /// When the window starts.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// When it ends (maintenance mode is turned off by itself).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Why, shown to every client refused meanwhile.
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCmd {
    /// The windows: scheduled, under way and past.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Cancel a window that has not started.
    Cancel { id: String },
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// One JSON object a line: `{"event": ..., "state": ...}`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// How many transitions.
    #[arg(long, default_value_t = 20)]
    pub size: u32,
    /// Skip this many (newest first).
    #[arg(long, default_value_t = 0)]
    pub offset: u32,
    /// Print the server's JSON.
    #[arg(long)]
    pub json: bool,
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
    /// Why: shown in `status` and in every refused client's error.
    #[arg(long)]
    pub reason: Option<String>,
    /// The expected end (TIME: RFC 3339 or a duration such as 45m): refused clients
    /// are told to retry then (Retry-After).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// How long activating may wait for running executions (a duration or a time).
    #[arg(long, value_name = "TIME")]
    pub deadline: Option<String>,
    /// What happens at the deadline with executions still unfinished.
    #[arg(long, value_name = "ACTION", requires = "deadline", value_parser = ["wait", "cancel", "force-cancel", "revert"])]
    pub on_deadline: Option<String>,
}

pub fn run(conn: &ConnArgs, cmd: Cmd) -> CliResult {
    match cmd {
        Cmd::Status(args) => status(conn, args),
        Cmd::Activate(args) => activate(conn, args),
        Cmd::Deactivate => deactivate(conn),
        Cmd::Schedule(args) => schedule(conn, args),
        Cmd::History(args) => history(conn, args),
        Cmd::Watch(args) => watch(conn, args),
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

/// How many executions remain: an event lists only the oldest of them and says how
/// many there are (`remaining_count`); `GET /maintenance` lists them all.
fn count(state: &Value) -> usize {
    state.get("remaining_count").and_then(Value::as_u64).map_or_else(|| remaining(state).len(), |n| n as usize)
}

/// The original's `maintenance-mode status` output: every non-empty field in the
/// server's order, the remaining-executions sentence (and table with `-v`), and the
/// INFO line once activated.
pub fn print_state(state: &Value, verbose: bool) {
    println!("\nMaintenance Mode Status:");
    if let Some(obj) = state.as_object() {
        for (k, v) in obj {
            if k != "remaining_executions" && k != "next_window" && truthy(v) {
                println!("\t{}:\t{}", title_case(k), super::output::text(v));
            }
        }
    }
    if let Some(w) = state.get("next_window").filter(|w| truthy(w)) {
        println!("\t{}", describe_window(w));
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
    let mut plan = serde_json::Map::new();
    for (key, value) in [("reason", &args.reason), ("until", &args.until), ("deadline", &args.deadline), ("on_deadline", &args.on_deadline)] {
        if let Some(v) = value {
            plan.insert(key.to_string(), Value::String(v.clone()));
        }
    }
    // Without a plan, the request the original CLI sends: no body.
    let body = (!plan.is_empty()).then(|| Value::Object(plan));
    let reply = client.send("POST", &format!("{API}/maintenance/activate"), body.as_ref())?;
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

/// The executions named on a progress line: the oldest few, and how many more.
fn list(rem: &[Value], count: usize) -> String {
    const NAMED: usize = 5;
    let mut out = rem.iter().take(NAMED).map(describe).collect::<Vec<_>>().join(", ");
    let named = rem.len().min(NAMED);
    if count > named {
        out.push_str(&format!(" and {} more", count - named));
    }
    out
}

/// Where the waiting CLI learns of changes: the server's event stream, or (a server
/// without one, or a stream that ended) asking every [`POLL`].
enum Source {
    Events(std::sync::mpsc::Receiver<(String, Value)>),
    Poll(Instant),
}

impl Source {
    fn open(client: &Client) -> Source {
        match client.events(&format!("{API}/maintenance/events")) {
            Ok(rx) => Source::Events(rx),
            Err(_) => Source::Poll(Instant::now() + POLL),
        }
    }

    /// The next state, or `None` if nothing arrived within a short tick (so the
    /// caller can look at Ctrl-C and its deadline).
    fn next(&mut self, client: &Client) -> CliResult<Option<Value>> {
        const TICK: Duration = Duration::from_millis(20);
        match self {
            Source::Events(rx) => match rx.recv_timeout(TICK) {
                Ok((_, state)) => Ok(Some(state)),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Ok(None),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    *self = Source::Poll(Instant::now());
                    Ok(None)
                }
            },
            Source::Poll(next) => {
                if Instant::now() < *next {
                    std::thread::sleep(TICK.min(next.saturating_duration_since(Instant::now())));
                    return Ok(None);
                }
                *next = Instant::now() + POLL;
                client.get(&format!("{API}/maintenance")).map(Some)
            }
        }
    }
}

/// Wait until activated, printing a line whenever the set of remaining executions
/// changes; the server's event stream says so the moment it happens. A timeout or
/// Ctrl-C ends the wait (exit 1 / 130); the manager stays activating either way.
fn wait_for_activation(client: &Client, first: &Value, timeout_secs: u64) -> CliResult {
    let deadline = (timeout_secs > 0).then(|| Instant::now() + Duration::from_secs(timeout_secs));
    let interrupted = watch_ctrl_c();
    let mut rem = remaining(first);
    let mut n = count(first);
    println!("Waiting for {}: {}", plural(n, "execution", "executions"), list(&rem, n));
    let mut source = Source::open(client);
    loop {
        if interrupted.load(Ordering::SeqCst) {
            return Err(CliError::failed(
                "Interrupted: stopped waiting. Note that the manager is still entering maintenance mode in the background. You can run 'drydock maintenance-mode status' to check the status.",
            )
            .hint("Run 'drydock maintenance-mode deactivate' to cancel the activation")
            .with_code(130));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(CliError::failed(
                "Timed out while entering maintenance mode. Note that the manager is still entering maintenance mode in the background. You can run 'drydock maintenance-mode status' to check the status.",
            ));
        }
        let Some(state) = source.next(client)? else { continue };
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
        let m = if now.is_empty() { 0 } else { count(&state) };
        // The list is the oldest: one that leaves it has ended.
        for r in rem.iter().filter(|r| !after.contains(&field(r, "id"))) {
            println!("Execution {} has ended.", describe(r));
        }
        let new = if m > now.len() { m > n } else { after.iter().any(|id| !before.contains(id)) };
        if new {
            println!("Waiting for {}: {}", plural(m, "execution", "executions"), list(&now, m));
        } else if m < n && m > 0 {
            println!("{} remaining: {}", plural(m, "execution", "executions"), list(&now, m));
        }
        rem = now;
        n = m;
        if field(&state, "status") == "activated" {
            print_activated();
            return Ok(());
        }
    }
}

/// `drydock maintenance-mode watch`: follow the event stream until Ctrl-C. The
/// server ends a stream after its lifetime (`serve --event-stream-lifetime`) or when
/// it stops: watch follows again, showing only what changed meanwhile, and gives up
/// when the server cannot be reached for [`RECONNECT`].
fn watch(conn: &ConnArgs, args: WatchArgs) -> CliResult {
    const RECONNECT: Duration = Duration::from_secs(10);
    let client = Client::connect(conn)?;
    let mut rx = client.events(&format!("{API}/maintenance/events"))?;
    if !args.json {
        println!("Watching maintenance mode on {} (Ctrl-C to stop)...", client.base());
    }
    let mut last: Option<Value> = None;
    loop {
        for (mut event, state) in rx {
            if event == "state" && let Some(before) = &last {
                // A stream followed again: its first event is the state now.
                if *before == state {
                    continue;
                }
                event = if field(before, "status") != field(&state, "status") { "transition" } else { "remaining" }.into();
            }
            show(&event, &state, args.json);
            last = Some(state);
        }
        let since = Instant::now();
        rx = loop {
            match client.events(&format!("{API}/maintenance/events")) {
                Ok(rx) => break rx,
                Err(mut e) if since.elapsed() >= RECONNECT => {
                    e.message = format!("The server ended the event stream and cannot be followed again: {}", e.message);
                    return Err(e);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        };
    }
}

/// One event of `watch`.
fn show(event: &str, state: &Value, json: bool) {
    if json {
        println!("{}", serde_json::json!({ "event": event, "state": state }));
        return;
    }
    let mut line = format!("{}  {event:<10}  {}", crate::output::now_utc(), field(state, "status"));
    let rem = remaining(state);
    if !rem.is_empty() {
        let n = count(state);
        line.push_str(&format!(", waiting for {}: {}", plural(n, "execution", "executions"), list(&rem, n)));
    }
    if let Some(reason) = state.get("reason").and_then(Value::as_str) {
        line.push_str(&format!(" ({reason})"));
    }
    println!("{line}");
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

/// `Next window: 2026-12-24T18:00:00.000Z – 2026-12-24T20:00:00.000Z (storage upgrade), scheduled by admin`
fn describe_window(w: &Value) -> String {
    let end = match field(w, "end_at") {
        e if e.is_empty() => "no set end".to_string(),
        e => e,
    };
    let reason = match field(w, "reason") {
        r if r.is_empty() => String::new(),
        r => format!(" ({r})"),
    };
    let label = if field(w, "status") == "started" { "Window under way" } else { "Next window" };
    format!("{label}:\t{} – {end}{reason}, scheduled by {} [{}]", field(w, "start_at"), field(w, "created_by"), field(w, "id"))
}

fn schedule(conn: &ConnArgs, args: ScheduleArgs) -> CliResult {
    let client = Client::connect(conn)?;
    match args.cmd {
        Some(ScheduleCmd::List { json }) => {
            let list = client.get(&format!("{API}/maintenance/windows"))?;
            if json {
                print_json(&list);
                return Ok(());
            }
            let items = list.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
            if items.is_empty() {
                println!("No maintenance windows are scheduled.");
                return Ok(());
            }
            let cols = ["id", "start_at", "end_at", "status", "reason", "created_by"];
            let mut t = Table::new(&cols);
            for w in &items {
                t.row_from(w, &cols);
            }
            t.print_titled("Maintenance windows:");
            Ok(())
        }
        Some(ScheduleCmd::Cancel { id }) => {
            client.call("DELETE", &format!("{API}/maintenance/windows/{id}"), None)?;
            println!("Maintenance window {id} is cancelled.");
            Ok(())
        }
        None => {
            let Some(at) = args.at else {
                return Err(CliError::usage("'schedule' needs --at TIME (or 'schedule list', 'schedule cancel ID').")
                    .hint("For example: drydock maintenance-mode schedule --at 2h --until 3h --reason \"storage upgrade\""));
            };
            let mut body = serde_json::json!({ "at": at });
            if let Some(until) = args.until {
                body["until"] = Value::String(until);
            }
            if let Some(reason) = args.reason {
                body["reason"] = Value::String(reason);
            }
            let w = client.call("POST", &format!("{API}/maintenance/windows"), Some(&body))?;
            println!("Maintenance window {} is scheduled.", field(&w, "id"));
            println!("{}", describe_window(&w).replacen(":\t", ": ", 1));
            Ok(())
        }
    }
}

fn history(conn: &ConnArgs, args: HistoryArgs) -> CliResult {
    let client = Client::connect(conn)?;
    let list = client.get(&format!("{API}/maintenance/history?_size={}&_offset={}", args.size, args.offset))?;
    if args.json {
        print_json(&list);
        return Ok(());
    }
    let items = list.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
    let total = list.pointer("/metadata/pagination/total").and_then(Value::as_u64).unwrap_or(0);
    if items.is_empty() {
        println!("No maintenance transitions yet.");
        return Ok(());
    }
    let cols = ["at", "by", "from", "to", "reason", "detail"];
    let mut t = Table::new(&cols);
    for item in &items {
        t.row_from(item, &cols);
    }
    t.print_titled(&format!("Maintenance history (newest first; {} of {total}):", items.len()));
    Ok(())
}
