//! `drydock serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use drydock_gate::FailMode;
use drydock_engine::Limits;
use drydock_server::server::{ServeOptions, Server};

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  DRYDOCK_ADMIN_PASSWORD=secret drydock serve --listen 127.0.0.1:8080")]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "DRYDOCK_LISTEN")]
    pub listen: SocketAddr,
    /// Where the embedded database and the compiled-policy cache live.
    #[arg(long, default_value = "./drydock-data", env = "DRYDOCK_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Keep all state in this PostgreSQL database instead of the embedded one, so
    /// several hosts serve as one manager: postgres://USER[:PASSWORD]@HOST:PORT/DB.
    #[arg(long, value_name = "URL", env = "DRYDOCK_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Connections to PostgreSQL at most; a request that finds none free within 2 s
    /// is answered 503.
    #[arg(long, default_value_t = 16, value_name = "N", requires = "database_url")]
    pub database_pool_size: usize,
    /// With --database-url: how often this host compares the database's change
    /// counters with what it has read, the safety net for another host's change
    /// whose notification was lost.
    #[arg(long, default_value_t = 1.0, value_name = "SECS", requires = "database_url")]
    pub follow_poll: f64,
    /// With --database-url: `off` stops listening for other hosts' changes
    /// (LISTEN/NOTIFY), for a connection pooler that does not pass them (pgbouncer
    /// in transaction mode); they are then seen at the next --follow-poll.
    #[arg(long, default_value = "on", value_parser = ["on", "off"], value_name = "on|off", requires = "database_url")]
    pub follow_feed: String,
    /// A policy component (.wasm) to start with instead of the embedded default.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// The first admin's username (created at first start).
    #[arg(long, default_value = "admin", env = "DRYDOCK_ADMIN_USER")]
    pub admin_user: String,
    /// The first admin's password (only needed at first start).
    #[arg(long, env = "DRYDOCK_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// How long one policy decision may run before it is abandoned (the default
    /// for a version whose upload asked for no deadline of its own).
    #[arg(long, default_value_t = 5, value_name = "MS")]
    pub policy_deadline_ms: u64,
    /// Memory cap of one policy instance, in MiB (all its memories together): the
    /// default budget of a version that needs no more.
    #[arg(long, default_value_t = 4, value_name = "MIB")]
    pub policy_memory_mib: usize,
    /// The most memory any version may be given: a version that holds more than
    /// the default at start (Python, JavaScript) gets what it needs, up to this.
    #[arg(long, default_value_t = 32, value_name = "MIB")]
    pub policy_memory_max_mib: usize,
    /// The longest deadline any version's upload may ask for.
    #[arg(long, default_value_t = 50, value_name = "MS")]
    pub policy_deadline_max_ms: u64,
    /// When the policy cannot decide: refuse (closed) or admit (open).
    #[arg(long, default_value = "closed", value_parser = ["closed", "open"])]
    pub policy_fail_mode: String,
    /// A request's headers must arrive within this many seconds; a keep-alive
    /// connection idle this long is closed.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub header_timeout: u64,
    /// An event stream (`GET /maintenance/events`, the console's live updates) ends
    /// after this many seconds, so none is held forever; clients reconnect.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub event_stream_lifetime: u64,
    /// The share of allowed requests the decision log keeps: `off`, `all`, a
    /// percentage (`1%`) or a fraction. Refusals, policy faults and admin-floor
    /// passes are always kept.
    #[arg(long, default_value = "1%", value_name = "SHARE")]
    pub decision_log_sample: String,
    /// `off` keeps no decision log at all.
    #[arg(long, default_value = "on", value_parser = ["on", "off"], value_name = "on|off")]
    pub decision_log: String,
    /// Decisions the log keeps at most (the oldest go first).
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub decision_log_max_rows: u64,
    /// How long the log keeps a decision, in hours.
    #[arg(long, default_value_t = 168, value_name = "HOURS")]
    pub decision_log_max_age: u64,
    /// `user`: the log keeps a digest of each user name instead of the name.
    #[arg(long, value_parser = ["user"], value_name = "user")]
    pub decision_log_mask: Option<String>,
    /// Connections open at once; more wait until one closes.
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key", env = "DRYDOCK_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert", env = "DRYDOCK_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Come up in maintenance mode (activating, or activated when nothing runs): for
    /// upgrades. Recorded in the history as done by `serve`.
    #[arg(long)]
    pub start_in_maintenance: bool,
    /// With --start-in-maintenance: why (shown to every refused client).
    #[arg(long, value_name = "TEXT", requires = "start_in_maintenance")]
    pub maintenance_reason: Option<String>,
    /// Public keys trusted to sign policy versions: a file of key lines, or a
    /// directory of `*.pub` files (`drydock policy keygen` writes them). Read again
    /// at every check: add or remove a key without a restart.
    #[arg(long, value_name = "FILE|DIR", env = "DRYDOCK_TRUSTED_KEYS")]
    pub trusted_keys: Option<PathBuf>,
    /// Only versions signed by trusted keys may be uploaded, activated, shadowed,
    /// rolled back to, started or followed (the builtin is trusted as part of drydock).
    #[arg(long, requires = "trusted_keys")]
    pub require_signed: bool,
    /// With --require-signed: how many distinct trusted keys must have signed.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "require_signed", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub min_signers: u32,
    /// Log lines for people (text) or for a collector (json, one object a line).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

