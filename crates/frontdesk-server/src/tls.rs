//! Built-in TLS: rustls on ring, TLS 1.3 only, one certificate chain and key from PEM files,
//! re-read when they change (a renewed certificate needs no restart).
//!
//! Handshakes run in their own tasks, so a slow or silent client never holds up the accept loop;
//! axum sees a listener whose connections are already encrypted, so WebSockets and graceful
//! shutdown work exactly as over plain TCP.

use crate::ServerError;
use axum::serve::Listener;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A client that has not finished its handshake by then is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the certificate files are compared with what is being served.
pub const CERTIFICATE_CHECK: Duration = Duration::from_secs(30);
/// Finished handshakes waiting for axum to take them.
const READY_QUEUE: usize = 128;

/// The server's TLS settings and the certificate files behind them.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub server: Arc<ServerConfig>,
    certificate: Arc<CertificateFiles>,
    check_every: Duration,
}

impl TlsConfig {
    /// Compare the files every `interval` instead of every [`CERTIFICATE_CHECK`].
    pub fn check_every(mut self, interval: Duration) -> Self {
        self.check_every = interval.max(Duration::from_millis(10));
        self
    }

    /// Re-reads the files every interval until the handle is aborted; new handshakes get a
    /// changed certificate as soon as it has loaded.
    pub fn watch(&self) -> tokio::task::JoinHandle<()> {
        let (certificate, interval) = (self.certificate.clone(), self.check_every);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let files = certificate.clone();
                match tokio::task::spawn_blocking(move || files.reload_if_changed()).await {
                    Ok(Ok(true)) => tracing::info!("TLS certificate reloaded"),
                    Ok(Ok(false)) => {}
                    // Half-written or mismatched files: keep serving the previous certificate.
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "the changed TLS certificate cannot be used; keeping the previous one")
                    }
                    Err(e) => tracing::error!(error = %e, "the TLS certificate check failed"),
                }
            }
        })
    }
}

/// The certificate chain and key files, and the certificate built from them that handshakes use.
#[derive(Debug)]
struct CertificateFiles {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    /// The files' bytes when last read (served or refused), so each change is tried once.
    seen: (Vec<u8>, Vec<u8>),
    key: Arc<CertifiedKey>,
}

impl CertificateFiles {
    /// Loads the files again if their contents changed: `Ok(true)` when a new certificate is
    /// now served, an error (once per change) when the new files cannot be used.
    fn reload_if_changed(&self) -> Result<bool, ServerError> {
        let seen = read_files(&self.cert_path, &self.key_path)?;
        if self.current.read().unwrap_or_else(|e| e.into_inner()).seen == seen {
            return Ok(false);
        }
        let built = certified(&self.cert_path, &self.key_path, &self.provider, &seen);
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        current.seen = seen;
        current.key = built?;
        Ok(true)
    }
}

fn read_files(cert_path: &Path, key_path: &Path) -> Result<(Vec<u8>, Vec<u8>), ServerError> {
    let cert = std::fs::read(cert_path)
        .map_err(|e| tls_err(format!("cannot read the certificate {}: {e}", cert_path.display())))?;
    let key =
        std::fs::read(key_path).map_err(|e| tls_err(format!("cannot read the key {}: {e}", key_path.display())))?;
    Ok((cert, key))
}

/// The certificate chain and key in `pems`, checked to belong together.
fn certified(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
    (cert_pem, key_pem): &(Vec<u8>, Vec<u8>),
) -> Result<Arc<CertifiedKey>, ServerError> {
    let (cert_path, key_path) = (cert_path.display(), key_path.display());
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err(format!("{cert_path} is not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(tls_err(format!("{cert_path} holds no certificate")));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| tls_err(format!("{key_path} holds no usable private key: {e}")))?;
    let key = CertifiedKey::from_der(certs, key, provider)
        .map_err(|e| tls_err(format!("the key {key_path} does not fit the certificate {cert_path}: {e}")))?;
    Ok(Arc::new(key))
}

impl ResolvesServerCert for CertificateFiles {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|e| e.into_inner()).key.clone())
    }
}

fn tls_err(msg: String) -> ServerError {
    ServerError::Tls(msg)
}

