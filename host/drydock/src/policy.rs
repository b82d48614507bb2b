//! `drydock policy ...`: the policy versions of a running server (push, list, show,
//! activate, rollback, shadow, delete, history), and the offline commands that
//! need no server (test, eval, inspect, bench; see `offline`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::args::JsonArg;
use super::client::{API, CliError, CliResult, Client, ConnArgs, seg};
use super::output::{Align, Table, field, print_json, print_record, text};
use super::offline;

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Upload a policy component; it is validated completely before it is stored.
    #[command(after_help = "\
Examples:
  drydock policy push target/my_policy.wasm
  drydock policy push target/my_policy.wasm --shadow     # compare it with the active one first
  drydock policy push target/my_policy.wasm --activate   # make it decide from now on")]
    Push(PushArgs),
    /// List the policy versions (the builtin first).
    List(JsonArg),
    /// Show one version (an id, a sha256 prefix, or `active`).
    #[command(after_help = "Examples:\n  drydock policy show active\n  drydock policy show d1c1d07b78d7")]
    Show(ShowArgs),
    /// Make a version decide every request from now on (an atomic swap).
    #[command(after_help = "Examples:\n  drydock policy activate d1c1d07b78d7\n  drydock policy activate builtin")]
    Activate(IdArg),
    /// Go back to the previously active version (again: forth).
    Rollback,
    /// Evaluate a candidate beside the active policy on live requests, or stop, or report.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "\
Examples:
  drydock policy shadow d1c1d07b78d7     # start (counts start at zero)
  drydock policy shadow report           # agreements, disagreements, the latest ones
  drydock policy shadow stop"
    )]
    Shadow(ShadowArgs),
    /// Delete a version that is neither active nor shadowed.
    Delete(IdArg),
    /// Add signatures to a stored version (a second signer, or a new key after a rotation).
    #[command(after_help = "Example:\n  drydock policy sign my.wasm --key ~/.drydock/carol && drydock policy add-signature d1c1d07b78d7 my.wasm.sig")]
    AddSignature(AddSignatureArgs),
    /// What was changed, by whom, when (newest first).
    History(HistoryArgs),
    /// What a version would have answered to the logged decisions of a range, beside
    /// what was answered: allow→deny, deny→allow, other changes, by route.
    #[command(after_help = "\
Examples:
  drydock policy replay d1c1d07b78d7 --since 7d          # a stored version, on the server
  drydock policy replay my.wasm --since 24h              # a file, against the server's log
  drydock policy replay my.wasm --log week.ndjson        # offline, from `decisions export`
  drydock policy replay d1c1d07b78d7 --fail-on-change    # for CI: exit 1 on any change")]
    Replay(ReplayArgs),
    #[command(flatten)]
    Offline(offline::Offline),
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The component (.wasm).
    pub file: PathBuf,
    /// Activate it once stored.
    #[arg(long, conflicts_with = "shadow")]
    pub activate: bool,
    /// Shadow it once stored.
    #[arg(long)]
    pub shadow: bool,
    /// Its memory budget in MiB (default: what it holds at start and a quarter
    /// more, or the server's default when that is more; at most the server's maximum).
    #[arg(long, value_name = "MIB")]
    pub memory_mib: Option<u32>,
    /// Its deadline per decision in ms (default: the server's).
    #[arg(long, value_name = "MS")]
    pub deadline_ms: Option<u32>,
    /// Signatures to send with it (`drydock policy sign` writes FILE.sig; without
    /// this option FILE.sig is sent when it exists).
    #[arg(long, value_name = "SIG")]
    pub signature: Vec<PathBuf>,
    /// Print the server's JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AddSignatureArgs {
    /// A version id or a sha256 prefix.
    pub id: String,
    /// Signature files (as `drydock policy sign` writes them).
    #[arg(required = true)]
    pub signature: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A version id, a sha256 prefix (8+ hex digits), `builtin`, or `active`.
    pub id: String,
    /// Print the server's JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// A version id, a sha256 prefix (8+ hex digits), or `builtin`.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct ShadowArgs {
    #[command(subcommand)]
    pub action: Option<ShadowAction>,
    /// The candidate to shadow.
    pub id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ShadowAction {
    /// Stop shadowing; prints the final report.
    Stop,
    /// Agreements, disagreements, and the most recent disagreements.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// How many of the most recent disagreements to show.
    #[arg(short = 'n', long, default_value_t = 10)]
    pub last: usize,
    /// Print the server's JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A stored version's id, `builtin`, or a `.wasm` file (or builtin:default).
    pub candidate: String,
    /// From this time, or this long ago (7d, 24h).
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Until this time, or this long ago.
    #[arg(long)]
    pub until: Option<String>,
    /// Compare with this version's answers instead of the answers as decided (a
    /// stored id; with --log or a file candidate, a `.wasm` file or builtin:default).
    #[arg(long)]
    pub against: Option<String>,
    /// Offline: replay the decisions of this file (`drydock decisions export`), no server.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when anything would change (for CI).
    #[arg(long)]
    pub fail_on_change: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// How many entries.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub last: u32,
    /// Print the server's JSON.
    #[arg(long)]
    pub json: bool,
}

