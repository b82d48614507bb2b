//! The `drydock` CLI as a client of a real server: whole outputs (stdout, stderr, exit
//! code) compared with the transcripts in `tests/golden/`, with ids, timestamps, ports
//! and paths normalized. Regenerate them after an intended change with
//! `UPDATE_GOLDEN=1 cargo test -p drydock-e2e --test cli`, and review the diff.

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use drydock_e2e::{ADMIN, ADMIN_PASSWORD, CliOutput, Server, cli_command, free_port, run_cli, workspace};
use serde_json::{Value, json};

// ---- normalization ----

/// Replaces what changes from run to run with stable stand-ins of the same width (so
/// tables stay aligned): execution ids by order of first appearance, timestamps,
/// ports, temporary paths, the version.
#[derive(Default)]
struct Normalizer {
    ids: Vec<String>,
    literal: Vec<(String, String)>,
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, &b)| if [8, 13, 18, 23].contains(&i) { b == b'-' } else { is_hex(b) })
}

fn is_timestamp(s: &[u8]) -> bool {
    // 2026-11-24T04:14:47.163Z
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd.dddZ";
    s.len() == SHAPE.len() && s.iter().zip(SHAPE).all(|(&b, &p)| if p == b'd' { b.is_ascii_digit() } else { b == p })
}

/// Replace `from` where it is not followed by a digit (port 4000 is not in 40001).
fn replace_whole(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(from) {
        let after = &rest[i + from.len()..];
        out.push_str(&rest[..i]);
        if after.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

impl Normalizer {
    fn literal(&mut self, from: impl Into<String>, to: impl Into<String>) {
        self.literal.push((from.into(), to.into()));
    }

    /// Number an id now (e.g. in creation order), before any output shows it.
    fn id(&mut self, id: &str) -> String {
        let n = match self.ids.iter().position(|x| x == id) {
            Some(i) => i + 1,
            None => {
                self.ids.push(id.to_string());
                self.ids.len()
            }
        };
        format!("00000000-0000-4000-8000-{n:012}")
    }

    fn apply(&mut self, text: &str) -> String {
        let mut text = text.to_string();
        for (from, to) in &self.literal {
            text = replace_whole(&text, from, to);
        }
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < bytes.len() {
            let boundary = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
            if boundary && i + 36 <= bytes.len() && is_uuid(&bytes[i..i + 36]) {
                let id = text[i..i + 36].to_string();
                out.push_str(&self.id(&id));
                i += 36;
            } else if boundary && i + 24 <= bytes.len() && is_timestamp(&bytes[i..i + 24]) {
                out.push_str("YYYY-MM-DDTHH:MM:SS.mmmZ");
                i += 24;
            } else {
                let c = text[i..].chars().next().unwrap();
                out.push(c);
                i += c.len_utf8();
            }
        }
        out
    }
}

// ---- sessions: a CLI environment, a transcript, a golden file ----

struct Session {
    env: Vec<(String, String)>,
    norm: Normalizer,
    transcript: String,
    _config: tempfile::TempDir,
}

impl Session {
    /// A CLI pointed at `server` as the admin, with its own empty config directory.
    fn new(server: &Server) -> Session {
        let mut s = Session::offline();
        s.set("DRYDOCK_URL", &server.base());
        s.set("DRYDOCK_USERNAME", ADMIN);
        s.set("DRYDOCK_PASSWORD", ADMIN_PASSWORD);
        s.norm.literal(format!("127.0.0.1:{}", server.port), "127.0.0.1:PORT");
        s
    }

    /// A CLI with no server settings at all.
    fn offline() -> Session {
        let config = tempfile::tempdir().unwrap();
        let mut norm = Normalizer::default();
        norm.literal(config.path().display().to_string(), "<CONFIG_DIR>");
        for prefix in ["drydock CLI ", "drydock server "] {
            norm.literal(format!("{prefix}{}", env!("CARGO_PKG_VERSION")), format!("{prefix}<VERSION>"));
        }
        let mut s = Session { env: Vec::new(), norm, transcript: String::new(), _config: config };
        let dir = s._config.path().display().to_string();
        s.set("DRYDOCK_CONFIG_DIR", &dir);
        s
    }

    fn set(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    /// A comment line in the transcript, for what happens outside the CLI.
    fn note(&mut self, text: &str) {
        let text = self.norm.apply(text);
        self.transcript.push_str(&format!("# {text}\n\n"));
    }

    fn env_pairs(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    fn run(&mut self, args: &[&str]) -> CliOutput {
        self.run_with(&[], args)
    }

    /// Run with some variables changed for this one command (`None`: removed).
    fn run_with(&mut self, changes: &[(&str, Option<&str>)], args: &[&str]) -> CliOutput {
        let mut env = self.env.clone();
        for (k, v) in changes {
            env.retain(|(x, _)| x != k);
            if let Some(v) = v {
                env.push((k.to_string(), v.to_string()));
            }
        }
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let out = run_cli(&pairs, args);
        self.record(&command_line(changes, args), &out);
        out
    }

    fn record(&mut self, cmdline: &str, out: &CliOutput) {
        let mut t = format!("$ {cmdline}\n");
        t.push_str(&out.stdout);
        if !out.stdout.is_empty() && !out.stdout.ends_with('\n') {
            t.push('\n');
        }
        if !out.stderr.is_empty() {
            t.push_str("[stderr]\n");
            t.push_str(&out.stderr);
            if !out.stderr.ends_with('\n') {
                t.push('\n');
            }
        }
        t.push_str(&format!("[exit {}]\n\n", out.code));
        let t = self.norm.apply(&t);
        self.transcript.push_str(&t);
    }

    /// Compare the transcript with `tests/golden/NAME.txt` (or write it, with
    /// UPDATE_GOLDEN=1).
    fn check(&self, name: &str) {
        let path = workspace().join("tests").join("golden").join(format!("{name}.txt"));
        if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| !v.is_empty() && v != "0") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &self.transcript).unwrap();
            return;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "missing golden file {}; create it with UPDATE_GOLDEN=1. Actual output:\n{}",
                path.display(),
                self.transcript
            )
        });
        if expected != self.transcript {
            panic!(
                "{} differs from the actual output (UPDATE_GOLDEN=1 rewrites it):\n{}",
                path.display(),
                diff(&expected, &self.transcript)
            );
        }
    }
}

