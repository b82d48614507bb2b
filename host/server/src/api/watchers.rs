//! Who follows the event streams (the API's and the console's, counted together):
//! at most [`MAX_WATCHERS`] at once and [`MAX_WATCHERS_PER_USER`] per user, so one
//! user cannot hold every stream; and each stream ends after the server's lifetime
//! for streams (`serve --event-stream-lifetime`), so none is held forever: clients
//! reconnect (browsers' EventSource does by itself, as does `maintenance-mode watch`).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::Error;

/// Event streams followed at once, at most.
pub const MAX_WATCHERS: usize = 256;
/// Event streams one user follows at once, at most.
pub const MAX_WATCHERS_PER_USER: usize = 16;

static ALL: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(MAX_WATCHERS)));
static BY_USER: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Default::default);

/// One followed stream's turn: held for as long as the stream is.
pub struct Watch {
    _turn: OwnedSemaphorePermit,
    user: String,
}

/// A turn to follow the events for `user`, or a 503 saying why not.
pub fn watch(user: &str) -> Result<Watch, Error> {
    let mut by_user = BY_USER.lock().unwrap_or_else(|p| p.into_inner());
    if by_user.get(user).is_some_and(|held| *held >= MAX_WATCHERS_PER_USER) {
        return Err(Error::Busy(format!(
            "User {user} follows the maintenance events {MAX_WATCHERS_PER_USER} times already; close one and try again"
        )));
    }
    let turn = ALL.clone().try_acquire_owned().map_err(|_| {
        Error::Busy(format!("{MAX_WATCHERS} clients already follow the maintenance events; try again later"))
    })?;
    // Counted only once the turn is taken: a refused user leaves no entry behind.
    *by_user.entry(user.to_string()).or_default() += 1;
    Ok(Watch { _turn: turn, user: user.to_string() })
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut by_user = BY_USER.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = by_user.get_mut(&self.user) {
            *held -= 1;
            if *held == 0 {
                by_user.remove(&self.user);
            }
        }
    }
}
