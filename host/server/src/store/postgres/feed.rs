//! Other hosts' changes as they commit: one connection that `LISTEN`s on the
//! channel, reconnecting on its own (with a capped backoff) whenever the database
//! goes away. After every (re)connect it announces a resync, since notifications
//! sent while it was away are lost.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use super::CHANNEL;
use crate::store::Change;

/// The payload as sent by [`super::notify_sql`]; `None` for this host's own.
fn parse(payload: &str, own: &str) -> Option<Change> {
    let (host, kind) = payload.split_once(' ').unwrap_or(("", payload));
    if host == own {
        return None;
    }
    Some(match kind {
        "state" => Change::State,
        "policy" => Change::Policy,
        p => match p.strip_prefix("user:") {
            Some(name) => Change::User(name.to_string()),
            None => Change::Resync,
        },
    })
}

pub(super) async fn listen(
    config: tokio_postgres::Config,
    target: String,
    host: String,
    out: mpsc::Sender<Change>,
) {
    let mut backoff = Duration::from_millis(100);
    let mut was_down = false;
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (tx, mut rx) = mpsc::unbounded_channel();
                let own = host.clone();
                // The connection's messages are only seen by polling it ourselves.
                let driver = tokio::spawn(async move {
                    let mut messages =
                        futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(AsyncMessage::Notification(n)) => {
                                if let Some(change) = parse(n.payload(), &own)
                                    && tx.send(change).is_err()
                                {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(_) => return,
                        }
                    }
                });
                if client
                    .batch_execute(&format!("LISTEN {CHANNEL}"))
                    .await
                    .is_ok()
                {
                    if was_down {
                        tracing::info!(database = %target, "reconnected to the database; resynchronising");
                    }
                    was_down = false;
                    backoff = Duration::from_millis(100);
                    if out.send(Change::Resync).await.is_err() {
                        return;
                    }
                    while let Some(change) = rx.recv().await {
                        if out.send(change).await.is_err() {
                            return;
                        }
                    }
                }
                driver.abort();
                drop(client);
            }
            Err(e) => {
                if !was_down {
                    tracing::warn!(database = %target, error = %e, "cannot listen for other hosts' changes; retrying");
                }
            }
        }
        if !was_down {
            tracing::warn!(database = %target, "lost the database's change feed; reconnecting");
        }
        was_down = true;
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}
