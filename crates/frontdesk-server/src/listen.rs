//! The accept loop: every connection is one hyper HTTP/1.1 connection (with upgrades) serving
//! the router. The router speaks HTTP/1.1 only (see `docs/tls.md`), so the protocol sniffing of
//! `axum::serve` buys nothing here, and it wraps each stream in a private type — which would keep
//! a WebSocket's upgraded stream from being taken back as the TCP socket it is, the one the hub
//! writes into ([`crate::ws`]'s link).

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use tower::ServiceExt;

/// Serves `router` on every connection `listener` accepts until `shutdown` completes; then
/// stops accepting, lets each connection finish the request it is in (idle keep-alive ones
/// close at once) and returns when all of them are done. Handlers find the peer's address as
/// `ConnectInfo<SocketAddr>`. Upgraded connections (WebSockets) have left hyper by then: the
/// caller drains them.
pub async fn serve_connections<L>(mut listener: L, router: Router, shutdown: impl Future<Output = ()>)
where
    L: Listener<Addr = SocketAddr>,
{
    let (closing, closing_seen) = tokio::sync::watch::channel(false);
    // Never sent on: the connections' clones are counted by being dropped.
    let (alive, mut all_done) = tokio::sync::mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let service = router.clone().map_request(move |mut request: axum::http::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request.map(Body::new)
        });
        let service = TowerToHyperService::new(service);
        let mut closing = closing_seen.clone();
        let alive = alive.clone();
        tokio::spawn(async move {
            let _alive = alive;
            let connection =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(io), service).with_upgrades();
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => Some(result),
                _ = closing.wait_for(|closing| *closing) => None,
            };
            let result = match result {
                Some(result) => result,
                None => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::trace!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = closing.send(true);
    drop(alive);
    let _ = all_done.recv().await;
}