/// Reads a PEM certificate chain and private key and builds the server's TLS settings: TLS 1.3
/// only, HTTP/1.1 by ALPN. Every problem (missing or unreadable file, no certificate, no key, a
/// key that does not belong to the certificate) is a [`ServerError::Tls`] naming the file.
pub fn load_config(cert_path: &Path, key_path: &Path) -> Result<TlsConfig, ServerError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let seen = read_files(cert_path, key_path)?;
    let key = certified(cert_path, key_path, &provider, &seen)?;
    let certificate = Arc::new(CertificateFiles {
        cert_path: cert_path.to_owned(),
        key_path: key_path.to_owned(),
        provider: provider.clone(),
        current: RwLock::new(Loaded { seen, key }),
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| tls_err(format!("TLS 1.3 is unavailable: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(certificate.clone());
    // The router speaks HTTP/1.1 only (WebSockets upgrade over it).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConfig { server: Arc::new(config), certificate, check_every: CERTIFICATE_CHECK })
}

/// A listener whose connections have completed a TLS handshake.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
    accept_loop: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<TlsListener> {
        let local_addr = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        let acceptor = TlsAcceptor::from(config);
        let accept_loop = tokio::spawn(async move {
            loop {
                let (mut stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                crate::no_delay(&mut stream);
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { ready, local_addr, accept_loop })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // Graceful shutdown drops the listener: stop accepting at once.
        self.accept_loop.abort();
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept loop only ends when aborted, which happens on drop.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

/// Where the plain-HTTP listener beside a TLS server sends clients, and what it serves itself.
#[derive(Debug, Clone)]
pub struct HttpRedirect {
    /// `https://host[:port]` to redirect to; `None`: the request's own host and `https_port`.
    pub origin: Option<String>,
    /// The HTTPS port, when the origin comes from the request's `Host`.
    pub https_port: u16,
    /// A directory whose `.well-known/acme-challenge/<token>` files are served over plain HTTP,
    /// so an ACME client's HTTP-01 challenge (`certbot --webroot`) works on this port.
    pub acme_webroot: Option<PathBuf>,
}

impl HttpRedirect {
    /// The origin (`https://host[:port]`) of `public_url` when it is an https URL.
    pub fn origin_of(public_url: Option<&str>) -> Option<String> {
        let uri: axum::http::Uri = public_url?.parse().ok()?;
        (uri.scheme_str() == Some("https")).then(|| uri.authority().map(|a| format!("https://{a}")))?
    }
}

/// Serves [`redirect_router`] on `listener` until its task is aborted.
pub async fn serve_redirect(listener: TcpListener, redirect: HttpRedirect) -> std::io::Result<()> {
    axum::serve(listener, redirect_router(redirect)).await
}

/// Where ACME HTTP-01 challenges are asked for (RFC 8555, section 8.3).
const ACME_CHALLENGE_PATH: &str = "/.well-known/acme-challenge/";

/// The router of the plain-HTTP listener: every request is redirected (308, so the method and
/// body are kept) to the same path over HTTPS; ACME challenges from `acme_webroot` are answered.
pub fn redirect_router(redirect: HttpRedirect) -> axum::Router {
    let redirect = Arc::new(redirect);
    axum::Router::new().fallback(move |request: axum::extract::Request| {
        let redirect = redirect.clone();
        async move {
            let is_read = matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD);
            match request.uri().path().strip_prefix(ACME_CHALLENGE_PATH) {
                Some(token) if is_read => acme_challenge(&redirect, token).await,
                _ => to_https(&redirect, &request),
            }
        }
    })
}

async fn acme_challenge(redirect: &HttpRedirect, token: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    let not_found = || crate::error::ApiError::not_found("challenge").into_response();
    let Some(root) = &redirect.acme_webroot else { return not_found() };
    // A token is base64url (RFC 8555): nothing else can name a file, so no path escapes the root.
    if token.is_empty()
        || token.len() > 256
        || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return not_found();
    }
    match tokio::fs::read(root.join(".well-known/acme-challenge").join(token)).await {
        Ok(body) => ([(axum::http::header::CONTENT_TYPE, "text/plain")], body).into_response(),
        Err(_) => not_found(),
    }
}

fn to_https(redirect: &HttpRedirect, request: &axum::extract::Request) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let origin = match &redirect.origin {
        Some(origin) => origin.clone(),
        None => {
            let host = request
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| h.parse::<axum::http::uri::Authority>().ok())
                .filter(|a| !a.as_str().contains('@'));
            let Some(host) = host else {
                return crate::error::ApiError::new(
                    crate::error::ErrorCode::MalformedRequest,
                    "a Host header is needed to redirect to HTTPS",
                )
                .into_response();
            };
            match redirect.https_port {
                443 => format!("https://{}", host.host()),
                port => format!("https://{}:{port}", host.host()),
            }
        }
    };
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, format!("{origin}{path}"))]).into_response()
}
