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
#[derive(Clone)]
pub struct ListenOptions {
    /// A request's headers must arrive whole within this; it is also how long a
    /// keep-alive connection may sit idle between requests.
    pub header_timeout: Duration,
    /// Connections open at once; more wait in the kernel's backlog until one closes.
    pub max_connections: usize,
    /// Serve HTTPS with this identity (see [`tls_config`]); plain HTTP without.
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

impl std::fmt::Debug for ListenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenOptions")
            .field("header_timeout", &self.header_timeout)
            .field("max_connections", &self.max_connections)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions { header_timeout: Duration::from_secs(10), max_connections: 4096, tls: None }
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
        let service = TowerToHyperService::new(router.clone());
        match &opts.tls {
            None => {
                let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    // A connection that ends in an error (a reset, a header deadline)
                    // is the client's business, not the server's.
                    let _ = connection.await;
                    drop(permit);
                });
            }
            Some(tls) => {
                let (acceptor, http, watcher) = (tokio_rustls::TlsAcceptor::from(tls.clone()), http.clone(), graceful.watcher());
                let handshake = opts.header_timeout;
                tokio::spawn(async move {
                    // The handshake has the header deadline too: a client that
                    // opens a connection and never says hello costs bounded time.
                    if let Ok(Ok(stream)) = tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                        let _ = watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await;
                    }
                    drop(permit);
                });
            }
        }
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("requests still in flight at shutdown were abandoned"),
    }
    Ok(())
}

/// A certificate chain and its private key, in PEM files: the server's TLS setup.
pub fn tls_config(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<Arc<tokio_rustls::rustls::ServerConfig>> {
    use anyhow::Context;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read the certificate chain in {} (PEM)", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("{} holds no certificate (expected PEM `-----BEGIN CERTIFICATE-----`)", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| format!("cannot read the private key in {} (PEM)", key.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and the key do not make a TLS identity (does the key belong to the certificate?)")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
