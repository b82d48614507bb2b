//! The CLI's HTTP client: where to connect and as whom (flags, environment, the saved
//! profile), the requests, and the server's answers turned into errors a person can
//! act on.

use std::io::Read;
use std::time::Duration;

use base64::Engine as _;
use clap::Args;
use serde_json::Value;

use super::profiles;

pub const DEFAULT_MANAGER: &str = "http://127.0.0.1:8080";
pub const DEFAULT_TENANT: &str = "default_tenant";
pub const API: &str = "/api/v3.1";

/// Where the server is and who is asking. Global: accepted after any subcommand.
/// The environment is read by [`ConnArgs::with_env`], not by clap, so clap's usage
/// errors never list values that came from the environment.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnArgs {
    /// The server's address [env: DRYDOCK_URL] [default: the active profile's, else
    /// http://127.0.0.1:8080]
    #[arg(long, global = true, value_name = "URL")]
    pub manager: Option<String>,
    /// Username to authenticate as [env: DRYDOCK_USERNAME] [default: the active profile's]
    #[arg(short = 'u', long, global = true, value_name = "USER")]
    pub username: Option<String>,
    /// Password (long flag only: `-p` belongs to the commands) [env: DRYDOCK_PASSWORD]
    /// [default: the active profile's]
    #[arg(long, global = true, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Tenant header [env: DRYDOCK_TENANT] [default: the active profile's, else
    /// default_tenant]
    #[arg(long, global = true, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// For an https server with a private certificate: the CA certificates (PEM) to
    /// trust instead of the public roots [env: DRYDOCK_CA_FILE]
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_file: Option<std::path::PathBuf>,
}

impl ConnArgs {
    /// Flags first, then the `DRYDOCK_*` variables (empty ones count as unset).
    pub fn with_env(mut self) -> ConnArgs {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        self.manager = self.manager.or_else(|| env("DRYDOCK_URL"));
        self.username = self.username.or_else(|| env("DRYDOCK_USERNAME"));
        self.password = self.password.or_else(|| env("DRYDOCK_PASSWORD"));
        self.tenant = self.tenant.or_else(|| env("DRYDOCK_TENANT"));
        self.ca_file = self.ca_file.or_else(|| env("DRYDOCK_CA_FILE").map(Into::into));
        self
    }
}

/// A failure to report: the message, what the person can do about it, the exit code.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub hints: Vec<String>,
    pub code: i32,
    /// The HTTP status, when the server answered with an error.
    pub status: Option<u16>,
}

impl CliError {
    /// The request or command failed (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        CliError { message: message.into(), hints: Vec::new(), code: 1, status: None }
    }

    /// The command line was wrong (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError { message: message.into(), hints: Vec::new(), code: 2, status: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn with_code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }

    /// Print to stderr (the original's "Possible solutions" shape); return the exit code.
    pub fn report(&self) -> i32 {
        let mut text = self.message.clone();
        if !self.hints.is_empty() {
            text.push_str("\nPossible solutions:");
            for h in &self.hints {
                text.push_str("\n  - ");
                text.push_str(h);
            }
        }
        eprintln!("{text}");
        self.code
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

/// A server answer, read whole. `body` is `Null` when empty.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<String>,
}

