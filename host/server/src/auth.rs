//! Who is asking: HTTP Basic credentials checked against the users table.
//!
//! Password hashing (argon2) is deliberately slow, so verified credentials are cached
//! in memory, keyed by a digest of the exact username and password: a request with
//! known credentials pays one hash-map lookup, not a password hash.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::body::Body;
use axum::extract::State;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::{Request, header};
use sha2::{Digest, Sha256};

use crate::error::Error;
use drydock_gate::{Caller, Role};
use crate::manager::Manager;

type Key = [u8; 32];

pub struct Authenticator {
    manager: Arc<Manager>,
    /// Copy-on-write: reads are lock-free, inserts (first login) are rare.
    verified: ArcSwap<HashMap<Key, (String, Role)>>,
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
    pub fn new(manager: Arc<Manager>) -> Arc<Authenticator> {
        Arc::new(Authenticator { manager, verified: ArcSwap::from_pointee(HashMap::new()) })
    }

    /// Check credentials; `Ok(None)` when they are wrong.
    pub async fn check(&self, user: &str, password: &str) -> Result<Option<Caller>, Error> {
        let k = key(user, password);
        if let Some((username, role)) = self.verified.load().get(&k) {
            return Ok(Some(Caller { username: username.clone(), role: role.clone(), bypass: false }));
        }
        // The lookup reads the store and the check hashes: both off the runtime's workers.
        let (manager, name, pw) = (self.manager.clone(), user.to_string(), password.to_string());
        let stored = tokio::task::spawn_blocking(move || -> Result<Option<crate::store::User>, Error> {
            Ok(manager.user(&name)?.filter(|stored| verify_password(&pw, &stored.password_hash)))
        })
        .await
        .map_err(|e| anyhow::anyhow!("password check failed: {e}"))??;
        let Some(stored) = stored else { return Ok(None) };
        self.verified.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.insert(k, (stored.username.clone(), stored.role.clone()));
            m
        });
        Ok(Some(Caller { username: stored.username, role: stored.role, bypass: false }))
    }
}

/// Middleware: authenticate, then hand the `Caller` to the gate and the handlers.
pub async fn authenticate(
    State(auth): State<Arc<Authenticator>>,
    mut req: Request<Body>,
    next: Next,
) -> Response {
    let Some((user, password)) = basic_credentials(&req) else {
        return Error::Unauthorized(
            "User unauthorized: no credentials were sent (use HTTP Basic authentication)".into(),
        )
        .into_response();
    };
    match auth.check(&user, &password).await {
        Ok(Some(caller)) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Ok(None) => Error::Unauthorized("User unauthorized: wrong username or password".into()).into_response(),
        Err(e) => e.into_response(),
    }
}
