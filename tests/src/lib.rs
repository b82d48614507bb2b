//! The end-to-end harness: start the real `drydock` binary on a free loopback port,
//! talk to it over real HTTP, stop it when done.

pub mod postgres;

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-secret";

/// The workspace root (this crate lives in `tests/`).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target"))
}

/// The `drydock` binary, built once per test process: a no-op when up to date, as
/// `scripts/test.sh` builds exactly this first. With the test command's own
/// selection (`-p drydock` alone unifies features differently, and cargo would
/// compile a second variant of many crates inside the first test), and without the
/// variables `cargo test` sets for this process (`CARGO_PKG_*`, `CARGO_MANIFEST_DIR`,
/// ...): a nested cargo that saw them would rebuild build scripts that read them.
pub fn binary() -> PathBuf {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = cargo_command(&cargo)
            .args(["build", "-q", "--workspace", "--all-targets"])
            .current_dir(workspace())
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build of the drydock binary failed");
    });
    target_dir().join("debug").join("drydock")
}

/// `program` (cargo, or a tool that runs it) without what `cargo test` set for
/// this test process; what a person set (`CARGO_HOME`, `CARGO_TARGET_DIR`,
/// `CARGO_BUILD_*`, `CARGO_PROFILE_*`) stays.
pub fn cargo_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        let set_by_cargo_test = (k.starts_with("CARGO_") || k == "OUT_DIR")
            && !["CARGO_HOME", "CARGO_TARGET_DIR"].contains(&k.as_ref())
            && !k.starts_with("CARGO_BUILD_")
            && !k.starts_with("CARGO_PROFILE_")
            && !k.starts_with("CARGO_REGISTRIES_")
            && !k.starts_with("CARGO_NET_");
        if set_by_cargo_test {
            cmd.env_remove(k.as_ref());
        }
    }
    cmd
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The reference error shape's `error_code`.
    pub fn error_code(&self) -> String {
        self.json()["error_code"].as_str().unwrap_or_default().to_string()
    }
}

/// A running server; stopped (and its data removed) on drop.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    extra_args: Vec<String>,
    log: PathBuf,
}

pub struct Client {
    agent: ureq::Agent,
    base: String,
    auth: Option<String>,
    headers: Vec<(String, String)>,
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(&[])
    }

    /// Start with extra `serve` arguments, on a fresh data directory.
    pub fn start_with(args: &[&str]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        let log = tmp.path().join("server.log");
        let mut s = Server {
            child: None,
            port: free_port(),
            data_dir,
            _tmp: Some(tmp),
            extra_args: args.iter().map(|s| s.to_string()).collect(),
            log,
        };
        s.spawn().unwrap_or_else(|e| panic!("{e}"));
        s
    }

    /// Start the process, wait until it answers. Returns the failure (with the log) if
    /// it exits or does not answer in time.
    pub fn spawn(&mut self) -> Result<(), String> {
        self.launch();
        self.wait_ready_or_move()
    }

    /// [`Server::wait_ready`], but when the port was taken meanwhile (free ports are
    /// picked by binding and letting go, so another process — an outgoing
    /// connection, even — can take one first), start again on another.
    fn wait_ready_or_move(&mut self) -> Result<(), String> {
        for _ in 0..3 {
            match self.wait_ready() {
                Err(e) if e.contains("cannot listen on") => {
                    self.port = free_port();
                    self.launch();
                }
                other => return other,
            }
        }
        self.wait_ready()
    }

    /// Start the process without waiting for it.
    pub fn launch(&mut self) {
        let log = std::fs::File::create(&self.log).unwrap();
        let child = Command::new(binary())
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.extra_args)
            .env("DRYDOCK_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("DRYDOCK_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// Wait until the launched process answers (60 s at most).
    pub fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let Some(child) = self.child.as_mut() else { return Err("drydock was not started".into()) };
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return Err(format!("drydock exited with {status}: {}", self.log_text()));
            }
            if let Ok(r) = self.anon().req("GET", "/api/v3.1/ok").try_send()
                && r.status == 200
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("drydock did not answer within 60 s: {}", self.log_text()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `n` servers with the same extra arguments (say, one `--database-url`), each
    /// on its own port and data directory, all started at the same moment.
    pub fn start_many(n: usize, args: &[&str]) -> Vec<Server> {
        let mut servers: Vec<Server> = (0..n)
            .map(|_| {
                let tmp = tempfile::tempdir().unwrap();
                Server {
                    child: None,
                    port: free_port(),
                    data_dir: tmp.path().join("data"),
                    log: tmp.path().join("server.log"),
                    _tmp: Some(tmp),
                    extra_args: args.iter().map(|s| s.to_string()).collect(),
                }
            })
            .collect();
        servers.iter_mut().for_each(Server::launch);
        for s in &mut servers {
            s.wait_ready_or_move().unwrap_or_else(|e| panic!("{e}"));
        }
        servers
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stop gracefully (SIGTERM) and wait.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kill without warning (SIGKILL), as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn().unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A client authenticated as the first admin.
    pub fn admin(&self) -> Client {
        self.client(ADMIN, ADMIN_PASSWORD)
    }

    pub fn client(&self, user: &str, password: &str) -> Client {
        let mut c = self.anon();
        c.auth = Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        ));
        c
    }

    pub fn anon(&self) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Client { agent, base: self.base(), auth: None, headers: vec![("Tenant".into(), "default_tenant".into())] }
    }

    /// Create a non-admin user, a member of the default tenant with the tenant role
    /// `user`, and return a client for it.
    pub fn user(&self, name: &str) -> Client {
        let r = self.admin().put(
            "/api/v3.1/users",
            &serde_json::json!({"username": name, "password": "user-secret", "role": "default"}),
        );
        assert_eq!(r.status, 201, "create user: {}", r.text);
        self.member(name, "default_tenant", "user");
        self.client(name, "user-secret")
    }

    /// Create a tenant (as the admin).
    pub fn tenant(&self, name: &str) {
        let r = self.admin().post(&format!("/api/v3.1/tenants/{name}"), &serde_json::json!({}));
        assert_eq!(r.status, 201, "create tenant {name}: {}", r.text);
    }

    /// Make `user` a member of `tenant` with `role` (as the admin).
    pub fn member(&self, user: &str, tenant: &str, role: &str) {
        let r = self.admin().put(
            "/api/v3.1/tenants/users",
            &serde_json::json!({"username": user, "tenant_name": tenant, "role": role}),
        );
        assert_eq!(r.status, 200, "add {user} to {tenant} as {role}: {}", r.text);
    }

    /// Open the server's database (read-only checks after the fact).
    pub fn database(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data_dir.join("drydock.sqlite3")).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The server's side of a failing test.
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- drydock server log (last lines) ---");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
        self.stop();
    }
}

