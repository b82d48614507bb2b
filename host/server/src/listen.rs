//! The accept loop: hyper serves each connection with a deadline for reading request
//! headers (which also closes a keep-alive connection that sits idle), a cap on open
//! connections, and a graceful shutdown. A client that trickles its headers, or
//! opens connections and sends nothing, costs one small task for a bounded time and
//! never reaches the service, so it cannot hold a request slot.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How connections are held.
#[derive(Debug, Clone, Copy)]
pub struct ListenOptions {
    /// A request's headers must arrive whole within this; it is also how long a
    /// keep-alive connection may sit idle between requests.
    pub header_timeout: Duration,
    /// Connections open at once; more wait in the kernel's backlog until one closes.
    pub max_connections: usize,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions { header_timeout: Duration::from_secs(10), max_connections: 4096 }
    }
}

/// Serve `router` on `listener` until `shutdown` completes, then let requests in
/// flight finish (for up to ten seconds).
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    opts: ListenOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(opts.header_timeout).keep_alive(true);
    let open = Arc::new(Semaphore::new(opts.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = open.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off, never spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A connection that ends in an error (a reset, a header deadline) is the
            // client's business, not the server's.
            let _ = connection.await;
            drop(permit);
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("requests still in flight at shutdown were abandoned"),
    }
    Ok(())
}
