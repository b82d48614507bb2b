//! `drydock serve`: open the database, load the policy, serve the API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::api::{self, App};
use crate::auth::{Authenticator, hash_password};
use drydock_engine::{Engine, Limits};
use drydock_gate::{FailMode, Gate, Role};
use crate::manager::Manager;
use drydock_gate::metrics::Metrics;
use crate::registry::{Registry, StartupPolicy};
use crate::store::postgres::{PgOptions, PgStore};
use crate::store::sqlite::SqliteStore;
use crate::store::{Ledger, Store, User};
use crate::listen::{self, ListenOptions};
use crate::{clock, follow, timestamp, worker};

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// The embedded database (unless `database_url`) and the compiled-policy cache.
    pub data_dir: PathBuf,
    /// A PostgreSQL database shared by several hosts, instead of the embedded one.
    pub database_url: Option<String>,
    /// Connections to it at most.
    pub database_pool_size: usize,
    /// Come up in maintenance mode (for upgrades), with this reason if any.
    pub start_in_maintenance: Option<Option<String>>,
    /// A policy component to use instead of the embedded default.
    pub policy: Option<PathBuf>,
    pub admin_user: String,
    pub admin_password: Option<String>,
    pub limits: Limits,
    pub fail_mode: FailMode,
    /// Connection handling: header deadline (and idle keep-alive), connection cap.
    pub connections: ListenOptions,
    /// Following other hosts on a shared database: how often the generations are
    /// compared (the safety net), and whether the `LISTEN/NOTIFY` feed is used.
    pub follow: follow::FollowOptions,
    /// How long one event stream is served before it ends (its client reconnects).
    pub event_stream_lifetime: std::time::Duration,
    /// The decision log (`None`: off).
    pub decision_log: Option<crate::decisions::LogOptions>,
    /// The keys trusted to sign policies, and what is required of a version.
    pub trust: crate::trust::Trust,
    /// The most any version's budget may be.
    pub ceiling: crate::registry::budget::Ceiling,
}

/// The signatures of a `--policy FILE`: `FILE.sig` beside it, when there is one.
fn startup_signatures(path: &std::path::Path) -> anyhow::Result<Vec<crate::trust::Signature>> {
    use crate::trust::Signature;
    Ok(Signature::read_file(&Signature::file_beside(path))?)
}

/// First start: create the admin, or explain how to.
fn bootstrap_admin(manager: &Manager, opts: &ServeOptions) -> anyhow::Result<()> {
    if !manager.store().users()?.is_empty() {
        return Ok(());
    }
    let Some(password) = opts.admin_password.as_deref().filter(|p| !p.is_empty()) else {
        bail!(
            "no admin user exists yet and no password was given for one.\n\
             Set one with --admin-password PASSWORD or the DRYDOCK_ADMIN_PASSWORD environment variable \
             (the user is `{}`; change it with --admin-user).",
            opts.admin_user
        );
    };
    let user = User {
        username: opts.admin_user.clone(),
        password_hash: hash_password(password)?,
        role: Role::SysAdmin,
        created_at: timestamp::now(),
    };
    if manager.create_first_user(&user)? {
        tracing::info!(user = %opts.admin_user, "created the first admin user");
    }
    Ok(())
}

/// This host's name for its compiled-artifact cache in a shared database: made
/// once, kept in the data directory.
fn host_id(data_dir: &std::path::Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let path = data_dir.join("host-id");
    if let Ok(id) = std::fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_string());
    }
    let id = uuid::Uuid::new_v4().to_string();
    std::fs::write(&path, &id).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}

/// Everything `serve` builds before it listens; tests and embedders can reuse it.
pub struct Server {
    pub app: Arc<App>,
    pub router: axum::Router,
    worker_queue: tokio::sync::mpsc::UnboundedReceiver<String>,
    connections: ListenOptions,
    follow: follow::FollowOptions,
}