/// A request being built.
pub struct Req<'a> {
    client: &'a Client,
    method: &'static str,
    path: String,
    body: Option<Vec<u8>>,
    headers: Vec<(String, String)>,
}

impl<'a> Req<'a> {
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }

    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.body = Some(bytes.into());
        self
    }

    pub fn json(self, v: &Value) -> Self {
        self.header("Content-Type", "application/json").body(v.to_string())
    }

    pub fn try_send(self) -> Result<Resp, ureq::Error> {
        let mut b = http::Request::builder().method(self.method).uri(format!("{}{}", self.client.base, self.path));
        if let Some(a) = &self.client.auth {
            b = b.header("Authorization", a);
        }
        for (k, v) in self.client.headers.iter().chain(self.headers.iter()) {
            b = b.header(k, v);
        }
        let resp = self.client.agent.run(b.body(self.body.unwrap_or_default()).unwrap())?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let mut text = String::new();
        resp.into_body().into_reader().read_to_string(&mut text).ok();
        Ok(Resp { status, headers, text })
    }

    pub fn send(self) -> Resp {
        let what = format!("{} {}", self.method, self.path);
        self.try_send().unwrap_or_else(|e| panic!("{what}: {e}"))
    }
}

impl Client {
    pub fn with_header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }

    /// The same client acting in `tenant` (its `Tenant` header replaced).
    pub fn in_tenant(mut self, tenant: &str) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("tenant"));
        self.headers.push(("Tenant".into(), tenant.into()));
        self
    }

    pub fn req(&self, method: &'static str, path: &str) -> Req<'_> {
        Req { client: self, method, path: path.to_string(), body: None, headers: Vec::new() }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.req("GET", path).send()
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.req("DELETE", path).send()
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.req("POST", path).json(body).send()
    }

    pub fn put(&self, path: &str, body: &Value) -> Resp {
        self.req("PUT", path).json(body).send()
    }

    pub fn patch(&self, path: &str, body: &Value) -> Resp {
        self.req("PATCH", path).json(body).send()
    }

    // ---- the manager's vocabulary ----

    pub fn create_deployment(&self, id: &str) -> Resp {
        self.put(&format!("/api/v3.1/deployments/{id}"), &serde_json::json!({"blueprint_id": "bp"}))
    }

    /// Start an execution; returns the response (201 with the execution, or a refusal).
    pub fn start_execution(&self, deployment: &str, workflow: &str, params: Value) -> Resp {
        self.post(
            "/api/v3.1/executions",
            &serde_json::json!({"deployment_id": deployment, "workflow_id": workflow, "parameters": params}),
        )
    }

    pub fn maintenance(&self) -> Value {
        let r = self.get("/api/v3.1/maintenance");
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()
    }

    /// Poll until `f` holds, or panic after `secs`.
    pub fn wait_for(&self, secs: u64, what: &str, mut f: impl FnMut(&Client) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !f(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

// ---- the drydock CLI as a client (tests/tests/cli.rs) ----

/// What one run of the `drydock` CLI printed, and how it exited (-1: killed by a signal).
#[derive(Debug, Clone)]
pub struct CliOutput {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// A `drydock` command with exactly the given `DRYDOCK_*` variables: any in the test's
/// own environment are removed, so a run never picks up a developer's settings.
pub fn cli_command(env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = Command::new(binary());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("DRYDOCK_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied()).args(args).stdin(Stdio::null());
    cmd
}

/// Run `drydock ARGS` to completion (see [`cli_command`]).
pub fn run_cli(env: &[(&str, &str)], args: &[&str]) -> CliOutput {
    let out = cli_command(env, args).output().expect("run the drydock binary");
    CliOutput {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

impl Server {
    /// The server process's id, while it runs (to read `/proc/PID/status`).
    /// The server's `--data-dir`.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

/// `drydock maintenance-mode watch --json` against `s`, as the admin: each event it
/// prints, parsed, on the receiver (the state at once, then each change).
pub fn watching(s: &Server) -> (Child, std::sync::mpsc::Receiver<Value>) {
    use std::io::BufRead;
    let base = s.base();
    let env = [("DRYDOCK_URL", base.as_str()), ("DRYDOCK_USERNAME", "admin"), ("DRYDOCK_PASSWORD", ADMIN_PASSWORD)];
    let mut child = cli_command(&env, &["maintenance-mode", "watch", "--json"]).stdout(Stdio::piped()).spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(serde_json::from_str::<Value>(&line).unwrap()).is_err() {
                return;
            }
        }
    });
    (child, rx)
}