const P: &str = "/policies";

/// Exit code: 0 ok, 1 failed, 2 usage (the offline commands decide their own).
pub fn run(conn: &ConnArgs, args: PolicyArgs) -> i32 {
    let online = match args.command {
        PolicyCommand::Offline(cmd) => {
            return match offline::run(cmd) {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("Error: {e:#}");
                    1
                }
            };
        }
        online => online,
    };
    if let PolicyCommand::Replay(args) = online {
        return match replay(conn, args) {
            Ok(code) => code,
            Err(e) => e.report(),
        };
    }
    match run_online(conn, online) {
        Ok(()) => 0,
        Err(e) => e.report(),
    }
}

/// `policy replay`: on the server for a stored version, here for a file (against
/// the server's log, or offline against `--log`).
fn replay(conn: &ConnArgs, a: ReplayArgs) -> CliResult<i32> {
    use drydock_server::decisions::replay::{Replay, ReplayReport};
    let is_file = |s: &str| s.starts_with("builtin:") || std::path::Path::new(s).is_file();
    let local = |spec: &str| offline::load(spec).map_err(|e| CliError::usage(format!("{e:#}")));
    let report: ReplayReport = if a.log.is_some() || is_file(&a.candidate) {
        let records = match &a.log {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .enumerate()
                    .map(|(i, l)| serde_json::from_str(l).map_err(|e| CliError::usage(format!("{} line {}: not a decision: {e}", path.display(), i + 1))))
                    .collect::<CliResult<Vec<_>>>()?
            }
            None => {
                let client = Client::connect(conn)?;
                let filter = super::decisions::Filter { since: Some(a.since.clone()), until: a.until.clone(), verdict: None, origin: None, user: None, path: None };
                super::decisions::fetch(&client, &filter)?
            }
        };
        let candidate = local(&a.candidate)?;
        let against = a.against.as_deref().map(local).transpose()?;
        let mut replay = Replay::new(&candidate, against.as_ref());
        records.iter().for_each(|r| replay.add(r));
        replay.finish(false)
    } else {
        let client = Client::connect(conn)?;
        let body = serde_json::json!({"since": a.since, "until": a.until, "against": a.against});
        let v = client.call("POST", &format!("{API}{P}/{}/replay", seg(&a.candidate)), Some(&body))?;
        serde_json::from_value(v).map_err(|e| CliError::failed(format!("the server sent a report this drydock cannot read: {e}")))?
    };
    if a.json {
        print_json(&serde_json::to_value(&report).expect("a report serializes"));
    } else {
        print_replay(&report);
    }
    Ok(if a.fail_on_change && report.changes() > 0 { 1 } else { 0 })
}

