//! Cross-cutting request handling: CORS for the public API, CSRF for the app API, metrics and
//! request logs, and the guarantee that every error response has the API's JSON shape.

use crate::chat_api::CorsDecision;
use crate::error::{ApiError, ErrorCode};
use crate::http;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::any::Any;
use std::time::Instant;

fn is_chat_path(path: &str) -> bool {
    path == "/api/chat" || path.starts_with("/api/chat/")
}

fn is_app_path(path: &str) -> bool {
    path == "/api/app" || path.starts_with("/api/app/")
}

/// CORS for `/api/chat/*`: answers preflights, and lets an allowed origin read responses.
/// Never `*`: the allowed origin is echoed, with `Vary: Origin`.
pub async fn chat_cors(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    if !is_chat_path(req.uri().path()) {
        return next.run(req).await;
    }
    let origin = http::header_str(req.headers(), &header::ORIGIN).map(str::to_owned);
    if req.method() == Method::OPTIONS {
        return preflight(&st, origin.as_deref()).await;
    }
    let decision = CorsDecision::default();
    req.extensions_mut().insert(decision.clone());
    let mut response = next.run(req).await;
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        // The site's own verdict when a site was resolved; otherwise (health, bad key, unknown
        // route) any site's, so the widget can still read why it failed.
        let allowed = match decision.0.get() {
            Some(allowed) => *allowed,
            None => st.origin_allowed_anywhere(&origin).await.unwrap_or(false),
        };
        if allowed {
            response.headers_mut().extend(http::cors_headers(&origin));
        }
    }
    response
}

/// A preflight carries no API key, so it is answered for any origin that some site allows.
async fn preflight(st: &AppState, origin: Option<&str>) -> Response {
    let refused = || ApiError::new(ErrorCode::OriginNotAllowed, "this origin may not use the chat API").into_response();
    let Some(origin) = origin else {
        return refused();
    };
    match st.origin_allowed_anywhere(origin).await {
        Ok(true) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            response.headers_mut().extend(http::cors_headers(origin));
            response.headers_mut().extend(http::preflight_headers());
            response
        }
        Ok(false) => refused(),
        Err(e) => e.into_response(),
    }
}

/// CSRF for `/api/app/*`: a state-changing request must come from this server's own origin.
/// The session cookie is `SameSite=Lax` too; this check does not rely on it.
pub async fn app_csrf(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && is_app_path(req.uri().path()) {
        let host = http::header_str(req.headers(), &header::HOST);
        let own = http::own_origins(st.public_origin.as_deref(), host);
        let origin = http::header_str(req.headers(), &header::ORIGIN);
        if !http::csrf_allows(&own, origin) {
            return ApiError::new(
                ErrorCode::CsrfRejected,
                "state-changing requests must come from this server's own origin",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// `nosniff`, a referrer policy, API framing rules and (behind an https `public_url`) HSTS on
/// every response that does not set its own; see `http::missing_security_headers`.
pub async fn security_headers(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let mut response = next.run(req).await;
    let hsts = st.public_origin.as_deref().is_some_and(|o| o.starts_with("https://"));
    let missing = http::missing_security_headers(&path, response.headers(), hsts);
    response.headers_mut().extend(missing);
    response
}

/// Request metrics and one structured log line per request. Logs the matched route, never the
/// raw path, query or headers (they can carry ids, tokens and keys).
pub async fn observe(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    st.metrics.record_request(method.as_str(), &route, status, elapsed);
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(target: "frontdesk::http", method = %method, route = %route, status, latency_ms, "request");
    } else {
        tracing::info!(target: "frontdesk::http", method = %method, route = %route, status, latency_ms, "request");
    }
    response
}

/// The safety net: any error response not already in the API's JSON shape (from a layer, a
/// rejection or a default handler) gets it, with the code its status implies.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let code = ErrorCode::for_status(status);
    let message = status.canonical_reason().unwrap_or("error").to_lowercase();
    let (mut parts, _) = response.into_parts();
    let mut rebuilt = ApiError::new(code, message).into_response();
    // Keep headers such as Allow and Retry-After; the body and its type are replaced.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    for (name, value) in parts.headers.iter() {
        if !rebuilt.headers().contains_key(name) {
            rebuilt.headers_mut().insert(name.clone(), value.clone());
        }
    }
    *rebuilt.status_mut() = status;
    rebuilt
}

/// The body of a request that panicked: logged without its payload, answered as `internal`.
pub fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response<Body> {
    tracing::error!("a request handler panicked");
    ApiError::internal().into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such endpoint")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "this endpoint does not take this method")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn call(router: Router, path: &str) -> (StatusCode, serde_json::Value) {
        let request = Request::builder().uri(path).body(Body::empty()).unwrap_or_default();
        let Ok(response) = router.oneshot(request).await;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    fn app() -> Router {
        async fn boom() -> &'static str {
            panic!("handler bug")
        }
        async fn teapot() -> (StatusCode, &'static str) {
            (StatusCode::IM_A_TEAPOT, "short and stout")
        }
        async fn too_busy() -> StatusCode {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Router::new()
            .route("/boom", get(boom))
            .route("/teapot", get(teapot))
            .route("/busy", get(too_busy))
            .route("/fine", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(json_errors))
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
    }

    #[tokio::test]
    async fn a_panic_becomes_a_json_internal_error() {
        let (status, body) = call(app(), "/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "internal");
        assert!(!body.to_string().contains("handler bug"), "the panic message stays in the server");
    }

    #[tokio::test]
    async fn plain_error_responses_get_the_json_shape() {
        let (status, body) = call(app(), "/teapot").await;
        assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (418, Some("malformed_request")));
        let (status, body) = call(app(), "/busy").await;
        assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (503, Some("unavailable")));
        let (status, body) = call(app(), "/fine").await;
        assert_eq!((status, body), (StatusCode::OK, serde_json::Value::Null));
    }

    #[test]
    fn path_prefixes() {
        assert!(is_chat_path("/api/chat/session") && is_chat_path("/api/chat"));
        assert!(!is_chat_path("/api/chatter") && !is_chat_path("/api/app/me"));
        assert!(is_app_path("/api/app/login") && !is_app_path("/api/apple"));
    }
}
