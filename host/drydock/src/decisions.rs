//! `drydock decisions list|show|export`: the server's decision log (a sys_admin's).
//! `export` writes NDJSON (one decision a line), or with `--as-cases` a case table
//! that `drydock policy test` runs: real traffic as a regression suite.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use drydock_server::decisions::{DecisionOrigin, DecisionRecord};
use serde_json::{Value, json};

use super::client::{API, CliError, CliResult, Client, ConnArgs, seg};
use super::output::{Table, field, print_json};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// The newest decisions, newest first.
    #[command(after_help = "Examples:\n  drydock decisions list --verdict deny --since 1h\n  drydock decisions list --path /api/v3.1/executions")]
    List(ListArgs),
    /// One decision, with the input its policy saw (the id is a response's X-Drydock-Decision-Id).
    Show(ShowArgs),
    /// Follow decisions as they are kept (asking every second), until Ctrl-C.
    #[command(after_help = "Example:\n  drydock decisions tail --verdict deny")]
    Tail(TailArgs),
    /// Write the decisions of a range to a file (NDJSON), or as a `policy test` case table.
    #[command(after_help = "Examples:\n  drydock decisions export --since 7d -o week.ndjson\n  drydock decisions export --since 1d --as-cases -o cases.yaml && drydock policy test builtin:default cases.yaml")]
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct Filter {
    /// From this time, or this long ago (7d, 24h, 30m).
    #[arg(long)]
    pub since: Option<String>,
    /// Until this time, or this long ago.
    #[arg(long)]
    pub until: Option<String>,
    /// allow or deny.
    #[arg(long, value_parser = ["allow", "deny"])]
    pub verdict: Option<String>,
    /// policy, memo, fail-mode or floor.
    #[arg(long, value_parser = ["policy", "memo", "fail-mode", "floor"])]
    pub origin: Option<String>,
    /// Only this caller's (as the log keeps it).
    #[arg(long)]
    pub user: Option<String>,
    /// Only paths starting with this.
    #[arg(long)]
    pub path: Option<String>,
}