/// Large allocations straight from the kernel and back: a password check allocates
/// about 19 MiB (argon2), and glibc otherwise keeps such blocks in per-thread arenas
/// once freed, so resident memory would grow with every thread that ever hashed.
fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// The text log's fields, each with its control characters escaped (a newline in a
/// user name a client sent cannot start a line of its own that looks like the
/// server's); what is printable stays as it was (`user=admin`). The JSON log escapes
/// by being JSON.
fn escaped_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> {
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        let text = format!("{value:?}");
        let mut safe = String::with_capacity(text.len());
        for c in text.chars() {
            if c.is_control() {
                safe.extend(c.escape_default());
            } else {
                safe.push(c);
            }
        }
        if field.name() == "message" { write!(w, "{safe}") } else { write!(w, "{}={safe}", field.name()) }
    })
    .delimited(" ")
}

pub fn run(args: ServeArgs) -> anyhow::Result<i32> {
    return_large_allocations();
    let filter = tracing_subscriber::EnvFilter::try_from_env("DRYDOCK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tokio_postgres=warn"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if args.log_format == "json" {
        logs.json().init();
    } else {
        // Colour only for a person at a terminal: escape codes garble log files.
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).fmt_fields(escaped_fields()).init();
    }
    let limits = Limits {
        deadline: Duration::from_millis(args.policy_deadline_ms.max(1)),
        memory_bytes: args.policy_memory_mib.max(1) * 1024 * 1024,
        ..Limits::default()
    };
    let opts = ServeOptions {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
        database_pool_size: args.database_pool_size.max(1),
        start_in_maintenance: args.start_in_maintenance.then_some(args.maintenance_reason),
        policy: args.policy,
        admin_user: args.admin_user,
        admin_password: args.admin_password,
        limits,
        fail_mode: FailMode::parse(&args.policy_fail_mode).unwrap_or_default(),
        follow: drydock_server::follow::FollowOptions {
            // At most a day: a larger number is a mistake, not a wish.
            poll: Duration::from_secs_f64(args.follow_poll.clamp(0.01, 86_400.0)),
            feed: args.follow_feed == "on",
        },
        event_stream_lifetime: Duration::from_secs(args.event_stream_lifetime.clamp(1, 86_400)),
        decision_log: match args.decision_log.as_str() {
            "off" => None,
            _ => Some(drydock_server::decisions::LogOptions {
                sample: drydock_server::decisions::Sample::parse(&args.decision_log_sample)
                    .map_err(|e| anyhow::anyhow!("--decision-log-sample: {e}"))?,
                mask_users: args.decision_log_mask.is_some(),
                max_rows: args.decision_log_max_rows.max(1),
                max_age: Duration::from_secs(args.decision_log_max_age.clamp(1, 24 * 3650) * 3600),
                host: String::new(),
            }),
        },
        ceiling: drydock_server::registry::budget::Ceiling {
            memory_bytes: args.policy_memory_max_mib.max(args.policy_memory_mib).max(1) * 1024 * 1024,
            deadline: Duration::from_millis(args.policy_deadline_max_ms.max(args.policy_deadline_ms).max(1)),
        },
        trust: drydock_server::trust::Trust {
            keys: args.trusted_keys.map(drydock_server::trust::KeySource),
            required: args.require_signed,
            min_signers: args.min_signers as usize,
        },
        connections: drydock_server::listen::ListenOptions {
            header_timeout: Duration::from_secs(args.header_timeout.max(1)),
            max_connections: args.max_connections.max(1),
            tls: match (&args.tls_cert, &args.tls_key) {
                (Some(cert), Some(key)) => Some(drydock_server::listen::tls_config(cert, key)?),
                _ => None,
            },
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let server = Server::build(&opts)?;
        server.run(opts.listen).await
    })?;
    Ok(0)
}