/// A response body as the commands read it: JSON when it is JSON, else its text;
/// `Null` when empty.
pub fn decode_body(text: String) -> Value {
    if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

/// Server-sent events, read a line at a time (the stream of `maintenance-mode watch`
/// and `activate --wait`): each blank line ends an event, given as its name (default
/// `message`) and its data, as JSON when it is JSON.
#[derive(Debug)]
pub struct EventStream {
    event: String,
    data: String,
}

impl Default for EventStream {
    fn default() -> Self {
        EventStream { event: "message".into(), data: String::new() }
    }
}

/// An event's data may not grow without bound: a server that never ends one is cut off here.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

impl EventStream {
    pub fn line(&mut self, line: &str) -> Option<(String, Value)> {
        if line.is_empty() {
            let done = (!self.data.is_empty()).then(|| {
                let data = std::mem::take(&mut self.data);
                let value = serde_json::from_str(&data).unwrap_or(Value::String(data));
                (std::mem::replace(&mut self.event, "message".into()), value)
            });
            self.data.clear();
            return done;
        }
        if let Some(v) = line.strip_prefix("event:") {
            self.event = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data:") {
            let v = v.strip_prefix(' ').unwrap_or(v);
            if self.data.len() + v.len() < MAX_EVENT_BYTES {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(v);
            }
        }
        None
    }
}

/// Where to connect and with what credentials, resolved once per command.
#[derive(Debug, Clone)]
pub struct Target {
    pub base: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub tenant: String,
    /// CA certificates (PEM) to trust for an https `base`.
    pub ca_file: Option<std::path::PathBuf>,
}

impl Target {
    /// Flags and environment first, then the active profile (only when it is for the
    /// same server: credentials never go to a server they were not saved for).
    pub fn resolve(conn: &ConnArgs) -> CliResult<Target> {
        let profile = profiles::active()?;
        let base = match &conn.manager {
            Some(m) => normalize_url(m)?,
            None => profile.as_ref().map(|p| p.manager.clone()).unwrap_or_else(|| DEFAULT_MANAGER.to_string()),
        };
        let profile = profile.filter(|p| p.manager == base);
        // The profile's password goes only with the profile's username.
        let (username, password) = match (&conn.username, &profile) {
            (Some(u), Some(p)) if *u != p.username => (Some(u.clone()), conn.password.clone()),
            (Some(u), p) => (Some(u.clone()), conn.password.clone().or_else(|| p.as_ref().map(|p| p.password.clone()))),
            (None, Some(p)) => (Some(p.username.clone()), conn.password.clone().or_else(|| Some(p.password.clone()))),
            (None, None) => (None, conn.password.clone()),
        };
        let tenant = conn
            .tenant
            .clone()
            .or_else(|| profile.as_ref().map(|p| p.tenant.clone()))
            .unwrap_or_else(|| DEFAULT_TENANT.to_string());
        Ok(Target { base, username, password, tenant, ca_file: conn.ca_file.clone() })
    }
}

/// `127.0.0.1:8080` → `http://127.0.0.1:8080`; no trailing slash; http or https.
pub fn normalize_url(raw: &str) -> CliResult<String> {
    let raw = raw.trim().trim_end_matches('/');
    let url = if raw.contains("://") { raw.to_string() } else { format!("http://{raw}") };
    let host = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")).unwrap_or("");
    if host.is_empty() || host.contains('/') || host.contains('?') {
        return Err(CliError::usage(format!(
            "invalid drydock address `{raw}`: expected http://HOST:PORT or https://HOST:PORT (e.g. http://127.0.0.1:8080)"
        )));
    }
    Ok(url)
}

/// The TLS roots: the CA file's certificates when one is given, else the public roots.
fn tls_config(ca_file: Option<&std::path::Path>) -> CliResult<ureq::tls::TlsConfig> {
    let builder = ureq::tls::TlsConfig::builder();
    let Some(path) = ca_file else { return Ok(builder.build()) };
    let pem = std::fs::read(path).map_err(|e| CliError::usage(format!("cannot read the CA file {}: {e}", path.display())))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(CliError::usage(format!("{} holds no PEM certificate", path.display())));
    }
    Ok(builder.root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(certs))).build())
}

pub struct Client {
    agent: ureq::Agent,
    pub target: Target,
}

