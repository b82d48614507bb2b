//! A small in-memory todo API that has nothing to do with Cloudify, gated by drydock.
//!
//! ```sh
//! cargo run --release -p drydock-gate --example todo                       # embedded default policy
//! cargo run --release -p drydock-gate --example todo -- --policy my.wasm   # watch a file, swap live
//! cargo run --release -p drydock-gate --example todo -- --policy my.wasm --export strict  # swap it
//! ```
//!
//! What it shows:
//! - the gate as a tower layer on an ordinary axum router, with its own routes
//!   (no API prefix: the policy sees `todos/{id}`), its own admin floor (`admin`)
//!   and its own state ([`SharedState`]);
//! - who is asking, told to the gate by a middleware that inserts a [`Caller`]
//!   (here from `X-User`/`X-Role` headers, a demo and not an authentication scheme);
//! - the policy file watched off the request path: on every change it is loaded
//!   (validated, compiled, smoke-tested) on the watcher thread and swapped in with one
//!   atomic store; a file that does not load is reported and the old policy stays;
//! - the gate's metrics (`drydock_gate::metrics`, the same `drydock serve` exports), fed by a gate observer and served on
//!   `GET /metrics` outside the gate, in the same Prometheus text as `drydock serve`.
//!
//! Try it:
//! ```sh
//! curl -s localhost:3000/todos -H 'x-user: alice' -d '{"title":"write docs"}' -H 'content-type: application/json'
//! curl -si localhost:3000/todos -H 'x-user: alice'
//! curl -s -X PUT localhost:3000/admin/maintenance -H 'x-user: root' -H 'x-role: sys_admin' \
//!      -H 'content-type: application/json' -d '{"state":"activated"}'
//! curl -si localhost:3000/todos -H 'x-user: alice'            # 503 maintenance_mode_active
//! cargo run --release -p drydock-gate --example todo -- --policy my.wasm --export strict
//! curl -si localhost:3000/todos -H 'x-user: alice'            # 503 from the strict policy, Retry-After
//! ```
//!
//! Any component exporting the `drydock:policy/policy` world will do
//! (`drydock policy build` makes one from a policy crate).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Extension, Json, Router};
use clap::Parser;
use drydock_engine::{DEFAULT_POLICY, Engine, Fault, Limits, Policy, STRICT_POLICY, Slots};
use drydock_gate::{
    Caller, Decision, ExecutionStatus, FailMode, Gate, GateConfig, MaintenanceState, Observer, POLICY_HEADER, Published,
    RequestView, Role, SharedState, StateSource,
};
use drydock_gate::metrics::{Metrics, Scrape};
use serde::{Deserialize, Serialize};

#[derive(Parser, Debug)]
#[command(about = "An in-memory todo API gated by a drydock policy component")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// A policy component (.wasm) to use and watch; without one, the embedded
    /// default policy (Cloudify's rules). A missing file is created with the
    /// embedded default in it.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Write an embedded policy (`default` or `strict`) to the --policy file and
    /// exit: a running instance watching that file swaps it in.
    #[arg(long, value_name = "NAME", requires = "policy")]
    export: Option<String>,
    /// How often to look at the policy file, in milliseconds.
    #[arg(long, default_value_t = 500)]
    poll_ms: u64,
    /// Admit requests when the policy cannot decide (default: refuse them).
    #[arg(long)]
    fail_open: bool,
    /// Do not print a line per request.
    #[arg(long)]
    quiet: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let (Some(name), Some(path)) = (&args.export, &args.policy) {
        let bytes = match name.as_str() {
            "default" => DEFAULT_POLICY,
            "strict" => STRICT_POLICY,
            other => anyhow::bail!("--export {other}: the embedded policies are `default` and `strict`"),
        };
        // Write beside it and rename, so a watcher never reads half a file.
        let tmp = path.with_extension("wasm.tmp");
        std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
        println!("todo: wrote the embedded {name} policy ({} bytes) to {}", bytes.len(), path.display());
        return Ok(());
    }
    if let Some(path) = args.policy.as_ref().filter(|p| !p.exists()) {
        std::fs::write(path, DEFAULT_POLICY).with_context(|| format!("cannot write {}", path.display()))?;
        println!("todo: {} did not exist; wrote the embedded default policy there", path.display());
    }

    // 1. The engine and the first policy: everything slow happens here.
    let engine = Engine::new(Limits::default())?;
    let (first, origin) = match &args.policy {
        Some(path) => {
            let bytes = std::fs::read(path).with_context(|| format!("cannot read policy {}", path.display()))?;
            let policy = engine.load(&bytes).with_context(|| format!("policy {} does not load", path.display()))?;
            (policy, format!("from {}", path.display()))
        }
        None => (engine.load(DEFAULT_POLICY)?, "embedded default".to_string()),
    };
    println!("todo: policy {} ({origin})", first.label());
    let slots = Arc::new(Slots::new(Arc::new(first)));

    // 2. The state the policy decides under, and the gate's view of our routes.
    let state = Arc::new(SharedState::new());
    let config = GateConfig::default()
        .with_admin_floor(&["admin"])
        .with_fail_mode(if args.fail_open { FailMode::Open } else { FailMode::Closed });
    let metrics = Arc::new(Metrics::new());
    let gate = Gate::new(slots.clone(), state.clone(), config).with_observer(Arc::new(Counting(metrics.clone())));

    // 3. Watch the policy file, off the request path.
    match &args.policy {
        Some(path) => {
            let (engine, slots, metrics, path) = (engine.clone(), slots.clone(), metrics.clone(), path.clone());
            let every = Duration::from_millis(args.poll_ms.max(10));
            println!("todo: watching {} every {} ms; write a new component there to swap it live", path.display(), every.as_millis());
            std::thread::Builder::new()
                .name("policy-watch".into())
                .spawn(move || watch(&engine, &slots, &metrics, &path, every))?;
        }
        None => println!("todo: not watching a file (pass --policy FILE to swap policies live)"),
    }

    // 4. The application, with the gate in front of its routes.
    let app = App { todos: RwLock::new(BTreeMap::new()), next_id: AtomicU64::new(1), state, slots, metrics };
    let router = router(Arc::new(app), &gate, args.quiet);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        println!("todo: listening on http://{addr}");
        println!("todo: try  curl -si http://{addr}/todos -H 'x-user: alice'");
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
                println!("todo: bye");
            })
            .await?;
        anyhow::Ok(())
    })
}

