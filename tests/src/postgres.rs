//! PostgreSQL for the tests: a fresh database on the shared test server named by
//! `DRYDOCK_TEST_DATABASE_URL` ([`fresh_database`]), or a private server a test can
//! stop and start itself ([`Cluster`]).
//!
//! Everything shells out to the PostgreSQL client and server programs (`psql`,
//! `initdb`, `pg_ctl`). PostgreSQL refuses to run as root, so as root the server
//! programs run as the `postgres` user (through `runuser`), which then owns the
//! server's directory.

use std::ffi::OsStr;
use std::hash::{BuildHasher, Hasher};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

const INSTALL_HINT: &str = "run scripts/test.sh, which installs postgresql";

const NO_URL: &str = "set DRYDOCK_TEST_DATABASE_URL to a PostgreSQL server you may create databases on, \
     or run scripts/test.sh (it starts a throwaway one: scripts/postgres.sh start DIR)";

/// Seconds any one wait on the server may take (`pg_ctl -t`, psql's connect timeout).
const WAIT_SECS: &str = "30";

/// A private PostgreSQL server for one test (stopped and removed on drop). Used where a
/// test must stop and start the database itself.
pub struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
    /// Where initdb, pg_ctl and postgres are.
    bin: PathBuf,
    /// Run the server programs as the `postgres` user (we are root).
    as_postgres: bool,
    running: bool,
}

impl Cluster {
    /// initdb and start on a free 127.0.0.1 port (the flags of scripts/postgres.sh).
    pub fn start() -> Cluster {
        let bin = server_bin_dir().unwrap_or_else(|| {
            panic!("PostgreSQL server programs (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin: {INSTALL_HINT}")
        });
        let dir = tempfile::Builder::new()
            .prefix("drydock-pg-")
            .tempdir()
            .expect("create a temporary directory for PostgreSQL");
        std::fs::create_dir(dir.path().join("sock")).expect("create the socket directory");
        let as_postgres = is_root();
        if as_postgres {
            let mut chown = Command::new("chown");
            chown.arg("-R").arg("postgres:").arg(dir.path());
            run(&mut chown, "chown the PostgreSQL directory to the postgres user");
        }
        let mut cluster = Cluster { dir, port: 0, bin, as_postgres, running: false };

        let mut initdb = cluster.server_command("initdb");
        initdb.arg("-D").arg(cluster.data()).args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
        run(&mut initdb, "initdb");

        // A free port can be taken between picking and binding it: pick again.
        const ATTEMPTS: u32 = 3;
        for attempt in 1..=ATTEMPTS {
            cluster.port = crate::free_port();
            match cluster.pg_ctl_start() {
                Ok(()) => {
                    cluster.running = true;
                    return cluster;
                }
                Err(e) if attempt < ATTEMPTS => {
                    eprintln!("PostgreSQL did not start on port {} (attempt {attempt}), retrying: {e}", cluster.port);
                    // One that did not come up within the timeout may still be starting.
                    let _ = cluster.pg_ctl_stop("immediate");
                }
                Err(e) => panic!("{e}"),
            }
        }
        unreachable!()
    }

    /// `postgres://postgres@127.0.0.1:PORT/DATABASE`
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{}", self.port, percent_encode(database))
    }

    /// CREATE DATABASE `name` (through psql); returns its url.
    pub fn create_database(&self, name: &str) -> String {
        let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        psql(&self.psql(), &self.url("postgres"), &sql);
        self.url(name)
    }

    /// Stop the server (`pg_ctl stop -m fast`) and wait until it is down.
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        self.pg_ctl_stop("fast").unwrap_or_else(|e| panic!("{e}"));
        self.running = false;
    }

    /// Start the stopped server again: same data directory, same port.
    pub fn start_again(&mut self) {
        if self.running {
            return;
        }
        self.pg_ctl_start().unwrap_or_else(|e| panic!("{e}"));
        self.running = true;
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    /// A server program, as a user allowed to run it, from inside the server's
    /// directory (the postgres user may not be able to enter our working directory).
    fn server_command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut cmd = Command::new(runuser());
            cmd.args(["-u", "postgres", "--"]).arg(exe);
            cmd
        } else {
            Command::new(exe)
        };
        cmd.current_dir(self.dir.path()).stdin(Stdio::null());
        cmd
    }

    fn psql(&self) -> PathBuf {
        let next_to_server = self.bin.join("psql");
        if is_executable(&next_to_server) { next_to_server } else { psql_program() }
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let sock = self.dir.path().join("sock");
        // pg_ctl hands -o to a shell: quote the path.
        let options = format!(
            "-p {} -k '{}' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            sock.display()
        );
        let mut cmd = self.server_command("pg_ctl");
        cmd.arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.log())
            .args(["-w", "-t", WAIT_SECS])
            .arg("-o")
            .arg(options)
            .arg("start");
        let out = output(&mut cmd);
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl start failed on port {}: {}\n--- server log:\n{}",
                self.port,
                describe(&out),
                self.log_tail()
            ))
        }
    }

    fn pg_ctl_stop(&self, mode: &str) -> Result<(), String> {
        let mut cmd = self.server_command("pg_ctl");
        cmd.arg("-D").arg(self.data()).args(["-m", mode, "-w", "-t", WAIT_SECS, "stop"]);
        let out = output(&mut cmd);
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("pg_ctl stop -m {mode} failed: {}\n--- server log:\n{}", describe(&out), self.log_tail()))
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // No panics here: this also runs while a failed test unwinds.
        if self.running {
            let _ = self.pg_ctl_stop("immediate");
            self.running = false;
        }
        // The TempDir field then removes the directory.
    }
}