fn quote(a: &str) -> String {
    if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_=./:@,".contains(c)) {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

fn command_line(changes: &[(&str, Option<&str>)], args: &[&str]) -> String {
    let mut parts = Vec::new();
    let removed: Vec<&str> = changes.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| *k).collect();
    if !removed.is_empty() {
        parts.push("env".to_string());
        for k in removed {
            parts.push(format!("-u {k}"));
        }
    }
    for (k, v) in changes {
        if let Some(v) = v {
            parts.push(format!("{k}={}", quote(v)));
        }
    }
    parts.push("drydock".into());
    parts.extend(args.iter().map(|a| quote(a)));
    parts.join(" ")
}

/// A line diff: `-` expected, `+` actual, with the common lines around the changes.
fn diff(expected: &str, actual: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    // Longest common subsequence, small inputs.
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(format!("  {}", a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(format!("+ {}", b[j]));
            j += 1;
        } else {
            out.push(format!("- {}", a[i]));
            i += 1;
        }
    }
    out.join("\n")
}

// ---- the server side, over REST ----

fn create_deployment(s: &Server, id: &str) {
    let r = s.admin().create_deployment(id);
    assert_eq!(r.status, 201, "{}", r.text);
}

/// Start a workflow over REST; `install` stays pending (no worker runs it).
fn start(s: &Server, dep: &str, workflow: &str, params: Value) -> String {
    let r = s.admin().start_execution(dep, workflow, params);
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_string()
}