impl Client {
    pub fn new(target: Target) -> CliResult<Client> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls_config(target.ca_file.as_deref())?)
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(60)))
            .max_redirects(0)
            .user_agent(format!("drydock-cli/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Client { agent, target })
    }

    pub fn connect(conn: &ConnArgs) -> CliResult<Client> {
        Client::new(Target::resolve(conn)?)
    }

    /// Follow the server-sent events at `path` (absolute). A thread reads the stream
    /// and sends each `(event, data)` on the returned channel, which closes when the
    /// stream ends; the caller waits on it with its own deadline.
    pub fn events(&self, path: &str) -> CliResult<std::sync::mpsc::Receiver<(String, Value)>> {
        // No overall deadline: the stream lasts as long as it is followed.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls_config(self.target.ca_file.as_deref())?)
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .max_redirects(0)
            .user_agent(format!("drydock-cli/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let url = format!("{}{}", self.target.base, path);
        let mut req = http::Request::builder()
            .method("GET")
            .uri(&url)
            .header("Tenant", &self.target.tenant)
            .header("Accept", "text/event-stream");
        if let Some(user) = &self.target.username {
            let pw = self.target.password.as_deref().unwrap_or("");
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
            req = req.header("Authorization", format!("Basic {token}"));
        }
        let req = req.body(()).map_err(|e| CliError::usage(format!("invalid request to {url}: {e}")))?;
        let resp = agent.run(req).map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let mut text = String::new();
            let _ = resp.into_body().into_reader().read_to_string(&mut text);
            return Err(self.api_error(&Reply { status, body: decode_body(text), retry_after: None }));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::io::BufReader::new(resp.into_body().into_reader());
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut stream = EventStream::default();
            for line in reader.lines() {
                let Ok(line) = line else { return };
                if let Some(event) = stream.line(&line)
                    && tx.send(event).is_err()
                {
                    return;
                }
            }
        });
        Ok(rx)
    }

    pub fn base(&self) -> &str {
        &self.target.base
    }

    /// Send one request to `path` (absolute, e.g. `/api/v3.1/status`). Only transport
    /// failures are errors here; every HTTP status comes back as a `Reply`.
    pub fn send(&self, method: &str, path: &str, body: Option<&Value>) -> CliResult<Reply> {
        match body {
            Some(v) => {
                let bytes = serde_json::to_vec(v).expect("a JSON value serializes");
                self.send_raw(method, path, Some("application/json"), bytes)
            }
            None => self.send_raw(method, path, None, Vec::new()),
        }
    }

    /// Send raw bytes with the given content type (a policy upload, say).
    pub fn send_raw(&self, method: &str, path: &str, content_type: Option<&str>, bytes: Vec<u8>) -> CliResult<Reply> {
        self.send_raw_with(method, path, content_type, bytes, &[])
    }

    /// [`Client::send_raw`] with more headers.
    pub fn send_raw_with(&self, method: &str, path: &str, content_type: Option<&str>, bytes: Vec<u8>, headers: &[(&str, String)]) -> CliResult<Reply> {
        let url = format!("{}{}", self.target.base, path);
        let mut req = http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Tenant", &self.target.tenant)
            .header("Accept", "application/json");
        if let Some(user) = &self.target.username {
            let pw = self.target.password.as_deref().unwrap_or("");
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
            req = req.header("Authorization", format!("Basic {token}"));
        }
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let req = req.body(bytes).map_err(|e| CliError::usage(format!("invalid request to {url}: {e}")))?;
        // A component upload may compile for half a minute on the server.
        let req = self.agent.configure_request(req).timeout_global(Some(Duration::from_secs(330))).build();
        let resp = self.agent.run(req).map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        let mut text = String::new();
        resp.into_body()
            .into_reader()
            .read_to_string(&mut text)
            .map_err(|e| CliError::failed(format!("lost the connection to drydock at {}: {e}", self.target.base)))?;
        Ok(Reply { status, body: decode_body(text), retry_after })
    }

    /// Send, and accept only a 2xx answer; anything else becomes a [`CliError`].
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> CliResult<Value> {
        let reply = self.send(method, path, body)?;
        if (200..300).contains(&reply.status) { Ok(reply.body) } else { Err(self.api_error(&reply)) }
    }

    pub fn get(&self, path: &str) -> CliResult<Value> {
        self.call("GET", path, None)
    }

    fn unreachable(&self, e: ureq::Error) -> CliError {
        let why = match &e {
            ureq::Error::Io(io) => match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                std::io::ErrorKind::ConnectionReset => "connection reset".to_string(),
                std::io::ErrorKind::TimedOut => "timed out".to_string(),
                _ => io.to_string(),
            },
            ureq::Error::HostNotFound => "host not found".to_string(),
            ureq::Error::Timeout(_) => "timed out".to_string(),
            ureq::Error::ConnectionFailed => "connection failed".to_string(),
            other => other.to_string(),
        };
        let failed = CliError::failed(format!("cannot reach drydock at {}: {why}", self.target.base));
        if why.contains("certificate") {
            return failed.hint(
                "A server with a private certificate: trust its CA with --ca-file FILE (or DRYDOCK_CA_FILE)",
            );
        }
        failed.hint("Start it with 'drydock serve', or point to it with --manager URL (or DRYDOCK_URL)")
    }

    /// An error answer as a person reads it: the server's message, then its status and
    /// error code, and what to do about it.
    pub fn api_error(&self, reply: &Reply) -> CliError {
        let code = reply.body.get("error_code").and_then(Value::as_str).unwrap_or("");
        let message = reply.body.get("message").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| {
            match &reply.body {
                Value::Null => "(no message)".to_string(),
                Value::String(s) => s.trim().to_string(),
                other => other.to_string(),
            }
        });
        let tag = if code.is_empty() { format!("{}", reply.status) } else { format!("{} {code}", reply.status) };
        let err = CliError { status: Some(reply.status), ..CliError::failed(format!("{message} ({tag})")) };
        match (reply.status, code) {
            (401, _) => {
                let who = match &self.target.username {
                    Some(u) => format!("The credentials of `{u}` were refused by {}", self.target.base),
                    None => "No credentials were given".to_string(),
                };
                err.hint(format!("{who}: pass --username and --password (or DRYDOCK_USERNAME and DRYDOCK_PASSWORD)"))
                    .hint(format!(
                        "Or save them once with 'drydock profiles use {} -u USER -p PASSWORD'",
                        self.target.base
                    ))
            }
            // The tenant's refusals: another tenant, or a role there that may not.
            (403, _) if message.contains("invalid tenant name") => err.hint(format!(
                "No tenant `{}` exists: pick another with --tenant (or DRYDOCK_TENANT); 'drydock tenants list' shows yours",
                self.target.tenant
            )),
            (403, _) if message.contains("in the tenant") => err
                .hint("A sys_admin can add you, or give you another role: 'drydock tenants add-user|update-user USER -t TENANT -r ROLE'")
                .hint("Or act in another tenant with --tenant (or DRYDOCK_TENANT); 'drydock tenants list' shows yours"),
            (403, "policy_not_trusted_error") => err
                .hint("Sign it: 'drydock policy sign FILE.wasm --key KEY' (each signer), then 'drydock policy push FILE.wasm --signature FILE.wasm.sig'")
                .hint("Or add signatures to the stored version: 'drydock policy add-signature ID FILE.wasm.sig'"),
            (403, _) => err.hint("This needs a sys_admin: run it with a sys_admin's credentials"),
            (503, "maintenance_mode_active") => {
                let err = err
                    .hint("Wait until maintenance mode is over; 'drydock maintenance-mode status' shows it")
                    .hint("A sys_admin ends it with 'drydock maintenance-mode deactivate'");
                retry_hint(err, reply)
            }
            (503, "entering_maintenance_mode") => {
                let err = err
                    .hint("drydock is entering maintenance mode and starts no new work; 'drydock maintenance-mode status -v' shows what it waits for")
                    .hint("A sys_admin cancels it with 'drydock maintenance-mode deactivate'");
                retry_hint(err, reply)
            }
            _ => err,
        }
    }
}