fn print_replay(r: &drydock_server::decisions::replay::ReplayReport) {
    let answer = |a: &drydock_server::decisions::Answer| match a.status {
        None => "allow".to_string(),
        Some(s) => format!(
            "{s} {}{}",
            a.error_code.as_deref().unwrap_or(""),
            a.retry_after.map(|r| format!(" (Retry-After {r})")).unwrap_or_default()
        ),
    };
    println!("Replayed {} decisions: {} against {}", r.total, r.candidate, r.against);
    println!("\tagreements:\t{}", r.agreements);
    println!("\tallow -> deny:\t{}", r.allow_to_deny);
    println!("\tdeny -> allow:\t{}", r.deny_to_allow);
    println!("\tother changes:\t{}", r.other_changes);
    println!("\tfaults:\t{}", r.faults);
    if r.skipped_floor > 0 {
        println!("\tnot replayed:\t{} admin-floor passes (no policy was asked)", r.skipped_floor);
    }
    if r.skipped_shadow > 0 {
        println!("\tnot replayed:\t{} shadow candidates' answers (never served)", r.skipped_shadow);
    }
    if r.truncated {
        println!("Only the oldest of the range were replayed (the limit of one replay); narrow --since/--until.");
    }
    if !r.routes.is_empty() {
        println!("\nChanged, by route:");
        for route in &r.routes {
            println!("  {} {}: {}", route.method, route.route, route.changes);
            for s in &route.samples {
                println!("    {} {}: {} -> {}", s.id, s.path, answer(&s.was), answer(&s.now));
            }
        }
    }
}

fn run_online(conn: &ConnArgs, cmd: PolicyCommand) -> CliResult {
    let client = Client::connect(conn)?;
    match cmd {
        PolicyCommand::Push(args) => push(&client, args),
        PolicyCommand::List(args) => {
            let resp = client.get(&format!("{API}{P}"))?;
            if args.json {
                print_json(&resp);
                return Ok(());
            }
            let items = resp.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
            let mut t = Table::new(&["id", "label", "size", "memory", "uploaded_by", "uploaded_at", "signed_by", "state"]).align(1, Align::Left);
            for v in &items {
                t.row(vec![
                    field(v, "id"),
                    field(v, "label"),
                    field(v, "size"),
                    v["memory_mib"].as_u64().map_or_else(|| "default".to_string(), |m| format!("{m} MiB")),
                    field(v, "uploaded_by"),
                    field(v, "uploaded_at"),
                    signers(v),
                    state(v),
                ]);
            }
            t.print_titled("Policy versions:");
            Ok(())
        }
        PolicyCommand::Show(args) => {
            let path = if args.id == "active" { format!("{API}{P}/active") } else { format!("{API}{P}/{}", seg(&args.id)) };
            let v = client.get(&path)?;
            if args.json {
                print_json(&v);
                return Ok(());
            }
            let mut shown = v.clone();
            shown["state"] = Value::String(state(&v));
            shown["signed_by"] = Value::String(signers(&v));
            let mut keys = vec!["id", "name", "version", "sha256", "size", "memory_mib", "deadline_ms", "uploaded_by", "uploaded_at", "signed_by", "state"];
            if v.get("active_since").is_some() {
                keys.extend(["active_since", "activated_by"]);
                shown["previous_version"] = Value::String(short(&v["previous_version"]));
                keys.push("previous_version");
            }
            print_record(&format!("Policy {}:", field(&v, "label")), &shown, &keys);
            Ok(())
        }
        PolicyCommand::Activate(args) => {
            let swap = client.call("POST", &format!("{API}{P}/{}/activate", seg(&args.id)), None)?;
            print_swap(&swap, "activated");
            Ok(())
        }
        PolicyCommand::Rollback => {
            let swap = client.call("POST", &format!("{API}{P}/rollback"), None)?;
            print_swap(&swap, "rolled back to");
            Ok(())
        }
        PolicyCommand::Shadow(ShadowArgs { action: Some(ShadowAction::Stop), .. }) => {
            let report = client.call("DELETE", &format!("{API}{P}/shadow"), None)?;
            println!("Shadow evaluation stopped. Final figures:");
            print_report(&report, 10);
            Ok(())
        }
        PolicyCommand::Shadow(ShadowArgs { action: Some(ShadowAction::Report(args)), .. }) => {
            let report = client.get(&format!("{API}{P}/shadow?_size={}", args.last))?;
            if args.json {
                print_json(&report);
            } else {
                print_report(&report, args.last);
            }
            Ok(())
        }
        PolicyCommand::Shadow(ShadowArgs { action: None, id: Some(id) }) => {
            let report = client.call("POST", &format!("{API}{P}/{}/shadow", seg(&id)), None)?;
            println!(
                "Shadowing {} ({}): every request is now also decided by it, off the response path.",
                field(&report["candidate"], "label"),
                field(&report["candidate"], "id")
            );
            println!("See where it disagrees with 'drydock policy shadow report'; stop with 'drydock policy shadow stop'.");
            Ok(())
        }
        PolicyCommand::Shadow(ShadowArgs { action: None, id: None }) => Err(CliError::usage(
            "say which version to shadow ('drydock policy shadow ID'), or 'shadow report' / 'shadow stop'",
        )),
        PolicyCommand::AddSignature(args) => {
            let lines = signature_lines(&args.signature)?;
            let v = client.call("POST", &format!("{API}{P}/{}/signatures", seg(&args.id)), Some(&serde_json::json!({"signatures": lines})))?;
            println!("Policy version {} ({}) is signed by: {}.", field(&v, "id"), field(&v, "label"), signers(&v));
            Ok(())
        }
        PolicyCommand::Delete(args) => {
            let v = client.call("DELETE", &format!("{API}{P}/{}", seg(&args.id)), None)?;
            println!("Policy version {} ({}) deleted.", field(&v, "id"), field(&v, "label"));
            Ok(())
        }
        PolicyCommand::History(args) => {
            let resp = client.get(&format!("{API}{P}/history?_size={}", args.last))?;
            if args.json {
                print_json(&resp);
                return Ok(());
            }
            let items = resp.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
            let cols = ["at", "username", "action", "policy_id", "detail"];
            let mut t = Table::new(&cols).align(4, Align::Left);
            for e in &items {
                t.row_from(e, &cols);
            }
            t.print_titled("Policy history (newest first):");
            Ok(())
        }
        PolicyCommand::Offline(_) | PolicyCommand::Replay(_) => unreachable!("handled in run"),
    }
}

