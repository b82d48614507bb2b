//! Several hosts, one database: this host follows the changes the others commit.
//!
//! The store's feed (PostgreSQL `LISTEN/NOTIFY`) says what changed within
//! milliseconds; a poll of the generations (every second by default) is the safety net for a
//! notification lost while the feed was reconnecting. Either way this host re-reads
//! that part: the maintenance state (published to the gate), the policy selection
//! (loaded and swapped into the slots), or a user (its cached credentials forgotten).
//! Nothing runs for a store no other host writes.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::api::App;
use crate::manager::blocking;
use crate::store::{Change, Generations};

/// How this host follows the others.
#[derive(Debug, Clone, Copy)]
pub struct FollowOptions {
    /// How often the generations are compared, in case a notification was lost.
    pub poll: Duration,
    /// Whether the store's feed is listened to at all (see `PgOptions::feed`).
    pub feed: bool,
}

impl Default for FollowOptions {
    fn default() -> FollowOptions {
        FollowOptions { poll: Duration::from_secs(1), feed: true }
    }
}

/// What to re-read, merged over a burst of announcements.
#[derive(Default)]
struct Stale {
    state: bool,
    policy: bool,
    users: BTreeSet<String>,
    all_users: bool,
}

impl Stale {
    fn add(&mut self, change: Change) {
        match change {
            Change::State => self.state = true,
            Change::Policy => self.policy = true,
            Change::User(name) => {
                self.users.insert(name);
            }
            Change::Resync => {
                self.state = true;
                self.policy = true;
                self.all_users = true;
            }
        }
    }

    fn is_empty(&self) -> bool {
        !self.state && !self.policy && !self.all_users && self.users.is_empty()
    }
}

async fn next(feed: &mut Option<mpsc::Receiver<Change>>) -> Option<Change> {
    match feed {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Run until the server stops.
pub async fn run(app: Arc<App>, every: Duration) {
    let store = app.manager.store().clone();
    if !store.shared() {
        return;
    }
    let mut feed = store.subscribe();
    let mut poll = tokio::time::interval(every);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen: Option<Generations> = None;
    // A re-read that failed: the next poll re-reads everything, whatever it sees.
    let mut owed = false;
    loop {
        let mut stale = Stale::default();
        tokio::select! {
            change = next(&mut feed) => match change {
                Some(change) => {
                    stale.add(change);
                    // Take the rest of a burst at once: one re-read for many changes.
                    if let Some(rx) = feed.as_mut() {
                        while let Ok(more) = rx.try_recv() {
                            stale.add(more);
                        }
                    }
                }
                None => feed = None,
            },
            _ = poll.tick() => {
                let store = store.clone();
                match blocking(move || Ok(store.generations()?)).await {
                    Ok(now) => {
                        if let Some(before) = seen {
                            stale.state = now.state != before.state || now.executions != before.executions;
                            stale.policy = now.policy != before.policy;
                            stale.all_users = now.users != before.users;
                        }
                        if std::mem::take(&mut owed) {
                            stale.add(Change::Resync);
                        }
                        seen = Some(now);
                    }
                    // The database is away; the feed resyncs when it is back.
                    Err(_) => continue,
                }
            }
        }
        if !stale.is_empty() && !apply(&app, stale).await {
            owed = true;
        }
    }
}

/// Re-read what is stale; whether it all worked.
async fn apply(app: &Arc<App>, stale: Stale) -> bool {
    if stale.all_users {
        app.auth.forget_all();
    } else {
        for name in &stale.users {
            app.auth.forget(name);
        }
    }
    let app = app.clone();
    let done = blocking(move || {
        if stale.state {
            app.manager.refresh()?;
        }
        if stale.policy {
            app.policies.follow()?;
        }
        Ok(())
    })
    .await;
    match done {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "cannot follow another host's change yet; the next poll re-reads everything");
            false
        }
    }
}