// ---------------------------------------------------------------------------
// The policy watcher

/// What identifies a version of the file cheaply: modification time and size.
fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Poll `path`; when it changed, load it here (this thread, never a request's) and
/// make it active. A file that does not load leaves the active policy in place.
fn watch(engine: &Engine, slots: &Slots, metrics: &Metrics, path: &Path, every: Duration) {
    let mut seen = stamp(path);
    loop {
        std::thread::sleep(every);
        let now = stamp(path);
        if now == seen {
            continue;
        }
        seen = now;
        let Ok(bytes) = std::fs::read(path) else {
            println!("todo: policy file {} is gone; keeping {}", path.display(), slots.active().label());
            continue;
        };
        let started = Instant::now();
        match engine.load(&bytes) {
            Ok(policy) if policy.sha256() == slots.active().sha256() => {
                println!("todo: policy file touched, same component ({}); nothing to swap", policy.label());
            }
            Ok(policy) => {
                let loaded_in = started.elapsed();
                let label = policy.label().to_string();
                let old: Arc<Policy> = slots.set_active(Arc::new(policy));
                metrics.swapped();
                println!(
                    "todo: swapped policy {} -> {label} (loaded in {} ms, off the request path)",
                    old.label(),
                    loaded_in.as_millis()
                );
            }
            Err(e) => println!("todo: {} does not load ({e}); keeping {}", path.display(), slots.active().label()),
        }
    }
}

/// Feeds the gate's decisions into drydock's metrics (decisions by policy version
/// and verdict, decision latency, faults, admin-floor admissions).
struct Counting(Arc<Metrics>);

impl Observer for Counting {
    fn decided(&self, policy: &Arc<Policy>, _: &RequestView<'_>, _: &Arc<Published>, decision: &Decision, took: Option<Duration>) {
        self.0.decided(policy, decision, took);
    }
    fn faulted(&self, policy: &Policy, fault: &Fault) {
        self.0.faulted(policy, fault);
    }
    fn floor(&self, _: &RequestView<'_>) {
        self.0.floor();
    }
}

// ---------------------------------------------------------------------------
// The todo application

struct App {
    todos: RwLock<BTreeMap<u64, Todo>>,
    next_id: AtomicU64,
    state: Arc<SharedState>,
    slots: Arc<Slots>,
    metrics: Arc<Metrics>,
}

#[derive(Debug, Clone, Serialize)]
struct Todo {
    id: u64,
    title: String,
    done: bool,
}

#[derive(Deserialize)]
struct NewTodo {
    title: String,
}

#[derive(Deserialize)]
struct TodoPatch {
    title: Option<String>,
    done: Option<bool>,
}

type Shared = State<Arc<App>>;

fn router(app: Arc<App>, gate: &Gate, quiet: bool) -> Router {
    // Outside the gate: a scraper reads it in every maintenance state.
    let unguarded = Router::new().route("/metrics", get(metrics)).with_state(app.clone());
    let router = Router::new()
        .route("/todos", get(list).post(create))
        .route("/todos/{id}", get(show).patch(update).delete(remove))
        .route("/admin/maintenance", get(maintenance).put(set_maintenance))
        .route("/admin/jobs", put(set_jobs))
        // Innermost first: the gate decides with the route template matched...
        .route_layer(gate.layer())
        // ...after this middleware told it who is calling.
        .route_layer(middleware::from_fn(identify))
        .with_state(app)
        .merge(unguarded);
    if quiet { router } else { router.layer(middleware::from_fn(log)) }
}

/// The application's "authentication": `X-User` names the caller, `X-Role: sys_admin`
/// makes them an administrator. Requests without `X-User` are anonymous.
async fn identify(mut req: Request, next: Next) -> Response {
    let caller = {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        header("x-user").map(|username| {
            let role = match header("x-role") {
                None => Role::User,
                Some(r) => Role::parse(r).unwrap_or_else(|| Role::Other(r.to_owned())),
            };
            Caller { username: username.to_owned(), role, bypass: false }
        })
    };
    if let Some(caller) = caller {
        req.extensions_mut().insert(caller);
    }
    next.run(req).await
}

/// One line per request: who, what, the answer, and which policy decided.
async fn log(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let who = req.headers().get("x-user").and_then(|v| v.to_str().ok()).unwrap_or("anonymous").to_owned();
    let resp = next.run(req).await;
    let policy = resp.headers().get(POLICY_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("-");
    println!("todo: {method} {path} as {who} -> {} [{policy}]", resp.status().as_u16());
    resp
}

async fn metrics(State(app): Shared) -> Response {
    let (published, active) = (app.state.current(), app.slots.active());
    let text = app.metrics.render(&Scrape { snapshot: &published.snapshot, active: &active, shadow: None });
    ([("content-type", "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

async fn list(State(app): Shared) -> Json<Vec<Todo>> {
    Json(app.todos.read().unwrap().values().cloned().collect())
}

async fn create(State(app): Shared, Json(new): Json<NewTodo>) -> (StatusCode, Json<Todo>) {
    let id = app.next_id.fetch_add(1, Ordering::Relaxed);
    let todo = Todo { id, title: new.title, done: false };
    app.todos.write().unwrap().insert(id, todo.clone());
    (StatusCode::CREATED, Json(todo))
}

async fn show(State(app): Shared, UrlPath(id): UrlPath<u64>) -> Result<Json<Todo>, StatusCode> {
    app.todos.read().unwrap().get(&id).cloned().map(Json).ok_or(StatusCode::NOT_FOUND)
}

async fn update(State(app): Shared, UrlPath(id): UrlPath<u64>, Json(patch): Json<TodoPatch>) -> Result<Json<Todo>, StatusCode> {
    let mut todos = app.todos.write().unwrap();
    let todo = todos.get_mut(&id).ok_or(StatusCode::NOT_FOUND)?;
    if let Some(title) = patch.title {
        todo.title = title;
    }
    if let Some(done) = patch.done {
        todo.done = done;
    }
    Ok(Json(todo.clone()))
}

async fn remove(State(app): Shared, UrlPath(id): UrlPath<u64>) -> StatusCode {
    match app.todos.write().unwrap().remove(&id) {
        Some(_) => StatusCode::NO_CONTENT,
        None => StatusCode::NOT_FOUND,
    }
}

#[derive(Deserialize)]
struct SetMaintenance {
    state: String,
}

#[derive(Deserialize)]
struct SetJobs {
    /// Background jobs still running (the policy sees them as `started` executions).
    running: u32,
}

/// The admin routes are on the gate's admin floor: a sys_admin always reaches them,
/// whatever the policy says. Everyone else is refused here.
fn refused_unless_admin(caller: Option<Extension<Caller>>) -> Option<Response> {
    match caller {
        Some(Extension(c)) if c.role.is_admin() => None,
        _ => Some((StatusCode::FORBIDDEN, "sys_admin only (send X-User and X-Role: sys_admin)\n").into_response()),
    }
}

async fn maintenance(State(app): Shared) -> Json<serde_json::Value> {
    let now = app.state.current();
    Json(serde_json::json!({
        "state": now.snapshot.state.as_str(),
        "version": now.version,
        "running_jobs": now.snapshot.executions.total(),
        "policy": app.slots.active().label(),
    }))
}

async fn set_maintenance(State(app): Shared, caller: Option<Extension<Caller>>, Json(body): Json<SetMaintenance>) -> Response {
    if let Some(refused) = refused_unless_admin(caller) {
        return refused;
    }
    let Some(state) = MaintenanceState::parse(&body.state) else {
        return (StatusCode::BAD_REQUEST, "state: deactivated, activating or activated\n").into_response();
    };
    let version = app.state.set_state(state);
    println!("todo: maintenance state is now {} (version {version})", state.as_str());
    maintenance(State(app)).await.into_response()
}

async fn set_jobs(State(app): Shared, caller: Option<Extension<Caller>>, Json(body): Json<SetJobs>) -> Response {
    if let Some(refused) = refused_unless_admin(caller) {
        return refused;
    }
    let version = app.state.set_execution_count(ExecutionStatus::Started, body.running);
    println!("todo: {} background jobs running (version {version})", body.running);
    maintenance(State(app)).await.into_response()
}
