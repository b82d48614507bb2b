//! Both backends for the tests: the embedded SQLite in a temporary folder, and a
//! fresh database on the PostgreSQL server named by `DRYDOCK_TEST_DATABASE_URL`
//! (scripts/test.sh starts a throwaway one). Without that variable the PostgreSQL
//! half fails, saying how to get one: a backend left out must not pass unseen.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::Store;
use super::postgres::{PgOptions, PgStore};
use super::sqlite::SqliteStore;

pub struct Backend {
    pub name: &'static str,
    pub store: Arc<dyn Store>,
    /// The data folder (SQLite's file lives here): removed when the backend drops.
    _dir: tempfile::TempDir,
    /// The database's URL (PostgreSQL), so a test can open a second host on it.
    pub url: Option<String>,
}

/// The server every PostgreSQL test creates its databases on.
pub fn server_url() -> String {
    std::env::var("DRYDOCK_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "set DRYDOCK_TEST_DATABASE_URL to a PostgreSQL server you may create databases on, \
             or run scripts/test.sh (it starts a throwaway one: scripts/postgres.sh start DIR)"
        )
    })
}

/// A new, empty database on the test server; its URL.
pub fn fresh_database() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!("drydock_u_{}_{}_{:08x}", std::process::id(), N.fetch_add(1, Ordering::Relaxed), rand::random::<u32>());
    super::postgres::create_database(&server_url(), &name).expect("create a test database")
}

/// Another host on the same PostgreSQL database.
pub fn pg_host(url: &str, host: &str) -> Arc<dyn Store> {
    Arc::new(PgStore::open(url, host, PgOptions::default()).expect("open the PostgreSQL store"))
}

pub fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    Backend {
        name: "sqlite",
        store: Arc::new(SqliteStore::open(dir.path()).unwrap()),
        _dir: dir,
        url: None,
    }
}

pub fn postgres() -> Backend {
    let url = fresh_database();
    Backend {
        name: "postgres",
        store: pg_host(&url, "host-a"),
        _dir: tempfile::tempdir().unwrap(),
        url: Some(url),
    }
}

pub fn backends() -> Vec<Backend> {
    vec![sqlite(), postgres()]
}