/// The signature lines of these files.
fn signature_lines(files: &[PathBuf]) -> CliResult<Vec<String>> {
    let mut lines = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| CliError::usage(format!("cannot read {}: {e}", f.display())))?;
        let sigs = drydock_server::trust::Signature::parse_all(&text).map_err(|e| CliError::usage(format!("{}: {e}", f.display())))?;
        lines.extend(sigs.iter().map(|s| s.line()));
    }
    Ok(lines)
}

fn push(client: &Client, args: PushArgs) -> CliResult {
    let bytes = std::fs::read(&args.file)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", args.file.display())))?;
    let mut sig_files = args.signature.clone();
    let beside = drydock_server::trust::Signature::file_beside(&args.file);
    if sig_files.is_empty() && beside.is_file() {
        eprintln!("Sending the signatures in {}", beside.display());
        sig_files.push(beside);
    }
    let headers: Vec<(&str, String)> = signature_lines(&sig_files)?.into_iter().map(|l| ("X-Drydock-Signature", l)).collect();
    let mut query = Vec::new();
    if let Some(m) = args.memory_mib {
        query.push(format!("memory_mib={m}"));
    }
    if let Some(d) = args.deadline_ms {
        query.push(format!("deadline_ms={d}"));
    }
    let path = if query.is_empty() { format!("{API}{P}") } else { format!("{API}{P}?{}", query.join("&")) };
    if bytes.len() > 4 << 20 {
        // A large component (Python, JavaScript) compiles for a while on first upload.
        eprintln!("Uploading {} ({:.1} MiB); the server checks and compiles it first (20-35 s for a Python or JavaScript component)...", args.file.display(), bytes.len() as f64 / (1 << 20) as f64);
    }
    let reply = client.send_raw_with("POST", &path, Some("application/wasm"), bytes, &headers)?;
    if !(200..300).contains(&reply.status) {
        let err = client.api_error(&reply);
        return Err(if reply.status == 400 {
            err.hint("Check the component with 'drydock policy inspect FILE' and its rules with 'drydock policy test FILE CASES...'")
        } else {
            err
        });
    }
    let v = reply.body;
    if args.json && !args.activate && !args.shadow {
        print_json(&v);
        return Ok(());
    }
    let what = if reply.status == 201 { "Uploaded" } else { "Already stored:" };
    println!("{what} policy version {} ({}).", field(&v, "id"), field(&v, "label"));
    let id = field(&v, "id");
    if args.activate {
        let swap = client.call("POST", &format!("{API}{P}/{}/activate", seg(&id)), None)?;
        if args.json {
            print_json(&swap);
        } else {
            print_swap(&swap, "activated");
        }
    } else if args.shadow {
        let report = client.call("POST", &format!("{API}{P}/{}/shadow", seg(&id)), None)?;
        if args.json {
            print_json(&report);
        } else {
            println!("Shadowing it now; see 'drydock policy shadow report'.");
        }
    } else {
        println!("Activate it with 'drydock policy activate {id}', or compare it first with 'drydock policy shadow {id}'.");
    }
    Ok(())
}