impl Server {
    pub fn build(opts: &ServeOptions) -> anyhow::Result<Server> {
        let (store, database): (Arc<dyn Store>, String) = match &opts.database_url {
            None => {
                let sqlite = SqliteStore::open(&opts.data_dir)?;
                let path = sqlite.path().display().to_string();
                (Arc::new(sqlite), path)
            }
            Some(url) => {
                let pg = PgStore::open(
                    url,
                    &host_id(&opts.data_dir)?,
                    PgOptions { pool_size: opts.database_pool_size, feed: opts.follow.feed, ..PgOptions::default() },
                )?;
                let target = format!("postgres://{}", pg.target());
                tracing::info!(database = %target, "using the shared database");
                (Arc::new(pg), target)
            }
        };
        let (manager, worker_queue) = Manager::open(store.clone())?;
        bootstrap_admin(&manager, opts)?;
        if let Some(reason) = &opts.start_in_maintenance {
            let reason = api::maintenance::parse_reason(reason.as_deref())
                .map_err(|e| anyhow::anyhow!("--maintenance-reason: {e}"))?;
            let state = manager.start_in_maintenance(reason)?;
            tracing::info!(state = state.as_str(), "started in maintenance mode");
        }

        let cache_dir = opts.data_dir.join("cache");
        let engine = Engine::new(opts.limits)?.with_cache(cache_dir.clone(), Arc::new(Ledger(store.clone())));
        // The registry restores the active version from the database; a
        // `--policy FILE` is stored as a version and activated.
        let startup = match &opts.policy {
            Some(path) => Some(StartupPolicy {
                path,
                bytes: std::fs::read(path).with_context(|| format!("cannot read policy {}", path.display()))?,
                signatures: startup_signatures(path)?,
            }),
            None => None,
        };
        let metrics = Arc::new(Metrics::new());
        let decisions = match &opts.decision_log {
            Some(o) => {
                let o = crate::decisions::LogOptions { host: opts.listen.to_string(), ..o.clone() };
                Some(crate::decisions::DecisionLog::start(store.clone(), o)?)
            }
            None => None,
        };
        let policies = Registry::open(engine.clone(), store, metrics, Some(cache_dir), startup, opts.trust.clone(), opts.ceiling)?;
        let slots = policies.slots();
        tracing::info!(policy = %slots.active().label(), "policy loaded");

        let gate = Gate::new(
            slots.clone(),
            manager.clone(),
            api::gate_config(opts.fail_mode),
        )
        .with_observer(policies.recorder(decisions.clone()));
        let auth = Authenticator::new(manager.clone())?;
        let app = Arc::new(App {
            manager,
            engine,
            slots,
            policies,
            auth,
            started: Instant::now(),
            database,
            console: Default::default(),
            event_stream_lifetime: opts.event_stream_lifetime,
            secure_cookies: opts.connections.tls.is_some(),
            decisions,
            advertised_host: match opts.listen.ip() {
                ip if ip.is_unspecified() => "127.0.0.1".to_string(),
                ip => ip.to_string(),
            },
        });
        let router = api::router(app.clone(), &gate);
        Ok(Server { app, router, worker_queue, connections: opts.connections.clone(), follow: opts.follow })
    }

    /// Listen until Ctrl-C or SIGTERM.
    pub async fn run(self, listen: SocketAddr) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen} (is another server using it? pick another with --listen)"))?;
        let addr = listener.local_addr()?;
        tokio::spawn(worker::run(self.app.manager.clone(), self.worker_queue));
        tokio::spawn(follow::run(self.app.clone(), self.follow.poll));
        tokio::spawn(clock::run(self.app.manager.clone()));
        let scheme = if self.connections.tls.is_some() { "https" } else { "http" };
        println!("drydock listening on {scheme}://{addr} (policy {})", self.app.slots.active().label());
        if self.connections.tls.is_none() && !addr.ip().is_loopback() {
            tracing::warn!(
                %addr,
                "listening beyond loopback without TLS: passwords (HTTP Basic) travel in clear text to anyone on the network path"
            );
        }
        listen::serve(listener, self.router, self.connections, shutdown_signal()).await.context("server failed")?;
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