/// End a pending execution the way a worker would: started, then terminated.
fn finish(s: &Server, id: &str) {
    for status in ["started", "terminated"] {
        let r = s.admin().patch(&format!("/api/v3.1/executions/{id}"), &json!({"status": status}));
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

fn maintenance_status(s: &Server) -> String {
    s.admin().maintenance()["status"].as_str().unwrap().to_string()
}

/// The remaining executions' ids, in the order the server lists them.
fn remaining_ids(s: &Server) -> Vec<String> {
    s.admin().maintenance()["remaining_executions"]
        .as_array()
        .map(|a| a.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Seconds since an ISO 8601 UTC timestamp with milliseconds (`...T..:..:..mmmZ`).
fn seconds_since(ts: &str) -> f64 {
    let n = |r: std::ops::Range<usize>| ts[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs = days * 86400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19);
    let t = secs as f64 + n(20..23) as f64 / 1000.0;
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64() - t
}

// ---- the tests ----

/// Every state of `maintenance-mode status` with one remaining execution, the repeats,
/// `status`, `--version`, and the two kinds of 503.
#[test]
fn maintenance_lifecycle_with_one_execution() {
    let s = Server::start();
    let mut cli = Session::new(&s);

    cli.run(&["maintenance-mode", "status"]);
    cli.run(&["maintenance-mode", "status", "-v"]);
    cli.run(&["status"]);

    create_deployment(&s, "dep1");
    let id = start(&s, "dep1", "install", json!({}));
    cli.norm.id(&id);
    cli.note(&format!("REST: started `install` on dep1 ({id}); no worker runs it, so it stays pending"));

    let out = cli.run(&["maintenance-mode", "activate"]);
    assert_eq!(out.code, 0);
    assert_eq!(maintenance_status(&s), "activating");
    cli.run(&["maintenance-mode", "status"]);
    cli.run(&["maintenance-mode", "status", "-v"]);
    let again = cli.run(&["maintenance-mode", "activate"]);
    assert_eq!(again.code, 1);
    cli.run(&["status"]);
    cli.run(&["deployments", "create", "dep2", "-b", "bp"]);

    finish(&s, &id);
    cli.note(&format!("REST: {id} reported started, then terminated"));
    assert_eq!(maintenance_status(&s), "activated");
    cli.run(&["maintenance-mode", "status"]);
    cli.run(&["maintenance-mode", "status", "-v"]);
    cli.run(&["status"]);
    cli.run(&["--version"]);
    let blocked = cli.run(&["deployments", "create", "dep2", "-b", "bp"]);
    assert_eq!(blocked.code, 1);
    cli.run(&["maintenance-mode", "activate"]);

    assert_eq!(cli.run(&["maintenance-mode", "deactivate"]).code, 0);
    assert_eq!(cli.run(&["maintenance-mode", "deactivate"]).code, 1);
    cli.run(&["maintenance-mode", "status"]);
    cli.run(&["status"]);
    cli.check("maintenance_one_execution");
}

/// Several remaining executions: the plural sentence, the table, and the count going
/// down as they end; `--json` for scripts.
#[test]
fn maintenance_status_with_several_executions() {
    let s = Server::start();
    let mut cli = Session::new(&s);
    create_deployment(&s, "dep1");
    for _ in 0..3 {
        start(&s, "dep1", "install", json!({}));
    }
    // One deployment: the server lists remaining executions by id, which is random.
    cli.note("REST: started `install` on dep1 three times (they stay pending)");

    cli.run(&["maintenance-mode", "activate"]);
    // Number the ids in the order the server lists them, so the transcript is stable.
    let ids = remaining_ids(&s);
    assert_eq!(ids.len(), 3);
    for id in &ids {
        cli.norm.id(id);
    }
    cli.run(&["maintenance-mode", "status"]);
    cli.run(&["maintenance-mode", "status", "-v"]);
    cli.run(&["maintenance-mode", "status", "--json"]);

    finish(&s, &ids[0]);
    cli.note(&format!("REST: {} terminated", ids[0]));
    cli.run(&["maintenance-mode", "status", "-v"]);
    finish(&s, &ids[1]);
    cli.note(&format!("REST: {} terminated", ids[1]));
    cli.run(&["maintenance-mode", "status", "-v"]);
    finish(&s, &ids[2]);
    cli.note(&format!("REST: {} terminated", ids[2]));
    cli.run(&["maintenance-mode", "status", "-v"]);
    cli.run(&["maintenance-mode", "status", "--json"]);
    // Uptime and paths vary: check the JSON's shape rather than its text.
    let out = run_cli(&cli.env_pairs(), &["status", "--json"]);
    assert_eq!(out.code, 0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["maintenance_mode"], "activated");
    assert_eq!(v["services"]["drydock REST API"]["status"], "Active");
    cli.check("maintenance_several_executions");
}

/// `activate --wait`: one that completes (within a second of the activation), one that
/// times out, one ended by Ctrl-C, and `--timeout` without `--wait`.
#[test]
fn activate_wait_completes_times_out_and_is_interrupted() {
    let s = Server::start();
    let mut cli = Session::new(&s);
    create_deployment(&s, "dep1");

    // Refused before any request: the address is unreachable, yet the answer is the usage error.
    let dead = format!("http://127.0.0.1:{}", free_port());
    cli.norm.literal(dead.clone(), "http://127.0.0.1:CLOSED");
    let out = cli.run_with(&[("DRYDOCK_URL", Some(&dead))], &["maintenance-mode", "activate", "--timeout", "5"]);
    assert_eq!(out.code, 2);

    let id = start(&s, "dep1", "sleep", json!({"seconds": "2"}));
    cli.norm.id(&id);
    cli.note(&format!("REST: started `sleep` with seconds=2 on dep1 ({id})"));
    let out = cli.run(&["maintenance-mode", "activate", "--wait"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let m = s.admin().maintenance();
    assert_eq!(m["status"], "activated");
    let late = seconds_since(m["activated_at"].as_str().unwrap());
    assert!(late < 1.0, "--wait returned {late:.2} s after the activation");
    cli.run(&["maintenance-mode", "deactivate"]);

    let pending = start(&s, "dep1", "install", json!({}));
    cli.norm.id(&pending);
    cli.note(&format!("REST: started `install` on dep1 ({pending}); it stays pending"));
    let t0 = Instant::now();
    let out = cli.run(&["maintenance-mode", "activate", "--wait", "--timeout", "1"]);
    assert_eq!(out.code, 1);
    assert!(t0.elapsed() < Duration::from_secs(3), "took {:?}", t0.elapsed());
    assert_eq!(maintenance_status(&s), "activating", "a timeout leaves the manager activating");
    cli.run(&["maintenance-mode", "status"]);

    cli.run(&["maintenance-mode", "deactivate"]);
    interrupt_wait(&mut cli);
    assert_eq!(maintenance_status(&s), "activating", "Ctrl-C leaves the manager activating");
    cli.run(&["maintenance-mode", "status", "-v"]);
    cli.check("activate_wait");
}

/// `activate --wait`, then Ctrl-C once it is waiting.
fn interrupt_wait(cli: &mut Session) {
    let args = ["maintenance-mode", "activate", "--wait"];
    let mut child = cli_command(&cli.env_pairs(), &args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let line = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("the wait began");
        if line.starts_with("Waiting for") {
            break;
        }
    }
    let kill = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let stdout = reader.join().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let out = CliOutput { stdout, stderr, code: status.code().unwrap_or(-1) };
    assert_eq!(out.code, 130, "{out:?}");
    cli.record("drydock maintenance-mode activate --wait    # then Ctrl-C once it waits", &out);
}

/// Errors a person can act on: unreachable, 401 (wrong and missing credentials), 403,
/// 404, a usage error.
#[test]
fn errors_say_what_to_do() {
    let s = Server::start();
    let mut cli = Session::new(&s);

    let dead = format!("http://127.0.0.1:{}", free_port());
    cli.norm.literal(dead.clone(), "http://127.0.0.1:CLOSED");
    let out = cli.run_with(&[("DRYDOCK_URL", Some(&dead))], &["maintenance-mode", "status"]);
    assert_eq!(out.code, 1);
    cli.run_with(&[("DRYDOCK_URL", Some(&dead))], &["status"]);
    let out = cli.run_with(&[("DRYDOCK_URL", Some(&dead))], &["--version"]);
    assert_eq!(out.code, 0, "the client's version needs no server");

    assert_eq!(cli.run_with(&[("DRYDOCK_PASSWORD", Some("wrong"))], &["maintenance-mode", "status"]).code, 1);
    cli.run_with(&[("DRYDOCK_USERNAME", None), ("DRYDOCK_PASSWORD", None)], &["status"]);

    assert_eq!(cli.run(&["users", "create", "alice", "-p", "alice-secret"]).code, 0);
    let alice = [("DRYDOCK_USERNAME", Some("alice")), ("DRYDOCK_PASSWORD", Some("alice-secret"))];
    assert_eq!(cli.run_with(&alice, &["maintenance-mode", "activate"]).code, 1);
    assert_eq!(cli.run_with(&alice, &["maintenance-mode", "status"]).code, 0, "anyone may read");
    assert_eq!(maintenance_status(&s), "deactivated");

    assert_eq!(cli.run(&["executions", "get", "no-such-execution"]).code, 1);
    assert_eq!(cli.run(&["users", "create", "alice", "-p", "alice-secret"]).code, 1);
    assert_eq!(cli.run(&["maintenance-mode", "sideways"]).code, 2);
    assert_eq!(cli.run(&["executions", "start", "sleep"]).code, 2);
    assert_eq!(cli.run(&["executions", "cancel", "x", "--force", "--kill"]).code, 2);
    cli.check("errors");
}

/// `profiles use` checks the credentials, saves them owner-only, and later commands
/// need no flags.
#[test]
fn profiles_save_the_connection() {
    let s = Server::start();
    let mut cli = Session::offline();
    cli.norm.literal(format!("127.0.0.1:{}", s.port), "127.0.0.1:PORT");
    let url = s.base();

    cli.run(&["profiles", "show"]);
    let out = cli.run(&["profiles", "use", &url, "-u", ADMIN, "-p", "wrong"]);
    assert_eq!(out.code, 1);
    assert!(!cli._config.path().join("profiles.json").exists(), "a refused profile is not saved");

    let out = cli.run(&["profiles", "use", &format!("127.0.0.1:{}", s.port), "-u", ADMIN, "-p", ADMIN_PASSWORD]);
    assert_eq!(out.code, 0);
    let file = cli._config.path().join("profiles.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the profile holds a password");
    }
    cli.run(&["profiles", "show"]);
    cli.run(&["profiles", "show", "--json"]);
    cli.run(&["maintenance-mode", "status"]);
    cli.run(&["--version"]);
    // Credentials from the profile never go to another server.
    let dead = format!("http://127.0.0.1:{}", free_port());
    cli.norm.literal(dead.clone(), "http://127.0.0.1:CLOSED");
    cli.run(&["--manager", &dead, "status"]);
    cli.check("profiles");
}

/// The daily commands: deployments, executions (with `--wait` printing events), users.
#[test]
fn executions_and_deployments() {
    let s = Server::start();
    let mut cli = Session::new(&s);
    cli.run(&["deployments", "create", "dep1", "-b", "bp1"]);
    cli.run(&["deployments", "list"]);
    cli.run(&["deployments", "get", "dep1"]);
    let out = cli.run(&["executions", "start", "sleep", "-d", "dep1", "-p", "seconds=1", "--wait"]);
    assert_eq!(out.code, 0);
    let out = cli.run(&["executions", "start", "install", "-d", "dep1"]);
    assert_eq!(out.code, 0);
    cli.run(&["executions", "list"]);
    cli.run(&["executions", "list", "-d", "dep1"]);
    let items = s.admin().get("/api/v3.1/executions?_sort=created_at").json()["items"].clone();
    let (first, second) = (items[0]["id"].as_str().unwrap(), items[1]["id"].as_str().unwrap());
    cli.run(&["executions", "get", first]);
    assert_eq!(cli.run(&["executions", "cancel", second]).code, 0);
    s.admin().wait_for(10, "the cancel to end", |c| {
        c.get(&format!("/api/v3.1/executions/{second}")).json()["status"] == "cancelled"
    });
    cli.run(&["executions", "get", second]);
    assert_eq!(cli.run(&["executions", "cancel", second]).code, 1);
    cli.run(&["executions", "start", "sleep", "-d", "nowhere"]);
    cli.run(&["deployments", "delete", "dep1"]);
    cli.run(&["deployments", "list"]);
    let out = cli.run(&["deployments", "list", "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&out.stdout).unwrap()["items"], json!([]));
    cli.check("executions_and_deployments");
}

/// Every command has `--help` with an example.
#[test]
fn every_command_has_help_with_an_example() {
    let commands: &[&[&str]] = &[
        &[],
        &["serve"],
        &["maintenance-mode", "status"],
        &["maintenance-mode", "activate"],
        &["maintenance-mode", "deactivate"],
        &["status"],
        &["executions", "start"],
        &["executions", "list"],
        &["executions", "get"],
        &["executions", "cancel"],
        &["deployments", "create"],
        &["deployments", "list"],
        &["deployments", "get"],
        &["deployments", "delete"],
        &["users", "create"],
        &["profiles", "use"],
        &["profiles", "show"],
    ];
    for c in commands {
        let mut args = c.to_vec();
        args.push("--help");
        let out = run_cli(&[], &args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert!(out.stdout.contains("Example"), "{args:?} has no example:\n{}", out.stdout);
    }
    let out = run_cli(&[], &[]);
    assert_eq!(out.code, 2, "no command is a usage error");
}