/// `active`, `previous`, `shadow` (comma-separated), or empty.
fn state(v: &Value) -> String {
    ["active", "previous", "shadow"]
        .into_iter()
        .filter(|k| v.get(*k).and_then(Value::as_bool) == Some(true))
        .collect::<Vec<_>>()
        .join(",")
}

/// `label (id)` of a version object, or empty.
fn short(v: &Value) -> String {
    if v.is_null() { String::new() } else { format!("{} ({})", field(v, "label"), field(v, "id")) }
}

fn print_swap(swap: &Value, verb: &str) {
    let active = &swap["active"];
    if swap["swapped"] == Value::Bool(false) {
        println!("Policy {} is already active; nothing changed.", short(active));
        return;
    }
    println!("Policy {verb} {}: it decides every request from now on.", short(active));
    if !swap["previous"].is_null() {
        println!("Previously active: {} ('drydock policy rollback' returns to it).", short(&swap["previous"]));
    }
}

/// `allow`, `deny 503 maintenance_mode_active (retry 60 s)`, `fault: ...`.
fn decision_text(d: &Value) -> String {
    match d["verdict"].as_str() {
        Some("deny") => {
            let mut s = format!("deny {} {}", field(d, "status"), field(d, "error_code"));
            if let Some(r) = d["retry_after"].as_u64() {
                s.push_str(&format!(" (retry {r} s)"));
            }
            s
        }
        Some("fault") => format!("fault: {}", field(d, "fault")),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn print_report(r: &Value, last: usize) {
    if r["candidate"].is_null() {
        println!("No shadow evaluation has run since the server started. Start one with 'drydock policy shadow ID'.");
        return;
    }
    let since = format!("since {} (by {})", field(r, "started_at"), field(r, "started_by"));
    let status = if r["running"] == Value::Bool(true) {
        format!("running {since}")
    } else {
        format!("stopped at {} (by {}), ran {since}", field(r, "stopped_at"), field(r, "stopped_by"))
    };
    println!("Shadow candidate {}: {status}", short(&r["candidate"]));
    println!(
        "  {} requests evaluated: {} agreements, {} disagreements ({} candidate faults); {} skipped (queue full)",
        field(r, "evaluated"),
        field(r, "agreements"),
        field(r, "disagreements"),
        field(r, "candidate_faults"),
        field(r, "skipped"),
    );
    let recent = r["recent_disagreements"].as_array().cloned().unwrap_or_default();
    if recent.is_empty() {
        return;
    }
    let mut t = Table::new(&["at", "request", "state", "active decides", "candidate decides", "differs in"])
        .align(1, Align::Left)
        .align(3, Align::Left)
        .align(4, Align::Left);
    for d in recent.iter().take(last) {
        let req = &d["request"];
        let differs: Vec<String> =
            d["differs_in"].as_array().map(|a| a.iter().map(text).collect()).unwrap_or_default();
        t.row(vec![
            field(d, "at"),
            format!("{} {} ({})", field(req, "method"), field(req, "path"), field(req, "username")),
            field(req, "maintenance"),
            decision_text(&d["active"]["decision"]),
            decision_text(&d["candidate"]["decision"]),
            differs.join(", "),
        ]);
    }
    t.print_titled("Most recent disagreements (newest first):");
}

/// A version's signers: trusted ones by name, others by key id (`-`: none).
fn signers(v: &Value) -> String {
    if v["builtin"] == true {
        return "(part of drydock)".into();
    }
    let list: Vec<String> = v["signatures"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| match s["key_name"].as_str() {
                    Some(name) => name.to_string(),
                    None => format!("{} (not trusted)", field(s, "key_id")),
                })
                .collect()
        })
        .unwrap_or_default();
    if list.is_empty() { "-".into() } else { list.join(", ") }
}
