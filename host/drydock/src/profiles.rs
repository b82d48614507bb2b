//! `drydock profiles use|show`: the server's address and credentials, saved in the
//! user's config directory (`$DRYDOCK_CONFIG_DIR`, else e.g. `~/.config/drydock`)
//! in a file only its owner can read.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::client::{API, CliError, CliResult, Client, ConnArgs, DEFAULT_TENANT, Target, normalize_url};
use super::output::print_json;

const FILE: &str = "profiles.json";

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Check the address and credentials against the server, then save them as the
    /// active profile.
    #[command(after_help = "Example:\n  drydock profiles use http://127.0.0.1:8080 -u admin -p secret")]
    Use(UseArgs),
    /// Show the active profile (the password is never printed).
    #[command(after_help = "Example:\n  drydock profiles show --json")]
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct UseArgs {
    /// The server's address, e.g. http://127.0.0.1:8080 (http:// may be left out).
    pub url: String,
    /// The password to save (`-u USER` gives the username).
    #[arg(short = 'p', value_name = "PASSWORD")]
    pub profile_password: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Print JSON (without the password).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub manager: String,
    pub username: String,
    pub password: String,
    #[serde(default = "default_tenant")]
    pub tenant: String,
}

fn default_tenant() -> String {
    DEFAULT_TENANT.to_string()
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Store {
    active: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

fn config_dir() -> CliResult<PathBuf> {
    if let Some(d) = std::env::var_os("DRYDOCK_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    dirs::config_dir()
        .map(|d| d.join("drydock"))
        .ok_or_else(|| CliError::failed("cannot find your config directory").hint("Set DRYDOCK_CONFIG_DIR"))
}

fn path() -> CliResult<PathBuf> {
    Ok(config_dir()?.join(FILE))
}

fn load() -> CliResult<Store> {
    let p = path()?;
    match std::fs::read_to_string(&p) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            CliError::failed(format!("cannot read the profiles in {}: {e}", p.display()))
                .hint(format!("Fix or delete {}, then run 'drydock profiles use' again", p.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Store::default()),
        Err(e) => Err(CliError::failed(format!("cannot read {}: {e}", p.display()))),
    }
}

/// Write the whole file with owner-only permissions (a new file, then a rename).
fn save(store: &Store) -> CliResult<PathBuf> {
    let dir = config_dir()?;
    let p = dir.join(FILE);
    let fail = |e: std::io::Error| CliError::failed(format!("cannot save the profile to {}: {e}", p.display()));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&dir).map_err(fail)?;
    let tmp = dir.join(format!(".{FILE}.{}", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let text = serde_json::to_string_pretty(store).expect("profiles serialize");
    let written = opts.open(&tmp).and_then(|mut f| {
        #[cfg(unix)]
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, &p)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    Ok(p)
}

/// The active profile, if one was saved.
pub fn active() -> CliResult<Option<Profile>> {
    let store = load()?;
    Ok(store.active.as_ref().and_then(|a| store.profiles.get(a)).cloned())
}

pub fn run(conn: &ConnArgs, cmd: Cmd) -> CliResult {
    match cmd {
        Cmd::Use(args) => use_profile(conn, args),
        Cmd::Show(args) => show(args),
    }
}

fn use_profile(conn: &ConnArgs, args: UseArgs) -> CliResult {
    let manager = normalize_url(&args.url)?;
    let username = conn.username.clone().ok_or_else(|| {
        CliError::usage("`profiles use` needs a username: -u USER")
            .hint(format!("drydock profiles use {manager} -u admin -p PASSWORD"))
    })?;
    let password = args.profile_password.or_else(|| conn.password.clone()).ok_or_else(|| {
        CliError::usage("`profiles use` needs a password: -p PASSWORD")
            .hint(format!("drydock profiles use {manager} -u {username} -p PASSWORD"))
    })?;
    let tenant = conn.tenant.clone().unwrap_or_else(default_tenant);
    println!("Connecting to drydock at {manager} as {username}...");
    let client = Client::new(Target {
        base: manager.clone(),
        username: Some(username.clone()),
        password: Some(password.clone()),
        tenant: tenant.clone(),
        ca_file: conn.ca_file.clone(),
    })?;
    client.get(&format!("{API}/status")).map_err(|e| {
        let hints = if e.status == Some(401) {
            vec![format!(
                "Check the username and password, then run 'drydock profiles use {manager} -u USER -p PASSWORD' again"
            )]
        } else {
            e.hints
        };
        CliError { message: format!("Can't use drydock at {manager}: {}", e.message), hints, ..e }
    })?;
    let mut store = load()?;
    store.profiles.insert(
        manager.clone(),
        Profile { manager: manager.clone(), username: username.clone(), password, tenant: tenant.clone() },
    );
    store.active = Some(manager.clone());
    let p = save(&store)?;
    println!("Using drydock at {manager} as {username} (tenant {tenant}).");
    println!("Saved to {}; later commands need no connection flags.", p.display());
    Ok(())
}

fn show(args: ShowArgs) -> CliResult {
    let p = path()?;
    let Some(profile) = active()? else {
        if args.json {
            print_json(&json!(null));
            return Ok(());
        }
        return Err(CliError::failed("No profile is active.")
            .hint("drydock profiles use http://127.0.0.1:8080 -u admin -p PASSWORD"));
    };
    if args.json {
        print_json(&json!({
            "manager": profile.manager,
            "username": profile.username,
            "tenant": profile.tenant,
            "path": p.display().to_string(),
        }));
        return Ok(());
    }
    println!("Active profile:");
    println!("\tManager:\t{}", profile.manager);
    println!("\tUsername:\t{}", profile.username);
    println!("\tPassword:\t{}", if profile.password.is_empty() { "(none)" } else { "(saved)" });
    println!("\tTenant:\t{}", profile.tenant);
    println!("\tFile:\t{}", p.display());
    Ok(())
}
