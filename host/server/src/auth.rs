//! Who is asking: HTTP Basic credentials checked against the users table.
//!
//! Password hashing (argon2) is deliberately slow and memory-hungry, so:
//! - verified credentials are cached (keyed by a digest of the exact username and
//!   password), so a known client pays one map lookup, not a hash; the cache has a
//!   bound and entries a lifetime;
//! - hashes run on a bounded pool: an attempt that cannot get a turn within a
//!   moment gets 503 with `Retry-After`, so a flood of wrong passwords costs bounded
//!   memory and threads; a check, once begun, runs to its end on its own task,
//!   holding its turn until the hash ends and counting a failure, whether or not the
//!   client is still there (hanging up frees nothing early);
//! - an unknown user costs the same hash as a wrong password, so response time does
//!   not tell which users exist;
//! - repeated failures for one user name are answered more and more slowly (never
//!   refused: an attacker cannot lock the admin out), counted in `/metrics`, and
//!   logged without the password.
//!
//! Authentication runs before a request body is read ([`identify`]), so a client
//! that has not authenticated cannot hold the server reading a slow body.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::body::Body;
use axum::extract::State;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use drydock_gate::{Caller, Role};
use http::{Request, header};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::error::Error;
use crate::manager::{Manager, blocking};
use crate::store::TenantRole;

type Key = [u8; 32];

/// Verified credentials kept at most.
const CACHE_ENTRIES: usize = 10_000;
/// How long a verified credential is trusted without hashing again.
const CACHE_LIFETIME: Duration = Duration::from_secs(600);
/// How long an attempt waits for a turn at the hashing pool before a 503.
const HASH_WAIT: Duration = Duration::from_secs(2);
/// Failures for one user name before answers slow down, and the longest delay.
const FREE_FAILURES: u32 = 3;
const MAX_DELAY: Duration = Duration::from_secs(2);

/// The tenants a caller is a member of, with the role there (read with the user,
/// cached with its credentials, forgotten with them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memberships(pub std::collections::BTreeMap<String, TenantRole>);

struct Verified {
    username: String,
    role: Role,
    tenants: Arc<Memberships>,
    at: Instant,
}

pub struct Authenticator {
    manager: Arc<Manager>,
    /// Copy-on-write: reads are lock-free, inserts (first login) are rare.
    verified: ArcSwap<HashMap<Key, Arc<Verified>>>,
    /// Turns at hashing: as many as there are cores.
    hashing: Arc<Semaphore>,
    /// Hashed once at start: what an unknown user's password is checked against.
    decoy: String,
    /// Consecutive failures by user name (bounded like the cache).
    failures: Mutex<HashMap<String, u32>>,
    failed_logins: AtomicU64,
    /// Moves with every [`Authenticator::forget`]: a check that read a user before
    /// a forget must not cache what it read (the old password, the old role).
    forgets: AtomicU64,
}

/// Hash a password for storage.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

fn key(user: &str, password: &str) -> Key {
    let mut h = Sha256::new();
    h.update(user.as_bytes());
    h.update([0u8]);
    h.update(password.as_bytes());
    h.finalize().into()
}

/// Parse `Authorization: Basic base64(user:password)`.
fn basic_credentials(req: &Request<Body>) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

impl Authenticator {
    pub fn new(manager: Arc<Manager>) -> anyhow::Result<Arc<Authenticator>> {
        let turns = std::thread::available_parallelism().map_or(2, |n| n.get());
        let decoy = hash_password(&uuid::Uuid::new_v4().to_string())?;
        Ok(Arc::new(Authenticator {
            manager,
            verified: ArcSwap::from_pointee(HashMap::new()),
            hashing: Arc::new(Semaphore::new(turns)),
            decoy,
            failures: Mutex::new(HashMap::new()),
            failed_logins: AtomicU64::new(0),
            forgets: AtomicU64::new(0),
        }))
    }