/// A fresh, empty database on the shared test server named by DRYDOCK_TEST_DATABASE_URL
/// (scripts/test.sh provisions one). Each call creates a new database named
/// `drydock_t_<pid>_<counter>_<random>` with `psql "$URL" -c 'CREATE DATABASE ...'` and
/// returns its URL (same user/host/port, that database name).
pub fn fresh_database() -> String {
    let base = std::env::var("DRYDOCK_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| panic!("{NO_URL}"));
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name =
        format!("drydock_t_{}_{}_{:08x}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), random_u32());
    // The name is lower-case letters, digits and underscores: no quoting needed.
    psql(&psql_program(), &base, &format!("CREATE DATABASE {name}"));
    with_database(&base, &name)
}

/// `url` with its database (the path after the host) replaced by `name`; a `?query`
/// is kept.
fn with_database(url: &str, name: &str) -> String {
    let (main, query) = match url.find('?') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let authority_start = match main.find("://") {
        Some(i) => i + 3,
        None => panic!("DRYDOCK_TEST_DATABASE_URL must be a postgres://user@host:port/database URL, not {url:?}"),
    };
    let before_path = match main[authority_start..].find('/') {
        Some(i) => &main[..authority_start + i],
        None => main,
    };
    format!("{before_path}/{}{query}", percent_encode(name))
}

/// Run one SQL statement through psql, failing loudly.
fn psql(psql: &Path, url: &str, sql: &str) {
    let mut cmd = Command::new(psql);
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .arg("-d")
        .arg(url)
        .arg("-c")
        .arg(sql)
        .env("PGCONNECT_TIMEOUT", WAIT_SECS)
        .stdin(Stdio::null());
    run(&mut cmd, &format!("psql {url} -c {sql:?}"));
}

fn run(cmd: &mut Command, what: &str) -> Output {
    let out = output(cmd);
    if !out.status.success() {
        panic!("{what} failed: {}", describe(&out));
    }
    out
}

fn output(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("run {:?}: {e} ({INSTALL_HINT})", cmd.get_program()))
}

fn describe(out: &Output) -> String {
    format!(
        "{}\n--- stdout:\n{}--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The directory of initdb, pg_ctl and postgres: PATH first (symlinks resolved, so the
/// programs are found next to each other), else the newest /usr/lib/postgresql/*/bin.
fn server_bin_dir() -> Option<PathBuf> {
    if let Some(initdb) = find_in_path("initdb") {
        let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
        return real.parent().map(Path::to_path_buf);
    }
    newest_debian_bin().filter(|bin| is_executable(&bin.join("initdb")))
}

/// psql: PATH first, else the newest /usr/lib/postgresql/*/bin.
fn psql_program() -> PathBuf {
    find_in_path("psql")
        .or_else(|| newest_debian_bin().map(|bin| bin.join("psql")).filter(|p| is_executable(p)))
        .unwrap_or_else(|| panic!("psql not found on PATH or in /usr/lib/postgresql/*/bin: {INSTALL_HINT}"))
}

/// The newest /usr/lib/postgresql/VERSION/bin (Debian's layout), by numeric version.
fn newest_debian_bin() -> Option<PathBuf> {
    let version =
        |name: &OsStr| -> Option<Vec<u32>> { name.to_str()?.split('.').map(|part| part.parse().ok()).collect() };
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            Some((version(&entry.file_name())?, entry.path().join("bin")))
        })
        .filter(|(_, bin)| bin.is_dir())
        .max()
        .map(|(_, bin)| bin)
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

fn runuser() -> PathBuf {
    find_in_path("runuser")
        .or_else(|| ["/usr/sbin/runuser", "/sbin/runuser"].into_iter().map(PathBuf::from).find(|p| is_executable(p)))
        .unwrap_or_else(|| panic!("running as root, but runuser (to run PostgreSQL as the postgres user) is not found"))
}

/// Whether this process runs as root (effective uid 0), from /proc/self/status.
fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    // "Uid:\treal\teffective\tsaved\tfilesystem"
    match status.lines().find_map(|line| line.strip_prefix("Uid:")) {
        Some(uids) => uids.split_whitespace().nth(1) == Some("0"),
        None => Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false),
    }
}

/// Random enough to keep database names apart across runs against one server.
fn random_u32() -> u32 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    hasher.finish() as u32
}

/// Percent-encode all but the URL-unreserved characters (a database name in a URL).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