impl Filter {
    fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [("since", &self.since), ("until", &self.until), ("verdict", &self.verdict), ("origin", &self.origin), ("user", &self.user), ("path", &self.path)] {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        q.finish()
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: Filter,
    /// How many.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub last: u32,
    /// Print the server's JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub filter: Filter,
    /// One JSON record a line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    pub id: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub filter: Filter,
    /// The file to write (`-`: standard output).
    #[arg(short = 'o', long, default_value = "-")]
    pub output: PathBuf,
    /// A `drydock policy test` case table (YAML) instead of NDJSON: each decision
    /// becomes a case expecting what was answered.
    #[arg(long)]
    pub as_cases: bool,
}

pub fn run(conn: &ConnArgs, cmd: Cmd) -> CliResult {
    let client = Client::connect(conn)?;
    match cmd {
        Cmd::List(a) => {
            let q = a.filter.query();
            let resp = client.get(&format!("{API}/decisions?_size={}&{q}", a.last.clamp(1, 1000)))?;
            if a.json {
                print_json(&resp);
                return Ok(());
            }
            let items = resp.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
            let mut t = Table::new(&["id", "at", "verdict", "origin", "user", "method", "path", "answer"]);
            for d in &items {
                let req = &d["input"]["request"];
                let answer = match d["answer"]["status"].as_u64() {
                    Some(s) => format!("{s} {}", field(&d["answer"], "error_code")),
                    None => String::new(),
                };
                t.row(vec![field(d, "id"), field(d, "at"), field(d, "verdict"), field(d, "origin"), field(req, "user"), field(req, "method"), field(req, "path"), answer]);
            }
            t.print_titled("Decisions:");
            let total = resp["metadata"]["pagination"]["total"].as_u64().unwrap_or(0);
            println!("\nShowing {} of {total} decisions", items.len());
            Ok(())
        }
        Cmd::Show(a) => {
            let d = client.get(&format!("{API}/decisions/{}", seg(&a.id)))?;
            if a.json {
                print_json(&d);
                return Ok(());
            }
            let req = &d["input"]["request"];
            println!("Decision {}:", field(&d, "id"));
            println!("\tAt:\t{} (on {})", field(&d, "at"), field(&d, "host"));
            println!("\tRequest:\t{} {} (route {}) by {} ({})", field(req, "method"), field(req, "path"), field(req, "route"), field(req, "user"), field(req, "role"));
            println!("\tState:\t{} {}", field(&d["input"], "state"), d["input"]["executions"]);
            println!("\tAttributes:\t{} {}", req["attributes"], d["input"]["facts"]);
            println!("\tVerdict:\t{} ({})", field(&d, "verdict"), field(&d, "origin"));
            if d["answer"]["status"].is_u64() {
                println!("\tAnswer:\t{} {}: {}", field(&d["answer"], "status"), field(&d["answer"], "error_code"), field(&d["answer"], "message"));
            }
            if let Some(p) = d.get("policy").filter(|p| !p.is_null()) {
                println!("\tPolicy:\t{} ({})", field(p, "label"), field(p, "sha256"));
            }
            if let Some(served) = d.get("served").filter(|s| !s.is_null()) {
                // A shadow record: the answer above is the candidate's, never sent.
                let answer = &served["answer"];
                let sent = match answer["status"].is_u64() {
                    true => format!("{} {}", field(answer, "status"), field(answer, "error_code")),
                    false => "allow".to_string(),
                };
                println!("\tServed:\t{sent} by {} (the candidate's answer above was not sent)", field(&served["policy"], "label"));
            }
            if let Some(t) = d.get("traceparent").and_then(Value::as_str) {
                println!("\tTrace:\t{t}");
            }
            Ok(())
        }
        Cmd::Export(a) => export(&client, a),
        Cmd::Tail(a) => tail(&client, a),
    }
}

/// One decision on one line.
fn line(d: &DecisionRecord) -> String {
    let r = &d.input.request;
    let answer = match d.answer.status {
        Some(s) => format!(" -> {s} {}", d.answer.error_code.as_deref().unwrap_or("")),
        None => String::new(),
    };
    format!("{}  {}  {:<5} {:<9} {} {} {}{answer}", d.at, d.id, d.verdict, d.origin, r.user, r.method, r.path)
}

fn tail(client: &Client, a: TailArgs) -> CliResult {
    let mut since = drydock_server::timestamp::now();
    // Decisions already shown at the newest time seen (the next ask starts there).
    let mut shown: std::collections::HashSet<String> = std::collections::HashSet::new();
    if !a.json {
        eprintln!("Following the decision log of {} (Ctrl-C to stop)...", client.base());
    }
    loop {
        let filter = Filter { since: Some(since.clone()), until: None, ..clone_filter(&a.filter) };
        let resp = client.get(&format!("{API}/decisions?_size=1000&{}", filter.query()))?;
        let mut items: Vec<DecisionRecord> = resp
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect();
        items.reverse();
        // Its own asking (a sys_admin's floor passes on /decisions) is not news.
        let own = |d: &DecisionRecord| d.origin == DecisionOrigin::Floor && d.input.request.path.starts_with(&format!("{API}/decisions"));
        for d in items.iter().filter(|d| !shown.contains(&d.id) && !own(d)) {
            match a.json {
                true => println!("{}", serde_json::to_string(d).expect("a decision serializes")),
                false => println!("{}", line(d)),
            }
        }
        if let Some(newest) = items.iter().map(|d| d.at.clone()).max()
            && newest > since
        {
            since = newest;
            shown.clear();
        }
        shown.extend(items.into_iter().filter(|d| d.at == since).map(|d| d.id));
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// Every decision of the range, read a page at a time. The end is pinned at the
/// start, so decisions made meanwhile do not shift the pages.
pub fn fetch(client: &Client, filter: &Filter) -> CliResult<Vec<DecisionRecord>> {
    let until = filter.until.clone().unwrap_or_else(drydock_server::timestamp::now);
    let pinned = Filter { until: Some(until), ..clone_filter(filter) };
    let q = pinned.query();
    let mut out = Vec::new();
    loop {
        let resp = client.get(&format!("{API}/decisions?_size=1000&_offset={}&{q}", out.len()))?;
        let items = resp.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        for item in items {
            out.push(serde_json::from_value(item).map_err(|e| CliError::failed(format!("the server sent a decision this drydock cannot read: {e}")))?);
        }
    }
    out.reverse();
    Ok(out)
}

fn clone_filter(f: &Filter) -> Filter {
    Filter { since: f.since.clone(), until: f.until.clone(), verdict: f.verdict.clone(), origin: f.origin.clone(), user: f.user.clone(), path: f.path.clone() }
}

fn export(client: &Client, a: ExportArgs) -> CliResult {
    let records = fetch(client, &a.filter)?;
    let text = if a.as_cases { cases(&records, &client.base()) } else { ndjson(&records) };
    if a.output.as_os_str() == "-" {
        print!("{text}");
    } else {
        let mut f = std::fs::File::create(&a.output).map_err(|e| CliError::failed(format!("cannot write {}: {e}", a.output.display())))?;
        f.write_all(text.as_bytes()).map_err(|e| CliError::failed(format!("cannot write {}: {e}", a.output.display())))?;
        eprintln!("Wrote {} decisions to {}", records.len(), a.output.display());
    }
    Ok(())
}

fn ndjson(records: &[DecisionRecord]) -> String {
    records.iter().map(|r| serde_json::to_string(r).expect("a decision serializes") + "\n").collect()
}

/// A `drydock policy test` case table: each decision a case expecting its answer.
pub fn cases(records: &[DecisionRecord], source: &str) -> String {
    // A case's caller is a sys_admin or a user; anonymous requests (health probes)
    // are left out, and said so. A shadow record is a candidate's answer, never
    // served: not a case of what was decided.
    let shadow = records.iter().filter(|r| r.origin == DecisionOrigin::Shadow).count();
    let records: Vec<&DecisionRecord> = records.iter().filter(|r| r.origin != DecisionOrigin::Shadow).collect();
    let callers = |r: &&&DecisionRecord| matches!(r.input.request.role.as_str(), "sys_admin" | "user");
    let left_out = records.iter().filter(|r| !callers(r)).count();
    let cases: Vec<Value> = records
        .iter()
        .filter(callers)
        .map(|r| {
            let req = &r.input.request;
            let attributes: BTreeMap<&str, &str> = req.attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let facts: BTreeMap<&str, &str> = r.input.facts.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let expect = match (r.origin, r.answer.status) {
                (DecisionOrigin::Floor, _) => json!("floor"),
                (_, None) => json!("allow"),
                (_, Some(status)) => json!({"deny": {"status": status, "error_code": r.answer.error_code, "retry_after": r.answer.retry_after}}),
            };
            json!({
                "name": format!("{} {} {} ({})", r.id, req.method, req.path, r.at),
                "state": r.input.state,
                "executions": r.input.executions,
                "facts": facts,
                "request": {
                    "method": req.method,
                    "path": req.path,
                    "route": req.route,
                    "user": req.user,
                    "role": req.role,
                    "bypass": req.bypass,
                    "attributes": attributes,
                },
                "expect": expect,
            })
        })
        .collect();
    let mut description = format!("{} decisions exported from {source}", cases.len());
    if left_out > 0 {
        description.push_str(&format!(" ({left_out} anonymous ones left out)"));
    }
    if shadow > 0 {
        description.push_str(&format!(" ({shadow} shadow candidates' answers left out)"));
    }
    let table = json!({"description": description, "cases": cases});
    serde_yaml_ng::to_string(&table).expect("a case table serializes")
}