    /// Stop trusting cached credentials of `username` (its password or role changed,
    /// or it was deleted): its next request is checked against the database.
    pub fn forget(&self, username: &str) {
        // First the count, then the map: a `remember` that misses the count finds
        // its entry removed by this (see `remember`).
        self.forgets.fetch_add(1, SeqCst);
        self.verified.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.retain(|_, v| v.username != username);
            m
        });
    }

    /// Stop trusting every cached credential (another host changed users, and this
    /// one may have missed which).
    pub fn forget_all(&self) {
        self.forgets.fetch_add(1, SeqCst);
        self.verified.store(Arc::new(HashMap::new()));
    }

    /// Failed logins since start (for `/metrics`).
    pub fn failed_logins(&self) -> u64 {
        self.failed_logins.load(Relaxed)
    }

    /// Check credentials; `Ok(None)` when they are wrong.
    pub async fn check(self: &Arc<Self>, user: &str, password: &str) -> Result<Option<Caller>, Error> {
        Ok(self.identify(user, password).await?.map(|(caller, _)| caller))
    }

    /// Check credentials, and with them the caller's tenants; `Ok(None)` when they
    /// are wrong.
    pub async fn identify(self: &Arc<Self>, user: &str, password: &str) -> Result<Option<(Caller, Arc<Memberships>)>, Error> {
        let k = key(user, password);
        if let Some(v) = self.verified.load().get(&k)
            && v.at.elapsed() < CACHE_LIFETIME
        {
            return Ok(Some((Caller { username: v.username.clone(), role: v.role.clone(), bypass: false }, v.tenants.clone())));
        }
        // On a task of its own: a client that hangs up drops this future, not the
        // check, so the turn is held until the hash ends and the attempt is counted.
        let (me, user) = (self.clone(), user.to_string());
        let password = password.to_string();
        let check = tokio::spawn(async move { me.hash_and_count(k, user, password).await });
        let (outcome, streak) = check
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("a password check did not finish: {e}")))??;
        if streak > FREE_FAILURES {
            // Answered more slowly the more this name failed in a row.
            let delay = Duration::from_millis(100u64 << (streak - FREE_FAILURES).min(5)).min(MAX_DELAY);
            tokio::time::sleep(delay).await;
        }
        Ok(outcome)
    }

    /// Wait for a turn, hash, and count the outcome; the failures in a row of the
    /// name (0 on success).
    async fn hash_and_count(&self, k: Key, user: String, password: String) -> Result<(Option<(Caller, Arc<Memberships>)>, u32), Error> {
        let Ok(Ok(turn)) = tokio::time::timeout(HASH_WAIT, self.hashing.clone().acquire_owned()).await else {
            return Err(Error::Busy("Too many logins are being checked at once; retry in a moment".into()));
        };
        // The lookup reads the store and the check hashes: both off the runtime's
        // workers. An unknown user is checked against the decoy: the same cost.
        let (manager, name, decoy) = (self.manager.clone(), user.clone(), self.decoy.clone());
        let read_after = self.forgets.load(SeqCst);
        let stored = blocking(move || {
            let _turn = turn;
            match manager.user(&name)? {
                Some(stored) if verify_password(&password, &stored.password_hash) => {
                    let tenants = Memberships(manager.memberships(&stored.username)?.into_iter().collect());
                    Ok(Some((stored, Arc::new(tenants))))
                }
                Some(_) => Ok(None),
                None => {
                    verify_password(&password, &decoy);
                    Ok(None)
                }
            }
        })
        .await?;
        let Some((stored, tenants)) = stored else {
            return Ok((None, self.failed(&user)));
        };
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(&user);
        self.remember(k, &stored.username, &stored.role, &tenants, read_after);
        Ok((Some((Caller { username: stored.username, role: stored.role, bypass: false }, tenants)), 0))
    }

    /// Cache verified credentials, read from the database after `read_after`
    /// forgets: unless another forget came since (the password or role may have
    /// changed while they were checked), which would otherwise re-cache the old
    /// credentials for [`CACHE_LIFETIME`]. The count is looked at inside the swap:
    /// a forget that lands between look and swap retries on top of this and
    /// removes the entry.
    fn remember(&self, k: Key, username: &str, role: &Role, tenants: &Arc<Memberships>, read_after: u64) {
        let entry = Arc::new(Verified { username: username.to_string(), role: role.clone(), tenants: tenants.clone(), at: Instant::now() });
        self.verified.rcu(|m| {
            if self.forgets.load(SeqCst) != read_after {
                return Arc::clone(m);
            }
            let mut m = HashMap::clone(m);
            if m.len() >= CACHE_ENTRIES {
                m.retain(|_, v| v.at.elapsed() < CACHE_LIFETIME);
                if m.len() >= CACHE_ENTRIES {
                    m.clear();
                }
            }
            m.insert(k, entry.clone());
            Arc::new(m)
        });
    }

    /// Count and log a failure; how many times in a row `user` has failed.
    fn failed(&self, user: &str) -> u32 {
        self.failed_logins.fetch_add(1, Relaxed);
        let streak = {
            let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            if failures.len() >= CACHE_ENTRIES && !failures.contains_key(user) {
                failures.clear();
            }
            let n = failures.entry(user.to_string()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        // The text log escapes control characters in every field (`drydock serve`).
        tracing::warn!(user = %user, failures_in_a_row = streak, "failed login");
        streak
    }
}

/// What [`identify`] found in a request that carried credentials and failed.
#[derive(Clone)]
pub(crate) struct Refused(Arc<Error>);

/// Middleware, router-wide and before any body is read: when the request carries
/// credentials, check them; on success the `Caller` is in the request for the gate
/// and the handlers, on failure the refusal is recorded for [`require_caller`].
pub async fn identify(State(auth): State<Arc<Authenticator>>, mut req: Request<Body>, next: Next) -> Response {
    if let Some((user, password)) = basic_credentials(&req) {
        match auth.identify(&user, &password).await {
            Ok(Some((caller, tenants))) => {
                req.extensions_mut().insert(caller);
                req.extensions_mut().insert(tenants);
            }
            Ok(None) => {
                let e = Error::Unauthorized("User unauthorized: wrong username or password".into());
                req.extensions_mut().insert(Refused(Arc::new(e)));
            }
            Err(e) => {
                req.extensions_mut().insert(Refused(Arc::new(e)));
            }
        }
    }
    next.run(req).await
}

/// Route middleware for the authenticated routes: a request without a `Caller` is
/// refused (401, or 503 when the password check had no turn).
pub async fn require_caller(req: Request<Body>, next: Next) -> Response {
    if req.extensions().get::<Caller>().is_some() {
        return next.run(req).await;
    }
    // A body left unread is `read_small_bodies`' to answer for (`Connection: close`).
    match req.extensions().get::<Refused>() {
        Some(Refused(e)) => e.as_response(),
        None => Error::Unauthorized("User unauthorized: no credentials were sent (use HTTP Basic authentication)".into())
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::sqlite;

    fn authenticator() -> (Arc<Authenticator>, crate::store::testing::Backend) {
        let b = sqlite();
        let (manager, _queue) = Manager::open(b.store.clone()).unwrap();
        (Authenticator::new(manager).unwrap(), b)
    }

    /// A check that read the user before its password changed must not cache the
    /// old password: the change's forget came while the check was hashing.
    #[test]
    fn credentials_read_before_a_forget_are_not_cached_after_it() {
        let (auth, _b) = authenticator();
        let k = key("ann", "old");
        let read_after = auth.forgets.load(SeqCst);
        auth.forget("ann");
        let none = Arc::new(Memberships::default());
        auth.remember(k, "ann", &Role::SysAdmin, &none, read_after);
        assert!(auth.verified.load().get(&k).is_none(), "the old password was cached after the change");
        // Read after the forget: cached.
        auth.remember(k, "ann", &Role::SysAdmin, &none, auth.forgets.load(SeqCst));
        assert!(auth.verified.load().get(&k).is_some());
        auth.forget_all();
        assert!(auth.verified.load().get(&k).is_none());
    }
}