fn retry_hint(err: CliError, reply: &Reply) -> CliError {
    match &reply.retry_after {
        Some(secs) => err.hint(format!("The server suggests retrying after {secs} s")),
        None => err,
    }
}

/// A path segment, percent-encoded (ids come from the command line).
pub fn seg(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::{EventStream, MAX_EVENT_BYTES, decode_body};
    use serde_json::{Value, json};

    #[test]
    fn events_are_split_at_blank_lines_with_their_names_and_joined_data() {
        let mut s = EventStream::default();
        let mut got = Vec::new();
        for line in ["event: state", "data: {\"status\":", "data: \"activated\"}", "", ": comment", "", "data: plain", ""] {
            got.extend(s.line(line));
        }
        assert_eq!(got, vec![("state".to_string(), json!({"status": "activated"})), ("message".to_string(), json!("plain"))]);
    }

    #[test]
    fn an_event_that_never_ends_stops_growing() {
        let mut s = EventStream::default();
        let chunk = "x".repeat(64 * 1024);
        for _ in 0..64 {
            assert!(s.line(&format!("data: {chunk}")).is_none());
        }
        let (_, data) = s.line("").expect("the event ends");
        assert!(data.as_str().unwrap().len() < MAX_EVENT_BYTES, "{}", data.as_str().unwrap().len());
    }

    #[test]
    fn bodies_are_json_when_they_are_json() {
        assert_eq!(decode_body(" \n".into()), Value::Null);
        assert_eq!(decode_body("{\"a\": 1}".into()), json!({"a": 1}));
        assert_eq!(decode_body("<html>".into()), json!("<html>"));
    }
}
