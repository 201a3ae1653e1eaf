//! The WebSocket opening handshake (RFC 6455 §4.2), done here rather than by axum so the
//! connection's task gets the upgraded stream itself: its [`super::link::Link`] shares it with
//! the hub, which writes live frames straight into it. A request that is not a valid upgrade gets
//! the API's JSON error (`malformed_request`), like any other bad request.

use crate::error::{ApiError, ErrorCode};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version, header};
use axum::response::Response;
use hyper::upgrade::OnUpgrade;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// The upgraded connection, as hyper hands it over (see [`super::link::Link::new`]).
pub type Upgraded = hyper::upgrade::Upgraded;

/// A valid upgrade request, ready to be answered with `101 Switching Protocols`.
pub struct Upgrade {
    on_upgrade: OnUpgrade,
    accept: HeaderValue,
}

fn malformed(message: &str) -> ApiError {
    ApiError::new(ErrorCode::MalformedRequest, message)
}

/// Whether a comma-separated header (`Connection: keep-alive, Upgrade`) lists `token`.
fn lists(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|item| item.trim().eq_ignore_ascii_case(token)))
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        const EXPECTED: &str = "expected a WebSocket upgrade: GET over HTTP/1.1 with `Connection: Upgrade`, \
                                `Upgrade: websocket`, `Sec-WebSocket-Version: 13` and a `Sec-WebSocket-Key`";
        let headers = &parts.headers;
        if parts.method != Method::GET
            || parts.version != Version::HTTP_11
            || !lists(headers, &header::CONNECTION, "upgrade")
            || !lists(headers, &header::UPGRADE, "websocket")
            || headers.get(header::SEC_WEBSOCKET_VERSION).is_none_or(|v| v.as_bytes() != b"13")
        {
            return Err(malformed(EXPECTED));
        }
        let key = headers.get(header::SEC_WEBSOCKET_KEY).ok_or_else(|| malformed(EXPECTED))?;
        let accept = HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
            .map_err(|_| malformed("malformed Sec-WebSocket-Key"))?;
        // Absent when the request did not come over a connection hyper can hand over.
        let on_upgrade =
            parts.extensions.remove::<OnUpgrade>().ok_or_else(|| malformed("this connection cannot be upgraded"))?;
        Ok(Upgrade { on_upgrade, accept })
    }
}

impl Upgrade {
    /// Answers `101` and runs `serve` on the upgraded stream once hyper hands it over (a
    /// connection that fails before that is dropped: there is no one left to tell).
    pub fn respond<F, Fut>(self, serve: F) -> Response
    where
        F: FnOnce(Upgraded) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Upgrade { on_upgrade, accept } = self;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => serve(upgraded).await,
                Err(e) => tracing::debug!(error = %e, "websocket: the upgrade did not complete"),
            }
        });
        let mut response = Response::new(axum::body::Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        response
    }
}
